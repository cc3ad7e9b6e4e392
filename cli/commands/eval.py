"""`qnn eval RUN --data FILE`: float MSE, integer MSE, per-output RMSE in output units."""

from __future__ import annotations

import argparse
from typing import Any

from cli.commands._common import add_command


def add_parser(sub: Any) -> None:
    p = add_command(sub, "eval", "evaluate a run on a dataset (float vs integer model)", run,
                    human)
    p.add_argument("run", help="run folder written by `qnn train`")
    p.add_argument("--data", required=True, help="dataset (.npz or .csv)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from qnn.pipeline import eval_run

    return eval_run(args.run, args.data)


def human(r: dict[str, Any]) -> str:
    from qnn.evaluate import format_rmse

    return (f"{r['n']} samples: float MSE {r['mse_float']:.5f}, integer MSE {r['mse_int']:.5f} "
            f"({r['int_over_float']:.3f}x float)\ninteger RMSE: "
            f"{format_rmse(r['rmse_per_output'])}\nfloat RMSE:   "
            f"{format_rmse(r['rmse_per_output_float'])}")
