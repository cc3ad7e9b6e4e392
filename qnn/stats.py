"""Constants derived from the training data: the input map and the output units."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qnn.dyadic import choose_multiplier
from qnn.intmodel import InputMap


@dataclass(frozen=True)
class DataStats:
    input_map: InputMap
    y_mean: np.ndarray  # [n_out], physical units
    y_std: np.ndarray
    out_lsb: np.ndarray  # physical value of one int16 output LSB


def nice_step(x: float) -> float:
    """The smallest of 1, 2, 5 x 10^k that is >= x (units a person can read in a header)."""
    k = math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * 10.0**k >= x * (1 - 1e-12):
            return float(f"{m * 10.0**k:.12g}")
    raise AssertionError("unreachable")


def output_lsb(y: np.ndarray, headroom: float = 1.5) -> np.ndarray:
    """Per output: a nice unit such that headroom * max|y| fits in int16."""
    peak = np.maximum(np.abs(y).max(axis=0), 1e-9) * headroom
    return np.array([nice_step(p / 32767) for p in peak])


def input_map_from_data(x_u16: np.ndarray, bits: int, margin: float = 0.05,
                        m_bits: int = 8) -> InputMap:
    """Centre each input's observed range on zero and stretch it (plus a margin) over the
    signed `bits` range; the rescale is a dyadic multiplier M 2^-n, so the C needs no
    division. M has m_bits like every other multiplier: the map only has to cover the range
    (8 bits put it within 1/256 of the ideal stretch), and a small M lets the compact C keep
    each input's constants in one word."""
    lo = x_u16.min(axis=0).astype(np.float64)
    hi = x_u16.max(axis=0).astype(np.float64)
    zp = np.floor((lo + hi) / 2 + 0.5).astype(np.int64)
    half = np.maximum((hi - lo) / 2 * (1 + margin), 1.0)
    scale = (2 ** (bits - 1) - 1) / half  # LSBs per count
    bound = np.maximum(zp, 65535 - zp)
    m, n = choose_multiplier(scale, bound, 2**m_bits - 1)
    return InputMap(zp, m, n, bits, step=2.0**n / np.maximum(m, 1))  # counts per LSB


def compute_stats(x_u16: np.ndarray, y: np.ndarray, in_bits: int,
                  out_lsb: np.ndarray | None = None, m_bits: int = 8) -> DataStats:
    y = np.asarray(y, dtype=np.float64)
    lsb = output_lsb(y) if out_lsb is None else np.asarray(out_lsb, dtype=np.float64)
    return DataStats(input_map_from_data(x_u16, in_bits, m_bits=m_bits), y.mean(axis=0),
                     np.maximum(y.std(axis=0), 1e-9), lsb)


def input_moments(a0: np.ndarray, in_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of each input as the float network sees it (a0 * in_scale). The input
    map only centres each reading's range, so a reading may sit at std 0.2 off centre; the
    float phase trains on standardised inputs so that Adam moves every first-layer weight at
    the same pace (qnn.network.fold_standardization folds them back afterwards)."""
    x = np.asarray(a0, np.float64) * in_scale
    return x.mean(axis=0), np.maximum(x.std(axis=0), 1e-6)


def standardized(data: tuple, in_scale: float, mean: np.ndarray, std: np.ndarray) -> tuple:
    """(a0, x_u16, yn) with a0 replaced by the standardised inputs (still in a0's units, so
    the float forward's in_scale applies unchanged)."""
    a0, x_u16, yn = data
    xs = (np.asarray(a0, np.float64) * in_scale - mean) / std / in_scale
    return xs.astype(np.float32), x_u16, yn
