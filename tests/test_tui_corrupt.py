"""Every file the workbench reads from a project folder, damaged every way (issue 13):
missing, empty, truncated, valid JSON of the wrong shape, .npz arrays of the wrong dtype or
shape. Opening the project and visiting every pane, then fine-tuning (which reads the rest of
the run folder) and building: a notification naming the file, nothing overwritten by the
reading, never a traceback (the pilot raises on any exception in the app)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import numpy as np
import pytest

from tests.tuikit import SIZE, App, copy_project, make_trained, wait_for

JSON_FILES = ["project.json", "runs.json", "run/int_model.json", "run/metrics.json",
              "run/history.json", "run/config.json", "build/summary.json"]
NPZ_FILES = ["dataset.npz", "run/params.npz", "run/float_params.npz"]
JSON_SHAPES = ['[]', '{}', '{"a": 1}', '"text"']
# what a workbench may quietly accept: an optional file missing, or a shape that is valid
QUIET = {("runs.json", "missing"), ("runs.json", "[]"), ("run/history.json", "missing"),
         ("run/metrics.json", "{}"),  # no figures: what an imported model has
         ("run/history.json", "[]"), ("build/summary.json", "missing")}
# read only by a fine-tune (or a build); the others are read on opening
READ_LATER = {"run/config.json", "run/params.npz", "run/float_params.npz", "dataset.npz"}


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def corrupt(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "missing":
        path.unlink()
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how in ("dtype", "shape"):
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        for k, a in arrays.items():
            if a.dtype.kind in "iuf":
                arrays[k] = a.astype("U12") if how == "dtype" else a.reshape(1, *a.shape, 1)
        path.write_bytes(_npz_bytes(arrays))
    else:  # valid JSON of the wrong shape
        path.write_text(how)


CASES = ([(f, h) for f in JSON_FILES for h in ["missing", "empty", "truncated", *JSON_SHAPES]]
         + [(f, h) for f in NPZ_FILES for h in ["missing", "empty", "truncated", "dtype",
                                                  "shape"]])
CASES = [c for c in CASES if c != ("project.json", "{}")]  # {}: every setting at its default


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return make_trained(tmp_path_factory.mktemp("trained") / "proj")


def _files(proj: Path) -> dict[str, bytes]:
    return {str(p.relative_to(proj)): p.read_bytes() for p in proj.rglob("*") if p.is_file()}


def _mentions(app: App, name: str) -> bool:
    return any(name in m for m in app.said("warning", "error"))


def _open_and_browse(proj: Path, name: str, how: str, then_work: bool) -> dict[str, bytes]:
    """Open the project, visit every pane; with `then_work`, fine-tune and build too.
    Returns the files as they were after the reading (before any work wrote)."""
    basename = Path(name).name

    async def body():
        app = App(proj, warm_up=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()  # every pane has read what it shows (on mounting)
            await pilot.press("2", "e")  # the error histogram reads the dataset
            await wait_for(pilot, lambda: not app.running(), 60, "opening")
            after_reading = _files(proj)
            if not then_work and name not in READ_LATER and (name, how) not in QUIET:
                assert _mentions(app, basename), app.said()
            if then_work:
                await pilot.press("3", "f")  # reads the whole run folder and the dataset
                await pilot.pause(0.1)
                await wait_for(pilot, lambda: not app.running(), 120, "the fine-tune")
                await pilot.press("4", "b")
                await pilot.pause(0.1)
                await wait_for(pilot, lambda: not app.running(), 60, "the build")
                if (name, how) not in QUIET:
                    assert _mentions(app, basename), app.said()
            assert not any("internal error" in m for m in app.said()), app.said()
            return after_reading

    return asyncio.run(body())


@pytest.mark.parametrize("name,how", CASES, ids=[f"{f}-{h}" for f, h in CASES])
def test_damaged_file_on_opening(trained, tmp_path, name, how):
    proj = copy_project(trained, tmp_path / "proj")
    corrupt(proj / name, how)
    before = _files(proj)
    after_reading = _open_and_browse(proj, name, how, then_work=False)
    changed = {k for k in before if after_reading.get(k) != before[k]}
    # reading never rewrites a file; project.json is rewritten whole (the damaged one is
    # kept beside it as project.json.bad-<time>)
    assert changed <= {"project.json"}, changed
    if name == "project.json" and how != "missing":
        kept = list(proj.glob("project.json.bad-*"))
        assert len(kept) == 1 and kept[0].read_bytes() == before["project.json"]
    if name == "runs.json" and (name, how) not in QUIET:
        kept = list(proj.glob("runs.json.bad-*"))
        assert len(kept) == 1 and kept[0].read_bytes() == before["runs.json"]


# the work reads the run folder and the dataset: each damaged the three ways that differ
WORK_CASES = [c for c in CASES if (c[0].startswith("run/") or c[0] == "dataset.npz")
              and c[1] in ("missing", "truncated", '{"a": 1}', "shape")]


@pytest.mark.slow
@pytest.mark.parametrize("name,how", WORK_CASES, ids=[f"{f}-{h}" for f, h in WORK_CASES])
def test_damaged_file_then_fine_tune_and_build(trained, tmp_path, name, how, monkeypatch):
    monkeypatch.setenv("QNN_ARM_GCC", str(tmp_path / "no-gcc"))  # the build fails early
    proj = copy_project(trained, tmp_path / "proj")
    corrupt(proj / name, how)
    _open_and_browse(proj, name, how, then_work=True)
