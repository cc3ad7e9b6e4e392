"""The integer model file, the numpy reference and the overflow proof."""

import json

import numpy as np
import pytest
from helpers import random_int_model
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import QnnError
from qnn.intmodel import IntModel, map_inputs, predict_int
from qnn.overflow import analyze, check_export


def test_json_round_trip_is_exact(tmp_path):
    m = random_int_model(seed=3, w_bits=(8, 4, 2))
    m.save(tmp_path / "m.json")
    m2 = IntModel.load(tmp_path / "m.json")
    x = np.random.default_rng(0).integers(0, 65536, (500, 6))
    np.testing.assert_array_equal(predict_int(m, x), predict_int(m2, x))


@pytest.mark.parametrize("edit, message", [
    (lambda o: o.pop("layers"), "missing field 'layers'"),
    (lambda o: o.__setitem__("version", 99), "version 99"),
    (lambda o: o["layers"][0].__setitem__("w_bits", 9), "w_bits must be an integer in [2, 8]"),
    (lambda o: o["layers"][1]["weights"][0].__setitem__(0, 500), "outside"),
    (lambda o: o["layers"][0]["bias"].pop(), "bias must have"),
    (lambda o: o["layers"][2].__setitem__("clamp", [0, 99999]), "not inside int16"),
    (lambda o: o["input_map"]["zero_point"].__setitem__(0, 70000), "zero_point"),
    (lambda o: o["layers"][0]["weights"][0].__setitem__(0, 1.5), "integers"),
])
def test_malformed_models_give_one_clear_line(tmp_path, edit, message):
    obj = random_int_model(seed=1).to_json()
    edit(obj)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(obj))
    with pytest.raises(QnnError) as e:
        IntModel.load(path)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_unreadable_files(tmp_path):
    with pytest.raises(QnnError, match="no such file"):
        IntModel.load(tmp_path / "nope.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(QnnError, match="not a readable JSON"):
        IntModel.load(tmp_path / "x.json")


def test_overflow_proof_accepts_safe_and_refuses_unsafe_models():
    m = random_int_model(seed=2, m_bits=15)
    assert analyze(m).ok
    check_export(m)
    m.layers[1].multiplier[3] *= 4  # the product acc * M can now exceed int32
    report = analyze(m)
    assert not report.ok
    with pytest.raises(QnnError, match="refusing to export: layer 2, channel 3"):
        check_export(m)


def test_the_first_layer_bound_is_reached_exactly():
    """For layer 1 every input can sit at either clamp on its own, so the proven accumulator
    range is reached: x = 0 or 65535 per input, by the sign of the weight."""
    m = random_int_model(seed=4, m_bits=15)
    im, layer = m.input_map, m.layers[0]
    im.zero_point[:], im.multiplier[:], im.shift[:] = 32768, 1, 4  # a0 = x/16 - 2048: spans
    a_lo, a_hi = map_inputs(im, np.zeros((1, m.n_in)))[0], map_inputs(im, np.full((1, m.n_in),
                                                                                   65535))[0]
    assert (a_lo == im.lo).all() and (a_hi == im.hi).all()  # the input map spans its range
    stage = analyze(m).stages[1]
    x_max = np.where(layer.weights > 0, 65535, 0)  # per channel, the input that maximises acc
    x_min = 65535 - x_max
    acc_max = [int(layer.bias[i] + layer.weights[i] @ map_inputs(im, x_max[i:i + 1])[0])
               for i in range(layer.n_out)]
    acc_min = [int(layer.bias[i] + layer.weights[i] @ map_inputs(im, x_min[i:i + 1])[0])
               for i in range(layer.n_out)]
    assert max(acc_max) == stage.acc_hi and min(acc_min) == stage.acc_lo


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), layer=st.integers(0, 2), grow=st.integers(0, 8))
def test_a_model_the_proof_accepts_never_overflows(seed, layer, grow):
    """Models pushed past the edge (a layer's multipliers times 2^grow): whenever the proof
    says ok, the reference (which checks every int32 value) never overflows, on the extremes
    and on random inputs; when the proof refuses, export refuses."""
    m = random_int_model(seed=seed, m_bits=15)
    m.layers[layer].multiplier = m.layers[layer].multiplier << grow
    x = np.random.default_rng(seed).integers(0, 65536, (512, 6))
    x[0], x[1] = 0, 65535
    x[2:66] = np.where(np.random.default_rng(seed).random((64, 6)) < 0.5, 0, 65535)
    if analyze(m).ok:
        predict_int(m, x)
        check_export(m)
    else:
        with pytest.raises(QnnError, match="refusing to export"):
            check_export(m)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), bits=st.sampled_from([2, 3, 4, 5, 8]),
       a_bits=st.integers(2, 8), m_bits=st.sampled_from([8, 15]))
def test_reference_never_overflows_a_proven_model(seed, bits, a_bits, m_bits):
    m = random_int_model(seed=seed, w_bits=bits, a_bits=a_bits, m_bits=m_bits)
    assert analyze(m).ok
    x = np.random.default_rng(seed).integers(0, 65536, (256, 6))
    x[0], x[1] = 0, 65535
    y = predict_int(m, x)  # raises QnnError on any int32 overflow
    assert y.dtype == np.int16
