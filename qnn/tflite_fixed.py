"""TFLite's fixed-point primitives in numpy (int64 arrays holding int32 values), from its
kernels' common code: QuantizeMultiplier turns a real rescale into a Q31 multiplier and a
shift; MultiplyByQuantizedMultiplier applies it with a 64-bit product, rounded once
(TFLITE_SINGLE_ROUNDING, as LiteRT and TensorFlow's default kernels are built) or twice (the
gemmlowp form: SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT: builds without
TFLITE_SINGLE_ROUNDING, such as TensorFlow 2.19's tf.lite reference kernels)."""

from __future__ import annotations

import math

import numpy as np

ROUNDINGS = ("single", "double")


def round_half_away(v: np.ndarray | float) -> np.ndarray:
    """std::round / TfLiteRound: to nearest, ties away from zero (in float64, exactly)."""
    v = np.asarray(v, dtype=np.float64)
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier: real = M0 * 2^(shift - 31), M0 in [2^30, 2^31) (0 for real 0)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    scaled = q * 2.0**31  # exact: a power-of-two scaling
    m0 = math.floor(scaled) + (1 if scaled - math.floor(scaled) >= 0.5 else 0)
    if m0 == 2**31:
        m0, shift = m0 // 2, shift + 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        return 2**31 - 1, 30
    return int(m0), int(shift)


def srdhm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul: a * b / 2^31 rounded half up (what its nudge of
    +-2^30 and C's truncating division amount to), from the 64-bit product the M0 lacks."""
    ab = np.asarray(a, np.int64) * np.asarray(b, np.int64)
    v = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    q = np.where(v >= 0, v >> 31, -((-v) >> 31))
    return np.where((a == -(2**31)) & (b == -(2**31)), 2**31 - 1, q)


def rdbp(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """RoundingDivideByPOT: x / 2^exponent rounded half away from zero."""
    x = np.asarray(x, np.int64)
    e = np.asarray(exponent, np.int64)
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def mbqm(x: np.ndarray, m0: np.ndarray, shift: np.ndarray, rounding: str = "single"
         ) -> np.ndarray:
    """MultiplyByQuantizedMultiplier(x, M0, shift). "single": TFLITE_SINGLE_ROUNDING, one
    round-half-up of the 64-bit product, (x * M0 + 2^(30 - shift)) >> (31 - shift), as LiteRT
    builds it; "double": the gemmlowp form, SRDHM then RoundingDivideByPOT."""
    shift = np.asarray(shift, np.int64)
    x = np.asarray(x, np.int64)
    if rounding == "single":
        total = 31 - shift
        return (x * np.asarray(m0, np.int64) + (np.int64(1) << (total - 1))) >> total
    left = np.maximum(shift, 0)
    return rdbp(srdhm(x << left, m0), np.maximum(-shift, 0))
