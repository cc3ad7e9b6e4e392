"""Samples per second of `sim.dataset.generate`, against a naive per-sample loop.

    .venv/bin/python bench/bench_sim.py [N]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from sim.dataset import generate
from sim.models import get_model


def best_time(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def naive_rate(name: str, n: int) -> float:
    """The same model, one pose at a time (what a straightforward loop would do)."""
    model = get_model(name)
    params = model.resolve_params()
    rng = np.random.default_rng(0)
    poses = model.sample_poses(n, rng)

    def loop() -> None:
        for pose in poses:
            model.forward(pose[None, :], params, rng)

    return n / best_time(loop, repeats=1)


def main(n: int = 1_000_000) -> None:
    for name in ("magnet6", "arm2"):
        rate = n / best_time(lambda name=name: generate(name, n=n, seed=1))
        base = naive_rate(name, 2000)
        print(f"{name:8s} {rate / 1e6:6.2f} M samples/s (n={n}); per-sample loop "
              f"{base / 1e3:6.1f} k samples/s; speed-up x{rate / base:.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
