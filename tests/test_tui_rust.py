"""The codegen pane in Rust: `l` toggles the language (Rust highlighted), `b` builds it with
rustc and runs it on the emulated M0; reopening shows the last build's language."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from textual.widgets import Static

from qnn.project import PROJECT_FILE
from qnn_tui.app import QnnApp

FIXTURES = Path(__file__).parent / "fixtures"


def text_of(app, selector) -> str:
    return str(app.query_one(selector, Static).render())


def source_of(app) -> tuple[str, str]:
    """The code view's text and lexer name (it shows a rich Syntax)."""
    syntax = app.query_one("#code-text", Static).content
    return syntax.code, syntax.lexer.name


async def wait_for(pilot, cond, timeout, what):
    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def test_codegen_pane_shows_and_builds_rust(tmp_path, arm_toolchain, rust_toolchain):
    proj = tmp_path / "proj"
    (proj / "run").mkdir(parents=True)
    (proj / PROJECT_FILE).write_text('{"n": 2000}')
    shutil.copy(FIXTURES / "magnet6_8bit_int_model.json", proj / "run" / "int_model.json")
    (proj / "run" / "metrics.json").write_text("{}")

    async def body():
        app = QnnApp(proj, warm_up=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            await pilot.press("4")
            await pilot.pause()
            code, lexer = source_of(app)
            assert "qnn_predict(const uint16_t" in code and lexer == "C"
            await pilot.press("l")
            await pilot.pause()
            assert app.session.lang == "rust"
            code, lexer = source_of(app)
            assert "pub fn predict_into" in code and lexer == "Rust"
            assert "Rust" in text_of(app, "#code-status")
            await pilot.press("b")
            await wait_for(pilot, lambda: app.session.build is not None and not app.busy, 120,
                           "the Rust build")
            report = text_of(app, "#code-report")
            assert "Rust: rustc 1." in report
            flash = app.session.build["verify"]["inference_flash"]
            assert f"built (Rust): {flash:,} B" in text_of(app, "#quant-status")
            assert "bit-exact vs the numpy reference OK" in report
            assert "integer-only ARMv6-M (no float, no 64-bit, no helpers): yes" in report
            await pilot.press("q")
        again = QnnApp(proj, warm_up=False)
        async with again.run_test(size=(80, 24)) as pilot:
            await pilot.pause()
            assert again.session.lang == "rust" and again.session.build["build"]["lang"] == "rust"

    asyncio.run(body())
