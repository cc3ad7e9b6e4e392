"""The workbench's session (qnn_tui.session), without Textual: what opening a project folder
picks up, and what it leaves alone (with one warning line) when a file is unusable. The
same files through the whole app are in test_tui_corrupt (slow); these are the fast checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import random_int_model

from qnn.project import PROJECT_FILE, Project, save_project
from qnn_tui.session import (
    Session,
    check_history,
    check_metrics,
    check_summary,
    read_json,
)

METRICS = {"mse_int": 0.1, "mse_float": 0.05, "rmse_per_output": {"y0": {"rmse": 0.3}},
           "rmse_per_output_float": {"y0": {"rmse": 0.2}}}
EPOCH = {"phase": "float", "epoch": 1, "epochs": 10, "val_float": 0.5, "val_fq": None,
         "val_int": None, "samples_per_s": 1000.0, "elapsed": 0.1}
SUMMARY = {"build": {"size": {"text": 100}, "integer_only": True, "problems": []},
           "verify": {"cycles": {"min": 1, "mean": 2.5, "max": 3}, "inferences": 10,
                      "mismatched_rows": 0, "cycles_per_mac": 1.5, "peak_stack": 100,
                      "inference_flash": 200}}


def _with(obj: dict, path: str, value) -> dict:
    """A deep copy of `obj` with obj[a][b] = value for path "a.b" (value ... deletes it)."""
    obj = json.loads(json.dumps(obj))
    *keys, last = path.split(".")
    d = obj
    for k in keys:
        d = d[k]
    if value is ...:
        del d[last]
    else:
        d[last] = value
    return obj


@pytest.mark.parametrize("m, why", [
    (METRICS, None),
    ({}, None),  # an imported model has no figures yet
    (_with(METRICS, "rmse_per_output_float", ...), None),  # older runs: float RMSEs optional
    ([], "a JSON list, not an object"),
    ("text", "a JSON str, not an object"),
    (_with(METRICS, "mse_int", ...), "no number 'mse_int'"),
    (_with(METRICS, "mse_float", "0.1"), "no number 'mse_float'"),
    (_with(METRICS, "mse_int", True), "no number 'mse_int'"),  # a bool is not a figure
    (_with(METRICS, "rmse_per_output", [0.3]), "'rmse_per_output' is not a table of RMSEs"),
    (_with(METRICS, "rmse_per_output.y0", 0.3), "'rmse_per_output' is not a table of RMSEs"),
    (_with(METRICS, "rmse_per_output.y0.rmse", None),
     "'rmse_per_output' is not a table of RMSEs"),
    (_with(METRICS, "rmse_per_output_float.y0", {}),
     "'rmse_per_output_float' is not a table of RMSEs"),
])
def test_check_metrics(m, why):
    assert check_metrics(m) == why


@pytest.mark.parametrize("h, why", [
    ([], None),
    ([EPOCH, {**EPOCH, "phase": "int", "val_fq": 0.4, "val_int": 0.45}], None),
    ({"a": 1}, "a JSON dict, not a list of epochs"),
    ([5], "an entry is not an epoch record"),
    ([_with(EPOCH, "elapsed", ...)], "an entry is not an epoch record"),
    ([{**EPOCH, "val_float": None}], "an epoch record holds a non-number"),  # only fq/int
    ([{**EPOCH, "epoch": "1"}], "an epoch record holds a non-number"),
    ([{**EPOCH, "samples_per_s": False}], "an epoch record holds a non-number"),
    ([EPOCH, {**EPOCH, "val_int": "x"}], "an epoch record holds a non-number"),
])
def test_check_history(h, why):
    assert check_history(h) == why


@pytest.mark.parametrize("s, why", [
    (SUMMARY, None),
    ([], "a JSON list, not an object"),
    ({}, "no 'build' object"),
    ({"build": SUMMARY["build"], "verify": []}, "no 'verify' object"),
    (_with(SUMMARY, "build.size", ...), "'build' lacks size"),
    (_with(_with(SUMMARY, "build.size", ...), "build.problems", ...),
     "'build' lacks size, problems"),
    (_with(SUMMARY, "verify.peak_stack", ...), "'verify' lacks peak_stack"),
    (_with(SUMMARY, "build.size", 100), "malformed size or cycles"),
    (_with(SUMMARY, "verify.cycles", [1, 2, 3]), "malformed size or cycles"),
    (_with(SUMMARY, "verify.cycles.max", ...), "malformed size or cycles"),
    (_with(SUMMARY, "verify.cycles.min", "1"), "malformed size or cycles"),
])
def test_check_summary(s, why):
    assert check_summary(s) == why


def test_read_json(tmp_path):
    p = tmp_path / "f.json"
    assert read_json(p, check_metrics) == (None, "missing")
    p.write_text("{")
    assert read_json(p, check_metrics) == (None, "unreadable (JSONDecodeError)")
    p.write_bytes(b'{"a": "\xff"}')
    assert read_json(p, check_metrics) == (None, "unreadable (UnicodeDecodeError)")
    p.write_text("[]")
    assert read_json(p, check_metrics) == (None, "a JSON list, not an object")
    p.write_text(json.dumps(METRICS))
    assert read_json(p, check_metrics) == (METRICS, None)
    d = tmp_path / "dir.json"
    d.mkdir()
    assert read_json(d, check_metrics) == (None, "unreadable (IsADirectoryError)")


# --- opening a project folder ---------------------------------------------------------------

def _project(tmp_path: Path, *, metrics=METRICS, history=(EPOCH,), summary=None,
             project: Project | None = None) -> Path:
    """A project folder with a trained model (6-16-16-6, 8 bits: the defaults)."""
    d = tmp_path / "proj"
    save_project(d, project or Project())
    run = d / "run"
    run.mkdir()
    random_int_model(seed=2).save(run / "int_model.json")
    for name, obj in (("metrics.json", metrics), ("history.json", history)):
        if obj is not None:
            (run / name).write_text(json.dumps(obj))
    if summary is not None:
        (d / "build").mkdir()
        (d / "build" / "summary.json").write_text(json.dumps(summary))
    return d


def test_a_new_folder_becomes_a_project(tmp_path):
    s = Session.open(tmp_path / "new")
    assert s.created and s.warnings == [] and s.warning is None
    assert (tmp_path / "new" / PROJECT_FILE).is_file()
    assert s.int_model is None and s.metrics is None and s.history == [] and s.build is None
    assert not s.stale and not s.bits_match()  # no model: nothing to match
    assert s.lang == "c" and s.variant == "loop"
    assert s.paths["run"] == tmp_path / "new" / "run"


def test_a_trained_project_is_picked_up(tmp_path):
    d = _project(tmp_path, summary={**SUMMARY, "build": {**SUMMARY["build"], "lang": "rust"}})
    s = Session.open(d)
    assert not s.created and s.warning is None
    assert s.int_model.sizes == [6, 16, 16, 6]
    assert s.metrics == METRICS and s.history == [EPOCH]
    assert s.build["verify"]["cycles"]["max"] == 3
    assert s.lang == "rust"  # reopens on the language last built
    assert s.bits_match() and not s.stale


def test_a_c_build_reopens_on_c(tmp_path):
    s = Session.open(_project(tmp_path, summary=SUMMARY))
    assert s.build == SUMMARY and s.lang == "c"


def test_changed_bits_make_the_model_stale(tmp_path):
    s = Session.open(_project(tmp_path, project=Project(w_bits=[8, 4, 8])))
    assert not s.bits_match() and s.stale
    s = Session.open(_project(tmp_path / "b", project=Project(a_bits=[8, 4])))
    assert not s.bits_match() and s.stale


def test_unusable_metrics_are_left_and_said(tmp_path):
    s = Session.open(_project(tmp_path, metrics=[]))
    assert s.int_model is not None and s.metrics is None
    assert s.warnings == [f"{s.paths['run'] / 'metrics.json'}: a JSON list, not an object; the "
                          "model is kept, its figures come back with the next training or "
                          "fine-tune."]


def test_unusable_history_is_left_and_said_a_missing_one_is_not(tmp_path):
    s = Session.open(_project(tmp_path, history={"a": 1}))
    assert s.history == [] and s.int_model is not None
    assert s.warnings == [f"{s.paths['run'] / 'history.json'}: a JSON dict, not a list of "
                          "epochs; no loss curves until the next training."]
    s = Session.open(_project(tmp_path / "b", history=None))
    assert s.history == [] and s.warnings == []


def test_an_unusable_summary_is_left_and_said(tmp_path):
    s = Session.open(_project(tmp_path, summary={}))
    assert s.build is None and s.lang == "c"
    assert s.warnings == [f"{s.paths['build'] / 'summary.json'}: no 'build' object; press b "
                          "(pane 4) to build again."]


def test_an_unusable_model_starts_without_one(tmp_path):
    d = _project(tmp_path)
    (d / "run" / "int_model.json").write_text("{}")
    s = Session.open(d)
    assert s.int_model is None and s.metrics is None and not s.stale
    [w] = s.warnings
    assert "malformed integer model" in w and w.endswith(" The workbench starts without a model.")


def test_a_run_folder_without_a_model_is_said_an_empty_one_is_not(tmp_path):
    d = _project(tmp_path)
    (d / "run" / "int_model.json").unlink()
    s = Session.open(d)
    assert s.int_model is None and s.metrics is None
    assert s.warnings == [f"{d / 'run'}: no int_model.json, so no model; train again (t, "
                          "pane 2)."]
    for f in (d / "run").iterdir():
        f.unlink()
    assert Session.open(d).warnings == []


def test_a_lost_project_file_keeps_the_trained_model(tmp_path):
    """project.json missing or unusable: the defaults, but with the model's own settings."""
    d = _project(tmp_path, project=Project(hidden=[16, 16], n=5000))
    (d / PROJECT_FILE).unlink()
    s = Session.open(d)
    assert s.created and s.int_model is not None and not s.stale
    [w] = s.warnings
    assert w.startswith(f"{d / PROJECT_FILE} was missing: made it; the model in run/ is kept")
    assert json.loads((d / PROJECT_FILE).read_text())["hidden"] == [16, 16]  # saved

    (d / PROJECT_FILE).write_text("not json")
    s = Session.open(d)
    assert not s.created and s.int_model is not None
    [w] = s.warnings
    assert w.startswith(f"{d / PROJECT_FILE} is unusable") and " But the model in run/ is " \
        "kept" in w
    assert s.warning == w
    assert json.loads((d / PROJECT_FILE).read_text())["format"] == "qnn-project"  # saved


def test_an_unusable_project_without_a_model_says_only_that(tmp_path):
    d = tmp_path / "proj"
    d.mkdir()
    (d / PROJECT_FILE).write_text("[]")
    s = Session.open(d)
    [bad] = d.glob(f"{PROJECT_FILE}.bad-*")
    assert bad.read_text() == "[]"  # kept, not overwritten
    assert s.warnings == [f"{d / PROJECT_FILE} is unusable (not a JSON object.); kept it as "
                          f"{bad} and started from the defaults."]


def test_save_writes_the_project(tmp_path):
    s = Session.open(tmp_path / "p")
    s.project.n = 1234
    s.save()
    assert json.loads((tmp_path / "p" / PROJECT_FILE).read_text())["n"] == 1234


def test_an_unusable_sweep_is_left_and_said_a_missing_one_is_not(tmp_path):
    d = _project(tmp_path)
    assert Session.open(d).sweep is None and Session.open(d).warnings == []
    (d / "sweep").mkdir()
    (d / "sweep" / "sweep.json").write_text("{")
    s = Session.open(d)
    assert s.sweep is None and s.int_model is not None
    assert s.warnings == [f"{d / 'sweep' / 'sweep.json'}: unreadable (JSONDecodeError); the "
                          "Explore pane starts empty (s in pane 5 sweeps again)."]
