"""The integer-exact training phase is what it claims: its loss is the int32 network's, the
fake-quant network only carries its gradient (straight-through)."""

import jax
import jax.numpy as jnp
import numpy as np
from test_train import synthetic

from qnn import network as net
from qnn.config import TrainConfig
from qnn.epoch import loss_fn
from qnn.intmodel import map_inputs
from qnn.stats import compute_stats
from qnn.steps import init_steps


def test_the_int_phase_loss_is_the_int32_networks_and_its_gradient_the_fake_quant_ones():
    cfg = TrainConfig(hidden=(8,), w_bits=3, a_bits=3, in_bits=6)  # coarse: fq != int32
    x, y = synthetic(512, 1)
    stats = compute_stats(x, y, cfg.in_bits, cfg.out_lsb, cfg.m_bits)
    consts = net.make_consts(stats)
    spec = cfg.spec(6, 6)
    a0 = jnp.asarray(map_inputs(stats.input_map, x).astype(np.float32))
    yn = jnp.asarray(((y - stats.y_mean) / stats.y_std).astype(np.float32))
    x32 = jnp.asarray(x.astype(np.int32))
    params = init_steps(net.init_params(np.random.default_rng(0), spec), a0, spec)

    quantized_loss = loss_fn(True, spec, consts)  # both quantized phases: `exact` says which

    def int_loss(p, *data):
        return quantized_loss(p, 1.0, *data)

    def fq_loss(p, *data):
        return quantized_loss(p, 0.0, *data)

    exact = net.int_to_norm(net.int_forward(net.to_int_params(params, spec, consts), x32, spec,
                                            consts), consts)
    want = float(jnp.mean((exact - yn) ** 2))
    got, fq = float(int_loss(params, a0, x32, yn)), float(fq_loss(params, a0, x32, yn))
    assert abs(fq - want) > 1e-4 * want  # the two networks differ on this model ...
    assert np.isclose(got, want, rtol=1e-6)  # ... and the int phase reports the int32 one
    # straight-through: d/dp mean((fq(p) + const - y)^2) = mean(2 (int32 - y) dfq/dp)
    residual = 2 * (exact - yn)
    g_want = jax.grad(lambda p: jnp.mean(residual * net.fq_forward(p, a0, spec, consts)))(params)
    g_int = jax.grad(int_loss)(params, a0, x32, yn)
    for a, b in zip(jax.tree.leaves(g_int), jax.tree.leaves(g_want), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6)
    assert any(float(jnp.abs(a).max()) > 0 for a in jax.tree.leaves(g_int))
