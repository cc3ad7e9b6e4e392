"""The quantization primitives: exact integer ranges, round-half-up, LSQ gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qnn.dyadic import M_MAX, choose_multiplier
from qnn.quant import fake_quant, int_range, lsq_int, round_ste
from qnn.stats import input_map_from_data, nice_step, output_lsb


def test_round_ste_rounds_half_up_and_passes_gradient_through():
    x = jnp.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.4999])
    np.testing.assert_array_equal(round_ste(x), [-2, -1, 0, 1, 2, 2])
    np.testing.assert_array_equal(jax.grad(lambda v: round_ste(v).sum())(x), np.ones(6))


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
