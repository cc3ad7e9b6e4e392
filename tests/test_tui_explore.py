"""Pilot tests of the Explore pane (pane 5) at 80x24: the sweep worker (start, watch, cancel,
BUSY), the front and the budget of a saved sweep, picking a point (its trained run folder
becomes the project's model, nothing retrained) and building it in the codegen pane; a
damaged sweep.json or point is one notification, never a traceback."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import pytest
from textual.widgets import DataTable, TabbedContent

from qnn.project import PROJECT_FILE
from tests.tuikit import TINY, App, copy_project, make_trained, text_of, wait_for

SIZE = (80, 24)
FIXTURE_SWEEP = Path(__file__).parent / "fixtures" / "sweep.json"
QUICK = {"w_bits": [8, 2], "a_bits": [8]}  # two configurations of 16,16: a quick sweep


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return make_trained(tmp_path_factory.mktemp("trained") / "proj")


def set_project(proj: Path, **changes) -> None:
    p = json.loads((proj / PROJECT_FILE).read_text())
    (proj / PROJECT_FILE).write_text(json.dumps({**p, **changes}))


def with_sweep(trained: Path, proj: Path) -> Path:
    """The trained project without its model (run/ moved), and a sweep whose first point is
    that trained run (w 7,4,8 a 8,8) and whose second point has no run folder on disk."""
    copy_project(trained, proj)
    (proj / "sweep" / "points").mkdir(parents=True)
    shutil.move(proj / "run", proj / "sweep" / "points" / "00-trained")
    shutil.rmtree(proj / "build")
    (proj / "runs.json").unlink()
    points = [
        {"label": "16,16 w7,4,8 a8,8", "hidden": [16, 16], "w_bits": [7, 4, 8],
         "a_bits": [8, 8], "mse": 3.0, "flash_bytes": 990, "cycles": 3852, "stack_bytes": 68,
         "pareto": True, "run": "points/00-trained"},
        {"label": "16,16 w2,2,2 a8,8", "hidden": [16, 16], "w_bits": [2, 2, 2],
         "a_bits": [8, 8], "mse": 9.0, "flash_bytes": 800, "cycles": 4000, "stack_bytes": 68,
         "pareto": True, "run": "points/01-gone"},
    ]
    (proj / "sweep" / "sweep.json").write_text(json.dumps({"seconds": 3.0, "points": points}))
    set_project(proj, w_bits=[8, 8, 8], a_bits=[8, 8])
    return proj


def front_labels(app) -> list[str]:
    t = app.query_one("#explore-front", DataTable)
    return [str(t.get_row_at(i)[1]) for i in range(t.row_count)]


def test_picking_a_point_adopts_its_trained_run_without_retraining(trained, tmp_path):
    proj = with_sweep(trained, tmp_path / "proj")
    model_bytes = (proj / "sweep" / "points" / "00-trained" / "int_model.json").read_bytes()

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("5")
            await pilot.pause()
            assert app.query_one(TabbedContent).active == "explore"
            assert app.session.int_model is None
            assert front_labels(app) == ["16,16 w7,4,8 a8,8", "16,16 w2,2,2 a8,8"]
            assert "last sweep: 2 points in 3 s" in text_of(app, "#explore-status")
            # a point whose run folder is gone: one notification, nothing changes
            await pilot.press("tab", "down", "enter")
            await pilot.pause()
            assert any("not adopted" in m and "01-gone" in m for m in app.said("error"))
            assert app.session.int_model is None and not (proj / "run").exists()
            # the trained point: its run folder is the project's model now
            await pilot.press("up", "enter")
            await wait_for(pilot, lambda: app.session.int_model is not None, 10, "adoption")
            assert (proj / "run" / "int_model.json").read_bytes() == model_bytes
            p = app.session.project
            assert (p.hidden, p.w_bits, p.a_bits) == ([16, 16], [7, 4, 8], [8, 8])
            assert not app.session.stale and not app.running()  # nothing retrains
            assert any("model adopted" in m and "no retraining" in m for m in app.said())
            assert app.runs[-1]["kind"] == "sweep" and app.runs[-1]["w_bits"] == [7, 4, 8]
            await pilot.press("3")
            await pilot.pause()
            assert "[4]" in str(app.query_one("#quant-table", DataTable).get_row_at(1)[2])
        saved = json.loads((proj / PROJECT_FILE).read_text())
        assert saved["w_bits"] == [7, 4, 8]

    asyncio.run(body())


def test_the_budget_marks_the_best_point_and_bad_input_changes_nothing(tmp_path):
    proj = tmp_path / "proj"
    (proj / "sweep").mkdir(parents=True)
    shutil.copy(FIXTURE_SWEEP, proj / "sweep" / "sweep.json")
    (proj / PROJECT_FILE).write_text(json.dumps({**TINY, "sweep": {"budget": "1000 B"}}))

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("5")
            await pilot.pause()
            pane = app.query_one("#explore-pane")
            t = app.query_one("#explore-front", DataTable)
            best = [str(c) for c in t.get_row_at(t.cursor_row)]
            assert best[0] == "*" and best[1] == "16,16 w4,4,4 a8,8" and best[3] == "956"
            assert "best within 1000 B: 16,16 w4,4,4 a8,8" in text_of(app, "#explore-status")
            assert pane.axis == "flash" and "┆ budget 1000 B" in text_of(app, "#explore-plot")
            # a budget in µs at the clock: the plot turns to µs, another point is best
            budget_row = 4
            await pilot.press(*["down"] * budget_row, "enter")
            await wait_for(pilot, lambda: app.screen.query("Input"), 5, "the budget prompt")
            app.screen.query_one("Input").value = "100 us"
            await pilot.press("enter")
            await pilot.pause()
            assert app.session.project.sweep["budget"] == "100 µs"
            assert pane.axis == "us"
            status = text_of(app, "#explore-status")
            assert "best within 100 µs: 16,16 w8,8,8 a8,8" in status
            await pilot.press("plus")  # +10 %: 110 µs
            await pilot.pause()
            assert app.session.project.sweep["budget"] == "110 µs"
            # nonsense: one error, the budget stays
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.screen.query("Input"), 5, "the budget prompt")
            app.screen.query_one("Input").value = "10"
            await pilot.press("enter")
            await pilot.pause()
            assert app.session.project.sweep["budget"] == "110 µs"
            assert any("budget" in m and "unit" in m for m in app.said("error"))
            await pilot.press("a")  # the other axis: the µs budget is off this one
            await pilot.pause()
            assert pane.axis == "flash" and "press a" in text_of(app, "#explore-plot")
            # k: the project's one clock (pane 4's too); the µs follow, the tab stays
            await pilot.press("k")
            await wait_for(pilot, lambda: app.screen.query("Input"), 5, "the clock prompt")
            app.screen.query_one("Input").value = "24"
            await pilot.press("enter")
            await pilot.pause()
            assert app.query_one(TabbedContent).active == "explore"
            row = [str(c) for c in t.get_row_at(front_labels(app).index("16,16 w8,8,8 a8,8"))]
            assert row[4] == f"{4624 / 24:.1f}" and app.session.project.clock_mhz == 24
            assert "clock 24 MHz" in text_of(app, "#code-status")
        assert json.loads((proj / PROJECT_FILE).read_text())["sweep"]["budget"] == "110 µs"

    asyncio.run(body())


@pytest.mark.parametrize("content", ["{not json", '{"points": [{"label": 3}]}', "[]"])
def test_a_damaged_sweep_file_is_one_notification(tmp_path, content):
    proj = tmp_path / "proj"
    (proj / "sweep").mkdir(parents=True)
    (proj / "sweep" / "sweep.json").write_text(content)
    (proj / PROJECT_FILE).write_text(json.dumps(TINY))

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("5")
            await pilot.pause()
            said = app.said("warning")
            assert any("sweep.json" in m and "starts empty" in m for m in said), said
            assert "no sweep yet" in text_of(app, "#explore-status")
            await pilot.press("u")
            await pilot.pause()
            assert any("no point to use" in m for m in app.said())
        assert (proj / "sweep" / "sweep.json").read_text() == content  # left as it was

    asyncio.run(body())


def test_a_sweep_cancelled_before_any_point_keeps_the_last_one(tmp_path, monkeypatch):
    """s then x at once: the worker stops during training (no toolchain needed), BUSY comes
    and goes, and the saved sweep is kept whole. Each training epoch is slowed by a sleep:
    with a warm compile cache the tiny sweep measured a point before `x` landed."""
    import qnn.grid

    real_train_grid = qnn.grid.train_grid

    def slow_train_grid(*args, **kw):
        for event in real_train_grid(*args, **kw):
            if not isinstance(event, list):  # an epoch's progress, not the results
                time.sleep(0.05)
            yield event

    monkeypatch.setattr(qnn.grid, "train_grid", slow_train_grid)
    proj = tmp_path / "proj"
    (proj / "sweep").mkdir(parents=True)
    shutil.copy(FIXTURE_SWEEP, proj / "sweep" / "sweep.json")
    (proj / PROJECT_FILE).write_text(json.dumps({**TINY, "sweep": QUICK}))

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("5", "s")
            await wait_for(pilot, lambda: "sweeping" in app.busy.values(), 30, "the worker")
            assert "BUSY" in text_of(app, "#status")
            assert "sweeping" in text_of(app, "#explore-status")
            await pilot.press("x")
            await wait_for(pilot, lambda: not app.running(), 120, "the worker to end")
            await pilot.pause()
            assert "BUSY" not in text_of(app, "#status")
            await wait_for(pilot, lambda: any("cancelled before any point" in m
                                              for m in app.said()), 30, "the cancel notice")
            assert len(front_labels(app)) == 3  # the last sweep's front, shown again
            await pilot.press("x")  # nothing runs now
            await pilot.pause()
            assert any("no sweep is running" in m for m in app.said())
        assert (proj / "sweep" / "sweep.json").read_bytes() == FIXTURE_SWEEP.read_bytes()

    asyncio.run(body())


@pytest.mark.slow
def test_sweep_watch_pick_and_build(tmp_path, arm_toolchain):
    """The issue's path at 80x24: start a sweep, watch its points arrive, pick the best
    within a budget, build it in the codegen pane: the build measures what the sweep did."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / PROJECT_FILE).write_text(json.dumps({**TINY, "sweep": {**QUICK,
                                                                   "budget": "100000 B"}}))

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("5", "s")  # the worker makes the dataset first
            seen: list[int] = []
            await wait_for(pilot, lambda: seen.append(len(app.session.sweep_live or []))
                           or app.session.sweep is not None, 300, "the sweep")
            assert 1 in seen or 2 in seen  # points arrived while it ran (watched)
            assert not app.running() and "BUSY" not in text_of(app, "#status")
            doc = json.loads((proj / "sweep" / "sweep.json").read_text())
            assert [p["label"] for p in doc["points"]] == ["16,16 w8,8,8 a8,8",
                                                           "16,16 w2,2,2 a8,8"]
            assert all((proj / "sweep" / p["run"] / "int_model.json").is_file()
                       for p in doc["points"])
            best = min(doc["points"], key=lambda p: p["mse"])  # the budget fits both
            await pilot.press("tab", "enter")  # the cursor is on the best point
            await wait_for(pilot, lambda: app.session.int_model is not None, 10, "adoption")
            assert app.session.project.w_bits == best["w_bits"]
            # pane 2's per-output errors are on the rows the sweep validated on (a test
            # holdout first), the same as the RMSE table from its metrics.json
            metrics = app.session.metrics
            await pilot.press("2")
            errs = app.query_one("TrainPane").errors()
            assert len(errs) == len(metrics["rmse_per_output"]) > 0
            for e in errs:
                assert f"{e.rmse:.3g}" == f"{metrics['rmse_per_output'][e.name]['rmse']:.3g}"
            await pilot.press("4", "b")
            await wait_for(pilot, lambda: app.session.build is not None and not app.running(),
                           300, "the build")
            v = app.session.build["verify"]
            assert v["ok"] and v["inference_flash"] == best["flash_bytes"]
            assert abs(v["cycles"]["max"] - best["cycles"]) <= 0.05 * best["cycles"]

    asyncio.run(body())
