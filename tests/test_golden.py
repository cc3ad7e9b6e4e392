"""Golden vectors for the numpy integer reference, computed by hand, and the overflow proof on
models built to sit exactly at, and one past, the int32 limit.

Every expected number below was worked out on paper from the specification in the docstring of
qnn/intmodel.py: round half up is floor(v / 2^n + 1/2), so +1.5 -> 2 but -1.5 -> -1."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import QnnError
from qnn.intmodel import INT32_MAX, INT32_MIN, InputMap, IntLayer, IntModel, dense_int, map_inputs
from qnn.intmodel import predict_int as reference
from qnn.overflow import analyze, check_export

# --- the input map: ((x - zp) * m + rnd(s)) >> s, clamped to [-128, 127] --------------------

IM = InputMap(zero_point=np.array([100, 100, 100]), multiplier=np.array([3, 1, 5]),
              shift=np.array([2, 0, 1]), bits=8)


@pytest.mark.parametrize("column, x, expected, why", [
    (0, 101, 1, "3/4 = 0.75 rounds to 1"),
    (0, 102, 2, "6/4 = 1.5 rounds half up to 2"),
    (0, 98, -1, "-6/4 = -1.5 rounds half up to -1, not -2"),
    (0, 99, -1, "-3/4 = -0.75 rounds to -1"),
    (0, 0, -75, "-300/4 = -75 exactly"),
    (0, 65535, 127, "49,076 clamps to 127"),
    (1, 100, 0, "shift 0: no rounding term"),
    (1, 227, 127, "127 is the top of the range"),
    (1, 228, 127, "128 clamps to 127"),
    (1, 0, -100, "-100 passes"),
    (2, 101, 3, "shift 1: 5/2 = 2.5 rounds half up to 3"),
    (2, 99, -2, "-5/2 = -2.5 rounds half up to -2"),
    (2, 74, -65, "-130/2 = -65 exactly"),
    (2, 48, -128, "-260/2 = -130 clamps to -128"),
    (2, 0, -128, "-500/2 = -250 clamps to -128"),
])
def test_input_map_golden(column, x, expected, why):
    row = np.array([[100, 100, 100]])
    row[0, column] = x
    assert map_inputs(IM, row)[0, column] == expected, why


# --- a dense layer: clamp((b + W a) * M + rnd(n)) >> n) ---------------------------------------

def _layer(W, b, M, n, lo, hi) -> IntLayer:
    W = np.array(W)
    return IntLayer(W, np.array(b), np.array(M), np.array(n), lo, hi, 8, 8)


@pytest.mark.parametrize("a, expected, why", [
    # acc = [1 + 3a0 - 2a1, -a0 + a1 - 10, a0 + a1];  M = [3, 1, 7], n = [2, 0, 1]
    ([1, 1], [2, 0, 7], "acc 2*3/4 = 1.5 -> 2; -10 -> ReLU 0; 2*7/2 = 7"),
    ([2, 0], [5, 0, 7], "acc 7*3/4 = 5.25 -> 5; -12 -> 0; 2*7/2 = 7"),
    ([0, 1], [0, 0, 4], "acc -1*3/4 = -0.75 -> -1 -> ReLU 0; -9 -> 0; 7/2 = 3.5 -> 4"),
    ([0, 30], [0, 20, 105], "acc -59 -> 0; 20 passes; 30*7/2 = 105"),
    ([0, 200], [0, 190, 255], "190 passes; 200*7/2 = 700 clamps to 255"),
])
def test_dense_golden(a, expected, why):
    layer = _layer([[3, -2], [-1, 1], [1, 1]], [1, -10, 0], [3, 1, 7], [2, 0, 1], 0, 255)
    assert dense_int(layer, np.array([a])).tolist() == [expected], why


def test_output_layer_rounds_negative_halves_up_and_clamps_int16():
    layer = _layer([[1], [-1], [100]], [0, 0, 0], [1, 1, 30000], [1, 1, 0], -32768, 32767)
    y = dense_int(layer, np.array([[3], [-3]]))
    # 3/2 = 1.5 -> 2, -3/2 = -1.5 -> -1, 300 * 30000 clamps to 32767
    # -3/2 = -1.5 -> -1, 3/2 = 1.5 -> 2, -300 * 30000 clamps to -32768
    assert y.tolist() == [[2, -1, 32767], [-1, 2, -32768]]


# --- the overflow proof at the int32 edge ----------------------------------------------------

def _edge_model(bias: int, M: int = 1, n: int = 0, w: int = 1) -> IntModel:
    """One input mapped 1:1 to [-128, 127] (x = zp + a), one output channel: acc = bias + w a."""
    im = InputMap(np.array([128]), np.array([1]), np.array([0]), 8)
    layer = IntLayer(np.array([[w]]), np.array([bias]), np.array([M]), np.array([n]),
                     -32768, 32767, 8, 16)
    return IntModel(im, [layer], ["x"], ["y"], ["mm"], [1.0])


def _reference_overflows(model: IntModel) -> bool:
    try:
        reference(model, np.array([[0], [255], [65535]]))  # a = -128, 127, 127
    except QnnError:
        return True
    return False


@pytest.mark.parametrize("bias, M, n, ok", [
    (INT32_MAX - 127, 1, 0, True),    # acc reaches INT32_MAX exactly
    (INT32_MAX - 126, 1, 0, False),   # one past: acc = 2^31
    (INT32_MIN + 128, 1, 0, True),    # acc reaches INT32_MIN exactly
    (INT32_MIN + 127, 1, 0, False),   # one past below
    (INT32_MAX - 128, 1, 1, True),    # acc * 1 + rnd(1) = INT32_MAX exactly
    (INT32_MAX - 127, 1, 1, False),   # only the rounding constant 2^(n-1) = 1 pushes it over
    ((INT32_MAX - 2**4) // 2 - 127, 2, 5, True),   # (acc * 2 + 16) just fits
    ((INT32_MAX - 2**4) // 2 - 126, 2, 5, False),  # and one more acc step does not
])
def test_overflow_proof_at_and_one_past_the_int32_limit(bias, M, n, ok):
    model = _edge_model(bias, M, n)
    assert analyze(model).ok is ok
    # the bound is reached by a = 127 or a = -128: the reference's own int32 check agrees
    assert _reference_overflows(model) is (not ok)
    if ok:
        check_export(model)
    else:
        with pytest.raises(QnnError, match="refusing to export: output layer, channel 0"):
            check_export(model)


@pytest.mark.parametrize("m, ok", [(32768, True), (32769, False)])
def test_the_input_map_product_is_proven_too(m, ok):
    """65535 * 32768 = 2,147,450,880 fits int32; 65535 * 32769 = 2,147,516,415 does not."""
    im = InputMap(np.array([0]), np.array([m]), np.array([0]), 8)
    layer = IntLayer(np.array([[1]]), np.array([0]), np.array([1]), np.array([0]),
                     -32768, 32767, 8, 16)
    model = IntModel(im, [layer], ["x"], ["y"], ["mm"], [1.0])
    assert analyze(model).ok is ok
    assert _reference_overflows(model) is (not ok)
    if not ok:
        with pytest.raises(QnnError, match="input map"):
            check_export(model)
