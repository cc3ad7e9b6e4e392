"""Dyadic multipliers: a real scale r > 0 approximated as M * 2^-n with integer M, n.

The requantization `(acc * M + rnd(n)) >> n` multiplies in int32, so (M, n) are chosen from
a bound |acc| <= B: the largest n in [0, 30] with M = round(r * 2^n) <= m_max and
B * M + 2^(n-1) <= 2^31 - 1. A larger n gives a more precise M; the bound caps it.
M_MAX = 2^15 - 1 keeps M storable as int16 and still gives 14-15 significant bits; training
uses m_max = 2^m_bits - 1 (8 bits by default, see qnn.config).
"""

from __future__ import annotations

import numpy as np

M_MAX = 2**15 - 1
N_MAX = 30
INT32_MAX = 2**31 - 1


def choose_multiplier(scale: np.ndarray, bound: np.ndarray,
                      m_max: int = M_MAX) -> tuple[np.ndarray, np.ndarray]:
    """Per channel (M, n) for real `scale` and accumulator bound `bound` (numpy, exact ints),
    M <= m_max; a scale above m_max gets (m_max, 0), the closest there is."""
    scale = np.atleast_1d(np.asarray(scale, dtype=np.float64))
    bound = np.atleast_1d(np.asarray(bound, dtype=np.int64))
    M = np.zeros(scale.shape, dtype=np.int64)
    n = np.zeros(scale.shape, dtype=np.int64)
    for i, (r, b) in enumerate(zip(scale, bound, strict=True)):
        for shift in range(N_MAX, -1, -1):
            m = int(np.floor(r * 2.0**shift + 0.5))
            if m <= m_max and int(b) * m + ((1 << shift) >> 1) <= INT32_MAX:
                M[i], n[i] = max(m, 1) if r > 0 else 0, shift
                break
        else:
            M[i], n[i] = min(m_max, max(1, int(np.floor(r + 0.5)))), 0
    return M, n
