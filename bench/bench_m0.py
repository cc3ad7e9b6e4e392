"""Benchmark on the emulated Cortex-M0: cycles (mean and max), inference flash and stack of the
two C variants, for the trained 6-16-16-6 magnet6 fixtures at 8-bit and 4-bit weights, with
the fast (1-cycle) and the small (32-cycle) multiplier, beside a TensorFlow-Lite-Micro-style
int8 baseline (bench/baseline.py: int8, Q31 multipliers, 64-bit products) built and run the
same way; ratios are baseline / variant (higher is better).

    .venv/bin/python bench/bench_m0.py [--rows N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from baseline import write_baseline  # noqa: E402

from codegen.cgen import COMPILER, FLAGS, VARIANTS, write_c  # noqa: E402
from firmware.build import build_firmware  # noqa: E402
from firmware.elfinfo import check_integer_only, size_report  # noqa: E402
from m0.emulator import run_inferences  # noqa: E402
from m0.verify import random_inputs  # noqa: E402
from qnn.intmodel import IntModel, predict_int  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
BASELINE = "baseline"  # bench/baseline.py: TFLite-Micro-style int8 kernels


def measure(model: IntModel, kind: str, folder: Path, rows: int = 200) -> dict:
    """Cycles (mean, max; and the mean with the 32-cycle multiplier), inference flash and
    stack of `kind` (a variant, or BASELINE) on `rows` random inputs (bench_tflite uses it)."""
    if kind == BASELINE:
        write_baseline(model, folder)
    else:
        write_c(model, folder, kind)
    elf = build_firmware(folder, folder / "build").elf
    x = random_inputs(rows, model.n_in)
    fast = run_inferences(elf, x, model.n_out)
    slow = run_inferences(elf, x, model.n_out, slow_multiply=True)
    exact = None if kind == BASELINE else bool((fast.outputs == predict_int(model, x)).all())
    return {"cycles": float(fast.cycles.mean()), "max": int(fast.cycles.max()),
            "cycles_slow": float(slow.cycles.mean()), "flash": size_report(elf).inference_flash,
            "stack": fast.peak_stack, "exact": exact, "helpers": check_integer_only(elf)}


def table(w_bits: int, rows: int, tmp: Path) -> None:
    model = IntModel.load(FIXTURES / f"magnet6_{w_bits}bit_int_model.json")
    print(f"\n{'-'.join(map(str, model.sizes))} magnet6 fixture, {w_bits}-bit weights, "
          f"{model.n_macs} MACs, {rows} random full-range inputs")
    print(f"{'':11s} {'cycles':>7s} {'max':>6s} {'cyc/MAC':>7s} {'32-cyc mul':>10s} "
          f"{'flash B':>7s} {'stack B':>7s}   baseline / this: cycles, 32-cyc mul, flash")
    res = {kind: measure(model, kind, tmp / f"{kind}{w_bits}", rows)
           for kind in (BASELINE, *VARIANTS)}
    b = res[BASELINE]
    for kind, r in res.items():
        notes = []
        if r["exact"] is not None:
            notes.append("bit-exact" if r["exact"] else "MISMATCH")
        if r["helpers"]:
            notes.append("links a helper (" + r["helpers"][0][:40] + "...)")
        ratios = "" if kind == BASELINE else (
            f"   x{b['cycles'] / r['cycles']:.2f}, x{b['cycles_slow'] / r['cycles_slow']:.2f}, "
            f"x{b['flash'] / r['flash']:.2f}")
        print(f"{kind:11s} {r['cycles']:7.0f} {r['max']:6d} {r['cycles'] / model.n_macs:7.2f} "
              f"{r['cycles_slow']:10.0f} {r['flash']:7d} {r['stack']:7d}{ratios}  "
              f"{', '.join(notes)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=300, help="inputs per measurement")
    args = ap.parse_args()
    print(f"{COMPILER} {FLAGS}; emulated Cortex-M0, zero wait states")
    with tempfile.TemporaryDirectory() as tmp:
        for w_bits in (8, 4):
            table(w_bits, args.rows, Path(tmp))


if __name__ == "__main__":
    main()
