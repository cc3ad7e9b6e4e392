"""Bit-width sweep on magnet6: a 16-point grid of 6-16-16-6 trained side by side (qnn.grid)
against one default `qnn train`, then each point measured on the emulated M0, the Pareto
front and the best model under 1,000 B of inference flash.

    .venv/bin/python bench/bench_sweep.py [--n 20000] [--variant loop] [--per-layer]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import deque
from pathlib import Path

from explore.sweep import SweepResult, grid, split_three, sweep
from qnn.config import TrainConfig
from qnn.grid import train_grid
from qnn.train import TrainResult, train
from sim.dataset import generate

W_BITS = (8, 4, 3, 2)
A_BITS = (8, 6, 4, 3)


def timed(gen) -> tuple[object, float]:
    t0 = time.perf_counter()
    last = deque(gen, maxlen=1)  # run the generator to its end, keep its final event
    return last[0], time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--variant", default="loop")
    ap.add_argument("--per-layer", action="store_true")
    args = ap.parse_args()
    ds = generate("magnet6", n=args.n, seed=0)
    base = TrainConfig()  # the defaults of `qnn train`
    cfgs = grid(base, [(16, 16)], W_BITS, A_BITS)
    tr, va, _ = split_three(ds, base)
    # Warm-up: both compiles (single and vmapped) land in the persistent cache, as they would
    # on a second run of either command; the timed runs below then compare training alone.
    warm = TrainConfig(epochs_float=1, epochs_qat=1, epochs_int=1)
    timed(train(tr.x, tr.y, va.x, va.y, warm))  # same shapes as the timed runs
    timed(train_grid(tr.x, tr.y, va.x, va.y, grid(warm, [(16, 16)], W_BITS, A_BITS)))
    single, t_single = timed(train(tr.x, tr.y, va.x, va.y, base))
    assert isinstance(single, TrainResult)
    results, t_grid = timed(train_grid(tr.x, tr.y, va.x, va.y, cfgs))
    print(f"magnet6, {ds.n} samples ({tr.n} train), 6-16-16-6, epochs "
          f"{base.epochs_float},{base.epochs_qat},{base.epochs_int}:")
    print(f"  one default qnn train (w8 a8):      {t_single:6.1f} s")
    print(f"  {len(cfgs)}-point bit-width grid, vmapped: {t_grid:6.1f} s = "
          f"{t_grid / t_single:.2f}x one run ({t_grid / len(cfgs):.2f} s per configuration)")
    with tempfile.TemporaryDirectory() as tmp:
        res = None
        for ev in sweep(ds, cfgs, Path(tmp), variant=args.variant, max_flash=1000):
            if isinstance(ev, SweepResult):
                res = ev
        assert res is not None
        print(f"  sweep end to end (train + measure {len(cfgs)} on the M0): "
              f"{res.seconds:.1f} s")
        print(f"Pareto front ({args.variant} variant; MSE in output units on held-out rows):")
        print(f"  {'configuration':24s} {'MSE':>10s} {'flash B':>8s} {'cycles':>7s}")
        for p in sorted(res.points, key=lambda p: p.flash_bytes):
            mark = "*" if p.pareto else " "
            print(f"{mark} {p.label:24s} {p.mse:10.4g} {p.flash_bytes:8d} {p.cycles:7d}")
        b = res.best
        print("best under 1,000 B: " + (f"{b.label}  MSE {b.mse:.4g}, {b.flash_bytes} B, "
                                         f"{b.cycles} cycles" if b else "none fits"))
        if args.per_layer:
            pl = None
            for ev in sweep(ds, cfgs, Path(tmp) / "pl", variant=args.variant, per_layer=True,
                            max_flash=b.flash_bytes if b else 1000):
                if isinstance(ev, SweepResult):
                    pl = ev
            if pl and pl.best:
                print(f"per-layer search, best at <= {b.flash_bytes if b else 1000} B: "
                      f"{pl.best.label}  MSE {pl.best.mse:.4g}, {pl.best.flash_bytes} B "
                      f"({pl.seconds:.0f} s)")


if __name__ == "__main__":
    main()
