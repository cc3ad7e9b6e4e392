"""TFLite import figures, without TensorFlow: how close the imported integer-only model is to
the .tflite as the LiteRT interpreter ran it (outputs stored with the fixtures in
tests/fixtures/tflite/), per multiplier width; then the default import of the QAT'd magnet
model on the emulated Cortex-M0 beside the TFLite-Micro-style int8 baseline (bench_m0's table).

    .venv/bin/python bench/bench_tflite.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]

from qnn.intmodel import predict_int  # noqa: E402
from qnn.tflite_import import DEFAULT_M_BITS, int_model_from_plan, standardization  # noqa: E402
from qnn.tflite_read import read_tflite  # noqa: E402
from qnn.tflite_ref import dequantize_output, plan  # noqa: E402

FIX = ROOT / "tests" / "fixtures" / "tflite"
MODELS = ("qat_int8io", "ptq_pc_relu6", "sep_relu")


def fidelity(name: str, m_bits: int, ref: dict, info: dict) -> tuple[float, float, float]:
    p = plan(read_tflite(FIX / f"{name}.tflite"))
    st = standardization(6, 6, info["x_mean"], info["x_std"], info["y_mean"], info["y_std"])
    model = int_model_from_plan(p, st, m_bits=m_bits)
    ours = predict_int(model, ref["x"]).astype(np.int64)
    lsb = np.asarray(model.output_lsb)
    out = ref.get(f"{name}_default", ref[f"{name}_ref"])
    yf = dequantize_output(p, out) if out.dtype == np.int8 else out
    theirs = yf.astype(np.float64) * st.y_std + st.y_mean
    y = ref["y"].astype(np.float64)
    diff = np.abs(ours - np.floor(theirs / lsb + 0.5))
    ratio = np.mean((ours * lsb - y) ** 2) / np.mean((theirs - y) ** 2)
    return float(ratio), float(np.mean(diff <= 1)), float(np.mean(diff == 0))


def main() -> None:
    info = json.loads((FIX / "fixtures.json").read_text())
    with np.load(FIX / "reference.npz") as z:
        ref = {k: z[k] for k in z.files}
    n = len(ref["y"])
    print(f"imported integer-only model vs the LiteRT interpreter, {n} magnet6 test rows")
    print(f"{'model':14s} {'M bits':>6s} {'MSE ratio':>10s} {'within 1 LSB':>13s} "
          f"{'equal':>8s}")
    for name in MODELS:
        for m_bits in (8, 10, 12, 14, 15):
            ratio, within, equal = fidelity(name, m_bits, ref, info)
            mark = "  (default)" if m_bits == DEFAULT_M_BITS else ""
            print(f"{name:14s} {m_bits:6d} {ratio:10.4f} {within:13.2%} {equal:8.2%}{mark}")
    try:
        from bench_m0 import measure

        from firmware.build import find_toolchain

        find_toolchain()
    except Exception as e:  # noqa: BLE001 - a bench without the toolchain still prints the above
        print(f"\nno M0 figures: {e}")
        return
    from codegen.cgen import VARIANTS

    p = plan(read_tflite(FIX / "qat_int8io.tflite"))
    st = standardization(6, 6, info["x_mean"], info["x_std"], info["y_mean"], info["y_std"])
    model = int_model_from_plan(p, st)
    print(f"\nthe default import of qat_int8io.tflite ({model.n_macs} MACs) on the emulated M0, "
          "random inputs; baseline: the same layers in TFLite-Micro-style int8 kernels (64-bit "
          "requantization, bench/baseline.py)")
    print(f"{'':10s} {'cycles':>8s} {'cyc 32-mul':>10s} {'flash B':>8s} {'stack':>6s}  notes")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in (*VARIANTS, "baseline"):
            r = measure(model, kind, Path(tmp) / kind)
            notes = [] if r["exact"] is None else ["bit-exact" if r["exact"] else "MISMATCH"]
            notes += ["links: " + "; ".join(r["helpers"])[:50]] if r["helpers"] else []
            print(f"{kind:10s} {r['cycles']:8.0f} {r['cycles_slow']:10.0f} {r['flash']:8d} "
                  f"{r['stack']:6d}  {', '.join(notes)}")

if __name__ == "__main__":
    main()
