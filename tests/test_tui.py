"""Pilot tests of the workbench's main paths, at 80x24."""

from __future__ import annotations

import asyncio
import json
import statistics
import time

import pytest
from textual import events
from textual.widgets import DataTable, Static, TabbedContent

from qnn.project import PROJECT_FILE, Project, default_dir
from qnn_tui.app import QnnApp
from qnn_tui.code_pane import CodePane
from qnn_tui.quant_pane import QuantPane

SIZE = (80, 24)
TINY = {"n": 2000, "epochs": [2, 2, 1], "epochs_finetune": 1}


def tiny_project(path):
    path.mkdir(parents=True, exist_ok=True)
    (path / PROJECT_FILE).write_text(json.dumps(TINY))
    return path


async def wait_for(pilot, cond, timeout=120.0, what="condition"):
    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > timeout:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def text_of(app, selector) -> str:
    return str(app.query_one(selector, Static).render())


def test_default_project_opens_and_every_pane_shows(tmp_path, monkeypatch):
    async def body():
        monkeypatch.setenv("QNN_TUI_HOME", str(tmp_path / "home"))
        app = QnnApp(default_dir(), warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert (tmp_path / "home" / PROJECT_FILE).is_file()
            assert app.session.project.hidden == [16, 16] and app.session.project.w_bits == [8] * 3
            assert "identifiability" in text_of(app, "#sim-ident")
            # a new project makes its dataset at once (quick), so every pane can go on
            await wait_for(pilot, lambda: app.session.dataset is not None, 30, "the dataset")
            for key, tab in zip("2341", ("train", "quant", "code", "sim"), strict=True):
                await pilot.press(key)
                await pilot.pause()
                assert app.query_one(TabbedContent).active == tab
                assert app.focused is not None and app.focused.id and tab in app.focused.id
            # the pose table: nudging the pose changes the readings
            pose_before = list(app.session.project.pose)
            await pilot.press("tab", "right")
            await pilot.pause()
            assert app.focused.id == "sim-pose"
            assert app.session.project.pose != pose_before
            await pilot.press("question_mark")
            await pilot.pause()
            assert app.screen.__class__.__name__ == "HelpScreen"
            await pilot.press("escape")
            # building without a model: a message, not a traceback
            await pilot.press("4", "b")
            await wait_for(pilot, lambda: not app.busy and "no trained model" in
                           text_of(app, "#code-report"), 10, "the build error")
        assert json.loads((tmp_path / "home" / PROJECT_FILE).read_text())["pose"] != pose_before

    asyncio.run(body())


def test_bad_project_files_are_all_kept_and_defaults_used(tmp_path):
    """Two corrupt project.json in a row: both are kept (timestamped), the note says where."""
    contents = ['{"n": "lots", "hidden": 3}', '{"n": 12, "hidden": [0]}']

    async def body(text):
        (tmp_path / PROJECT_FILE).write_text(text)
        app = QnnApp(tmp_path, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            notes = [n.message for n in app._notifications]
            assert any(str(tmp_path / "project.json.bad-") in n for n in notes), notes
            assert app.session.project.n == Project().n

    for text in contents:
        asyncio.run(body(text))
    kept = sorted(tmp_path.glob("project.json.bad-*"))
    assert sorted(p.read_text() for p in kept) == sorted(contents)


def test_edit_a_setting_with_the_keyboard(tmp_path):
    async def body():
        app = QnnApp(tiny_project(tmp_path), warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("2")  # training settings: the first row is the epochs
            await pilot.press("enter")
            await pilot.pause()
            app.screen.query_one("Input").value = ""
            await pilot.press(*"3,1,1", "enter")
            await pilot.pause()
            assert app.session.project.epochs == [3, 1, 1]
            await pilot.press("down", "enter")  # fine-tune epochs: nonsense is refused
            await pilot.pause()
            app.screen.query_one("Input").value = "-5"
            await pilot.press("enter")
            await pilot.pause()
            assert app.session.project.epochs_finetune == 1
        saved = json.loads((tmp_path / PROJECT_FILE).read_text())
        assert saved["epochs"] == [3, 1, 1] and saved["epochs_finetune"] == 1

    asyncio.run(body())


def test_generate_train_tweak_build_verify_reopen(tmp_path, arm_toolchain, monkeypatch):
    async def body():
        proj = tiny_project(tmp_path / "proj")
        app = QnnApp(proj)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("g")
            await wait_for(pilot, lambda: app.session.dataset is not None, 30, "the dataset")
            assert (proj / "dataset.npz").is_file()
            await pilot.press("2")
            await pilot.pause()
            await pilot.press("t")
            await wait_for(pilot, lambda: app.session.int_model is not None and not app.busy,
                           180, "training to finish")
            assert app.session.metrics["rmse_per_output"]
            assert app.query_one("#train-rmse", DataTable).row_count == 6
            # change a bit width in the quantization pane: the figures follow (re-quantized)
            await pilot.press("3", "minus")
            await pilot.pause()
            assert app.session.project.w_bits == [7, 8, 8]
            await wait_for(pilot, lambda: not app.session.stale and not app.busy, 120,
                           "re-quantization")
            assert app.session.int_model.layers[0].w_bits == 7
            assert "7" in str(app.query_one(QuantPane).query_one(DataTable).get_row_at(0)[2])
            # fine-tune at the new widths: the loss change is shown
            await pilot.press("f")
            await wait_for(pilot, lambda: "fine-tune:" in app.query_one(QuantPane).note
                           and not app.busy, 120, "the fine-tune")
            assert "->" in text_of(app, "#quant-status")
            # a missing toolchain is explained inside the pane
            monkeypatch.setenv("QNN_ARM_GCC", str(tmp_path / "no-such-gcc"))
            await pilot.press("4", "b")
            await wait_for(pilot, lambda: not app.busy and app.query_one(CodePane).error, 30,
                           "the toolchain error")
            assert "apt-get install gcc-arm-none-eabi" in text_of(app, "#code-report")
            monkeypatch.delenv("QNN_ARM_GCC")
            await pilot.press("b")
            await wait_for(pilot, lambda: app.session.build is not None and not app.busy, 120,
                           "build and verify")
            report = text_of(app, "#code-report")
            assert "bit-exact vs the numpy reference OK" in report
            assert "integer-only ARMv6-M (no float, no 64-bit, no helpers): yes" in report
            flash = app.session.build["verify"]["inference_flash"]
            assert f"built (C): {flash:,} B" in text_of(app, "#quant-status")
            await pilot.press("q")
        # reopen: the same state
        again = QnnApp(proj, warm_up=False)
        async with again.run_test(size=SIZE) as pilot:
            await pilot.pause()
            s = again.session
            assert s.project.w_bits == [7, 8, 8] and s.project.n == 2000
            assert s.int_model is not None and not s.stale and s.build is not None
            assert len(s.history) >= 1

    asyncio.run(body())


@pytest.mark.parametrize("argv", [["--help"]])
def test_main_help(argv, capsys):
    from qnn_tui.__main__ import main

    with pytest.raises(SystemExit):
        main(argv)
    out = capsys.readouterr().out
    assert "default project" in out and "QNN_TUI_HOME" in out


def test_keys_answer_while_training_pause_resume_stop(tmp_path):
    """Time from a key press to its handler having run, while the training worker imports
    JAX, compiles and trains; then pause, resume and stop it."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / PROJECT_FILE).write_text(json.dumps({"n": 40000, "epochs": [2000, 0, 1]}))

    async def body():
        app = QnnApp(proj)
        latencies, busy = [], []
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("g")
            await wait_for(pilot, lambda: app.session.dataset is not None, 30, "the dataset")
            await pilot.press("2")
            await pilot.pause()
            await pilot.press("t")
            # keys go in as the terminal driver sends them (pilot.press would also wait for
            # the CPU to go idle, which it does not while training)
            for key, tab in [("3", "quant"), ("2", "train")] * 6:
                t0 = time.perf_counter()
                app.post_message(events.Key(key, key))
                while app.tab_switched_at < t0 and time.perf_counter() - t0 < 5:
                    await asyncio.sleep(0.001)
                latencies.append(app.tab_switched_at - t0)
                assert app.query_one(TabbedContent).active == tab
                busy.append("training" in app.busy.values())
                await asyncio.sleep(0.2)
            await wait_for(pilot, lambda: len(app.session.history) >= 2, 120, "two epochs")
            await pilot.press("p")
            await pilot.pause(0.3)
            n = len(app.session.history)
            await pilot.pause(0.5)
            assert len(app.session.history) <= n + 1  # paused (at most the running epoch)
            assert "PAUSED" in text_of(app, "#status"), (n, app.busy, app.session.history[-1])
            await pilot.press("p")
            await wait_for(pilot, lambda: len(app.session.history) > n + 1, 60, "resume")
            await pilot.press("x")
            await wait_for(pilot, lambda: not app.busy, 60, "the stop")
            assert app.session.int_model is not None  # stopped early, model kept
            assert len(app.session.history) < 2000
        return latencies, busy

    latencies, busy = asyncio.run(body())
    med = statistics.median(latencies)
    print(f"\nkey latency while training: median {med * 1000:.1f} ms, max "
          f"{max(latencies) * 1000:.1f} ms over {len(latencies)} presses, training running "
          f"during {sum(busy)} of them")
    assert sum(busy) >= 8
    assert med < 0.5


def test_palette_lists_every_action(tmp_path):
    app = QnnApp(tmp_path, warm_up=False)

    async def body():
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            titles = [c.title for c in app.get_system_commands(app.screen)]
            for t in ("Generate dataset", "Train", "Build and verify", "Show Codegen",
                      "Fine-tune at the current bit widths"):
                assert t in titles
            cmd = next(c for c in app.get_system_commands(app.screen) if c.title == "Show Codegen")
            cmd.callback()
            await pilot.pause()
            assert app.query_one(TabbedContent).active == "code"

    asyncio.run(body())
