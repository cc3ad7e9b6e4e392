"""Training throughput and time-to-quality for the default 6-16-16-6 network on CPU.

Prints samples/s of each phase (the float phase is the baseline the quantized phases are
compared with, in the same run) and the wall time until the integer-exact validation loss
first comes within 1.25x of the float network's.

    .venv/bin/python bench/bench_train.py [--n 50000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from qnn.config import TrainConfig
from qnn.train import Progress, TrainResult, train
from sim.dataset import generate, split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=50_000)
    args = ap.parse_args()
    ds = generate("magnet6", n=args.n, seed=1)
    tr, va = split(ds, 0.1, seed=0)
    cfg = TrainConfig()
    t0 = time.perf_counter()
    speeds: dict[str, list[float]] = {}
    reached = None
    float_loss = None
    for ev in train(tr.x, tr.y, va.x, va.y, cfg):
        if isinstance(ev, Progress):
            speeds.setdefault(ev.phase, []).append(ev.samples_per_s)
            if ev.phase == "float":
                float_loss = ev.val_float
            elif reached is None and ev.val_int is not None and ev.val_int <= 1.25 * float_loss:
                reached = (time.perf_counter() - t0, ev.epoch, ev.val_int)
        elif isinstance(ev, TrainResult):
            result = ev
    total = time.perf_counter() - t0
    base = float(np.median(speeds["float"][1:]))
    print(f"magnet6, 6-16-16-6, {cfg.w_bits}-bit weights/{cfg.a_bits}-bit activations, "
          f"{tr.n} training samples, batch {cfg.batch_size}")
    for phase, v in speeds.items():
        med = float(np.median(v[1:] if len(v) > 1 else v))
        print(f"  {phase:5s} phase: {med:12,.0f} samples/s  ({med / base:.2f}x the float phase)")
    print(f"  whole run ({len(result.history)} epochs, compiles included): {total:.1f} s")
    if reached:
        print(f"  integer val loss <= 1.25x float ({float_loss:.4f}) after {reached[0]:.1f} s "
              f"(epoch {reached[1]}, {reached[2]:.4f})")
    best = result.history[result.best_epoch - 1]
    print(f"  kept epoch {result.best_epoch}: float {float_loss:.4f}, integer {best.val_int:.4f} "
          f"({best.val_int / float_loss:.3f}x)")


if __name__ == "__main__":
    main()
