"""Pane 2, Training: settings, start/pause/resume/stop, live loss curves (float, fake-quant,
integer-exact validation), epoch/speed/time, and per-output RMSE at the end."""

from __future__ import annotations

import math
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from qnn_tui.fields import Field, FieldTable, ints
from qnn_tui.plots import DeferredPlot, line_plot


def _set_epochs(p, text):
    v = ints(text)
    if len(v) != 3:
        raise ValueError("three numbers: float, qat, int")
    p.epochs = v


def _set_hidden(p, text):
    h = ints(text)
    p.hidden = h
    p.w_bits = (p.w_bits + [8] * len(h))[: len(h) + 1]
    p.a_bits = (p.a_bits + [8] * len(h))[: len(h)]


TRAIN_FIELDS = [
    Field("epochs float, qat, int", lambda p: p.epochs, _set_epochs),
    Field("fine-tune epochs", lambda p: p.epochs_finetune,
          lambda p, t: setattr(p, "epochs_finetune", int(t)),
          lambda p, d: setattr(p, "epochs_finetune", max(0, p.epochs_finetune + d))),
    Field("learning rate", lambda p: p.lr, lambda p, t: setattr(p, "lr", float(t)),
          lambda p, d: setattr(p, "lr", p.lr * (2 if d > 0 else 0.5)), "{:g}"),
    Field("batch size", lambda p: p.batch_size, lambda p, t: setattr(p, "batch_size", int(t)),
          lambda p, d: setattr(p, "batch_size", max(1, p.batch_size * 2 if d > 0
                                                      else p.batch_size // 2))),
    Field("hidden sizes", lambda p: p.hidden, _set_hidden),
]


def _get(h: Any, key: str) -> Any:
    return h.get(key) if isinstance(h, dict) else getattr(h, key)


class TrainPane(DeferredPlot, Vertical):
    BINDINGS = [
        Binding("t", "app.train", "train"),
        Binding("p,space", "app.pause", "pause/resume"),
        Binding("x", "app.stop", "stop"),
    ]

    def __init__(self, session: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self.session = session
        self.state = "idle"

    def compose(self) -> ComposeResult:
        with Horizontal(id="train-top"):
            yield FieldTable(TRAIN_FIELDS, lambda: self.session.project, id="train-fields")
            with Vertical(id="train-side"):
                yield Static(id="train-status")
                yield DataTable(id="train-rmse", cursor_type="none", show_cursor=False)
        with VerticalScroll(id="train-plot-box"):
            yield Static(id="train-plot")

    def on_mount(self) -> None:
        self.query_one("#train-rmse", DataTable).add_columns("output", "RMSE int", "RMSE float")
        self.dirty = False
        self.set_interval(0.25, self._redraw)
        self.refresh_all()

    def refresh_all(self) -> None:
        self.query_one(FieldTable).refill()
        s = self.session
        h = s.history
        if h:
            last = h[-1]
            self.show_status(last)
        else:
            self.query_one("#train-status", Static).update(
                "idle: press t to train on the dataset of pane 1 (the default project takes a "
                "few seconds)")
        self.refresh_rmse()
        self.refresh_plot()

    def show_status(self, p: Any) -> None:
        state = {"idle": "", "running": "training", "paused": "PAUSED"}.get(self.state, "")
        vi = _get(p, "val_int")
        loss = f"val float {_get(p, 'val_float'):.4f}"
        if vi is not None:
            loss += f"  fq {_get(p, 'val_fq'):.4f}  int {vi:.4f}"
        self.query_one("#train-status", Static).update(
            f"{state} epoch {_get(p, 'epoch')}/{_get(p, 'epochs')} ({_get(p, 'phase')})\n"
            f"{loss}\n{_get(p, 'samples_per_s'):,.0f} samples/s, "
            f"{_get(p, 'elapsed'):.1f} s elapsed")

    def refresh_rmse(self) -> None:
        t = self.query_one("#train-rmse", DataTable)
        t.clear()
        m = self.session.metrics
        if not m:
            return
        fl = m.get("rmse_per_output_float", {})
        for name, v in m.get("rmse_per_output", {}).items():
            f = fl.get(name)
            t.add_row(name, f"{v['rmse']:.4g} {v['unit']}",
                      f"{f['rmse']:.4g}" if f else "-")

    def _draw_plot(self) -> None:
        self._plot_pending = False
        h = self.session.history
        series = []
        for key, label in (("val_float", "float"), ("val_fq", "fake-quant"),
                           ("val_int", "integer")):
            pts = [(_get(p, "epoch"), _get(p, key)) for p in h if _get(p, key) is not None]
            series.append((label, [e for e, _ in pts],
                           [math.log10(max(v, 1e-12)) for _, v in pts]))
        w = max(self.app.size.width - 4 if not self.size.width else self.size.width - 4, 40)
        self.query_one("#train-plot", Static).update(
            line_plot(series, w, max(12, self.query_one("#train-plot-box").size.height),
                      "validation loss: log10 of the normalised MSE", "epoch"))

    def progress(self, p: Any) -> None:
        """Many epochs a second can arrive: redraw at most ~4 times a second."""
        self.session.history.append(p)
        self.dirty = True

    def _redraw(self) -> None:
        if self.dirty and self.session.history:
            self.dirty = False
            self.show_status(self.session.history[-1])
            self.refresh_plot()

    def on_field_table_changed(self, event: FieldTable.Changed) -> None:
        self.app.autosave()
        self.app.refresh_panes()

    def on_resize(self) -> None:
        self.refresh_plot()
