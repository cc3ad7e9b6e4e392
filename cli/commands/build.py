"""`qnn build RUN`: export the C (or with `--lang rust` the Rust), build the Cortex-M0
firmware, report sizes and checks.

The command fails (exit 1, "ok": false) when the firmware does not fit 32 kB flash / 16 kB
RAM or when the inference is not integer-only ARMv6-M code (a libgcc helper, an instruction
the M0 lacks, a Rust panic path)."""

from __future__ import annotations

import argparse
from typing import Any

from cli.commands._common import add_command
from cli.commands.export import add_lang_arg, add_variant_arg
from firmware.make import build


def _handler(args: argparse.Namespace) -> dict[str, Any]:
    return build(args.run, args.out, args.variant, lang=args.lang)


def _human(r: dict[str, Any]) -> str:
    lang = f"Rust, {r['compiler']}" if r["lang"] == "rust" else "C"
    lines = [f"{r['elf']} ({lang}, {r['variant']} variant)", r["report"]]
    if not r["integer_only"]:
        lines.append("integer-only check FAILED: " + "; ".join(r["problems"]))
    return "\n".join(lines)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = add_command(sub, "build", "export the C and build the Cortex-M0 firmware (size report)",
                    _handler, _human)
    p.add_argument("run", help="run folder (holds int_model.json)")
    p.add_argument("--out", default=None, help="build folder (default: RUN/build)")
    add_variant_arg(p)
    add_lang_arg(p)
    return p
