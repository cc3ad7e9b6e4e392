"""Helpers of the workbench tests: a small trained project made once per test process and
copied per test, and pilot utilities."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from codegen.cgen import VARIANTS
from qnn.project import PROJECT_FILE
from qnn_tui.app import QnnApp

SIZE = (80, 24)
TINY = {"n": 600, "epochs": [1, 1, 1], "epochs_finetune": 1, "batch_size": 64}
TRAINED_BITS = {"w_bits": [7, 4, 8], "a_bits": [8, 8]}


def tiny_project(path: Path, **extra) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / PROJECT_FILE).write_text(json.dumps({**TINY, **extra}))
    return path


def make_trained(path: Path) -> Path:
    """A project folder with a dataset, a run folder trained at w bits 7,4,8 and a build
    summary written by hand (no toolchain needed), through the same core calls as the
    workbench's workers."""
    from qnn.project import open_project
    from qnn_tui import core
    from qnn_tui.session import SUMMARY

    tiny_project(path, **TRAINED_BITS)
    project = open_project(path).project
    ds = core.generate_dataset(project, path / "dataset.npz")
    from qnn_tui.runs import record_build, record_training

    for event in core.training(ds, project.train_config(), lambda: False):
        if isinstance(event, tuple):
            metrics = core.finish(event[0], event[1], ds, path / "run", path / "dataset.npz")
            runs = record_training(path / "runs.json", [], path / "run" / "int_model.json",
                                   event[0].int_model, metrics, "train")
            record_build(path / "runs.json", runs, path / "run" / "int_model.json",
                         VARIANTS[0], FAKE_SUMMARY)
    (path / "build").mkdir()
    (path / "build" / SUMMARY).write_text(json.dumps(FAKE_SUMMARY))
    return path


FAKE_SUMMARY = {
    "build": {"variant": VARIANTS[0], "integer_only": True, "problems": [], "form": "assembly",
              "size": {"flash_used": 1172, "flash_total": 32768, "ram_used": 2256,
                       "ram_total": 16384, "ram_static": 208, "stack_reserved": 2048,
                       "inference": {"code": 340, "rodata": 650, "data": 0, "bss": 184},
                       "inference_flash": 990,
                       "symbols": [{"name": "qnn_predict", "kind": "code", "bytes": 340,
                                    "origin": "model"}]}},
    "verify": {"ok": True, "inferences": 300, "mismatched_rows": 0, "inference_flash": 990,
               "cycles": {"min": 3768, "mean": 3795.0, "max": 3852}, "cycles_per_mac": 8.47,
               "peak_stack": 68, "cycles_slow_multiply": {"min": 20136, "mean": 20158.0,
                                                          "max": 20208}},
}


def copy_project(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


async def wait_for(pilot, cond, timeout: float = 120.0, what: str = "condition") -> None:
    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def text_of(app, selector: str) -> str:
    """The text a Static shows (markup, Rich Text or a Syntax), as plain text."""
    from rich.console import Console
    from textual.widgets import Static

    content = app.query_one(selector, Static).content
    if isinstance(content, str):
        return str(app.query_one(selector, Static).render())
    console = Console(width=200, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(content)
    return console.export_text()


class App(QnnApp):
    """The workbench, remembering every notification it showed (toasts expire)."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.seen: list[tuple[str, str, str]] = []  # (severity, title, message)

    def notify(self, message: str, *, title: str = "", severity: str = "information",
               **kw) -> None:
        self.seen.append((severity, title, message))
        super().notify(message, title=title, severity=severity, **kw)

    def said(self, *severities: str) -> list[str]:
        return [f"{t}: {m}" for s, t, m in self.seen if not severities or s in severities]
