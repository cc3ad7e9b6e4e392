"""`qnn eval RUN --data FILE`: the integer model and its float baseline, per output and
overall, in the outputs' own units: MSE, RMSE, max |error| and its 99th percentile (see
qnn.evaluate for the JSON fields)."""

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
    from qnn.evaluate import format_summary, format_table

    return f"{r['n']} samples\n{format_table(r)}\n{format_summary(r)}"
