"""Build a run's firmware: generate the C, compile and link it for the Cortex-M0, and report
sizes and the integer-only check. The CLI (`qnn build`) and the workbench both call `build`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codegen.cgen import HEADER, SOURCE, generate_c
from common.fileio import atomic_write_text
from firmware.build import build_firmware
from firmware.elfinfo import check_integer_only, size_report
from qnn.run import load_int_model

ELF = "qnn.elf"


def default_out(run: str | Path) -> Path:
    return Path(run) / "build"


def _is_fresh(out: Path, files: dict[str, str]) -> bool:
    """The ELF in `out` was built from exactly these sources (and after them)."""
    elf = out / ELF
    if not elf.is_file():
        return False
    for name, text in files.items():
        p = out / name
        try:
            if p.read_text() != text or p.stat().st_mtime > elf.stat().st_mtime:
                return False
        except OSError:
            return False
    return True


def build(run: str | Path, out: str | Path | None = None, variant: str = "loop",
          reuse: bool = False) -> dict[str, Any]:
    """Export + build + size report. With `reuse`, a fresh ELF already in `out` is kept."""
    model = load_int_model(run)
    out = Path(out) if out is not None else default_out(run)
    files = generate_c(model, variant)  # refuses an overflowing model (QnnError)
    reused = reuse and _is_fresh(out, files)
    if not reused:
        for name in (HEADER, SOURCE):
            atomic_write_text(out / name, files[name])
        build_firmware(out, out)
    elf = out / ELF
    report = size_report(elf)
    problems = check_integer_only(elf)
    ok = report.fits and not problems and not report.problems
    return {
        "ok": ok,
        "run": str(run),
        "variant": variant,
        "elf": str(elf),
        "reused": reused,
        "sizes": model.sizes,
        "macs": model.n_macs,
        "size": report.to_dict(),
        "integer_only": not problems,
        "problems": sorted(set(problems) | set(report.problems)),
        "report": report.render(),
    }
