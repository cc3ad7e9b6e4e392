"""The core is Textual-free, and the app does not load JAX before its first paint."""

import subprocess
import sys

CORE = ["qnn", "qnn.project", "qnn.pipeline", "qnn.train", "qnn.overflow", "cli.main", "sim",
        "sim.dataset", "sim.identify", "codegen", "codegen.cgen", "firmware.build",
        "firmware.elfinfo", "m0.emulator", "qnn_tui.core", "qnn_tui.session", "qnn_tui.figures",
        "qnn_tui.sweeps", "qnn.sweepconf", "qnn_tui.busy"]


def _loaded(modules: list[str]) -> set[str]:
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            "print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return set(out.stdout.split())


def test_core_imports_no_textual():
    loaded = _loaded(CORE)
    assert "qnn" in loaded and "codegen" in loaded
    assert "textual" not in loaded


def test_app_import_does_not_load_jax():
    loaded = _loaded(["qnn_tui.app", "qnn_tui.__main__"])
    assert "textual" in loaded
    assert "jax" not in loaded
