"""C generation: an `IntModel` -> `qnn_model.h` / `qnn_model.c`, plain C99 for the Cortex-M0.

Two variants compute exactly `qnn.intmodel.predict_int`:

- "compact": one loop over a small stage table (input map, then each layer) runs every
  stage; weights are one stream of offset-binary bytes (w + 128) read in blocks of 8 outputs
  whose accumulators stay in registers, and the per-channel constants are two tables (an
  int32 with the bias-like constant and the shift, a uint16 multiplier). Smallest flash.
- "fast": every weight is an immediate in the code (zero weights skipped, +-1 as add/sub,
  powers of two as shifts), outputs computed in blocks so each activation is loaded once per
  block. Fewest cycles.

Both use the same exact rewriting of the specification (see `_REQUANT_DOC`): all sums are done
modulo 2^32 in `uint32_t` and only the final pre-shift value is read as `int32_t`. Because the
overflow proof (`qnn.overflow`) shows that this true value fits int32, the modular result *is*
the true value, whatever the intermediate terms were; so constants can be folded freely.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qnn.errors import QnnError
from qnn.fileio import atomic_write_text
from qnn.intmodel import INT32_MAX, INT32_MIN, IntLayer, IntModel, rnd
from qnn.overflow import check_export

VARIANTS = ("compact", "fast")
HEADER, SOURCE = "qnn_model.h", "qnn_model.c"
FAST_BLOCK = 4  # outputs computed together in the fast variant (accumulators in registers)


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
 * wrap-around is defined) in any order and with constants folded: the result mod 2^32 is the
 * true value, which is then read back as int32_t. So each channel's bias, rounding term and
 * the zero points of its inputs are folded into ONE constant C[i]:
 *
 *   y[i] = clamp((int32_t)(dot[i] * M[i] + C[i]) >> n[i], lo, hi)
 *
 * where dot[i] is the sum over the stored (non-negative) activations. Activations are stored
 * offset by their clamp's lower bound (au = a - lo >= 0), so they fit uint8_t/uint16_t.
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


def _header(model: IntModel, variant: str, prefix: str) -> str:
    P = prefix.upper()
    guard = f"{P}_MODEL_H"
    im = model.input_map
    lines = [_banner(model, variant, f"{prefix}_model.h: the interface of the generated network.")]
    lines.append(f"#ifndef {guard}\n#define {guard}\n\n#include <stdint.h>\n")
    lines.append(f"#define {P}_N_IN {model.n_in}")
    for k, s in enumerate(model.sizes[1:-1]):
        lines.append(f"#define {P}_N_HIDDEN{k + 1} {s}")
    lines.append(f"#define {P}_N_OUT {model.n_out}")
    lines.append(f"#define {P}_N_MACS {model.n_macs}\n")
    lines.append("/* Inputs: uint16 ADC counts. Each is mapped to a signed "
                 f"{im.bits}-bit activation,")
    lines.append(f" * a0 = clamp(((x - zp) * m + rnd(s)) >> s, {im.lo}, {im.hi}):")
    for j, name in enumerate(model.input_names):
        step = float(im.step[j]) if j < len(im.step) else 0.0
        info = f", {step:.4g} counts per LSB" if step else ""
        lines.append(f" *   in[{j}]: {name}: zp {int(im.zero_point[j])}, m "
                     f"{int(im.multiplier[j])}, s {int(im.shift[j])}{info}")
    lines.append(" *\n * Outputs: int16 fixed point, value = out[i] * LSB:")
    for i, (name, unit, lsb) in enumerate(zip(model.output_names, model.output_units,
                                              model.output_lsb, strict=True)):
        lines.append(f" *   out[{i}]: {name}, 1 LSB = {lsb:.6g} {unit}")
    lines.append(" */")
    lines.append(f"void {prefix}_predict(const uint16_t in[{P}_N_IN], int16_t out[{P}_N_OUT]);\n")
    lines.append(f"#endif /* {guard} */\n")
    return "\n".join(lines)


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


# --- compact -----------------------------------------------------------------------------

COMPACT_BLOCK = 8  # outputs computed together by the compact kernel (accumulators in registers)
# Where the compact variant's flash goes (6-16-16-6, 8-bit, -Os; random and trained magnet6
# models alike): 412 B code + 480 B weights (448 B + 32 B zero rows padding the last layer to
# a block of 8) + 176 B int32 k (B * 32 + n - 1: B is the bias folded with the inputs' offset,
# up to ~2.6e5, so it needs more than 16 bits) + 88 B uint16 M + 32 B stage table = 1188 B,
# ~4530 cycles max (~5 cycles per MAC in the kernel, ~28 per channel requantization). A
# 1000 B budget leaves < 290 B of code after the ~712 B of weights and per-channel constants.

_COMPACT_DOC = """\
/*
 * Compact variant: one loop walks a small stage table (the input map, then each layer) and
 * computes each stage's outputs in blocks of up to {block}; weights and per-channel constants
 * are read as streams.
 *
 * The {block} accumulators of a block stay in registers while the loop walks the inputs, so
 * each activation is loaded once per block and each weight byte once. Weights are stored
 * offset-binary, wu = W + 128 (one byte each; per block, for each input in turn, the
 * {block} outputs' weights, zero for the rows past the layer's end), and activations offset
 * by their clamp's lower bound, au = a - lo >= 0, so the kernel is one byte load, MULS and
 * ADD per weight:
 *
 *   acc = b + sum_j W a  =  B + sum_j wu au - 128 * sum_j au,   B = b + lo_in * sum_j W
 *
 * sum_j au is summed while the previous stage stores its outputs. The input map is the same
 * requantization with acc = x - zp (B = -zp). Every value lives in one static buffer,
 * {prefix}_act: a stage's inputs are the slots just before its outputs; the kernel writes a
 * block's raw accumulators into its outputs' slots, and the requantization replaces them with
 * the stored activation au. With every n >= 2 (else a plain form is generated), per channel
 * one int32 k = B * 32 + (n - 1) and one M give, with P = (acc * M) mod 2^32 read as int32,
 *
 *   au = v - lo = ((P >> (n - 1)) + 1 - 2 lo) >> 1        (exact: |P >> (n - 1)| <= 2^30)
 *
 * since (P + 2^(n-1)) >> n == ((P >> (n - 1)) + 1) >> 1 for floor shifts.
 */
"""

_COMPACT_MACROS = """\
/* QNN_ACC/QNN_TMP/QNN_REG place the accumulators and the product in registers that leave
 * r0-r3 to the pointers, the input offset and the activation (ARMv6-M `ADD Rd, Rm` works on
 * high registers), and the requantization's pointers and constants where GCC would otherwise
 * spill them; QNN_KEEP9 is an empty statement that keeps the accumulators there. They only
 * steer GCC's register allocation (r7 is used, so build without -fno-omit-frame-pointer);
 * any other compiler, or GCC without optimisation, gets plain locals, with the same result. */
#if defined(__GNUC__)
#define QNN_UNLIKELY(c) __builtin_expect((c), 0)
#else
#define QNN_UNLIKELY(c) (c)
#endif
#if defined(__GNUC__) && defined(__OPTIMIZE__) && defined(__thumb__) && !defined(__thumb2__)
#define QNN_ACC(s, reg, v) register uint32_t s __asm__(reg) = (v)
#define QNN_TMP(t) register uint32_t t __asm__("r7")
#define QNN_REG(type, v, reg, init) register type v __asm__(reg) = (init)
#define QNN_KEEP9(a, b, c, d, e, f, g, h, i) \\
    __asm__("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e), "+r"(f), "+r"(g), "+r"(h), \\
            "+r"(i))
#else
#define QNN_ACC(s, reg, v) uint32_t s = (v)
#define QNN_TMP(t) uint32_t t
#define QNN_REG(type, v, reg, init) type v = (init)
#define QNN_KEEP9(a, b, c, d, e, f, g, h, i)
#endif
"""

_ACC_REGS = ("r8", "r9", "r10", "r11", "ip", "r4", "r5", "r6")


@dataclass
class _CStage:
    n_in: int  # inputs read by the kernel (0: the input map)
    n_out: int
    lo: int
    hi: int
    k: list[int]  # per channel: B (the acc-domain constant), or -zp for the input map
    m: list[int]
    n: list[int]
    weights: list[int]  # offset-binary bytes, see _COMPACT_DOC


def _compact_stages(model: IntModel) -> list[_CStage]:
    im = model.input_map
    B = COMPACT_BLOCK
    out = [_CStage(0, model.n_in, im.lo, im.hi, [-int(z) for z in im.zero_point],
                   [int(v) for v in im.multiplier], [int(v) for v in im.shift], [])]
    in_lo = im.lo
    for L in model.layers:
        W = L.weights.astype(np.int64)
        n_blocks = -(-L.n_out // B)
        Wp = np.zeros((n_blocks * B, L.n_in), dtype=np.int64)
        Wp[:L.n_out] = W + 128
        data = []
        for i0 in range(0, L.n_out, B):
            data += [int(v) for v in Wp[i0:i0 + B].T.reshape(-1)]
        bias = [int(L.bias[i]) + in_lo * int(W[i].sum()) for i in range(L.n_out)]
        out.append(_CStage(L.n_in, L.n_out, L.lo, L.hi, bias, [int(v) for v in L.multiplier],
                           [int(v) for v in L.shift], data))
        in_lo = L.lo
    return out


def _compact_source(model: IntModel, prefix: str) -> str:
    stages = _compact_stages(model)
    P = prefix.upper()
    B = COMPACT_BLOCK
    n_st = len(stages)
    all_b = [b for st in stages for b in st.k]
    all_m = [m for st in stages for m in st.m]
    all_n = [n for st in stages for n in st.n]
    # n >= 2 everywhere: u = v - lo = ((P >> (n-1)) + 1 - 2 lo) >> 1, exact and in int32
    # because |P >> (n-1)| <= 2^30; and n - 1 packed with B when B fits 27 bits.
    fast = min(all_n) >= 2 and all(-(1 << 26) <= b < (1 << 26) for b in all_b)
    if fast:
        kvals = [b * 32 + n - 1 for b, n in zip(all_b, all_n, strict=True)]
        cvals = [1 - 2 * st.lo for st in stages]
    else:
        kvals, cvals = all_b, [st.lo for st in stages]
    mtype = "uint16_t" if max(all_m) <= 0xFFFF else "uint32_t"
    ntype = "uint16_t" if max(max(st.n_in, st.n_out) for st in stages) > 0xFF else "uint8_t"
    weights = [b for st in stages for b in st.weights]
    c_last = sum(st.n_out for st in stages[:-1])
    n_act = c_last + -(-stages[-1].n_out // B) * B  # the last block may write past the end
    T = f"{prefix}_stage_t"
    out = [_banner(model, "compact", f"{prefix}_model.c: the network, compact variant."),
           f'#include "{prefix}_model.h"\n', _REQUANT_DOC, _ASSUMPTIONS,
           _COMPACT_DOC.format(block=B, prefix=prefix), _COMPACT_MACROS]
    cdoc = "1 - 2 lo" if fast else "lo"
    out.append(f"typedef struct {{\n    {ntype} n_in; /* 0: the input map */\n"
               f"    {ntype} n_out;\n    uint16_t span; /* the clamp: [lo, lo + span] */\n"
               f"    int32_t c; /* {cdoc} */\n}} {T};\n")
    rows = ",\n".join(f"    {{{st.n_in}, {st.n_out}, {st.hi - st.lo}, {c}}}"
                      for st, c in zip(stages, cvals, strict=True))
    out.append(f"static const {T} {prefix}_stages[{n_st}] = {{\n{rows}\n}};\n")
    out.append(_c_array("uint8_t", f"{prefix}_w", weights, width=3))
    if fast:
        out.append("/* per channel (input map, then each layer): B * 32 + (n - 1), and M */\n")
    else:
        out.append("/* per channel (input map, then each layer): B, M and n */\n")
    out.append(_c_array("int32_t", f"{prefix}_k", kvals, per_line=6))
    out.append(_c_array(mtype, f"{prefix}_m", all_m, per_line=8))
    if not fast:
        out.append(_c_array("uint8_t", f"{prefix}_n", all_n))
    out.append(f"/* every channel's raw accumulator, then its stored activation a - lo */\n"
               f"static uint32_t {prefix}_act[{n_act}];\n")
    if fast:
        req = ["int32_t kk = *kp++;",
               "uint32_t p = (*ap + (uint32_t)(kk >> 5)) * *mp++;",
               "uint32_t u = (uint32_t)((((int32_t)p >> ((uint32_t)kk << 27 >> 27)) + cst) >> 1);",
               "/* u = v - lo: one unsigned compare on the common path */",
               "if (QNN_UNLIKELY(u > span)) u = ((int32_t)u < 0) ? 0 : span;"]
    else:
        req = ["uint32_t n = *np++;",
               "uint32_t p = (*ap + (uint32_t)*kp++) * *mp++ + ((1u << n) >> 1);",
               "int32_t v = (int32_t)p >> n;",
               "uint32_t u = (v < cst) ? 0u : (uint32_t)v - (uint32_t)cst; /* exact, < 2^32 */",
               "if (u > span) u = span;"]
    nl = "\n"
    accs = [f"s{q}" for q in range(B)]
    macs = [f"t = wr[{q}], t *= x, s{q} += t;" for q in range(B)]
    inits = [f'QNN_ACC(s{q}, "{r}", init);' for q, r in enumerate(_ACC_REGS)]
    stores = [f"acc[{q}] = s{q};" for q in range(B)]
    body = f"""\
void {prefix}_predict(const uint16_t in[{P}_N_IN], int16_t out[{P}_N_OUT])
{{
    const {T} *st = {prefix}_stages;
    const uint8_t *w = {prefix}_w;
    const int32_t *k = {prefix}_k;
    const {mtype} *m = {prefix}_m;
{"" if fast else f"    const uint8_t *np = {prefix}_n;{nl}"}\
    uint32_t *acc = {prefix}_act; /* the next output's slot */
    uint32_t sum = 0; /* of the stored activations: the weights' offset, see above */
    uint32_t q;

    for (q = 0; q < {P}_N_IN; q++) acc[q] = in[q]; /* the input map's "acc" */
    do {{
        /* a stage's inputs are the {prefix}_act slots just before its outputs */
        const uint8_t *in_end = (const uint8_t *)acc;
        uint32_t n_in = st->n_in;
        uint32_t *st_end = acc + st->n_out;
        uint32_t init = 0u - (sum << 7);
        sum = 0;
        do {{
            uint32_t *blk_end = (uint32_t)(st_end - acc) > {B} ? acc + {B} : st_end;
            if (n_in) {{
                /* the inputs by a negative byte offset from their end: one LDR each, and
                 * the ADDS that steps the offset also ends the loop */
                QNN_REG(const uint8_t *, a, "r0", in_end);
                QNN_REG(const uint8_t *, wr, "r2", w);
                QNN_REG(int32_t, i, "r1", -4 * (int32_t)n_in);
{nl.join("                " + t for t in inits)}
                do {{
                    QNN_TMP(t);
                    QNN_REG(uint32_t, x, "r3", *(const uint32_t *)(a + i));
{nl.join("                    " + t for t in macs)}
                    wr += {B};
                    QNN_KEEP9({", ".join(accs)}, i); /* and step i last */
                }} while (i += 4);
                w = wr;
{nl.join("                " + t for t in stores)}
            }}
            {{
                QNN_REG(const int32_t *, kp, "r7", k);
                const {mtype} *mp = m;
                uint32_t *ap = acc;
                QNN_REG(uint32_t, su, "r4", 0);
                QNN_REG(uint32_t *, end, "r10", blk_end);
                QNN_REG(int32_t, cst, "r8", st->c);
                QNN_REG(uint32_t, span, "r9", st->span);
                do {{
{nl.join("                    " + t for t in req)}
                    su += u;
                    *ap++ = u;
                }} while (ap != end);
                k = kp;
                m = mp;
                acc = blk_end; /* == ap */
                sum += su;
            }}
        }} while (acc != st_end);
    }} while (++st != {prefix}_stages + {n_st});
    for (q = 0; q < {P}_N_OUT; q++)
        out[q] = (int16_t)({prefix}_act[{c_last} + q] + ({stages[-1].lo}));
}}
"""
    out.append(body)
    return "\n".join(out)


# --- fast --------------------------------------------------------------------------------


def _mac(acc: str, a: str, w: int) -> str | None:
    """acc += a * w with w an immediate: skip 0, add/sub for +-1, a shift for powers of two."""
    if w == 0:
        return None
    op = "+=" if w > 0 else "-="
    m = abs(w)
    if m == 1:
        return f"{acc} {op} {a};"
    if m & (m - 1) == 0:
        return f"{acc} {op} {a} << {m.bit_length() - 1};"
    return f"{acc} {op} {a} * {m}u;"


def _fast_requant(st: _Stage, i: int, acc: str, dst: str) -> list[str]:
    """The requantization of channel i with its constants as immediates."""
    L = st.layer
    C = _i32((int(L.bias[i]) + st.in_lo * int(L.weights[i].astype(np.int64).sum()))
             * int(st.mult[i]) + _rnd_scaled(L, i, int(st.shifts[i])))
    lines = [f"v = (int32_t)({acc} * {int(st.mult[i])}u + (uint32_t){_lit(C)}) >> "
             f"{int(st.shifts[i])};",
             ]
    return lines + _clamp_store(L.lo, L.hi, f"{dst}[{i}]", st.out_type, not st.last)


_KEEP_DOC = """\
/* QNN_KEEP(...) is an empty statement that tells GCC the listed accumulators are live in low
 * registers at that point and that memory may have changed: it keeps the compiler from
 * reordering the unrolled code below into one long sum per output, or from keeping every
 * activation in a register across blocks (both spill to the stack). Any other compiler gets
 * the plain C, with the same result. */
#if defined(__GNUC__) && defined(__thumb__) && !defined(__thumb2__)
#define QNN_ESCAPE(p) __asm__("" : : "l"(p) : "memory")
#define QNN_KEEP1(a) __asm__("" : "+l"(a) : : "memory")
#define QNN_KEEP2(a, b) __asm__("" : "+l"(a), "+l"(b) : : "memory")
#define QNN_KEEP3(a, b, c) __asm__("" : "+l"(a), "+l"(b), "+l"(c) : : "memory")
#define QNN_KEEP4(a, b, c, d) __asm__("" : "+l"(a), "+l"(b), "+l"(c), "+l"(d) : : "memory")
#define QNN_KEEP5(a, b, c, d, e) \\
    __asm__("" : "+l"(a), "+l"(b), "+l"(c), "+l"(d), "+l"(e) : : "memory")
#elif defined(__GNUC__)
#define QNN_ESCAPE(p) __asm__("" : : "r"(p) : "memory")
#define QNN_KEEP1(a) __asm__("" : "+r"(a) : : "memory")
#define QNN_KEEP2(a, b) __asm__("" : "+r"(a), "+r"(b) : : "memory")
#define QNN_KEEP3(a, b, c) __asm__("" : "+r"(a), "+r"(b), "+r"(c) : : "memory")
#define QNN_KEEP4(a, b, c, d) __asm__("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d) : : "memory")
#define QNN_KEEP5(a, b, c, d, e) \\
    __asm__("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e) : : "memory")
#else
#define QNN_ESCAPE(p)
#define QNN_KEEP1(a)
#define QNN_KEEP2(a, b)
#define QNN_KEEP3(a, b, c)
#define QNN_KEEP4(a, b, c, d)
#define QNN_KEEP5(a, b, c, d, e)
#endif
"""


_FAST_ASM_DOC = """\
/* The multiply-accumulate kernel of each block is one GCC inline-assembly statement on
 * ARMv6-M (Thumb-1) when optimising (QNN_FAST_ASM), and the equivalent plain C otherwise
 * (any other compiler or target, e.g. a host build): same operations, same result, since
 * both compute modulo 2^32. Per block of up to 4 outputs (accumulators sN, the activation x,
 * the product t; all low registers chosen by GCC) and per input j with a non-zero weight:
 *
 *   LDRB/LDRH x, [a, #j]                      2 cycles, the activation, loaded once a block
 *   MOVS t, #|w| ; MULS t, x ; ADDS/SUBS s, t 3 cycles, a general weight
 *   LSLS t, x, #k ; ADDS/SUBS s, t            2 cycles, w = +-2^k
 *   ADDS/SUBS s, x                            1 cycle,  w = +-1
 *
 * (an accumulator's first term is written directly, MOVS s, #|w| ; MULS s, x, and NEGS s
 * for a negative weight). Pinning the code this way keeps GCC from spilling or shuffling
 * registers in the unrolled sums, so the cycle count does not depend on the weights' values
 * beyond the table above. */
/* QNN_UNLIKELY marks saturation as the rare path, and QNN_FAST_FN asks GCC to lay the code
 * out by it (-Os otherwise keeps the source order, so every clamp costs a taken branch). */
#if defined(__GNUC__)
#define QNN_UNLIKELY(c) __builtin_expect((c), 0)
#else
#define QNN_UNLIKELY(c) (c)
#endif
#if defined(__GNUC__) && !defined(__clang__)
#define QNN_FAST_FN __attribute__((optimize("reorder-blocks-algorithm=stc")))
#else
#define QNN_FAST_FN
#endif
#if defined(__GNUC__) && defined(__OPTIMIZE__) && defined(__thumb__) && !defined(__thumb2__)
#define QNN_FAST_ASM 1
#else
#define QNN_FAST_ASM 0
#endif
"""


def _fast_asm_block(accs: list[str], rows: list[int], L: IntLayer, src: str, n_src: int,
                    in_type: str) -> list[str]:
    """One block's MACs as Thumb-1 inline-assembly statements (see _FAST_ASM_DOC): one per 32
    inputs, since LDRB/LDRH take an immediate offset of at most 31 elements."""
    size = 2 if in_type == "uint16_t" else 1
    ld = "ldrh" if size == 2 else "ldrb"
    started = [False] * len(accs)
    lines: list[str] = []
    for j0 in range(0, L.n_in, 32):
        was = list(started)
        ins: list[str] = []
        for j in range(j0, min(j0 + 32, L.n_in)):
            ws = [int(L.weights[r, j]) for r in rows]
            if not any(ws):
                continue
            ins.append(f"{ld} %[x], [%[a], #{(j - j0) * size}]")
            for q, w in enumerate(ws):
                if w == 0:
                    continue
                s, m = f"%[{accs[q]}]", abs(w)
                k = m.bit_length() - 1
                if not started[q]:
                    started[q] = True
                    if m == 1:
                        ins.append(f"movs {s}, %[x]" if w > 0 else f"negs {s}, %[x]")
                        continue
                    if m & (m - 1) == 0:
                        ins.append(f"lsls {s}, %[x], #{k}")
                    else:
                        ins += [f"movs {s}, #{m}", f"muls {s}, %[x], {s}"]
                    if w < 0:
                        ins.append(f"negs {s}, {s}")
                    continue
                op = "adds" if w > 0 else "subs"
                if m == 1:
                    ins.append(f"{op} {s}, {s}, %[x]")
                elif m & (m - 1) == 0:
                    ins += [f"lsls %[t], %[x], #{k}", f"{op} {s}, {s}, %[t]"]
                else:
                    ins += [f"movs %[t], #{m}", "muls %[t], %[x], %[t]", f"{op} {s}, {s}, %[t]"]
        if not ins:
            continue
        # GCC hands Thumb-1 inline assembly to the assembler in divided syntax: switch to the
        # unified syntax used here and back
        ins = [".syntax unified", *ins, ".syntax divided"]
        outs = [f'[{a}] "{"+l" if old else "=&l"}"({a})'
                for a, old, now in zip(accs, was, started, strict=True) if now]
        outs += ['[x] "=&l"(x)', '[t] "=&l"(t)']
        n = min(32, L.n_in - j0)
        base = f"{src} + {j0}" if j0 else src
        lines.append("    __asm__(")
        lines += [f'        "{i}\\n\\t"' for i in ins]
        lines.append(f"        : {', '.join(outs)}")
        lines.append(f'        : [a] "l"({base}), "m"(*(const {in_type} (*)[{n}])({base}))')
        lines.append('        : "cc");')
    return lines


def _fast_source(model: IntModel, prefix: str, block: int = FAST_BLOCK) -> str:
    stages = _stages(model)
    P = prefix.upper()
    im = model.input_map
    out = [_banner(model, "fast", f"{prefix}_model.c: the network, fast variant."),
           f'#include "{prefix}_model.h"\n', _REQUANT_DOC, _ASSUMPTIONS, _KEEP_DOC,
           _FAST_ASM_DOC,
           "/* Fast variant: every constant is an immediate in the code below (a zero weight\n"
           " * costs nothing, +-1 is an add or a subtract, a power of two a shift), and the\n"
           f" * outputs are computed {block} at a time so each activation is loaded once per "
           "block. */\n"]
    body = [f"    {stages[0].in_type} a0[{P}_N_IN];"]
    for st in stages[:-1]:
        body.append(f"    {st.out_type} a{st.k}[{P}_N_HIDDEN{st.k}];")
    body.append("    int32_t v;")
    body.append("    uint32_t x;\n")
    body.append("    /* the activations live in memory, reloaded in each block */")
    body += [f"    QNN_ESCAPE(a{k});" for k in range(len(stages))]
    body.append("    /* input map: a0 = x * m + (rnd(s) - zp * m), stored as a0 - lo */")
    for j in range(model.n_in):
        m, sh, z = int(im.multiplier[j]), int(im.shift[j]), int(im.zero_point[j])
        c = _i32(int(rnd(sh)) - z * m)
        body += [f"    v = (int32_t)(in[{j}] * {m}u + (uint32_t){_lit(c)}) >> {sh};",
                 *["    " + t for t in _clamp_store(im.lo, im.hi, f"a0[{j}]",
                                                  stages[0].in_type, True)]]
    for st in stages:
        L = st.layer
        src = "a0" if st.k == 1 else f"a{st.k - 1}"
        dst = "out" if st.last else f"a{st.k}"
        body.append(f"\n    /* layer {st.k}: {L.n_in} -> {L.n_out}, {L.w_bits}-bit weights */")
        for i0 in range(0, L.n_out, block):
            rows = list(range(i0, min(i0 + block, L.n_out)))
            accs = [f"s{r - i0}" for r in rows]
            keep = f"QNN_KEEP{len(accs)}({', '.join(accs)});"
            body.append("    {")
            body.append("        uint32_t " + ", ".join(f"{a} = 0" for a in accs) + ";")
            asm = _fast_asm_block(accs, rows, L, src, L.n_in, st.in_type)
            if asm:
                body.append("#if QNN_FAST_ASM")
                body.append("        {")
                body.append("        uint32_t t;")
                body += ["    " + a for a in asm]
                body.append("        }")
                body.append("#else")
            for j in range(L.n_in):
                macs = [_mac(a, "x", int(L.weights[r, j])) for a, r in zip(accs, rows,
                                                                             strict=True)]
                macs = [mc for mc in macs if mc]
                if not macs:
                    continue
                body.append(f"        x = {src}[{j}];")
                body += ["        " + mc for mc in macs]
                body.append("        " + keep)
            if asm:
                body.append("#endif")
            for a, r in zip(accs, rows, strict=True):
                body += ["        " + s for s in _fast_requant(st, r, a, dst)]
            body.append("    }")
    body.append("    (void)x;")
    out.append(f"QNN_FAST_FN void {prefix}_predict(const uint16_t in[{P}_N_IN], "
               f"int16_t out[{P}_N_OUT])\n{{")
    out += body
    out.append("}\n")
    return "\n".join(out)


# --- public API --------------------------------------------------------------------------


def generate_c(model: IntModel, variant: str = "compact", prefix: str = "qnn") -> dict[str, str]:
    """The C pair for `model`: {"qnn_model.h": text, "qnn_model.c": text} (names follow
    `prefix`). Refuses (QnnError) a model whose int32 arithmetic could overflow."""
    if variant not in VARIANTS:
        raise QnnError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}.")
    if not prefix.isidentifier():
        raise QnnError(f"prefix {prefix!r} is not a C identifier; use letters, digits and _.")
    check_export(model)
    source = _compact_source(model, prefix) if variant == "compact" else _fast_source(model,
                                                                                      prefix)
    return {f"{prefix}_model.h": _header(model, variant, prefix), f"{prefix}_model.c": source}


def write_c(model: IntModel, out_dir: str | Path, variant: str = "compact",
            prefix: str = "qnn") -> list[Path]:
    """Generate and write the C pair into `out_dir` (atomic writes); returns the paths."""
    files = generate_c(model, variant, prefix)
    out_dir = Path(out_dir)
    paths = []
    for name, text in files.items():
        atomic_write_text(out_dir / name, text)
        paths.append(out_dir / name)
    return paths
