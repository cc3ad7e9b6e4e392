"""Run folders: what `qnn train` writes and every later command reads.

    RUN/config.json      the training configuration (sizes, bits, epochs, seed, data file)
    RUN/params.npz       the trained parameters (steps included)
    RUN/float_params.npz the float network before QAT: the float baseline
    RUN/int_model.json   the integer model: the bit-exact artifact (see qnn.intmodel)
    RUN/metrics.json     final float / fake-quant / integer losses, per-output RMSE
    RUN/history.json     per-epoch progress

A run folder is written whole or not at all (common.fileio.atomic_dir).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import QnnError
from common.fileio import atomic_dir
from qnn.intmodel import IntModel

INT_MODEL = "int_model.json"
CONFIG = "config.json"
PARAMS = "params.npz"
FLOAT_PARAMS = "float_params.npz"
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


def load_json(run: str | Path, name: str, kind: type = dict) -> Any:
    """A JSON file of the run folder, which must hold a `kind` (dict or list)."""
    path = Path(run) / name
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        raise QnnError(f"{path}: missing; the run folder is incomplete, train again.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise QnnError(f"{path}: unreadable ({e}); train again.") from None
    if not isinstance(obj, kind):
        want = "an object" if kind is dict else "a list"
        raise QnnError(f"{path}: holds {type(obj).__name__}, not {want}; the file was damaged, "
                       "train again.")
    return obj


def training_split(run: str | Path, ds: Any) -> tuple[Any, Any]:
    """(train, val): the rows of `ds` (the file the run was trained on) that the run trained
    and validated on, from its config.json: the rows a holdout kept back first, if it had one
    (a sweep's runs: `data.holdout`, the test rows their MSE was measured on), then
    sim.dataset.split with the run's val_fraction and seed, as training did."""
    from sim.dataset import split

    cfg = load_json(run, CONFIG)
    train, data = cfg.get("train"), cfg.get("data")
    if not isinstance(train, dict) or not isinstance(data, dict):
        raise QnnError(f"{Path(run) / CONFIG}: malformed; train again.")
    if data.get("n", ds.n) != ds.n:
        raise QnnError(f"the dataset has {ds.n} rows, the run was trained on {data['n']} (of "
                       f"{data.get('path', '?')}): the data changed since; train again.")
    try:
        hold = data.get("holdout")
        if hold is not None:
            ds, _ = split(ds, float(hold["fraction"]), seed=int(hold["seed"]))
        return split(ds, float(train.get("val_fraction", 0.1)), seed=int(train.get("seed", 0)))
    except (KeyError, TypeError, ValueError):
        raise QnnError(f"{Path(run) / CONFIG}: malformed split settings; train again.") from None


def _flatten(params: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    return {f"l{k}_{name}": np.asarray(v) for k, layer in enumerate(params)
            for name, v in layer.items()}


def _unflatten(arrays: Any) -> list[dict[str, np.ndarray]]:
    layers: dict[int, dict[str, np.ndarray]] = {}
    for key in arrays.files:
        k, _, name = key[1:].partition("_")
        if not (key.startswith("l") and k.isdigit() and name):
            raise ValueError(f"unexpected array {key!r}")
        value = arrays[key]
        if not np.issubdtype(value.dtype, np.number) or not np.isfinite(value).all():
            raise ValueError(f"{key} is not finite numbers")
        layers.setdefault(int(k), {})[name] = value
    if sorted(layers) != list(range(len(layers))) or not layers:
        raise ValueError("no layers, or a layer is missing")
    return [layers[k] for k in sorted(layers)]


def _check_shapes(params: list[dict[str, np.ndarray]], sizes: Any) -> None:
    if len(params) != len(sizes) - 1:
        raise ValueError(f"{len(params)} layers, the model has {len(sizes) - 1}")
    for k, layer in enumerate(params):
        want = {"w": (sizes[k + 1], sizes[k]), "b": (sizes[k + 1],)}
        for name, shape in want.items():
            if name not in layer or layer[name].shape != shape:
                raise ValueError(f"layer {k} {name} should have shape {shape}")


def save_run(run: str | Path, result: Any, metrics: dict[str, Any],
             data_info: dict[str, Any]) -> Path:
    """Write a complete run folder, or nothing: the overflow proof runs first."""
    from qnn.overflow import check_export

    check_export(result.int_model)
    run = Path(run)
    with atomic_dir(run) as tmp:
        (tmp / CONFIG).write_text(json.dumps(
            {"train": result.config.to_json(), "sizes": list(result.spec.sizes),
             "data": data_info}, indent=1) + "\n")
        np.savez(tmp / PARAMS, **_flatten(result.params))
        np.savez(tmp / FLOAT_PARAMS, **_flatten(result.float_params))
        result.int_model.save(tmp / INT_MODEL)
        (tmp / METRICS).write_text(json.dumps(metrics, indent=1) + "\n")
        (tmp / HISTORY).write_text(json.dumps(
            [vars(p) for p in result.history], indent=0) + "\n")
    return run


def load_params(run: str | Path, name: str = FLOAT_PARAMS,
                sizes: Any = None) -> list[dict[str, np.ndarray]]:
    """Parameters saved by `save_run`; with `sizes`, their shapes are checked against them."""
    path = check_run_dir(run) / name
    try:
        with np.load(path, allow_pickle=False) as arrays:
            params = _unflatten(arrays)
        if sizes is not None:
            _check_shapes(params, sizes)
        return params
    except FileNotFoundError:
        raise QnnError(f"{path}: missing; the run folder is incomplete, train again.") from None
    except ValueError as e:
        why = "it holds Python objects" if "allow_pickle" in str(e) else str(e)
        raise QnnError(f"{path}: not a parameter file ({why}); train again.") from None
    except (OSError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise QnnError(f"{path}: unreadable ({type(e).__name__}); train again.") from None
