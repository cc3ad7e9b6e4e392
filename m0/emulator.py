"""An emulated Cortex-M0 (unicorn) that runs the firmware's qnn_predict and counts cycles.

The CPU is `Uc(UC_ARCH_ARM, UC_MODE_THUMB)` with the CPU model set to Cortex-M0. (Not
UC_MODE_MCLASS: that silently emulates a Cortex-M33 whatever model is set.) This core really
is ARMv6-M: a Thumb-2 instruction is an invalid instruction and an unaligned LDR faults.

How a run goes: flash and RAM are mapped as in firmware/m0.ld, the ELF's PT_LOAD segments
loaded, and Reset_Handler runs up to main (so .data/.bss are set up as on the chip). Then for
each input row the emulator writes the row to `qnn_harness_in`, and calls the function
directly: r0 = qnn_harness_in, r1 = qnn_harness_out, SP = __stack_top, LR = the breakpoint
`qnn_harness_done`; emulation stops when the function returns there.

Cycles (Cortex-M0 TRM, DDI 0432C, Table 3-1, zero wait states; see codegen/armv6m.py) are
counted per executed instruction: a block hook only records each basic block's address and
size; after a batch, numpy looks up a per-block cost (decoded once with capstone) and adds 2
for every conditional branch whose next block is its target (taken: 3 instead of 1). A call
costs 4 (the BL that would call it) + every instruction from the function's first one up to
and including its return (e.g. POP {..., PC}). Instructions are counted the same way,
without the BL.

Peak stack: the stack region is painted with a pattern before each call; afterwards the
lowest overwritten word gives the bytes used below the initial SP.

Failures are reported, not hung on, as QnnError naming the inference and the PC: faults
(invalid instruction, unaligned or unmapped access, write to flash), an endless loop (more
than max_cycles_per_inference instructions or cycles) and a stack overflow (a write between
the end of .bss and __stack_limit, i.e. SP went below the limit).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from unicorn import (
    UC_ARCH_ARM,
    UC_HOOK_BLOCK,
    UC_HOOK_INTR,
    UC_HOOK_MEM_INVALID,
    UC_HOOK_MEM_WRITE,
    UC_MODE_THUMB,
    UC_PROT_ALL,
    UC_PROT_READ,
    Uc,
    UcError,
)
from unicorn.arm_const import (
    UC_ARM_REG_LR,
    UC_ARM_REG_PC,
    UC_ARM_REG_R0,
    UC_ARM_REG_R1,
    UC_ARM_REG_SP,
    UC_CPU_ARM_CORTEX_M0,
)

from common.errors import QnnError
from firmware.armv6m import cycles as insn_cycles
from firmware.armv6m import decode
from firmware.elfread import FLASH_ORIGIN, FLASH_SIZE, RAM_ORIGIN, RAM_SIZE, Firmware

BL_CYCLES = 4
SLOW_MULTIPLY_EXTRA = 31  # MULS takes 32 cycles instead of 1 with the small multiplier
PAINT = 0xC0DE5EED
BATCH = 256  # inferences per block-trace post-processing
_EXCEPTIONS = {1: "undefined instruction", 2: "SVC", 3: "instruction fetch fault",
               4: "unaligned or invalid memory access", 7: "BKPT breakpoint"}  # fmt: skip

_UC_ERRORS = {10: "invalid instruction (not ARMv6-M?)", 6: "read of unmapped memory",
              7: "write to unmapped memory", 8: "fetch from unmapped memory",
              12: "write to read-only memory (flash)", 13: "read of unreadable memory",
              14: "fetch from non-executable memory"}  # fmt: skip


@dataclass
class M0Result:
    outputs: np.ndarray  # int16 [N, n_out]
    cycles: np.ndarray  # int64 [N]: BL + the function up to and including its return
    instructions: np.ndarray  # int64 [N]: instructions executed inside the function
    peak_stack: int  # bytes used below the initial SP, max over all calls
    function: str = "qnn_predict"

    @property
    def total_instructions(self) -> int:
        return int(self.instructions.sum())


def run_inferences(
    elf: Path,
    x_u16: np.ndarray,
    n_out: int,
    *,
    slow_multiply: bool = False,
    max_cycles_per_inference: int = 1_000_000,
    function: str = "qnn_predict",
) -> M0Result:
    """Run `function(in, out)` on the emulated M0 once per row of `x_u16` [N, n_in]."""
    m0 = M0(elf)
    return m0.run(x_u16, n_out, slow_multiply=slow_multiply,
                  max_cycles=max_cycles_per_inference, function=function)  # fmt: skip


class M0:
    """One emulated chip with the firmware loaded and reset up to main()."""

    def __init__(self, elf: Path):
        self.fw = fw = Firmware(elf)
        for name in ("qnn_harness_in", "qnn_harness_out", "qnn_harness_done", "Reset_Handler"):
            if name not in fw.symbols:
                raise QnnError(f"{fw.path}: no `{name}`; build it with firmware.build.")
        for name in ("__stack_top", "__stack_limit", "__bss_end"):
            if name not in fw.linker:
                raise QnnError(f"{fw.path}: no `{name}`; link it with firmware/m0.ld.")
        self.stack_top = fw.linker["__stack_top"]
        self.stack_limit = fw.linker["__stack_limit"]
        self.in_sym = fw.symbols["qnn_harness_in"]
        self.out_sym = fw.symbols["qnn_harness_out"]
        self.done = fw.symbols["qnn_harness_done"].address
        self.fault: str | None = None

        self.uc = uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB)
        uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M0)
        uc.mem_map(FLASH_ORIGIN, FLASH_SIZE, UC_PROT_READ | 4)  # read + execute
        uc.mem_map(RAM_ORIGIN, RAM_SIZE, UC_PROT_ALL)
        for paddr, _vaddr, data, _memsz in fw.segments:
            if data:
                uc.mem_write(paddr, data)
        uc.hook_add(UC_HOOK_INTR, self._on_exception)
        uc.hook_add(UC_HOOK_MEM_INVALID, self._on_bad_memory)
        gap_start = fw.linker["__bss_end"]
        if gap_start < self.stack_limit:
            uc.hook_add(UC_HOOK_MEM_WRITE, self._on_gap_write, begin=gap_start,
                        end=self.stack_limit - 1)  # fmt: skip
        self._trace: list[int] = []
        self._install_block_hook()
        self._reset()
        self._paint(self.stack_limit)
        self._blocks: dict[tuple[int, int], tuple[int, int, int, int]] = {}

    # --- hooks ------------------------------------------------------------------------------
    def _install_block_hook(self) -> None:
        """Record (address, size) of every executed block, as cheaply as Python allows: a raw
        ctypes callback (unicorn's own wrapper adds two Python calls per block)."""
        app = self._trace.append

        def on_block(_handle, address, size, _key):
            app(address)
            app(size)

        try:
            from unicorn.unicorn_py3.arch.types import uc_hook_h
            from unicorn.unicorn_py3.unicorn import HOOK_CODE_CFUNC, uclib

            self._block_cb = HOOK_CODE_CFUNC(on_block)
            handle = uc_hook_h()
            status = uclib.uc_hook_add(self.uc._uch, ctypes.byref(handle), UC_HOOK_BLOCK,
                                       self._block_cb, ctypes.c_void_p(0), ctypes.c_uint64(1),
                                       ctypes.c_uint64(0))  # fmt: skip
            if status != 0:
                raise UcError(status)
        except (ImportError, AttributeError):  # another unicorn binding: the portable way
            self.uc.hook_add(UC_HOOK_BLOCK, lambda uc, a, s, u: (app(a), app(s)))

    def _on_exception(self, uc: Uc, intno: int, _user) -> None:
        what = _EXCEPTIONS.get(intno, f"exception {intno}")
        self.fault = f"{what} at {self.fw.describe(uc.reg_read(UC_ARM_REG_PC))}"
        uc.emu_stop()

    def _on_bad_memory(self, uc: Uc, access: int, address: int, size: int, _v, _u) -> bool:
        kind = {19: "read", 20: "write", 21: "fetch", 22: "read", 23: "write", 24: "fetch"}
        pc = uc.reg_read(UC_ARM_REG_PC)
        self.fault = (f"invalid {kind.get(access, 'access')} of {size} bytes at 0x{address:08x} "
                      f"from {self.fw.describe(pc)}")  # fmt: skip
        return False

    def _on_gap_write(self, uc: Uc, _access, address: int, _size, _value, _user) -> None:
        sp = uc.reg_read(UC_ARM_REG_SP)
        self.fault = (f"stack overflow: write to 0x{address:08x}, below __stack_limit "
                      f"0x{self.stack_limit:08x} (the {self.stack_top - self.stack_limit}-byte "
                      f"stack is exhausted, SP=0x{sp:08x}), at "
                      f"{self.fw.describe(uc.reg_read(UC_ARM_REG_PC))}")  # fmt: skip
        uc.emu_stop()

    # --- running ------------------------------------------------------------------------------
    def _reset(self) -> None:
        main = self.fw.symbols.get("main")
        reset = self.fw.symbols["Reset_Handler"].address
        if main is None:
            raise QnnError(f"{self.fw.path}: no main(); build it with firmware.build.")
        self.uc.reg_write(UC_ARM_REG_SP, self.stack_top)
        self._emulate(reset, main.address, 1_000_000, "Reset_Handler")
        self._trace.clear()

    def _emulate(self, start: int, until: int, count: int, what: str) -> None:
        self.fault = None
        try:
            self.uc.emu_start(start | 1, until, count=count)
        except UcError as e:
            if self.fault is None:
                pc = self.uc.reg_read(UC_ARM_REG_PC)
                cause = _UC_ERRORS.get(e.errno, str(e))
                self.fault = f"{cause} at {self.fw.describe(pc)}"
        if self.fault:
            raise QnnError(f"{what}: {self.fault}; the firmware is broken, fix the C.")
        pc = self.uc.reg_read(UC_ARM_REG_PC)
        if pc != until:
            raise QnnError(f"{what}: no return after {count} instructions (endless loop?), "
                           f"stopped at {self.fw.describe(pc)}; fix the C.")  # fmt: skip

    def _paint(self, low: int) -> None:
        n = (self.stack_top - low) // 4
        self.uc.mem_write(low, np.full(n, PAINT, dtype="<u4").tobytes())

    def _stack_used(self) -> int:
        raw = np.frombuffer(self.uc.mem_read(self.stack_limit, self.stack_top - self.stack_limit),
                            dtype="<u4")  # fmt: skip
        dirty = np.flatnonzero(raw != PAINT)
        if dirty.size == 0:
            return 0
        low = self.stack_limit + 4 * int(dirty[0])
        self._paint(low)
        return self.stack_top - low

    def run(self, x_u16: np.ndarray, n_out: int, *, slow_multiply: bool = False,
            max_cycles: int = 1_000_000, function: str = "qnn_predict") -> M0Result:  # fmt: skip
        x = np.asarray(x_u16)
        n_in = self.in_sym.size // 2
        if x.ndim != 2 or x.shape[1] != n_in:
            raise QnnError(f"inputs have shape {x.shape}; the firmware takes [N, {n_in}].")
        if x.size and (x.min() < 0 or x.max() > 65535):
            raise QnnError("inputs must be uint16 ADC counts in [0, 65535].")
        if not 0 < 2 * n_out <= self.out_sym.size:
            raise QnnError(f"n_out={n_out}, but the firmware's output buffer holds "
                           f"{self.out_sym.size // 2} values; rebuild it.")  # fmt: skip
        fn = self.fw.symbols.get(function)
        if fn is None or not fn.is_func:
            raise QnnError(f"no function `{function}` in {self.fw.path.name}.")
        rows = x.astype("<u2")
        n = len(rows)
        outputs = bytearray()
        cycles = np.zeros(n, dtype=np.int64)
        instructions = np.zeros(n, dtype=np.int64)
        peak = 0
        uc, trace, ends = self.uc, self._trace, []
        in_addr, out_addr, out_bytes = self.in_sym.address, self.out_sym.address, 2 * n_out
        first = 0
        for k in range(n):
            uc.mem_write(in_addr, rows[k].tobytes())
            uc.reg_write(UC_ARM_REG_R0, in_addr)
            uc.reg_write(UC_ARM_REG_R1, out_addr)
            uc.reg_write(UC_ARM_REG_SP, self.stack_top)
            uc.reg_write(UC_ARM_REG_LR, self.done | 1)
            self._emulate(fn.address, self.done, max_cycles, f"inference {k} ({function})")
            outputs += uc.mem_read(out_addr, out_bytes)
            ends.append(len(trace))
            peak = max(peak, self._stack_used())
            if len(ends) == BATCH or k == n - 1:
                c, i = self._count(ends, slow_multiply)
                cycles[first : k + 1], instructions[first : k + 1] = c, i
                trace.clear()
                ends.clear()
                first = k + 1
        over = np.flatnonzero(cycles > max_cycles)
        if over.size:
            k = int(over[0])
            raise QnnError(f"inference {k} ({function}) took {cycles[k]} cycles, over the "
                           f"budget of {max_cycles}; endless loop or a far too slow model.")
        out = np.frombuffer(bytes(outputs), dtype="<i2").reshape(n, n_out).astype(np.int16)
        return M0Result(out, cycles, instructions, peak, function)

    # --- cycle accounting ----------------------------------------------------------------------
    def _count(self, ends: list[int], slow_multiply: bool) -> tuple[np.ndarray, np.ndarray]:
        """Cycles and instructions per call from the recorded blocks of a batch of calls."""
        rec = np.asarray(self._trace, dtype=np.int64).reshape(-1, 2)
        bounds = np.asarray(ends, dtype=np.int64) // 2
        addr, size = rec[:, 0], rec[:, 1]
        keys = addr * 65536 + size
        uniq, inverse = np.unique(keys, return_inverse=True)
        table = np.array([self._block(int(kk) >> 16, int(kk) & 0xFFFF) for kk in uniq],
                         dtype=np.int64).reshape(-1, 4)  # fmt: skip
        cost, target, n_insn, n_muls = (table[inverse, j] for j in range(4))
        if slow_multiply:
            cost = cost + SLOW_MULTIPLY_EXTRA * n_muls
        nxt = np.empty_like(addr)
        nxt[:-1] = addr[1:]
        nxt[bounds - 1] = self.done
        cost = cost + 2 * (nxt == target)
        starts = np.concatenate(([0], bounds[:-1]))
        return (np.add.reduceat(cost, starts) + BL_CYCLES, np.add.reduceat(n_insn, starts))

    def _block(self, address: int, size: int) -> tuple[int, int, int, int]:
        """(cycles with a final B<cond> not taken, B<cond> target or -1, instructions, MULS)."""
        key = (address, size)
        if key not in self._blocks:
            code = bytes(self.uc.mem_read(address, size))
            insns = decode(code, address)
            cost = sum(insn_cycles(i) for i in insns)
            last = insns[-1] if insns else None
            target = last.branch_target if last is not None and last.is_cond_branch else None
            muls = sum(i.mnemonic == "muls" for i in insns)
            if sum(i.size for i in insns) != size:
                raise QnnError(f"cannot decode the code at {self.fw.describe(address)} for "
                               "cycle counting; is it Thumb code?")
            self._blocks[key] = (cost, -1 if target is None else target, len(insns), muls)
        return self._blocks[key]
