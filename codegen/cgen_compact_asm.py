"""The compact variant's network as one GCC inline-assembly statement (ARMv6-M, Thumb-1): the
stage loop, the block loop, the kernel and the requantization of codegen/cgen_compact.py,
with the plain C under #else. Cycle counts are the Cortex-M0 TRM's (ARM DDI 0432C)."""

from __future__ import annotations

from codegen import cgen_pack as pk

COMPACT_BLOCK = 8  # outputs computed together by the kernel (accumulators r4-r11)

ASM_MACRO = """\
/* QNN_ASM: the network below is GCC inline assembly on ARMv6-M (Thumb-1) when optimising, and
 * the equivalent plain C otherwise (any other compiler or target, e.g. a host build, or
 * -DQNN_ASM=0): the same steps, every sum taken modulo 2^32 in uint32_t, so the same result
 * bit for bit. */
#ifndef QNN_ASM
#if defined(__GNUC__) && defined(__OPTIMIZE__) && defined(__thumb__) && !defined(__thumb2__)
#define QNN_ASM 1
#else
#define QNN_ASM 0
#endif
#endif
"""

KERNEL_DOC = """\
/* The assembly. A stage row is {{lo, span, n_out, N[, sh]}}; the stack frame holds [0] the
 * row, [4] the stage's first input, [8] the kernel's start value -128 * sum s, [12] the
 * stage's end, [16] the block's first output, [20] k, [24] the stages left, [28] out.
 *
 * The kernel, per block of nb <= {block} outputs (r0 the activation pointer, r1 the weights,
 * r2 the activation s, r3 the product, r4-r11 the sums, ip the inputs' end, lr = nb), per
 * input:
 *
 *   LDMIA r0!, {{r2}}                               2 cycles
 *   LDRB r3, [r1, #q] ; MULS r3, r2 ; ADD sq, r3   4 cycles, x {block}: 32
 *   ADD r1, lr ; CMP r0, ip ; BNE                  5 cycles
 *
 * i.e. 39 cycles per input and block (4.9 per multiply-accumulate). A stage's last block of
 * nb < {block} outputs runs all {block} products: the extra ones read the next weights (or the
 * zero bytes after the table) and land in slots nothing reads before they are rewritten.
 *
 * The requantization, two channels a turn (r0 the slot, r2 k, r3 N, r7 span, r8 K, r10 the
 * stage's end, r11 the sum of its stored activations, ip lo), per channel:
 *
 *   LDMIA k ; LDR the raw sum ; ASRS B ; ADDS ; LSLS, LSRS M' ; MULS ; ADD K ; ASRS N
 *   ASRS, BICS (u < 0 -> 0) ; CMP span ; BHI (u > span: rare) ; ADD sum ; STMIA
 *
 * 15 instructions, 20 cycles with half the loop's CMP and BNE (+1: ADD lo, when s = a). */
"""


def _kernel_body(block: int) -> list[str]:
    body = ["ldmia r0!, {r2}"]
    for q in range(block):
        s = f"r{4 + q}"
        body += [f"ldrb r3, [r1, #{q}]", "muls r3, r2, r3",
                 f"adds {s}, r3" if q < 4 else f"add {s}, r3"]
    return body + ["add r1, lr", "cmp r0, ip", "bne 1b"]


_INVERSE = {"eq": "ne", "ne": "eq", "cs": "cc", "cc": "cs", "hs": "lo", "lo": "hs", "mi": "pl",
            "pl": "mi", "hi": "ls", "ls": "hi", "ge": "lt", "lt": "ge", "gt": "le", "le": "gt"}


def relax(ins: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Conditional branches beyond B<cond>'s reach (-256..+254 bytes) become the inverse
    condition over an unconditional B (every other instruction here is 2 bytes)."""
    while True:
        addr, pos = 0, []
        for text, _ in ins:
            pos.append(addr)
            addr += 0 if text.endswith(":") else 2
        far = None
        for k, (text, _) in enumerate(ins):
            op, _, arg = text.partition(" ")
            if op[1:] in _INVERSE and op[0] == "b" and arg[:-1].isdigit():
                lab, fwd = arg[:-1] + ":", arg.endswith("f")
                idx = range(k + 1, len(ins)) if fwd else range(k - 1, -1, -1)
                tgt = next(pos[i] for i in idx if ins[i][0] == lab)
                if not -256 <= tgt - (pos[k] + 4) <= 254:
                    far = k
                    break
        if far is None:
            return ins
        text, c = ins[far]
        op, _, arg = text.partition(" ")
        ins = [*ins[:far], (f"b{_INVERSE[op[1:]]} 99f", c), (f"b {arg}", ""), ("99:", ""),
               *ins[far + 1:]]


def _sub_imm(reg: str, v: int) -> list[str]:
    """reg -= v (v <= 1020, a multiple of 4), with r3 as scratch when v > 255."""
    return [f"subs {reg}, #{v}"] if v <= 255 else [f"movs r3, #{v >> 2}", "lsls r3, r3, #2",
                                                   f"subs {reg}, {reg}, r3"]


def _requant(mb: int, offset: bool, rare: str, back: str) -> list[tuple[str, str]]:
    """One channel's requantization (see KERNEL_DOC); u > span goes to `rare`, back at `back`."""
    return [("ldmia r2!, {r4}", f"k = B * 2^{mb} + M'"), ("ldr r6, [r0]", "the raw sum"),
            (f"asrs r5, r4, #{mb}", "B"), ("adds r6, r5", "acc"),
            (f"lsls r4, r4, #{32 - mb}", ""), (f"lsrs r4, r4, #{32 - mb}", "M'"),
            ("muls r6, r4, r6", ""), ("add r6, r8", "acc * M' + K"),
            ("asrs r6, r3", "u = a - lo"), ("asrs r5, r6, #31", "the clamp: u < 0 ? 0 : u"),
            ("bics r6, r5", ""), ("cmp r6, r7", ""), (f"bhi {rare}b", "u > span: rare"),
            (f"{back}:", ""), *([] if offset else [("add r6, ip", "s = u + lo")]),
            ("add r11, r6", "sum += s"), ("stmia r0!, {r6}", "")]


def predict_asm(prefix: str, n_in: int, n_out: int, n_st: int, mb: int, offset: bool,
                odd: bool, nibs: bool, nar3: bool) -> list[str]:
    """The body of {prefix}_predict when QNN_ASM, as C lines (see KERNEL_DOC); `odd`: some
    stage has an odd channel count (the two-channel requantization loop is entered midway)."""
    B = COMPACT_BLOCK
    row = 8 if nibs else 6  # sizeof the stage row: lo, span, n_out, N[, sh]
    ins: list[tuple[str, str]] = [
        ("push {r0, r1, r2, r3, r4, r5, r6, r7}", "the frame, see above"),
        ("mov ip, r3", "the input map's first slot"), (f"movs r0, #{n_in}", ""),
        ("16:", "the input map's raw values: the inputs"), ("ldrh r4, [r2]", ""),
        ("adds r2, #2", ""), ("stmia r3!, {r4}", ""), ("subs r0, #1", ""), ("bne 16b", ""),
        ("b 5f", "r3: the stage's end"),
        ("8:", "rare: u > span"), ("mov r6, r7", ""), ("b 7f", ""),
        ("10:", ""), ("mov r6, r7", ""), ("b 12f", ""),
        ("2:", "a layer: r0 its first slot, r4 its row, r11 sum s"),
        ("str r4, [sp, #0]", ""), ("ldrb r3, [r4, #4]", "n_out"), ("lsls r3, r3, #2", ""),
        ("adds r3, r0, r3", ""), ("str r3, [sp, #12]", "the stage's end"),
        ("mov ip, r0", "the inputs' end"), ("mov r6, r11", ""),
        *([("ldrb r7, [r4, #6]", ""), ("lsls r6, r7", "sum << sh")] if nibs
          else [("lsls r6, r6, #7", "")]),
        ("negs r6, r6", ""), ("str r6, [sp, #8]", "-128 * sum s"),
        ("3:", f"a block of up to {B} outputs from r0"), ("str r0, [sp, #16]", ""),
        ("subs r3, r3, r0", ""), ("lsrs r3, r3, #2", ""), (f"cmp r3, #{B}", ""),
        ("bls 4f", ""), (f"movs r3, #{B}", ""), ("4:", "nb"),
        *[(i, "") for i in (pk.nib_dispatch(6) if nibs else [])],
        ("mov lr, r3", "the weight stride"), ("ldr r0, [sp, #4]", ""),
        ("ldr r4, [sp, #8]", ""), *[(f"mov r{5 + q}, r4", "") for q in range(B - 1)],
        ("1:", "the kernel"), *[(i, "") for i in _kernel_body(B)],
        ("ldr r0, [sp, #16]", ""), ("stmia r0!, {r4, r5, r6, r7}", "the raw sums"),
        *[(f"mov r{4 + q}, r{8 + q}", "") for q in range(4)],
        ("stmia r0!, {r4, r5, r6, r7}", ""), ("ldr r3, [sp, #12]", ""), ("cmp r0, r3", ""),
        ("bcc 3b", ""),
        ("5:", "the requantization, from ip to r3"), ("ldr r4, [sp, #0]", "the row"),
        ("mov r10, r3", ""), ("mov r0, ip", ""),
        ("str r0, [sp, #4]", "the next stage's first input"),
        ("ldrh r5, [r4, #0]", ""), ("sxth r5, r5", "lo"), ("mov ip, r5", ""),
        ("ldrb r3, [r4, #5]", "N"), ("movs r6, #1", ""), ("lsls r6, r3", ""),
        ("lsrs r7, r6, #1", "2^(N-1)"), ("muls r6, r5, r6", "lo * 2^N"),
        ("subs r7, r7, r6", ""), ("mov r8, r7", "K"), ("ldrh r7, [r4, #2]", "span"),
        ("ldr r2, [sp, #20]", "k"), ("movs r6, #0", ""), ("mov r11, r6", "sum")]
    if odd:  # an odd count starts with the loop's second channel
        ins += [("mov r4, r10", ""), ("subs r4, r4, r0", ""), ("lsls r4, r4, #29", ""),
                ("bmi 11f", "odd")]
    ins += [("6:", "two channels a turn"), *_requant(mb, offset, "8", "7"),
            ("11:", ""), *_requant(mb, offset, "10", "12"), ("cmp r0, r10", ""),
            ("bne 6b", ""),
            ("str r2, [sp, #20]", ""), ("ldr r4, [sp, #0]", ""),
            (f"adds r4, #{row}", "the next row"),
            ("ldr r5, [sp, #24]", ""), ("subs r5, #1", ""), ("str r5, [sp, #24]", ""),
            ("bne 2b", ""), *[(i, "") for i in _sub_imm("r0", 4 * n_out)],
            ("ldr r2, [sp, #28]", "out"), ("15:", "out[q], from the last stage's s"),
            ("ldmia r0!, {r4}", ""), *([("add r4, ip", "a = s + lo")] if offset else []),
            ("strh r4, [r2]", ""), ("adds r2, #2", ""), ("cmp r0, r10", ""), ("bne 15b", ""),
            ("add sp, #32", "")]
    if nibs:
        ins += [(i, "") for i in ["b 23f", *pk.nib_asm(1, nar3), "23:"]]
    ins = relax(ins)
    T = f"{prefix}_stage_t"
    regs = ((f"const {T} *", f"{prefix}_stages"), ("const uint8_t *", f"{prefix}_w"),
            ("const uint16_t *", "in"), ("uint32_t *", f"{prefix}_act"), ("", ""),
            ("const int32_t *", f"{prefix}_k"), ("uint32_t ", str(n_st)), ("int16_t *", "out"))
    lines = ["    {", *[f'        register {t}r{r} __asm__("r{r}") = {v};'
                          for r, (t, v) in enumerate(regs) if t], "        __asm__ volatile(",
             '            ".syntax unified\\n\\t"']
    for i, c in ins:
        text = f'"{i}\\n\\t"'
        lines.append(f"            {text:34s}/* {c} */" if c else f"            {text}")
    lines += ['            ".syntax divided"',
              '            : "+l"(r0), "+l"(r1), "+l"(r2), "+l"(r3), "+l"(r5),',
              '              "+l"(r6), "+l"(r7)',
              "            :",
              '            : "r4", "r8", "r9", "r10", "r11", "ip", "lr", "cc", "memory");',
              "    }"]
    return lines
