"""Editable settings as a keyboard table: move to a row, Enter to type a new value,
+/- to nudge numbers. Each Field parses text into the Project (raising on nonsense); the
table validates the whole project before keeping a change."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label

from common.errors import QnnError
from qnn.project import Project


@dataclass
class Field:
    label: str
    get: Callable[[Project], Any]
    set: Callable[[Project, str], None]  # parse text, store it; raise ValueError/QnnError
    step: Callable[[Project, int], None] | None = None  # +1 / -1 nudge
    fmt: str = "{}"

    def text(self, p: Project) -> str:
        return self._fmt(self.get(p))

    def _fmt(self, v: Any) -> str:
        if isinstance(v, list | tuple):
            sep = "; " if v and isinstance(v[0], list | tuple) else ", "
            return sep.join(self._fmt(x) for x in v)
        return self.fmt.format(v)


def floats(text: str) -> list[float]:
    for c in ",;[]":
        text = text.replace(c, " ")
    return [float(t) for t in text.split()]


def ints(text: str) -> list[int]:
    return [int(t) for t in text.replace(",", " ").split()]


class EditScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "dismiss(None)", "cancel")]
    DEFAULT_CSS = """
    EditScreen { align: center middle; }
    EditScreen > Vertical { width: 60; height: auto; border: round $accent; padding: 0 1;
                            background: $surface; }
    """

    def __init__(self, label: str, value: str) -> None:
        super().__init__()
        self.label, self.value = label, value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.label}  (Enter to keep, Esc to cancel)")
            yield Input(self.value, id="edit-value")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)


class FieldTable(DataTable):
    """The settings of one pane. Posts `FieldTable.Changed` after a valid change."""

    BINDINGS = [
        Binding("plus,equals_sign", "nudge(1)", "+", show=False),
        Binding("minus", "nudge(-1)", "-", show=False),
    ]

    class Changed(Message):
        def __init__(self, label: str) -> None:
            super().__init__()
            self.label = label

    def __init__(self, fields: list[Field], project: Callable[[], Project], **kw: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self.fields = fields
        self.project = project

    def on_mount(self) -> None:
        self.add_columns("setting", "value")
        self.refill()

    def refill(self) -> None:
        row = self.cursor_row
        self.clear()
        p = self.project()
        for f in self.fields:
            self.add_row(f.label, f.text(p))
        if self.row_count:
            self.move_cursor(row=min(row, self.row_count - 1))

    def _apply(self, f: Field, change: Callable[[Project], None]) -> None:
        p = self.project()
        trial = copy.deepcopy(p)
        try:
            change(trial)
            trial.validate()
        except (QnnError, ValueError, TypeError, IndexError) as e:
            self.app.notify(f"{f.label}: {e}", severity="error", title="not changed")
            return
        for name in vars(p):
            setattr(p, name, getattr(trial, name))
        self.refill()
        self.post_message(self.Changed(f.label))

    @on(DataTable.RowSelected)
    def edit(self, event: DataTable.RowSelected) -> None:
        event.stop()
        f = self.fields[event.cursor_row]
        p = self.project()

        def done(text: str | None) -> None:
            if text is not None:
                self._apply(f, lambda q: f.set(q, text))

        self.app.push_screen(EditScreen(f.label, f.text(p)), done)

    def action_nudge(self, delta: int) -> None:
        if not self.row_count:
            return
        f = self.fields[self.cursor_row]
        if f.step is None:
            self.app.notify(f"{f.label}: press Enter to type a value.", timeout=2)
            return
        self._apply(f, lambda q: f.step(q, delta))
