"""The compact variant of the C generator (see codegen/cgen.py): one loop over a stage table,
one weight stream read by a looping inline-assembly kernel, one constant word per channel."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codegen import cgen_pack as pk
from codegen.cgen_common import _ASSUMPTIONS, _REQUANT_DOC, _acc_range, _banner, _c_array, _i32
from codegen.cgen_compact_asm import ASM_MACRO, COMPACT_BLOCK, KERNEL_DOC, predict_asm
from qnn.intmodel import INT32_MAX, INT32_MIN, IntModel, rnd

_COMPACT_DOC = """\
/*
 * Compact variant: one loop walks a small stage table (the input map, then each layer) and
 * computes each stage's outputs in blocks of up to {block}; weights and per-channel constants
 * are read as streams, in the order they are used.
 *
 * The kernel keeps a block's {block} accumulators in registers while it walks the inputs, so
 * each activation is loaded once per block and each weight byte once. Weights are stored
 * offset-binary, wu = W + 128 (one byte each; per block of nb outputs, for each input in turn,
 * the block's nb weights), and activations as s = {store}, one 32-bit word each, so the
 * kernel is one byte load, MULS and ADD per weight:
 *
 *   acc = b + sum_j W a  =  B + sum_j wu s - 128 * sum_j s
 *   {bdef}
 *
 * sum_j s is summed while the previous stage stores its outputs. Every value lives in one
 * static buffer, {prefix}_act: a stage's inputs are the previous stage's slots, just before
 * its own; the kernel writes a block's raw sums into its outputs' slots and the
 * requantization replaces them with s. The input map is the same requantization, with the
 * raw input x in the slot and B = -zp.
 *
 * A stage has one shift N: a channel with n < N uses M' = M * 2^(N - n), which is exact
 * since (acc M + 2^(n-1)) 2^(N-n) = acc M' + 2^(N-1). One word per channel holds B and M',
 * k = B * 2^{mb} + M'. With K = 2^(N-1) - lo * 2^N (per stage),
 *
 *   u = a - lo = (acc * M' + K) >> N,   clamped to [0, hi - lo],   s = {s_of_u}
 *
 * and acc * M' + K was checked to fit int32 for every input, so the modulo-2^32 sum is exact.
 */
"""


@dataclass
class _CStage:
    n_out: int
    lo: int
    hi: int
    b: list[int]  # per channel: the bias (-zp for the input map)
    fold: list[int]  # per channel: sum_j W[i][j] (the weights' share of B when s = a - lo)
    m: list[int]
    n: list[int]
    acc: list[tuple[int, int]]  # per channel: the range of acc = b + sum W a (x - zp)
    weights: list[int]  # offset-binary bytes, see _COMPACT_DOC (or nibbles: pk.PACK_DOC)
    sh: int = pk.SH_BYTE


@dataclass
class _Word:
    """The one-word form: k = B * 2^mb + M' per channel, a shift N per stage."""

    mb: int
    shifts: list[int]
    mults: list[list[int]]
    bs: list[list[int]]  # B per channel
    offset: bool  # activations stored as a - lo (else as a, and the requantization adds lo)


def _compact_stages(model: IntModel) -> list[_CStage]:
    im = model.input_map
    B = COMPACT_BLOCK
    zp = [int(z) for z in im.zero_point]
    out = [_CStage(model.n_in, im.lo, im.hi, [-z for z in zp], [0] * model.n_in,
                   [int(v) for v in im.multiplier], [int(v) for v in im.shift],
                   [(-z, 65535 - z) for z in zp], [])]
    lo, hi = im.lo, im.hi
    pack = pk.packs_nibbles(model)
    for L in model.layers:
        W = L.weights.astype(np.int64)
        nib = pack and L.w_bits <= pk.NIB_MAX_BITS
        data = [] if nib else [int(v) for i0 in range(0, L.n_out, B)
                               for v in (W[i0:i0 + B] + 128).T.reshape(-1)]
        a_lo, a_hi = _acc_range(L, lo, hi)
        out.append(_CStage(L.n_out, L.lo, L.hi, [int(v) for v in L.bias],
                           [int(v) for v in W.sum(axis=1)],
                           [int(v) for v in L.multiplier], [int(v) for v in L.shift],
                           [(int(a), int(b)) for a, b in zip(a_lo, a_hi, strict=True)],
                           pk.pack_nibbles(W, B) if nib else data,
                           pk.SH_NIB if nib else pk.SH_BYTE))
        lo, hi = L.lo, L.hi
    return out


def _one_word(stages: list[_CStage]) -> _Word | str:
    """The one-word form when every channel fits it and every acc * M' + K fits int32 (see
    _COMPACT_DOC), activations offset by lo when the folded B still fits; else why not."""
    shifts, mults = [], []
    names = ["the input map"] + [f"layer {k}" for k in range(1, len(stages))]
    for name, st in zip(names, stages, strict=True):
        N = max(st.n)
        mp = [m << (N - n) for m, n in zip(st.m, st.n, strict=True)]
        K = int(rnd(N)) - st.lo * (1 << N)
        if st.n_out > 255:
            return f"{name} has {st.n_out} channels (at most 255)"
        for m, (a, b) in zip(mp, st.acc, strict=True):
            if not all(INT32_MIN <= v * m + K <= INT32_MAX for v in (a, b)):
                return (f"in {name}, acc * M' + K could exceed int32 (M' of up to "
                        f"{max(mp).bit_length()} bits with one shift {N} per stage)")
        shifts.append(N)
        mults.append(mp)
    mb = max(m for mp in mults for m in mp).bit_length()
    lim = 1 << (31 - mb) if mb < 31 else 0
    for offset in (True, False):
        bs = [stages[0].b] + [[b + prev.lo * f * offset for b, f in zip(st.b, st.fold,
                                                                          strict=True)]
                              for prev, st in zip(stages, stages[1:], strict=False)]
        if all(-lim <= b < lim for bb in bs for b in bb):
            return _Word(mb, shifts, mults, bs, offset)
    wide = max(abs(b) for st in stages for b in st.b).bit_length() + 1
    return f"{mb}-bit multipliers and {wide}-bit biases do not share a 32-bit word"


def compact_form(model: IntModel) -> str:
    """How the compact variant will compute `model`: "assembly" (the one-word form with the
    Thumb-1 kernel), or a line saying why it falls back to the plain C form (~2x slower)."""
    word = _one_word(_compact_stages(model))
    if isinstance(word, _Word):
        return "assembly"
    return (f"plain C: {word}; multipliers of <= 8 bits (--m-bits 8, the default) keep the "
            "faster assembly form")


def _compact_source(model: IntModel, prefix: str) -> str:
    stages = _compact_stages(model)
    P, B, n_st = prefix.upper(), COMPACT_BLOCK, len(stages)
    found = _one_word(stages)
    word = found if isinstance(found, _Word) else None
    nibs = any(st.sh == pk.SH_NIB for st in stages)
    nar3 = word is not None and any(0 < st.n_out % B <= 6 for st in stages
                                    if st.sh == pk.SH_NIB)
    # the last block of a stage runs B products (4 in the C), the extra ones read past it
    last, rem, pad = stages[-1], stages[-1].n_out % B, 0
    if last.sh == pk.SH_BYTE and rem:
        pad = B - rem if word else -rem % 4
    elif word and rem:
        pad = pk.nib_kernel_bytes(last.n_out, B, nar3) - (rem + 1) // 2
    weights = [b for st in stages for b in st.weights] + [0] * pad
    c_last = sum(st.n_out for st in stages[:-1])
    n_act = c_last + -(-last.n_out // B) * B  # the last block writes B slots
    ntype = "uint8_t" if max(st.n_out for st in stages) <= 0xFF else "uint16_t"
    T = f"{prefix}_stage_t"
    offset = word is not None and word.offset
    out = [_banner(model, "compact", f"{prefix}_model.c: the network, compact variant."),
           f'#include "{prefix}_model.h"\n', _REQUANT_DOC, _ASSUMPTIONS,
           _COMPACT_DOC.format(
               block=B, prefix=prefix, mb=word.mb if word else "mb",
               store="a - lo" if offset else "a", s_of_u="u" if offset else "u + lo",
               bdef="B   = b + lo_in * sum_j W     (lo_in: the lo of the stage's inputs)"
               if offset else "B   = b")]
    out += [pk.PACK_DOC] * nibs
    if word is None:
        out.append(f"/* This model takes the plain C form: {found}. */\n")
    out.append(f"typedef struct {{\n    int16_t lo; /* the clamp: [lo, lo + span] */\n"
               f"    uint16_t span;\n    {ntype} n_out;\n    uint8_t n; /* the shift N */\n"
               + "    uint8_t sh; /* the weights' offset 2^sh: 7 bytes, 3 nibbles */\n" * nibs
               + f"}} {T};\n")
    rows = ",\n".join(f"    {{{st.lo}, {st.hi - st.lo}, {st.n_out}, "
                      f"{word.shifts[i] if word else 0}" + f", {st.sh}" * nibs + "}"
                      for i, st in enumerate(stages))
    out.append(f"static const {T} {prefix}_stages[{n_st}] = {{\n{rows}\n}};\n")
    if pad:
        out.append(f"/* weights, then {pad} zero bytes the last block's unused products read */")
    out.append(_c_array("uint8_t", f"{prefix}_w", weights, width=3))
    mtype = "uint16_t" if max(m for st in stages for m in st.m) <= 0xFFFF else "uint32_t"
    if word:
        kv = [_i32((b << word.mb) + m) for bb, mp in zip(word.bs, word.mults, strict=True)
              for b, m in zip(bb, mp, strict=True)]
        out.append(f"/* per channel (input map, then each layer): B * 2^{word.mb} + M' */")
        out.append(_c_array("int32_t", f"{prefix}_k", kv, per_line=6))
    else:
        out.append("/* per channel (input map, then each layer): b, M and n */")
        out.append(_c_array("int32_t", f"{prefix}_k", [b for st in stages for b in st.b],
                            per_line=6))
        out.append(_c_array(mtype, f"{prefix}_m", [m for st in stages for m in st.m],
                            per_line=8))
        out.append(_c_array("uint8_t", f"{prefix}_n", [n for st in stages for n in st.n]))
    out.append(f"/* every channel's raw sum, then its stored activation s (32 bits) */\n"
               f"static uint32_t {prefix}_act[{n_act}];\n")
    c_loop = _c_loop(prefix, P, T, n_st, c_last, nibs, word, mtype, stages[-1].lo)
    if word:
        asm = predict_asm(prefix, model.n_in, model.n_out, n_st, word.mb, word.offset,
                          any(st.n_out % 2 for st in stages), nibs, nar3)
        body = "\n".join(["#if QNN_ASM", *asm, "#else", c_loop, "#endif"])
        out += [ASM_MACRO, KERNEL_DOC.format(block=B)]
    else:
        body = c_loop
    out.append(f"void {prefix}_predict(const uint16_t in[{P}_N_IN], int16_t out[{P}_N_OUT])\n"
               f"{{\n{body}\n}}\n")
    return "\n".join(out)


def _c_loop(prefix: str, P: str, T: str, n_st: int, c_last: int, nibs: bool,
            word: _Word | None, mtype: str, lo_last: int) -> str:
    """The network as plain C: the stage loop, the kernel and the requantization."""
    kern = pk.C_KERNEL.format(nib=pk.SH_NIB) if nibs else pk.C_KERNEL_BYTE
    offset = word is not None and word.offset
    if word:
        req = [f"int32_t kw = *k++; /* B * 2^{word.mb} + M' */",
               f"uint32_t u = (*p + (uint32_t)(kw >> {word.mb})) * ((uint32_t)kw & "
               f"{(1 << word.mb) - 1}u) + kk;",
               "u = (uint32_t)((int32_t)u >> n); /* a - lo */"]
        pre = ["uint32_t n = st->n;",
               "uint32_t kk = ((1u << n) >> 1) - lo * (1u << n); /* K */"]
        decl = ""
    else:
        req = ["uint32_t n = *np++;",
               "uint32_t u = (*p + (uint32_t)*k++) * *m++ + ((1u << n) >> 1);",
               "u = (uint32_t)((int32_t)u >> n) - lo; /* a - lo */"]
        pre = []
        decl = f"    const {mtype} *m = {prefix}_m;\n    const uint8_t *np = {prefix}_n;\n"
    req += ["if (u > span) u = ((int32_t)u < 0) ? 0u : span;"] + ([] if offset else ["u += lo;"])
    pre = ["uint32_t lo = (uint32_t)(int32_t)st->lo, span = st->span;", *pre]
    ind = "            "
    res = f"(int16_t)({prefix}_act[{c_last} + q] + ({lo_last}))" if offset else \
        f"(int16_t){prefix}_act[{c_last} + q]"
    return f"""\
    uint32_t q, sum;
    const {T} *st = {prefix}_stages;
    const uint8_t *w = {prefix}_w;
    const int32_t *k = {prefix}_k;
{decl}\
    uint32_t *acc = {prefix}_act, *end = acc + {P}_N_IN; /* the stage's slots */

    for (q = 0; q < {P}_N_IN; q++) acc[q] = in[q]; /* the input map's raw values */
    for (;;) {{
        uint32_t *p = acc; /* requantize the stage's channels */
        sum = 0; /* of the stored activations: the weights' offset, see above */
        {{
{chr(10).join(ind + t for t in pre)}
            do {{
{chr(10).join(ind + "    " + t for t in req)}
                sum += u;
                *p++ = u;
            }} while (p != end);
        }}
        if (++st == {prefix}_stages + {n_st}) break;
        const uint32_t *in_lo = acc, *in_end = end; /* the next stage's inputs */
        uint32_t init = 0u - (sum << {"st->sh" if nibs else 7});
        acc = end;
        end += st->n_out;
        for (p = acc; p < end; p += {COMPACT_BLOCK}) {{ /* the kernel: each block's raw sums */
            uint32_t nb = (uint32_t)(end - p);
            if (nb > {COMPACT_BLOCK}) nb = {COMPACT_BLOCK};
            uint32_t n_in = (uint32_t)(in_end - in_lo);
{kern}
        }}
    }}
    for (q = 0; q < {P}_N_OUT; q++) out[q] = {res};"""
