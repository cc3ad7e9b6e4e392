"""Compile a generated `qnn_model.rs` for the Cortex-M0 with Debian's rustc, offline.

Debian ships `rustc` (1.63) and `rust-src` (the sources of `core`) but no prebuilt standard
library for `thumbv6m-none-eabi`, and there is no rustup here. So `core` is built from the
sources that match the compiler (the ones under its own sysroot), once, and cached; then a
crate root that includes the model compiles to one object file, linked like the C one.

The target is thumbv6m-none-eabi's own specification with one change: the frame pointer may
be omitted (the built-in one keeps r7 as a frame pointer in every function, and Thumb-1 has
only eight low registers: the loop variant's inner loop needs all of them). And LLVM gets a
few code-generation options, each measured with bench/bench_rust.py (see `LLVM_ARGS`).

`compiler_builtins` is an empty crate and `core` is not linked at all: the model must need no
helper (no 64-bit arithmetic, no division, no memcpy/memclr) and no out-of-line code of `core`
(no panic path), and a call to one is an undefined symbol at link time, which the build
reports by name. The crate root gives the only `#[panic_handler]`, an endless loop; the
integer-only check then also proves no `core::panicking` code is reachable from `qnn_predict`.

Which compiler: Debian's /usr/bin/rustc (or $QNN_RUSTC), never the first `rustc` on PATH.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from common.errors import QnnError

TARGET = "thumbv6m-none-eabi"
# The custom target: TARGET's specification, frame pointer omitted (a JSON file of this name,
# written beside the cached core built for it).
TARGET_SPEC = "thumbv6m-none-eabi-nofp"
DEBIAN_RUSTC = Path("/usr/bin/rustc")
INSTALL_HINT = ("Debian's rustc and the sources of core are needed: install them with "
                "`apt-get install rustc rust-src`")
RUSTFLAGS = ("-C", "opt-level=s", "-C", "panic=abort", "-C", "debuginfo=0", "-D", "warnings")

# LLVM options for the model, measured on the emulated M0 (bench/bench_rust.py; cycles of
# the 6-16-16-6 fixtures, 8-bit weights): without them the unrolled variant ran 1.52x the C's
# cycles, the loop variant 1.4x.
# - two-entry-phi-node-folding-threshold=0: SimplifyCFG keeps each clamp a branch instead of
#   folding it into selects. With selects the unrolled network is one basic block, and the
#   instruction scheduler (one block at a time) interleaves all its outputs and spills; with
#   branches each output is a block of its own, computed in order.
# - disable-constant-hoisting, disable-machine-cse: a weight that occurs many times stays an
#   immediate (MOVS, 1 cycle) at each use instead of one register shared across the function,
#   spilled and reloaded (LDR, 2 cycles).
# Together: unrolled 3684 -> 2841 cycles (C: 2420).
LLVM_ARGS = ("-two-entry-phi-node-folding-threshold=0", "-disable-constant-hoisting",
             "-disable-machine-cse")
# Per variant, on top: the loop variant's inner loop scheduled for instruction-level
# parallelism (loads early) rather than the default's register pressure, which in the loop
# left its two sums and pointers short of registers (8-bit weights: 6346 -> 5534 cycles, C:
# 4598). The unrolled variant does better with the default (list-ilp: 2841 -> 3041).
VARIANT_LLVM_ARGS = {"loop": ("-pre-RA-sched=list-ilp",), "unrolled": ()}

# The model is compiled as a staticlib, like the firmware binary it goes into: its only
# exported symbol is qnn_predict, so everything else gets internal linkage and is inlined
# freely (an rlib at opt-level "s" exports its generic instances instead: share-generics,
# which leaves iterator adapters as out-of-line calls). One codegen unit, as in a firmware
# crate's release profile, so nothing is split away from its caller.
CRATE_TYPE = "staticlib"
MODEL_FLAGS = ("-C", "codegen-units=1", "-Z", "share-generics=no")

_BUILTINS = "#![feature(compiler_builtins)]\n#![compiler_builtins]\n#![no_std]\n"
CRATE_ROOT = """\
//! The crate around the generated module, for building and testing it on its own.
#![no_std]

#[path = "qnn_model.rs"]
pub mod qnn_model;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
"""


def find_rustc() -> Path:
    """$QNN_RUSTC, else Debian's /usr/bin/rustc, deliberately not the first `rustc` on PATH:
    a rustup toolchain there has no thumbv6m `core` offline and its version would not match
    the rust-src sources."""
    override = os.environ.get("QNN_RUSTC")
    path = Path(override) if override else DEBIAN_RUSTC
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise QnnError(f"{path}: no rustc there; {INSTALL_HINT}.")
    return path


def core_source(rustc: Path) -> Path:
    """`core`'s lib.rs under the compiler's own sysroot, so the versions match."""
    sysroot = _run([str(rustc), "--print", "sysroot"], "asking rustc for its sysroot").strip()
    lib = Path(sysroot) / "lib/rustlib/src/rust/library/core/src/lib.rs"
    if not lib.is_file():
        raise QnnError(f"{lib}: the sources of core are missing; {INSTALL_HINT}.")
    return lib


def rustc_version(rustc: Path) -> str:
    return _run([str(rustc), "--version"], "asking rustc for its version").strip()


def cache_dir() -> Path:
    return Path(os.environ.get("QNN_CACHE", Path.home() / ".cache" / "qnn-tui"))


def target_spec(rustc: Path) -> str:
    """TARGET's specification as rustc has it built in, with the frame pointer optional: the
    text of TARGET_SPEC's JSON file."""
    text = _run([str(rustc), "-Z", "unstable-options", "--print", "target-spec-json",
                 "--target", TARGET], "asking rustc for the target specification",
                bootstrap=True)
    try:
        spec = json.loads(text)
    except ValueError:
        raise QnnError(f"rustc printed no JSON target specification for {TARGET}.") from None
    spec.pop("is-builtin", None)
    spec["frame-pointer"] = "may-omit"
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


def sysroot_libs(rustc: Path) -> Path:
    """The folder holding the custom target's JSON file, and libcore.rlib and
    libcompiler_builtins.rlib built for it, built once per compiler version (~30 s) and
    cached; the cache entry appears whole or not at all."""
    version = rustc_version(rustc).split()[1]
    libs = cache_dir() / f"rust-{version}-{TARGET_SPEC}"
    if (libs / "libcompiler_builtins.rlib").is_file():
        return libs
    libs.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".rust.", dir=libs.parent))
    try:
        spec = tmp / f"{TARGET_SPEC}.json"
        spec.write_text(target_spec(rustc))
        common = [str(rustc), "--edition", "2021", "--target", str(spec), "--crate-type",
                  "rlib", *RUSTFLAGS[:6]]
        _run([*common, "--crate-name", "core", "-o", str(tmp / "libcore.rlib"),
              str(core_source(rustc))], "building core for the Cortex-M0", bootstrap=True)
        (tmp / "builtins.rs").write_text(_BUILTINS)
        _run([*common, "--crate-name", "compiler_builtins", "-L", str(tmp),
              "-o", str(tmp / "libcompiler_builtins.rlib"), str(tmp / "builtins.rs")],
             "building an empty compiler_builtins", bootstrap=True)
        os.replace(tmp, libs)
    except OSError:  # another process finished first: its copy is as good
        if not (libs / "libcompiler_builtins.rlib").is_file():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return libs


def variant_of(source: str) -> str | None:
    """The variant a generated qnn_model.rs says it is (its banner), or None.

    >>> variant_of('// Generated by qnn-tui (codegen/, variant "loop") from run'), variant_of("")
    ('loop', None)
    """
    m = re.search(r'\(codegen/, variant "(\w+)"\)', source[:2000])
    return m.group(1) if m else None


def llvm_args(variant: str | None) -> tuple[str, ...]:
    """The -C llvm-args for a model of `variant` (LLVM_ARGS, VARIANT_LLVM_ARGS)."""
    args = LLVM_ARGS + VARIANT_LLVM_ARGS.get(variant or "", ())
    return ("-C", "llvm-args=" + " ".join(args))


def compile_model(model_rs: Path, out_obj: Path, flags: tuple[str, ...] = ()) -> Path:
    """qnn_model.rs -> a Cortex-M0 object file (its C ABI symbol: qnn_predict), with the LLVM
    options of its variant (read from its banner). `flags` are added last (e.g.
    ("-C", "overflow-checks=on") to prove the module has no checked arithmetic: any check
    would link a panic path)."""
    rustc = find_rustc()
    libs = sysroot_libs(rustc)
    source = Path(model_rs).read_text()
    with tempfile.TemporaryDirectory(prefix=".rustc.") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "qnn_model.rs").write_text(source)
        (tmp / "lib.rs").write_text(CRATE_ROOT)
        _run([str(rustc), "--edition", "2021", "--target", str(libs / f"{TARGET_SPEC}.json"),
              "--crate-type", CRATE_TYPE, "--crate-name", "qnn", *RUSTFLAGS, *MODEL_FLAGS,
              *llvm_args(variant_of(source)), *flags, "--emit", "obj", "-L", str(libs),
              "-o", str(out_obj), str(tmp / "lib.rs")],
             f"compiling {model_rs.name}",
             bootstrap=True)
    return out_obj


def describe_rustc(variant: str | None = None) -> str:
    """Which compiler builds the Rust model, and how: for reports."""
    rustc = find_rustc()
    flags = " ".join(f"{a} {b}" for a, b in zip(RUSTFLAGS[::2], RUSTFLAGS[1::2], strict=True)
                     if a == "-C" and b.startswith("opt-level"))
    text = f"{rustc_version(rustc)} ({rustc}) --target {TARGET_SPEC} {flags}"
    return text + (f" -C '{llvm_args(variant)[1]}'" if variant else "")


def compile_host(model_rs: Path, main_rs: Path, exe: Path, rustc: Path | None = None,
                 flags: tuple[str, ...] = ("-C", "opt-level=2")) -> Path:
    """A host executable from `main_rs`, a crate root with `mod qnn_model;` next to a copy
    of `model_rs` (the host check: the module is plain Rust, `-D warnings` clean)."""
    rustc = rustc or find_rustc()
    with tempfile.TemporaryDirectory(prefix=".rustc.") as tmp_name:
        tmp = Path(tmp_name)
        shutil.copy2(model_rs, tmp / "qnn_model.rs")
        shutil.copy2(main_rs, tmp / "main.rs")
        _run([str(rustc), "--edition", "2021", "--crate-type", "bin", "-D", "warnings",
              *flags, "-o", str(exe), str(tmp / "main.rs")], f"compiling {main_rs.name}")
    return exe


def _run(cmd: list[str], what: str, bootstrap: bool = False) -> str:
    env = {**os.environ, "RUSTC_BOOTSTRAP": "1"} if bootstrap else None
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    except OSError as e:
        raise QnnError(f"cannot run {cmd[0]} ({e}); {INSTALL_HINT}.") from None
    except subprocess.TimeoutExpired:
        raise QnnError(f"{what} took over 300 s; check the Rust installation.") from None
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        first = next((ln for ln in lines if ln.startswith("error")), lines[0] if lines else "")
        raise QnnError(f"{what} failed: {first.strip()}")
    return proc.stdout
