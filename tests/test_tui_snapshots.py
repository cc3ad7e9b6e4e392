"""SVG snapshots of each pane at 80x24 (pytest-textual-snapshot). Deterministic: fresh or
hand-made projects (the fixture integer model, metrics, a build summary and run history
written by hand), no training, no background warm-up, no paths, dates or timings on screen.

Update after an intended change: pytest tests/test_tui_snapshots.py --snapshot-update"""

import json
import shutil
from pathlib import Path

import pytest

from qnn.project import open_project, save_project
from qnn_tui.app import QnnApp
from tests.tuikit import FAKE_SUMMARY

SIZE = (80, 24)
FIXTURE_MODEL = Path(__file__).parent / "fixtures" / "magnet6_8bit_int_model.json"
UNITS = {"x": "mm", "y": "mm", "z": "mm", "roll": "deg", "pitch": "deg", "yaw": "deg"}
METRICS = {
    "n": 2000, "mse_int": 0.0412, "mse_float": 0.0464, "int_over_float": 0.888,
    "best_epoch": 290, "epochs": 320, "val_rows": 2000, "kind": "train", "split": "validation",
    "rmse_per_output": {k: {"rmse": r, "unit": u, "p99": 3 * r, "max": 5 * r}
                        for (k, u), r in zip(UNITS.items(), (0.68, 0.78, 0.69, 2.2, 3.1, 2.6),
                                             strict=True)},
    "rmse_per_output_float": {k: {"rmse": r, "unit": u} for (k, u), r in
                              zip(UNITS.items(), (0.69, 0.86, 0.70, 2.2, 3.5, 2.9),
                                  strict=True)},
}


@pytest.fixture
def app(tmp_path):
    open_project(tmp_path / "proj")  # an existing project: nothing is generated on opening
    return QnnApp(tmp_path / "proj", warm_up=False)


@pytest.fixture
def modelled(tmp_path):
    """A project with the fixture model, its figures, a build and a run history."""
    proj = tmp_path / "proj"
    open_project(proj)
    (proj / "run").mkdir()
    shutil.copy(FIXTURE_MODEL, proj / "run" / "int_model.json")
    (proj / "run" / "metrics.json").write_text(json.dumps(METRICS))
    history = [{"phase": "int", "epoch": e, "epochs": 4, "train_loss": 0.1 / e,
                "val_float": 0.05 / e, "val_fq": 0.051 / e, "val_int": 0.052 / e,
                "samples_per_s": 1e5, "elapsed": e} for e in range(1, 5)]
    (proj / "run" / "history.json").write_text(json.dumps(history))
    (proj / "build").mkdir()
    (proj / "build" / "summary.json").write_text(json.dumps(FAKE_SUMMARY))
    from qnn.intmodel import IntModel
    from qnn_tui.runs import record_build, record_training

    model = IntModel.load(proj / "run" / "int_model.json")
    runs = record_training(proj / "runs.json", [], proj / "run" / "int_model.json", model,
                           METRICS, "train")
    runs = record_build(proj / "runs.json", runs, proj / "run" / "int_model.json",
                        FAKE_SUMMARY["build"]["variant"], FAKE_SUMMARY)
    for r in runs:
        r["time"] = "2026-01-02 03:04:05"
    (proj / "runs.json").write_text(json.dumps(runs))
    return QnnApp(proj, warm_up=False)


def test_simulator_pane(app, snap_compare):
    assert snap_compare(app, terminal_size=SIZE, press=["tab", "down", "right"])


def test_training_pane_idle(app, snap_compare):
    assert snap_compare(app, terminal_size=SIZE, press=["2"])


def test_training_pane_with_figures(modelled, snap_compare):
    assert snap_compare(modelled, terminal_size=SIZE, press=["2"])


def test_quantization_pane_without_model(app, snap_compare):
    assert snap_compare(app, terminal_size=SIZE, press=["3"])


def test_quantization_pane_with_model(modelled, snap_compare):
    assert snap_compare(modelled, terminal_size=SIZE, press=["3"])


def test_codegen_pane_without_model_light_theme(app, snap_compare):
    async def light(pilot):
        pilot.app.theme = "textual-light"

    assert snap_compare(app, terminal_size=SIZE, press=["4", "v"], run_before=light)


def test_codegen_report(modelled, snap_compare):
    assert snap_compare(modelled, terminal_size=SIZE, press=["4", "r"])


def test_runs_pane(modelled, snap_compare):
    assert snap_compare(modelled, terminal_size=SIZE, press=["6"])


@pytest.fixture
def swept(tmp_path):
    """A project with a saved sweep (tests/fixtures/sweep.json, measured on magnet6) and a
    flash budget."""
    proj = tmp_path / "proj"
    opened = open_project(proj)
    opened.project.sweep = {"budget": "1000 B"}
    save_project(proj, opened.project)
    (proj / "sweep").mkdir()
    shutil.copy(Path(__file__).parent / "fixtures" / "sweep.json", proj / "sweep")
    return QnnApp(proj, warm_up=False)


def test_explore_pane(swept, snap_compare):
    assert snap_compare(swept, terminal_size=SIZE, press=["5"])


def test_explore_pane_against_microseconds(swept, snap_compare):
    assert snap_compare(swept, terminal_size=SIZE, press=["5", "tab", "down", "a"])


def test_help_screen(app, snap_compare):
    async def open_help(pilot):
        """Over the runs pane, whose empty state is one static line: the simulator's plot,
        drawn on a timer at whatever height the layout had then, showed through at the
        modal's edges differently under load. Markdown renders its blocks after mounting:
        wait for its tables too."""
        from textual.widgets import Markdown

        await pilot.press("6")
        await pilot.pause(0.2)
        await pilot.press("question_mark")
        for _ in range(100):
            await pilot.pause(0.05)
            md = pilot.app.screen.query(Markdown)
            if md and len(md.first().query("MarkdownTable")) >= 3:
                break
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=SIZE, run_before=open_help)
