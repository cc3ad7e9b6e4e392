"""The Explore pane's side of the app: start and cancel the sweep worker, follow its
messages, and make a point of the sweep the project's model (a mixin of QnnApp, which
provides the panes, the session and the workers)."""

from __future__ import annotations

from typing import Any

from common.errors import QnnError
from qnn_tui import messages as msg
from qnn_tui.explore_pane import ExplorePane
from qnn_tui.figures import microseconds
from qnn_tui.replies import while_open
from qnn_tui.runs import record_training
from qnn_tui.session import SUMMARY


class ExploreMixin:
    def sweeping(self) -> bool:
        return any(name == "sweeping" and not replaced for name, replaced in self.running())

    def action_sweep(self) -> None:
        if self.training_runs():
            self.notify("a training is running: let it finish, or stop it (x in pane 2) "
                        "first.", severity="warning", timeout=4)
            return
        if self.sweeping():
            self.notify("a sweep is running: x cancels it.", timeout=3)
            return
        pane = self.pane(ExplorePane)
        if pane.settings() is None:
            self.notify("the sweep settings are invalid; fix them in the table.",
                        severity="error")
            return
        self.action_show_tab("explore")
        self.session.sweep_live = []
        pane.progress_text = "starting (JAX compiles first)..."
        pane.refresh_all()
        self.run_sweep()

    def action_stop_sweep(self) -> None:
        if self.sweep_stop is None:
            self.notify("no sweep is running.", timeout=2)
            return
        self.sweep_stop.set()
        self.note = "cancelling the sweep after this epoch..."
        self.pane(ExplorePane).progress_text = "cancelling after this epoch..."
        self.pane(ExplorePane).show_status()
        self.refresh_status()

    @while_open
    def on_sweep_step(self, m: msg.SweepStep) -> None:
        p = m.progress
        if p.point is not None and self.session.sweep_live is not None:
            self.session.sweep_live.append(p.point)
        self.note = f"sweep {p.done}/{p.total}: {p.detail}"
        self.pane(ExplorePane).progress(p)
        self.refresh_status()

    @while_open
    def on_sweep_done(self, m: msg.SweepDone) -> None:
        s = self.session
        s.sweep_live = None
        pane = self.pane(ExplorePane)
        pane.progress_text = ""
        if m.doc is None:
            self.notify("sweep cancelled before any point was measured: the last sweep is "
                        "kept.", timeout=6)
        else:
            s.sweep = m.doc
            n, took = len(m.doc["points"]), m.doc.get("seconds", 0.0)
            how = "cancelled after" if m.doc.get("stopped") else "swept"
            self.notify(f"{how} {n} configurations in {took:.0f} s: pick one of the front "
                        "(Enter) to make it the model.", timeout=8)
        pane.refresh_all()
        self.refresh_status()

    def sweep_failed(self) -> None:
        self.session.sweep_live = None
        self.pane(ExplorePane).progress_text = ""
        self.pane(ExplorePane).refresh_all()

    def use_point(self, point: Any) -> None:
        """Adopt the point's run folder as the project's model (no retraining)."""
        from qnn_tui import sweeps

        s = self.session
        if any(name in ("training", "re-quantizing") and not replaced
               for name, replaced in self.running()):
            self.notify("a training is running: its model would replace this one; wait for "
                        "it (or stop it, x in pane 2).", severity="warning", timeout=5)
            return
        if self.sweeping():
            self.notify("the sweep is running: wait for it, or cancel it (x), then pick.",
                        severity="warning", timeout=5)
            return
        try:
            sweeps.adopt(s.paths["sweep"], point, s.project, s.paths["run"])
        except (QnnError, OSError) as e:
            self.notify(str(e), title="not adopted", severity="error", timeout=12)
            return
        self.autosave()
        s.result, s.build, s.history = None, None, []
        (s.paths["build"] / SUMMARY).unlink(missing_ok=True)
        s.load_artifacts()
        if s.int_model is not None:
            self._record(lambda: record_training(s.paths["runs"], self.runs,
                                                 s.paths["run"] / "int_model.json",
                                                 s.int_model, s.metrics or {}, "sweep"))
        self.refresh_panes()
        mhz = s.project.clock_mhz
        self.notify(f"{point.label} is now the project's model, as trained in the sweep (no "
                    f"retraining): MSE {point.mse:.4g}, {point.flash_bytes:,} B, "
                    f"{microseconds(point.cycles, mhz)} at {mhz:g} MHz. b builds it (pane 4).",
                    title="model adopted", timeout=10)
