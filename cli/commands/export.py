"""`qnn export RUN --out DIR`: write the model's C pair (qnn_model.h / qnn_model.c) alone."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cli.commands._common import add_command
from codegen.cgen import VARIANTS, write_c
from qnn.run import load_int_model


def add_variant_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", choices=VARIANTS, default="loop",
                   help="loop: tables read by one loop, small flash; unrolled: one "
                        "statement per weight, fewest cycles (default: loop)")


def export(run: str | Path, out: str | Path, variant: str = "loop") -> dict[str, Any]:
    model = load_int_model(run)
    paths = write_c(model, out, variant)  # refuses an overflowing model (QnnError)
    return {
        "ok": True,
        "run": str(run),
        "variant": variant,
        "sizes": model.sizes,
        "macs": model.n_macs,
        "files": [str(p) for p in paths],
    }


def _handler(args: argparse.Namespace) -> dict[str, Any]:
    return export(args.run, args.out, args.variant)


def _human(r: dict[str, Any]) -> str:
    sizes = "-".join(str(s) for s in r["sizes"])
    return (f"{sizes} network ({r['macs']} MACs), {r['variant']} variant:\n"
            + "\n".join(f"  wrote {f}" for f in r["files"]))


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = add_command(sub, "export", "write the integer model as plain C (qnn_model.h/.c)",
                    _handler, _human)
    p.add_argument("run", help="run folder (holds int_model.json)")
    p.add_argument("--out", required=True, help="folder for qnn_model.h and qnn_model.c")
    add_variant_arg(p)
    return p
