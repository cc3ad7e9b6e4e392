"""`qnn import` and `qnn eval --tflite` as a user runs them: the imported run goes through
export, build and bit-exact verification on the emulated M0, opens in the workbench, and every
bad input is one line, a non-zero exit and no run folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from qnn.run import load_int_model

FIX = Path(__file__).parent / "fixtures" / "tflite"


def _csv(values) -> str:
    return ",".join(repr(float(v)) for v in values)


def std_args() -> list[str]:
    info = json.loads((FIX / "fixtures.json").read_text())
    return [f"--{k.replace('_', '-')}={_csv(info[k])}"
            for k in ("x_mean", "x_std", "y_mean", "y_std")]


@pytest.fixture(scope="module")
def test_data(tmp_path_factory) -> Path:
    """The fixtures' test rows as a dataset file (what `qnn eval/verify --data` read)."""
    from sim.dataset import Dataset, save_dataset

    with np.load(FIX / "reference.npz") as z:
        ds = Dataset(z["x"], z["y"], [f"hall{j}" for j in range(6)], ["counts"] * 6,
                     list("xyz") + ["a", "b", "c"], ["mm"] * 6, {})
    path = tmp_path_factory.mktemp("data") / "test.npz"
    save_dataset(ds, path)
    return path


@pytest.fixture(scope="module")
def imported_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("imp") / "run"
    assert main(["import", str(FIX / "qat_int8io.tflite"), "--out", str(run), *std_args()]) == 0
    return run


def test_import_writes_a_run_folder(imported_run, capsys):
    assert sorted(p.name for p in imported_run.iterdir()) == [
        "config.json", "int_model.json", "metrics.json", "model.tflite"]
    model = load_int_model(imported_run)
    assert model.sizes == [6, 16, 16, 6]
    assert model.meta["tflite"]["input"] == "int8"
    cfg = json.loads((imported_run / "config.json").read_text())
    assert cfg["import"]["ops"] == ["FULLY_CONNECTED"] * 3 and cfg["sizes"] == model.sizes


def test_import_human_output(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["import", str(FIX / "ptq_pc_relu6.tflite"), "--out", str(run),
                 *std_args()]) == 0
    out = capsys.readouterr().out
    assert "6-16-16-6 network (448 MACs)" in out
    assert "QUANTIZE FULLY_CONNECTED FULLY_CONNECTED FULLY_CONNECTED DEQUANTIZE" in out
    assert "per-channel, per-channel, per-channel" in out and "next: qnn eval" in out


def test_eval_compares_with_the_tflite(imported_run, test_data, capsys):
    assert main(["eval", str(imported_run), "--data", str(test_data), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    t = r["tflite"]
    assert t["file"].endswith("model.tflite") and t["rounding"] == "single"
    assert t["n"] == 2000 and abs(t["mse_ratio"] - 1) < 0.01
    assert t["share_within_1_lsb"] >= 0.99 and t["max_diff_lsb"] >= 1
    assert set(t["per_output"]) == {"out0", "out1", "out2", "out3", "out4", "out5"}
    assert r["mse_int"] > 0 and "mse_float" not in r
    assert main(["eval", str(imported_run), "--data", str(test_data), "--tflite",
                 str(FIX / "qat_f32io.tflite"), "--tflite-rounding", "double"]) == 0
    out = capsys.readouterr().out
    assert "double rounding" in out and "qat_f32io.tflite" in out and "within 1 LSB" in out


def test_eval_tflite_on_a_run_that_was_not_imported(tmp_path, test_data, capsys):
    """--tflite works on any run of the same shape (no recorded standardization: identity)."""
    from helpers import random_int_model

    run = tmp_path / "run"
    run.mkdir()
    random_int_model((6, 16, 16, 6), 8, 8, 12, seed=1).save(run / "int_model.json")
    assert main(["eval", str(run), "--data", str(test_data), "--tflite",
                 str(FIX / "qat_int8io.tflite"), "--json"]) == 0
    t = json.loads(capsys.readouterr().out)["tflite"]
    assert t["n"] == 2000 and 0 <= t["share_within_1_lsb"] <= 1 and t["mse_tflite"] > 0
    assert main(["eval", str(run), "--data", str(test_data)]) == 2  # not trained, not imported
    assert "config.json" in capsys.readouterr().err


def test_a_different_tflite_is_refused(imported_run, test_data, capsys, tmp_path):
    code = main(["eval", str(imported_run), "--data", str(test_data), "--tflite",
                 str(FIX / "tanh.tflite")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "op 3 TANH" in err


@pytest.mark.parametrize("case", ["text", "truncated", "tanh", "int16", "x-mean length",
                                  "y-std length", "not numbers", "negative std", "m-bits",
                                  "missing", "too fine"])
def test_bad_input_is_one_line_and_leaves_nothing(case, tmp_path, capsys):
    model = FIX / "qat_int8io.tflite"
    extra: list[str] = []
    if case == "text":
        model = tmp_path / "notes.tflite"
        model.write_text("not a model\n")
        want = "not a TensorFlow Lite model"
    elif case == "truncated":
        model = tmp_path / "cut.tflite"
        model.write_bytes((FIX / "qat_int8io.tflite").read_bytes()[:1500])
        want = "truncated or corrupt"
    elif case == "tanh":
        model, want = FIX / "tanh.tflite", "op 3 TANH: is not supported"
    elif case == "int16":
        model, want = FIX / "int16act.tflite", "int16 (16x8 quantization)"
    elif case == "x-mean length":
        extra, want = ["--x-mean", "1,2,3"], "--x-mean gives 3 values; the model has 6 inputs"
    elif case == "y-std length":
        extra, want = ["--y-std", "1,2"], "--y-std gives 2 values; the model has 6 outputs"
    elif case == "not numbers":
        extra, want = ["--x-std", "1,two"], "--x-std '1,two': expected comma-separated numbers"
    elif case == "negative std":
        extra, want = ["--y-std=-1,1,1,1,1,1"], "--y-std must be finite and positive"
    elif case == "m-bits":
        extra, want = ["--m-bits", "20"], "--m-bits 20 outside 4..15"
    elif case == "missing":
        model, want = tmp_path / "nope.tflite", "no such file"
    else:
        extra, want = ["--out-lsb", _csv([1e-9] * 6)], "more than int16 holds"
    out = tmp_path / "out" / "run"
    code = main(["import", str(model), "--out", str(out), *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and want in err and "Traceback" not in err
    assert err.startswith("qnn import: error: ")
    assert not out.exists()
    assert not (out.parent.exists() and any(out.parent.iterdir()))  # no temporary left


def test_an_imported_run_cannot_be_fine_tuned(imported_run):
    from common.errors import QnnError
    from qnn.pipeline import load_result

    with pytest.raises(QnnError, match="imported from a .tflite"):
        load_result(imported_run)


@pytest.mark.toolchain
@pytest.mark.slow
@pytest.mark.parametrize("name", ["qat_int8io", "sep_relu"])
def test_imported_model_on_the_m0(name, arm_toolchain, test_data, tmp_path, capsys):
    """export + build + verify: integer-only, no helper linked, bit-exact on the emulated M0
    (sep_relu: hidden clamps below zero and a 2-bit identity layer)."""
    run = tmp_path / "run"
    assert main(["import", str(FIX / f"{name}.tflite"), "--out", str(run), *std_args()]) == 0
    assert main(["export", str(run), "--out", str(tmp_path / "c")]) == 0
    assert (tmp_path / "c" / "qnn_model.c").is_file()
    capsys.readouterr()
    assert main(["build", str(run), "--json"]) == 0
    b = json.loads(capsys.readouterr().out)
    assert b["ok"] and b["integer_only"] and not b["problems"]
    assert main(["verify", str(run), "--data", str(test_data), "--random", "300", "--json"]) == 0
    v = json.loads(capsys.readouterr().out)
    assert v["ok"] and v["mismatches"] == 0 and v["inferences"] == 2300


def test_the_workbench_opens_an_imported_run(tmp_path):
    """Pane 3 shows the imported layers (M, shift, room) as it does a trained model's."""
    import asyncio

    from textual.widgets import DataTable

    from qnn.project import PROJECT_FILE
    from qnn_tui.app import QnnApp
    from qnn_tui.quant_pane import QuantPane
    from qnn_tui.session import Session

    project = tmp_path / "proj"
    project.mkdir()
    (project / PROJECT_FILE).write_text(json.dumps({"n": 2000}))
    assert main(["import", str(FIX / "qat_int8io.tflite"), "--out", str(project / "run"),
                 *std_args()]) == 0
    s = Session.open(project)
    assert s.int_model is not None and not s.stale and s.warning is None

    async def run() -> list[list[str]]:
        app = QnnApp(project, warm_up=False)
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.press("3")
            await pilot.pause()
            t = app.query_one(QuantPane).query_one(DataTable)
            return [[str(c) for c in t.get_row_at(k)] for k in range(t.row_count)]

    rows = asyncio.run(run())
    model = s.int_model
    assert [r[0] for r in rows] == ["hidden 1", "hidden 2", "output"]
    for r, layer in zip(rows, model.layers, strict=True):
        lo, hi = int(layer.multiplier.min()), int(layer.multiplier.max())
        assert r[7] == (str(lo) if lo == hi else f"{lo}..{hi}")
        assert "..." not in r and "OVERFLOW" not in r[4]
