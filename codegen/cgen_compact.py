"""The compact variant of the C generator (see codegen/cgen.py): one loop over a stage table,
one weight stream read by a looping inline-assembly kernel, one constant word per channel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codegen import cgen_pack as pk
from codegen.cgen_common import _ASSUMPTIONS, _REQUANT_DOC, _acc_range, _banner, _c_array, _i32
from codegen.cgen_compact_asm import COMPACT_BLOCK, KERNEL_DOC, predict_asm
from qnn.intmodel import INT32_MAX, INT32_MIN, IntModel, rnd

# Where the compact variant's flash goes (6-16-16-6, 8-bit, -Os, trained magnet6 model): see
# bench/bench_m0.py and the closing notes; the tables are 448 B of weights (+2 B the last
# block reads past them), 4 B per channel and 8 B per stage.

_COMPACT_DOC = """\
/*
 * Compact variant: one loop walks a small stage table (the input map, then each layer) and
 * computes each stage's outputs in blocks of up to {block}; weights and per-channel constants
 * are read as streams, in the order they are used.
 *
 * The kernel keeps a block's {block} accumulators in registers while it walks the inputs, so
 * each activation is loaded once per block and each weight byte once. Weights are stored
 * offset-binary, wu = W + 128 (one byte each; per block of nb outputs, for each input in turn,
 * the block's nb weights), so the kernel is one byte load, MULS and ADD per weight:
 *
 *   acc = b + sum_j W a  =  b + sum_j wu a - 128 * sum_j a
 *
 * sum_j a is summed while the previous stage stores its outputs. Every value lives in one
 * static buffer, {prefix}_act, as a 32-bit word: a stage's inputs are the slots just before
 * its outputs; the kernel writes a block's raw sums into its outputs' slots and the
 * requantization replaces them with the activations. The input map is the same
 * requantization with the raw input x in the slot and b = -zp.
 *
 * Per stage the shift is one N: a channel with n < N uses M' = M * 2^(N - n), exact since
 * (acc M + 2^(n-1)) 2^(N-n) = acc M' + 2^(N-1) (checked to fit int32 at generation). Per
 * channel one word holds b and M': k = b * 2^{mb} + M'. With K = 2^(N-1) - lo * 2^N,
 *
 *   u = a - lo = ((acc * M' + K) mod 2^32, as int32) >> N,   then clamped to [0, hi - lo]
 *
 * where the sum acc * M' + K is checked to fit int32 for every input, so it is exact.
 */
"""

_C_KERNEL_DOC = """\
/* Without QNN_ASM the same steps in plain C (host builds and other compilers): every sum is
 * taken modulo 2^32 in uint32_t, so the result is the same bit for bit. */"""


@dataclass
class _CStage:
    n_in: int  # inputs read by the kernel (0: the input map)
    n_out: int
    lo: int
    hi: int
    b: list[int]  # per channel: the bias, or -zp for the input map
    m: list[int]
    n: list[int]
    acc: list[tuple[int, int]]  # per channel: the range of acc = b + sum W a (x - zp)
    weights: list[int]  # offset-binary bytes, see _COMPACT_DOC (or nibbles: pk.PACK_DOC)
    sh: int = pk.SH_BYTE


def _compact_stages(model: IntModel) -> list[_CStage]:
    im = model.input_map
    B = COMPACT_BLOCK
    zp = [int(z) for z in im.zero_point]
    out = [_CStage(0, model.n_in, im.lo, im.hi, [-z for z in zp], [int(v) for v in im.multiplier],
                   [int(v) for v in im.shift], [(-z, 65535 - z) for z in zp], [])]
    lo, hi = im.lo, im.hi
    for L in model.layers:
        W = L.weights.astype(np.int64)
        nib = L.w_bits <= pk.NIB_MAX_BITS
        data = [] if nib else [int(v) for i0 in range(0, L.n_out, B)
                               for v in (W[i0:i0 + B] + 128).T.reshape(-1)]
        a_lo, a_hi = _acc_range(L, lo, hi)
        out.append(_CStage(L.n_in, L.n_out, L.lo, L.hi, [int(v) for v in L.bias],
                           [int(v) for v in L.multiplier], [int(v) for v in L.shift],
                           [(int(a), int(b)) for a, b in zip(a_lo, a_hi, strict=True)],
                           pk.pack_nibbles(W, B) if nib else data,
                           pk.SH_NIB if nib else pk.SH_BYTE))
        lo, hi = L.lo, L.hi
    return out


def _one_word(stages: list[_CStage]) -> tuple[int, list[int], list[list[int]]] | None:
    """(mb, N per stage, M' per channel) when every channel fits k = b * 2^mb + M' (see
    _COMPACT_DOC) and every acc * M' + K fits int32; None otherwise (the plain form)."""
    shifts, mults = [], []
    for st in stages:
        N = max(st.n)
        mp = [m << (N - n) for m, n in zip(st.m, st.n, strict=True)]
        K = int(rnd(N)) - st.lo * (1 << N)
        if N > 31 or st.lo < -32768 or st.hi - st.lo > 0xFFFF:
            return None
        for m, (a, b) in zip(mp, st.acc, strict=True):
            if not all(INT32_MIN <= v * m + K <= INT32_MAX for v in (a, b)):
                return None
        shifts.append(N)
        mults.append(mp)
    mb = max(m for mp in mults for m in mp).bit_length()
    lim = 1 << (31 - mb) if mb < 31 else 0
    if not all(-lim <= b < lim for st in stages for b in st.b):
        return None
    return mb, shifts, mults


def _compact_source(model: IntModel, prefix: str) -> str:
    stages = _compact_stages(model)
    P = prefix.upper()
    B = COMPACT_BLOCK
    n_st = len(stages)
    word = _one_word(stages)
    nibs = any(st.sh == pk.SH_NIB for st in stages)
    ntype = "uint8_t" if max(max(st.n_in, st.n_out) for st in stages) <= 0xFF else "uint16_t"
    use_asm = word is not None and ntype == "uint8_t"
    nar3 = use_asm and any(0 < st.n_out % B <= 6 for st in stages if st.sh == pk.SH_NIB)
    # the assembly's last block of a stage runs B products (the extra ones read past it)
    last, rem, pad = stages[-1], stages[-1].n_out % B, 0
    if use_asm and rem:
        pad = B - rem if last.sh == pk.SH_BYTE else (
            pk.nib_kernel_bytes(last.n_out, B, nar3) - (rem + 1) // 2)
    weights = [b for st in stages for b in st.weights] + [0] * pad
    c_last = sum(st.n_out for st in stages[:-1])
    n_act = c_last + -(-last.n_out // B) * B  # the last block writes B slots
    mtype = "uint16_t" if max(m for st in stages for m in st.m) <= 0xFFFF else "uint32_t"
    T = f"{prefix}_stage_t"
    out = [_banner(model, "compact", f"{prefix}_model.c: the network, compact variant."),
           f'#include "{prefix}_model.h"\n', _REQUANT_DOC, _ASSUMPTIONS,
           _COMPACT_DOC.format(block=B, prefix=prefix, mb=word[0] if word else "mb")]
    out += [pk.PACK_DOC] * nibs
    out.append(f"typedef struct {{\n    int16_t lo; /* the clamp: [lo, lo + span] */\n"
               f"    uint16_t span;\n    {ntype} n_in; /* 0: the input map */\n"
               f"    {ntype} n_out;\n    uint8_t n; /* the stage's shift N */\n"
               f"    uint8_t sh; /* the weights' offset 2^sh: 7 bytes, 3 nibbles */\n}} {T};\n")
    rows = ",\n".join(f"    {{{st.lo}, {st.hi - st.lo}, {st.n_in}, {st.n_out}, "
                      f"{word[1][i] if word else 0}, {st.sh}}}" for i, st in enumerate(stages))
    out.append(f"static const {T} {prefix}_stages[{n_st}] = {{\n{rows}\n}};\n")
    if pad:
        out.append(f"/* weights, then {pad} zero bytes the last block's unused products read */")
    out.append(_c_array("uint8_t", f"{prefix}_w", weights, width=3))
    if word:
        mb, _, mults = word
        kv = [_i32((b << mb) + m) for st, mp in zip(stages, mults, strict=True)
              for b, m in zip(st.b, mp, strict=True)]
        out.append(f"/* per channel (input map, then each layer): b * 2^{mb} + M' */")
        out.append(_c_array("int32_t", f"{prefix}_k", kv, per_line=6))
    else:
        all_m = [m for st in stages for m in st.m]
        out.append("/* per channel (input map, then each layer): b, M and n */")
        out.append(_c_array("int32_t", f"{prefix}_k", [b for st in stages for b in st.b],
                            per_line=6))
        out.append(_c_array(mtype, f"{prefix}_m", all_m, per_line=8))
        out.append(_c_array("uint8_t", f"{prefix}_n", [n for st in stages for n in st.n]))
    out.append(f"/* every channel's raw sum, then its activation (as a 32-bit word) */\n"
               f"static uint32_t {prefix}_act[{n_act}];\n")
    c_loop = _c_loop(prefix, P, T, n_st, c_last, nibs, word, mtype)
    if use_asm:
        asm = predict_asm(prefix, model.n_in, model.n_out, word[0], nibs, nar3)
        body = "\n".join(["#if QNN_ASM", *asm, "#else", _C_KERNEL_DOC, c_loop, "#endif"])
        out += [_ASM_MACRO, KERNEL_DOC.format(block=B)]
    else:
        body = c_loop
    out.append(f"void {prefix}_predict(const uint16_t in[{P}_N_IN], int16_t out[{P}_N_OUT])\n"
               f"{{\n{body}\n}}\n")
    return "\n".join(out)


_ASM_MACRO = """\
/* QNN_ASM: the network below is GCC inline assembly on ARMv6-M (Thumb-1) when optimising, and
 * the equivalent plain C otherwise (any other compiler or target, e.g. a host build). */
#if defined(__GNUC__) && defined(__OPTIMIZE__) && defined(__thumb__) && !defined(__thumb2__)
#define QNN_ASM 1
#else
#define QNN_ASM 0
#endif
"""


def _c_loop(prefix: str, P: str, T: str, n_st: int, c_last: int, nibs: bool,
            word: tuple[int, list[int], list[list[int]]] | None, mtype: str) -> str:
    """The network as plain C: the stage loop, the kernel and the requantization."""
    kern = pk.C_KERNEL.format(nib=pk.SH_NIB) if nibs else pk.C_KERNEL_BYTE
    if word:
        mb = word[0]
        req = [f"int32_t kw = *k++; /* b * 2^{mb} + M' */",
               f"uint32_t u = (*p + (uint32_t)(kw >> {mb})) * ((uint32_t)kw & "
               f"{(1 << mb) - 1}u) + kk;",
               "u = (uint32_t)((int32_t)u >> n); /* a - lo */",
               "if (u > span) u = ((int32_t)u < 0) ? 0u : span;",
               "u += lo;"]
        pre = ["uint32_t n = st->n;",
               "uint32_t kk = ((1u << n) >> 1) - lo * (1u << n); /* K */"]
    else:
        req = ["uint32_t n = *np++;",
               "uint32_t u = (*p + (uint32_t)*k++) * *m++ + ((1u << n) >> 1);",
               "u = (uint32_t)((int32_t)u >> n) - lo; /* a - lo, if in the clamp */",
               "if (u > span) u = ((int32_t)u < 0) ? 0u : span;",
               "u += lo;"]
        pre = []
    pre = ["uint32_t lo = (uint32_t)(int32_t)st->lo, span = st->span;", *pre]
    ind = "            "
    decl = "" if word else (f"    const {mtype} *m = {prefix}_m;\n"
                            f"    const uint8_t *np = {prefix}_n;\n")
    return f"""\
    uint32_t q;
    const {T} *st = {prefix}_stages;
    const uint8_t *w = {prefix}_w;
    const int32_t *k = {prefix}_k;
{decl}\
    uint32_t *acc = {prefix}_act; /* the next output's slot */
    uint32_t sum = 0; /* of the stage's activations: the weights' offset, see above */

    for (q = 0; q < {P}_N_IN; q++) acc[q] = in[q]; /* the input map's "acc" */

    do {{
        /* a stage's inputs are the {prefix}_act slots just before its outputs */
        uint32_t *in_end = acc;
        const uint32_t *in_lo = acc - st->n_in;
        uint32_t *p = acc; /* the stage's first output */
        uint32_t init = 0u - (sum << {"st->sh" if nibs else 7});
        acc += st->n_out;
        /* the kernel: every block's raw sums */
        for (; in_lo != in_end && p < acc; p += {COMPACT_BLOCK}) {{
            uint32_t nb = (uint32_t)(acc - p);
            if (nb > {COMPACT_BLOCK}) nb = {COMPACT_BLOCK};
            uint32_t j, n_in = (uint32_t)(in_end - in_lo);
{kern}
        }}
        p = in_end; /* the requantization of every channel of the stage */
        sum = 0;
        {{
{chr(10).join(ind + t for t in pre)}
            do {{
{chr(10).join(ind + "    " + t for t in req)}
                sum += u;
                *p++ = u;
            }} while (p != acc);
        }}
    }} while (++st != {prefix}_stages + {n_st});
    for (q = 0; q < {P}_N_OUT; q++) out[q] = (int16_t){prefix}_act[{c_last} + q];"""
