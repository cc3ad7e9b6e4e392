"""What the workbench is busy with (Textual-free): the work whose threads run now, and the
status line that says so.

Busy is what runs: a worker's thread registers itself for exactly as long as its work runs,
whatever happens in it. Textual's own worker states are not used for it: a worker cancelled
before its task started never reports CANCELLED (the stuck "BUSY" of issue 12), and a
cancelled thread worker keeps running after Textual calls it cancelled."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

WARM_UP = "warm-up"  # the background JAX import: it runs, but nobody waits for it


class Running:
    """The work whose threads run now, each with its worker (anything with `is_cancelled`:
    true once a newer work of its kind replaced it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # worker threads register, the UI thread reads
        self._work: dict[int, tuple[str, Any]] = {}  # id(worker) -> (name, worker)

    @contextlib.contextmanager
    def working(self, name: str, worker: Any) -> Iterator[None]:
        """`worker` runs `name` while the block runs, however the block ends."""
        with self._lock:
            self._work[id(worker)] = (name, worker)
        try:
            yield
        finally:
            with self._lock:
                self._work.pop(id(worker), None)

    def now(self) -> list[tuple[str, bool]]:
        """(name, replaced) of each work running now, oldest first; `replaced`: a newer one
        of its kind was started and this one is only finishing."""
        with self._lock:
            items = list(self._work.values())
        return [(name, bool(worker.is_cancelled)) for name, worker in items]


def busy_names(running: list[tuple[str, bool]]) -> dict[int, str]:
    """The work the workbench is busy with (all but the warm-up), k -> name."""
    return {k: name for k, (name, _) in enumerate(running) if name != WARM_UP}


def status_line(running: list[tuple[str, bool]], paused: bool = False, note: str = "") -> str:
    """The status line: ready or BUSY with what runs (each name once; replaced work only
    counted), then PAUSED or the latest note.

    >>> status_line([])
    'ready'
    >>> status_line([("training", True), ("training", False), ("building", False)])
    '[reverse] BUSY [/] training; building (1 replaced, finishing)'
    """
    text = "ready"
    if running:
        names = list(dict.fromkeys(name for name, replaced in running if not replaced))
        replaced = sum(replaced for _, replaced in running)
        text = "[reverse] BUSY [/] " + "; ".join(names or ["finishing"])
        if replaced:
            text += f" ({replaced} replaced, finishing)"
    if paused:
        text += "  | PAUSED (p resumes, x stops)"
    elif note:
        text += f"  | {note}"
    return text
