"""What the training loop feeds its jitted epochs, computed in numpy: the per-step learning
rates and oscillation-penalty weights of a phase, and each epoch's shuffled batches.

Schedules are arrays passed as arguments rather than optax schedules baked into the
compiled step, so one compile serves every learning rate, length and batch count (and the
persistent compile cache hits across runs).
"""

from __future__ import annotations

import numpy as np

WARMUP = 0.25  # fraction of a phase's steps spent raising the learning rate


def one_cycle(peak: float, n_steps: int, warmup: float = WARMUP) -> np.ndarray:
    """Per-step learning rates of Smith's one-cycle policy: a cosine rise from peak/25 to
    `peak` over the first `warmup` fraction of the steps, then a cosine fall to peak/2500.
    The high peak crosses the loss surface fast and the long fall settles into a minimum,
    which lets tens of epochs do the work of hundreds at a constant rate."""
    n_up = min(max(1, int(round(warmup * n_steps))), n_steps)
    t_up = np.linspace(0.0, 1.0, n_up, endpoint=False)
    t_down = np.linspace(0.0, 1.0, n_steps - n_up)
    up = peak / 25 + (peak - peak / 25) * (1 - np.cos(np.pi * t_up)) / 2
    down = peak / 2500 + (peak - peak / 2500) * (1 + np.cos(np.pi * t_down)) / 2
    return np.concatenate([up, down]).astype(np.float32)


def ramp(peak: float, n_steps: int) -> np.ndarray:
    """Per-step weights rising from 0 to `peak` along a half cosine (the oscillation penalty's
    schedule: weights move freely first and are held in their bins by the end)."""
    return (peak * (1 - np.cos(np.pi * np.linspace(0.0, 1.0, n_steps))) / 2).astype(np.float32)


def shuffled_batches(rng: np.random.Generator, n: int, batch: int) -> np.ndarray:
    """[n // batch, batch] row indices of one epoch, drawn in numpy: a jitted
    jax.random.permutation of 20k rows costs more than a whole epoch of a small network."""
    n_batches = n // batch
    return rng.permutation(n)[: n_batches * batch].reshape(n_batches, batch).astype(np.int32)
