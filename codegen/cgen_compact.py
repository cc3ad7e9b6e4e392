"""The compact variant of the C generator (see codegen/cgen.py): a stage-table loop over one
weight stream, accumulators pinned in registers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codegen.cgen_common import _ASSUMPTIONS, _REQUANT_DOC, _banner, _c_array
from qnn.intmodel import IntModel

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

