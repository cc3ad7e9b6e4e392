"""The integer model file, field by field: a round trip keeps everything, every field's range
is checked at both edges, and each refusal names the field (written against mutation testing:
`make mutate`)."""

from __future__ import annotations

import contextlib
import json

import numpy as np
import pytest
from helpers import random_int_model

from common.errors import QnnError
from qnn.dyadic import choose_multiplier
from qnn.intmodel import INT32_MAX, IntModel


def test_a_round_trip_keeps_every_field(tmp_path):
    m = random_int_model(seed=5, w_bits=(8, 4, 2))
    m.meta["note"] = "kept"
    m.layers[0].a_step = 0.25
    m.layers[1].w_step = np.array([0.5, 0.125])
    m.save(tmp_path / "m.json")
    obj = json.loads((tmp_path / "m.json").read_text())
    assert set(obj) == {"format", "version", "sizes", "input_names", "output_names",
                        "output_units", "output_lsb", "input_map", "layers", "meta"}
    assert obj["sizes"] == [6, 16, 16, 6] and obj["meta"]["note"] == "kept"
    assert set(obj["layers"][0]) == {"w_bits", "a_bits", "clamp", "weights", "bias",
                                     "multiplier", "shift", "w_step", "a_step"}
    back = IntModel.load(tmp_path / "m.json")
    assert back.to_json() == obj
    assert back.input_names == m.input_names and back.output_names == m.output_names
    assert back.output_units == m.output_units and back.output_lsb == m.output_lsb
    assert back.layers[0].a_step == 0.25 and back.meta["note"] == "kept"
    np.testing.assert_array_equal(back.input_map.step, m.input_map.step)
    assert back.input_map.step.dtype == np.float64
    assert back.layers[1].w_step.tolist() == [0.5, 0.125]


def test_optional_fields_default(tmp_path):
    obj = random_int_model(seed=1).to_json()
    del obj["input_map"]["step"], obj["layers"][0]["w_step"], obj["layers"][0]["a_step"]
    del obj["meta"]
    m = IntModel.from_json(obj)
    assert m.input_map.step.size == 0 and m.layers[0].w_step.size == 0
    assert m.layers[0].a_step == 0.0 and m.meta == {}


def _set(path: str, value):
    def edit(obj):
        *keys, last = path.split(".")
        for k in keys:
            obj = obj[int(k)] if k.isdigit() else obj[k]
        obj[int(last) if last.isdigit() else last] = value
    return edit


EDGES_OK = [
    ("input_map.bits", 2), ("input_map.bits", 16), ("input_map.zero_point.0", 0),
    ("input_map.zero_point.0", 65535), ("input_map.multiplier.0", 0),
    ("input_map.shift.0", 0), ("input_map.shift.0", 31), ("layers.0.a_bits", 2),
    ("layers.0.a_bits", 16), ("layers.0.multiplier.0", 0), ("layers.0.shift.0", 0),
    ("layers.0.shift.0", 31), ("layers.0.weights.0.0", -128), ("layers.0.weights.0.0", 127),
    ("layers.0.bias.0", INT32_MAX), ("layers.0.multiplier.0", INT32_MAX),
]


@pytest.mark.parametrize("path, value", EDGES_OK)
def test_the_edge_of_each_range_is_accepted(path, value):
    obj = random_int_model(seed=1).to_json()
    _set(path, value)(obj)
    IntModel.from_json(obj)


EDGES_BAD = [
    ("input_map.bits", 1, "input_map.bits must be an integer in [2, 16], got 1"),
    ("input_map.bits", 17, "input_map.bits must be an integer in [2, 16], got 17"),
    ("input_map.zero_point.0", -1, "input_map.zero_point has values outside [0, 65535]"),
    ("input_map.zero_point.0", 65536, "input_map.zero_point has values outside [0, 65535]"),
    ("input_map.multiplier.0", -1, "input_map.multiplier has values outside"),
    ("input_map.shift.0", 32, "input_map.shift has values outside [0, 31]"),
    ("input_map.shift.0", -1, "input_map.shift has values outside [0, 31]"),
    ("input_map.zero_point", [], "input_map.zero_point must be a non-empty 1-d array"),
    ("input_map.zero_point", [[1]], "input_map.zero_point must be a non-empty 1-d array"),
    ("layers.0.a_bits", 1, "layer 0 a_bits must be an integer in [2, 16], got 1"),
    ("layers.0.a_bits", 17, "layer 0 a_bits must be an integer in [2, 16], got 17"),
    ("layers.1.w_bits", 1, "layer 1 w_bits must be an integer in [2, 8], got 1"),
    ("layers.0.weights.0.0", 128, "layer 0 weights has values outside [-128, 127]"),
    ("layers.0.weights.0.0", -129, "layer 0 weights has values outside [-128, 127]"),
    ("layers.0.multiplier.0", -1, "layer 0 multiplier has values outside"),
    ("layers.0.shift.0", 32, "layer 0 shift has values outside [0, 31]"),
    ("layers.0.bias.0", INT32_MAX + 1, "layer 0 bias has values outside"),
    ("layers.0.clamp", [5, 5], "layer 0 clamp [5, 5] is not inside int16"),
    ("layers.0.clamp", [-32769, 0], "layer 0 clamp [-32769, 0] is not inside int16"),
    ("layers", [], "no layers"),
    ("format", "other", "not a qnn-int-model file"),
    ("output_names", ["a"], "names/units/lsb do not match the layer sizes"),
    ("input_names", ["a"], "names/units/lsb do not match the layer sizes"),
    ("output_lsb", [1.0], "names/units/lsb do not match the layer sizes"),
    ("input_map.multiplier", [1, 2], "input_map.multiplier must have 6 entries"),
    ("layers.1.shift", [0], "layer 1 shift must have 16 entries"),
]


@pytest.mark.parametrize("path, value, message", EDGES_BAD)
def test_each_refusal_names_the_field(path, value, message):
    obj = random_int_model(seed=1).to_json()
    _set(path, value)(obj)
    with pytest.raises(QnnError) as e:
        IntModel.from_json(obj, source="m.json")
    assert str(e.value).startswith(f"m.json: malformed integer model ({message}")
    assert str(e.value).endswith("; re-export it.")


def test_layers_that_do_not_chain_are_refused():
    obj = random_int_model(seed=1, sizes=(6, 8, 5, 3)).to_json()
    obj["layers"][2]["weights"] = [row + [0] for row in obj["layers"][2]["weights"]]
    with pytest.raises(QnnError, match=r"layer 2 takes 6 inputs, layer 1 gives 5"):
        IntModel.from_json(obj)
    obj = random_int_model(seed=1, sizes=(6, 8, 5, 3)).to_json()
    obj["layers"][1]["weights"] = [row[:-1] for row in obj["layers"][1]["weights"]]
    with pytest.raises(QnnError, match=r"layer 1 takes 7 inputs, layer 0 gives 8"):
        IntModel.from_json(obj)


def test_a_non_object_is_refused_and_load_names_the_file(tmp_path):
    with pytest.raises(QnnError, match="model: malformed integer model"):
        IntModel.from_json([1, 2])
    (tmp_path / "m.json").write_text('{"format": "qnn-int-model", "version": 1}')
    with pytest.raises(QnnError, match=r"m\.json: malformed integer model \(missing field "
                                       r"'input_map'\)"):
        IntModel.load(tmp_path / "m.json")


@pytest.mark.parametrize("x, message", [
    (np.zeros((3, 5)), r"^inputs have shape \(3, 5\), the model takes \[N, 6\]\.$"),
    (np.zeros(6), r"^inputs have shape \(6,\), the model takes \[N, 6\]\.$"),
    (np.full((1, 6), 65536), r"^inputs must be uint16 ADC counts in \[0, 65535\]\.$"),
    (np.full((1, 6), -1), r"^inputs must be uint16 ADC counts in \[0, 65535\]\.$"),
])
def test_the_reference_refuses_bad_inputs(x, message):
    from qnn.intmodel import predict_int

    with pytest.raises(QnnError, match=message):
        predict_int(random_int_model(seed=1), x)


def test_the_reference_names_the_stage_that_overflows():
    from qnn.intmodel import predict_int

    m = random_int_model(seed=1)
    m.layers[1].bias[:] = INT32_MAX
    with pytest.raises(QnnError, match=r"int32 overflow in layer 1 acc: the model is not safe"):
        predict_int(m, np.full((1, 6), 65535))
    m = random_int_model(seed=1)
    m.layers[2].multiplier[:] = INT32_MAX
    with pytest.raises(QnnError, match=r"int32 overflow in layer 2 requant"):
        predict_int(m, np.full((4, 6), 65535))
    m = random_int_model(seed=1)
    m.input_map.multiplier[:] = INT32_MAX
    with pytest.raises(QnnError, match=r"int32 overflow in input map"):
        predict_int(m, np.full((1, 6), 65535))


def test_dense_int_names_a_layer_without_a_name():
    from qnn.intmodel import dense_int

    layer = random_int_model(seed=1).layers[0]
    layer.bias[:] = INT32_MAX
    with pytest.raises(QnnError, match=r"^int32 overflow in layer acc: "):
        dense_int(layer, np.full((1, 6), 100))


def test_to_physical_multiplies_by_the_lsb():
    m = random_int_model(seed=1, sizes=(6, 4, 2))
    m.output_lsb = [0.5, 0.001]
    y = m.to_physical(np.array([[2, -3], [-32768, 32767]], dtype=np.int16))
    assert y.dtype == np.float64
    assert y.tolist() == [[1.0, -0.003], [-16384.0, 32.767]]


@pytest.mark.parametrize("x_cols, y_cols, need_y, message", [
    (5, 6, True, r"^the data has 5 inputs, the model takes 6\.$"),
    (6, 4, True, r"^the data has 4 outputs, the model gives 6\.$"),
    (6, 6, True, None),
    (6, 4, False, None),  # y not needed (inference only): its width does not matter
])
def test_check_compatible(x_cols, y_cols, need_y, message):
    from types import SimpleNamespace

    from qnn.intmodel import check_compatible

    m = random_int_model(seed=1)
    ds = SimpleNamespace(x=np.zeros((3, x_cols), np.uint16), y=np.zeros((3, y_cols)))
    if message is None:
        check_compatible(m, ds, need_y=need_y)
    else:
        with pytest.raises(QnnError, match=message):
            check_compatible(m, ds, need_y=need_y)
    if need_y:  # the default needs y
        with pytest.raises(QnnError) if message else contextlib.nullcontext():
            check_compatible(m, ds)


# --- choose_multiplier at its edges ---------------------------------------------------------

@pytest.mark.parametrize("scale, bound, m_max, expected, why", [
    (255 / 256, 1, 255, (255, 8), "M may equal m_max"),
    (1.0, 2**30 - 1, 2**15, (2, 1), "bound*2 + rnd(1) = INT32_MAX exactly: still fits"),
    (1.0, 2**30, 2**15, (1, 0), "bound*2 + 1 = 2^31 + 1 does not fit: shift 0"),
    (0.0, 100, 255, (0, 30), "a zero scale is M = 0"),
    (1e-12, 100, 255, (1, 30), "a tiny scale keeps M = 1, the closest there is"),
    (3.4, 2**30, 255, (3, 0), "no shift fits the bound: the rounded scale, shift 0"),
    (0.7, 2**31, 255, (1, 0), "and never below 1"),
    (1000.4, 1, 255, (255, 0), "a scale above m_max is m_max"),
    (5 * 2**-30, 322_122_547, 2**15, (5, 30), "5 * bound + rnd(30) = INT32_MAX exactly"),
    (5 * 2**-30, 322_122_548, 2**15, (3, 29), "one more: shift 29, M = 2.5 rounded up"),
    # at shift 30, M = 2: 1.8e9 + 2^29 passes INT32_MAX, 1.8e9 + 2^28 (a wrong rounding
    # constant 2^(n-2)) or 1.8e9 + 0 would not
    (2**-29, 900_000_000, 2**15, (1, 29), "the rounding constant is 2^(n-1)"),
])
def test_choose_multiplier_edges(scale, bound, m_max, expected, why):
    M, n = choose_multiplier(np.array([scale]), np.array([bound]), m_max)
    assert (int(M[0]), int(n[0])) == expected, why


def test_choose_multiplier_refuses_bounds_that_do_not_match_the_scales():
    """Pairing the shorter list would leave the other channels at M = 0 (outputs all 0)."""
    with pytest.raises(ValueError):
        choose_multiplier(np.array([0.5, 0.25]), np.array([100]))
