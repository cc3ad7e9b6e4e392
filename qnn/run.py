"""Run folders: what `qnn train` writes and every later command reads.

    RUN/config.json      the training configuration (sizes, bits, epochs, seed, data file)
    RUN/params.npz       the trained float parameters (steps included)
    RUN/int_model.json   the integer model: the bit-exact artifact (see qnn.intmodel)
    RUN/metrics.json     final float / fake-quant / integer losses, per-output RMSE
    RUN/history.json     per-epoch progress

A run folder is written whole or not at all (qnn.fileio.atomic_dir).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qnn.errors import QnnError
from qnn.intmodel import IntModel

INT_MODEL = "int_model.json"
CONFIG = "config.json"
PARAMS = "params.npz"
METRICS = "metrics.json"
HISTORY = "history.json"


def check_run_dir(run: str | Path) -> Path:
    run = Path(run)
    if not run.is_dir():
        raise QnnError(f"{run}: no such run folder; create one with `qnn train --out {run}`.")
    if not (run / INT_MODEL).is_file():
        raise QnnError(f"{run}: not a run folder ({INT_MODEL} is missing); train again with "
                       f"`qnn train --out {run}`.")
    return run


def load_int_model(run: str | Path) -> IntModel:
    run = check_run_dir(run)
    return IntModel.load(run / INT_MODEL)


def load_json(run: str | Path, name: str) -> dict[str, Any]:
    path = Path(run) / name
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise QnnError(f"{path}: missing; the run folder is incomplete, train again.") from None
    except (OSError, json.JSONDecodeError) as e:
        raise QnnError(f"{path}: unreadable ({e}); train again.") from None
