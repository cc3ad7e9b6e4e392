"""`qnn verify RUN --data FILE`: run the built firmware on the emulated Cortex-M0 for every
dataset row plus random full-range inputs (including all-0 and all-65535 rows) and compare
each output with the numpy integer reference, bit for bit."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from codegen.m0 import run_inferences
from qnn.commands._common import add_command
from qnn.commands.build import build
from qnn.commands.export import add_variant_arg
from qnn.intmodel import check_compatible, predict_int
from qnn.run import load_int_model


def random_inputs(n: int, n_in: int, seed: int = 0) -> np.ndarray:
    """n uniformly random uint16 rows, the first two all-0 and all-65535 (when n >= 2)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 65536, (n, n_in), dtype=np.int64)
    if n >= 1:
        x[0] = 0
    if n >= 2:
        x[1] = 65535
    return x


def verify(run: str | Path, data: str | Path | None = None, n_random: int = 1000, *,
           variant: str = "compact", out: str | Path | None = None, slow_multiply: bool = False,
           seed: int = 0) -> dict[str, Any]:
    model = load_int_model(run)
    parts = []
    n_data = 0
    if data is not None:
        from sim.dataset import load_dataset

        ds = load_dataset(data)
        check_compatible(model, ds, need_y=False)
        x_data = np.asarray(ds.x, dtype=np.int64)
        parts.append(x_data)
        n_data = len(x_data)
    parts.append(random_inputs(max(n_random, 2), model.n_in, seed))
    x = np.concatenate(parts)
    b = build(run, out, variant, reuse=True)
    res = run_inferences(Path(b["elf"]), x.astype(np.uint16), model.n_out,
                         slow_multiply=slow_multiply)
    ref = predict_int(model, x)
    wrong = res.outputs != ref
    bad_rows = np.nonzero(wrong.any(axis=1))[0]
    first = None
    if len(bad_rows):
        r = int(bad_rows[0])
        first = {"row": r, "input": x[r].tolist(), "m0": res.outputs[r].tolist(),
                 "reference": ref[r].tolist()}
    c = res.cycles
    return {
        "ok": bool(len(bad_rows) == 0 and b["ok"]),
        "run": str(run),
        "variant": variant,
        "elf": b["elf"],
        "build_ok": b["ok"],
        "inferences": int(len(x)),
        "dataset_rows": n_data,
        "random_rows": int(len(x) - n_data),
        "mismatches": int(wrong.sum()),
        "mismatched_rows": int(len(bad_rows)),
        "first_mismatch": first,
        "cycles": {"min": int(c.min()), "mean": float(c.mean()), "max": int(c.max())},
        "cycles_per_mac": float(c.mean()) / model.n_macs,
        "slow_multiply": slow_multiply,
        "peak_stack": int(res.peak_stack),
        "inference_flash": int(b["size"]["inference_flash"]),
    }


def _handler(args: argparse.Namespace) -> dict[str, Any]:
    return verify(args.run, args.data, args.random, variant=args.variant, out=args.out,
                  slow_multiply=args.slow_multiply)


def _human(r: dict[str, Any]) -> str:
    c = r["cycles"]
    mult = "32-cycle" if r["slow_multiply"] else "1-cycle"
    lines = [
        f"{r['inferences']} inferences on the emulated Cortex-M0 ({r['dataset_rows']} dataset "
        f"rows + {r['random_rows']} random), {r['variant']} variant, {mult} multiplier",
        f"mismatches vs the integer reference: {r['mismatches']} outputs in "
        f"{r['mismatched_rows']} rows",
        f"cycles per inference: min {c['min']}, mean {c['mean']:.1f}, max {c['max']} "
        f"({r['cycles_per_mac']:.2f} per MAC)",
        f"peak stack {r['peak_stack']} B, inference flash {r['inference_flash']} B",
    ]
    if r["first_mismatch"]:
        f = r["first_mismatch"]
        lines.append(f"first mismatch: row {f['row']} input {f['input']}: M0 {f['m0']}, "
                     f"reference {f['reference']}")
    if not r["build_ok"]:
        lines.append("the build's size/integer-only checks failed (run `qnn build`)")
    lines.append("OK: bit-exact" if r["ok"] else "FAILED")
    return "\n".join(lines)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = add_command(sub, "verify", "check the firmware bit for bit on the emulated Cortex-M0",
                    _handler, _human)
    p.add_argument("run", help="run folder (holds int_model.json)")
    p.add_argument("--data", default=None, help="dataset file whose rows are checked")
    p.add_argument("--random", type=int, default=1000, metavar="N",
                   help="random full-range inputs to add, incl. all-0 and all-65535 (default "
                        "1000)")
    p.add_argument("--out", default=None, help="build folder (default: RUN/build)")
    p.add_argument("--slow-multiply", action="store_true",
                   help="count MULS as 32 cycles (Cortex-M0 with the small multiplier)")
    add_variant_arg(p)
    return p
