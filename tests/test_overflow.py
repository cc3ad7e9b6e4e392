"""The overflow proof's parts, on hand-computed small models: every bound below was worked out
on paper from the docstring of qnn/overflow.py (the edge of int32 itself is in test_golden)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import small_int_model

from common.errors import QnnError
from qnn.intmodel import INT32_MAX, INT32_MIN
from qnn.overflow import (
    LayerRange,
    StageBound,
    analyze,
    check_export,
    dot_range,
    fits_int32,
    layer_ranges,
    requant_range,
)


def test_dot_range_with_scalar_bounds_starts_at_zero():
    # 3a0 - 2a1 for a in [0, 10]: from 3*0 - 2*10 to 3*10 - 2*0
    assert dot_range([3, -2], 0, 10) == (-20, 30)


def test_dot_range_with_bounds_per_input():
    # 7 + 2a0 - 3a1 + 0a2, a0 in [-1, 4], a1 in [0, 6], a2 in [-5, 5]:
    # low 7 - 2 - 18 + 0 = -13, high 7 + 8 - 0 + 0 = 15
    assert dot_range([2, -3, 0], [-1, 0, -5], [4, 6, 5], start=7) == (-13, 15)
    # numpy arrays (what codegen passes) give the same
    assert dot_range(np.array([2, -3, 0]), np.array([-1, 0, -5]), np.array([4, 6, 5]),
                     start=np.int64(7)) == (-13, 15)


@pytest.mark.parametrize("weights, lo, hi, start, expected, why", [
    ([1], 10, 20, -100, (-100, -80), "every sum is above the start: widened down to it"),
    ([1], -20, -10, 100, (80, 100), "every sum is below the start: widened up to it"),
    ([], 0, 5, 42, (42, 42), "no terms: the start alone"),
])
def test_dot_range_includes_the_start(weights, lo, hi, start, expected, why):
    """The accumulator starts at the bias: an empty partial sum is a value the C holds."""
    assert dot_range(weights, lo, hi, start) == expected, why


@pytest.mark.parametrize("weights, lo, hi", [
    ([1, 2], [0, 0, 0], [1, 1, 1]),  # more bounds than weights
    ([1, 2, 3], [0, 0], 5),  # fewer lower bounds than weights
    ([1, 2, 3], 0, [5, 5]),  # fewer upper bounds
])
def test_dot_range_refuses_bounds_that_do_not_match_the_weights(weights, lo, hi):
    """Pairing the shorter list would silently leave terms out of the bound."""
    with pytest.raises(ValueError):
        dot_range(weights, lo, hi)


@pytest.mark.parametrize("lo, hi, m, n, expected, why", [
    (-10, 10, 3, 4, (-22, 38), "acc * 3 + 8"),
    (-10, 10, 3, 0, (-30, 30), "shift 0: no rounding term"),
    (-10, 10, 0, 2, (2, 2), "M = 0: the rounding term alone"),
    (5, 9, 7, 1, (36, 64), "a positive range stays ordered: 5*7+1, 9*7+1"),
])
def test_requant_range(lo, hi, m, n, expected, why):
    assert requant_range(lo, hi, m, n) == expected, why


@pytest.mark.parametrize("lo, hi, ok", [
    (INT32_MIN, INT32_MAX, True),
    (INT32_MIN - 1, 0, False),
    (0, INT32_MAX + 1, False),
    (INT32_MIN - 1, INT32_MAX + 1, False),
])
def test_fits_int32_at_both_ends(lo, hi, ok):
    assert fits_int32(lo, hi) is ok


def test_layer_ranges_of_a_hand_computedsmall_int_model():
    assert layer_ranges(small_int_model()) == [
        LayerRange(-8, 7, [-100, -50, -100, -50], [50, 100, 50, 100]),
        # 5 + [0, 15] - 2 [0, 15] + 3 [0, 15]: low 5 - 30, high 5 + 15 + 45
        LayerRange(0, 15, [-25], [65]),
    ]


def test_analyze_a_hand_computedsmall_int_model():
    report = analyze(small_int_model())
    assert report.stages == [
        # d = x - zp: [-100, 65435] and [-60000, 5535]; products d*3 + 2 and d*2
        StageBound("input map", [196307, 120000], -60000, 65435, -120000, 196307),
        # products per channel: [-99, 51], [0, 0], [-300, 150], [-150, 300]
        StageBound("layer 1", [100, 100, 300, 300], -100, 100, -300, 300),
        # [-25, 65] * 2 + 4 = [-46, 134]
        StageBound("output layer", [134], -25, 65, -46, 134),
    ]
    assert report.ok and report.first_failure() is None
    assert [s.worst for s in report.stages] == [196307, 300, 134]
    assert report.stages[0].headroom_bits == pytest.approx(31 - np.log2(196307))
    assert check_export(small_int_model()).stages == report.stages


def test_the_refusal_says_where_and_what_to_do():
    model = small_int_model()
    model.layers[1].bias[0] = INT32_MAX  # acc up to INT32_MAX + 60, its product twice that
    with pytest.raises(QnnError) as e:
        check_export(model)
    worst = (INT32_MAX + 60) * 2 + 4
    assert str(e.value) == (
        f"refusing to export: output layer, channel 0: worst case {worst:,} exceeds "
        f"int32 ({INT32_MAX:,}); retrain with fewer weight/activation bits or a larger "
        "activation step.")


def test_an_inconsistent_model_is_refused_not_half_checked():
    """A bias or an input-map array shorter than the weights is an error, never a proof that
    left a channel out."""
    model = small_int_model()
    model.layers[0].bias = model.layers[0].bias[:3]
    with pytest.raises(ValueError):
        analyze(model)
    model = small_int_model()
    model.input_map.multiplier = model.input_map.multiplier[:1]
    with pytest.raises(ValueError):
        analyze(model)
    model = small_int_model()
    model.input_map.shift = model.input_map.shift[:1]
    with pytest.raises(ValueError):
        analyze(model)
