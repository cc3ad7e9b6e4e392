"""Pilot tests of the workbench bugs of issue 12, one or more per bug, at 80x24."""

from __future__ import annotations

import asyncio
import json
import random
import time

import pytest
from textual import events
from textual.widgets import DataTable
from textual.widgets._toast import Toast

from qnn.intmodel import IntModel
from qnn.project import PROJECT_FILE
from tests.tuikit import SIZE, App, copy_project, make_trained, text_of, wait_for


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return make_trained(tmp_path_factory.mktemp("trained") / "proj")


def key(app, k: str) -> None:
    """A key as the terminal driver sends it: no waiting for the app to go idle."""
    char = {"minus": "-", "plus": "+", "up": None, "down": None}.get(k, k)
    app.post_message(events.Key(k, char))


def status(app) -> str:
    return text_of(app, "#status")


@pytest.mark.slow
def test_busy_is_what_runs_under_hammered_bit_changes(trained, tmp_path, monkeypatch):
    """>= 200 bit changes at random spacing (bursts of a few ms, and longer gaps) while a
    fine-tune and then re-quantizations run; without the debounce, so every change starts a
    worker that replaces the last, often before it started. Throughout, the status line
    names only work that is running, and at the end it says ready, p says nothing is
    training, and the model has the bits on screen.

    Training is seconds-fast now, so each epoch is slowed by a sleep: the fine-tune still
    runs when the hammering starts, and the workers that replace each other overlap."""
    import qnn_tui.core
    import qnn_tui.replies

    monkeypatch.setattr(qnn_tui.replies, "REQUANTIZE_AFTER", 0.001)
    real_training = qnn_tui.core.training

    def slow_training(ds, cfg, stop, init=None):
        for event in real_training(ds, cfg, stop, init=init):
            if not isinstance(event, tuple):  # an epoch's progress, not the result
                time.sleep(0.02)
            yield event

    monkeypatch.setattr(qnn_tui.core, "training", slow_training)
    proj = copy_project(trained, tmp_path / "proj")
    cfg = json.loads((proj / PROJECT_FILE).read_text())
    (proj / PROJECT_FILE).write_text(json.dumps({**cfg, "epochs_finetune": 400}))
    rng = random.Random(12)

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("3", "f")  # a long fine-tune: the worker running at the start
            await wait_for(pilot, lambda: "training" in app.busy.values(), 60, "the fine-tune")
            presses, checks, while_busy = 0, 0, 0
            while presses < 220:
                k = rng.choice(["minus", "plus", "minus", "plus", "up", "down"])
                key(app, k)
                presses += k in ("minus", "plus")
                gap = rng.choice([0.0, 0.002, 0.01, 0.03]) if rng.random() < 0.8 else \
                    rng.uniform(0.16, 0.5)
                await asyncio.sleep(gap)
                if rng.random() < 0.1:  # between messages the line may lag, never invent
                    await pilot.pause(0)
                    names = {n for n, _ in app.running()}
                    line = status(app)
                    if "BUSY" in line:
                        shown = line.split("BUSY", 1)[1].split("|")[0]
                        assert any(n in shown for n in names | {"finishing"}) or not names \
                            or "(" in shown, (line, names)
                    checks += 1
                    while_busy += bool(names)
            await wait_for(pilot, lambda: not app.running() and not app.session.stale, 180,
                           "the last re-quantization")
            await wait_for(pilot, lambda: status(app).startswith("ready"), 15, "ready")
            assert app.pauser is None
            await pilot.press("p")
            await pilot.pause()
            assert any("nothing is training" in m for m in app.said())
            s = app.session
            bits = [layer.w_bits for layer in s.int_model.layers]
            assert bits == s.project.w_bits, (bits, s.project.w_bits)
            on_disk = IntModel.load(proj / "run" / "int_model.json")
            assert [layer.w_bits for layer in on_disk.layers] == s.project.w_bits
            row = app.query_one("#quant-table", DataTable).get_row_at(0)
            assert str(s.project.w_bits[0]) in str(row[2])
            return presses, checks, while_busy

    presses, checks, while_busy = asyncio.run(body())
    assert presses >= 200 and checks > 0 and while_busy > 0, (presses, checks, while_busy)


def test_busy_clears_when_a_worker_is_replaced_before_it_starts(trained, tmp_path):
    """The original stuck state: a re-quantization replaced within milliseconds (two `-`).
    The status follows the work threads, not Textual's worker states."""
    proj = copy_project(trained, tmp_path / "proj")

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("3")
            for _ in range(3):
                app.run_training("requantize")  # straight to the workers: no debounce
            await wait_for(pilot, lambda: not app.running(), 120, "the re-quantizations")
            # the line follows within a few messages (seconds on a loaded machine), not never
            await wait_for(pilot, lambda: status(app).startswith("ready"), 15, "ready")

    asyncio.run(body())


def test_bit_changes_in_a_burst_start_few_requantizations(trained, tmp_path):
    proj = copy_project(trained, tmp_path / "proj")

    async def body():
        app = App(proj, warm_up=False)
        started = []
        run = app.run_training
        app.run_training = lambda kind="train": (started.append(kind), run(kind))
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("3")
            for k in ["minus", "minus", "plus", "minus"] * 5:  # as fast as keys come
                key(app, k)
            await wait_for(pilot, lambda: started and not app.running()
                           and not app.session.stale, 120, "the re-quantization")
            assert 1 <= len(started) <= 5, started  # not one per change: 20 changes
            assert app.session.project.w_bits == [2, 4, 8]  # 7 -1 -1 +1 -1 ..., clamped at 2
            assert [layer.w_bits for layer in app.session.int_model.layers] == [2, 4, 8]

    asyncio.run(body())


def test_toasts_expire_without_keys_and_never_cover_the_status_line(tmp_path):
    async def body():
        app = App(tmp_path / "p", warm_up=False)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await pilot.pause()
            app.notify("one from the UI thread", timeout=0.4)
            from qnn_tui.messages import StatusChanged

            app.post_message(StatusChanged("one from a worker", toast=True))
            await pilot.press("question_mark")  # a modal screen on top meanwhile
            app.notify("one over the help screen", timeout=0.4)
            await pilot.pause(0.2)
            toasts = list(app.screen.query(Toast))
            assert toasts
            line = app.query_one("#status").region
            for t in toasts:
                assert not t.region.overlaps(line), (t.region, line)
            await pilot.press("escape")
            for t in app.screen.query(Toast):
                assert not t.region.overlaps(line)
            app.notify("and one more", timeout=0.4)
            await asyncio.sleep(9)  # no key pressed: the longest (8 s) must have gone too
            await pilot.pause()
            assert not list(app.screen.query(Toast)), [str(t.render()) for t in
                                                       app.screen.query(Toast)]
            assert "▌" not in status(app)

    asyncio.run(body())


def test_failed_build_leaves_the_previous_build_whole(trained, tmp_path, monkeypatch):
    proj = copy_project(trained, tmp_path / "proj")
    old = {"qnn_model.c": "/* old */\n", "qnn_model.h": "/* old */\n", "qnn.elf": "old elf",
           "qnn.map": "old map"}
    for name, text in old.items():
        (proj / "build" / name).write_text(text)
    before = {p.name: p.read_bytes() for p in (proj / "build").iterdir()}
    monkeypatch.setenv("QNN_ARM_GCC", str(tmp_path / "no-such-gcc"))

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("4", "b")
            await wait_for(pilot, lambda: not app.busy and app.query_one("CodePane").error, 60,
                           "the build error")
            report = text_of(app, "#code-report")
            assert "Nothing in build/ changed" in report and "build.failed/" in report

    asyncio.run(body())
    assert {p.name: p.read_bytes() for p in (proj / "build").iterdir()} == before
    failed = proj / "build.failed"
    assert (failed / "qnn_model.c").read_text() != old["qnn_model.c"]  # the new C, set aside
    assert not list(proj.glob(".build.*"))  # no temporary left behind


def test_reset_keeps_the_trained_model_and_says_so(trained, tmp_path):
    """A corrupt project.json falls back to defaults, but the trained [7,4,8] model is kept
    as it is (its settings adopted), not silently re-quantized to 8 bits."""
    proj = copy_project(trained, tmp_path / "proj")
    (proj / PROJECT_FILE).write_text("{not json")
    mse = json.loads((proj / "run" / "metrics.json").read_text())["mse_int_normalized"]

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause(0.5)
            s = app.session
            assert s.project.w_bits == [7, 4, 8] and s.project.n == 600
            assert not s.stale and not app.running()
            said = " ".join(app.said("warning"))
            assert "kept" in said and "7, 4, 8" in said and "project.json.bad-" in said
            assert s.metrics["mse_int_normalized"] == mse

    asyncio.run(body())
    assert json.loads((proj / PROJECT_FILE).read_text())["w_bits"] == [7, 4, 8]


def test_batch_size_beyond_the_training_rows_is_refused(tmp_path):
    from tests.tuikit import tiny_project

    proj = tiny_project(tmp_path / "proj")

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("2", "down", "down", "down", "enter")
            await pilot.pause()
            app.screen.query_one("Input").value = "1000000"
            await pilot.press("enter")
            await pilot.pause()
            assert app.session.project.batch_size == 64
            said = " ".join(app.said("error"))
            assert "batch size 1,000,000" in said and "540 training rows" in said

    asyncio.run(body())


def test_batch_larger_than_an_imported_dataset_is_clamped_with_a_message():
    from qnn.config import TrainConfig
    from qnn_tui.core import clamp_batch

    cfg = TrainConfig(batch_size=1_000_000)
    note = clamp_batch(cfg, 20_000)
    assert cfg.batch_size == 18_000 and "18,000 training rows" in note
    cfg = TrainConfig(batch_size=128)
    assert clamp_batch(cfg, 20_000) is None and cfg.batch_size == 128


def test_screenshot_goes_into_the_project_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/Downloads there

    async def body():
        app = App(tmp_path / "proj", warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            cmd = next(c for c in app.get_system_commands(app.screen) if c.title == "Screenshot")
            cmd.callback()
            t0 = time.perf_counter()
            await wait_for(pilot, lambda: any("Saved screenshot" in m for m in app.said()),
                           10, "the screenshot")
            assert time.perf_counter() - t0 < 10
            assert not any("Failed" in m for m in app.said())

    asyncio.run(body())
    shots = list((tmp_path / "proj" / "screenshots").glob("*.svg"))
    assert len(shots) == 1 and "<svg" in shots[0].read_text()[:500]


def test_tab_keys_typed_in_one_go_land_on_the_last_tab(tmp_path):
    """Keys as a terminal delivers them when typed fast: the last tab wins and holds the
    focus (a late focus event of an earlier tab used to switch back)."""
    from textual.widgets import TabbedContent

    async def body():
        app = App(tmp_path / "proj", warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            for keys in ["23", "12", "231", "5432", "41", "24", "65", "56", "3"]:
                for k in keys:
                    key(app, k)
                await pilot.pause(0.3)
                tab = {"1": "sim", "2": "train", "3": "quant", "4": "code", "5": "explore",
                       "6": "runs"}[keys[-1]]
                assert app.query_one(TabbedContent).active == tab, keys
                assert app.focused is not None
                assert app.query_one(f"#{tab}-pane") in app.focused.ancestors_with_self, keys

    asyncio.run(body())


def test_quitting_while_work_runs_is_quiet(tmp_path):
    """q while a training and a dataset generation run: their threads end after the app's
    panes are gone; their last messages must not raise (the pilot re-raises anything)."""
    from tests.tuikit import tiny_project

    proj = tiny_project(tmp_path / "proj", n=40000, epochs=[2000, 0, 1])

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("2", "t")
            await wait_for(pilot, lambda: len(app.session.history) >= 2, 120, "two epochs")
            key(app, "g")  # a second worker, replaced data under a running training
            key(app, "q")
            await asyncio.sleep(0.5)
        return app

    app = asyncio.run(body())
    assert app.return_code in (0, None)
