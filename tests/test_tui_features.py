"""Pilot tests of what a firmware engineer reaches for next (issue 12): export and header,
µs at a set clock and the 32-cycle multiplier, worst-case errors, run history, recorded
data, the forward model from a list; and every figure named, the same everywhere."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
from textual import events
from textual.widgets import DataTable

from cli.main import main
from codegen.cgen import HEADER, SOURCE, VARIANTS, generate_c
from qnn.intmodel import IntModel
from qnn.project import paths as project_paths
from qnn_tui.figures import val_mse
from tests.tuikit import SIZE, App, copy_project, make_trained, text_of, wait_for


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return make_trained(tmp_path_factory.mktemp("trained") / "proj")


def test_export_to_a_folder_and_the_header_view(trained, tmp_path):
    proj = copy_project(trained, tmp_path / "proj")
    model = IntModel.load(proj / "run" / "int_model.json")

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("6")
            app.post_message(events.Key("4", "4"))  # typed in one go: the export still opens
            app.post_message(events.Key("e", "e"))
            await wait_for(pilot, lambda: app.screen.query("Input"), 10, "the folder prompt")
            assert type(app.screen).__name__ == "EditScreen"
            assert app.screen.query_one("Input").value == str(proj / "c")  # the default
            app.screen.query_one("Input").value = str(tmp_path / "fw" / "src")
            await pilot.press("enter")
            await pilot.pause()
            await pilot.press("h")
            await pilot.pause()
            header = text_of(app, "#code-header")
            assert "qnn_predict(in, out);" in header and "#define QNN_N_IN 6" in header
            assert "in this order: hall0, hall1" in header
            assert "x = out[0] * 0.0005 mm" in header and "roll = out[3] * 0.001 deg" in header
            assert "3,795 cycles, 79.1 µs at 48 MHz" in header  # from the last build
        return app

    app = asyncio.run(body())
    files = generate_c(model, VARIANTS[0])
    for name in (HEADER, SOURCE):
        assert (tmp_path / "fw" / "src" / name).read_text() == files[name]
    assert json.loads((proj / "project.json").read_text())["export_dir"] == \
        str(tmp_path / "fw" / "src")
    assert any("exported" in m for m in app.said())


def test_microseconds_at_the_clock_and_the_32_cycle_multiplier(trained, tmp_path):
    proj = copy_project(trained, tmp_path / "proj")

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("4", "r")
            report = text_of(app, "#code-report")
            assert "at 48 MHz (k sets the clock): 79.1 µs per inference" in report
            assert "32-cycle multiplier (M0 option): 20,158 cycles = 420.0 µs" in report
            assert "stack reserve 2,048 B" in report
            await pilot.press("k")
            await pilot.pause()
            app.screen.query_one("Input").value = "16"
            await pilot.press("enter")
            await pilot.pause()
            report = text_of(app, "#code-report")
            assert "at 16 MHz" in report and "237.2 µs per inference" in report
            assert "20,158 cycles = 1,259.9 µs" in report
            await pilot.press("k")
            await pilot.pause()
            app.screen.query_one("Input").value = "0"
            await pilot.press("enter")
            await pilot.pause()
            assert app.session.project.clock_mhz == 16
            assert any("clock" in m for m in app.said("error"))

    asyncio.run(body())
    assert json.loads((proj / "project.json").read_text())["clock_mhz"] == 16


def test_worst_case_errors_per_output_and_the_same_figures_everywhere(trained, tmp_path,
                                                                      capsys):
    """The RMSE table's RMSE (from metrics.json) equals the RMSE of the errors the
    histogram shows (recomputed on the validation rows): the same quantity, the same value;
    pane 2 and pane 3 name the same val MSE, and `qnn eval --split val` gives both."""
    proj = copy_project(trained, tmp_path / "proj")
    metrics = json.loads((proj / "run" / "metrics.json").read_text())

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("2", "e")
            await pilot.pause(0.3)
            table = app.query_one("#train-rmse", DataTable)
            rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
            assert rows[0][0] == "x [mm]" and rows[3][0] == "roll [deg]"
            errs = app.pane_errors = app.query_one("TrainPane").errors()
            for row, e in zip(rows, errs, strict=True):
                assert row[1] == f"{metrics['rmse_per_output'][e.name]['rmse']:.3g}"
                assert row[1] == f"{e.rmse:.3g}"
                assert row[2] == f"{e.p99_abs:.3g}" and row[3] == f"{e.max_abs:.3g}"
                assert e.max_abs >= e.p99_abs >= 0
            plot = text_of(app, "#train-plot")
            assert "x error [mm] of the integer model, 60 validation rows" in plot
            assert f"max |e| {errs[0].max_abs:.3g}" in plot and "worst at x" in plot
            named = f"val MSE int {val_mse(metrics):.4f} (best epoch"
            assert named in text_of(app, "#train-status")
            await pilot.press("3")
            assert named in text_of(app, "#quant-status")
            return rows

    rows = asyncio.run(body())
    capsys.readouterr()  # `qnn eval --split val` on the project's files: the same figures
    paths = project_paths(proj)
    assert main(["eval", str(paths["run"]), "--data", str(paths["dataset"]), "--split", "val",
                 "--json"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert cli["n"] == 60 and f"{val_mse(cli):.4f}" == f"{val_mse(metrics):.4f}"
    for row, name in zip(rows, cli["rmse_per_output"], strict=True):
        assert row[1] == f"{cli['rmse_per_output'][name]['rmse']:.3g}", name


def test_run_history_marks_the_current_model_and_persists(trained, tmp_path):
    proj = copy_project(trained, tmp_path / "proj")

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("6")
            t = app.query_one("#runs-table", DataTable)
            row = [str(c) for c in t.get_row_at(0)]
            assert row[0] == "▶" and row[3] == "7,4,8" and row[7] == "990"
            assert row[6] == "loop C"
            assert row[9] == "79.1 µs"
            await pilot.press("3", "minus")  # re-quantized: a new current model
            await wait_for(pilot, lambda: not app.session.stale and not app.running(), 120,
                           "the re-quantization")
            await pilot.press("6")
            rows = [[str(c) for c in t.get_row_at(i)] for i in range(t.row_count)]
            assert [r[0] for r in rows] == ["", "▶"] and rows[1][2] == "requantize"
            assert rows[1][3] == "6,4,8"

    asyncio.run(body())
    runs = json.loads((proj / "runs.json").read_text())
    assert [r["w_bits"] for r in runs] == [[7, 4, 8], [6, 4, 8]]


def test_a_rust_build_is_recorded_beside_the_c_one(trained, tmp_path):
    """Building the same variant in Rust adds its figures to the model's entry instead of
    overwriting the C ones, and the table names each build's language."""
    from qnn_tui.runs import record_build

    proj = copy_project(trained, tmp_path / "proj")
    runs = json.loads((proj / "runs.json").read_text())
    c = runs[-1]["builds"]["loop"]
    rust = {"build": {"variant": "loop", "lang": "rust"},
            "verify": {"inference_flash": 1348, "cycles": {"mean": 7624.0}, "ok": True}}
    record_build(proj / "runs.json", runs, proj / "run" / "int_model.json", "loop", rust,
                 "rust")
    builds = json.loads((proj / "runs.json").read_text())[-1]["builds"]
    assert builds["loop"] == c and builds["loop rust"]["flash"] == 1348

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("5")
            t = app.query_one("#runs-table", DataTable)
            rows = [[str(cell) for cell in t.get_row_at(i)] for i in range(t.row_count)]
            assert [(r[6], r[7]) for r in rows] == [("loop C", f"{c['flash']:,}"),
                                                   ("loop Rust", "1,348")]

    asyncio.run(body())


def test_import_recorded_data(trained, tmp_path):
    from sim.dataset import load_dataset, save_dataset

    proj = copy_project(trained, tmp_path / "proj")
    ds = load_dataset(proj / "dataset.npz")
    ds.x, ds.y = ds.x[:300], ds.y[:300]
    save_dataset(ds, tmp_path / "rig.csv")
    (tmp_path / "bad.csv").write_text("x:a,y:b[mm]\n1,2\n3,4\n")
    before = (proj / "dataset.npz").read_bytes()

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            for source in ("bad.csv", "rig.csv"):
                await pilot.press("1", "i")
                await pilot.pause()
                app.screen.query_one("Input").value = str(tmp_path / source)
                await pilot.press("enter")
                await wait_for(pilot, lambda: not app.running(), 30, "the import")
                await pilot.pause()
                if source == "bad.csv":
                    assert (proj / "dataset.npz").read_bytes() == before
                    assert any("1 readings -> 1 outputs" in m for m in app.said("error"))
            assert "300 samples imported from" in text_of(app, "#sim-data")
            assert app.session.project.data_source == str(tmp_path / "rig.csv")

    asyncio.run(body())
    got = load_dataset(proj / "dataset.npz")
    assert got.n == 300 and got.meta["imported"] and np.array_equal(got.x, ds.x)


def test_forward_model_from_a_list(tmp_path):
    async def body():
        app = App(tmp_path / "proj", warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("1", "enter")  # the first setting: the forward model
            await pilot.pause()
            assert type(app.screen).__name__ == "ChoiceScreen"
            options = app.screen.query_one("OptionList")
            assert options.option_count == 2
            await pilot.press("down", "enter")
            await pilot.pause()
            assert app.session.project.model == "arm2"
            labels = [str(app.query_one("#sim-fields", DataTable).get_row_at(i)[0])
                      for i in range(3, 6)]
            assert not any("magnet" in label for label in labels)
            assert "arm2" in text_of(app, "#sim-setting")

    asyncio.run(body())
