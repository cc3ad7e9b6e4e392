"""Atomic writes, proven by interrupting them: the old file or folder survives whole, and no
temporary is left behind."""

from __future__ import annotations

import os

import pytest

from common import fileio
from common.fileio import atomic_dir, atomic_write_bytes, atomic_write_json


class Interrupted(Exception):
    pass


def _raise(*_a, **_k):
    raise Interrupted


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_an_interrupted_file_write_keeps_the_old_file(tmp_path, monkeypatch, step):
    path = tmp_path / "model.json"
    path.write_text("old contents")
    seen_during_write = []

    def fsync_then_look(fd):
        seen_during_write.append(path.read_text())  # the target, while the new bytes are out
        _raise()

    monkeypatch.setattr(fileio.os, step, fsync_then_look if step == "fsync" else _raise)
    with pytest.raises(Interrupted):
        atomic_write_bytes(path, b"new contents that must not be seen half-written")
    assert path.read_text() == "old contents"
    assert seen_during_write in ([], ["old contents"])  # never written in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]


def test_a_write_replaces_by_rename(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    path.write_text("old")
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(fileio.os, "replace",
                        lambda a, b: (replaced.append((a, b)), real_replace(a, b))[1])
    atomic_write_json(path, {"a": 1})
    assert path.read_text() == '{\n "a": 1\n}\n'
    [(tmp, dst)] = replaced
    assert os.path.dirname(tmp) == str(tmp_path) and dst == path and tmp != str(path)


def test_an_interrupted_folder_keeps_the_old_folder(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "a.txt").write_text("old a")
    with pytest.raises(Interrupted), atomic_dir(run) as tmp:
        (tmp / "a.txt").write_text("new a")
        (tmp / "b.txt").write_text("new b")
        assert (run / "a.txt").read_text() == "old a"  # built elsewhere, not in place
        assert not (run / "b.txt").exists()
        _raise()
    assert sorted(p.name for p in run.iterdir()) == ["a.txt"]
    assert (run / "a.txt").read_text() == "old a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_finished_folder_replaces_the_old_one_whole(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "stale.txt").write_text("from the previous run")
    with atomic_dir(run) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in run.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_written_files_and_folders_get_ordinary_permissions(tmp_path):
    """Not mkstemp's private 0600 / 0700: a generated qnn_model.c is an ordinary file."""
    atomic_write_bytes(tmp_path / "f.c", b"x")
    with atomic_dir(tmp_path / "run") as tmp:
        (tmp / "a").write_text("a")
    assert (tmp_path / "f.c").stat().st_mode & 0o777 == 0o666 & ~fileio.UMASK
    assert (tmp_path / "run").stat().st_mode & 0o777 == 0o777 & ~fileio.UMASK


def test_the_umask_is_read_without_changing_it():
    old = os.umask(0o027)
    try:
        assert fileio._read_umask() == 0o027
        assert os.umask(0o027) == 0o027  # still set
    finally:
        os.umask(old)


def test_missing_parent_folders_are_made(tmp_path):
    path = tmp_path / "project" / "build" / "qnn_model.c"
    atomic_write_bytes(path, b"int x;\n")
    assert path.read_bytes() == b"int x;\n"


def test_the_temporary_is_hidden_beside_the_target(tmp_path, monkeypatch):
    """`.NAME.<random>.tmp` in the target's folder: the same file system (so the rename is
    atomic), out of `ls`, and, if a crash leaves one, plainly a leftover of NAME."""
    seen = []
    monkeypatch.setattr(fileio.os, "replace", lambda a, b: (seen.append(a), _raise())[1])
    with pytest.raises(Interrupted):
        atomic_write_bytes(tmp_path / "m.json", b"{}")
    [tmp] = seen
    name = os.path.basename(tmp)
    assert os.path.dirname(tmp) == str(tmp_path)
    assert name.startswith(".m.json.") and name.endswith(".tmp") and len(name) > 12


def test_a_failed_clean_up_does_not_hide_the_error(tmp_path, monkeypatch):
    """The temporary is already gone (or cannot be removed): the caller still gets the error
    that stopped the write, not the clean-up's."""
    def replace_fails(a, b):
        os.unlink(a)
        raise Interrupted

    monkeypatch.setattr(fileio.os, "replace", replace_fails)
    with pytest.raises(Interrupted):
        atomic_write_bytes(tmp_path / "m.json", b"{}")
    assert list(tmp_path.iterdir()) == []
