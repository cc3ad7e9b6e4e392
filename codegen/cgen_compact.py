"""The compact variant of the C generator (see codegen/cgen.py): one loop over a stage table,
one weight stream read by a looping inline-assembly kernel, per-channel constant tables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codegen import cgen_pack as pk
from codegen.cgen_common import _ASSUMPTIONS, _REQUANT_DOC, _banner, _c_array, _i32
from qnn.intmodel import IntModel

COMPACT_BLOCK = 8  # outputs computed together by the compact kernel (accumulators in registers)
_K_BITS = 8  # k = B * 2^8 + (n - 1): ASRS by a register uses the register's low byte
# Where the compact variant's flash goes (6-16-16-6, 8-bit, -Os; random and trained magnet6
# models alike): 444 B code + 448 B weights + 264 B per-channel stream (B * 256 + n - 1: B,
# the bias folded with the inputs' offset, is up to ~2.6e5; and M) + 24 B stage table =
# 1180 B; ~3605-3650 cycles max (4.6 per MAC in the 8-wide kernel, 4.5 in the 6-wide one,
# ~20 per channel requantization), 68 B stack: all one inline-assembly statement.

_COMPACT_DOC = """\
/*
 * Compact variant: one loop walks a small stage table (the input map, then each layer) and
 * computes each stage's outputs in blocks of up to {block}; weights and per-channel constants
 * are read as streams, in the order they are used.
 *
 * The kernel keeps a block's {block} accumulators in registers while it walks the inputs, so
 * each activation is loaded once per block and each weight byte once. Weights are stored
 * offset-binary, wu = W + 128 (one byte each; per block of nb outputs, for each input in turn,
 * the block's nb weights), and activations offset by their clamp's lower bound,
 * au = a - lo >= 0, so the kernel is one byte load, MULS and ADD per weight:
 *
 *   acc = b + sum_j W a  =  B + sum_j wu au - 128 * sum_j au,   B = b + lo_in * sum_j W
 *
 * sum_j au is summed while the previous stage stores its outputs. The input map is the same
 * requantization with acc = x - zp (B = -zp). Every value lives in one static buffer,
 * {prefix}_act: a stage's inputs are the slots just before its outputs; the kernel writes a
 * block's raw accumulators into its outputs' slots, and the requantization replaces them with
 * the stored activation au. With every n >= 2 (else a plain form is generated), per channel
 * one int32 k = B * 256 + (n - 1) and one M (as uint16, two share a word) give, with
 * P = (acc * M) mod 2^32 read as int32,
 *
 *   au = v - lo = ((P >> (n - 1)) + 1 - 2 lo) >> 1        (exact: |P >> (n - 1)| <= 2^30)
 *
 * since (P + 2^(n-1)) >> n == ((P >> (n - 1)) + 1) >> 1 for floor shifts.
 */
"""

_COMPACT_MACROS = """\
/* QNN_ASM: the network below is GCC inline assembly on ARMv6-M (Thumb-1) when optimising, and
 * the equivalent plain C otherwise (any other compiler or target, e.g. a host build): same
 * operations, same result, since both compute modulo 2^32. QNN_ASR_K(v, k) is
 * v = (int32_t)v >> (k & 255): one ASRS, which only reads the low byte of its shift register. */
#if defined(__GNUC__) && defined(__OPTIMIZE__) && defined(__thumb__) && !defined(__thumb2__)
#define QNN_ASM 1
#define QNN_ASR_K(v, k) \\
    __asm__(".syntax unified\\n\\tasrs %0, %1\\n\\t.syntax divided" : "+l"(v) : "l"(k) : "cc")
#else
#define QNN_ASM 0
#define QNN_ASR_K(v, k) ((v) = (uint32_t)((int32_t)(v) >> ((uint32_t)(k) & 255u)))
#endif
"""

_KERNEL_DOC = """\
/* The kernel, per block of nb <= {block} outputs (r0 the activation pointer, r1 the weights,
 * r2 the activation x, r3 the product t, r4-r11 the accumulators s0-s7, ip the inputs' end,
 * lr the weight stride nb), per input:
 *
 *   LDMIA r0!, {{x}}                        2 cycles   the activation, once per block
 *   LDRB t, [r1, #q] ; MULS t, x ; ADD sq, t   4 cycles   x {block} outputs: 32
 *   ADD r1, lr ; CMP r0, ip ; BNE            5 cycles
 *
 * i.e. 39 cycles per input and block (4.9 per multiply-accumulate); with every layer's input
 * count even, the loop body holds two inputs and the CMP/BNE is paid once per pair (4.6 per
 * multiply-accumulate). The accumulators start at the stage's -128 * sum_j au and are stored
 * with two STMIA after the loop. A stage's last block of nb < {block} outputs runs a narrower
 * copy of the loop (as wide as the widest such block, up to 6) when there is one, else the
 * {block} products; the extra products read the next block's weights, their accumulators are
 * never used. The stage loop, the block loop and the requantization around the kernel are
 * assembly too (one statement, its state in a 32-byte stack frame): nothing is spilled. */
"""

@dataclass
class _CStage:
    n_in: int  # inputs read by the kernel (0: the input map)
    n_out: int
    lo: int
    hi: int
    k: list[int]  # per channel: B (the acc-domain constant), or -zp for the input map
    m: list[int]
    n: list[int]
    weights: list[int]  # offset-binary bytes, see _COMPACT_DOC (or nibbles: pk.PACK_DOC)
    sh: int = pk.SH_BYTE


def _compact_stages(model: IntModel) -> list[_CStage]:
    im = model.input_map
    B = COMPACT_BLOCK
    out = [_CStage(0, model.n_in, im.lo, im.hi, [-int(z) for z in im.zero_point],
                   [int(v) for v in im.multiplier], [int(v) for v in im.shift], [])]
    in_lo = im.lo
    for L in model.layers:
        W = L.weights.astype(np.int64)
        data = []
        for i0 in range(0, L.n_out, B) if L.w_bits > pk.NIB_MAX_BITS else ():
            data += [int(v) for v in (W[i0:i0 + B] + 128).T.reshape(-1)]
        nib = L.w_bits <= pk.NIB_MAX_BITS
        bias = [int(L.bias[i]) + in_lo * int(W[i].sum()) for i in range(L.n_out)]
        out.append(_CStage(L.n_in, L.n_out, L.lo, L.hi, bias, [int(v) for v in L.multiplier],
                           [int(v) for v in L.shift], pk.pack_nibbles(W, B) if nib else data,
                           pk.SH_NIB if nib else pk.SH_BYTE))
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
    # because |P >> (n-1)| <= 2^30; and n - 1 packed with B when B fits 24 bits.
    lim = 1 << (31 - _K_BITS)
    fast = min(all_n) >= 2 and all(-lim <= b < lim for b in all_b)
    if fast:
        kvals = [(b << _K_BITS) + n - 1 for b, n in zip(all_b, all_n, strict=True)]
        cvals = [1 - 2 * st.lo for st in stages]
    else:
        kvals, cvals = all_b, [st.lo for st in stages]
    mtype = "uint16_t" if max(all_m) <= 0xFFFF else "uint32_t"
    packed = fast and mtype == "uint16_t"  # per two channels M0 | M1 << 16, k0, k1: the asm
    if packed:
        kv, i = [], 0
        for st in stages:  # an odd count: the stage's first turn has an unused first channel
            ch = [(0, 0)] * (st.n_out % 2) + list(zip(kvals[i:i + st.n_out],
                                                       all_m[i:i + st.n_out], strict=True))
            i += st.n_out
            for (ka, ma), (kb, mb) in zip(ch[::2], ch[1::2], strict=True):
                kv += [_i32(ma | mb << 16), ka, kb]
        kvals = kv
    ntype = "uint16_t" if max(max(st.n_in, st.n_out) for st in stages) > 0xFF else "uint8_t"
    weights = [b for st in stages for b in st.weights]
    # a stage's last block (nb < B) runs the narrow kernel, or B products, reading past it
    nibs = any(st.sh == pk.SH_NIB for st in stages)
    bst = [st for st in stages[1:] if st.sh == pk.SH_BYTE]
    narrow = max([st.n_out % B for st in bst if st.n_out % B <= 6] + [0]) * packed
    nar3 = packed and any(0 < st.n_out % B <= 6 for st in stages if st.sh == pk.SH_NIB)
    last = stages[-1].n_out % B
    pad = (narrow if 0 < last <= narrow else B) - last if last and stages[-1].n_in else 0
    if stages[-1].sh == pk.SH_NIB:
        last = (last + 1) // 2 if last else B // 2
        pad = pk.nib_kernel_bytes(stages[-1].n_out, B, nar3) - last if packed else 0
    weights += [0] * pad
    c_last = sum(st.n_out for st in stages[:-1])
    n_act = c_last + -(-stages[-1].n_out // B) * B  # the last block may write past the end
    T = f"{prefix}_stage_t"
    out = [_banner(model, "compact", f"{prefix}_model.c: the network, compact variant."),
           f'#include "{prefix}_model.h"\n', _REQUANT_DOC, _ASSUMPTIONS,
           _COMPACT_DOC.format(block=B, prefix=prefix), _COMPACT_MACROS,
           _KERNEL_DOC.format(block=B)] + [pk.PACK_DOC] * nibs
    cdoc, c_expr = ("1 - 2 lo", "(uint32_t)st->c") if fast else ("lo", "(uint32_t)st->c")
    if fast and all(0 <= -st.lo <= 0xFFFF for st in stages):  # -lo: 2 bytes, not 4
        cvals, cdoc, c_expr = [-st.lo for st in stages], "-lo", "2u * st->c + 1u"
    ctype = "uint16_t" if all(0 <= c <= 0xFFFF for c in cvals) else "int32_t"
    out.append(f"typedef struct {{\n    {ntype} n_in; /* 0: the input map */\n"
               f"    {ntype} n_out;\n    uint16_t span; /* the clamp: [lo, lo + span] */\n"
               f"    {ctype} c; /* {cdoc} */\n"
               + "    uint8_t sh; /* the weights' offset 2^sh: 7 bytes, 3 nibbles */\n" * nibs
               + f"}} {T};\n")
    rows = ",\n".join(f"    {{{st.n_in}, {st.n_out}, {st.hi - st.lo}, {c}"
                      + f", {st.sh}" * nibs + "}"
                      for st, c in zip(stages, cvals, strict=True))
    out.append(f"static const {T} {prefix}_stages[{n_st}] = {{\n{rows}\n}};\n")
    if pad:
        out.append(f"/* weights, then {pad} zero bytes the last block's unused products read */")
    out.append(_c_array("uint8_t", f"{prefix}_w", weights, width=3))
    kdoc = f"B * {1 << _K_BITS} + (n - 1)" if fast else "B"
    out.append("/* per two channels (input map, then each layer): M0 | M1 << 16, then each's "
               f"{kdoc} */\n" if packed else f"/* per channel (input map, then each layer): "
               f"{kdoc}, M{'' if fast else ' and n'} */\n")
    out.append(_c_array("int32_t", f"{prefix}_k", kvals, per_line=6))
    if not packed:
        out.append(_c_array(mtype, f"{prefix}_m", all_m, per_line=8))
    if not fast:
        out.append(_c_array("uint8_t", f"{prefix}_n", all_n))
    out.append(f"/* every channel's raw accumulator, then its stored activation a - lo */\n"
               f"static uint32_t {prefix}_act[{n_act}];\n")
    # the kernel handles two inputs per iteration when every layer's input count is even
    unroll = 2 if all(st.n_in % 2 == 0 for st in stages) else 1
    nl = "\n"
    if fast:
        req_c = ["int32_t kk = *k++;",
                 "uint32_t u = (*p + (uint32_t)(kk >> 8)) * *m++;",
                 "QNN_ASR_K(u, kk);",
                 "u = (uint32_t)((int32_t)(u + cst) >> 1); /* u = v - lo */",
                 "if (u > span) u = ((int32_t)u < 0) ? 0 : span;"]
    else:
        req_c = ["uint32_t n = *np++;",
                 "uint32_t u = (*p + (uint32_t)*k++) * *m++ + ((1u << n) >> 1);",
                 "int32_t v = (int32_t)u >> n;",
                 "u = (v < (int32_t)cst) ? 0u : (uint32_t)v - cst; /* exact, < 2^32 */",
                 "if (u > span) u = span;"]
    req_c = [*req_c, "sum += u;", "*p++ = u;"]
    if packed:
        req_c[:2] = ["int32_t kk = k[1 + h];",
                     "uint32_t u = (*p + (uint32_t)(kk >> 8)) * ((uint32_t)k[0] >> (h << 4) & "
                     "0xFFFFu);"]
        req_c += ["k += 3 * h;", "h ^= 1u;"]
    req_loop = ["        do {", *["            " + t for t in req_c], "        } while (p != acc);"]
    if packed:
        req_loop.insert(0, "        h = (uint32_t)(acc - p) & 1u; /* odd: a turn's second */")
    kern = pk.C_KERNEL.format(nib=pk.SH_NIB) if nibs else pk.C_KERNEL_BYTE
    c_loop = f"""\
    uint32_t q;
    const {T} *st = {prefix}_stages;
    const uint8_t *w = {prefix}_w;
    const int32_t *k = {prefix}_k;
{f"    uint32_t h;{nl}" if packed else f"    const {mtype} *m = {prefix}_m;{nl}"}\
{"" if fast else f"    const uint8_t *np = {prefix}_n;{nl}"}\
    uint32_t *acc = {prefix}_act; /* the next output's slot */
    uint32_t sum = 0; /* of the stored activations: the weights' offset, see above */

    for (q = 0; q < {P}_N_IN; q++) acc[q] = in[q]; /* the input map's "acc" */

    do {{
        /* a stage's inputs are the {prefix}_act slots just before its outputs */
        uint32_t *in_end = acc;
        const uint32_t *in_lo = acc - st->n_in;
        uint32_t *p = acc; /* the stage's first output */
        uint32_t init = 0u - (sum << {"st->sh" if nibs else 7});
        uint32_t cst = {c_expr}, span = st->span;
        acc += st->n_out;
        /* the kernel: every block's raw accumulators */
        for (; in_lo != in_end && p < acc; p += {B}) {{
            uint32_t nb = (uint32_t)(acc - p);
            if (nb > {B}) nb = {B};
            uint32_t j, n_in = (uint32_t)(in_end - in_lo);
{kern}
        }}
        p = in_end; /* the requantization of every channel of the stage */
        sum = 0;
{nl.join(req_loop)}
    }} while (++st != {prefix}_stages + {n_st});"""
    c_out = (f"    for (q = 0; q < {P}_N_OUT; q++)\n"
             f"        out[q] = (int16_t)({prefix}_act[{c_last} + q] + ({stages[-1].lo}));")
    if packed:
        asm = _predict_asm(prefix, [st.n_out for st in stages], unroll, narrow, ntype, ctype,
                           (nibs, nar3))
        c_loop = "\n".join(["#if QNN_ASM", *asm, "#else", "    {", c_loop, c_out, "    }",
                            "#endif"])
    else:
        c_loop = f"{c_loop}\n{c_out}"
    body = f"""\
void {prefix}_predict(const uint16_t in[{P}_N_IN], int16_t out[{P}_N_OUT])
{{
{c_loop}
}}
"""
    out.append(body)
    return "\n".join(out)


def _predict_asm(prefix: str, n_outs: list[int], unroll: int, narrow: int, ntype: str,
                 ctype: str, nib: tuple[bool, bool]) -> list[str]:
    """Every stage (the stage loop, the block loop, the kernel and the requantization) as one
    inline-assembly statement: the C form under #else, step by step (see _KERNEL_DOC)."""
    B = COMPACT_BLOCK
    ld_n, o = ("ldrb", 1) if ntype == "uint8_t" else ("ldrh", 2)
    ld_c, cs = ("ldrh", 2) if ctype == "uint16_t" else ("ldr", 4)
    o_span, o_c = 2 * o, 4 * o if cs == 4 else 2 * o + 2  # stage_t: n_in, n_out, span, c
    size = o_c + cs if not nib[0] else -(-(o_c + cs + 1) // max(o, cs, 2)) * max(o, cs, 2)
    odd = any(n % 2 for n in n_outs)
    acc = [f"r{4 + q}" for q in range(B)]
    body = ["ldmia r0!, {r2}"]
    for q, s in enumerate(acc):
        body += [f"ldrb r3, [r1, #{q}]", "muls r3, r2, r3",
                 f"adds {s}, r3" if q < 4 else f"add {s}, r3"]
    ins = [  # frame: st, in_lo, init, stage end, block p, k, stages left, out
        ("push {r2, r5, r6}", "k, the stages left, out"), ("sub sp, #20", ""),
        ("b 2f", ""),
        ("8:", "rare: u > span"), ("mov r6, r9", ""), ("b 7f", ""),
        ("10:", ""), ("mov r6, r9", ""), ("b 12f", ""),
        ("16:", "the input map's acc: the inputs"), ("ldrh r5, [r7]", ""), ("adds r7, #2", ""),
        ("stmia r0!, {r5}", ""), ("cmp r0, r3", ""), ("bne 16b", ""),
        ("5:", "the requantization, r0 = p up to r10, two channels a turn"),
        ("mov r10, r3", ""), ("mov r0, ip", ""), ("ldr r4, [sp, #0]", ""),
        (f"ldrh r5, [r4, #{o_span}]", ""), ("mov r9, r5", "span"),
        (f"{ld_c} r5, [r4, #{o_c}]", "")]
    if ctype == "uint16_t":  # c = -lo
        ins += [("lsls r5, r5, #1", ""), ("adds r5, #1", "")]
    ins += [("mov r8, r5", "1 - 2 lo"),
        ("ldr r2, [sp, #20]", ""), ("movs r6, #0", ""),
        ("mov r11, r6", "sum")]
    if odd:  # an odd channel count starts with the second channel of a turn
        ins += [("mov r7, r10", ""), ("subs r7, r7, r0", ""), ("lsls r7, r7, #29", ""),
                ("bpl 6f", "even"), ("ldmia r2!, {r3, r4, r5}", ""), ("b 11f", "")]
    for q, kq, lab in ((0, "r4", ("6:", "7:")), (1, "r5", ("11:", "12:"))):
        ins += [(lab[0], "")] + ([("ldmia r2!, {r3, r4, r5}", "M0 | M1 << 16, k0, k1")]
                                 if q == 0 else [])
        ins += [("ldr r6, [r0]", "acc"), (f"asrs r7, {kq}, #8", "B"), ("adds r6, r7", ""),
                ("lsrs r7, r3, #16" if q else "uxth r7, r3", "M")]
        ins += [("muls r6, r7, r6", "P = (acc + B) * M"),
                (f"asrs r6, {kq}", "P >> (n - 1): ASRS reads k's low byte"),
                ("add r6, r8", "+ 1 - 2 lo"), ("asrs r6, r6, #1", "u = v - lo"),
                ("asrs r7, r6, #31", "the clamp: u < 0 ? 0 : u"), ("bics r6, r7", ""),
                ("cmp r6, r9", ""), ("bhi 10b" if q else "bhi 8b", ""), (lab[1], ""),
                ("add r11, r6", "sum += u"), ("stmia r0!, {r6}", "")]
    ins += [("cmp r0, r10", ""), ("bne 6b", ""), ("str r2, [sp, #20]", ""),
            ("mov r6, r11", ""),
            ("ldr r4, [sp, #0]", ""), (f"adds r4, #{size}", "the next stage"),
            ("ldr r5, [sp, #24]", ""), ("subs r5, #1", ""), ("str r5, [sp, #24]", ""),
            ("beq 9f", "")]
    ins += [
        ("2:", "a stage: r0 its first output's slot, r4 st, r6 the previous stage's sum"),
        ("str r4, [sp, #0]", ""), (f"{ld_n} r3, [r4, #{o}]", "n_out"), ("lsls r3, r3, #2", ""),
        ("adds r3, r0, r3", ""), ("str r3, [sp, #12]", "the stage's end"),
        ("mov ip, r0", "the inputs' end"), (f"{ld_n} r2, [r4, #0]", "n_in"),
        ("lsls r2, r2, #2", ""), ("beq 16b", "the input map: no kernel"),
        ("subs r2, r0, r2", ""), ("str r2, [sp, #4]", "the inputs"),
        *([(f"ldrb r7, [r4, #{o_c + cs}]", ""), ("lsls r6, r7", "sum << sh")] if nib[0]
          else [("lsls r6, r6, #7", "")]), ("negs r6, r6", ""), ("str r6, [sp, #8]", "-128 * sum"),
        ("3:", "a block of up to 8 outputs"), ("str r0, [sp, #16]", ""),
        ("subs r3, r3, r0", ""), ("lsrs r3, r3, #2", ""), (f"cmp r3, #{B}", ""),
        ("bls 4f", ""), (f"movs r3, #{B}", ""), ("4:", ""),
        *[(i, "") for i in (pk.nib_dispatch(o_c + cs) if nib[0] else [])],
        ("mov lr, r3", "the weight stride"),
        ("ldr r0, [sp, #4]", ""), ("ldr r4, [sp, #8]", "")]
    ins += [(f"mov {s}, r4", "") for s in acc[1:]]
    ins += [(f"cmp r3, #{narrow}", ""), ("bls 13f", "the narrow kernel")] if narrow else []
    ins += [("1:", "the kernel")] + [(i, "") for i in (body + ["add r1, lr"]) * unroll]
    ins += [("cmp r0, ip", ""), ("bne 1b", ""), ("14:", ""), ("ldr r0, [sp, #16]", ""),
            ("stmia r0!, {r4, r5, r6, r7}", "")]
    ins += [(f"mov {acc[q]}, {acc[q + 4]}", "") for q in range(4)]
    ins += [("stmia r0!, {r4, r5, r6, r7}", ""), ("ldr r3, [sp, #12]", ""),
            ("cmp r0, r3", ""), ("bcc 3b", ""), ("b 5b", "")]
    k6 = ["13:", *body[:1 + 3 * narrow], "add r1, lr", "cmp r0, ip", "bne 13b", "b 14b"]
    ins += [(i, "") for i in k6] if narrow else []
    ins += [("9:", "out[q] = u + lo, the last stage's u from ip up to r10"), ("mov r0, ip", ""),
            ("mov r3, r8", ""), ("asrs r3, r3, #1", "-lo = (1 - 2 lo) >> 1"),
            ("ldr r2, [sp, #28]", ""), ("15:", ""), ("ldmia r0!, {r4}", ""),
            ("subs r4, r4, r3", ""), ("strh r4, [r2]", ""), ("adds r2, #2", ""),
            ("cmp r0, r10", ""), ("bne 15b", ""), ("add sp, #32", "")]
    ins += [(i, "") for i in ["b 23f", *pk.nib_asm(1, nib[1]), "23:"]] if nib[0] else []
    T = f"{prefix}_stage_t"
    regs = (("uint32_t *", f"{prefix}_act"), ("const uint8_t *", f"{prefix}_w"),
            ("const int32_t *", f"{prefix}_k"), ("", ""), (f"const {T} *", f"{prefix}_stages"),
            ("uint32_t ", len(n_outs)), ("int16_t *", "out"), ("const uint16_t *", "in"))
    lines = ["    {", *[f'        register {t}r{r} __asm__("r{r}") = {v};'
                          for r, (t, v) in enumerate(regs) if t], "        __asm__ volatile(",
             '            ".syntax unified\\n\\t"']
    for i, c in ins:
        text = f'"{i}\\n\\t"'
        lines.append(f"            {text:34s}/* {c} */" if c else f"            {text}")
    lines += ['            ".syntax divided"',
              '            : "+l"(r0), "+l"(r1), "+l"(r2), "+l"(r4), "+l"(r5),',
              '              "+l"(r6), "+l"(r7)',
              "            :",
              '            : "r3", "r8", "r9", "r10", "r11", "ip", "lr", "cc", "memory");',
              "    }"]
    return lines
