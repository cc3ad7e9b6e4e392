"""`qnn import MODEL.tflite --out RUN`: a TensorFlow Lite int8 dense net -> a run folder whose
integer model is integer-only (u16 counts in, int16 outputs in a fixed unit, 32-bit dyadic
requantization, proven overflow-free), so export/build/verify/eval and the workbench take it."""

from __future__ import annotations

import argparse
from typing import Any

from cli.commands._common import add_command
from common.errors import QnnError


def numbers(text: str | None, flag: str) -> list[float] | None:
    """A comma-separated list of numbers (None when the flag was not given)."""
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise QnnError(f"{flag} {text!r}: expected comma-separated numbers, e.g. "
                       "1.5,-2,3e4.") from None
    if not values:
        raise QnnError(f"{flag}: expected at least one number.")
    return values


def add_parser(sub: Any) -> argparse.ArgumentParser:
    from qnn.tflite_import import DEFAULT_M_BITS

    p = add_command(sub, "import", "import a TensorFlow Lite int8 dense net as an integer-only "
                    "run folder", _handler, _human)
    p.add_argument("model", help="the .tflite file (int8 FULLY_CONNECTED chain)")
    p.add_argument("--out", required=True, help="run folder to write (replaced atomically)")
    p.add_argument("--x-mean", metavar="M,M,...", help="per input: the mean in ADC counts the "
                   "host subtracts before the model (float input = (counts - mean) / std); "
                   "default 0. A list starting with a minus needs '=': --y-mean=-1.5,2")
    p.add_argument("--x-std", metavar="S,S,...", help="per input: the std in counts the host "
                   "divides by; default 1")
    p.add_argument("--y-mean", metavar="M,M,...", help="per output: the mean the host adds back "
                   "(y = out * std + mean); default 0")
    p.add_argument("--y-std", metavar="S,S,...", help="per output: the std the host multiplies "
                   "by; default 1")
    p.add_argument("--out-lsb", metavar="U,U,...", help="per output: the physical value of one "
                   "int16 output LSB (default: the .tflite's own output step, y_std * scale)")
    p.add_argument("--m-bits", type=int, default=DEFAULT_M_BITS,
                   help=f"bits of the requantization multipliers M, 4..15 (default "
                   f"{DEFAULT_M_BITS}: close to TFLite's rescales)")
    return p


def _handler(args: argparse.Namespace) -> dict[str, Any]:
    from qnn.tflite_import import import_tflite

    lists = {k: numbers(getattr(args, k), f"--{k.replace('_', '-')}")
             for k in ("x_mean", "x_std", "y_mean", "y_std", "out_lsb")}
    return import_tflite(args.model, args.out, m_bits=args.m_bits, **lists)


def _human(r: dict[str, Any]) -> str:
    sizes = "-".join(str(s) for s in r["sizes"])
    weights = ", ".join("per-channel" if pc else "per-tensor" for pc in r["per_channel"])
    lsb = ", ".join(f"{v:.4g}" for v in r["out_lsb"])
    lines = [
        f"wrote {r['run']}: {sizes} network ({r['macs']} MACs) from {r['file']}",
        f"ops: {' '.join(r['ops'])}; {r['input']} input, {r['output']} output; weights "
        f"{weights}",
        f"multipliers (max bits per layer): {', '.join(str(b) for b in r['multiplier_bits'])}; "
        f"int32 headroom per stage: {', '.join(f'{h:.1f}' for h in r['headroom_bits'])} bits",
        f"output LSB: {lsb}",
    ]
    lines += [f"note: {n}" for n in r["notes"]]
    lines.append(f"next: qnn eval {r['run']} --data FILE (compares it with the .tflite), "
                 f"qnn build {r['run']}, qnn verify {r['run']}")
    return "\n".join(lines)
