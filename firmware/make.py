"""Build a run's firmware: generate the model (C, or Rust with the C header of the same ABI),
compile and link it for the Cortex-M0, and report sizes and the integer-only check. The CLI
(`qnn build`) and the workbench both call `build`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codegen.cgen import HEADER, SOURCE, generate_c
from codegen.rust import SOURCE_RS, generate_rust
from common.errors import QnnError
from common.fileio import atomic_write_text
from firmware.build import build_firmware
from firmware.elfinfo import check_integer_only, mutable_globals, size_report
from qnn.run import load_int_model

ELF = "qnn.elf"
LANGS = ("c", "rust")
RUST_OBJECT = "qnn_model_rs.o"


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


def sources(model, variant: str = "loop", lang: str = "c") -> dict[str, str]:
    """The files a build of `lang` compiles, by name: the C pair, or qnn_model.rs and the C
    header the harness includes (same C ABI). Refuses an overflowing model (QnnError)."""
    if lang not in LANGS:
        raise QnnError(f"unknown language {lang!r}; choose one of {', '.join(LANGS)}.")
    c = generate_c(model, variant)
    if lang == "c":
        return c
    return {HEADER: c[HEADER], SOURCE_RS: generate_rust(model, variant)}


def build(run: str | Path, out: str | Path | None = None, variant: str = "loop",
          reuse: bool = False, lang: str = "c") -> dict[str, Any]:
    """Export + build + size report. With `reuse`, a fresh ELF already in `out` is kept."""
    model = load_int_model(run)
    out = Path(out) if out is not None else default_out(run)
    files = sources(model, variant, lang)
    reused = reuse and _is_fresh(out, files)
    compiler = None
    if not reused:
        for name in (SOURCE, SOURCE_RS):  # the other language's source must not linger
            if name not in files:
                (out / name).unlink(missing_ok=True)
        for name, text in files.items():
            atomic_write_text(out / name, text)
        obj = None
        if lang == "rust":
            from firmware.rust import compile_model

            (out / ELF).unlink(missing_ok=True)  # no stale ELF if rustc fails
            obj = compile_model(out / SOURCE_RS, out / RUST_OBJECT)
        build_firmware(out, out, model_object=obj)
    if lang == "rust":
        from firmware.rust import describe_rustc

        compiler = describe_rustc(variant)
    elf = out / ELF
    report = size_report(elf)
    problems = check_integer_only(elf)
    state = mutable_globals(elf)
    ok = report.fits and not problems and not report.problems and not state
    return {
        "ok": ok,
        "run": str(run),
        "variant": variant,
        "lang": lang,
        "compiler": compiler,
        "elf": str(elf),
        "reused": reused,
        "sizes": model.sizes,
        "macs": model.n_macs,
        "size": report.to_dict(),
        "integer_only": not problems,
        "problems": sorted(set(problems) | set(report.problems) | set(state)),
        "report": report.render(),
    }
