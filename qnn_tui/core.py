"""The work behind the workbench's keys, as plain functions over the headless core.

No Textual here; the workers (qnn_tui.workers) call these in threads. Importing this module
does not import JAX: the functions that train import qnn.train themselves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import QnnError
from common.fileio import atomic_write_json
from qnn.project import Project
from qnn_tui.session import SUMMARY


def sim_model(project: Project) -> tuple[Any, dict[str, Any]]:
    from sim.models import get_model

    model = get_model(project.model)
    return model, model.resolve_params(project.sim_params)


def readings(project: Project, pose: list[float]) -> np.ndarray:
    model, params = sim_model(project)
    return model.forward(np.asarray([pose], float), params)[0]


def sweeps(project: Project, pose: list[float], n: int = 41) -> list[np.ndarray]:
    """For each pose component: readings [n, n_in] as it sweeps its range, others fixed."""
    model, params = sim_model(project)
    low, high = model.pose_range(project.pose_low, project.pose_high)
    out = []
    for i in range(model.n_out):
        poses = np.repeat(np.asarray([pose], float), n, axis=0)
        poses[:, i] = np.linspace(low[i], high[i], n)
        out.append(model.forward(poses, params))
    return out


def identifiability(project: Project) -> dict[str, Any]:
    from sim.identify import identifiability as ident

    return ident(project.model, project.sim_params, n=128, seed=0,
                 pose_low=project.pose_low, pose_high=project.pose_high)


def generate_dataset(project: Project, path: Path) -> Any:
    from sim.dataset import generate, save_dataset

    ds = generate(project.model, project.n, project.seed, project.sim_params,
                  project.pose_low, project.pose_high)
    save_dataset(ds, path)
    return ds


def dataset_matches(ds: Any, project: Project) -> bool:
    """Was `ds` generated with the project's current simulator settings?"""
    meta = ds.meta or {}
    try:
        model, params = sim_model(project)
        low, high = model.pose_range(project.pose_low, project.pose_high)
    except QnnError:
        return False
    return (meta.get("model") == project.model and meta.get("n") == project.n
            and meta.get("seed") == project.seed and meta.get("params") == params
            and meta.get("pose_low") == low.tolist() and meta.get("pose_high") == high.tolist())


def load_dataset(path: Path) -> Any:
    from sim.dataset import load_dataset as load

    if not path.is_file():
        raise QnnError(f"{path}: no dataset yet; press g in the Simulator pane to generate one.")
    return load(path)


class Pauser:
    """Pause/stop between epochs: `check()` blocks while paused, returns True to stop."""

    def __init__(self, cancelled: Callable[[], bool]):
        self.cancelled = cancelled
        self.running = threading.Event()
        self.running.set()
        self.stop_requested = False

    def check(self) -> bool:
        while not self.running.wait(0.05):
            if self.stop_requested or self.cancelled():
                return True
        return self.stop_requested or self.cancelled()


def training(ds: Any, cfg: Any, stop: Callable[[], bool], init: Any = None
             ) -> Iterator[Any]:
    """Yield the core's Progress events, then (TrainResult, val_ds)."""
    from qnn.pipeline import train_events

    yield from train_events(ds, cfg, stop=stop, init=init)


def finish(result: Any, val_ds: Any, ds: Any, run: Path, data: Path) -> dict[str, Any]:
    """Metrics of a result, and its run folder written (refused if it could overflow)."""
    from qnn.pipeline import metrics_of
    from qnn.run import save_run

    metrics = metrics_of(result, val_ds)
    save_run(run, result, metrics, {"path": str(data), "n": ds.n, "meta": ds.meta})
    return metrics


def result_from_run(run: Path) -> Any:
    """Rebuild the TrainResult of a saved run folder (to fine-tune after a reopen)."""
    from qnn.pipeline import load_result

    return load_result(run)


def build_and_verify(run: Path, out: Path, variant: str, n_random: int = 300,
                     lang: str = "c") -> dict[str, Any]:
    """Export, build, size report, integer-only check, then the emulated M0 against the
    numpy reference. A missing toolchain or a compiler error arrives as QnnError."""
    from firmware.make import build
    from m0.verify import verify

    b = build(run, out, variant, lang=lang)
    v = verify(run, None, n_random, variant=variant, out=out, lang=lang)
    summary = {"build": b, "verify": v}
    atomic_write_json(out / SUMMARY, summary)
    return summary
