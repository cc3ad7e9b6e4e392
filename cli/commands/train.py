"""`qnn train`: dataset -> run folder (float baseline, QAT, integer-exact phase, int model)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cli.commands._common import add_command
from common.errors import QnnError
from qnn.config import TrainConfig


def int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        msg = f"expected comma-separated integers, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def float_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        msg = f"expected comma-separated numbers, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not values or any(not v > 0 or v == float("inf") for v in values):
        raise argparse.ArgumentTypeError("output LSBs must be positive, finite numbers")
    return values


def add_parser(sub: Any) -> None:
    d = TrainConfig()
    p = add_command(sub, "train", "train a quantized network on a dataset", run, human)
    p.add_argument("--data", required=True, help="training data (.npz from `qnn sim`, or .csv)")
    p.add_argument("--out", required=True, help="run folder to write (replaced atomically)")
    p.add_argument("--hidden", type=int_list, default=d.hidden, help="hidden sizes, e.g. 16,16")
    p.add_argument("--wbits", type=int_list, default=(8,),
                   help="weight bits 2..8: one value, or one per layer (e.g. 8,4,8)")
    p.add_argument("--abits", type=int_list, default=(8,),
                   help="activation bits 2..8: one value, or one per hidden layer")
    p.add_argument("--in-bits", type=int, default=d.in_bits, help="bits of the mapped inputs")
    p.add_argument("--m-bits", type=int, default=d.m_bits,
                   help="bits of the requantization multipliers M (4..15)")
    p.add_argument("--epochs", type=int_list, default=None, metavar="F,Q,I",
                   help=f"epochs of the float, QAT and integer-exact phases "
                   f"(default {d.epochs_float},{d.epochs_qat},{d.epochs_int})")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr, help="learning rate of the float phase")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--val-fraction", type=float, default=d.val_fraction)
    p.add_argument("--out-lsb", type=float_list, default=None, metavar="U,U,...",
                   help="physical value of one int16 output LSB, one per output "
                   "(default: a 1/2/5 x 10^k unit chosen from the data range)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch progress on stderr")


def _one_or_many(values: tuple[int, ...]) -> int | tuple[int, ...]:
    return values[0] if len(values) == 1 else values


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    cfg = TrainConfig(hidden=tuple(args.hidden), w_bits=_one_or_many(args.wbits),
                      a_bits=_one_or_many(args.abits), in_bits=args.in_bits, m_bits=args.m_bits,
                      batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                      val_fraction=args.val_fraction, out_lsb=args.out_lsb)
    if args.epochs is not None:
        if len(args.epochs) != 3:
            raise QnnError("--epochs takes three numbers: float,qat,int (e.g. 60,40,15).")
        cfg.epochs_float, cfg.epochs_qat, cfg.epochs_int = args.epochs
    cfg.validate()
    return cfg


def run(args: argparse.Namespace) -> dict[str, Any]:
    from qnn.pipeline import train_run  # JAX loads only when training is asked for

    cfg = config_from_args(args)

    def report(p) -> None:
        if not args.quiet and not args.json:
            extra = "" if p.val_int is None else f"  fq {p.val_fq:.4f}  int {p.val_int:.4f}"
            print(f"epoch {p.epoch:3d}/{p.epochs} {p.phase:5s} standardised MSE: train "
                  f"{p.train_loss:.4f}  val float {p.val_float:.4f}{extra}  "
                  f"{p.samples_per_s:,.0f} samples/s", file=sys.stderr)

    return train_run(Path(args.data), Path(args.out), cfg, on_progress=report)


def human(r: dict[str, Any]) -> str:
    from qnn.evaluate import format_summary, format_table

    return (f"wrote {r['run']} in {r['seconds']:.1f} s ({r['train_samples_per_s']:,.0f} "
            f"samples/s); on the {r['n']} validation samples:\n{format_table(r)}\n"
            f"{format_summary(r)}")
