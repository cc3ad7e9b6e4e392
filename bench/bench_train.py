"""Time to TensorFlow's int8 accuracy for the default 6-16-16-6 network on magnet6 (20k train /
5k test, the split of bench/compare_tf.py), on CPU.

A one-cycle schedule's quality depends on its whole length, so "time to an MSE" is measured
as a user would get it: the same default recipe run with all phases' epochs scaled down,
each run timed in this process (compiles done beforehand), the integer model's test MSE in
output units compared with TensorFlow's int8 TFLite MSE on the same test set. That figure
comes from build/compare_tf/results.json when `make compare-tf` has written it, else it is
the one measured there on this machine (TF_INT8_MAGNET6, stated below). Also prints each
phase's samples/s in the full default run.

    .venv/bin/python bench/bench_train.py
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from compare_tf import train_test  # noqa: E402

from qnn.config import TrainConfig  # noqa: E402
from qnn.evaluate import evaluate  # noqa: E402
from qnn.train import Progress, TrainResult, train  # noqa: E402
from sim.dataset import split  # noqa: E402

# TensorFlow int8 TFLite test MSE on magnet6 (mean of seeds 0-2), measured by
# bench/compare_tf.py on this machine; used only when its results.json is absent.
TF_INT8_MAGNET6 = 4.118
FRACTIONS = (0.1, 0.2, 0.35, 0.5, 0.75, 1.0)


def tf_int8_mse() -> tuple[float, str]:
    path = ROOT / "build" / "compare_tf" / "results.json"
    if path.is_file():
        rows = json.loads(path.read_text())["results"].get("magnet6", {}).get("tf")
        if rows:
            return float(np.mean([r["mse_int8"] for r in rows])), str(path.relative_to(ROOT))
    return TF_INT8_MAGNET6, "TF_INT8_MAGNET6 in this script (measured by compare_tf.py)"


def scaled(cfg: TrainConfig, f: float) -> TrainConfig:
    return replace(cfg, epochs_float=max(1, round(cfg.epochs_float * f)),
                   epochs_qat=max(1, round(cfg.epochs_qat * f)),
                   epochs_int=max(1, round(cfg.epochs_int * f)))


def run(cfg: TrainConfig, tr, va, test) -> tuple[float, float, dict[str, list[float]]]:
    """Seconds of training, the integer model's test MSE (units), samples/s per phase."""
    speeds: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    for ev in train(tr.x, tr.y, va.x, va.y, cfg):
        if isinstance(ev, Progress):
            speeds.setdefault(ev.phase, []).append(ev.samples_per_s)
        elif isinstance(ev, TrainResult):
            result = ev
    seconds = time.perf_counter() - t0
    m = evaluate(result.int_model, result.float_params, result.spec, test.x, test.y)
    return seconds, m["mse_int"], speeds


def main() -> None:
    train_ds, test = train_test("magnet6")
    cfg = TrainConfig()
    tr, va = split(train_ds, cfg.val_fraction, seed=cfg.seed)
    target, source = tf_int8_mse()
    run(scaled(cfg, 0.05), tr, va, test)  # compiles (and warms the caches) first
    print(f"magnet6, 6-16-16-6, {cfg.w_bits}-bit weights / {cfg.a_bits}-bit activations, "
          f"{tr.n} training samples, batch {cfg.batch_size}; TensorFlow int8 test MSE "
          f"{target:.4g} ({source})")
    reached = None
    for f in FRACTIONS:
        c = scaled(cfg, f)
        seconds, mse, speeds = run(c, tr, va, test)
        ok = mse <= target
        epochs = f"{c.epochs_float:3d},{c.epochs_qat:2d},{c.epochs_int:2d}"
        print(f"  epochs {epochs}: {seconds:5.2f} s, integer test MSE {mse:.4g} "
              f"({mse / target:.2f}x TensorFlow int8)"
              + ("  <- reaches it" if ok and reached is None else ""))
        if ok and reached is None:
            reached = (seconds, c)
    base = float(np.median(speeds["float"][1:]))
    for phase, v in speeds.items():
        med = float(np.median(v[1:] if len(v) > 1 else v))
        print(f"  {phase:5s} phase: {med:12,.0f} samples/s  ({med / base:.2f}x the float phase)")
    if reached:
        print(f"time to TensorFlow's int8 MSE: {reached[0]:.2f} s of training (compiled), "
              f"epochs {reached[1].epochs_float},{reached[1].epochs_qat},{reached[1].epochs_int}")
    else:
        print("the default recipe does not reach TensorFlow's int8 MSE here")


if __name__ == "__main__":
    main()
