"""Benchmark: the generated Rust against the generated C, per variant, on the emulated
Cortex-M0 (cycles mean and max, inference flash, peak stack), for the trained 6-16-16-6 magnet6
fixtures at 8-bit and 4-bit weights. Ratios are Rust / C (lower is better; the target is
<= 1.25). With clang installed, the same C compiled by clang (LLVM, like rustc) is shown too:
it separates what the language costs from what the compiler back end does.

    .venv/bin/python bench/bench_rust.py [--rows N]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from codegen.cgen import COMPILER, FLAGS, VARIANTS, write_c  # noqa: E402
from codegen.rust import write_rust  # noqa: E402
from firmware.build import build_firmware  # noqa: E402
from firmware.elfinfo import check_integer_only, size_report  # noqa: E402
from firmware.rust import compile_model, describe_rustc  # noqa: E402
from m0.emulator import run_inferences  # noqa: E402
from m0.verify import random_inputs  # noqa: E402
from qnn.intmodel import IntModel, predict_int  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
CLANG = shutil.which("clang") or shutil.which("clang-14")
CLANG_FLAGS = ("--target=thumbv6m-none-eabi", "-mcpu=cortex-m0", "-Os", "-ffreestanding",
               "-fno-builtin", "-std=c99")


def measure(model: IntModel, variant: str, kind: str, folder: Path, rows: int) -> dict:
    write_c(model, folder, variant)
    obj = None
    if kind == "rust":
        (folder / "qnn_model.c").unlink()
        write_rust(model, folder, variant)
        obj = compile_model(folder / "qnn_model.rs", folder / "qnn_model_rs.o")
    elif kind == "clang":
        obj = folder / "qnn_model_clang.o"
        subprocess.run([CLANG, *CLANG_FLAGS, f"-I{folder}", "-c", str(folder / "qnn_model.c"),
                        "-o", str(obj)], check=True)
    elf = build_firmware(folder, folder / "build", model_object=obj).elf
    x = random_inputs(rows, model.n_in)
    res = run_inferences(elf, x, model.n_out)
    return {"mean": float(res.cycles.mean()), "max": int(res.cycles.max()),
            "flash": size_report(elf).inference_flash, "stack": res.peak_stack,
            "exact": bool((res.outputs == predict_int(model, x)).all()),
            "clean": not check_integer_only(elf)}


def table(w_bits: int, rows: int, tmp: Path) -> None:
    model = IntModel.load(FIXTURES / f"magnet6_{w_bits}bit_int_model.json")
    print(f"\n{'-'.join(map(str, model.sizes))} magnet6 fixture, {w_bits}-bit weights, "
          f"{model.n_macs} MACs, {rows} random full-range inputs")
    print(f"{'':18s} {'cycles':>7s} {'max':>6s} {'flash B':>7s} {'stack B':>7s}   "
          "Rust / C: cycles, max, flash, stack")
    kinds = ("c", "rust") + (("clang",) if CLANG else ())
    for variant in VARIANTS:
        res = {k: measure(model, variant, k, tmp / f"{w_bits}{variant}{k}", rows)
               for k in kinds}
        c = res["c"]
        for k, r in res.items():
            label = {"c": "C (gcc)", "rust": "Rust (rustc)", "clang": "C (clang)"}[k]
            notes = [] if r["exact"] and r["clean"] else ["MISMATCH" if not r["exact"]
                                                          else "NOT CLEAN"]
            ratios = "" if k == "c" else (
                f"   x{r['mean'] / c['mean']:.2f}, x{r['max'] / c['max']:.2f}, "
                f"x{r['flash'] / c['flash']:.2f}, x{r['stack'] / c['stack']:.2f}")
            print(f"{variant:8s} {label:9s} {r['mean']:7.0f} {r['max']:6d} {r['flash']:7d} "
                  f"{r['stack']:7d}{ratios}  {' '.join(notes)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=300, help="inputs per measurement")
    args = ap.parse_args()
    print(f"C: {COMPILER} {FLAGS}; Rust: {describe_rustc()}"
          + (f"; clang: {CLANG} {' '.join(CLANG_FLAGS[1:3])}" if CLANG else "")
          + "\nemulated Cortex-M0, zero wait states, 1-cycle multiplier")
    with tempfile.TemporaryDirectory() as tmp:
        for w_bits in (8, 4):
            table(w_bits, args.rows, Path(tmp))


if __name__ == "__main__":
    main()
