"""Pane 1, Simulator: the forward model (picked from a list) and its settings, one live pose
and its readings, sweeps of the readings against each pose component, identifiability; `g`
regenerates the dataset, `i` imports a recorded one (.npz or .csv) instead."""

from __future__ import annotations

from typing import Any

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Static

from qnn_tui import core
from qnn_tui.fields import Field, FieldTable, floats, plain
from qnn_tui.plots import DeferredPlot, line_plot


def _param_field(key: str, label: str, scale: bool = False) -> Field:
    """A model parameter; `scale`: one number sets every entry (e.g. all six ADC gains)."""

    def get(p):
        return core.sim_model(p)[1][key]

    def set_(p, text):
        vals = floats(text)
        cur = np.asarray(get(p), float)
        if cur.ndim == 0:
            if len(vals) != 1:
                raise ValueError("give one number")
            p.sim_params[key] = vals[0]
        elif scale and len(vals) == 1:
            p.sim_params[key] = np.full(cur.shape, vals[0]).tolist()
        else:
            p.sim_params[key] = np.asarray(vals, float).reshape(cur.shape).tolist()

    return Field(label, get, set_, fmt="{:g}")


def _range_field(i: int, name: str, unit: str) -> Field:
    def get(p):
        lo, hi = core.sim_model(p)[0].pose_range(p.pose_low, p.pose_high)
        return [lo[i], hi[i]]

    def set_(p, text):
        lo_v, hi_v = floats(text)
        model = core.sim_model(p)[0]
        lo, hi = (np.asarray(v, float).copy() for v in model.pose_range(p.pose_low, p.pose_high))
        lo[i], hi[i] = lo_v, hi_v
        p.pose_low, p.pose_high = lo.tolist(), hi.tolist()

    return Field(f"{name} range [{unit}]", get, set_, fmt="{:g}")


def _count_field(label: str, attr: str, factor: float) -> Field:
    def set_(p, text):
        setattr(p, attr, int(float(text.replace(",", "").replace("_", ""))))

    def step(p, d):
        v = getattr(p, attr)
        setattr(p, attr, int(round(v * factor)) if d > 0 else max(10, int(round(v / factor))))

    return Field(label, lambda p: getattr(p, attr), set_, step, "{:,}" if factor > 1 else "{}")


def _set_model(p, name: str) -> None:
    from sim.models import get_model

    get_model(name)  # refuses an unknown name
    if name != p.model:  # another model: its own parameters, ranges and pose
        p.model, p.sim_params, p.pose_low, p.pose_high, p.pose = name, {}, None, None, None


def _model_choices() -> list[tuple[str, str]]:
    from sim.models import MODELS

    return [(name, f"{m.n_in} readings -> {m.n_out} outputs: {m.description}")
            for name, m in MODELS.items()]


def sim_fields(project) -> list[Field]:
    model = core.sim_model(project)[0]
    fields = [
        Field("forward model", lambda p: p.model, _set_model, choices=_model_choices),
        _count_field("dataset size", "n", 2.0),
        Field("seed", lambda p: p.seed, lambda p, t: setattr(p, "seed", int(t)),
              lambda p, d: setattr(p, "seed", max(0, p.seed + d))),
    ]
    for key in model.default_params():
        fields.append(_param_field(key, key, scale=key.startswith("adc_gain")))
    for i, (name, unit) in enumerate(zip(model.output_names, model.output_units, strict=True)):
        fields.append(_range_field(i, name, unit))
    return fields


class PoseTable(DataTable):
    BINDINGS = [
        Binding("left,minus", "nudge(-1)", "pose -", show=True),
        Binding("right,plus,equals_sign", "nudge(1)", "pose +", show=True),
    ]

    def action_nudge(self, d: int) -> None:
        self.screen.query_one(SimPane).nudge(self.cursor_row, d)


class SimPane(DeferredPlot, Vertical):
    BINDINGS = [
        Binding("g", "app.generate", "generate data"),
        Binding("i", "app.import_data", "import data"),
        Binding("r", "random_pose", "random pose"),
    ]
    TOP_ROWS = 12  # settings and pose tables, when the terminal is tall enough
    PLOT_ROWS = 11  # what the sweep plot needs to show its lines and x axis

    def __init__(self, session: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self.session = session

    def compose(self) -> ComposeResult:
        with Horizontal(id="sim-top"):
            yield FieldTable(sim_fields, lambda: self.session.project, id="sim-fields")
            with Vertical(id="sim-pose-box"):
                yield PoseTable(cursor_type="row", id="sim-pose")
        with VerticalScroll(id="sim-plot-box"):
            yield Static(id="sim-plot")
        yield Static(id="sim-data", classes="pane-status")
        yield Static(id="sim-setting", classes="pane-status")
        yield Static(id="sim-ident", classes="pane-status")

    def on_mount(self) -> None:
        t = self.query_one(PoseTable)
        t.add_columns("pose", "value", "reading", "counts")
        self.refresh_all()

    @property
    def pose(self) -> list[float]:
        p = self.session.project
        model = core.sim_model(p)[0]
        if p.pose is None or len(p.pose) != model.n_out:
            lo, hi = model.pose_range(p.pose_low, p.pose_high)
            p.pose = ((lo + hi) / 2).tolist()
        return p.pose

    def nudge(self, i: int, d: int) -> None:
        p = self.session.project
        lo, hi = core.sim_model(p)[0].pose_range(p.pose_low, p.pose_high)
        pose = self.pose
        pose[i] = float(np.clip(pose[i] + d * (hi[i] - lo[i]) / 20, lo[i], hi[i]))
        self.refresh_pose()
        self.app.autosave()

    def action_random_pose(self) -> None:
        p = self.session.project
        lo, hi = core.sim_model(p)[0].pose_range(p.pose_low, p.pose_high)
        p.pose = np.round(lo + (hi - lo) * np.random.default_rng().random(len(lo)), 3).tolist()
        self.refresh_pose()
        self.app.autosave()

    def refresh_all(self) -> None:
        self.query_one(FieldTable).refill()
        ident = core.identifiability(self.session.project)
        self.query_one("#sim-ident", Static).update(
            f"identifiability ({ident['n']} poses, seed {self.session.project.seed}): >= "
            f"{ident['min_singular_value']:.0f} counts per pose half-range in the weakest "
            f"direction (? explains), noise {100 * ident['worst_resolution_fraction']:.2g} % "
            f"of it; {100 * ident['saturated_fraction']:.1f} % saturated")
        self.refresh_setting()
        self.refresh_pose()
        self.refresh_data()

    def refresh_setting(self) -> None:
        self.query_one("#sim-setting", Static).update(
            self.query_one(FieldTable).describe() + "  (Enter edits)")

    def refresh_data(self) -> None:
        s = self.session
        ds = s.dataset
        path = s.paths["dataset"]
        source = (ds.meta or {}).get("source") if ds is not None else s.project.data_source
        if ds is not None and not core.dataset_matches(ds, s.project):
            text = f"dataset: {ds.n:,} samples made with other settings: press g to regenerate"
        elif source:
            n = f"{ds.n:,} samples" if ds is not None else path.name
            text = f"dataset: {n} imported from {source} (g: simulate instead, i: import)"
        elif ds is not None:
            text = f"dataset: {ds.n:,} samples in {path.name} (g: regenerate, i: import)"
        elif path.is_file():
            text = f"dataset: {path.name} on disk (g: regenerate)"
        else:
            text = "no dataset yet: press g to simulate one, or i to import recorded data"
        self.query_one("#sim-data", Static).update(text)

    def refresh_pose(self) -> None:
        p = self.session.project
        model = core.sim_model(p)[0]
        pose = self.pose
        x = core.readings(p, pose)
        t = self.query_one(PoseTable)
        row = t.cursor_row
        t.clear()
        for i in range(max(model.n_out, model.n_in)):
            a = (f"{model.output_names[i]} [{model.output_units[i]}]", f"{pose[i]:8.2f}") \
                if i < model.n_out else ("", "")
            b = (model.input_names[i], f"{int(x[i]):6d}") if i < model.n_in else ("", "")
            t.add_row(*plain(*a, *b))
        t.move_cursor(row=min(row, model.n_out - 1))
        self.refresh_plot()

    def _draw_plot(self) -> None:
        self._plot_pending = False
        p = self.session.project
        model = core.sim_model(p)[0]
        i = min(self.query_one(PoseTable).cursor_row, model.n_out - 1)
        lo, hi = model.pose_range(p.pose_low, p.pose_high)
        sweep = core.sweeps(p, self.pose)[i]
        xs = np.linspace(lo[i], hi[i], len(sweep))
        series = [(name, xs, sweep[:, j]) for j, name in enumerate(model.input_names)]
        box = self.query_one("#sim-plot-box")
        w = max((box.size.width or self.app.size.width) - 2, 40)
        h = max(8, box.size.height)
        self.query_one("#sim-plot", Static).update(line_plot(
            series, w, h, f"readings [counts] vs {model.output_names[i]} "
            f"[{model.output_units[i]}], the other pose values fixed (pose table: up/down)"))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "sim-pose":
            self.refresh_plot()
        elif event.data_table.id == "sim-fields":
            self.refresh_setting()

    def on_field_table_changed(self, event: FieldTable.Changed) -> None:
        self.refresh_all()
        self.app.autosave()

    def on_resize(self) -> None:
        """Give the plot the rows it needs; the tables above scroll when space is short."""
        spare = self.size.height - self.PLOT_ROWS - 3  # the three status lines
        self.query_one("#sim-top").styles.height = max(7, min(self.TOP_ROWS, spare))
        self.refresh_plot()
