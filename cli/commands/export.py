"""`qnn export RUN --out DIR`: write the model's C pair (qnn_model.h / qnn_model.c) alone, or
with `--lang rust` the `no_std` Rust module qnn_model.rs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cli.commands._common import add_command
from codegen.cgen import VARIANTS, write_c
from codegen.rust import write_rust
from qnn.run import load_int_model


def add_variant_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", choices=VARIANTS, default="loop",
                   help="loop: tables read by one loop, small flash; unrolled: one "
                        "statement per weight, fewest cycles (default: loop)")


def add_lang_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lang", choices=("c", "rust"), default="c",
                   help="c: qnn_model.h/.c (C99); rust: qnn_model.rs, a no_std module with "
                        "the same C ABI (default: c)")


def export(run: str | Path, out: str | Path, variant: str = "loop",
           lang: str = "c") -> dict[str, Any]:
    model = load_int_model(run)
    write = write_rust if lang == "rust" else write_c
    paths = write(model, out, variant)  # refuses an overflowing model (QnnError)
    return {
        "ok": True,
        "run": str(run),
        "variant": variant,
        "lang": lang,
        "sizes": model.sizes,
        "macs": model.n_macs,
        "files": [str(p) for p in paths],
    }


def _handler(args: argparse.Namespace) -> dict[str, Any]:
    return export(args.run, args.out, args.variant, args.lang)


def _human(r: dict[str, Any]) -> str:
    sizes = "-".join(str(s) for s in r["sizes"])
    lang = "Rust" if r["lang"] == "rust" else "C"
    return (f"{sizes} network ({r['macs']} MACs), {lang}, {r['variant']} variant:\n"
            + "\n".join(f"  wrote {f}" for f in r["files"]))


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = add_command(sub, "export", "write the integer model as plain C (qnn_model.h/.c) or "
                    "no_std Rust (qnn_model.rs)", _handler, _human)
    p.add_argument("run", help="run folder (holds int_model.json)")
    p.add_argument("--out", required=True, help="folder for qnn_model.h and qnn_model.c (or "
                   "qnn_model.rs)")
    add_variant_arg(p)
    add_lang_arg(p)
    return p
