"""The workbench's busy state (qnn_tui.busy), without Textual: work is busy exactly while its
thread runs it, and the status line says what runs."""

from __future__ import annotations

import doctest
import threading
from dataclasses import dataclass

import pytest

import qnn_tui.busy
from qnn_tui.busy import Running, busy_names, status_line


@dataclass(eq=False)
class FakeWorker:
    is_cancelled: bool = False


def test_work_is_running_exactly_while_its_block_runs():
    r, w = Running(), FakeWorker()
    assert r.now() == []
    with r.working("training", w):
        assert r.now() == [("training", False)]
        w.is_cancelled = True  # replaced by a newer training: read when asked
        assert r.now() == [("training", True)]
    assert r.now() == []


def test_work_that_fails_is_not_left_running():
    r = Running()
    with pytest.raises(RuntimeError), r.working("building", FakeWorker()):
        raise RuntimeError("the build broke")
    assert r.now() == []


def test_several_workers_oldest_first_each_removing_only_itself():
    r, a, b, c = Running(), FakeWorker(), FakeWorker(True), FakeWorker()
    with r.working("training", a):
        with r.working("training", b), r.working("building", c):
            assert r.now() == [("training", False), ("training", True), ("building", False)]
        assert r.now() == [("training", False)]
    assert r.now() == []


def test_threads_register_and_leave_concurrently():
    """Worker threads register while the UI thread reads: every read is a consistent list,
    and when all have ended nothing is left."""
    # timeouts: a broken registry fails the test instead of hanging it
    r, start, stop = Running(), threading.Barrier(9, timeout=20), threading.Event()

    def work(k):
        with r.working(f"w{k}", FakeWorker()):
            start.wait()
            stop.wait(20)

    threads = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(8)]
    for t in threads:
        t.start()
    try:
        start.wait()
        assert sorted(name for name, _ in r.now()) == [f"w{k}" for k in range(8)]
    finally:
        stop.set()
    for t in threads:
        t.join(20)
    assert r.now() == []


def test_busy_names_leave_out_the_warm_up():
    running = [("warm-up", False), ("training", False), ("building", True)]
    assert busy_names(running) == {1: "training", 2: "building"}
    assert busy_names([("warm-up", False)]) == {}


@pytest.mark.parametrize("running, paused, note, expected", [
    ([], False, "", "ready"),
    ([], False, "trained in 3.1 s", "ready  | trained in 3.1 s"),
    ([("training", False)], False, "", "[reverse] BUSY [/] training"),
    ([("training", False), ("building", False), ("training", False)], False, "",
     "[reverse] BUSY [/] training; building"),  # each name once, in order
    ([("training", True)], False, "", "[reverse] BUSY [/] finishing (1 replaced, finishing)"),
    ([("re-quantizing", True), ("re-quantizing", True), ("re-quantizing", False)], False, "",
     "[reverse] BUSY [/] re-quantizing (2 replaced, finishing)"),
    ([("training", False)], True, "epoch 3",
     "[reverse] BUSY [/] training  | PAUSED (p resumes, x stops)"),  # PAUSED wins
    ([("training", False)], False, "epoch 3", "[reverse] BUSY [/] training  | epoch 3"),
])
def test_status_line(running, paused, note, expected):
    assert status_line(running, paused, note) == expected


def test_status_line_defaults_and_doctests():
    assert status_line([("building", False)]) == "[reverse] BUSY [/] building"
    result = doctest.testmod(qnn_tui.busy)
    assert result.attempted > 0 and result.failed == 0
