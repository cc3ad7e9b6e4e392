"""What the app does with the workers' messages, and the re-quantization that follows a
bit-width change: a mixin of QnnApp (qnn_tui.app), which provides the panes and the session.

Busy is what runs (WorkersMixin.running); the model, its figures and the run history change
only here, in the UI thread."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from textual.css.query import NoMatches

from qnn_tui import figures
from qnn_tui import messages as msg
from qnn_tui.code_pane import CodePane
from qnn_tui.quant_pane import QuantPane
from qnn_tui.runs import record_build, record_training
from qnn_tui.runs_pane import RunsPane
from qnn_tui.session import SUMMARY
from qnn_tui.sim_pane import SimPane
from qnn_tui.train_pane import TrainPane

REQUANTIZE_AFTER = 0.15  # s of quiet after the last bit-width change before re-quantizing


def while_open(handler: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """A worker's message can arrive while the app closes (q during a training, whose thread
    ends its epoch first): the panes may be gone by then, and there is nothing to update."""

    @functools.wraps(handler)
    def reply(self: Any, m: Any) -> None:
        closing = self._exit or self._closing or self._closed
        if not closing:
            try:
                handler(self, m)
            except NoMatches:
                if not (self._exit or self._closing or self._closed):
                    raise

    return reply


class RepliesMixin:
    _requantize_timer: Any = None

    def training_runs(self) -> bool:
        """A training or fine-tune (not a re-quantization) is running, not yet replaced."""
        return any(name == "training" and not replaced for name, replaced in self.running())

    def bits_changed(self) -> None:
        """Re-quantize once the keys go quiet (many +/- in a row start one worker)."""
        s = self.session
        s.stale = s.int_model is not None and not s.bits_match()
        self.pane(QuantPane).refresh_all()
        self.pane(CodePane).refresh_all()
        if self._requantize_timer is not None:
            self._requantize_timer.stop()
            self._requantize_timer = None
        if s.stale:
            self._requantize_timer = self.set_timer(REQUANTIZE_AFTER, self._requantize)

    def _requantize(self) -> None:
        """Re-quantize now, unless a training runs: its end re-quantizes (on_train_done)
        rather than a bit change throwing the training away."""
        self._requantize_timer = None
        if self.session.stale and not self.training_runs():
            self.run_training("requantize")

    # ---- messages from workers ------------------------------------------------------------
    @while_open
    def on_busy_changed(self, m: msg.BusyChanged) -> None:
        if self.session.stale and self._requantize_timer is None and not self.busy:
            self._requantize_timer = self.set_timer(REQUANTIZE_AFTER, self._requantize)
        names = self.busy.values()
        train = self.pane(TrainPane)
        if "training" not in names and train.state != "idle":
            train.state = "idle"
            train.show_status()
        if not names:
            self.note = ""
        self.refresh_status()

    @while_open
    def on_status_changed(self, m: msg.StatusChanged) -> None:
        self.note = m.text
        if m.toast:
            self.notify(m.text, severity="warning", timeout=8)
        self.refresh_status()

    @while_open
    def on_dataset_ready(self, m: msg.DatasetReady) -> None:
        self.note = ""
        if m.source:
            self.session.project.data_source = m.source
            self.notify(f"dataset: {m.n:,} samples imported from {m.source}", timeout=5)
        else:
            self.session.project.data_source = None
            self.notify(f"dataset: {m.n:,} samples simulated in {m.seconds:.1f} s", timeout=3)
        self.autosave()
        self.pane(SimPane).refresh_data()

    @while_open
    def on_train_progress(self, m: msg.TrainProgress) -> None:
        p = m.progress
        what = "fine-tune" if m.kind == "finetune" else p.phase
        self.note = f"{what}: epoch {p.epoch}/{p.epochs}"
        self.pane(TrainPane).progress(p, m.kind)
        self.refresh_status()

    @while_open
    def on_train_done(self, m: msg.TrainDone) -> None:
        s = self.session
        s.result, s.int_model, s.metrics = m.result, m.result.int_model, m.metrics
        s.stale = not s.bits_match()
        s.build = None
        (s.paths["build"] / SUMMARY).unlink(missing_ok=True)
        if m.kind != "requantize":
            s.history = [vars(p) for p in m.result.history]
        self._record(lambda: record_training(s.paths["runs"], self.runs,
                                             s.paths["run"] / "int_model.json", s.int_model,
                                             m.metrics, m.kind))
        self.refresh_panes()
        if s.stale and self._requantize_timer is None:  # the bits moved on meanwhile
            self._requantize_timer = self.set_timer(REQUANTIZE_AFTER, self._requantize)
        now = figures.best_mse(m.metrics)
        if m.kind == "requantize":
            self.note = f"re-quantized: {now} (f fine-tunes)"
        elif m.kind == "finetune":
            change = f"fine-tuned: {figures.best_mse(m.metrics, short=True)}"
            if figures.val_mse(m.before) is not None and figures.val_mse(m.metrics) is not None:
                change = (f"fine-tune: {figures.best_mse(m.before, short=True)} -> "
                          f"{figures.val_mse(m.metrics):.4f}")
            self.notify(change, timeout=8)
            self.pane(QuantPane).note = change
            self.pane(QuantPane).refresh_status()
        else:
            stopped = " (stopped early)" if m.result.stopped else ""
            self.notify(f"trained{stopped}: {now}", timeout=8)
        self.refresh_status()

    def _record(self, write: Any) -> None:
        try:
            self.runs = write()
        except OSError as e:
            self.notify(f"could not update the run history: {e}", severity="warning")

    @while_open
    def on_build_done(self, m: msg.BuildDone) -> None:
        s = self.session
        self._record(lambda: record_build(s.paths["runs"], self.runs,
                                          s.paths["run"] / "int_model.json",
                                          m.summary["build"].get("variant", s.variant),
                                          m.summary, m.summary["build"].get("lang", "c")))
        self.pane(CodePane).built(m.summary)
        self.pane(RunsPane).refresh_all()
        self.pane(QuantPane).refresh_status()  # its flash line names the measured bytes
        v = m.summary["verify"]
        ok = v["ok"]
        us = figures.microseconds(v["cycles"]["mean"], s.project.clock_mhz)
        self.notify(f"build: {v['inference_flash']:,} B flash, {v['cycles']['mean']:,.0f} "
                    f"cycles ({us} at {s.project.clock_mhz:g} MHz), "
                    f"{'bit-exact' if ok else 'CHECK FAILED'}",
                    severity="information" if ok else "error", timeout=8)

    @while_open
    def on_work_failed(self, m: msg.WorkFailed) -> None:
        self.note = ""
        self.notify(m.error, title=f"{m.what} failed", severity="error", timeout=12)
        if m.what == "build":
            self.pane(CodePane).show_error(m.error)
        if m.what == "sweep":
            self.sweep_failed()
        if m.what == "requantize":
            self.session.stale = False
            self.refresh_panes()
        self.refresh_status()
