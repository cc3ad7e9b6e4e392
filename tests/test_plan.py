"""The numbers the loop variant's C is printed from (codegen.plan, codegen.ctext), checked on
hand-computed models without a compiler: table sizes, the int32 limit of the loop's sums,
the C types chosen. test_cgen compiles and runs the C itself."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from helpers import random_int_model, small_int_model

from codegen.ctext import c_array, c_int, c_type, short_hash
from codegen.plan import (
    LoopPlan,
    _even,
    _utype,
    distances_fit,
    layers,
    loop_layers,
    loop_plan,
    loop_table_bytes,
    one_shift,
    rows_bytes,
)
from common.errors import QnnError
from qnn.intmodel import INT32_MAX, INT32_MIN, InputMap, IntLayer, IntModel


def test_layers_fold_the_input_offset_into_the_bias():
    """small_int_model's hidden layer reads a0 in [-8, 7], stored as u = a0 + 8 in [0, 15]:
    b + (-8) * sum_j W_ij = -20 - 80, 20 + 80, ...; the unrolled variant's constant is that
    times M plus rnd(n), modulo 2^32 (the C adds it in uint32)."""
    first, second = layers(small_int_model())
    assert (first.in_lo, first.in_span, first.bias) == (-8, 15, [-100, 100, -100, 100])
    assert (second.in_lo, second.in_span, second.bias) == (0, 15, [5])
    assert [first.folded_constant(i) for i in range(4)] == [2**32 - 99, 0, 2**32 - 300, 300]
    assert second.folded_constant(0) == 14  # 5 * 2 + 4
    assert (first.k, first.last, second.k, second.last) == (1, False, 2, True)


def _shift_layer(shifts, multipliers=(3, 5)) -> IntLayer:
    n = len(shifts)
    return IntLayer(np.zeros((n, 1)), np.zeros(n), np.array(multipliers), np.array(shifts),
                    0, 1, 8, 8)


@pytest.mark.parametrize("shifts, expected, why", [
    ([2, 4], [12, 5], "3 * 2^2 at shift 4: rnd(2) * 4 = rnd(4), exact"),
    ([1, 3], [12, 5], "a shift of 1 still rescales exactly: rnd(1) * 4 = rnd(3)"),
    ([0, 0], [3, 5], "all shifts 0: already one shift"),
    ([0, 2], None, "0 beside 2: rnd(0) * 4 = 0 is not rnd(2) = 2, not exact"),
])
def test_one_shift(shifts, expected, why):
    assert one_shift(_shift_layer(shifts), [-10, -10], [10, 10]) == expected, why


def test_one_shift_refuses_lists_that_do_not_match():
    with pytest.raises(ValueError):  # a multiplier short
        one_shift(_shift_layer([2, 4], multipliers=(3,)), [-10, -10], [10, 10])
    with pytest.raises(ValueError):  # a range short
        one_shift(_shift_layer([2, 4]), [-10], [10, 10])


@pytest.mark.parametrize("lo, hi, expected", [
    (0, 255, "uint8_t"), (0, 256, "uint16_t"), (-1, 255, "int16_t"),
    (-128, 127, "int8_t"), (-129, 0, "int16_t"), (-128, 128, "int16_t"),
    (0, 65535, "uint16_t"), (0, 65536, "int32_t"),
    (-32768, 32767, "int16_t"), (-32768, 0, "int16_t"), (-32769, 0, "int32_t"),
    (-1, 32768, "int32_t"), (INT32_MIN, INT32_MAX, "int32_t"),
])
def test_c_type_at_each_edge(lo, hi, expected):
    assert c_type(lo, hi) == expected


def test_c_int_and_c_type_refuse_what_does_not_fit_int32():
    assert (c_int(INT32_MAX), c_int(INT32_MIN)) == ("2147483647", "(-2147483647 - 1)")
    with pytest.raises(ValueError, match=r"^2147483648 does not fit int32$"):
        c_int(INT32_MAX + 1)
    with pytest.raises(ValueError, match=r"^-2147483649 does not fit int32$"):
        c_int(INT32_MIN - 1)
    with pytest.raises(ValueError, match=r"^\[0, 2147483648\] does not fit int32$"):
        c_type(0, INT32_MAX + 1)


def test_short_hash_is_of_the_canonical_json():
    """The banner's model hash: SHA-256 of compact JSON with sorted keys, so equal models
    give equal hashes however their dicts were built."""
    canonical = '{"a":[1,2],"b":{"c":3}}'
    assert short_hash({"b": {"c": 3}, "a": [1, 2]}) == \
        hashlib.sha256(canonical.encode()).hexdigest()[:12]
    assert len(short_hash({"a": 1}, n=20)) == 20


@pytest.mark.parametrize("multiplier, one_shift, expected, why", [
    ("uint8_t", True, 12, "2 int32 + 2 uint16 (a uint8 would pad the same)"),
    ("uint16_t", True, 12, "2 int32 + 2 uint16"),
    ("uint16_t", False, 16, "2 int32 + 2 uint16 + 2 shifts = 14, padded to 16"),
    ("uint32_t", True, 16, "2 int32 + 2 uint32"),
    ("uint32_t", False, 20, "18 padded to 20"),
])
def test_rows_bytes(multiplier, one_shift, expected, why):
    p = LoopPlan([], one_shift, "uint8_t", multiplier, [])
    assert rows_bytes(p) == expected, why


@pytest.mark.parametrize("input_multiplier, size", [(3, 1), (300, 2), (70000, 4)])
def test_loop_table_bytes_of_a_hand_computed_model(input_multiplier, size):
    """small_int_model, 2-4-1, inputs padded to fours: layer 1 is 4x4 bytes (8-bit weights),
    layer 2 2x4 nibbles in 4 bytes; struct rows 16 bytes (uint16 multipliers, a shift per
    output: a shift of 0 beside 1 cannot be rescaled to one), one per output pair."""
    model = small_int_model()
    model.input_map.multiplier[0] = input_multiplier
    t = loop_table_bytes(model)
    assert t == {"input_multiplier": 2 * size, "input_constant": 8, "input_shift": 2,
                 "layer1_weights": 16, "layer1_rows": 32, "layer2_weights": 4,
                 "layer2_rows": 16}
    assert all(type(v) is int for v in t.values())


def _wide(hidden_hi: int) -> IntModel:
    """1 input -> 257 hidden outputs in [0, hidden_hi] -> 1 output: the output layer's loop
    sums add 258 (257 padded to pairs) products of a stored byte and a stored input."""
    im = InputMap(np.array([32768]), np.array([1]), np.array([8]), 8)
    hidden = IntLayer(np.ones((257, 1), np.int64), np.zeros(257, np.int64),
                      np.ones(257, np.int64), np.zeros(257, np.int64), 0, hidden_hi, 8, 16)
    out = IntLayer(np.ones((1, 257), np.int64), np.zeros(1, np.int64), np.ones(1, np.int64),
                   np.zeros(1, np.int64), -32768, 32767, 8, 16)
    return IntModel(im, [hidden, out], ["x"], ["y"], ["mm"], [1.0])


def test_the_loop_sums_at_the_int32_limit():
    # 255 * 258 * 32600 = 2,144,754,000 fits int32 (with a byte of 256, or the offset 128
    # counted twice, it would not: 2,153,164,800)
    assert [L.n_in_pad for L in loop_layers(_wide(32600))] == [2, 258]
    # 255 * 258 * 32700 = 2,151,333,000 does not
    with pytest.raises(QnnError) as e:
        loop_layers(_wide(32700))
    assert str(e.value) == ("layer 2: its 257 inputs of 32701 levels could overflow the loop's "
                            "int32 sums; use the unrolled variant or fewer activation bits.")


def test_the_default_block_is_two_inputs():
    """The Rust mirror's inner loop takes two inputs per pass (the C's four is passed)."""
    model = random_int_model((3, 5, 2))
    assert [L.n_in_pad for L in loop_layers(model)] == [4, 6]
    assert [L.n_in_pad for L in loop_plan(model).layers] == [4, 6]
    assert [L.n_in_pad for L in loop_plan(model, 4).layers] == [4, 8]


def test_an_inconsistent_input_map_is_refused():
    model = small_int_model()
    model.input_map.shift = model.input_map.shift[:1]
    with pytest.raises(ValueError):
        loop_plan(model)


@pytest.mark.parametrize("values, expected", [
    ([0, 255], "uint8_t"), ([256], "uint16_t"), ([65535], "uint16_t"),
    ([3, 65536], "uint32_t"), ([2**31 - 1], "uint32_t"),
])
def test_unsigned_c_types(values, expected):
    assert _utype(values) == expected


@pytest.mark.parametrize("n, even", [(0, 0), (1, 2), (4, 4), (7, 8)])
def test_even(n, even):
    assert _even(n) == even


def test_c_array_rows_of_sixteen_and_a_comment():
    text = c_array("t", "int8_t", range(-1, 17), comment="eighteen values")
    assert text.split("\n") == [
        "/* eighteen values */",
        "static const int8_t t[18] = {",
        "    -1,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,",
        "    15, 16,",
        "};",
    ]


def _edge(bias: int, lo: int) -> IntModel:
    """One input a = x - 128 in [-128, 127]; one output acc = bias + a, M = 1, n = 0, clamped
    to [lo, 32767]: its requantized value v reaches bias + 127 before the clamp."""
    im = InputMap(np.array([128]), np.array([1]), np.array([0]), 8)
    out = IntLayer(np.array([[1]]), np.array([bias]), np.array([1]), np.array([0]), lo, 32767,
                   8, 16)
    return IntModel(im, [out], ["x"], ["y"], ["mm"], [1.0])


@pytest.mark.parametrize("bias, lo, fits, why", [
    (1000, -32768, True, "small values"),
    (INT32_MAX - 127 - 32768, -32768, True, "v - lo reaches INT32_MAX exactly"),
    (INT32_MAX - 127 - 32767, -32768, False, "one more"),
    (INT32_MAX - 127, 0, True, "v = INT32_MAX, lo = 0"),
    (INT32_MAX - 127, -1, False, "v = INT32_MAX, lo = -1: v - lo = 2^31"),
    (INT32_MIN + 128, 0, True, "v - lo = INT32_MIN exactly"),
    (INT32_MIN + 128, 1, False, "v - lo = INT32_MIN - 1"),
])
def test_distances_fit_at_the_int32_edge(bias, lo, fits, why):
    """The Rust requantize() computes v - lo (the clamp's distance) in int32."""
    model = _edge(bias, lo)
    assert distances_fit(loop_plan(model), model) is fits, why


def test_distances_of_the_input_map():
    """65535 * m + C - lo with m = 32768, zero point 0 (C = 0): 2,147,450,880 + 16,384 fits
    for 15-bit activations (lo = -2^14); + 32,768 = 2^31 for 16-bit ones does not."""
    model = _edge(0, -32768)
    model.input_map.zero_point[0], model.input_map.multiplier[0] = 0, 32768
    model.input_map.bits = 15
    assert distances_fit(loop_plan(model), model)
    model.input_map.bits = 16
    assert not distances_fit(loop_plan(model), model)


@pytest.mark.parametrize("zero, shift, why", [
    (65535, 0, "x = 0: 0 - 65535 * 32768 = -2,147,450,880, the low end, fits"),
    (65535, 1, "the same rounded and halved: -1,073,725,440"),
    (0, 1, "x = 65535: (2,147,450,880 + 1) >> 1 = 1,073,725,440"),
])
def test_distances_of_the_input_map_use_both_ends_shifted_right(zero, shift, why):
    model = _edge(0, -32768)
    im = model.input_map
    im.zero_point[0], im.multiplier[0], im.shift[0] = zero, 32768, shift
    assert distances_fit(loop_plan(model), model), why


def _two(bias0: int, shifts: list[int], lo: int) -> IntModel:
    """One input a in [-128, 127] -> two outputs, acc = bias + a, M = 1, clamped to
    [lo, 32767]; output 1 is a bystander (bias 0) that only sets the shifts' pattern."""
    im = InputMap(np.array([128]), np.array([1]), np.array([0]), 8)
    out = IntLayer(np.array([[1], [1]]), np.array([bias0, 0]), np.array([1, 1]),
                   np.array(shifts), lo, 32767, 8, 16)
    return IntModel(im, [out], ["x"], ["y0", "y1"], ["mm"] * 2, [1.0] * 2)


@pytest.mark.parametrize("bias0, shifts, lo, one, fits, why", [
    (INT32_MAX - 128, [1, 1], -32768, True, True,
     "the product reaches INT32_MAX, v = 2^30 - 1 after the shift"),
    (INT32_MIN + 128, [1, 1], -32768, True, True, "the product's low end, halved, -2^30"),
    (1000, [0, 2], -32768, False, True, "a shift per output: small values"),
    (INT32_MAX - 127, [0, 2], -1, False, False,
     "shift 0: v = INT32_MAX, and v - lo = 2^31 (the shift 2 beside it changes nothing)"),
])
def test_distances_with_one_shift_and_with_a_shift_per_output(bias0, shifts, lo, one, fits,
                                                               why):
    model = _two(bias0, shifts, lo)
    p = loop_plan(model)
    assert p.one_shift is one
    assert distances_fit(p, model) is fits, why


def test_the_multiplier_type_is_of_the_rescaled_multipliers():
    """M = 200 at shift 2 beside a shift of 4 is stored as 800: uint16, not uint8."""
    model = _two(0, [2, 4], -32768)
    model.layers[0].multiplier[:] = [200, 5]
    p = loop_plan(model)
    assert p.one_shift and p.layers[0].multiplier == [800, 5]
    assert p.multiplier == "uint16_t"
