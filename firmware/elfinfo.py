"""What the linked firmware costs and whether the inference is integer-only.

Both answers come from the LINKED ELF, not the C source, because that is what runs: a `/`
the compiler turned into `__aeabi_idiv`, a `long long` that became `__aeabi_lmul`, or a
stray float pulled in from libgcc only show up there.

Attribution rule for "inference bytes": every function/object whose input section came from
qnn_model.o (read from the linker map next to the ELF; with -ffunction-sections and
-fdata-sections each symbol has its own input section), plus every library member (libgcc)
the link pulled in, since only the model can have asked for those. Startup and harness are
reported separately. Without a map file, symbols are attributed by name.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from firmware.armv6m import decode, v6m_problem
from firmware.elfread import FLASH_ORIGIN, FLASH_SIZE, RAM_ORIGIN, RAM_SIZE, Firmware, Symbol

ROOT = "qnn_predict"
LIBC_NAMES = frozenset({"memcpy", "memset", "memmove", "memcmp", "strlen", "malloc", "free",
                        "calloc", "realloc", "abort", "exit", "printf", "sprintf", "puts",
                        "abs", "labs", "div", "ldiv", "sqrt", "sqrtf", "exp", "expf", "log",
                        "logf", "tanh", "tanhf", "floor", "floorf", "roundf"})  # fmt: skip


@dataclass
class SymbolSize:
    name: str
    kind: str  # code, rodata, data, bss
    bytes: int
    origin: str  # model, firmware, library


@dataclass
class SizeReport:
    flash_used: int
    flash_total: int
    ram_static: int  # .data + .bss
    stack_reserved: int
    ram_total: int
    inference: dict[str, int]  # code/rodata/data/bss bytes of the model (+ library helpers)
    firmware: dict[str, int]  # the same for startup + harness
    symbols: list[SymbolSize]
    stack_predict: int | None  # static frame of qnn_predict alone (.su)
    stack_worst: int | None  # qnn_predict + its deepest chain of callees (.su), if all known
    problems: list[str] = field(default_factory=list)

    @property
    def ram_used(self) -> int:
        return self.ram_static + self.stack_reserved

    @property
    def inference_flash(self) -> int:
        return self.inference["code"] + self.inference["rodata"] + self.inference["data"]

    @property
    def fits(self) -> bool:
        return self.flash_used <= self.flash_total and self.ram_used <= self.ram_total

    @property
    def ok(self) -> bool:
        return self.fits and not self.problems

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(ram_used=self.ram_used, inference_flash=self.inference_flash, ok=self.ok)
        return d

    def render(self) -> str:
        inf, fw = self.inference, self.firmware
        lines = [
            f"flash {self.flash_used:6d} / {self.flash_total} B "
            f"({100 * self.flash_used / self.flash_total:.1f} %)",
            f"RAM   {self.ram_used:6d} / {self.ram_total} B "
            f"(static {self.ram_static} + stack {self.stack_reserved})",
            f"inference: code {inf['code']} + weights/tables {inf['rodata']} + data "
            f"{inf['data']} = {self.inference_flash} B flash, {inf['data'] + inf['bss']} B RAM",
            f"firmware (startup + harness): code {fw['code']}, rodata {fw['rodata']}, "
            f"RAM {fw['data'] + fw['bss']} B",
        ]
        if self.stack_predict is not None:
            worst = "unknown" if self.stack_worst is None else f"{self.stack_worst} B"
            lines.append(f"stack: {ROOT} frame {self.stack_predict} B, worst with callees {worst}")
        lines.append("")
        lines.append(f"{'symbol':32s} {'kind':7s} {'bytes':>6s}  origin")
        for s in sorted(self.symbols, key=lambda s: (s.origin != "model", -s.bytes, s.name)):
            lines.append(f"{s.name:32s} {s.kind:7s} {s.bytes:6d}  {s.origin}")
        lines.append("")
        if self.problems:
            lines += [f"PROBLEM: {p}" for p in self.problems]
        lines.append("OK: integer-only ARMv6-M code that fits" if self.ok else "NOT OK")
        return "\n".join(lines)


def size_report(elf: Path) -> SizeReport:
    fw = Firmware(elf)
    flash = sum(len(data) for paddr, _, data, _ in fw.segments if paddr < RAM_ORIGIN)
    ram_static = sum(
        s.size for s in fw.sections.values() if s.address >= RAM_ORIGIN and s.name != ".stack"
    )
    stack = fw.linker.get("__stack_top", 0) - fw.linker.get("__stack_limit", 0)
    inference = dict.fromkeys(("code", "rodata", "data", "bss"), 0)
    firmware = dict(inference)
    symbols = []
    seen: set[tuple[int, int]] = set()  # aliases (NMI_Handler = Default_Handler) count once
    for sym in sorted(fw.symbols.values(), key=lambda s: s.name):
        origin = fw.origins[sym.name]
        symbols.append(SymbolSize(demangle(sym.name), sym.kind, sym.size, origin))
        if (sym.address, sym.size) in seen:
            continue
        seen.add((sym.address, sym.size))
        (firmware if origin == "firmware" else inference)[sym.kind] += sym.size
    frame, worst = _static_stack(fw, Path(elf).parent)
    assert FLASH_ORIGIN == 0
    return SizeReport(
        flash_used=flash, flash_total=FLASH_SIZE, ram_static=ram_static, stack_reserved=stack,
        ram_total=RAM_SIZE, inference=inference, firmware=firmware, symbols=symbols,
        stack_predict=frame, stack_worst=worst, problems=_check(fw),
    )  # fmt: skip


def check_integer_only(elf: Path, root: str = ROOT) -> list[str]:
    """Problems that keep the linked inference from being integer-only ARMv6-M code
    (an empty list means it is): runtime helpers reachable from `root` (qnn_predict) or
    linked in at all, and instructions a Cortex-M0 does not have in the code `root` can
    reach (followed through BL/B targets and function pointers in literal pools)."""
    return _check(Firmware(elf), root)


# --- the integer-only check ---------------------------------------------------------------


def helper_kind(name: str) -> str | None:
    """What a libgcc/libc symbol is for, or None if `name` is not a runtime helper."""
    if name in LIBC_NAMES:
        return "a libc function (no libc on the target)"
    if not name.startswith("__"):
        return None
    n = name.lower()
    if re.search(r"(f2|d2|2f|2d|fadd|fsub|fmul|fdiv|dadd|dsub|dmul|ddiv|fcmp|dcmp|sf\d|df\d|"
                 r"float|fix|[sd]f$|cfcmp|cdcmp)", n):  # fmt: skip
        return "floating point"
    if re.search(r"(div|mod)", n):
        return "64-bit division" if re.search(r"(ldiv|di\d|uldiv)", n) else "division"
    if re.search(r"(lmul|lsl|lasr|llsr|lcmp|ulcmp|di\d)", n):
        return "64-bit arithmetic"
    return "a libgcc runtime helper"


# Rust's panic machinery: core::panicking::*, the panic handler (rust_begin_unwind), and the
# out-of-line failure paths of indexing, unwrap and expect. The generated Rust must reach none.
_PANIC = re.compile(r"panic|rust_begin_unwind|unwrap_failed|expect_failed|index_len_fail|"
                    r"index_order_fail|slice_error_fail|assert_failed")


def demangle(name: str) -> str:
    """A Rust legacy-mangled symbol as a path, its hash dropped; other names as they are.

    >>> demangle("_ZN4core9panicking18panic_bounds_check17h0123456789abcdefE")
    'core::panicking::panic_bounds_check'
    >>> demangle("qnn_predict")
    'qnn_predict'
    """
    if not (name.startswith("_ZN") and name.endswith("E")):
        return name
    parts, i, body = [], 0, name[3:-1]
    while i < len(body):
        j = i
        while j < len(body) and body[j].isdigit():
            j += 1
        if j == i:
            return name
        n = int(body[i:j])
        parts.append(body[j:j + n])
        i = j + n
    if parts and re.fullmatch(r"h[0-9a-f]{16}", parts[-1]):
        parts.pop()
    return "::".join(p.replace("$LT$", "<").replace("$GT$", ">").replace("$u20$", " ")
                     .replace("$RF$", "&").replace("..", "::") for p in parts)


def panic_kind(name: str) -> str | None:
    """What a Rust panic symbol is for, or None if `name` is not Rust panic machinery."""
    plain = demangle(name)
    if not (name.startswith(("_ZN", "_R")) or "::" in name or name == "rust_begin_unwind"):
        return None
    return "Rust panic machinery" if _PANIC.search(plain) else None


def _reachable(fw: Firmware, root: Symbol) -> list[Symbol]:
    """Functions reachable from `root` through BL/B targets and function addresses loaded
    from literal pools (function pointers)."""
    todo, seen = [root], {root.name}
    while todo:
        fn = todo.pop()
        for start, end in fw.code_ranges(fn):
            for insn in decode(fw.read(start, end - start), start):
                targets = []
                if insn.branch_target is not None:
                    targets.append(insn.branch_target & 0xFFFFFFFF)
                elif insn.mnemonic == "ldr" and "[pc" in insn.op_str:
                    word = fw.read(_literal_address(insn), 4)
                    if len(word) == 4 and int.from_bytes(word, "little") & 1:
                        targets.append(int.from_bytes(word, "little") & ~1)
                for t in targets:
                    sym = fw.symbol_at(t)
                    if sym and sym.is_func and sym.name not in seen:
                        seen.add(sym.name)
                        todo.append(sym)
    return sorted((fw.symbols[n] for n in seen), key=lambda s: s.address)


def _literal_address(insn) -> int:
    m = re.search(r"#(-?0x[0-9a-f]+|-?\d+)", insn.op_str)
    imm = int(m.group(1), 0) if m else 0
    return ((insn.address + 4) & ~3) + imm


def _check(fw: Firmware, name: str = ROOT) -> list[str]:
    root = fw.symbols.get(name)
    if root is None or not root.is_func:
        return [f"no function `{name}` in {fw.path.name}: the model C does not define it"]
    problems = []
    reachable = _reachable(fw, root)
    reached = {s.name for s in reachable}
    for sym in reachable:
        kind = helper_kind(sym.name)
        if kind:
            problems.append(f"{name} reaches `{sym.name}` ({kind}); the inference must use "
                            "only 32-bit integer add/multiply/shift")  # fmt: skip
            continue
        if panic_kind(sym.name):
            problems.append(f"{name} reaches `{demangle(sym.name)}` (a Rust panic path); the "
                            "generated Rust must not index, unwrap or overflow-check")
            continue
        for start, end in fw.code_ranges(sym):
            code = fw.read(start, end - start)
            insns = decode(code, start)
            decoded = sum(i.size for i in insns)
            for insn in insns:
                why = v6m_problem(insn)
                if why:
                    problems.append(f"{fw.describe(insn.address)}: {why}")
            if decoded < len(code):
                problems.append(f"{fw.describe(start + decoded)}: bytes that are not a Thumb "
                                "instruction")  # fmt: skip
    for sym in sorted(fw.symbols.values(), key=lambda s: s.name):
        kind = helper_kind(sym.name) or panic_kind(sym.name)
        if kind and sym.name not in reached and sym.is_func:
            problems.append(f"`{demangle(sym.name)}` ({kind}) is linked into the firmware")
    return problems


def mutable_globals(elf: Path) -> list[str]:
    """The model's variables in .data/.bss, as problems: generated code keeps its state on
    the stack (reentrant, and no RAM beyond the stack)."""
    fw = Firmware(elf)
    return [f"`{demangle(sym.name)}` is a mutable global ({sym.kind}) of the model; the "
            "inference must keep its state on the stack"
            for sym in sorted(fw.symbols.values(), key=lambda s: s.name)
            if sym.kind in ("data", "bss") and sym.size and fw.origins[sym.name] == "model"]


# --- static stack from the .su files ---------------------------------------------------------


def _static_stack(fw: Firmware, folder: Path) -> tuple[int | None, int | None]:
    frames: dict[str, tuple[int, bool]] = {}
    for su in folder.glob("*.su"):
        for line in su.read_text(errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) >= 3:
                name = parts[0].rsplit(":", 1)[-1]
                frames[name] = (int(parts[1]), parts[2].strip() == "static")
    root = fw.symbols.get(ROOT)
    if root is None:
        return None, None
    if ROOT not in frames:  # no .su from the compiler (rustc): read the prologues instead
        frames = {f.name: (_frame_from_code(fw, f), True) for f in _reachable(fw, root)
                  if f.is_func}
        frames = {k: v for k, v in frames.items() if v[0] is not None}
        if ROOT not in frames:
            return None, None

    def worst(sym: Symbol, depth: int) -> int | None:
        frame, static = frames.get(sym.name, (0, False))
        if sym.name not in frames or not static or depth > 32:
            return None
        callees = [c for c in _callees(fw, sym) if c.name != sym.name]
        deepest = 0
        for c in callees:
            w = worst(c, depth + 1)
            if w is None:
                return None
            deepest = max(deepest, w)
        return frame + deepest

    return frames[ROOT][0], worst(root, 0)


def _frame_from_code(fw: Firmware, fn: Symbol) -> int | None:
    """A function's stack frame from its code: PUSH {...} and SUB SP, #imm (the prologue
    Thumb-1 compilers write); None if SP moves by a register amount (unknown)."""
    frame = 0
    for start, end in fw.code_ranges(fn):
        for insn in decode(fw.read(start, end - start), start):
            ops = insn.op_str.replace(" ", "")
            if insn.mnemonic == "push":
                frame += 4 * len(ops.strip("{}").split(","))
            elif insn.mnemonic == "sub" and ops.startswith("sp,"):
                imm = re.search(r"#(0x[0-9a-f]+|\d+)$", ops)
                if imm is None:
                    return None
                frame += int(imm.group(1), 0)
            elif insn.mnemonic == "add" and ops.startswith("sp,") and "#" not in ops:
                return None
    return frame


def _callees(fw: Firmware, fn: Symbol) -> list[Symbol]:
    out = []
    for start, end in fw.code_ranges(fn):
        for insn in decode(fw.read(start, end - start), start):
            if insn.mnemonic == "bl" and insn.branch_target is not None:
                sym = fw.symbol_at(insn.branch_target & 0xFFFFFFFF)
                if sym and sym not in out:
                    out.append(sym)
    return out
