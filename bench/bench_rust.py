"""Benchmark: the generated Rust against the generated C, per variant, on the emulated
Cortex-M0 (cycles mean and max, inference flash, peak stack), for the trained 6-16-16-6 magnet6
fixtures at 8-bit and 4-bit weights and random models of three shapes (tests/test_rust.py's
SHAPES). Ratios are Rust / C (lower is better; the target is <= 1.25). With clang installed,
the same C compiled by clang (LLVM, like rustc) is shown too: it separates what the language
costs from what the compiler back end does ("clang+": with the LLVM options the Rust build
uses, firmware.rust.llvm_args).

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
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from helpers import random_int_model  # noqa: E402

from codegen.cgen import COMPILER, FLAGS, VARIANTS, write_c  # noqa: E402
from codegen.rust import write_rust  # noqa: E402
from firmware.build import build_firmware  # noqa: E402
from firmware.elfinfo import check_integer_only, size_report  # noqa: E402
from firmware.rust import compile_model, describe_rustc, llvm_args  # noqa: E402
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
    elif kind.startswith("clang"):
        obj = folder / "qnn_model_clang.o"
        mllvm = [] if kind == "clang" else [
            a for arg in llvm_args(variant)[1].removeprefix("llvm-args=").split()
            for a in ("-mllvm", arg)]
        subprocess.run([CLANG, *CLANG_FLAGS, *mllvm, f"-I{folder}", "-c",
                        str(folder / "qnn_model.c"), "-o", str(obj)], check=True)
    elf = build_firmware(folder, folder / "build", model_object=obj).elf
    x = random_inputs(rows, model.n_in)
    res = run_inferences(elf, x, model.n_out)
    return {"mean": float(res.cycles.mean()), "max": int(res.cycles.max()),
            "flash": size_report(elf).inference_flash, "stack": res.peak_stack,
            "exact": bool((res.outputs == predict_int(model, x)).all()),
            "clean": not check_integer_only(elf)}


# tests/test_rust.py's random shapes: (sizes, weight bits, activation bits, input bits)
SHAPES = [((3, 5, 2), 4, 3, 9), ((5, 7, 9, 3), (2, 4, 3), 6, 10),
          ((6, 32, 16, 8, 6), (8, 4, 2, 8), 4, 14)]


def models() -> list[tuple[str, IntModel]]:
    out = [(f"magnet6 fixture, {w}-bit weights",
            IntModel.load(FIXTURES / f"magnet6_{w}bit_int_model.json")) for w in (8, 4)]
    for k, (sizes, w_bits, a_bits, in_bits) in enumerate(SHAPES):
        wb = "/".join(map(str, w_bits)) if isinstance(w_bits, tuple) else w_bits
        out.append((f"random, {wb}-bit weights",
                    random_int_model(sizes, w_bits, a_bits, in_bits, seed=k)))
    return out


def table(name: str, model: IntModel, rows: int, tmp: Path) -> list[float]:
    """Prints the model's table; returns its Rust / C cycle ratios (loop, unrolled)."""
    print(f"\n{'-'.join(map(str, model.sizes))} {name}, {model.n_macs} MACs, {rows} random "
          "full-range inputs")
    print(f"{'':21s} {'cycles':>7s} {'max':>6s} {'flash B':>7s} {'stack B':>7s}   "
          "Rust / C: cycles, max, flash, stack")
    kinds = ("c", "rust") + (("clang", "clang+") if CLANG else ())
    worst = []
    for variant in VARIANTS:
        res = {k: measure(model, variant, k, tmp / f"{variant}{k}", rows) for k in kinds}
        worst.append(res["rust"]["mean"] / res["c"]["mean"])
        c = res["c"]
        for k, r in res.items():
            label = {"c": "C (gcc)", "rust": "Rust (rustc)", "clang": "C (clang)",
                     "clang+": "C (clang+)"}[k]
            notes = [] if r["exact"] and r["clean"] else ["MISMATCH" if not r["exact"]
                                                          else "NOT CLEAN"]
            ratios = "" if k == "c" else (
                f"   x{r['mean'] / c['mean']:.2f}, x{r['max'] / c['max']:.2f}, "
                f"x{r['flash'] / c['flash']:.2f}, x{r['stack'] / c['stack']:.2f}")
            print(f"{variant:8s} {label:12s} {r['mean']:7.0f} {r['max']:6d} {r['flash']:7d} "
                  f"{r['stack']:7d}{ratios}  {' '.join(notes)}")
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=300, help="inputs per measurement")
    args = ap.parse_args()
    print(f"C: {COMPILER} {FLAGS}; Rust: {describe_rustc()}"
          + (f"; clang: {CLANG} {' '.join(CLANG_FLAGS[1:3])}" if CLANG else "")
          + "".join(f"\nRust {v}: -C '{llvm_args(v)[1]}'" for v in VARIANTS)
          + "\nemulated Cortex-M0, zero wait states, 1-cycle multiplier")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, model) in enumerate(models()):
            ratios.append(table(name, model, args.rows, Path(tmp) / str(k)))
    worst = [max(r[v] for r in ratios) for v in range(len(VARIANTS))]
    print("\nworst Rust / C cycles: " + ", ".join(f"{v} x{w:.2f}"
                                                 for v, w in zip(VARIANTS, worst, strict=True)))


if __name__ == "__main__":
    main()
