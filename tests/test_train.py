"""Training: the integer-exact evaluation inside training is the exported model, bit for bit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from common.errors import QnnError
from qnn import network as net
from qnn.config import TrainConfig
from qnn.evaluate import float_predict, norm_mse
from qnn.intmodel import map_inputs, predict_int
from qnn.network import int_forward_model
from qnn.overflow import analyze
from qnn.schedule import one_cycle, ramp, shuffled_batches
from qnn.stats import input_moments, standardized
from qnn.train import Progress, TrainResult, train

MIX = np.random.default_rng(5).normal(size=(6, 6))


def synthetic(n: int, seed: int, n_out: int = 6):
    """A smooth, coupled, invertible-ish map from 'pose' to uint16 'readings'."""
    rng = np.random.default_rng(seed)
    y = rng.uniform(-1, 1, (n, n_out))
    z = np.tanh(y @ MIX[:n_out] * 0.4) + 0.2 * np.sin(2 * y[:, ::-1] @ MIX[:n_out])
    x = np.clip(32768 + 15000 * z + rng.normal(0, 2, z.shape), 0, 65535).astype(np.uint16)
    return x, (y * np.array([10, 10, 10, 30, 30, 30])[:n_out]).astype(np.float32)


def run(cfg: TrainConfig, n: int = 3000, stop=lambda: False):
    xt, yt = synthetic(n, 1)
    xv, yv = synthetic(n // 3, 2)
    events = list(train(xt, yt, xv, yv, cfg, stop=stop))
    assert isinstance(events[-1], TrainResult)
    return events[:-1], events[-1], (xv, yv)


CONFIGS = [
    TrainConfig(hidden=(16, 16), w_bits=8, a_bits=8, epochs_float=3, epochs_qat=2, epochs_int=2),
    TrainConfig(hidden=(8,), w_bits=(4, 2), a_bits=4, in_bits=10, epochs_float=2, epochs_qat=2,
                epochs_int=1, seed=3),
    TrainConfig(hidden=(24, 12, 8), w_bits=(2, 6, 3, 8), a_bits=(3, 8, 5), in_bits=16,
                epochs_float=2, epochs_qat=1, epochs_int=1, seed=7),
]


@pytest.fixture(scope="module", params=range(len(CONFIGS)), ids=["8bit", "4-2bit", "mixed"])
def trained(request):
    return run(CONFIGS[request.param])


def test_progress_reports_every_epoch_and_int_loss_is_the_exported_models(trained):
    progress, result, (xv, yv) = trained
    cfg = result.config
    assert [p.epoch for p in progress] == list(range(1, len(progress) + 1))
    assert len(progress) == cfg.epochs_float + cfg.epochs_qat + cfg.epochs_int
    assert all(isinstance(p, Progress) and np.isfinite(p.train_loss) for p in progress)
    last = progress[result.best_epoch - 1]  # the epoch whose integer model was exported
    y_int = result.int_model.to_physical(predict_int(result.int_model, xv))
    mse = norm_mse(y_int, yv, result.stats.y_std)
    assert mse == pytest.approx(last.val_int, rel=1e-4)  # float32 loss vs float64 here
    assert analyze(result.int_model).ok


@pytest.mark.slow
def test_int_exact_eval_equals_numpy_reference_on_10k_inputs(trained):
    _, result, _ = trained
    x, _ = synthetic(10_000, 9)
    np.testing.assert_array_equal(int_forward_model(result.int_model, x),
                                  predict_int(result.int_model, x))


@settings(max_examples=30, deadline=None)
@given(x=arrays(np.uint16, (64, 6), elements=st.integers(0, 65535)))
def test_int_exact_eval_equals_numpy_reference_on_random_full_range(trained, x):
    _, result, _ = trained
    x[0], x[1] = 0, 65535
    np.testing.assert_array_equal(int_forward_model(result.int_model, x),
                                  predict_int(result.int_model, x))


def test_stop_flag_ends_training_early_with_a_usable_model():
    calls = {"n": 0}

    def stop():
        calls["n"] += 1
        return calls["n"] > 2

    progress, result, (xv, _) = run(CONFIGS[0], n=1000, stop=stop)
    assert result.stopped and len(progress) == 2
    assert predict_int(result.int_model, xv).shape == (len(xv), 6)


def test_same_seed_same_model():
    cfg = TrainConfig(hidden=(8,), epochs_float=1, epochs_qat=1, epochs_int=1)
    a = run(cfg, n=1000)[1].int_model.to_json()
    b = run(cfg, n=1000)[1].int_model.to_json()
    assert a["layers"] == b["layers"]


def test_fine_tune_at_new_bit_widths_starts_from_the_previous_result():
    _, result, (xv, yv) = run(CONFIGS[0], n=1500)
    cfg = TrainConfig(hidden=(16, 16), w_bits=(8, 4, 8), a_bits=8, epochs_finetune=1,
                      epochs_int=1)
    xt, yt = synthetic(3000, 1)
    events = list(train(xt, yt, xv, yv, cfg, init=result))
    tuned = events[-1]
    assert [p.phase for p in events[:-1]] == ["qat", "int"]
    assert tuned.int_model.layers[1].w_bits == 4
    assert np.abs(tuned.int_model.layers[1].weights).max() <= 8
    assert tuned.int_model.layers[0].w_bits == 8


@pytest.mark.parametrize("kwargs, message", [
    ({"w_bits": 9}, "weight bits 9 outside 2..8"),
    ({"a_bits": 1}, "activation bits 1 outside 2..8"),
    ({"w_bits": (8, 8)}, "2 values given for 3 layers"),
    ({"hidden": ()}, "hidden sizes"),
    ({"in_bits": 20}, "input bits 20"),
    ({"epochs_float": 0, "epochs_qat": 0, "epochs_int": 0}, "at least one epoch"),
])
def test_impossible_configurations_are_refused(kwargs, message):
    with pytest.raises(QnnError, match=message):
        TrainConfig(**kwargs).validate()


def test_one_cycle_rises_to_its_peak_then_falls_to_a_small_fraction():
    lrs = one_cycle(0.03, 1000)
    assert lrs.shape == (1000,) and lrs.dtype == np.float32
    top = int(np.argmax(lrs))
    assert lrs[top] == pytest.approx(0.03) and 200 <= top <= 300  # 25% warm-up
    assert lrs[0] == pytest.approx(0.03 / 25) and lrs[-1] == pytest.approx(0.03 / 2500)
    assert np.all(np.diff(lrs[:top]) > 0) and np.all(np.diff(lrs[top:]) <= 0)
    assert one_cycle(0.01, 1).shape == (1,) and ramp(2.0, 3).tolist() == [0.0, 1.0, 2.0]


def test_shuffled_batches_are_a_fresh_permutation_each_epoch():
    rng = np.random.default_rng(0)
    a, b = shuffled_batches(rng, 1000, 64), shuffled_batches(rng, 1000, 64)
    assert a.shape == (15, 64) and a.dtype == np.int32
    assert len(np.unique(a)) == a.size and a.max() < 1000
    assert not np.array_equal(a, b)


def test_folding_the_input_standardisation_keeps_the_float_network():
    spec = TrainConfig().spec(6, 6)
    rng = np.random.default_rng(1)
    params = net.init_params(rng, spec)
    a0 = rng.integers(-2048, 2048, (500, 6)).astype(np.float32)
    a0[:, 2] = a0[:, 2] * 0.1 + 900  # off centre and narrow, as a real reading can be
    mean, std = input_moments(a0, spec.in_scale())
    xs = standardized((a0, None, None), spec.in_scale(), mean, std)[0]
    before = np.asarray(net.float_forward(params, xs, spec))
    after = np.asarray(net.float_forward(net.fold_standardization(params, mean, std), a0, spec))
    np.testing.assert_allclose(after, before, rtol=1e-4, atol=1e-4)


def test_numpy_float_baseline_equals_the_training_forward(trained):
    _, result, (xv, _) = trained
    a0 = map_inputs(result.int_model.input_map, xv).astype(np.float32)
    z = np.asarray(net.float_forward(result.float_params, a0, result.spec))
    y = z * result.stats.y_std + result.stats.y_mean
    baseline = float_predict(result.int_model, result.float_params, result.spec, xv)
    np.testing.assert_allclose(baseline, y, rtol=1e-4, atol=1e-4 * float(result.stats.y_std.max()))
