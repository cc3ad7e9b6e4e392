"""The Explore pane's work, as plain functions over the headless core (no Textual here).

A sweep of the project's settings (qnn.sweepconf) is explore.sweep.sweep with every point's
run folder kept, written into a temporary folder that replaces DIR/sweep/ whole when it ends
(also when it was cancelled after some points were measured; a sweep cancelled before any
point leaves the last one as it was). Reading it back checks every field it uses; picking a
point copies its run folder into DIR/run/, the project's model, without retraining.
Importing this module imports neither JAX nor the emulator.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from common.errors import QnnError
from common.fileio import atomic_dir
from qnn.project import Project
from qnn.sweepconf import sweep_settings

SWEEP_JSON = "sweep.json"  # explore.sweep.SWEEP_JSON (not imported: it loads the emulator)
POINT_KEYS = {"label": str, "mse": (int, float), "flash_bytes": int, "cycles": int,
              "stack_bytes": int, "pareto": bool}


class _NothingMeasured(Exception):
    """Raised inside the temporary folder's `with` so that it is thrown away."""


def configs(project: Project, n_rows: int) -> tuple[list[Any], bool, str | None]:
    """(the configurations to train, per-layer?, a note on the batch size or None)."""
    from explore.sweep import grid
    from qnn_tui.core import clamp_batch

    st = sweep_settings(project.sweep, project.hidden)
    base = project.train_config()
    note = clamp_batch(base, n_rows)
    hidden = [tuple(h) for h in st.hidden]
    per_layer = st.search == "per-layer"
    if per_layer:
        hidden = hidden[:1]
    cfgs = grid(base, hidden, sorted(st.w_bits, reverse=True), sorted(st.a_bits, reverse=True))
    for c in cfgs:
        c.validate()
    return cfgs, per_layer, note


def run_sweep(project: Project, ds: Any, dataset_path: Path, sweep_dir: Path,
              stop: Callable[[], bool]) -> Iterator[Any]:
    """Yields explore.sweep.SweepProgress events, then the sweep.json written (a dict), or
    None when it was stopped before any point was measured (the last sweep is kept)."""
    from explore.sweep import SweepResult, sweep

    cfgs, per_layer, _ = configs(project, ds.n)
    data_info = {"path": str(dataset_path), "n": ds.n, "meta": ds.meta}
    try:
        with atomic_dir(sweep_dir) as tmp:
            result = None
            for ev in sweep(ds, cfgs, tmp, variant=project.variant,
                            clock_mhz=project.clock_mhz, per_layer=per_layer, stop=stop,
                            data_info=data_info, save_points=True):
                if isinstance(ev, SweepResult):
                    result = ev
                else:
                    yield ev
            if result is None or not result.points:
                raise _NothingMeasured
    except _NothingMeasured:
        yield None
        return
    doc, why = load_sweep(sweep_dir)
    if doc is None:
        raise QnnError(f"{sweep_dir / SWEEP_JSON}: {why} right after writing it; report this.")
    yield doc


def check_sweep(doc: Any) -> str | None:
    """Why `doc` (a sweep.json) is unusable, or None."""
    if not isinstance(doc, dict) or not isinstance(doc.get("points"), list):
        return "not an object with a list of points"
    for p in doc["points"]:
        if not isinstance(p, dict):
            return "a point is not an object"
        for key, kind in POINT_KEYS.items():
            v = p.get(key)
            if not isinstance(v, kind) or (kind is not bool and isinstance(v, bool)):
                return f"a point has no {key!r}"
        for key in ("hidden", "w_bits", "a_bits"):
            v = p.get(key)
            if not (isinstance(v, list) and all(isinstance(b, int) for b in v)):
                return f"a point's {key!r} is not a list of whole numbers"
        if "run" in p and not isinstance(p["run"], str):
            return "a point's 'run' is not a folder name"
    return None


def load_sweep(sweep_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(sweep.json, None), or (None, why it is unusable); (None, "missing") without one."""
    from qnn_tui.session import read_json

    return read_json(Path(sweep_dir) / SWEEP_JSON, check_sweep)


def points_of(doc: dict[str, Any] | None) -> list[Any]:
    """The points of a checked sweep.json as explore.pareto.Points (its "run" in extra)."""
    from explore.pareto import Point

    out = []
    for p in (doc or {}).get("points", []):
        extra = {"run": p["run"]} if "run" in p else {}
        out.append(Point(tuple(p["hidden"]), tuple(p["w_bits"]), tuple(p["a_bits"]),
                         float(p["mse"]), p["flash_bytes"], p["cycles"], p["stack_bytes"],
                         p["pareto"], extra))
    return out


def point_run(sweep_dir: Path, point: Any) -> Path:
    """The run folder of a point, which must lie inside the sweep folder."""
    name = point.extra.get("run")
    if not name:
        raise QnnError(f"{point.label}: the sweep kept no run folder for it (made by `qnn "
                       "sweep`?); sweep again in this pane (s).")
    run = (Path(sweep_dir) / name).resolve()
    if not run.is_relative_to(Path(sweep_dir).resolve()):
        raise QnnError(f"{point.label}: its run folder {name!r} lies outside {sweep_dir}; "
                       "sweep again (s).")
    return run


def adopt(sweep_dir: Path, point: Any, project: Project, run_dir: Path) -> Any:
    """Make `point` the project's model: its run folder copied whole into `run_dir` (or
    nothing changes), the project's sizes and bit widths set to the model's. Returns the
    integer model."""
    from qnn.run import load_int_model

    src = point_run(sweep_dir, point)
    model = load_int_model(src)  # a damaged folder: a QnnError that names it
    sizes = [int(n) for n in model.sizes[1:-1]]
    if sizes != list(point.hidden):
        raise QnnError(f"{src}: holds a {'-'.join(map(str, model.sizes))} model, not "
                       f"{point.label}; sweep again (s).")
    with atomic_dir(run_dir) as tmp:
        shutil.copytree(src, tmp, dirs_exist_ok=True)
    project.hidden = sizes
    project.w_bits = [int(layer.w_bits) for layer in model.layers]
    project.a_bits = [int(layer.a_bits) for layer in model.layers[:-1]]
    return model
