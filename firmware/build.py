"""Build the firmware ELF: generated qnn_model.c + the hand-written firmware/ sources.

One compile per source (so each gets its own .su stack-usage file), then one link with the
firmware's linker script. The link uses -nostdlib and adds only libgcc (last): a C construct
that needs a runtime helper (division, 64-bit, float) still links, and
`firmware.elfinfo.check_integer_only` then names the helper. libc functions (memcpy, malloc,
...) are not available at all; a reference to one is reported as a build failure naming it.

Outputs are built in a temporary folder and moved into `out_dir` only on success; the old
outputs are removed first, so a failed build never leaves a stale ELF that looks valid.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common.errors import QnnError
from firmware import FIRMWARE_DIR

GCC_NAME = "arm-none-eabi-gcc"
INSTALL_HINT = (
    f"{GCC_NAME} not found: install it with "
    "`apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi` (Debian/Ubuntu)"
)
CPU_FLAGS = ("-mcpu=cortex-m0", "-mthumb")
CFLAGS = (
    *CPU_FLAGS,
    "-Os",
    "-ffunction-sections",
    "-fdata-sections",
    "-fstack-usage",
    "-Wall",
    "-Wextra",
    "-std=c99",
    # Freestanding: no libc, and GCC must not turn plain loops into memset/memcpy calls.
    "-ffreestanding",
    "-fno-tree-loop-distribute-patterns",
)
FIRMWARE_SOURCES = ("startup.c", "harness.c")
OUTPUTS = ("qnn.elf", "qnn.map", "build.log")


@dataclass
class BuildResult:
    elf: Path
    map: Path
    log: Path
    su_files: list[Path]
    commands: list[list[str]] = field(default_factory=list)


def find_toolchain() -> Path:
    """The arm-none-eabi-gcc to use: $QNN_ARM_GCC if set, else the one on PATH."""
    override = os.environ.get("QNN_ARM_GCC")
    if override:
        path = Path(override)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        found = shutil.which(override)
        if found:
            return Path(found)
        raise QnnError(f"QNN_ARM_GCC={override}: not an executable; {INSTALL_HINT}")
    found = shutil.which(GCC_NAME)
    if not found:
        raise QnnError(INSTALL_HINT)
    return Path(found)


def build_firmware(
    model_dir: Path,
    out_dir: Path,
    *,
    cflags: Sequence[str] = (),
    keep: Sequence[str] = (),
    model_object: Path | None = None,
) -> BuildResult:
    """Compile model_dir/qnn_model.c with the firmware into out_dir/qnn.elf (+ .map, .su, log).

    `cflags` are added to every compile (e.g. ["-O2"]). `keep` names extra functions to keep
    through --gc-sections (for emulating functions other than qnn_predict). `model_object`
    links that object (e.g. the Rust model, `firmware.rust.compile_model`) instead of
    compiling qnn_model.c; the harness still includes model_dir/qnn_model.h (same C ABI).
    """
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    model_c = model_dir / "qnn_model.c"
    if model_object is not None and not Path(model_object).is_file():
        raise QnnError(f"{model_object}: no such model object; compile the model first.")
    if not (model_c.is_file() or model_object is not None) or \
            not (model_dir / "qnn_model.h").is_file():
        raise QnnError(f"{model_dir}: no qnn_model.c/qnn_model.h; generate the C first.")
    gcc = find_toolchain()
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_old_outputs(out_dir)

    with tempfile.TemporaryDirectory(prefix=".build.", dir=out_dir) as tmp_name:
        tmp = Path(tmp_name)
        sources = [FIRMWARE_DIR / s for s in FIRMWARE_SOURCES]
        if model_object is None:
            sources.insert(0, model_c.resolve())
        includes = [f"-I{model_dir.resolve()}", f"-I{FIRMWARE_DIR}"]
        commands: list[list[str]] = []
        log: list[str] = []
        objects = []
        for src in sources:
            obj = tmp / (src.stem + ".o")
            cmd = [str(gcc), *CFLAGS, *cflags, *includes, "-c", str(src), "-o", str(obj)]
            commands.append(cmd)
            _run(cmd, log, out_dir, what=f"compiling {src.name}")
            objects.append(obj)
        if model_object is not None:
            objects.insert(0, Path(model_object).resolve())
        link = [
            str(gcc), *CPU_FLAGS, "-nostdlib", "-nostartfiles",
            f"-T{FIRMWARE_DIR / 'm0.ld'}", "-Wl,--gc-sections", f"-Wl,-Map={tmp / 'qnn.map'}",
            *(f"-Wl,--require-defined={name}" for name in keep),
            *(str(o) for o in objects), "-lgcc", "-o", str(tmp / "qnn.elf"),
        ]  # fmt: skip
        commands.append(link)
        _run(link, log, out_dir, what="linking")
        _write_log(out_dir, log)

        su_files = []
        for su in sorted(tmp.glob("*.su")):
            shutil.copy2(su, out_dir / su.name)
            su_files.append(out_dir / su.name)
        shutil.move(tmp / "qnn.map", out_dir / "qnn.map")
        shutil.move(tmp / "qnn.elf", out_dir / "qnn.elf")  # last: its presence means success
    return BuildResult(
        elf=out_dir / "qnn.elf",
        map=out_dir / "qnn.map",
        log=out_dir / "build.log",
        su_files=su_files,
        commands=commands,
    )


def _remove_old_outputs(out_dir: Path) -> None:
    for name in OUTPUTS:
        (out_dir / name).unlink(missing_ok=True)
    for su in out_dir.glob("*.su"):
        su.unlink()


def _write_log(out_dir: Path, log: list[str]) -> None:
    (out_dir / "build.log").write_text("\n".join(log) + "\n")


def _run(cmd: list[str], log: list[str], out_dir: Path, *, what: str) -> None:
    log.append("$ " + " ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except OSError as e:
        raise QnnError(f"cannot run {cmd[0]} ({e}); {INSTALL_HINT}") from None
    except subprocess.TimeoutExpired:
        raise QnnError(f"{what} took over 120 s; see the compiler installation.") from None
    output = (proc.stdout + proc.stderr).rstrip()
    if output:
        log.append(output)
    if proc.returncode != 0:
        _write_log(out_dir, log)
        raise QnnError(
            f"{what} failed: {_first_error(output)} (full log: {out_dir / 'build.log'})"
        )


_UNDEFINED = re.compile(r"undefined reference to `([^']+)'")


def _first_error(output: str) -> str:
    """The most telling line of a compiler/linker message."""
    undefined = _UNDEFINED.search(output)
    if undefined:
        name = undefined.group(1)
        if name.startswith(("_ZN", "_R")) or "::" in name:  # Rust (ld may demangle it)
            from firmware.elfinfo import demangle, panic_kind

            path = demangle(name)
            why = "can panic" if panic_kind(path) else "calls into core out of line"
            return (f"the Rust code {why} (`{path}`): core is not linked, so the model must "
                    "index no slice, unwrap nothing and check no overflow")
        return (
            f"the code calls `{name}`, which does not exist on this bare-metal target "
            "(no libc); write it without library calls"
        )
    lines = output.splitlines()
    for line in lines:
        if " error: " in line or "error:" in line.split(" ", 1)[0] or "Error:" in line:
            return line.strip()
    return lines[0].strip() if lines else "no output"
