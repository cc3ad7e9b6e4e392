"""Random but valid integer models, for property tests and for codegen work that should not
wait for training. Not used by the product itself."""

from __future__ import annotations

import numpy as np

from qnn.dyadic import choose_multiplier
from qnn.intmodel import INT16_MAX, INT16_MIN, InputMap, IntLayer, IntModel


def random_int_model(
    sizes: tuple[int, ...] = (6, 16, 16, 6),
    w_bits: int | tuple[int, ...] = 8,
    a_bits: int = 8,
    in_bits: int = 12,
    seed: int = 0,
    m_bits: int = 8,
) -> IntModel:
    """A model whose multipliers make the outputs span (and sometimes hit) each clamp, with
    M <= 2^m_bits - 1 like training's (m_bits=15 puts products near the int32 edge)."""
    rng = np.random.default_rng(seed)
    n_in, n_layers = sizes[0], len(sizes) - 1
    wb = (w_bits,) * n_layers if isinstance(w_bits, int) else tuple(w_bits)
    zp = rng.integers(16000, 50000, n_in)
    half = 65535.0
    im_scale = (2 ** (in_bits - 1)) / (half * rng.uniform(0.3, 1.0, n_in))
    m_max = 2**m_bits - 1
    im_m, im_n = choose_multiplier(im_scale, np.full(n_in, 65535), m_max)
    input_map = InputMap(zp, im_m, im_n, in_bits, step=2.0**im_n / im_m)
    layers = []
    amax = 2 ** (in_bits - 1)
    for k in range(n_layers):
        fan_in, fan_out = sizes[k], sizes[k + 1]
        wmax = 2 ** (wb[k] - 1)
        W = rng.integers(-wmax, wmax, (fan_out, fan_in))
        spread = np.abs(W).sum(axis=1) * amax
        b = rng.integers(-1, 2, fan_out) * (spread // 4)
        bound = spread + np.abs(b)
        last = k == n_layers - 1
        lo, hi = (INT16_MIN, INT16_MAX) if last else (0, 2**a_bits - 1)
        scale = 2.5 * hi / np.maximum(bound, 1) * rng.uniform(0.5, 1.5, fan_out)
        M, n = choose_multiplier(scale, bound, m_max)
        layers.append(IntLayer(W, b, M, n, lo, hi, wb[k], 16 if last else a_bits))
        amax = hi
    return IntModel(
        input_map,
        layers,
        [f"s{j}" for j in range(n_in)],
        [f"y{i}" for i in range(sizes[-1])],
        ["mm"] * sizes[-1],
        [0.001] * sizes[-1],
        {"source": "random_int_model", "seed": seed},
    )


def small_int_model() -> IntModel:
    """A hand-made model whose every range is worked out on paper (test_overflow, test_plan):
    two uint16 inputs -> 4 hidden channels (one input each, the other weight 0) -> 1 output.

    Input map, 4 bits (a0 in [-8, 7]): zero points 100 and 60000, multipliers 3 and 2,
    shifts 2 and 0. Hidden accumulators, a0 in [-8, 7]:
        ch 0, 2: -20 + 10 a -> [-100, 50];  ch 1, 3: 20 - 10 a -> [-50, 100]
    with (M, n) = (1, 1), (0, 0), (3, 0), (3, 0), so that each of |acc_lo|, |acc_hi|,
    |prod_lo|, |prod_hi| is the worst of one channel. Output: 5 + a0 - 2 a1 + 3 a3 on
    activations in [0, 15], M = 2, n = 3."""
    im = InputMap(np.array([100, 60000]), np.array([3, 2]), np.array([2, 0]), 4)
    hidden = IntLayer(np.array([[10, 0], [-10, 0], [10, 0], [-10, 0]]),
                      np.array([-20, 20, -20, 20]), np.array([1, 0, 3, 3]),
                      np.array([1, 0, 0, 0]), 0, 15, 8, 4)
    out = IntLayer(np.array([[1, -2, 0, 3]]), np.array([5]), np.array([2]), np.array([3]),
                   -32768, 32767, 4, 16)
    return IntModel(im, [hidden, out], ["x0", "x1"], ["y"], ["mm"], [1.0])
