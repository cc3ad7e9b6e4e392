"""Pane 2, Training: settings, start/pause/resume/stop, live loss curves (float, fake-quant,
integer-exact validation), epoch/speed/time; at the end, per output, the kept integer model's
RMSE, 99th percentile and max |error| in output units, and (key e) the histogram of its
errors on the validation rows with the pose where the worst one is."""

from __future__ import annotations

import math
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from common.errors import QnnError
from qnn_tui import figures
from qnn_tui.fields import Field, FieldTable, ints, plain
from qnn_tui.plots import DeferredPlot, hist_plot, line_plot


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


def _step_batch(p, d):
    p.batch_size = max(1, p.batch_size * 2 if d > 0 else p.batch_size // 2)


TRAIN_FIELDS = [
    Field("epochs float/qat/int", lambda p: p.epochs, _set_epochs),
    Field("fine-tune qat epochs", lambda p: p.epochs_finetune,
          lambda p, t: setattr(p, "epochs_finetune", int(t)),
          lambda p, d: setattr(p, "epochs_finetune", max(0, p.epochs_finetune + d))),
    Field("learning rate", lambda p: p.lr, lambda p, t: setattr(p, "lr", float(t)),
          lambda p, d: setattr(p, "lr", p.lr * (2 if d > 0 else 0.5)), "{:g}"),
    Field("batch size", lambda p: p.batch_size,
          lambda p, t: setattr(p, "batch_size", int(t.replace(",", ""))), _step_batch, "{:,}"),
    Field("hidden sizes", lambda p: p.hidden, _set_hidden),
]


def _get(h: Any, key: str) -> Any:
    return h.get(key) if isinstance(h, dict) else getattr(h, key)


def _num(v: Any, fmt: str = "{:.3g}") -> str:
    return fmt.format(v) if isinstance(v, int | float) else "-"


def _stat(entry: Any, *keys: str) -> Any:
    """A per-output figure the core may provide under one of several names."""
    if isinstance(entry, dict):
        for k in keys:
            if isinstance(entry.get(k), int | float):
                return entry[k]
    return None


class TrainPane(DeferredPlot, Vertical):
    BINDINGS = [
        Binding("t", "app.train", "train"),
        Binding("p,space", "app.pause", "pause/resume"),
        Binding("x", "app.stop", "stop"),
        Binding("e", "toggle_errors", "loss / errors"),
    ]

    def __init__(self, session: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self.session = session
        self.state = "idle"
        self.kind = "train"
        self.show_errors = False
        self._errors: tuple[Any, list[figures.OutputErrors] | str] | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="train-status")
        with Horizontal(id="train-top"):
            yield FieldTable(TRAIN_FIELDS, lambda: self.session.project, id="train-fields")
            yield DataTable(id="train-rmse", cursor_type="row")
        with VerticalScroll(id="train-plot-box"):
            yield Static(id="train-plot")

    def on_mount(self) -> None:
        self.query_one("#train-rmse", DataTable).add_columns(
            "output", "RMSE", "p99|e|", "max|e|", "float")
        self.dirty = False
        self.set_interval(0.25, self._redraw)
        self.refresh_all()

    def refresh_all(self) -> None:
        self.query_one(FieldTable).refill()
        self._errors = None
        self.show_status()
        self.refresh_rmse()
        self.refresh_plot()

    def show_status(self) -> None:
        s = self.session
        h = s.history
        lines = []
        if h and self.state != "idle":
            p = h[-1]
            state = "PAUSED " if self.state == "paused" else ""
            what = "fine-tune" if self.kind == "finetune" else "training"
            vi = _get(p, "val_int")
            now = f"float {_get(p, 'val_float'):.4f}"
            if vi is not None:
                now += f", fake-quant {_get(p, 'val_fq'):.4f}, integer {vi:.4f}"
            lines.append(f"{state}{what}: epoch {_get(p, 'epoch')}/{_get(p, 'epochs')} "
                         f"({_get(p, 'phase')}), {_get(p, 'samples_per_s'):,.0f} samples/s, "
                         f"{_get(p, 'elapsed'):.0f} s")
            lines.append(f"this epoch's validation MSE: {now}")
        elif s.metrics:
            lines.append(figures.best_mse(s.metrics))
            lines.append("table: that model on the validation rows, in output units; "
                         "float = baseline")
        else:
            lines.append("idle: press t to train on pane 1's dataset (default project: a few "
                         "seconds)")
        self.query_one("#train-status", Static).update("\n".join(lines))

    def refresh_rmse(self) -> None:
        t = self.query_one("#train-rmse", DataTable)
        row = t.cursor_row
        t.clear()
        m = self.session.metrics
        if not m:
            return
        fl = m.get("rmse_per_output_float", {})
        computed = {e.name: e for e in self.errors()} if self._needs_errors(m) else {}
        for name, v in m.get("rmse_per_output", {}).items():
            c = computed.get(name)
            p99 = _stat(v, "p99", "p99_abs") or _stat(
                m.get("p99_abs_per_output", {}).get(name), "p99_abs")
            worst = _stat(v, "max", "max_abs") or _stat(
                m.get("max_abs_per_output", {}).get(name), "max_abs")
            if c is not None:
                p99 = c.p99_abs if p99 is None else p99
                worst = c.max_abs if worst is None else worst
            t.add_row(*plain(f"{name} [{v.get('unit', '')}]", _num(v.get("rmse")), _num(p99),
                             _num(worst), _num(_stat(fl.get(name), "rmse"))))
        if t.row_count:
            t.move_cursor(row=min(max(row, 0), t.row_count - 1))

    def _needs_errors(self, m: dict[str, Any]) -> bool:
        return self.show_errors or not (m.get("p99_abs_per_output") or any(
            _stat(v, "p99", "p99_abs") is not None for v in m.get("rmse_per_output", {}).values()))

    def errors(self) -> list[figures.OutputErrors]:
        """The kept integer model's errors on the validation rows (cached per model)."""
        s = self.session
        key = (id(s.int_model), id(s.dataset))
        if self._errors is None or self._errors[0] != key:
            self._errors = (key, self._compute_errors())
            why = self._errors[1]
            if isinstance(why, str) and why.startswith(str(s.dir)):  # a damaged file
                self.app.notify(f"no worst-case errors: {why}", severity="warning",
                                timeout=10)
        got = self._errors[1]
        return got if isinstance(got, list) else []

    def _compute_errors(self) -> list[figures.OutputErrors] | str:
        from qnn.run import training_split
        from qnn_tui import core

        s = self.session
        if s.int_model is None or s.stale:
            return "no current model"
        try:
            if s.dataset is None:
                s.dataset = core.load_dataset(s.paths["dataset"])
            val = training_split(s.paths["run"], s.dataset)[1]  # the rows metrics.json used
            if val.n_in != s.int_model.n_in or val.n_out != s.int_model.n_out:
                return "the dataset does not fit the model"
            return figures.output_errors(s.int_model, val.x, val.y, list(val.output_names))
        except QnnError as e:
            return str(e)

    def action_toggle_errors(self) -> None:
        self.show_errors = not self.show_errors
        self.refresh_rmse()
        self.refresh_plot()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "train-rmse" and self.show_errors:
            self.refresh_plot()

    def _plot_size(self) -> tuple[int, int]:
        box = self.query_one("#train-plot-box")
        w = max((box.size.width or self.app.size.width) - 2, 40)
        return w, max(box.size.height, 9)

    def _draw_plot(self) -> None:
        self._plot_pending = False
        if self.show_errors:
            self._draw_errors()
            return
        h = self.session.history
        series = []
        for key, label in (("val_float", "float"), ("val_fq", "fake-quant"),
                           ("val_int", "integer-exact")):
            pts = [(_get(p, "epoch"), _get(p, key)) for p in h if _get(p, key) is not None]
            series.append((label, [e for e, _ in pts],
                           [math.log10(max(v, 1e-12)) for _, v in pts]))
        w, height = self._plot_size()
        self.query_one("#train-plot", Static).update(line_plot(
            series, w, height, "validation loss per epoch: log10 of the normalised MSE "
            "(e: errors)"))

    def _draw_errors(self) -> None:
        errs = self.errors()
        w, height = self._plot_size()
        target = self.query_one("#train-plot", Static)
        if not errs:
            why = self._errors[1] if self._errors else ""
            target.update(f"no error histogram: {why}. (e: loss curves)")
            return
        k = min(max(self.query_one("#train-rmse", DataTable).cursor_row, 0), len(errs) - 1)
        e = errs[k]
        where = ", ".join(f"{n} {v:.3g}" for n, v in e.worst_pose.items())
        title = (f"{e.name} error [{e.unit}] of the integer model, {len(e.errors):,} validation "
                 f"rows: max |e| {e.max_abs:.3g}, p99 {e.p99_abs:.3g}, RMSE {e.rmse:.3g}; worst at "
                 f"{where} (table: pick output; e: loss)")
        target.update(hist_plot(e.errors, w, height, title, bins=min(60, w - 8)))

    def progress(self, p: Any, kind: str = "train") -> None:
        """Many epochs a second can arrive: redraw at most ~4 times a second."""
        self.kind = kind
        self.session.history.append(p)
        self.dirty = True

    def _redraw(self) -> None:
        if self.dirty and self.session.history:
            self.dirty = False
            self.show_status()
            self.refresh_plot()

    def on_field_table_changed(self, event: FieldTable.Changed) -> None:
        self.app.autosave()
        self.app.refresh_panes()

    def on_resize(self) -> None:
        self.refresh_plot()
