"""Shared pieces of the C generator (codegen/cgen.py): exact integer helpers, the per-layer
constants both variants start from, and the comment text and banner every generated file has."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np

from qnn.intmodel import INT32_MAX, INT32_MIN, IntLayer, IntModel, rnd

# --- exact integer helpers ---------------------------------------------------------------


def _u32(v: int) -> int:
    return int(v) % (1 << 32)


def _i32(v: int) -> int:
    """v mod 2^32 as the int32 with the same bit pattern."""
    v = _u32(v)
    return v - (1 << 32) if v > INT32_MAX else v


def _lit(v: int) -> str:
    """An int32 C literal (INT32_MIN has no literal of its own)."""
    v = int(v)
    return "(-2147483647 - 1)" if v == INT32_MIN else str(v)


def _c_array(ctype: str, name: str, values, per_line: int = 16, width: int = 0) -> str:
    vals = [_lit(v) if ctype.startswith("int32") else str(int(v)) for v in values]
    lines = []
    for k in range(0, len(vals), per_line):
        lines.append("    " + ", ".join(s.rjust(width) for s in vals[k : k + per_line]) + ",")
    body = "\n".join(lines)
    return f"static const {ctype} {name}[{len(vals)}] = {{\n{body}\n}};\n"


def _act_type(span: int) -> str:
    return "uint8_t" if span <= 0xFF else "uint16_t"


@dataclass
class _Stage:
    """One dense layer, rewritten for the C (all constants exact, see _REQUANT_DOC)."""

    k: int  # 1-based layer number
    layer: IntLayer
    in_lo: int  # the input activation is stored as au = a - in_lo >= 0
    in_type: str
    out_type: str  # uint8_t / uint16_t for hidden layers, int16_t for the output layer
    last: bool
    shift: int | None  # uniform shift, or None for a per-channel table
    mult: np.ndarray  # per-channel multiplier (after shift normalisation)
    shifts: np.ndarray  # per-channel shift (after normalisation)


def _acc_range(layer: IntLayer, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    W = layer.weights.astype(object)
    t1, t2 = W * lo, W * hi
    mins = np.minimum(t1, t2).sum(axis=1) + layer.bias.astype(object)
    maxs = np.maximum(t1, t2).sum(axis=1) + layer.bias.astype(object)
    return mins, maxs


def _uniform_shift(layer: IntLayer, in_lo: int, in_hi: int) -> tuple[int | None, np.ndarray,
                                                                       np.ndarray]:
    """Normalise per-channel (M, n) to one shift n_max when it stays exact: with k = n_max - n,
    ((acc*M + rnd(n)) << k) >> n_max == (acc*M + rnd(n)) >> n as long as the shifted product
    still fits int32 (checked here with Python integers over the whole accumulator range)."""
    M = [int(m) for m in layer.multiplier]
    n = [int(s) for s in layer.shift]
    nmax = max(n)
    if min(n) == nmax:
        return nmax, np.array(M, dtype=np.int64), np.array(n, dtype=np.int64)
    a_lo, a_hi = _acc_range(layer, in_lo, in_hi)
    for i in range(layer.n_out):
        kk = nmax - n[i]
        r = int(rnd(n[i]))
        for acc in (int(a_lo[i]), int(a_hi[i])):
            v = (acc * M[i] + r) << kk
            if not INT32_MIN <= v <= INT32_MAX or (M[i] << kk) > INT32_MAX:
                return None, np.array(M, dtype=np.int64), np.array(n, dtype=np.int64)
    M2 = [m << (nmax - s) for m, s in zip(M, n, strict=True)]
    return nmax, np.array(M2, dtype=np.int64), np.full(len(M), nmax, dtype=np.int64)


def _rnd_scaled(layer: IntLayer, i: int, n_eff: int) -> int:
    """The rounding term for channel i, scaled like its multiplier after normalisation."""
    n = int(layer.shift[i])
    return int(rnd(n)) << (n_eff - n)


def _stages(model: IntModel) -> list[_Stage]:
    stages = []
    lo, hi = model.input_map.lo, model.input_map.hi
    for k, layer in enumerate(model.layers):
        last = k == len(model.layers) - 1
        shift, mult, shifts = _uniform_shift(layer, lo, hi)
        out_type = "int16_t" if last else _act_type(layer.hi - layer.lo)
        stages.append(_Stage(k + 1, layer, lo, _act_type(hi - lo), out_type, last, shift,
                             mult, shifts))
        lo, hi = layer.lo, layer.hi
    return stages


# --- text pieces -------------------------------------------------------------------------

_REQUANT_DOC = """\
/*
 * The arithmetic (the bit-exact specification is qnn/intmodel.py):
 *
 *   input map  a0[j] = clamp((x[j] - zp[j]) * m[j] + rnd(s[j])) >> s[j], LO0, HI0)
 *   layer      acc   = b[i] + sum_j W[i][j] * a[j]                       (int32)
 *              y[i]  = clamp((acc * M[i] + rnd(n[i])) >> n[i], lo, hi)
 *
 * with rnd(n) = 2^(n-1) (0 for n = 0): round half up. Every product is a 32x32->32 MULS: the
 * overflow proof (qnn/overflow.py, checked again before this file was written) bounds acc,
 * each partial sum and acc * M + rnd(n) inside int32 for every uint16 input, so no 64-bit
 * product, no division and no library helper is needed.
 *
 * Because that final value fits int32, it may be computed modulo 2^32 (in uint32_t, where
 * wrap-around is defined) in any order: the result mod 2^32 is the true value, which is then
 * read back as int32_t. So constants can be folded freely; the variant's comment below says
 * how.
 *
 * Assumptions, checked at compile time below: int is 32 bits, `>>` of a negative int32_t is
 * an arithmetic shift and uint32_t -> int32_t conversion wraps (both are GCC's documented
 * implementation-defined behaviour, and what ASRS does on the Cortex-M0).
 */
"""

_ASSUMPTIONS = """\
/* Compile-time checks of the assumptions above (C99: a negative array size is an error). */
typedef char qnn_check_int32[(sizeof(int) == 4) ? 1 : -1];
typedef char qnn_check_asr[((-7 >> 1) == -4) ? 1 : -1];
typedef char qnn_check_wrap[((int32_t)0xFFFFFFFFu == -1) ? 1 : -1];
"""


def _banner(model: IntModel, variant: str, what: str) -> str:
    sizes = "-".join(str(s) for s in model.sizes)
    wb = ", ".join(str(L.w_bits) for L in model.layers)
    ab = ", ".join(str(L.a_bits) for L in model.layers[:-1]) or "-"
    src = model.meta.get("source") or model.meta.get("run") or "int_model.json"
    n_w = sum(L.weights.size for L in model.layers)
    return (
        f"/* {what}\n"
        f" *\n"
        f" * qnn-tui integer network {sizes} ({model.n_macs} multiply-accumulates, {n_w} "
        f"weights), variant \"{variant}\".\n"
        f" * Model: {src}.\n"
        f" * Bits: input map {model.input_map.bits}, weights per layer {wb}, hidden "
        f"activations {ab}, outputs int16.\n"
        f" * Generated by qnn-tui codegen/cgen.py on {datetime.date.today().isoformat()}: "
        f"do not edit, re-export instead.\n"
        f" * Plain C99, integer only: no float, no 64-bit arithmetic, no division, no\n"
        f" * allocation, no global mutable state.\n"
        f" */\n"
    )



def _clamp_store(lo: int, hi: int, dst: str, ctype: str, offset: bool) -> list[str]:
    """clamp(v, lo, hi), then store it (minus lo when `offset`): one unsigned compare on the
    common path, since (uint32_t)(v - lo) > hi - lo exactly when v is outside [lo, hi]."""
    span = hi - lo
    if lo == 0:
        lines = [f"if (QNN_UNLIKELY((uint32_t)v > {span}u)) v = (v < 0) ? 0 : {hi};"]
    else:
        lines = [f"if (QNN_UNLIKELY((uint32_t)v - (uint32_t)({lo}) > {span}u)) "
                 f"v = (v < {lo}) ? {lo} : {hi};"]
    val = f"v - ({lo})" if offset and lo != 0 else "v"
    return lines + [f"{dst} = ({ctype})({val});"]

