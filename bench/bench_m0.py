"""Benchmark on the emulated Cortex-M0: cycles, cycles per MAC, flash and RAM of the inference
for the compact and fast variants and a TFLite-Micro-style int8 baseline (codegen/baseline.py),
6-16-16-6 at 8-bit and 4-bit weights (a random model and the trained magnet6 fixtures; and
6-32-32-6 at 4 bits, where the compact variant packs two weights per byte), with
the fast (1-cycle) and small (32-cycle) multiplier.

    .venv/bin/python bench/bench_m0.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # helpers.py: random models

from baseline import write_baseline  # noqa: E402
from helpers import random_int_model  # noqa: E402

from codegen.cgen import write_c  # noqa: E402
from firmware.build import build_firmware  # noqa: E402
from firmware.elfinfo import check_integer_only, size_report  # noqa: E402
from m0.emulator import run_inferences  # noqa: E402
from m0.verify import random_inputs  # noqa: E402
from qnn.intmodel import IntModel, predict_int  # noqa: E402

SIZES = (6, 16, 16, 6)
N = 200
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"


def measure(model, kind: str, folder: Path) -> dict:
    if kind == "baseline":
        write_baseline(model, folder)
    else:
        write_c(model, folder, kind)
    elf = build_firmware(folder, folder).elf
    rep = size_report(elf)
    x = random_inputs(N, model.n_in)
    fast = run_inferences(elf, x, model.n_out)
    slow = run_inferences(elf, x, model.n_out, slow_multiply=True)
    exact = None if kind == "baseline" else bool((fast.outputs == predict_int(model, x)).all())
    helpers = [p for p in check_integer_only(elf)]
    return {
        "cycles": float(fast.cycles.mean()),
        "cycles_max": int(fast.cycles.max()),
        "cycles_slow": float(slow.cycles.mean()),
        "flash": rep.inference_flash,
        "ram": rep.inference["data"] + rep.inference["bss"] + fast.peak_stack,
        "stack": fast.peak_stack,
        "exact": exact,
        "helpers": helpers,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for w_bits in (8, 4):
            for source in ("random", "trained"):
                if source == "random":
                    model = random_int_model(SIZES, w_bits, 8, 12)
                else:
                    model = IntModel.load(FIXTURES / f"magnet6_{w_bits}bit_int_model.json")
                _table(model, f"{source}{w_bits}", Path(tmp))
        # wide enough for the compact variant's nibble packing to pay (codegen/cgen_pack.py)
        _table(random_int_model((6, 32, 32, 6), 4, 8, 12), "random4wide", Path(tmp))


def _table(model, tag: str, tmp: Path) -> None:
    macs = model.n_macs
    source = "trained (magnet6 fixture)" if tag.startswith("trained") else "random"
    print(f"\n{'-'.join(map(str, model.sizes))}, {model.layers[0].w_bits}-bit weights, "
          f"{source}, {macs} MACs, {N} random inputs, -Os")
    print(f"{'':10s} {'cycles':>8s} {'max':>6s} {'cyc/MAC':>8s} {'cyc 32-mul':>10s} "
          f"{'flash B':>8s} {'RAM B':>6s} {'stack':>6s}  notes")
    res = {}
    for kind in ("compact", "fast", "baseline"):
        r = measure(model, kind, tmp / f"{kind}{tag}")
        res[kind] = r
        notes = []
        if r["exact"] is not None:
            notes.append("bit-exact" if r["exact"] else "MISMATCH")
        if r["helpers"]:
            notes.append("links: " + "; ".join(r["helpers"])[:60])
        print(f"{kind:10s} {r['cycles']:8.0f} {r['cycles_max']:6d} {r['cycles'] / macs:8.2f} "
              f"{r['cycles_slow']:10.0f} {r['flash']:8d} {r['ram']:6d} "
              f"{r['stack']:6d}  {', '.join(notes)}")
    b = res["baseline"]
    for kind in ("compact", "fast"):
        r = res[kind]
        print(f"  baseline / {kind}: cycles x{b['cycles'] / r['cycles']:.2f}, "
              f"32-cycle multiplier x{b['cycles_slow'] / r['cycles_slow']:.2f}, "
              f"flash x{b['flash'] / r['flash']:.2f}")


if __name__ == "__main__":
    main()
