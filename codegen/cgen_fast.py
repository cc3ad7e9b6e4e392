"""The fast variant of the C generator (see codegen/cgen.py): every weight an immediate, one
inline-assembly kernel per block of outputs with the plain C under #else."""

from __future__ import annotations

import numpy as np

from codegen.cgen_common import (
    _ASSUMPTIONS,
    _REQUANT_DOC,
    _banner,
    _clamp_store,
    _i32,
    _lit,
    _rnd_scaled,
    _Stage,
    _stages,
)
from qnn.intmodel import IntLayer, IntModel, rnd

_FOLD_DOC = """\
/*
 * Fast variant: each channel's bias, rounding term and the zero points of its inputs are
 * folded into ONE constant C[i]:
 *
 *   y[i] = clamp((int32_t)(dot[i] * M[i] + C[i]) >> n[i], lo, hi)
 *
 * where dot[i] is the sum over the stored (non-negative) activations. Activations are stored
 * offset by their clamp's lower bound (au = a - lo >= 0), so they fit uint8_t/uint16_t.
 */
"""

FAST_BLOCK = 4  # outputs computed together in the fast variant (accumulators in registers)

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
#ifndef QNN_FAST_ASM /* -DQNN_FAST_ASM=0 builds the plain C on the M0 too */
#if defined(__GNUC__) && defined(__OPTIMIZE__) && defined(__thumb__) && !defined(__thumb2__)
#define QNN_FAST_ASM 1
#else
#define QNN_FAST_ASM 0
#endif
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
           f'#include "{prefix}_model.h"\n', _REQUANT_DOC, _ASSUMPTIONS, _FOLD_DOC, _KEEP_DOC,
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

