"""Every file a command reads from a run folder, corrupted every way: one clear line, a
non-zero exit, nothing overwritten, never a traceback."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from cli.main import main
from common.errors import QnnError
from qnn.pipeline import load_result
from sim.dataset import generate, save_dataset

FAST = ["--epochs", "2,1,1", "--hidden", "8"]


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    d = tmp_path_factory.mktemp("corrupt")
    save_dataset(generate("magnet6", n=600, seed=1), d / "data.npz")
    assert main(["train", "--data", str(d / "data.npz"), "--out", str(d / "run"), "--quiet",
                 *FAST]) == 0
    return d


def _json_shapes():
    return {"list": "[]\n", "empty object": "{}\n", "wrong keys": '{"a": 1}\n',
            "number": "3\n"}


def _corruptions(name: str, original: bytes) -> dict[str, bytes | None]:
    out: dict[str, bytes | None] = {"missing": None, "empty": b"",
                                    "truncated": original[: len(original) // 2]}
    if name.endswith(".json"):
        out.update({k: v.encode() for k, v in _json_shapes().items()})
    else:
        import io

        for what, arrays in {
            "strings": {"l0_w": np.array(["a", "b"])},
            "objects": {"l0_w": np.array([{"a": 1}], dtype=object)},
            "wrong shape": {"l0_w": np.zeros((2, 2, 2)), "l0_b": np.zeros(3)},
            "no arrays": {},
        }.items():
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            out[what] = buf.getvalue()
    return out


READERS = {  # file -> the commands that read it
    "int_model.json": ["eval", "predict", "export"],
    "config.json": ["eval"],
    "float_params.npz": ["eval"],
    "params.npz": [],
    "history.json": [],
}
# load_result (the workbench's path to fine-tune a reopened run) reads all of these; a
# missing or empty-list history is allowed (a run trained before histories were kept).
TOLERATED = {("history.json", "missing"), ("history.json", "list")}
CASES = [(name, kind, cmd) for name, cmds in READERS.items()
         for kind in _corruptions(name, b"0123456789") for cmd in [*cmds, "load_result"]
         if (name, kind) not in TOLERATED]


def _argv(cmd: str, run, good, d) -> list[str]:
    data = str(good / "data.npz")
    if cmd == "export":
        return ["export", str(run), "--out", str(d / "c")]
    if cmd == "predict":
        return ["predict", str(run), "--data", data, "--out", str(d / "p.npz")]
    return ["eval", str(run), "--data", data]


@pytest.mark.parametrize("name, kind, cmd", CASES, ids=["-".join(c) for c in CASES])
def test_a_corrupt_run_file_gives_one_line(good, tmp_path, capsys, name, kind, cmd):
    run = tmp_path / "run"
    shutil.copytree(good / "run", run)
    data = _corruptions(name, (run / name).read_bytes())[kind]
    if data is None:
        (run / name).unlink()
    else:
        (run / name).write_bytes(data)
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    if cmd == "load_result":  # the workbench's path to fine-tune a reopened run
        with pytest.raises(QnnError) as e:
            load_result(run)
        message = str(e.value)
    else:
        capsys.readouterr()
        assert main(_argv(cmd, run, good, tmp_path)) == 2
        message = capsys.readouterr().err.strip()
        assert message.startswith(f"qnn {cmd}: error:")
        assert not (tmp_path / "c").exists() and not (tmp_path / "p.npz").exists()
    assert "\n" not in message and "Traceback" not in message
    assert name in message or "run folder" in message  # it names what is wrong
    assert "allow_pickle" not in message  # numpy's advice is not the user's remedy
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # nothing overwritten


def test_the_good_run_passes_every_reader(good, tmp_path, capsys):
    for cmd in READERS["int_model.json"]:
        assert main(_argv(cmd, good / "run", good, tmp_path)) == 0
    assert load_result(good / "run").int_model.sizes == [6, 8, 6]
    assert json.loads((good / "run" / "metrics.json").read_text())["mse_int"] > 0
