"""Sweep bit widths (and layer sizes): train each configuration, measure it on the Cortex-M0,
keep the Pareto front, and name the most accurate configuration within a budget.

Configurations of the same layer sizes train together (qnn.grid: one jitted, vmapped
computation). Every point is measured on rows held out from training and validation alike:
MSE in output units, inference flash of the generated code built with arm-none-eabi-gcc,
cycles and stack on the emulated M0, bit for bit against the numpy reference
(explore.measure). `sweep(...)` is a generator: progress, then a SweepResult; it checks
`stop()` between configurations and epochs, so a CLI or the workbench's worker can drive it.

    OUT/sweep.json   every point (hidden, w_bits, a_bits, mse, flash_bytes, cycles, us at
                     the clock, stack_bytes, pareto), written atomically
    OUT/best/        with a budget: the most accurate configuration within it, a run folder
                     ready for `qnn export` (qnn.run.save_run)
    OUT/points/NN-…/ with save_points: every point's run folder (its "run" in sweep.json),
                     so any point can be exported or adopted later without retraining
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from common.errors import QnnError
from common.fileio import atomic_write_json
from explore.measure import measure
from explore.pareto import Point, best_within, mark_pareto

SWEEP_JSON = "sweep.json"
BEST = "best"
POINTS = "points"
TEST_FRACTION = 0.1  # rows held out from training and validation, for the measured MSE


@dataclass
class SweepProgress:
    stage: str  # "train" or "measure"
    done: int  # configurations finished (trained and measured)
    total: int
    detail: str
    elapsed: float
    point: Point | None = None  # stage "measure": the point just measured
    result: Any = None  # ... and its qnn.train.TrainResult


@dataclass
class SweepResult:
    points: list[Point]
    front: list[Point]
    best: Point | None
    out: Path
    seconds: float
    train_seconds: float
    stopped: bool = False
    results: dict[str, Any] = field(default_factory=dict)  # label -> TrainResult


def grid(base: Any, hidden: Sequence[tuple[int, ...]], w_bits: Sequence[int],
         a_bits: Sequence[int]) -> list[Any]:
    """Uniform-width configurations: every hidden size x weight bits x activation bits."""
    return [replace(base, hidden=tuple(h), w_bits=w, a_bits=a)
            for h, w, a in itertools.product(hidden, w_bits, a_bits)]


def point_of(result: Any, m: dict[str, Any]) -> Point:
    s = result.spec
    return Point(tuple(s.sizes[1:-1]), tuple(s.w_bits), tuple(s.a_bits), m["mse"],
                 m["flash_bytes"], m["cycles"], m["stack_bytes"],
                 extra={"mse_per_output": m["mse_per_output"], "cycles_mean": m["cycles_mean"],
                        "best_epoch": result.best_epoch})


def point_json(p: Point, clock_mhz: float | None = None) -> dict[str, Any]:
    """A point as sweep.json keeps it; with a clock, also its worst-case µs per inference."""
    us = {"us": p.cycles / clock_mhz} if clock_mhz else {}
    return {"label": p.label, "hidden": list(p.hidden), "w_bits": list(p.w_bits),
            "a_bits": list(p.a_bits), "mse": p.mse, "flash_bytes": p.flash_bytes,
            "cycles": p.cycles, **us, "stack_bytes": p.stack_bytes, "pareto": p.pareto,
            **p.extra}


def run_name(k: int, p: Point) -> str:
    """The folder of the k-th point under OUT/points/.

    >>> run_name(3, Point((16, 16), (8, 4, 8), (8, 6), 1.0, 990, 3800, 68))
    '03-h16-16-w8-4-8-a8-6'
    """
    def dashed(v: tuple[int, ...]) -> str:
        return "-".join(map(str, v))

    return f"{k:02d}-h{dashed(p.hidden)}-w{dashed(p.w_bits)}-a{dashed(p.a_bits)}"


def split_three(ds: Any, cfg: Any) -> tuple[Any, Any, Any]:
    """(train, val, test): test is held out from everything training sees."""
    from sim.dataset import split

    rest, test = split(ds, TEST_FRACTION, seed=cfg.seed + 1)  # see save_point's holdout
    train_ds, val_ds = split(rest, cfg.val_fraction, seed=cfg.seed)
    if train_ds.n < 2 or val_ds.n < 1 or test.n < 2:
        raise QnnError(f"the dataset has {ds.n} rows: too few to sweep; generate more.")
    return train_ds, val_ds, test


def train_and_measure(ds: Any, cfgs: list[Any], variant: str, stop: Callable[[], bool],
                      t0: float, done: int, total: int, workdir: Path | None = None
                      ) -> Iterator[SweepProgress | tuple[list[tuple[Any, Point]], float]]:
    """Train `cfgs` (grouped by layer sizes, each group in one vmapped computation) and
    measure each; yields progress, then ([(TrainResult, Point)], training wall seconds)."""
    from qnn.grid import train_grid
    from qnn.pipeline import dataset_names

    train_ds, val_ds, test = split_three(ds, cfgs[0])
    groups: dict[tuple[int, ...], list[Any]] = {}
    for c in cfgs:
        groups.setdefault(tuple(c.hidden), []).append(c)
    out: list[tuple[Any, Point]] = []
    t_train = 0.0
    for hidden, group in groups.items():
        if stop():
            break
        results, t_group = None, time.perf_counter()
        for ev in train_grid(train_ds.x, train_ds.y, val_ds.x, val_ds.y, group,
                             names=dataset_names(ds), stop=stop):
            if isinstance(ev, list):
                results = ev
            else:
                yield SweepProgress("train", done, total, f"{','.join(map(str, hidden))}: "
                                    f"epoch {ev.epoch}/{ev.epochs} {ev.phase}",
                                    time.perf_counter() - t0)
        assert results is not None
        t_train += time.perf_counter() - t_group
        for r in results:
            if stop():
                break
            m = measure(r.int_model, test.x, test.y, variant, workdir=workdir)
            p = point_of(r, m)
            p.extra["val_fraction_split"] = {"train": train_ds.n, "val": val_ds.n,
                                             "test": test.n}
            out.append((r, p))
            done += 1
            yield SweepProgress("measure", done, total, p.label, time.perf_counter() - t0,
                                p, r)
    yield out, t_train


CLOCK_RANGE = (1.0, 1000.0)  # MHz, as qnn.project


def check_budget(max_flash: int | None, max_cycles: int | None, max_us: float | None = None,
                 clock_mhz: float = 48.0) -> None:
    for name, v in (("--max-flash", max_flash), ("--max-cycles", max_cycles),
                    ("--max-us", max_us)):
        if v is not None and not v > 0:  # not >: NaN is refused too
            raise QnnError(f"{name} {v:g}: a budget must be a positive number.")
    if not CLOCK_RANGE[0] <= clock_mhz <= CLOCK_RANGE[1]:
        raise QnnError(f"--clock-mhz {clock_mhz:g}: outside {CLOCK_RANGE[0]:g}.."
                       f"{CLOCK_RANGE[1]:g}; give the core clock in MHz, e.g. 48.")


def sweep(ds: Any, cfgs: list[Any], out: str | Path, *, variant: str = "loop",
          max_flash: int | None = None, max_cycles: int | None = None,
          max_us: float | None = None, clock_mhz: float = 48.0,
          per_layer: bool = False, stop: Callable[[], bool] = lambda: False,
          data_info: dict[str, Any] | None = None, save_points: bool = False
          ) -> Iterator[SweepProgress | SweepResult]:
    """Train and measure `cfgs` (or, with per_layer, search per-layer widths from cfgs[0]'s
    sizes and the widths in cfgs, see explore.perlayer); write OUT/sweep.json and, with a
    budget (flash bytes, cycles, µs at `clock_mhz`), OUT/best/; with save_points, each
    point's run folder in OUT/points/ as it is measured."""
    from codegen.cgen import VARIANTS

    if variant not in VARIANTS:
        raise QnnError(f"variant {variant!r}: choose one of {', '.join(VARIANTS)}.")
    check_budget(max_flash, max_cycles, max_us, clock_mhz)
    if not cfgs:
        raise QnnError("the grid is empty; give at least one size and bit width.")
    for c in cfgs:
        c.validate()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise QnnError(f"{out}: exists and is not a folder; choose another --out.")
    split_three(ds, cfgs[0])  # too few rows: say so before any training
    t0 = time.perf_counter()
    pairs: list[tuple[Any, Point]] = []
    t_train = 0.0
    if per_layer:
        from explore.perlayer import search

        gen = search(ds, cfgs, variant, stop, t0)
    else:
        gen = train_and_measure(ds, cfgs, variant, stop, t0, 0, len(cfgs))
    n_saved = 0
    for ev in gen:
        if isinstance(ev, tuple):
            pairs, t_train = ev
        else:
            if save_points and ev.point is not None:
                name = run_name(n_saved, ev.point)
                save_point(ds, ev.result, ev.point, out / POINTS / name, data_info)
                ev.point.extra["run"] = f"{POINTS}/{name}"
                n_saved += 1
            yield ev
    points = [p for _, p in pairs]
    front = mark_pareto(points)
    budget = any(v is not None for v in (max_flash, max_cycles, max_us))
    best = best_within(points, max_flash, max_cycles, max_us, clock_mhz) if budget else None
    by_label = {p.label: r for r, p in pairs}
    doc = {"variant": variant, "clock_mhz": clock_mhz,
           "budget": {"max_flash": max_flash, "max_cycles": max_cycles, "max_us": max_us},
           "best": best.label if best else None, "stopped": stop(),
           "seconds": time.perf_counter() - t0, "train_seconds": t_train,
           "data": data_info or {}, "points": [point_json(p, clock_mhz) for p in points]}
    if per_layer:
        from explore.perlayer import compare_uniform

        doc["per_layer_vs_uniform"] = compare_uniform(points)
    atomic_write_json(out / SWEEP_JSON, doc)
    if best is not None:
        save_point(ds, by_label[best.label], best, out / BEST, data_info)
    yield SweepResult(points, front, best, out, time.perf_counter() - t0, t_train, stop(),
                      by_label)


def save_point(ds: Any, r: Any, p: Point, run: Path, data_info: dict[str, Any] | None) -> None:
    """The point's run folder (qnn.run.save_run), its validation metrics and the point."""
    from qnn.pipeline import metrics_of
    from qnn.run import save_run

    _, val_ds, _ = split_three(ds, r.config)
    metrics = {**metrics_of(r, val_ds), "best_epoch": int(r.best_epoch), "split": "validation",
               "val_rows": int(val_ds.n), "kind": "sweep", "sweep_point": point_json(p)}
    # The split is part of the run: `qnn eval --split val` and the workbench redo it from here.
    holdout = {"fraction": TEST_FRACTION, "seed": r.config.seed + 1}
    save_run(run, r, metrics, {**(data_info or {}), "holdout": holdout})
