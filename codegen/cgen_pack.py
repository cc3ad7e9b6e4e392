"""Nibble-packed weights for the compact variant (codegen/cgen_compact.py): a layer with
w_bits <= 4 stores its weights two per byte, offset-binary wu = W + 8 in 0..15."""

from __future__ import annotations

import numpy as np

NIB_MAX_BITS = 4  # layers with w_bits <= this can be nibble-packed...
# ...when that saves at least this many bytes of weights: the nibble kernel and its dispatch
# cost ~230 B of code (6-16-16-6 with 4-bit weights: 560 B of code, 340 B with bytes), so on
# a small network bytes are as small and ~300 cycles faster.
NIB_MIN_SAVING = 240


def packs_nibbles(model) -> bool:
    """Whether the compact variant stores the model's <= 4-bit layers two weights per byte."""
    small = sum(L.weights.size for L in model.layers if L.w_bits <= NIB_MAX_BITS)
    return small // 2 >= NIB_MIN_SAVING
SH_BYTE, SH_NIB = 7, 3  # a stage's weight offset 2^sh: 128 for bytes, 8 for nibbles

PACK_DOC = """\
/*
 * Nibble-packed stages (sh = 3, weights of <= 4 bits): wu = W + 8 in 0..15, so the weights'
 * offset correction is -8 * sum_j au. Per block of nb outputs, h = (nb + 1) / 2 bytes per
 * input: byte q holds output q in its low nibble and output h + q in its high nibble (0 when
 * h + q >= nb). The kernel keeps the low nibbles' sums in r4-r7 and the high ones' in r8-r11:
 * per byte LDRB, LSRS #4, MULS, ADD (high) then LDRB, MULS, ADDS of the whole byte (low), the
 * low sums starting at 17 * init and corrected by -16 times the high ones after the loop.
 */
"""


def pack_nibbles(W: np.ndarray, block: int) -> list[int]:
    """W (n_out, n_in) as bytes, see PACK_DOC."""
    out: list[int] = []
    for i0 in range(0, W.shape[0], block):
        wb = W[i0:i0 + block].astype(np.int64) + 8
        h = (len(wb) + 1) // 2
        hi = np.zeros_like(wb[:h])
        hi[:len(wb) - h] = wb[h:]
        out += [int(v) for v in (wb[:h] | hi << 4).T.reshape(-1)]
    return out


def nib_kernel_bytes(n_out: int, block: int, narrow: bool) -> int:
    """Bytes per input the kernel reads for a stage's last block (h, or the 4-byte kernel)."""
    h = (n_out % block + 1) // 2 if n_out % block else block // 2
    return 3 if narrow and h <= 3 else 4


def nib_asm(unroll: int, narrow: bool) -> list[str]:
    """The nibble kernel, entered at 17: with r3 = nb (see PACK_DOC); ends at 3b or 5b."""
    def body(n: int) -> list[str]:
        out = ["ldmia r0!, {r2}"]
        for p in range(n):
            out += [f"ldrb r3, [r1, #{p}]", "lsrs r3, r3, #4", "muls r3, r2, r3",
                    f"add r{8 + p}, r3", f"ldrb r3, [r1, #{p}]", "muls r3, r2, r3",
                    f"adds r{4 + p}, r3"]
        return out + ["add r1, lr"]
    ins = ["17:", "adds r3, #1", "lsrs r3, r3, #1", "mov lr, r3", "ldr r0, [sp, #4]",
           "ldr r4, [sp, #8]", *[f"mov r{8 + p}, r4" for p in range(4)], "lsls r2, r4, #4",
           "adds r4, r2", "mov r5, r4", "mov r6, r4", "mov r7, r4"]
    ins += ["cmp r3, #3", "bls 20f"] if narrow else []
    ins += ["18:", *body(4) * unroll, "cmp r0, ip", "bne 18b"]
    if narrow:
        ins += ["b 21f", "20:", *body(3) * unroll, "cmp r0, ip", "bne 20b"]
    ins += ["21:"]
    for p in range(4):
        ins += [f"mov r3, r{8 + p}", "lsls r3, r3, #4", f"subs r{4 + p}, r{4 + p}, r3"]
    ins += ["ldr r0, [sp, #16]", "stmia r0!, {r4, r5, r6, r7}", "ldr r0, [sp, #16]",
            "mov r3, lr", "lsls r3, r3, #2", "adds r0, r3",
            *[f"mov r{4 + p}, r{8 + p}" for p in range(4)], "stmia r0!, {r4, r5, r6, r7}",
            "ldr r3, [sp, #12]", "cmp r0, r3", "bcs 22f", "b 3b", "22:", "b 5b"]
    return ins


def nib_dispatch(o_f: int) -> list[str]:
    """At a block's start (r3 = nb): to the nibble kernel for a stage with sh = 3."""
    return ["ldr r4, [sp, #0]", f"ldrb r4, [r4, #{o_f}]", f"cmp r4, #{SH_NIB}", "bne 19f",
            "b 17f", "19:"]


C_KERNEL = """\
            uint32_t j, nib = st->sh == {nib}, h = nib ? (nb + 1) >> 1 : nb; /* per input */
            for (q = 0; q < nb; q++) {{
                uint32_t s = init, c = q < h ? q : q - h, r = q < h ? 0 : 4;
                for (j = 0; j < n_in; j++)
                    s += (w[j * h + c] >> r & (nib ? 15u : 255u)) * in_lo[j];
                p[q] = s;
            }}
            w += n_in * h;"""

C_KERNEL_BYTE = """\
            for (q = 0; q < nb; q += 4) {
                /* four outputs at a time, their sums in registers (the block's last four
                 * may run past nb: the extra sums land in slots rewritten later) */
                uint32_t s0 = init, s1 = init, s2 = init, s3 = init;
                const uint8_t *wq = w + q;
                const uint32_t *a = in_lo;
                do {
                    uint32_t x = *a++;
                    s0 += wq[0] * x;
                    s1 += wq[1] * x;
                    s2 += wq[2] * x;
                    s3 += wq[3] * x;
                    wq += nb;
                } while (a != in_end);
                p[q] = s0;
                p[q + 1] = s1;
                p[q + 2] = s2;
                p[q + 3] = s3;
            }
            w += n_in * nb;"""
