"""`qnn verify RUN --data FILE`: run the built firmware on the emulated Cortex-M0 for every
dataset row plus random full-range inputs (including all-0 and all-65535 rows) and compare
each output with the numpy integer reference, bit for bit."""

from __future__ import annotations

import argparse
from typing import Any

from cli.commands._common import add_command
from cli.commands.export import add_lang_arg, add_variant_arg
from m0.verify import verify


def _handler(args: argparse.Namespace) -> dict[str, Any]:
    return verify(args.run, args.data, args.random, variant=args.variant, out=args.out,
                  slow_multiply=args.slow_multiply, lang=args.lang)


def _human(r: dict[str, Any]) -> str:
    c = r["cycles"]
    mult = "32-cycle" if r["slow_multiply"] else "1-cycle"
    lines = [
        f"{r['inferences']} inferences on the emulated Cortex-M0 ({r['dataset_rows']} dataset "
        f"rows + {r['random_rows']} random), {'Rust' if r['lang'] == 'rust' else 'C'}, "
        f"{r['variant']} variant, {mult} multiplier",
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
    add_lang_arg(p)
    return p
