"""Initial quantizer steps for QAT: the step that minimises the quantization MSE of each
tensor, found by a small grid search over fractions of its largest magnitude. (LSQ's own
2 mean|x| / sqrt(hi) underuses an 8-bit range; the search suits every width from 2 to 8.)"""

from __future__ import annotations

import numpy as np

from qnn import network as net
from qnn.quant import int_range

FRACTIONS = np.linspace(0.04, 1.0, 49)


def mse_step(x: np.ndarray, bits: int, signed: bool) -> np.ndarray:
    """Per row of x ([rows, n]): the step s minimising mean((clip(round(x/s)) s - x)^2)."""
    lo, hi = int_range(bits, signed)
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    target = x if signed else np.maximum(x, 0)
    peak = np.maximum(np.abs(target).max(axis=1, keepdims=True), 1e-8)
    best = np.full(x.shape[0], np.inf)
    step = peak[:, 0] / hi
    for f in FRACTIONS:
        s = peak * f / hi
        err = ((np.clip(np.floor(x / s + 0.5), lo, hi) * s - target) ** 2).mean(axis=1)
        better = err < best
        best = np.where(better, err, best)
        step = np.where(better, s[:, 0], step)
    return step


def init_steps(params, a0_sample, spec: net.NetSpec, only_changed: net.NetSpec | None = None):
    """Set sw (per channel) and sa (per layer) from the weights and a sample of activations.

    With `only_changed`, keep the steps of every quantizer whose bit width is unchanged.
    """
    x = np.asarray(a0_sample, dtype=np.float64) * spec.in_scale()
    out = []
    for k, layer in enumerate(params):
        layer = dict(layer)
        w = np.asarray(layer["w"], dtype=np.float64)
        if only_changed is None or only_changed.w_bits[k] != spec.w_bits[k]:
            layer["sw"] = mse_step(w, spec.w_bits[k], signed=True).astype(np.float32)
        z = x @ w.T + np.asarray(layer["b"])
        if k < spec.n_layers - 1:
            if only_changed is None or only_changed.a_bits[k] != spec.a_bits[k]:
                sa = mse_step(z.reshape(1, -1), spec.a_bits[k], signed=False)[0]
                layer["sa"] = np.float32(sa)
            x = np.maximum(z, 0)
        out.append(layer)
    return out
