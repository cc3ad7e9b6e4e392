"""The TFLite import: the flatbuffer reader, the numpy reference of TFLite's int8 arithmetic
(equivalent to the LiteRT interpreter, bit for bit, on fixtures it ran) and the integer
model made from it. No TensorFlow: tests/fixtures/tflite/make_fixtures.py made the fixtures."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import QnnError
from qnn.intmodel import dense_int, map_inputs, predict_int
from qnn.overflow import analyze
from qnn.tflite_fixed import mbqm, quantize_multiplier
from qnn.tflite_import import int_model_from_plan, prove, standardization
from qnn.tflite_read import read_tflite
from qnn.tflite_ref import (
    Dense,
    dequantize_output,
    plan,
    quantize_input,
    run_int8,
    run_reference,
)

FIX = Path(__file__).parent / "fixtures" / "tflite"
MODELS = ("qat_int8io", "qat_f32io", "ptq_pc_relu6", "sep_relu")


@pytest.fixture(scope="module")
def ref():
    with np.load(FIX / "reference.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def info():
    return json.loads((FIX / "fixtures.json").read_text())


def interpreter_default(name, ref, info):
    """The interpreter's default kernels/delegates (stored only where they differ from its
    reference kernels)."""
    same = info["models"][name]["default_equals_ref"]
    assert same == (f"{name}_default" not in ref)
    return ref[f"{name}_ref"] if same else ref[f"{name}_default"]


def model_input(name, ref, info):
    """What the interpreter was fed: int8 (host-quantized) or the float32 standardized rows."""
    if f"{name}_in" in ref:
        return ref[f"{name}_in"]
    x = ref["x"].astype(np.float32)
    return (x - np.float32(info["x_mean"])) / np.float32(info["x_std"])


def imported(name, info, **kw):
    p = plan(read_tflite(FIX / f"{name}.tflite"))
    st_ = standardization(6, 6, info["x_mean"], info["x_std"], info["y_mean"], info["y_std"])
    return p, st_, int_model_from_plan(p, st_, **kw)


# --- the reference against the interpreter ------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
def test_reference_is_the_interpreter_bit_for_bit(name, ref, info):
    p = plan(read_tflite(FIX / f"{name}.tflite"))
    out = run_reference(p, model_input(name, ref, info))
    assert out.dtype == ref[f"{name}_ref"].dtype
    np.testing.assert_array_equal(out, ref[f"{name}_ref"])  # LiteRT's reference kernels
    np.testing.assert_array_equal(out, interpreter_default(name, ref, info))  # and default


@pytest.mark.parametrize("name", ["qat_int8io", "ptq_pc_relu6"])
def test_double_rounding_is_tensorflows_reference_kernels(name, ref, info):
    p = plan(read_tflite(FIX / f"{name}.tflite"))
    x = model_input(name, ref, info)
    np.testing.assert_array_equal(run_reference(p, x, "double"), ref[f"{name}_tfref"])
    assert np.mean(run_reference(p, x, "single") != ref[f"{name}_tfref"]) > 0.001


def test_the_host_standardization_is_the_fixtures():
    """The float32 host path the reference assumes is the one that fed the interpreter."""
    with np.load(FIX / "reference.npz") as z:
        info = json.loads((FIX / "fixtures.json").read_text())
        x = z["x"].astype(np.float32)
        p = plan(read_tflite(FIX / "qat_int8io.tflite"))
        xf = (x - np.float32(info["x_mean"])) / np.float32(info["x_std"])
        np.testing.assert_array_equal(quantize_input(p, xf), z["qat_int8io_in"])


@settings(max_examples=300, deadline=None)
@given(st.floats(1e-9, 1e4, allow_nan=False))
def test_quantize_multiplier_is_q31(real):
    m0, shift = quantize_multiplier(real)
    assert 2**30 <= m0 < 2**31
    assert abs(Fraction(m0) * Fraction(2) ** (shift - 31) - Fraction(real)) <= \
        Fraction(2) ** (shift - 32)


@settings(max_examples=300, deadline=None)
@given(st.integers(-(2**31), 2**31 - 1), st.integers(2**30, 2**31 - 1), st.integers(-31, 0))
def test_multiply_by_quantized_multiplier(x, m0, shift):
    t = 31 - shift
    single = (x * m0 + (1 << (t - 1))) >> t  # Python integers: exact
    assert int(mbqm(np.array([x]), m0, shift, "single")[0]) == single
    # gemmlowp: SaturatingRoundingDoublingHighMul is round half up of x m0 / 2^31 (its
    # nudge and truncating division amount to that), RoundingDivideByPOT half away from zero
    high = (x * m0 + (1 << 30)) >> 31
    e = -shift
    double = high if e == 0 else (1 if high >= 0 else -1) * ((abs(high) + (1 << (e - 1))) >> e)
    assert int(mbqm(np.array([x]), m0, shift, "double")[0]) == double


# --- the import --------------------------------------------------------------------------


def _fidelity(name, ref, info, **kw):
    p, st_, model = imported(name, info, **kw)
    ours = predict_int(model, ref["x"]).astype(np.int64)
    lsb = np.asarray(model.output_lsb)
    out = interpreter_default(name, ref, info)  # the interpreter, as a user runs it
    yf = dequantize_output(p, out) if out.dtype == np.int8 else out
    theirs = yf.astype(np.float64) * st_.y_std + st_.y_mean
    y = ref["y"].astype(np.float64)
    mse_ratio = np.mean((ours * lsb - y) ** 2) / np.mean((theirs - y) ** 2)
    within = np.mean(np.abs(ours - np.floor(theirs / lsb + 0.5)) <= 1)
    return model, mse_ratio, within


def test_done_when_qat_model_matches_the_interpreter(ref, info):
    """The issue's figures: a TF-QAT'd 6-16-16-6 magnet model, full int8, standardized on the
    host: test MSE within 1% of the interpreter's, >= 99% of int16 outputs within 1 LSB."""
    model, mse_ratio, within = _fidelity("qat_int8io", ref, info)
    assert abs(mse_ratio - 1) < 0.01
    assert within >= 0.99
    assert analyze(model).ok
    assert max(int(L.multiplier.max()) for L in model.layers) < 2**14


@pytest.mark.parametrize("name", ["qat_f32io", "ptq_pc_relu6", "sep_relu"])
def test_every_fixture_imports_faithfully(name, ref, info):
    _, mse_ratio, within = _fidelity(name, ref, info)
    assert abs(mse_ratio - 1) < 0.01
    assert within >= 0.99


def test_narrow_multipliers_cost_fidelity(ref, info):
    """8-bit multipliers (the training default) are too coarse for TFLite's rescales."""
    assert _fidelity("qat_int8io", ref, info, m_bits=8)[2] < _fidelity(
        "qat_int8io", ref, info, m_bits=14)[2]


def test_float_and_int8_io_give_one_integer_model(info):
    a = imported("qat_int8io", info)[2].to_json()
    b = imported("qat_f32io", info)[2].to_json()
    for d in (a, b):
        d["meta"]["tflite"].pop("ops"), d["meta"]["tflite"].pop("input"), \
            d["meta"]["tflite"].pop("output")
    assert a == b


def test_hidden_layers_are_tflites_own_activations(ref, info):
    """Fed TFLite's inputs, each imported hidden layer gives TFLite's activation (q - zp)
    almost always: only the narrow M can differ."""
    p, _, model = imported("ptq_pc_relu6", info)
    q = quantize_input(p, model_input("ptq_pc_relu6", ref, info))
    assert np.mean(map_inputs(model.input_map, ref["x"]) == q) > 0.998
    a = q
    for k, d in enumerate(p.dense[:-1]):
        tfl = run_int8(type(p)(False, 0, 0, False, 0, 0, [d], []), q)
        ours = dense_int(model.layers[k], a)
        assert np.mean(ours == tfl - d.out_zp) > 0.995
        q, a = tfl, tfl - d.out_zp
    assert [s.per_channel for s in p.dense] == [True, True, True]
    assert p.dense[1].activation == "RELU6" and model.layers[1].hi == p.dense[1].act_max + 128


def test_a_rescaling_relu_stays_an_exact_layer(info):
    p, _, model = imported("sep_relu", info)
    assert p.ops == ["FULLY_CONNECTED", "RELU", "RESHAPE", "FULLY_CONNECTED", "RELU",
                     "FULLY_CONNECTED"]
    assert model.sizes == [6, 16, 16, 16, 6]
    notes = model.meta["tflite"]["notes"]
    assert len(notes) == 1 and "op 4 RELU rescales" in notes[0]
    relu = p.steps[3]
    fc = next(s for s in p.steps if isinstance(s, Dense) and s.op == 3)
    a = np.arange(fc.act_min, fc.act_max + 1) - fc.out_zp  # every value it can see
    want = np.clip(relu.out_zp + mbqm(a, relu.m0, relu.shift), relu.act_min, relu.act_max)
    got = dense_int(model.layers[2], np.repeat(a[:, None], 16, axis=1))
    np.testing.assert_array_equal(got, np.repeat((want - relu.out_zp)[:, None], 16, axis=1))
    # the first RELU (same scale and zero point) is only the clamp of layer 1
    assert model.layers[0].lo == 0


def test_output_units(info):
    p, st_, model = imported("qat_int8io", info)
    step = np.float64(p.out_scale) * st_.y_std
    np.testing.assert_allclose(model.output_lsb, step)  # the .tflite's own output step
    _, _, fine = imported("qat_int8io", info, out_lsb=[0.01] * 6)
    assert fine.output_lsb == [0.01] * 6 and fine.layers[-1].hi > model.layers[-1].hi
    with pytest.raises(QnnError, match="more than int16 holds"):
        imported("qat_int8io", info, out_lsb=[1e-6] * 6)


@pytest.mark.parametrize("kw, match", [
    ({"x_mean": [0.0] * 5}, "--x-mean gives 5 values; the model has 6 inputs"),
    ({"y_std": [1.0] * 7}, "--y-std gives 7 values; the model has 6 outputs"),
    ({"x_std": [1.0, -1, 1, 1, 1, 1]}, "--x-std must be finite and positive"),
    ({"y_mean": [float("nan")] * 6}, "--y-mean must be finite"),
])
def test_standardization_is_checked(kw, match):
    with pytest.raises(QnnError, match=match):
        standardization(6, 6, **kw)


def test_an_input_range_off_the_adc_is_refused(info):
    p = plan(read_tflite(FIX / "qat_int8io.tflite"))
    st_ = standardization(6, 6, [1e6] * 6)
    with pytest.raises(QnnError, match="input 0: the .tflite's int8 range centres at"):
        int_model_from_plan(p, st_)


@pytest.mark.parametrize("name, match", [
    ("tanh", r"op 3 TANH: is not supported; the import takes FULLY_CONNECTED"),
    ("int16act", r"op 0 QUANTIZE: its output is int16 \(16x8 quantization\)"),
])
def test_unsupported_models_are_refused_by_op(name, match):
    with pytest.raises(QnnError, match=match):
        plan(read_tflite(FIX / f"{name}.tflite"))


def test_reader_sees_the_fixture(info):
    g = read_tflite(FIX / "ptq_pc_relu6.tflite")
    assert [op.name for op in g.ops] == info["models"]["ptq_pc_relu6"]["ops"]
    fc = g.ops[2]
    assert fc.options["activation"] == "RELU6"
    w = g.tensors[fc.inputs[1]]
    assert w.dtype == "int8" and w.data.shape == (16, 16) and w.scale.size == 16


def test_truncated_and_foreign_files(tmp_path):
    data = (FIX / "qat_int8io.tflite").read_bytes()
    for cut in (9, 64, len(data) // 3, len(data) // 2, len(data) - 600):
        bad = tmp_path / f"cut{cut}.tflite"
        bad.write_bytes(data[:cut])
        with pytest.raises(QnnError, match="truncated or corrupt"):
            plan(read_tflite(bad))
    text = tmp_path / "model.tflite"
    text.write_text("this is not a flatbuffer\n")
    with pytest.raises(QnnError, match="not a TensorFlow Lite model"):
        read_tflite(text)
    with pytest.raises(QnnError, match="no such file"):
        read_tflite(tmp_path / "missing.tflite")


def test_a_model_that_cannot_be_made_safe_is_refused(info):
    p = plan(read_tflite(FIX / "qat_int8io.tflite"))
    p.dense[1].bias[3] = 2**31 - 1000  # no multiplier keeps acc * M in int32 now
    st_ = standardization(6, 6, info["x_mean"], info["x_std"])
    model = int_model_from_plan(p, st_)
    with pytest.raises(QnnError, match=r"cannot be made overflow-free in int32 at --m-bits 14:"
                       r" layer 2, channel 3"):
        prove(model, "m.tflite", 14)


def _random_plan(rng, sizes, acts, per_channel):
    """A TFLite-like chain with random int8 weights, biases, scales and zero points, float
    input taken as raw counts (scale ~257 counts per LSB: the whole ADC range)."""
    from qnn.tflite_fixed import quantize_multiplier
    from qnn.tflite_ref import Plan, _activation_range

    steps, s_in, zp_in = [], float(np.float32(257.0 * rng.uniform(0.9, 1.1))), -128
    first = (s_in, zp_in)
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        w = rng.integers(-127, 128, (n_out, n_in))
        w_scale = np.float32(rng.uniform(0.002, 0.02, n_out if per_channel else 1))
        w_scale = np.broadcast_to(w_scale, (n_out,)).astype(np.float32)
        act = acts[k] if k < len(sizes) - 2 else "NONE"
        s_out = float(np.float32(rng.uniform(0.02, 0.2)))
        zp_out = -128 if act != "NONE" else int(rng.integers(-40, 40))
        bias = rng.integers(-3000, 3000, n_out)
        reals = [float(s_in) * float(s) / s_out for s in w_scale]
        m0, sh = zip(*(quantize_multiplier(r) for r in reals), strict=True)
        lo, hi = _activation_range(act, s_out, zp_out)
        steps.append(Dense(k, w, bias, s_in, zp_in, w_scale, s_out, zp_out, np.array(m0),
                           np.array(sh), lo, hi, act, per_channel))
        s_in, zp_in = s_out, zp_out
    return Plan(True, *first, True, s_in, zp_in, steps, ["FULLY_CONNECTED"] * len(steps))


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1), st.sampled_from([(6, 16, 16, 6), (3, 8, 2), (6, 24, 6)]),
       st.lists(st.sampled_from(["RELU", "RELU6", "NONE"]), min_size=2, max_size=2),
       st.booleans())
def test_random_tflite_chains_import_safely_and_faithfully(seed, sizes, acts, per_channel):
    """Any such chain imports overflow-free, and its int16 outputs stay within 1 LSB of
    TFLite's on nearly every random ADC input."""
    rng = np.random.default_rng(seed)
    p = _random_plan(rng, sizes, acts, per_channel)
    st_ = standardization(sizes[0], sizes[-1])
    model = int_model_from_plan(p, st_)
    assert analyze(model).ok
    x = rng.integers(0, 65536, (400, sizes[0]))
    ref_q = run_int8(p, quantize_input(p, x.astype(np.float32)))
    lsb = np.asarray(model.output_lsb)
    theirs = dequantize_output(p, ref_q).astype(np.float64)
    diff = np.abs(predict_int(model, x) - np.floor(theirs / lsb + 0.5))
    assert np.mean(diff <= 1) >= 0.99
