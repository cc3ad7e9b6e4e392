"""One epoch of training, jitted: a lax.scan of Adam steps over shuffled mini-batches, then
the validation losses. The loss (float, fake-quantized or integer-exact forward), the
oscillation penalty and the quantizer steps' update rule live here; qnn.train runs the
phases over these epochs, and qnn.grid vmaps the same epoch over bit-width configurations.

Everything data-, phase- or schedule-dependent is an argument of the epoch, nothing is
baked in, so two compiles (float and quantized) serve every run of a network, and JAX's
persistent compile cache hits across processes.
"""

from __future__ import annotations

import functools
import os
import threading

import jax
import jax.numpy as jnp
import numpy as np
import optax

from qnn import network as net

# Compiles dominate short runs; keep them across processes (CLI, tests, the workbench).
jax.config.update("jax_compilation_cache_dir", os.environ.get(
    "QNN_JAX_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "qnn-tui", "jax")))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


def loss_fn(quantized: bool, spec: net.NetSpec, consts):
    """The training loss: MSE of standardised predictions, of the float network or of the
    quantized one. With `exact` = 1 (the int phase) the quantized forward value is the
    integer-exact network's, so the loss is the exported model's, while gradients flow
    through the fake-quantized one (straight-through); with 0 (qat) it is the fake-quantized
    network's. A traced number rather than a Python flag: both phases share one compile."""
    def loss(params, exact, a0, x_u16, yn):
        if not quantized:
            return jnp.mean((net.float_forward(params, a0, spec) - yn) ** 2)
        def with_exact(pred):
            ip = jax.lax.stop_gradient(net.to_int_params(params, spec, consts))
            exact_pred = net.int_to_norm(net.int_forward(ip, x_u16, spec, consts), consts)
            return pred + jax.lax.stop_gradient(exact_pred - pred)

        pred = net.fq_forward(params, a0, spec, consts)
        # A cond, not a product with `exact`: the qat phase skips the integer network's cost
        # (most of a quantized step's); `exact` is shared by vmapped configurations
        # (qnn.grid), so it stays a cond there too.
        pred = jax.lax.cond(exact > 0, with_exact, lambda p: p, pred)
        return jnp.mean((pred - yn) ** 2)

    return loss


def oscillation_penalty(params, spec: net.NetSpec, consts=None) -> jax.Array:
    """Mean squared distance of each weight from the centre of its quantization bin, in steps
    (Nagel et al., 2022, "Overcoming oscillations in quantization-aware training"). With the
    straight-through estimator, low-bit weights settle on bin boundaries and flip between two
    integers from step to step; weighted up over the quantized phases, this term pulls them
    into their bins, so the integer network stops changing under the optimizer's noise."""
    total = 0.0
    for k, layer in enumerate(params):
        lo, hi = net.w_range(spec, consts, k)
        s = jax.lax.stop_gradient(net.step(layer["sw"]))[:, None]
        v = jnp.clip(layer["w"] / s, lo, hi)
        total = total + jnp.mean((v - jax.lax.stop_gradient(jnp.floor(v + 0.5))) ** 2)
    return total


FULL_RATE_QP = 7  # weight grids up to 4 bits learn their steps at the full rate (see below)
ADAM = optax.scale_by_adam()  # the learning rate is applied per step, from the schedule


def relative_step_updates(updates, params, learn_steps, spec: net.NetSpec, consts=None):
    """Adam's update of each quantizer step scaled by the step itself (times `learn_steps`,
    0 or 1). Adam moves every parameter by about the learning rate whatever its gradient's
    size, so LSQ's gradient scaling is lost on it, and a 0.01 activation step would change by
    half of itself per update; scaled, steps move in proportion (as if learned in log
    space). A weight step of a grid finer than 4 bits (Qp > 7, Qp: the layer's largest weight
    integer) moves only 1/sqrt(Qp) as fast, the bit-width part of LSQ's gradient scale.
    Measured: at full rate 8-bit weight steps drifted until whole channels clipped, and the
    default 8-bit run's validation loss rose tenfold within the QAT phase; at 1/sqrt(Qp) for
    4-bit and coarser grids too, their steps (which must travel far from the
    initialisation) lagged, and arm2's 4-bit test MSE rose by half. So <= 4 bits keep the
    full rate."""
    def rate(k: int):
        qp = jnp.asarray(net.w_range(spec, consts, k)[1], jnp.float32)
        return learn_steps * jnp.where(qp > FULL_RATE_QP, 1.0 / jnp.sqrt(qp), 1.0)

    return [{key: (u * jnp.abs(layer[key]) * (rate(k) if key == "sw" else learn_steps)
                   if key in ("sw", "sa") else u)
             for key, u in upd.items()}
            for k, (upd, layer) in enumerate(zip(updates, params, strict=True))]


@functools.lru_cache(maxsize=64)
def epoch_fn(quantized: bool, spec: net.NetSpec):
    """`epoch_body` jitted, once per network (qnn.grid vmaps the body over configurations)."""
    return jax.jit(epoch_body(quantized, spec))


def epoch_body(quantized: bool, spec: net.NetSpec):
    """One jitted epoch: a lax.scan of Adam steps over the given batches (row indices) with
    their learning rates and oscillation-penalty weights, then the validation losses (one
    call, one compile). Everything data-, phase- or schedule-dependent is an argument,
    nothing is baked in, so two compiles (float and quantized) serve every run of this
    network, and the persistent compile cache hits across processes. `learn_steps` = 0
    freezes the quantizer steps (the int phase: the dyadic multipliers depend on them);
    `decay` is the weight decay per step, relative to the learning rate."""

    def epoch(params, adam_state, lrs, dampen, batches, exact, learn_steps, decay, consts, data,
              val):
        loss = loss_fn(quantized, spec, consts)
        a0, x_u16, yn = data

        def objective(params, lam, rows):
            task = loss(params, exact, a0[rows], x_u16[rows], yn[rows])
            if not quantized:
                return task, task
            return task + lam * oscillation_penalty(params, spec, consts), task

        def step(carry, schedule):
            params, adam_state = carry
            lr, lam, rows = schedule
            grads, task = jax.grad(objective, has_aux=True)(params, lam, rows)
            updates, adam_state = ADAM.update(grads, adam_state)
            updates = relative_step_updates(updates, params, learn_steps, spec, consts)
            params = [{k: p - lr * (updates[i][k] + (decay * p if k == "w" else 0))
                       for k, p in layer.items()} for i, layer in enumerate(params)]
            return (params, adam_state), task

        (params, adam_state), losses = jax.lax.scan(step, (params, adam_state),
                                                    (lrs, dampen, batches))
        return params, adam_state, jnp.mean(losses), validate(params, quantized, spec, consts, val)

    return epoch


def validate(params, quantized: bool, spec: net.NetSpec, consts, val):
    """Validation MSE (standardised) of the float, fake-quantized and integer-exact networks
    (the last two NaN for a float network: its quantizer steps are not set yet)."""
    a0, x_u16, yn = val
    v_float = jnp.mean((net.float_forward(params, a0, spec) - yn) ** 2)
    if not quantized:
        return v_float, jnp.float32(jnp.nan), jnp.float32(jnp.nan)
    ip = net.to_int_params(params, spec, consts)
    exact = net.int_to_norm(net.int_forward(ip, x_u16, spec, consts), consts)
    return (v_float, jnp.mean((net.fq_forward(params, a0, spec, consts) - yn) ** 2),
            jnp.mean((exact - yn) ** 2))


adam_init = jax.jit(ADAM.init)  # jitted: op by op, its zeros would each compile


def precompile_quantized(spec: net.NetSpec, params, n_batches: int, batch: int, consts,
                         data, val) -> threading.Thread:
    """Compile the quantized phases' epoch in a background thread while the float phase
    runs. On a cold compile cache this hides most of its seconds-long XLA compile behind the
    float epochs (XLA compiles without the GIL); the quantized phase then finds it in the
    persistent compile cache. The params only give shapes (the float network's placeholder
    steps have the quantized phase's)."""
    def abstract(tree):
        return jax.tree.map(lambda v: jax.ShapeDtypeStruct(np.shape(v), np.asarray(v).dtype),
                            tree)

    f32 = jax.ShapeDtypeStruct((), np.float32)
    args = (abstract(params), jax.eval_shape(ADAM.init, params),
            jax.ShapeDtypeStruct((n_batches,), np.float32),
            jax.ShapeDtypeStruct((n_batches,), np.float32),
            jax.ShapeDtypeStruct((n_batches, batch), np.int32), f32, f32, f32,
            abstract(consts), abstract(data), abstract(val))
    thread = threading.Thread(target=lambda: epoch_fn(True, spec).lower(*args).compile(),
                              daemon=True)
    thread.start()
    return thread
