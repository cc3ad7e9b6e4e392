"""Quantization primitives, written out (no framework).

Every quantizer here returns values on an integer grid; the docstring of each states the exact
integer range and the rounding, so the integer model (qnn.intmodel) can match it.
Rounding is round-half-up, floor(v + 1/2), because that is what `(v + 2^(n-1)) >> n` does
in the C; jnp.round would round half to even and disagree on exact halves.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def _round_half_up(x: jax.Array) -> jax.Array:
    """floor(x + 1/2) forward; identity gradient (the straight-through estimator)."""
    return jnp.floor(x + 0.5)


def _round_ste_jvp(primals, tangents):
    (x,), (dx,) = primals, tangents
    return round_ste(x), dx


# custom_jvp applied by calls, not as decorators: the two stay plain functions, which the
# mutation tester mutates (it leaves decorated functions alone; see docs/mutation.md)
round_ste = jax.custom_jvp(_round_half_up)
round_ste.defjvp(_round_ste_jvp)


def scale_grad(x: jax.Array, g: float | jax.Array) -> jax.Array:
    """x forward, g * dL/dx backward (LSQ's step-size gradient scale)."""
    return jax.lax.stop_gradient(x - x * g) + x * g


def lsq_int(x: jax.Array, step: jax.Array, *, lo: int, hi: int) -> jax.Array:
    """Learned Step Size Quantization (Esser et al., 2019), integer part.

    Returns q = clamp(floor(x / step + 1/2), lo, hi): floats holding integers in [lo, hi].
    Gradients: d q*step / dx = 1 inside [lo, hi] and 0 outside (straight through the
    rounding, stopped by the clamp); d q*step / d step = q - x/step inside, lo or hi outside,
    which is exactly LSQ's step gradient. The caller scales the step's gradient by
    1/sqrt(numel * hi) with `scale_grad`, as the paper recommends.
    """
    return round_ste(jnp.clip(x / step, lo, hi))


def fake_quant(x: jax.Array, step: jax.Array, *, bits: int, signed: bool) -> jax.Array:
    """x rounded to the grid step * {lo..hi}, with LSQ gradients.

    signed:   integers in [-2^(bits-1), 2^(bits-1) - 1]  (weights)
    unsigned: integers in [0, 2^bits - 1]                (ReLU activations: the clamp at 0
              is the ReLU, so no separate nonlinearity is needed)
    """
    return fake_quant_range(x, step, *int_range(bits, signed))


def fake_quant_range(x: jax.Array, step: jax.Array, lo, hi) -> jax.Array:
    """`fake_quant` with the integer range given directly: Python ints, or traced numbers
    when bit widths are data (configurations trained side by side, see qnn.grid)."""
    g = 1.0 / jnp.sqrt(x.size * hi)
    s = scale_grad(step, g)
    return lsq_int(x, s, lo=lo, hi=hi) * s


def int_range(bits: int, signed: bool) -> tuple[int, int]:
    if signed:
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def lsq_init_step(x: jax.Array, bits: int, signed: bool, axis=None) -> jax.Array:
    """LSQ's initial step: 2 * mean|x| / sqrt(hi)."""
    _, hi = int_range(bits, signed)
    return 2.0 * jnp.mean(jnp.abs(x), axis=axis) / jnp.sqrt(hi) + 1e-8
