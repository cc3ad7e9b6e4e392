"""The headless pipeline as plain functions: dataset file -> run folder -> figures.
The CLI and the workbench both call these."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import QnnError
from qnn import network as net
from qnn.config import TrainConfig
from qnn.evaluate import evaluate
from qnn.intmodel import IntModel, check_compatible
from qnn.run import CONFIG, INT_MODEL, load_int_model, load_json, load_params, save_run
from qnn.train import Progress, TrainResult, train


def dataset_names(ds: Any) -> dict[str, list[str]]:
    return {k: list(getattr(ds, k)) for k in
            ("input_names", "input_units", "output_names", "output_units")}


def train_events(ds: Any, cfg: TrainConfig, *, stop: Callable[[], bool] = lambda: False,
                 init: TrainResult | None = None) -> Iterator[Progress | tuple[TrainResult, Any]]:
    """Split a Dataset and train on it: yields each epoch's Progress, then
    (TrainResult, validation split). The CLI and the workbench's worker both loop over it."""
    from sim.dataset import split

    cfg.validate()
    if cfg.out_lsb is not None and len(cfg.out_lsb) != ds.n_out:
        raise QnnError(f"--out-lsb gives {len(cfg.out_lsb)} units for {ds.n_out} outputs.")
    if cfg.out_lsb is not None:
        peak = np.abs(ds.y).max(axis=0) / np.asarray(cfg.out_lsb)
        if np.any(peak > 32767):
            i = int(np.argmax(peak))
            raise QnnError(f"--out-lsb {cfg.out_lsb[i]:g} is too fine for output "
                           f"{ds.output_names[i]} (|y| up to {np.abs(ds.y[:, i]).max():g} needs "
                           f">= {np.abs(ds.y[:, i]).max() / 32767:.3g} per LSB in int16).")
    train_ds, val_ds = split(ds, cfg.val_fraction, seed=cfg.seed)
    if train_ds.n < 2 or val_ds.n < 1:
        raise QnnError(f"the dataset has {ds.n} rows: too few to train; generate more.")
    for event in train(train_ds.x, train_ds.y, val_ds.x, val_ds.y, cfg,
                       names=dataset_names(ds), stop=stop, init=init):
        yield (event, val_ds) if isinstance(event, TrainResult) else event


def train_result(ds: Any, cfg: TrainConfig, *, on_progress: Callable[[Progress], None] = print,
                 stop: Callable[[], bool] = lambda: False,
                 init: TrainResult | None = None) -> tuple[TrainResult, Any]:
    """Split a Dataset, train on it; returns the result and the validation split."""
    for event in train_events(ds, cfg, stop=stop, init=init):
        if isinstance(event, tuple):
            return event
        on_progress(event)
    raise AssertionError("train() always ends with a TrainResult")


def metrics_of(result: TrainResult, val_ds: Any) -> dict[str, Any]:
    m = evaluate(result.int_model, result.float_params, result.spec, val_ds.x, val_ds.y)
    speeds = [p.samples_per_s for p in result.history[1:]] or [0.0]
    return {**m, "seconds": result.seconds, "stopped": result.stopped,
            "train_samples_per_s": float(np.median(speeds)), "epochs": len(result.history)}


def train_run(data: Path, out: Path, cfg: TrainConfig, *,
              on_progress: Callable[[Progress], None] = print,
              stop: Callable[[], bool] = lambda: False) -> dict[str, Any]:
    from sim.dataset import load_dataset

    ds = load_dataset(data)
    result, val_ds = train_result(ds, cfg, on_progress=on_progress, stop=stop)
    metrics = metrics_of(result, val_ds)
    save_run(out, result, metrics, {"path": str(data), "n": ds.n, "meta": ds.meta})
    return {"run": str(out), **metrics}


def load_run(run: str | Path) -> tuple[IntModel, list[dict[str, np.ndarray]], net.NetSpec]:
    """The integer model, the float baseline params and the network spec of a run folder."""
    model = load_int_model(run)
    cfg_json = load_json(run, CONFIG)
    if "import" in cfg_json and "train" not in cfg_json:
        raise QnnError(f"{run}: imported from a .tflite, so it has no training configuration "
                       "or float parameters; evaluate it with `qnn eval` (which compares it "
                       "with the .tflite), or train a model here to fine-tune.")
    try:
        cfg = TrainConfig.from_json(cfg_json["train"])
    except (KeyError, TypeError):
        raise QnnError(f"{run}/{CONFIG}: malformed; train again.") from None
    spec = cfg.spec(model.n_in, model.n_out)
    if tuple(spec.sizes) != tuple(model.sizes):
        raise QnnError(f"{run}: {CONFIG} and the integer model disagree on sizes; train again.")
    return model, load_params(run, sizes=spec.sizes), spec


def load_result(run: str | Path) -> TrainResult:
    """Rebuild the TrainResult of a saved run folder (to fine-tune it after a reopen)."""
    from qnn.run import HISTORY, PARAMS
    from qnn.stats import DataStats

    model, float_params, spec = load_run(run)
    cfg = TrainConfig.from_json(load_json(run, CONFIG)["train"])
    try:
        stats = DataStats(model.input_map, np.asarray(model.meta["y_mean"], dtype=float),
                          np.asarray(model.meta["y_std"], dtype=float),
                          np.asarray(model.output_lsb))
    except (KeyError, TypeError, ValueError):
        raise QnnError(f"{run}/{INT_MODEL}: its meta lacks the output statistics (y_mean, "
                       "y_std) needed to fine-tune; train again.") from None
    history = []
    if (Path(run) / HISTORY).is_file():
        try:
            history = [Progress(**h) for h in load_json(run, HISTORY, list)]
        except TypeError:
            raise QnnError(f"{run}/{HISTORY}: not a list of epoch records; the file was "
                           "damaged, train again.") from None
    return TrainResult(cfg, spec, stats, load_params(run, PARAMS, spec.sizes), float_params,
                       model, history)


SPLITS = ("all", "val", "train")


def eval_run(run: str | Path, data: str | Path, split: str = "all") -> dict[str, Any]:
    """Both models on the rows of `data` that `split` names: all of them, or the validation
    (or training) rows the run's own split kept, i.e. the numbers `qnn train` and the
    workbench report, which needs the very file the run was trained on."""
    from qnn.run import training_split
    from sim.dataset import load_dataset

    if split not in SPLITS:
        raise QnnError(f"--split {split!r}: choose one of {', '.join(SPLITS)}.")
    model, float_params, spec = load_run(run)
    ds = load_dataset(data)
    check_compatible(model, ds)
    if split != "all":
        cfg_json = load_json(run, CONFIG)
        trained_on = cfg_json.get("data") or {}
        if trained_on.get("n") != ds.n or trained_on.get("meta", ds.meta) != ds.meta:
            raise QnnError(f"--split {split} takes the rows the run kept for it from the file "
                           f"it was trained on ({trained_on.get('path', '?')}, "
                           f"{trained_on.get('n', '?')} rows); {data} is another file "
                           f"({ds.n} rows). Give that file, or --split all.")
        train_ds, val_ds = training_split(run, ds)
        ds = val_ds if split == "val" else train_ds
    named = {"all": "all", "val": "validation", "train": "training"}[split]
    return {"run": str(run), "data": str(data), "split": named,
            **evaluate(model, float_params, spec, ds.x, ds.y)}
