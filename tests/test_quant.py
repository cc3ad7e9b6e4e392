"""The quantization primitives: exact integer ranges, round-half-up, LSQ gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qnn.dyadic import M_MAX, choose_multiplier
from qnn.quant import fake_quant, int_range, lsq_init_step, lsq_int, round_ste, scale_grad
from qnn.stats import input_map_from_data, nice_step, output_lsb


def test_round_ste_rounds_half_up_and_passes_gradient_through():
    x = jnp.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.4999])
    np.testing.assert_array_equal(round_ste(x), [-2, -1, 0, 1, 2, 2])
    np.testing.assert_array_equal(jax.grad(lambda v: round_ste(v).sum())(x), np.ones(6))


def test_round_ste_is_the_rounding_inside_gradients_too():
    """Under differentiation the forward value is still the rounded one; the tangent passes
    through unchanged (the straight-through estimator)."""
    x = jnp.array([-1.5, 0.5, 2.2])
    y, t = jax.jvp(round_ste, (x,), (jnp.array([3.0, -2.0, 0.5]),))
    np.testing.assert_array_equal(y, [-1, 1, 2])
    np.testing.assert_array_equal(t, [3.0, -2.0, 0.5])
    value, grad = jax.value_and_grad(lambda v: (round_ste(v) * jnp.array([1, 10, 100])).sum())(x)
    assert float(value) == -1 + 10 + 200
    np.testing.assert_array_equal(grad, [1, 10, 100])


@pytest.mark.parametrize("bits, signed, expected", [
    (2, True, (-2, 1)), (3, True, (-4, 3)), (4, True, (-8, 7)), (8, True, (-128, 127)),
    (16, True, (-32768, 32767)),
    (2, False, (0, 3)), (4, False, (0, 15)), (8, False, (0, 255)),
])
def test_int_range(bits, signed, expected):
    """The integer ranges the docstrings state: what the integer model stores and clamps to."""
    assert int_range(bits, signed) == expected


def test_scale_grad_is_identity_forward_and_scales_the_gradient():
    value, grad = jax.value_and_grad(lambda s: scale_grad(s, 0.25) * 3.0)(2.0)
    assert float(value) == 6.0 and float(grad) == 0.75


# inside the range (q - x/s = -0.2, 0.4, 0.4), above it (q = hi), below it (q = lo); numpy,
# not jnp: nothing of JAX may run at import (the mutation tester forks after collecting)
X = np.array([0.6, -0.2, 1.3, 5.0, -6.0], dtype=np.float32)


@pytest.mark.parametrize("bits, signed, q, dstep, dx", [
    # 4-bit signed, [-8, 7]: step gradient (-0.2 + 0.4 + 0.4 + 7 - 8) / sqrt(5 * 7)
    (4, True, [1, 0, 3, 7, -8], -0.4 / np.sqrt(35), [1, 1, 1, 0, 0]),
    # 2-bit unsigned, [0, 3]: -0.4 clamps to 0 (the ReLU): (-0.2 + 0 + 0.4 + 3 + 0) / sqrt(15)
    (2, False, [1, 0, 3, 3, 0], 3.2 / np.sqrt(15), [1, 0, 1, 0, 0]),
])
def test_fake_quant_values_and_lsq_gradients(bits, signed, q, dstep, dx):
    """Forward: step * q exactly. Backward: 1 or 0 to x; to the step, LSQ's q - x/s inside
    and lo or hi outside, scaled by 1 / sqrt(numel * hi)."""
    step = jnp.float32(0.5)
    np.testing.assert_array_equal(fake_quant(X, step, bits=bits, signed=signed),
                                  0.5 * np.array(q, dtype=np.float32))
    gx, gs = jax.grad(lambda x, s: fake_quant(x, s, bits=bits, signed=signed).sum(),
                      argnums=(0, 1))(X, step)
    np.testing.assert_array_equal(gx, dx)
    assert float(gs) == pytest.approx(dstep, rel=1e-5)


def test_lsq_init_step():
    """2 mean|x| / sqrt(hi), plus 1e-8 so that an all-zero tensor still gets a step > 0."""
    x = jnp.array([[1.0, -3.0], [2.0, -2.0]])  # mean |x| = 2; per column 1.5, 2.5
    assert float(lsq_init_step(x, 4, True)) == pytest.approx(4 / np.sqrt(7), rel=1e-6)
    assert float(lsq_init_step(x, 4, False)) == pytest.approx(4 / np.sqrt(15), rel=1e-6)
    np.testing.assert_allclose(lsq_init_step(x, 4, True, axis=0),
                               [3 / np.sqrt(7), 5 / np.sqrt(7)], rtol=1e-6)
    assert lsq_init_step(x, 4, True, axis=1).shape == (2,)
    zero = float(lsq_init_step(jnp.zeros(3), 8, False))
    assert zero == pytest.approx(1e-8, rel=1e-6)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("signed", [True, False])
def test_fake_quant_stays_on_the_integer_grid(bits, signed):
    lo, hi = int_range(bits, signed)
    x = jnp.linspace(-10, 10, 1001)
    step = jnp.array(0.037)
    q = fake_quant(x, step, bits=bits, signed=signed) / step
    np.testing.assert_allclose(q, np.round(q), atol=1e-4)
    assert round(float(q.min())) == lo and round(float(q.max())) == hi


def test_lsq_gradients_match_the_paper():
    """d(q s)/ds = q - x/s inside the range, lo/hi outside; d(q s)/dx = 1 inside, 0 outside."""
    s = 0.5

    def f(x, step):
        return lsq_int(x, step, lo=-4, hi=3) * step

    for x, ds, dx in [(0.6, 1.0 - 1.2, 1.0), (10.0, 3.0, 0.0), (-10.0, -4.0, 0.0)]:
        gx, gs = jax.grad(f, argnums=(0, 1))(jnp.float32(x), jnp.float32(s))
        assert float(gs) == pytest.approx(ds, abs=1e-6)
        assert float(gx) == dx


def test_choose_multiplier_fits_int32_and_is_precise():
    scale = np.array([1e-4, 0.003, 0.7, 3.0])
    bound = np.array([2**24, 300_000, 1000, 65535])
    m, n = choose_multiplier(scale, bound)
    assert np.all(m <= M_MAX) and np.all(m >= 1)
    assert np.all(bound * m + ((1 << n) >> 1) <= 2**31 - 1)
    rel = np.abs(m / 2.0**n - scale) / scale
    assert np.all(rel < 2e-3)


def test_nice_output_units():
    assert nice_step(0.00061) == 0.001
    assert nice_step(0.0002) == 0.0002
    assert nice_step(0.0031) == 0.005
    lsb = output_lsb(np.array([[10.0, -30.0], [-5.0, 2.0]]))
    assert np.all(1.5 * np.array([10, 30]) / lsb <= 32767)


def test_input_map_spans_the_signed_range():
    x = np.array([[1000, 60000], [3000, 20000], [2000, 40000]], dtype=np.uint16)
    im = input_map_from_data(x, bits=12)
    from qnn.intmodel import map_inputs

    a = map_inputs(im, x)
    assert a.min() >= -2048 and a.max() <= 2047
    assert a[:, 0].max() - a[:, 0].min() > 3500  # uses most of the range
