"""Dataset files: round trips, the CSV convention and every validation error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from common.errors import QnnError
from sim.dataset import Dataset, generate, load_dataset, save_dataset, split


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return generate("magnet6", n=300, seed=3)


def test_npz_round_trip(ds, tmp_path):
    path = save_dataset(ds, tmp_path / "d.npz")
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == {"x", "y", "input_names", "input_units", "output_names",
                                "output_units", "meta"}
        assert json.loads(str(z["meta"]))["model"] == "magnet6"
    back = load_dataset(path)
    assert np.array_equal(back.x, ds.x) and np.array_equal(back.y, ds.y)
    assert back.x.dtype == np.uint16 and back.y.dtype == np.float32
    assert back.output_names == ["x", "y", "z", "roll", "pitch", "yaw"]
    assert back.output_units == ["mm"] * 3 + ["deg"] * 3
    assert (back.n, back.n_in, back.n_out) == (300, 6, 6)
    assert back.meta == ds.meta


def test_saving_over_a_dataset_is_atomic(ds, tmp_path, monkeypatch):
    """An interrupted save (the final rename fails) keeps the old file whole, no temporary."""
    import common.fileio

    path = save_dataset(generate("magnet6", n=10, seed=9), tmp_path / "d.npz")
    old = path.read_bytes()

    def interrupted(*_a):
        raise OSError("interrupted")

    monkeypatch.setattr(common.fileio.os, "replace", interrupted)
    with pytest.raises(OSError):
        save_dataset(ds, path)
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["d.npz"]


def test_csv_round_trip(ds, tmp_path):
    path = save_dataset(ds, tmp_path / "d.csv")
    assert path.read_text().splitlines()[0].startswith("x:hall0[counts],")
    back = load_dataset(path)
    assert np.array_equal(back.x, ds.x) and np.array_equal(back.y, ds.y)
    assert back.input_names == ds.input_names and back.output_units == ds.output_units


def test_minimal_npz_gets_default_names(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, x=np.arange(12, dtype=np.int64).reshape(4, 3), y=np.ones((4, 1)))
    d = load_dataset(path)
    assert d.input_names == ["in0", "in1", "in2"] and d.output_names == ["out0"]
    assert d.input_units == ["counts"] * 3 and d.x.dtype == np.uint16


def test_csv_convention_with_comments_and_mixed_order(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("# logged on the bench\nx:a,y:angle[deg],x:b[counts]\n1,0.5,2\n3,1.5,4\n")
    d = load_dataset(path)
    assert d.x.tolist() == [[1, 2], [3, 4]] and d.y.tolist() == [[0.5], [1.5]]
    assert d.input_names == ["a", "b"] and d.output_names == ["angle"]
    assert d.output_units == ["deg"]


def test_integral_float_x_is_accepted(tmp_path):
    path = tmp_path / "f.npz"
    np.savez(path, x=np.array([[0.0, 65535.0], [12.0, 7.0]]), y=np.zeros((2, 1)))
    assert load_dataset(path).x.tolist() == [[0, 65535], [12, 7]]


def _npz(tmp_path, **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


X, Y = np.zeros((5, 2), np.uint16), np.zeros((5, 1), np.float32)


@pytest.mark.parametrize("arrays, match", [
    ({"y": Y}, "'x' is missing"),
    ({"x": X}, "'y' is missing"),
    ({"x": X.astype(float) + 0.5, "y": Y}, "non-integral"),
    ({"x": X.astype(np.int32) - 1, "y": Y}, "outside"),
    ({"x": X.astype(np.int64) + 70000, "y": Y}, "outside"),
    ({"x": np.full((5, 2), np.nan), "y": Y}, "NaN"),
    ({"x": np.array([["a", "b"]] * 5), "y": Y}, "dtype"),
    ({"x": X[:, 0], "y": Y}, "2-D"),
    ({"x": X, "y": Y[:4]}, "rows"),
    ({"x": X, "y": np.full((5, 1), np.inf)}, "NaN or inf"),
    ({"x": X[:0], "y": Y[:0]}, "empty"),
    ({"x": X[:1], "y": Y[:1]}, "at least 2"),
    ({"x": X, "y": Y, "output_names": np.array(["a", "b"])}, "output_names"),
])
def test_bad_npz(tmp_path, arrays, match):
    with pytest.raises(QnnError, match=match) as e:
        load_dataset(_npz(tmp_path, **arrays))
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("text, match", [
    ("", "empty CSV"),
    ("a,b\n1,2\n", "not `x:NAME`"),
    ("x:a,x:b\n1,2\n3,4\n", "no y:NAME"),
    ("x:a,y:b\n1,2\n3\n", "not 2 numbers"),
    ("x:a,y:b\n1,oops\n3,4\n", "not 2 numbers"),
    ("x:a,y:b\n", "empty"),
    ("x:a,y:b\n1.5,2\n3,4\n", "non-integral"),
    ("x:a,y:b\n-1,2\n3,4\n", "outside"),
    ("x:a,y:b\n1,nan\n3,4\n", "NaN"),
])
def test_bad_csv(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(QnnError, match=match) as e:
        load_dataset(path)
    assert "\n" not in str(e.value)


def test_missing_file_and_wrong_kind(tmp_path):
    with pytest.raises(QnnError, match="no such file"):
        load_dataset(tmp_path / "nope.npz")
    (tmp_path / "d.txt").write_text("1,2\n")
    with pytest.raises(QnnError, match="not a .npz or .csv"):
        load_dataset(tmp_path / "d.txt")
    (tmp_path / "fake.npz").write_text("not a zip")
    with pytest.raises(QnnError, match="not a readable .npz"):
        load_dataset(tmp_path / "fake.npz")


def test_pickled_npz_is_refused(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object), y=Y)
    with pytest.raises(QnnError, match="not a readable .npz"):
        load_dataset(path)


def test_save_refuses_other_extensions(ds, tmp_path):
    with pytest.raises(QnnError, match="extension"):
        save_dataset(ds, tmp_path / "d.pkl")
    assert list(tmp_path.iterdir()) == []


def test_split(ds):
    train, val = split(ds, val_fraction=0.1, seed=0)
    assert (train.n, val.n) == (270, 30)
    rows = np.concatenate([train.y, val.y])
    assert np.array_equal(np.sort(rows, axis=0), np.sort(ds.y, axis=0))
    again = split(ds, val_fraction=0.1, seed=0)[1]
    assert np.array_equal(again.x, val.x)
    assert val.meta["split"] == "val" and train.input_names == ds.input_names
    with pytest.raises(QnnError, match="between 0 and 1"):
        split(ds, val_fraction=1.0)
