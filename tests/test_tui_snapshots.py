"""SVG snapshots of each pane at 80x24 (pytest-textual-snapshot). Deterministic: a fresh
project, no training, no background warm-up, no paths or timings on screen.

Update after an intended change: pytest tests/test_tui_snapshots.py --snapshot-update"""

import pytest

from qnn.project import open_project
from qnn_tui.app import QnnApp

SIZE = (80, 24)


@pytest.fixture
def app(tmp_path):
    open_project(tmp_path / "proj")  # an existing project: nothing is generated on opening
    return QnnApp(tmp_path / "proj", warm_up=False)


def test_simulator_pane(app, snap_compare):
    assert snap_compare(app, terminal_size=SIZE, press=["tab", "down", "right"])


def test_training_pane_idle(app, snap_compare):
    assert snap_compare(app, terminal_size=SIZE, press=["2"])


def test_quantization_pane_without_model(app, snap_compare):
    assert snap_compare(app, terminal_size=SIZE, press=["3"])


def test_codegen_pane_without_model_light_theme(app, snap_compare):
    async def light(pilot):
        pilot.app.theme = "textual-light"

    assert snap_compare(app, terminal_size=SIZE, press=["4", "v"], run_before=light)


def test_help_screen(app, snap_compare):
    assert snap_compare(app, terminal_size=SIZE, press=["question_mark"])
