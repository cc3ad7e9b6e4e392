"""Datasets: readings x (uint16 [N, n_in]) and poses y (float32 [N, n_out]), plus names.

Files:

* `.npz` (what `save_dataset` writes): arrays `x`, `y`, `input_names`, `input_units`,
  `output_names`, `output_units` and `meta` (a JSON string). Only `x` and `y` are required
  when loading; names default to in0.. / out0.., units to "counts" / "".
* `.csv`: one header row, then one sample per row. Each column is named `x:NAME` (a reading)
  or `y:NAME` (a target), optionally with a unit in brackets: `x:hall0[counts]`,
  `y:roll[deg]`. Readings are the x columns and targets the y columns, each in file order.
  Lines starting with `#` are comments.

Loading validates everything and raises QnnError naming the problem and the fix. Readings
must be integers in [0, 65535]; float readings are accepted only when every value is integral
and in range (a CSV always parses as float).
"""

from __future__ import annotations

import io
import json
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import QnnError
from common.fileio import atomic_write_bytes
from sim.base import ADC_MAX
from sim.models import DEFAULT_MODEL, get_model

MIN_ROWS = 2  # enough to split into a training and a validation sample
FORMAT_VERSION = 1


@dataclass
class Dataset:
    x: np.ndarray  # uint16 [N, n_in], ADC counts
    y: np.ndarray  # float32 [N, n_out], poses in output_units
    input_names: list[str]
    input_units: list[str]
    output_names: list[str]
    output_units: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_in(self) -> int:
        return int(self.x.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.y.shape[1])


def generate(
    model: str = DEFAULT_MODEL,
    n: int = 100_000,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    pose_low: Any = None,
    pose_high: Any = None,
    noise: bool = True,
) -> Dataset:
    """n poses uniform in [pose_low, pose_high] and their (noisy) readings; same seed, same
    arrays. Poses and noise come from independent streams of the seed, so changing the noise
    level leaves the poses unchanged."""
    fm = get_model(model)
    if n < 1:
        raise QnnError(f"n must be at least 1, got {n}; ask for more samples.")
    params = fm.resolve_params(params)
    low, high = fm.pose_range(pose_low, pose_high)
    pose_rng, noise_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    t0 = time.perf_counter()
    pose = fm.sample_poses(n, pose_rng, low, high)
    x = fm.forward(pose, params, noise_rng if noise else None)
    meta = {
        "format_version": FORMAT_VERSION,
        "model": fm.name,
        "seed": seed,
        "n": n,
        "noise": noise,
        "params": params,
        "pose_low": low.tolist(),
        "pose_high": high.tolist(),
        "seconds": round(time.perf_counter() - t0, 4),
    }
    return Dataset(x, pose.astype(np.float32), list(fm.input_names), list(fm.input_units),
                   list(fm.output_names), list(fm.output_units), meta)


def split(ds: Dataset, val_fraction: float = 0.1, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Shuffle and cut into (train, val); val gets round(val_fraction * n) rows, at least 1."""
    if not 0.0 < val_fraction < 1.0:
        raise QnnError(f"val_fraction must be between 0 and 1, got {val_fraction}.")
    n_val = max(1, round(val_fraction * ds.n))
    if n_val >= ds.n:
        raise QnnError(f"{ds.n} rows are too few to keep {val_fraction:.0%} for validation; "
                       "use more data or a smaller val_fraction.")
    order = np.random.default_rng(seed).permutation(ds.n)
    val, train = order[:n_val], order[n_val:]
    return _subset(ds, train, "train"), _subset(ds, val, "val")


def _subset(ds: Dataset, rows: np.ndarray, part: str) -> Dataset:
    return replace(ds, x=ds.x[rows], y=ds.y[rows], meta={**ds.meta, "split": part})


# ---- files -------------------------------------------------------------------------------

def save_dataset(ds: Dataset, path: str | Path) -> Path:
    """Write `.npz` (everything) or `.csv` (names, units and data; no meta) atomically."""
    path = Path(path)
    if path.suffix == ".csv":
        atomic_write_bytes(path, _csv_bytes(ds))
        return path
    if path.suffix != ".npz":
        raise QnnError(f"{path}: unsupported extension; save datasets as .npz (or .csv).")
    buf = io.BytesIO()
    np.savez(
        buf,
        x=ds.x,
        y=ds.y,
        input_names=np.array(ds.input_names, dtype=str),
        input_units=np.array(ds.input_units, dtype=str),
        output_names=np.array(ds.output_names, dtype=str),
        output_units=np.array(ds.output_units, dtype=str),
        meta=np.array(json.dumps(ds.meta)),
    )
    atomic_write_bytes(path, buf.getvalue())
    return path


def _csv_bytes(ds: Dataset) -> bytes:
    head = [f"x:{n}[{u}]" for n, u in zip(ds.input_names, ds.input_units, strict=True)]
    head += [f"y:{n}[{u}]" for n, u in zip(ds.output_names, ds.output_units, strict=True)]
    buf = io.StringIO()
    buf.write(",".join(head) + "\n")
    fmt = ["%d"] * ds.n_in + ["%.9g"] * ds.n_out
    np.savetxt(buf, np.hstack([ds.x.astype(np.float64), ds.y.astype(np.float64)]),
               fmt=fmt, delimiter=",")
    return buf.getvalue().encode()


def load_dataset(path: str | Path, min_rows: int = MIN_ROWS) -> Dataset:
    """Read and validate a `.npz` or `.csv` dataset (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise QnnError(f"{path}: no such file; generate one with `qnn sim --out {path}`.")
    if path.suffix == ".npz":
        fields = _read_npz(path)
    elif path.suffix == ".csv":
        fields = _read_csv(path)
    else:
        raise QnnError(f"{path}: not a .npz or .csv file; convert the data to one of those.")
    return _check(path, min_rows=min_rows, **fields)


def _read_npz(path: Path) -> dict[str, Any]:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # zipfile.BadZipFile, ValueError (pickled), OSError...
        raise QnnError(f"{path}: not a readable .npz file ({type(e).__name__}); "
                       "save it with numpy.savez or `qnn sim`.") from None
    for key in ("x", "y"):
        if key not in arrays:
            raise QnnError(f"{path}: array {key!r} is missing (found {sorted(arrays)}); "
                           "store readings as x and poses as y.")
    meta: dict[str, Any] = {}
    if "meta" in arrays:
        try:
            meta = json.loads(str(arrays["meta"]))
        except json.JSONDecodeError:
            raise QnnError(f"{path}: meta is not valid JSON; rewrite or remove it.") from None
    names = {k: [str(s) for s in np.atleast_1d(arrays[k])] if k in arrays else None
             for k in ("input_names", "input_units", "output_names", "output_units")}
    return {"x": arrays["x"], "y": arrays["y"], "meta": meta, **names}


HEADER = re.compile(r"^(?P<kind>[xy]):(?P<name>[^\[\]]+?)\s*(\[(?P<unit>[^\]]*)\])?$")


def _read_csv(path: Path) -> dict[str, Any]:
    try:
        lines = [s for s in path.read_text().splitlines() if s.strip() and not s.startswith("#")]
    except (OSError, UnicodeDecodeError) as e:
        raise QnnError(f"{path}: unreadable as text ({type(e).__name__}); "
                       "save it as a UTF-8 CSV.") from None
    if not lines:
        raise QnnError(f"{path}: empty CSV; add a header row like `x:hall0,y:x[mm]` and data.")
    cols = [HEADER.match(c.strip()) for c in lines[0].split(",")]
    bad = [c for c, m in zip(lines[0].split(","), cols, strict=True) if m is None]
    if bad:
        raise QnnError(f"{path}: header column {bad[0].strip()!r} is not `x:NAME` or `y:NAME`; "
                       "name readings x:NAME and targets y:NAME[unit].")
    kinds = np.array([m["kind"] for m in cols])
    data = np.zeros((0, len(cols)))
    if len(lines) > 1:
        try:
            data = np.loadtxt(io.StringIO("\n".join(lines[1:])), delimiter=",", ndmin=2,
                              dtype=np.float64)
        except ValueError as e:
            raise QnnError(f"{path}: a row is not {len(cols)} numbers ({e}); "
                           "fix or remove that row.") from None
    if data.shape[1] != len(cols):
        raise QnnError(f"{path}: rows have {data.shape[1]} values but the header names "
                       f"{len(cols)} columns; make them agree.")
    xs, ys = [m for m in cols if m["kind"] == "x"], [m for m in cols if m["kind"] == "y"]
    if not xs or not ys:
        missing = "x" if not xs else "y"
        raise QnnError(f"{path}: no {missing}:NAME column; CSV needs readings (x:NAME) and "
                       "targets (y:NAME).")
    return {
        "x": data[:, kinds == "x"], "y": data[:, kinds == "y"], "meta": {},
        "input_names": [m["name"] for m in xs],
        "input_units": [m["unit"] if m["unit"] is not None else "counts" for m in xs],
        "output_names": [m["name"] for m in ys],
        "output_units": [m["unit"] or "" for m in ys],
    }


def _check(path: Path, x: np.ndarray, y: np.ndarray, meta: dict[str, Any], min_rows: int,
           input_names: list[str] | None = None, input_units: list[str] | None = None,
           output_names: list[str] | None = None, output_units: list[str] | None = None,
           ) -> Dataset:
    """Shapes, dtypes, ranges and names; returns the validated Dataset."""
    for key, a in (("x", x), ("y", y)):
        if a.ndim != 2:
            raise QnnError(f"{path}: {key} must be 2-D [N, columns], got shape {list(a.shape)}; "
                           "reshape it.")
    if x.shape[0] != y.shape[0]:
        raise QnnError(f"{path}: x has {x.shape[0]} rows but y has {y.shape[0]}; "
                       "give one pose per reading row.")
    if x.shape[0] == 0:
        raise QnnError(f"{path}: the dataset is empty (0 rows); generate or collect samples.")
    if x.shape[0] < min_rows:
        raise QnnError(f"{path}: only {x.shape[0]} rows, at least {min_rows} needed; "
                       "generate or collect more samples.")
    if x.shape[1] == 0 or y.shape[1] == 0:
        raise QnnError(f"{path}: x and y need at least one column each; add the missing one.")
    x = _as_counts(path, x)
    if y.dtype.kind not in "iuf":
        raise QnnError(f"{path}: y has dtype {y.dtype}; poses must be numbers.")
    y = y.astype(np.float32)
    if not np.all(np.isfinite(y)):
        raise QnnError(f"{path}: y contains NaN or inf (or values beyond float32); "
                       "remove those rows.")
    n_in, n_out = x.shape[1], y.shape[1]
    return Dataset(
        x, y,
        _names(path, "input_names", input_names, [f"in{i}" for i in range(n_in)]),
        _names(path, "input_units", input_units, ["counts"] * n_in),
        _names(path, "output_names", output_names, [f"out{i}" for i in range(n_out)]),
        _names(path, "output_units", output_units, [""] * n_out),
        meta,
    )


def _as_counts(path: Path, x: np.ndarray) -> np.ndarray:
    """Readings -> uint16, refusing anything that is not an integer in [0, 65535]."""
    if x.dtype.kind == "f":
        if not np.all(np.isfinite(x)):
            raise QnnError(f"{path}: x contains NaN or inf; readings must be integer counts "
                           "in [0, 65535].")
        if np.any(x != np.round(x)):
            raise QnnError(f"{path}: x has non-integral values; readings must be integer "
                           "ADC counts in [0, 65535] (round or rescale them).")
    elif x.dtype.kind not in "iu":
        raise QnnError(f"{path}: x has dtype {x.dtype}; readings must be integer counts "
                       "in [0, 65535].")
    if x.size and (x.min() < 0 or x.max() > ADC_MAX):
        raise QnnError(f"{path}: x has values in [{x.min():g}, {x.max():g}], outside "
                       f"[0, {ADC_MAX}]; readings must be uint16 ADC counts.")
    return x.astype(np.uint16)


def _names(path: Path, key: str, names: list[str] | None, default: list[str]) -> list[str]:
    if names is None:
        return default
    if len(names) != len(default):
        raise QnnError(f"{path}: {key} lists {len(names)} entries for {len(default)} columns; "
                       "make them agree or drop them.")
    return names
