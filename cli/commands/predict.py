"""`qnn predict RUN --data FILE --out FILE`: int16 outputs of the numpy reference, as .npz."""

from __future__ import annotations

import argparse
import io
from typing import Any

import numpy as np

from cli.commands._common import add_command
from common.errors import QnnError
from common.fileio import atomic_write_bytes


def add_parser(sub: Any) -> None:
    p = add_command(sub, "predict", "int16 outputs of the integer reference for a dataset", run,
                    human)
    p.add_argument("run", help="run folder written by `qnn train`")
    p.add_argument("--data", required=True, help="dataset (.npz or .csv); only x is needed")
    p.add_argument("--out", required=True, help="output .npz (y_int int16, y physical, lsb)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from qnn.intmodel import check_compatible, predict_int
    from qnn.run import load_int_model
    from sim.dataset import load_dataset

    if not args.out.endswith(".npz"):
        raise QnnError(f"--out {args.out}: give a file name ending in .npz.")
    model = load_int_model(args.run)
    ds = load_dataset(args.data)
    check_compatible(model, ds, need_y=False)
    y_int = predict_int(model, ds.x)
    buf = io.BytesIO()
    np.savez(buf, y_int=y_int, y=model.to_physical(y_int).astype(np.float32),
             lsb=np.asarray(model.output_lsb), output_names=np.array(model.output_names),
             output_units=np.array(model.output_units))
    atomic_write_bytes(args.out, buf.getvalue())
    return {"out": args.out, "n": int(len(y_int)), "outputs": model.output_names}


def human(r: dict[str, Any]) -> str:
    return f"wrote {r['n']} predictions ({', '.join(r['outputs'])}) to {r['out']}"
