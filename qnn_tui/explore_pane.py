"""Pane 5, Explore: sweep bit widths (and sizes) in one worker (s starts, x cancels), watch
the points arrive, see MSE against flash or µs with the Pareto front highlighted and the
budget as a line, and make a point of the front the project's model (Enter or u): its trained
run folder is adopted, nothing is retrained; b then builds it (pane 4)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from common.errors import QnnError
from qnn.sweepconf import SEARCHES, parse_budget, sweep_settings
from qnn_tui.fields import Field, FieldTable, ints, plain
from qnn_tui.figures import microseconds
from qnn_tui.plots import DeferredPlot, scatter_plot


def _settings(p: Any) -> Any:
    return sweep_settings(p.sweep, p.hidden)


def _set(key: str, value: Any) -> Any:
    def set_(p: Any, text: str) -> None:
        p.sweep = {**p.sweep, key: value(p, text)}

    return set_


def _sizes(p: Any, text: str) -> list[list[int]]:
    groups = text.split(";") if ";" in text else text.split()
    return [ints(g) for g in groups if g.strip()]


def _widths(p: Any, text: str) -> list[int]:
    return sorted(set(ints(text)), reverse=True)


def _budget(p: Any, text: str) -> str | None:
    b = parse_budget(text)
    return str(b) if b else None


def _step_budget(p: Any, d: int) -> None:
    b = _settings(p).budget
    if b is None:
        raise ValueError("no budget yet: press Enter and type one, e.g. 1000 B or 50 us")
    p.sweep = {**p.sweep, "budget": str(b.scaled(1.1 if d > 0 else 1 / 1.1))}


def _step_search(p: Any, d: int) -> None:
    now = SEARCHES.index(_settings(p).search)
    p.sweep = {**p.sweep, "search": SEARCHES[(now + d) % len(SEARCHES)]}


EXPLORE_FIELDS = [
    Field("hidden sizes", lambda p: _settings(p).hidden, _set("hidden", _sizes)),
    Field("weight bits", lambda p: _settings(p).w_bits, _set("w_bits", _widths)),
    Field("activation bits", lambda p: _settings(p).a_bits, _set("a_bits", _widths)),
    Field("search", lambda p: _settings(p).search, _set("search", lambda p, t: t),
          _step_search, choices=lambda: [("grid", "every combination of the widths"),
                                         ("per-layer", "lower one layer at a time, the "
                                          "cheapest in MSE per byte (first sizes)")]),
    Field("budget", lambda p: str(_settings(p).budget or "none"), _set("budget", _budget),
          _step_budget),
]


class ExplorePane(DeferredPlot, Vertical):
    BINDINGS = [
        Binding("s", "app.sweep", "sweep"),
        Binding("x", "app.stop_sweep", "cancel"),
        Binding("u", "use", "use point"),
        Binding("a", "axis", "flash/µs"),
        Binding("k", "app.clock", "clock"),
    ]

    def __init__(self, session: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self.session = session
        self.axis = "flash"  # the plot's x: "flash" (bytes) or "us" (at the project's clock)
        self.progress_text = ""  # what the running sweep does now
        self.front: list[Any] = []  # the table's rows

    def compose(self) -> ComposeResult:
        yield Static(id="explore-status", classes="pane-status")
        with Horizontal(id="explore-top"):
            yield FieldTable(EXPLORE_FIELDS, lambda: self.session.project, id="explore-fields")
            yield DataTable(id="explore-front", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="explore-plot-box"):
            yield Static(id="explore-plot")

    def on_mount(self) -> None:
        self.query_one("#explore-front", DataTable).add_columns(
            "", "Pareto front", "MSE", "flash B", "µs")
        self.axis = self._budget_axis() or "flash"
        self.refresh_all()

    # ---- what is shown ---------------------------------------------------------------------
    def points(self) -> list[Any]:
        """The running sweep's points so far, else the last sweep's (Pareto flags set)."""
        from explore.pareto import mark_pareto
        from qnn_tui.sweeps import points_of

        s = self.session
        # copies: the worker marks its own points' front when it ends, from all of them
        pts = ([replace(p) for p in s.sweep_live] if s.sweep_live is not None
               else points_of(s.sweep))
        mark_pareto(pts)
        return pts

    def settings(self) -> Any:
        try:
            return _settings(self.session.project)
        except QnnError:
            return None

    def _budget_axis(self) -> str | None:
        st = self.settings()
        if st is None or st.budget is None:
            return None
        return "flash" if st.budget.kind == "flash" else "us"

    def best(self, pts: list[Any]) -> Any:
        from explore.pareto import best_within

        st = self.settings()
        if st is None or st.budget is None:
            return None
        return best_within(pts, **st.budget.limits(), clock_mhz=self.session.project.clock_mhz)

    def refresh_all(self) -> None:
        self.query_one(FieldTable).refill()
        self.refresh_front()
        self.show_status()
        self.refresh_plot()

    def refresh_front(self, keep: bool = True) -> None:
        t = self.query_one("#explore-front", DataTable)
        chosen = self.selected()
        pts = self.points()
        best = self.best(pts)
        self.front = sorted((p for p in pts if p.pareto), key=lambda p: (p.mse, p.flash_bytes))
        mhz = self.session.project.clock_mhz
        t.clear()
        for p in self.front:
            t.add_row(*plain("*" if p is best else "", p.label, f"{p.mse:.4g}",
                             f"{p.flash_bytes:,}", f"{p.cycles / mhz:.1f}"))
        labels = [p.label for p in self.front]
        if keep and chosen is not None and chosen.label in labels:
            t.move_cursor(row=labels.index(chosen.label))
        elif best is not None and best in self.front:
            t.move_cursor(row=self.front.index(best))

    def selected(self) -> Any:
        t = self.query_one("#explore-front", DataTable)
        if not self.front or not 0 <= t.cursor_row < len(self.front):
            return None
        return self.front[t.cursor_row]

    def show_status(self) -> None:
        s, st = self.session, self.settings()
        pts = self.points()
        mhz = s.project.clock_mhz
        if s.sweep_live is not None:
            stop = getattr(self.app, "sweep_stop", None)
            cancelling = stop is not None and stop.is_set()
            head = f"sweeping: {self.progress_text or 'starting...'}" + (
                "" if cancelling else "   x cancels")
        elif s.sweep is not None:
            took = s.sweep.get("seconds")
            took = f" in {took:.0f} s" if isinstance(took, int | float) else ""
            stopped = " (cancelled)" if s.sweep.get("stopped") else ""
            head = (f"last sweep{stopped}: {len(pts)} points{took}, {len(self.front)} on the "
                    f"front; s sweeps again")
        elif st is not None:
            what = (f"{st.n_points} configurations" if st.search == "grid"
                    else "a per-layer search")
            head = f"no sweep yet: s trains and measures {what} on the emulated M0"
        else:
            head = "the sweep settings are invalid: fix them in the table"
        best = self.best(pts)
        if st is not None and st.budget is not None and pts:
            tail = (f"best within {st.budget}: {best.label}, MSE {best.mse:.4g}, "
                    f"{best.flash_bytes:,} B, {microseconds(best.cycles, mhz)}" if best else
                    f"nothing fits {st.budget}: widen the budget (+) or try fewer bits")
        else:
            tail = f"MSE in output units, µs at {mhz:g} MHz (k); Enter on a front row: use it"
        self.query_one("#explore-status", Static).update(f"{head}\n{tail}")

    def progress(self, p: Any) -> None:
        st = self.settings()
        count = (f"{p.done}/{p.total}" if st is not None and st.search == "grid"
                 else f"{p.done} measured")
        self.progress_text = f"{count}, {p.detail} [{p.elapsed:.0f} s]"
        self.show_status()
        if p.point is not None:
            self.refresh_front()
            self.refresh_plot()

    def _plot_size(self) -> tuple[int, int]:
        box = self.query_one("#explore-plot-box")
        return max((box.size.width or self.app.size.width) - 2, 40), max(box.size.height, 9)

    def _draw_plot(self) -> None:
        self._plot_pending = False
        pts = self.points()
        mhz = self.session.project.clock_mhz
        flash = self.axis == "flash"

        def xy(sel: list[Any]) -> tuple[list[float], list[float]]:
            return ([p.flash_bytes if flash else p.cycles / mhz for p in sel],
                    [math.log10(max(p.mse, 1e-30)) for p in sel])

        chosen = self.selected()
        groups = [("dominated", "•", "gray", *xy([p for p in pts if not p.pareto])),
                  ("front", "◆", "green", *xy([p for p in pts if p.pareto])),
                  ("selected", "◉", "magenta", *xy([chosen] if chosen else []))]
        st = self.settings()
        line, label = None, ""
        if st is not None and st.budget is not None:
            b = st.budget
            if flash and b.kind == "flash":
                line = b.value
            elif not flash and b.kind != "flash":
                line = b.value if b.kind == "us" else b.value / mhz
            label = f"budget {b}" if line is not None else f"budget {b}: press a"
        xlabel = "flash (B)" if flash else f"µs @{mhz:g} MHz"
        w, h = self._plot_size()
        self.query_one("#explore-plot", Static).update(scatter_plot(
            groups, w, h, f"log10 MSE vs {xlabel}", vline=line, vline_label=label))

    # ---- keys ------------------------------------------------------------------------------
    def action_axis(self) -> None:
        self.axis = "us" if self.axis == "flash" else "flash"
        self.refresh_plot()

    def action_use(self) -> None:
        point = self.selected()
        if point is None:
            self.app.notify("no point to use: sweep first (s).", timeout=3)
            return
        self.app.use_point(point)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "explore-front":
            self.refresh_plot()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "explore-front":
            self.action_use()

    def on_field_table_changed(self, event: FieldTable.Changed) -> None:
        if event.label == "budget":
            self.axis = self._budget_axis() or self.axis
        self.app.autosave()
        self.refresh_front(keep=event.label != "budget")
        self.show_status()
        self.refresh_plot()

    def on_resize(self) -> None:
        self.refresh_plot()
