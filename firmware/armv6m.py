"""The ARMv6-M (Cortex-M0) instruction set as the checker and the emulator need it:
which decoded instructions exist on the core, and what each one costs in cycles.

Cycle costs follow the Cortex-M0 Technical Reference Manual (ARM DDI 0432C, Table 3-1),
zero wait states. N is the number of registers in the list, counting PC/LR when present:

    data processing, MOVS, ADDS, CMP, shifts, SXTH/UXTB, REV, NOP ....... 1
    MULS ........................................... 1 (32 with the small multiplier)
    LDR*/STR* (any addressing mode, incl. PC- and SP-relative) ........... 2
    LDM/STM 1+N;  PUSH 1+N;  POP 1+N;  POP with PC 4+N
    B 3;  B<cond> 3 taken, 1 not taken;  BL 4;  BX/BLX 3;  MOV/ADD to PC 3
    MRS/MSR/DMB/DSB/ISB 4;  WFI/WFE 2
"""

from __future__ import annotations

from dataclasses import dataclass

from capstone import CS_ARCH_ARM, CS_MODE_MCLASS, CS_MODE_THUMB, Cs

CONDITIONS = ("eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge",
              "lt", "gt", "le")  # fmt: skip
COND_BRANCHES = frozenset("b" + c for c in CONDITIONS)
# The only 32-bit encodings ARMv6-M has.
V6M_WIDE = frozenset({"bl", "mrs", "msr", "dmb", "dsb", "isb"})
# 16-bit Thumb-2 additions that ARMv6-M lacks.
V6M_MISSING_NARROW = frozenset({"cbz", "cbnz", "it", "ite", "itt", "itee", "itte", "ittt",
                                "iteee", "ittee", "itete", "ittte", "itett", "itttt"})  # fmt: skip

_MD = Cs(CS_ARCH_ARM, CS_MODE_THUMB | CS_MODE_MCLASS)


@dataclass(frozen=True)
class Insn:
    address: int
    size: int
    mnemonic: str  # lower case, width suffix (.n/.w) removed
    op_str: str

    @property
    def is_cond_branch(self) -> bool:
        return self.mnemonic in COND_BRANCHES

    @property
    def branch_target(self) -> int | None:
        """Target of B, B<cond> and BL (immediate forms), else None."""
        if self.mnemonic in COND_BRANCHES or self.mnemonic in ("b", "bl"):
            text = self.op_str.lstrip("#")
            try:
                return int(text, 0)
            except ValueError:
                return None
        return None


def decode(code: bytes, address: int) -> list[Insn]:
    """Linear decode; stops at the first bytes capstone cannot decode."""
    return [
        Insn(i.address, i.size, i.mnemonic.split(".")[0].lower(), i.op_str)
        for i in _MD.disasm(code, address)
    ]


def v6m_problem(insn: Insn) -> str | None:
    """Why `insn` does not exist on a Cortex-M0, or None if it does."""
    if insn.size == 4 and insn.mnemonic not in V6M_WIDE:
        return f"32-bit Thumb-2 instruction `{insn.mnemonic} {insn.op_str}` (not ARMv6-M)"
    if insn.mnemonic in V6M_MISSING_NARROW:
        return f"`{insn.mnemonic}` is not an ARMv6-M instruction"
    return None


def _n_regs(op_str: str) -> int:
    inside = op_str[op_str.find("{") + 1 : op_str.rfind("}")]
    n = 0
    for part in inside.split(","):
        part = part.strip()
        if "-" in part:  # a range such as r4-r7 (capstone lists them, objdump may not)
            lo, hi = (int(p.strip().lstrip("r")) for p in part.split("-"))
            n += hi - lo + 1
        elif part:
            n += 1
    return n


def cycles(insn: Insn) -> int:
    """Cycles of `insn` on a Cortex-M0 with zero wait states; a B<cond> counts as not taken
    (add 2 when it is taken) and MULS as the fast multiplier (add 31 for the small one)."""
    m, ops = insn.mnemonic, insn.op_str
    if m in COND_BRANCHES:
        return 1
    if m == "b" or m in ("bx", "blx"):
        return 3
    if m == "bl":
        return 4
    if m == "push":
        return 1 + _n_regs(ops)
    if m == "pop":
        return (4 if "pc" in ops else 1) + _n_regs(ops)
    if m.startswith(("ldm", "stm")):
        return 1 + _n_regs(ops)
    if m.startswith(("ldr", "str")):
        return 2
    if m in ("mov", "add") and ops.startswith("pc"):
        return 3
    if m in ("mrs", "msr", "dmb", "dsb", "isb"):
        return 4
    if m in ("wfi", "wfe"):
        return 2
    return 1


def is_block_end(insn: Insn) -> bool:
    """Does `insn` change the flow of control (ends a basic block)?"""
    m, ops = insn.mnemonic, insn.op_str
    return (
        m in COND_BRANCHES
        or m in ("b", "bl", "bx", "blx", "bkpt", "svc", "udf")
        or (m == "pop" and "pc" in ops)
        or (m in ("mov", "add") and ops.startswith("pc"))
    )
