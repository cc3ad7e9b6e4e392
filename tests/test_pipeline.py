"""The headless commands on the user's path, good input and bad."""

import json

import numpy as np
import pytest

from cli.main import main
from qnn.intmodel import predict_int
from qnn.pipeline import load_result
from sim.dataset import generate, save_dataset

FAST = ["--epochs", "2,1,1", "--hidden", "8"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("pipe")
    save_dataset(generate("magnet6", n=3000, seed=1), d / "train.npz")
    save_dataset(generate("magnet6", n=500, seed=2), d / "test.npz")
    assert main(["train", "--data", str(d / "train.npz"), "--out", str(d / "run"), "--quiet",
                 *FAST]) == 0
    return d


def test_run_folder_is_complete_and_reloads(trained):
    run = trained / "run"
    names = {p.name for p in run.iterdir()}
    assert names == {"config.json", "params.npz", "float_params.npz", "int_model.json",
                     "metrics.json", "history.json"}
    result = load_result(run)
    assert result.int_model.to_json() == json.loads((run / "int_model.json").read_text())
    assert len(result.history) == 4 and result.spec.sizes == (6, 8, 6)


def test_eval_and_predict(trained, capsys):
    capsys.readouterr()
    assert main(["eval", str(trained / "run"), "--data", str(trained / "test.npz"),
                 "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["n"] == 500 and r["mse_int"] > 0 and set(r["rmse_per_output"]) >= {"x", "yaw"}
    check_figures_in_output_units(r, trained / "run", trained / "test.npz")
    out = trained / "pred.npz"
    assert main(["predict", str(trained / "run"), "--data", str(trained / "test.npz"),
                 "--out", str(out)]) == 0
    with np.load(out) as p:
        assert p["y_int"].dtype == np.int16 and p["y_int"].shape == (500, 6)
        from qnn.run import load_int_model
        from sim.dataset import load_dataset

        expected = predict_int(load_int_model(trained / "run"),
                               load_dataset(trained / "test.npz").x)
        np.testing.assert_array_equal(p["y_int"], expected)


def test_eval_split_val_gives_the_numbers_training_reported(trained, capsys):
    """`qnn eval --split val` on the training file scores the rows the run validated on:
    the very figures of its metrics.json (what the workbench shows), not the whole file's."""
    run, data = trained / "run", trained / "train.npz"
    metrics = json.loads((run / "metrics.json").read_text())
    capsys.readouterr()
    assert main(["eval", str(run), "--data", str(data), "--split", "val", "--json"]) == 0
    val = json.loads(capsys.readouterr().out)
    assert val["split"] == "validation" and val["n"] == 300
    for k in ("mse_int", "mse_float", "mse_int_normalized", "rmse_per_output"):
        assert val[k] == metrics[k], k
    assert main(["eval", str(run), "--data", str(data), "--split", "train", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 2700
    assert main(["eval", str(run), "--data", str(data)]) == 0
    whole = capsys.readouterr().out
    assert whole.startswith("3000 samples") and f"{val['mse_int']:.5g}" not in whole


def test_eval_split_refuses_another_file(trained, capsys):
    capsys.readouterr()
    assert main(["eval", str(trained / "run"), "--data", str(trained / "test.npz"),
                 "--split", "val"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "train.npz" in err and "--split all" in err


def check_figures_in_output_units(r, run, data):
    """Every figure of `qnn eval --json`, recomputed from the models' predictions."""
    from qnn.evaluate import float_predict
    from qnn.pipeline import load_run
    from sim.dataset import load_dataset

    model, float_params, spec = load_run(run)
    ds = load_dataset(data)
    y = ds.y.astype(np.float64)
    preds = {"int": model.to_physical(predict_int(model, ds.x)),
             "float": float_predict(model, float_params, spec, ds.x)}
    for kind, pred in preds.items():
        err = np.abs(pred - y)
        mse = (err**2).mean(axis=0)
        suffix = "" if kind == "int" else "_float"
        assert r[f"mse_{kind}"] == pytest.approx(mse.mean())  # units, not standardised
        assert r[f"rmse_{kind}"] == pytest.approx(np.sqrt(mse.mean()))
        assert r[f"max_abs_{kind}"] == pytest.approx(err.max())
        assert r[f"mse_{kind}_normalized"] == pytest.approx(
            (mse / np.asarray(model.meta["y_std"]) ** 2).mean())
        for i, (name, unit) in enumerate(zip(model.output_names, model.output_units,
                                             strict=True)):
            assert r[f"rmse_per_output{suffix}"][name] == {"rmse": pytest.approx(
                np.sqrt(mse[i])), "unit": unit}
            assert r[f"mse_per_output{suffix}"][name]["mse"] == pytest.approx(mse[i])
            assert r[f"max_abs_per_output{suffix}"][name]["max_abs"] == pytest.approx(
                err[:, i].max())
            p99 = r[f"p99_abs_per_output{suffix}"][name]["p99_abs"]
            assert p99 == pytest.approx(np.percentile(err[:, i], 99)) and p99 <= err[:, i].max()
    assert r["output_units"] == ["mm", "mm", "mm", "deg", "deg", "deg"]
    assert r["int_over_float"] == pytest.approx(r["mse_int"] / r["mse_float"])


def _bad_files(d):
    ds = generate("magnet6", n=50, seed=3)
    np.savez(d / "float_x.npz", x=ds.x.astype(np.float32) + 0.5, y=ds.y)
    y = ds.y.copy()
    y[3, 2] = np.nan
    np.savez(d / "nan_y.npz", x=ds.x, y=y)
    np.savez(d / "empty.npz", x=ds.x[:0], y=ds.y[:0])
    np.savez(d / "shape.npz", x=ds.x[:, :4], y=ds.y[:10])
    (d / "garbage.npz").write_bytes(b"not a zip file")
    save_dataset(ds, d / "ok.npz")


@pytest.mark.parametrize("args, message", [
    (["--data", "missing.npz"], "no such file"),
    (["--data", "float_x.npz"], "x has non-integral values"),
    (["--data", "nan_y.npz"], "NaN"),
    (["--data", "empty.npz"], "empty"),
    (["--data", "shape.npz"], "x has 50 rows but y has 10"),
    (["--data", "garbage.npz"], "not a readable .npz file"),
    (["--data", "ok.npz", "--wbits", "9"], "weight bits 9 outside 2..8"),
    (["--data", "ok.npz", "--abits", "1"], "activation bits 1"),
    (["--data", "ok.npz", "--epochs", "1,1"], "three numbers"),
])
def test_bad_input_one_line_nonzero_and_no_run_folder(tmp_path, capsys, args, message):
    _bad_files(tmp_path)
    args = [a if not a.endswith(".npz") else str(tmp_path / a) for a in args]
    out = tmp_path / "run"
    code = main(["train", *FAST, *args, "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("qnn train: error:")
    assert message in err
    assert not out.exists()


def test_a_run_folder_interrupted_while_written_leaves_nothing(trained, tmp_path, monkeypatch,
                                                               capsys):
    """The failure comes after the folder was started (the last file fails to write): no
    half-written run folder and no temporary remain, and an existing run is kept whole."""
    from common.errors import QnnError
    from qnn.intmodel import IntModel

    def fail(self, path):
        raise QnnError("disk full (simulated); free some space and train again.")

    monkeypatch.setattr(IntModel, "save", fail)
    for out in (tmp_path / "new_run", trained / "run"):
        before = sorted(p.name for p in out.parent.iterdir())
        kept = (out / "metrics.json").read_text() if out.exists() else None
        code = main(["train", "--data", str(trained / "train.npz"), *FAST, "--out", str(out),
                     "--quiet"])
        assert code == 2 and "disk full" in capsys.readouterr().err
        assert sorted(p.name for p in out.parent.iterdir()) == before  # no temp, no new folder
        if kept is not None:
            assert (out / "metrics.json").read_text() == kept


def test_a_failed_retrain_keeps_the_previous_run(trained, capsys):
    before = (trained / "run" / "int_model.json").read_text()
    code = main(["train", "--data", str(trained / "train.npz"), "--out", str(trained / "run"),
                 "--wbits", "12", "--quiet"])
    assert code == 2
    assert (trained / "run" / "int_model.json").read_text() == before
