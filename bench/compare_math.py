"""The arithmetic of the TensorFlow comparison, numpy only, shared by bench/compare_tf.py (the
product's environment) and bench/tf_worker.py (TensorFlow's), and unit-tested without
TensorFlow (tests/test_compare_math.py)."""

from __future__ import annotations

import numpy as np

ADC_MAX = 65535


def standardizer(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and std of the training set (std 1 where a column is constant)."""
    train = np.asarray(train, np.float64)
    std = train.std(axis=0)
    return train.mean(axis=0), np.where(std > 0, std, 1.0)


def standardize(a: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return ((np.asarray(a, np.float64) - mean) / std).astype(np.float32)


def destandardize(z: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return np.asarray(z, np.float64) * std + mean


def mse_units(pred: np.ndarray, y: np.ndarray) -> float:
    """MSE in the outputs' own units: the mean over outputs of each output's MSE."""
    err = np.asarray(pred, np.float64).reshape(len(y), -1) - np.asarray(y, np.float64).reshape(
        len(y), -1)
    return float(np.mean(np.mean(err**2, axis=0)))


def to_counts(x: np.ndarray) -> np.ndarray:
    """Float features -> uint16 'ADC counts', each column mapped linearly from its observed
    [min, max] onto [0, 65535] (a constant column maps to 0)."""
    x = np.asarray(x, np.float64)
    lo, hi = x.min(axis=0), x.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return np.round((x - lo) / span * ADC_MAX).astype(np.uint16)
