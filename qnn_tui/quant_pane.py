"""Pane 3, Quantization: one row per layer (bits, dyadic M and shift, worst-case
accumulator and its headroom to int32, flash bytes; `d` shows each channel's constants and
the learned steps); +/- change the selected bit
width (w or a, toggled with `w`), the figures follow; `f` fine-tunes at the new widths."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from qnn.project import step_bits
from qnn_tui.fields import plain
from qnn_tui.figures import best_mse, flash_text, layer_detail, layer_rows

COLUMNS = ("layer", "shape", "w", "a", "int32 room", "worst acc", "flash B", "M", "shift")


class QuantPane(Vertical):
    BINDINGS = [
        Binding("plus,equals_sign", "bits(1)", "bits +"),
        Binding("minus", "bits(-1)", "bits -"),
        Binding("w", "toggle_kind", "w/a bits"),
        Binding("f", "app.finetune", "fine-tune"),
        Binding("d", "toggle_detail", "detail"),
    ]

    def __init__(self, session: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self.session = session
        self.kind = "w"
        self.note = ""

    def compose(self) -> ComposeResult:
        yield Static(id="quant-status", classes="pane-status")
        yield DataTable(id="quant-table", cursor_type="row")
        with VerticalScroll(id="quant-detail-box"):
            yield Static(id="quant-detail")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.refresh_all()

    @property
    def layer(self) -> int:
        return self.query_one(DataTable).cursor_row

    def refresh_all(self) -> None:
        s, t = self.session, self.query_one(DataTable)
        row = t.cursor_row
        t.clear()
        p = s.project
        model = s.int_model
        rows = layer_rows(model) if model is not None else []
        for k in range(p.n_layers):
            last = k == p.n_layers - 1
            wb = p.w_bits[k]
            ab = "16" if last else str(p.a_bits[k])
            wcell = f"[{wb}]" if self.kind == "w" else str(wb)
            acell = f"[{ab}]" if self.kind == "a" and not last else ab
            if k < len(rows) and not s.stale:
                r = rows[k]
                head = f"{r.headroom_bits:.1f} b" + ("" if r.ok else " OVERFLOW")
                t.add_row(*plain(r.name, r.shape, wcell, acell, head, f"{r.worst_acc:,}",
                                 r.flash_bytes, r.multiplier, r.shift))
            else:
                name = "output" if last else f"hidden {k + 1}"
                t.add_row(*plain(name, "", wcell, acell, *("..." for _ in range(5))))
        if t.row_count:
            t.move_cursor(row=min(max(row, 0), t.row_count - 1))
        self.refresh_status()
        self.refresh_detail()

    def refresh_status(self) -> None:
        s = self.session
        which = "weight" if self.kind == "w" else "activation"
        if s.int_model is None:
            text = "no trained model yet: train in pane 2 (key 2, then t)"
        elif s.stale and self.app.training_runs():
            text = "the bit widths changed: re-quantized when the training ends"
        elif s.stale:
            text = "re-quantizing at the new widths..."
        else:
            text = best_mse(s.metrics) + "\n" + flash_text(s.int_model, s.variant, s.build)
        note = f"\n{self.note}" if self.note else ""
        self.query_one("#quant-status", Static).update(
            f"{text}{note}\n+/- {which} bits (w toggles)  f fine-tune  d detail   "
            "(? explains int32 room)")

    def refresh_detail(self) -> None:
        s = self.session
        box = self.query_one("#quant-detail-box")
        if s.int_model is None or s.stale or box.has_class("hidden"):
            self.query_one("#quant-detail", Static).update("")
            return
        k = min(self.layer, len(s.int_model.layers) - 1)
        self.query_one("#quant-detail", Static).update(layer_detail(s.int_model, k))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.refresh_detail()

    def action_toggle_kind(self) -> None:
        self.kind = "a" if self.kind == "w" else "w"
        self.refresh_all()

    def action_toggle_detail(self) -> None:
        self.query_one("#quant-detail-box").toggle_class("hidden")
        self.refresh_detail()

    def action_bits(self, delta: int) -> None:
        s = self.session
        if not step_bits(s.project, self.kind, self.layer, delta):
            self.app.notify("no change: bits stay within 2..8; the output layer's "
                            "activations are int16.", timeout=3)
            return
        self.app.autosave()
        self.app.bits_changed()
