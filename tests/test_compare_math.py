"""The TensorFlow comparison's own arithmetic (bench/compare_math.py), without TensorFlow:
standardisation with training-set statistics, MSE in the outputs' units, the float-to-counts
map of the real-world dataset."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from compare_math import (  # noqa: E402
    destandardize,
    mse_units,
    standardize,
    standardizer,
    to_counts,
)


def test_standardisation_uses_the_training_set_and_round_trips():
    rng = np.random.default_rng(0)
    train = rng.normal([10.0, -3.0, 500.0], [2.0, 0.5, 40.0], size=(2000, 3))
    test = rng.normal([10.0, -3.0, 500.0], [2.0, 0.5, 40.0], size=(300, 3))
    mean, std = standardizer(train)
    np.testing.assert_allclose(mean, train.mean(axis=0))
    np.testing.assert_allclose(std, train.std(axis=0))
    z = standardize(train, mean, std)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-5)
    # the test set is scaled with the training statistics, not its own
    np.testing.assert_allclose(standardize(test, mean, std), (test - mean) / std, rtol=1e-5)
    np.testing.assert_allclose(destandardize(standardize(test, mean, std), mean, std), test,
                               rtol=1e-5)


def test_a_constant_column_does_not_divide_by_zero():
    mean, std = standardizer(np.array([[1.0, 5.0], [3.0, 5.0]]))
    assert std.tolist() == [1.0, 1.0] and mean.tolist() == [2.0, 5.0]


def test_mse_in_units_is_the_mean_over_outputs_of_each_outputs_mse():
    y = np.array([[0.0, 10.0], [0.0, 10.0], [0.0, 10.0], [0.0, 10.0]])
    pred = y + np.array([[1.0, 3.0], [-1.0, -3.0], [1.0, 0.0], [-1.0, 0.0]])
    # output 0: errors of 1 -> MSE 1 (mm^2, say); output 1: 9, 9, 0, 0 -> MSE 4.5 (deg^2)
    assert mse_units(pred, y) == pytest.approx((1.0 + 4.5) / 2)
    # one output as a flat vector (the diabetes target) works the same
    assert mse_units(pred[:, 1], y[:, 1]) == pytest.approx(4.5)


def test_float_features_map_linearly_onto_the_whole_uint16_range():
    x = np.array([[19.0, 1.0, 0.5], [79.0, 2.0, 0.5], [49.0, 1.0, 0.5]])
    counts = to_counts(x)
    assert counts.dtype == np.uint16
    assert counts[:, 0].tolist() == [0, 65535, 32768]  # (49 - 19) / 60 * 65535 = 32767.5
    assert counts[:, 1].tolist() == [0, 65535, 0]
    assert counts[:, 2].tolist() == [0, 0, 0]  # constant: no division by zero
