"""The compact variant of the C generator (see codegen/cgen.py): one loop over a stage table,
one weight stream read by a looping inline-assembly kernel, per-channel constant tables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from codegen.cgen_common import _ASSUMPTIONS, _REQUANT_DOC, _banner, _c_array
from qnn.intmodel import IntModel

COMPACT_BLOCK = 8  # outputs computed together by the compact kernel (accumulators in registers)
_K_BITS = 8  # k = B * 2^8 + (n - 1): ASRS by a register uses the register's low byte
# Where the compact variant's flash goes (6-16-16-6, 8-bit, -Os; random and trained magnet6
# models alike): 436 B code + 450 B weights (448 B + 2 B the last 6-output block over-reads)
# + 176 B int32 k (B * 256 + n - 1: B is the bias folded with the inputs' offset, up to
# ~2.6e5, so it needs more than 16 bits) + 88 B uint16 M + 32 B stage table = 1182 B;
# ~4140-4185 cycles max (4.6 cycles per MAC in the kernel, 24 per channel requantization,
# ~700 in the stage loop, the copies and the prologue). A 1000 B budget leaves 254 B of code.

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
 * one int32 k = B * 256 + (n - 1) and one M give, with P = (acc * M) mod 2^32 read as int32,
 *
 *   au = v - lo = ((P >> (n - 1)) + 1 - 2 lo) >> 1        (exact: |P >> (n - 1)| <= 2^30)
 *
 * since (P + 2^(n-1)) >> n == ((P >> (n - 1)) + 1) >> 1 for floor shifts.
 */
"""

_COMPACT_MACROS = """\
#if defined(__GNUC__)
#define QNN_UNLIKELY(c) __builtin_expect((c), 0)
#else
#define QNN_UNLIKELY(c) (c)
#endif
/* QNN_ASM: the kernel below is GCC inline assembly on ARMv6-M (Thumb-1) when optimising, and
 * the equivalent plain C otherwise (any other compiler or target, e.g. a host build): same
 * operations, same result, since both compute modulo 2^32. QNN_ASR_K(v, k) is
 * v = (int32_t)v >> (k & 255): one ASRS, which only reads the low byte of its shift register. */
#if defined(__GNUC__) && defined(__OPTIMIZE__) && defined(__thumb__) && !defined(__thumb2__)
#define QNN_ASM 1
#define QNN_REG(type, v, reg, init) register type v __asm__(reg) = (init)
#define QNN_ASR_K(v, k) \\
    __asm__(".syntax unified\\n\\tasrs %0, %1\\n\\t.syntax divided" : "+l"(v) : "l"(k) : "cc")
#else
#define QNN_ASM 0
#define QNN_REG(type, v, reg, init) type v = (init)
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
 * multiply-accumulate). The accumulators start at the stage's -128 * sum_j au (the MOVs
 * before the loop) and are stored with two STMIA after it. A block of nb < {block}
 * outputs still runs {block} products; the extra ones read the next block's weights and their
 * accumulators are never used. */
"""

_REGS = ("r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11")


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
        data = []
        for i0 in range(0, L.n_out, B):
            data += [int(v) for v in (W[i0:i0 + B] + 128).T.reshape(-1)]
        bias = [int(L.bias[i]) + in_lo * int(W[i].sum()) for i in range(L.n_out)]
        out.append(_CStage(L.n_in, L.n_out, L.lo, L.hi, bias, [int(v) for v in L.multiplier],
                           [int(v) for v in L.shift], data))
        in_lo = L.lo
    return out


def _kernel_asm(prefix: str, unroll: int) -> list[str]:
    """The block kernel as one inline-assembly statement (see _KERNEL_DOC)."""
    B = COMPACT_BLOCK
    ins = ["push {%[x]}", "mov lr, %[t]"]
    ins += [f"mov %[s{q}], %[s0]" for q in range(1, B)]
    ins += ["1:"]
    for _ in range(unroll):
        ins += ["ldmia %[a]!, {%[x]}"]
        for q in range(B):
            add = "adds" if int(_REGS[q][1:]) < 8 else "add"
            ins += [f"ldrb %[t], [%[w], #{q}]", "muls %[t], %[x], %[t]", f"{add} %[s{q}], %[t]"]
        ins += ["add %[w], lr"]
    ins += ["cmp %[a], %[e]", "bne 1b",
            "pop {%[a]}", "stmia %[a]!, {%[s0], %[s1], %[s2], %[s3]}"]
    ins += [f"mov %[s{q}], %[s{q + 4}]" for q in range(4)]
    ins += ["stmia %[a]!, {%[s0], %[s1], %[s2], %[s3]}"]
    ins = [".syntax unified", *ins, ".syntax divided"]
    lines = ["            QNN_REG(const uint32_t *, a, \"r0\", in_lo);",
             "            QNN_REG(const uint8_t *, wr, \"r1\", w);",
             "            QNN_REG(uint32_t *, x, \"r2\", p); /* the block's slots */",
             "            QNN_REG(uint32_t, t, \"r3\", nb); /* the weight stride */",
             "            QNN_REG(uint32_t, s0, \"r4\", init);",
             "            QNN_REG(const uint32_t *, e, \"ip\", in_end);"]
    lines += [f"            register uint32_t s{q} __asm__(\"{r}\");"
              for q, r in enumerate(_REGS) if q]
    lines.append("            __asm__ volatile(")
    lines += [f'                "{i}\\n\\t"' for i in ins]
    outs = ['[a] "+l"(a)', '[w] "+l"(wr)', '[x] "+l"(x)', '[t] "+l"(t)', '[s0] "+l"(s0)']
    outs += [f'[s{q}] "=&{"l" if q < 4 else "r"}"(s{q})' for q in range(1, B)]
    lines.append(f"                : {', '.join(outs[:5])},")
    lines.append(f"                  {', '.join(outs[5:])}")
    lines.append('                : [e] "r"(e)')
    lines.append('                : "lr", "cc", "memory");')
    lines.append("            w = wr;")
    return lines


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
    ntype = "uint16_t" if max(max(st.n_in, st.n_out) for st in stages) > 0xFF else "uint8_t"
    weights = [b for st in stages for b in st.weights]
    # the last block reads B - nb weight bytes past its own (their products are not used)
    last = stages[-1].n_out % B
    pad = B - last if last and stages[-1].n_in else 0
    weights += [0] * pad
    c_last = sum(st.n_out for st in stages[:-1])
    n_act = c_last + -(-stages[-1].n_out // B) * B  # the last block may write past the end
    T = f"{prefix}_stage_t"
    out = [_banner(model, "compact", f"{prefix}_model.c: the network, compact variant."),
           f'#include "{prefix}_model.h"\n', _REQUANT_DOC, _ASSUMPTIONS,
           _COMPACT_DOC.format(block=B, prefix=prefix), _COMPACT_MACROS,
           _KERNEL_DOC.format(block=B)]
    cdoc = "1 - 2 lo" if fast else "lo"
    out.append(f"typedef struct {{\n    {ntype} n_in; /* 0: the input map */\n"
               f"    {ntype} n_out;\n    uint16_t span; /* the clamp: [lo, lo + span] */\n"
               f"    int32_t c; /* {cdoc} */\n}} {T};\n")
    rows = ",\n".join(f"    {{{st.n_in}, {st.n_out}, {st.hi - st.lo}, {c}}}"
                      for st, c in zip(stages, cvals, strict=True))
    out.append(f"static const {T} {prefix}_stages[{n_st}] = {{\n{rows}\n}};\n")
    if pad:
        out.append(f"/* weights, then {pad} zero bytes the last block's unused products read */")
    out.append(_c_array("uint8_t", f"{prefix}_w", weights, width=3))
    if fast:
        out.append(f"/* per channel (input map, then each layer): B * {1 << _K_BITS} + (n - 1), "
                   "and M */\n")
    else:
        out.append("/* per channel (input map, then each layer): B, M and n */\n")
    out.append(_c_array("int32_t", f"{prefix}_k", kvals, per_line=6))
    out.append(_c_array(mtype, f"{prefix}_m", all_m, per_line=8))
    if not fast:
        out.append(_c_array("uint8_t", f"{prefix}_n", all_n))
    out.append(f"/* every channel's raw accumulator, then its stored activation a - lo */\n"
               f"static uint32_t {prefix}_act[{n_act}];\n")
    # the kernel handles two inputs per iteration when every layer's input count is even
    unroll = 2 if all(st.n_in % 2 == 0 for st in stages) else 1
    nl = "\n"
    c_kernel = [
        "            uint32_t j, n_in = (uint32_t)(in_end - in_lo);",
        "            for (q = 0; q < nb; q++) {",
        "                uint32_t s = init;",
        "                for (j = 0; j < n_in; j++) s += w[j * nb + q] * in_lo[j];",
        "                p[q] = s;",
        "            }",
        "            w += n_in * nb;"]
    if fast:
        req_c = ["int32_t kk = *k++;",
                 "uint32_t u = (*p + (uint32_t)(kk >> 8)) * *m++;",
                 "QNN_ASR_K(u, kk);",
                 "u = (uint32_t)((int32_t)(u + cst) >> 1);",
                 "/* u = v - lo: one unsigned compare on the common path */",
                 "if (QNN_UNLIKELY(u > span)) u = ((int32_t)u < 0) ? 0 : span;"]
    else:
        req_c = ["uint32_t n = *np++;",
                 "uint32_t u = (*p + (uint32_t)*k++) * *m++ + ((1u << n) >> 1);",
                 "int32_t v = (int32_t)u >> n;",
                 "u = (v < (int32_t)cst) ? 0u : (uint32_t)v - cst; /* exact, < 2^32 */",
                 "if (u > span) u = span;"]
    req_c = [*req_c, "sum += u;", "*p++ = u;"]
    req_loop = ["        do {", *["            " + t for t in req_c], "        } while (p != acc);"]
    if fast:
        req_loop = ["#if QNN_ASM", *_requant_asm(mtype), "#else", *req_loop, "#endif"]
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
        uint32_t *in_end = acc;
        const uint32_t *in_lo = acc - st->n_in;
        uint32_t *p = acc; /* the stage's first output */
        uint32_t init = 0u - (sum << 7);
        uint32_t cst = (uint32_t)st->c, span = st->span;
        acc += st->n_out;
        /* the kernel: every block's raw accumulators */
        for (; in_lo != in_end && p < acc; p += {B}) {{
            uint32_t nb = (uint32_t)(acc - p);
            if (nb > {B}) nb = {B};
#if QNN_ASM
{nl.join(_kernel_asm(prefix, unroll))}
#else
{nl.join(c_kernel)}
#endif
        }}
        /* the requantization of every channel of the stage */
        p = in_end;
        sum = 0;
{nl.join(req_loop)}
    }} while (++st != {prefix}_stages + {n_st});
    for (q = 0; q < {P}_N_OUT; q++)
        out[q] = (int16_t)({prefix}_act[{c_last} + q] + ({stages[-1].lo}));
}}
"""
    out.append(body)
    return "\n".join(out)


def _requant_asm(mtype: str) -> list[str]:
    """The requantization loop of a stage as one inline-assembly statement: the C form under
    #else, instruction by instruction (22 cycles a channel when no clamp saturates)."""
    ld, step = ("ldrh", 2) if mtype == "uint16_t" else ("ldr", 4)
    ins = [("1:", ""),
           ("ldmia %[k]!, {%[kk]}", "kk = *k++"),
           ("ldr %[u], [%[p]]", "the raw accumulator"),
           ("asrs %[t], %[kk], #8", "B"),
           ("adds %[u], %[t]", ""),
           (f"{ld} %[t], [%[m]]", "M"),
           (f"adds %[m], #{step}", ""),
           ("muls %[u], %[t], %[u]", "P = (acc + B) * M"),
           ("asrs %[u], %[kk]", "P >> (n - 1): ASRS reads kk's low byte"),
           ("add %[u], %[c]", "+ 1 - 2 lo"),
           ("asrs %[u], %[u], #1", "u = v - lo"),
           ("asrs %[t], %[u], #31", "the clamp: u < 0 ? 0 : u"),
           ("bics %[u], %[t]", ""),
           ("cmp %[u], %[span]", "rare: u > span"),
           ("bhi 3f", ""),
           ("2:", ""),
           ("add %[sum], %[u]", ""),
           ("stmia %[p]!, {%[u]}", ""),
           ("cmp %[p], %[pe]", ""),
           ("bne 1b", ""),
           ("b 4f", ""),
           ("3:", ""),
           ("mov %[u], %[span]", ""),
           ("b 2b", ""),
           ("4:", "")]
    lines = ["        {",
             '            QNN_REG(uint32_t *, pp, "r0", p);',
             '            QNN_REG(const int32_t *, kp, "r1", k);',
             f'            QNN_REG(const {mtype} *, mp, "r2", m);',
             '            QNN_REG(uint32_t, c, "r8", cst);',
             '            QNN_REG(uint32_t, sp_, "r9", span);',
             '            QNN_REG(uint32_t, su, "r10", 0);',
             '            QNN_REG(uint32_t *, pe, "r11", acc);',
             '            register uint32_t kk __asm__("r3"), u __asm__("r4"), '
             't __asm__("r5");',
             "            __asm__ volatile(",
             '                ".syntax unified\\n\\t"']
    for i, c in ins:
        text = f'"{i}\\n\\t"'
        lines.append(f"                {text:32s}/* {c} */" if c else f"                {text}")
    lines += ['                ".syntax divided"',
              '                : [p] "+l"(pp), [k] "+l"(kp), [m] "+l"(mp), [su] "+r"(su),',
              '                  [kk] "=&l"(kk), [u] "=&l"(u), [t] "=&l"(t)',
              '                : [c] "r"(c), [span] "r"(sp_), [pe] "r"(pe)',
              '                : "cc", "memory");',
              "            k = kp;",
              "            m = mp;",
              "            sum = su;",
              "        }"]
    return [ln.replace("%[sum]", "%[su]") for ln in lines]
