"""Editable settings as a keyboard table: move to a row, Enter to type a new value,
+/- to nudge numbers. Each Field parses text into the Project (raising on nonsense); the
table validates the whole project before keeping a change."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Label, OptionList
from textual.widgets.option_list import Option

from common.errors import QnnError
from qnn.project import Project


@dataclass
class Field:
    label: str
    get: Callable[[Project], Any]
    set: Callable[[Project, str], None]  # parse text, store it; raise ValueError/QnnError
    step: Callable[[Project, int], None] | None = None  # +1 / -1 nudge
    fmt: str = "{}"
    choices: Callable[[], list[tuple[str, str]]] | None = None  # (value, description): a list

    def text(self, p: Project) -> str:
        return self._fmt(self.get(p))

    def _fmt(self, v: Any) -> str:
        if isinstance(v, list | tuple):
            sep = "; " if v and isinstance(v[0], list | tuple) else ", "
            return sep.join(self._fmt(x) for x in v)
        return self.fmt.format(v)


def plain(*values: Any) -> list[Text]:
    """DataTable cells shown as they are: a unit like "[mm]" is not Rich markup."""
    return [v if isinstance(v, Text) else Text(str(v)) for v in values]


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
    EditScreen > Vertical { width: 76; height: auto; border: round $accent; padding: 0 1;
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


class ChoiceScreen(ModalScreen[str | None]):
    """Pick one value from a list (Enter picks, Esc cancels)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "cancel")]
    DEFAULT_CSS = """
    ChoiceScreen { align: center middle; }
    ChoiceScreen > Vertical { width: 76; height: auto; max-height: 90%;
                              border: round $accent; padding: 0 1; background: $surface; }
    ChoiceScreen OptionList { height: auto; max-height: 16; }
    """

    def __init__(self, label: str, choices: list[tuple[str, str]], current: str) -> None:
        super().__init__()
        self.label, self.choices, self.current = label, choices, current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.label}  (Enter picks, Esc cancels)")
            yield OptionList(*(Option(f"{value}: {text}", id=value)
                               for value, text in self.choices))

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ids = [value for value, _ in self.choices]
        if self.current in ids:
            ol.highlighted = ids.index(self.current)
        ol.focus()

    @on(OptionList.OptionSelected)
    def picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


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

    def __init__(self, fields: list[Field] | Callable[[Project], list[Field]],
                 project: Callable[[], Project], **kw: Any) -> None:
        """`fields`: a list, or a function of the project (the simulator's settings depend
        on its forward model)."""
        super().__init__(cursor_type="row", zebra_stripes=False, **kw)
        self.fields_of = fields if callable(fields) else (lambda _p, f=fields: f)
        self.project = project
        self.fields = self.fields_of(project())

    def on_mount(self) -> None:
        self.add_columns("setting", "value")
        self.refill()

    def describe(self) -> str:
        """The selected setting with its whole value (the table cuts long lists)."""
        if not self.row_count or not 0 <= self.cursor_row < len(self.fields):
            return ""
        f = self.fields[self.cursor_row]
        return f"{f.label}: {f.text(self.project())}"

    def refill(self) -> None:
        row = self.cursor_row
        self.clear()
        p = self.project()
        self.fields = self.fields_of(p)
        for f in self.fields:
            self.add_row(*plain(f.label, f.text(p)))
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

        if f.choices is not None:
            self.app.push_screen(ChoiceScreen(f.label, f.choices(), f.text(p)), done)
        else:
            self.app.push_screen(EditScreen(f.label, f.text(p)), done)

    def action_nudge(self, delta: int) -> None:
        if not self.row_count:
            return
        f = self.fields[self.cursor_row]
        if f.step is None:
            self.app.notify(f"{f.label}: press Enter to type a value.", timeout=2)
            return
        self._apply(f, lambda q: f.step(q, delta))
