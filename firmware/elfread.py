"""Reading the linked firmware ELF: symbols, sections, bytes, and which object file each
input section came from (from the linker map). Shared by `elfinfo` and `m0`."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from common.errors import QnnError

FLASH_ORIGIN, FLASH_SIZE = 0x0000_0000, 32 * 1024
RAM_ORIGIN, RAM_SIZE = 0x2000_0000, 16 * 1024
FIRMWARE_OBJECTS = ("startup.o", "harness.o")
MODEL_OBJECT = "qnn_model.o"


@dataclass(frozen=True)
class Symbol:
    name: str
    address: int  # Thumb bit cleared
    size: int
    kind: str  # "code", "rodata", "data", "bss"
    is_func: bool
    section: str


@dataclass(frozen=True)
class Section:
    name: str
    address: int
    size: int
    load_address: int
    data: bytes  # empty for NOBITS


_SECTION_KIND = {".text": "code", ".isr_vector": "rodata", ".rodata": "rodata",
                 ".ARM.exidx": "rodata", ".data": "data", ".bss": "bss"}  # fmt: skip


class Firmware:
    """A parsed firmware ELF (and its map file next to it, when there is one)."""

    def __init__(self, elf: Path):
        self.path = Path(elf)
        try:
            with open(self.path, "rb") as f:
                ef = ELFFile(f)
                if ef["e_machine"] != "EM_ARM":
                    raise QnnError(f"{self.path}: not an ARM ELF; rebuild the firmware.")
                self.sections = self._read_sections(ef)
                self.segments = [
                    (s["p_paddr"], s["p_vaddr"], s.data(), s["p_memsz"])
                    for s in ef.iter_segments()
                    if s["p_type"] == "PT_LOAD"
                ]
                self.symbols, self.mapping, self.linker = self._read_symbols(ef)
        except FileNotFoundError:
            raise QnnError(f"{self.path}: no such ELF; build the firmware first.") from None
        except (OSError, ELFError) as e:
            raise QnnError(f"{self.path}: not a readable ELF ({e}); rebuild it.") from None
        self._starts = sorted((s.address, s.name) for s in self.symbols.values())
        self._map_keys = [a for a, _ in self.mapping]

    @staticmethod
    def _read_sections(ef: ELFFile) -> dict[str, Section]:
        out = {}
        for s in ef.iter_sections():
            if not s["sh_flags"] & 2 or s["sh_size"] == 0:  # SHF_ALLOC
                continue
            data = b"" if s["sh_type"] == "SHT_NOBITS" else s.data()
            out[s.name] = Section(s.name, s["sh_addr"], s["sh_size"], s["sh_addr"], data)
        return out

    def _read_symbols(self, ef: ELFFile):
        symtab = ef.get_section_by_name(".symtab")
        if symtab is None:
            raise QnnError(f"{self.path}: the ELF has no symbol table; do not strip it.")
        by_addr = sorted(self.sections.values(), key=lambda s: s.address)
        symbols: dict[str, Symbol] = {}
        mapping: list[tuple[int, str]] = []
        linker: dict[str, int] = {}
        for sym in symtab.iter_symbols():
            name, value, typ = sym.name, sym["st_value"], sym["st_info"]["type"]
            if name.startswith(("$t", "$d")):
                mapping.append((value, name[:2]))
                continue
            if typ == "STT_NOTYPE" and name and sym["st_shndx"] != "SHN_UNDEF":
                linker[name] = value  # linker-script symbols: __stack_top, ...
            if typ not in ("STT_FUNC", "STT_OBJECT") or not name:
                continue
            address = value & ~1 if typ == "STT_FUNC" else value
            section = next((s for s in by_addr if s.address <= address < s.address + s.size),
                           None)  # fmt: skip
            if section is None:
                continue
            kind = _SECTION_KIND.get(section.name, "rodata")
            symbols[name] = Symbol(name, address, sym["st_size"], kind, typ == "STT_FUNC",
                                   section.name)  # fmt: skip
        mapping.sort()
        return symbols, mapping, linker

    # --- queries ------------------------------------------------------------------------
    def read(self, address: int, size: int) -> bytes:
        for s in self.sections.values():
            if s.data and s.address <= address and address + size <= s.address + s.size:
                off = address - s.address
                return s.data[off : off + size]
        return b""

    def symbol_at(self, address: int) -> Symbol | None:
        """The symbol whose [address, address + size) holds `address`."""
        i = bisect.bisect_right(self._starts, (address, "\uffff")) - 1
        while i >= 0:
            sym = self.symbols[self._starts[i][1]]
            if sym.address <= address < sym.address + max(sym.size, 1):
                return sym
            if address - sym.address > 0x10000:
                break
            i -= 1
        return None

    def describe(self, address: int) -> str:
        sym = self.symbol_at(address)
        if sym is None:
            return f"0x{address:08x}"
        return f"0x{address:08x} ({sym.name}+0x{address - sym.address:x})"

    def code_ranges(self, sym: Symbol) -> list[tuple[int, int]]:
        """The parts of a function that are instructions (not literal pools), from the
        $t/$d mapping symbols the assembler leaves in the ELF."""
        start, end = sym.address, sym.address + sym.size
        if not self.mapping:
            return [(start, end)]
        i = bisect.bisect_right(self._map_keys, start) - 1
        state = self.mapping[i][1] if i >= 0 else "$t"
        ranges, cur = [], start
        for addr, kind in self.mapping[i + 1 :]:
            if addr >= end:
                break
            if state == "$t" and addr > cur:
                ranges.append((cur, addr))
            state, cur = kind, max(addr, start)
        if state == "$t" and end > cur:
            ranges.append((cur, end))
        return ranges

    @cached_property
    def origins(self) -> dict[str, str]:
        """Symbol name -> "model", "firmware" or "library", from the linker map's input
        sections (each function/object has its own with -ffunction/-fdata-sections)."""
        sections = _parse_map(self.path.with_suffix(".map"))
        out = {}
        for sym in self.symbols.values():
            origin = "model"
            for start, size, obj in sections:
                if start <= sym.address < start + size:
                    origin = _origin_of(obj)
                    break
            else:
                if sym.name in _FIRMWARE_NAMES or sym.name.startswith("qnn_harness"):
                    origin = "firmware"
            out[sym.name] = origin
        return out


_FIRMWARE_NAMES = {"Reset_Handler", "Default_Handler", "HardFault_Handler", "qnn_fault_loop",
                   "qnn_vector_table", "main"}  # fmt: skip


def _origin_of(obj: str) -> str:
    name = Path(obj.split("(")[0]).name
    if name.endswith(".a") or "(" in obj:
        return "library"
    if name in FIRMWARE_OBJECTS:
        return "firmware"
    return "model"


_INPUT = re.compile(r"^ (?:\S+)?\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*\.(?:o|a\(.*\)))\s*$")


def _parse_map(path: Path) -> list[tuple[int, int, str]]:
    """(address, size, object file) of every input section in a GNU ld map file."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    text = text.split("Linker script and memory map", 1)[-1]
    out = []
    for line in text.splitlines():
        m = _INPUT.match(line)
        if m and int(m.group(2), 16) > 0 and not line.startswith(" *fill*"):
            out.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3)))
    return out
