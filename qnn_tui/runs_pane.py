"""Pane 6, Runs: every model the workbench made in this project (runs.json), with its bit
widths, validation MSE, per-output RMSE in output units, and for each variant built its flash
bytes, cycles and microseconds at the project's clock; the current model is marked."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from qnn_tui.fields import plain
from qnn_tui.figures import microseconds
from qnn_tui.runs import build_label, current

COLUMNS = ("", "#", "made by", "w bits", "a bits", "val MSE", "build", "flash B", "cycles",
           "µs", "sizes", "when", "RMSE per output (int model, validation rows)")


def _bits(v: Any) -> str:
    return ",".join(str(b) for b in v) if isinstance(v, list) else "-"


def _mse(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, int | float) else "-"


class RunsPane(Vertical):
    def __init__(self, session: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self.session = session

    def compose(self) -> ComposeResult:
        yield Static(id="runs-status", classes="pane-status")
        yield DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.refresh_all()

    def refresh_all(self) -> None:
        s = self.session
        entries = getattr(self.app, "runs", [])
        now = current(entries, s.paths["run"] / "int_model.json")
        t = self.query_one(DataTable)
        t.clear()
        mhz = s.project.clock_mhz
        for i, e in enumerate(entries):
            mark = "▶" if i == now else ""
            rmse = "  ".join(f"{n} {v[0]:.3g} {v[1]}" for n, v in e.get("rmse", {}).items()
                             if isinstance(v, list) and len(v) == 2
                             and isinstance(v[0], int | float))
            base = [mark, str(i + 1), str(e.get("kind", "")), _bits(e.get("w_bits")),
                    _bits(e.get("a_bits")), _mse(e.get("val_mse_int"))]
            tail = ["-".join(map(str, e.get("sizes", []))), str(e.get("time", ""))[5:16], rmse]
            builds = e.get("builds") or {"": {}}
            for variant, b in builds.items():
                cyc = b.get("cycles") if isinstance(b, dict) else None
                flash = b.get("flash") if isinstance(b, dict) else None
                t.add_row(*plain(*base, build_label(variant),
                                 f"{flash:,}" if isinstance(flash, int) else "-",
                                 f"{cyc:,.0f}" if isinstance(cyc, int | float) else "-",
                                 microseconds(cyc, mhz) if isinstance(cyc, int | float)
                                 else "-", *tail))
                base = [mark] + [""] * 5
        if t.row_count:
            t.move_cursor(row=t.row_count - 1)
        plural = "s" if len(entries) != 1 else ""
        self.query_one("#runs-status", Static).update(
            f"{len(entries)} model{plural} made in this project (kept in "
            f"{s.paths['runs'].name}); ▶ marks the one in run/. val MSE: normalised, "
            f"validation rows; µs at {mhz:g} MHz (k, pane 4 or 5)" if entries else
            "no runs yet: each training, fine-tune and build is recorded here.")
