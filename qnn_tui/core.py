"""The work behind the workbench's keys, as plain functions over the headless core.

No Textual here; the workers (qnn_tui.workers) call these in threads. Importing this module
does not import JAX: the functions that train import qnn.train themselves.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import QnnError
from common.fileio import atomic_dir, atomic_write_json
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


IDENT_SAMPLES = 256  # the same poses as `qnn sim` (n 256, the project's seed): same figure


def identifiability(project: Project) -> dict[str, Any]:
    from sim.identify import identifiability as ident

    return ident(project.model, project.sim_params, n=IDENT_SAMPLES, seed=project.seed,
                 pose_low=project.pose_low, pose_high=project.pose_high)


def generate_dataset(project: Project, path: Path) -> Any:
    from sim.dataset import generate, save_dataset

    ds = generate(project.model, project.n, project.seed, project.sim_params,
                  project.pose_low, project.pose_high)
    save_dataset(ds, path)
    return ds


def dataset_matches(ds: Any, project: Project) -> bool:
    """Was `ds` generated with the project's current simulator settings (or imported, and
    shaped like the project's forward model)?"""
    meta = ds.meta or {}
    if meta.get("imported"):
        model = sim_model(project)[0]
        return ds.n_in == model.n_in and ds.n_out == model.n_out
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


def import_dataset(source: str | Path, project: Project, path: Path) -> Any:
    """A recorded dataset (.npz or .csv, validated as `qnn train --data` does) becomes the
    project's dataset.npz. Its columns must be the forward model's readings and pose."""
    from sim.dataset import load_dataset as load
    from sim.dataset import save_dataset

    source = Path(source).expanduser()
    ds = load(source)
    model = sim_model(project)[0]
    if (ds.n_in, ds.n_out) != (model.n_in, model.n_out):
        raise QnnError(f"{source}: {ds.n_in} readings -> {ds.n_out} outputs, but the forward "
                       f"model {project.model} has {model.n_in} -> {model.n_out}; pick a "
                       "matching model (pane 1, forward model row) or reshape the data.")
    ds.meta = {**(ds.meta or {}), "imported": True, "source": str(source.resolve())}
    save_dataset(ds, path)
    return ds


def train_rows(n: int, val_fraction: float) -> int:
    """Rows left for training after sim.dataset.split keeps its validation rows."""
    return n - max(1, round(val_fraction * n))


def clamp_batch(cfg: Any, n: int) -> str | None:
    """A batch larger than the training rows trains one full batch per epoch: say so."""
    rows = train_rows(n, cfg.val_fraction)
    if cfg.batch_size <= rows or rows < 1:
        return None
    asked, cfg.batch_size = cfg.batch_size, rows
    return (f"batch size {asked:,} is more than the {rows:,} training rows of this dataset; "
            f"training with {rows:,} (one batch per epoch). Set a smaller one in pane 2.")


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


def finish(result: Any, val_ds: Any, ds: Any, run: Path, data: Path, kind: str = "train"
           ) -> dict[str, Any]:
    """Metrics of a result, and its run folder written (refused if it could overflow).
    The metrics also say what they are: the kept (best) epoch and the split they come from."""
    from qnn.pipeline import metrics_of
    from qnn.run import save_run

    metrics = metrics_of(result, val_ds)
    metrics.setdefault("best_epoch", int(result.best_epoch))
    metrics.setdefault("split", "validation")
    metrics.setdefault("val_rows", int(val_ds.n))
    metrics.setdefault("kind", kind)
    save_run(run, result, metrics, {"path": str(data), "n": ds.n, "meta": ds.meta})
    return metrics


def check_params(params: Any, sizes: list[int], path: Path) -> None:
    """Float parameters shaped like the network of `sizes` (w [out, in] and b [out] per
    layer, finite floats), or QnnError naming the file."""
    n_layers = len(sizes) - 1
    if not isinstance(params, list) or len(params) != n_layers:
        raise QnnError(f"{path}: holds {len(params) if isinstance(params, list) else 0} "
                       f"layers, the model has {n_layers}; train again (t, pane 2).")
    for k, layer in enumerate(params):
        for name, shape in (("w", (sizes[k + 1], sizes[k])), ("b", (sizes[k + 1],))):
            a = np.asarray(layer.get(name)) if isinstance(layer, dict) else np.asarray(None)
            if a.shape != shape or a.dtype.kind != "f" or not np.all(np.isfinite(a)):
                raise QnnError(f"{path}: layer {k} {name} is {a.dtype} {list(a.shape)}, not "
                               f"finite floats {list(shape)}; train again (t, pane 2).")


def result_from_run(run: Path) -> Any:
    """Rebuild the TrainResult of a saved run folder (to fine-tune after a reopen); any
    damaged file of the folder is a QnnError that names it."""
    from qnn.pipeline import load_result
    from qnn.run import FLOAT_PARAMS, HISTORY, PARAMS
    from qnn_tui.session import check_history, read_json

    _, why = read_json(Path(run) / HISTORY, check_history)
    if why and why != "missing":
        raise QnnError(f"{Path(run) / HISTORY}: {why}; train again (t, pane 2).")
    for name in (PARAMS, FLOAT_PARAMS):
        path = Path(run) / name
        try:
            with np.load(path, allow_pickle=False) as z:
                [z[k] for k in z.files]
        except FileNotFoundError:
            raise QnnError(f"{path}: missing; train again (t, pane 2).") from None
        except Exception as e:  # noqa: BLE001 - truncated, empty, pickled, not a zip...
            raise QnnError(f"{path}: not a readable .npz ({type(e).__name__}); train again "
                           "(t, pane 2).") from None
    try:
        result = load_result(run)
    except QnnError:
        raise
    except Exception as e:  # noqa: BLE001 - any other damage: one line, not a traceback
        raise QnnError(f"{run}: a file of the run folder is malformed ({type(e).__name__}: "
                       f"{e}); train again (t, pane 2).") from None
    sizes = list(result.spec.sizes)
    check_params(result.params, sizes, Path(run) / PARAMS)
    check_params(result.float_params, sizes, Path(run) / FLOAT_PARAMS)
    return result


FAILED_BUILD = "build.failed"  # beside build/: the last failed attempt, for its build.log


def _moved(obj: Any, old: str, new: str) -> Any:
    """`obj` with every string path under folder `old` moved to `new`."""
    if isinstance(obj, str):
        return obj.replace(old, new)
    if isinstance(obj, dict):
        return {k: _moved(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_moved(v, old, new) for v in obj]
    return obj


def build_and_verify(run: Path, out: Path, variant: str, n_random: int = 300,
                     lang: str = "c") -> dict[str, Any]:
    """Export, build, size report, integer-only check, then the emulated M0 against the
    numpy reference (and its cycles again with a 32-cycle multiplier, for an M0 built with
    the small one). A missing toolchain or a compiler error arrives as QnnError.

    All of it happens in a temporary folder that replaces `out` only when everything
    passed: a failed build leaves the previous build whole (never new C beside an old
    ELF); the failed attempt is kept in build.failed/ for its log."""
    from firmware.make import build
    from m0.verify import verify

    out = Path(out)
    failed = out.with_name(FAILED_BUILD)
    with atomic_dir(out) as tmp:
        try:
            b = build(run, tmp, variant, lang=lang)
            v = verify(run, None, n_random, variant=variant, out=tmp, lang=lang)
            slow = verify(run, None, n_random, variant=variant, out=tmp, lang=lang,
                          slow_multiply=True)
            v["cycles_slow_multiply"] = slow["cycles"]
            summary = _moved({"build": b, "verify": v}, str(tmp), str(out))
            atomic_write_json(tmp / SUMMARY, summary)
        except BaseException as e:
            shutil.rmtree(failed, ignore_errors=True)
            shutil.copytree(tmp, failed)
            if isinstance(e, QnnError):
                raise QnnError(f"{_moved(str(e), str(tmp), str(failed))} Nothing in "
                               f"{out.name}/ changed; the attempt is in {failed.name}/.") from None
            raise
    shutil.rmtree(failed, ignore_errors=True)
    return summary
