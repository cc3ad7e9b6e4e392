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
    p.add_argument("--split", choices=("all", "val", "train"), default="all",
                   help="which rows of --data: all (default), or the validation / training "
                   "rows the run's own split kept (needs the file it was trained on); "
                   "--split val gives the validation figures the workbench shows")
    p.add_argument("--tflite", default=None, metavar="MODEL.tflite",
                   help="also run this .tflite (numpy reference of TFLite's int8 arithmetic) "
                   "and report how far the integer model is from it; an imported run "
                   "compares with its own copy without this flag")
    p.add_argument("--tflite-rounding", choices=("single", "double"), default="single",
                   help="TFLite's requantization rounding: single (LiteRT, TensorFlow's "
                   "default kernels) or double (builds without TFLITE_SINGLE_ROUNDING, e.g. "
                   "tf.lite's reference kernels)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from qnn.tflite_eval import eval_tflite, is_imported

    if args.tflite is not None or is_imported(args.run):
        if args.split != "all":
            from common.errors import QnnError

            raise QnnError("--split is for a trained run; the comparison with a .tflite "
                           "takes all rows of --data (drop --split).")
        return eval_tflite(args.run, args.data, args.tflite, args.tflite_rounding)
    from qnn.pipeline import eval_run

    return eval_run(args.run, args.data, args.split)


def human(r: dict[str, Any]) -> str:
    from qnn.evaluate import format_summary, format_table

    if "tflite" in r:  # the comparison with a .tflite (qnn/tflite_eval.py)
        from qnn.tflite_eval import human_eval

        return human_eval(r, human)

    rows = {"all": "samples", "validation": "validation rows", "training": "training rows"}
    return f"{r['n']} {rows[r.get('split', 'all')]}\n{format_table(r)}\n{format_summary(r)}"
