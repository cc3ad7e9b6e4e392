"""The App: five tabs over one Session, global keys, message routing, autosave.

The panes own their widgets and figures; the workers (qnn_tui.workers) own the long work;
this module only wires them together."""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from qnn_tui import figures
from qnn_tui import messages as msg
from qnn_tui.code_pane import CodePane
from qnn_tui.fields import EditScreen
from qnn_tui.help import HelpScreen
from qnn_tui.palette import system_commands
from qnn_tui.quant_pane import QuantPane
from qnn_tui.runs import load_runs, record_build, record_training
from qnn_tui.runs_pane import RunsPane
from qnn_tui.session import SUMMARY, Session
from qnn_tui.sim_pane import SimPane
from qnn_tui.train_pane import TrainPane
from qnn_tui.workers import WorkersMixin

TABS = {"sim": ("1 Simulator", SimPane), "train": ("2 Training", TrainPane),
        "quant": ("3 Quantization", QuantPane), "code": ("4 Codegen", CodePane),
        "runs": ("5 Runs", RunsPane)}
PANES = tuple(cls for _, cls in TABS.values())
REQUANTIZE_AFTER = 0.15  # s of quiet after the last bit-width change before re-quantizing


class PaneTabs(TabbedContent):
    """TabbedContent that follows the focus only while it is still there: tab keys typed
    fast (2 then 3) would otherwise have the first pane's late focus event switch back."""

    def _on_tab_pane_focused(self, event: TabPane.Focused) -> None:
        focused = self.screen.focused
        if focused is None or event.tab_pane not in focused.ancestors_with_self:
            event.stop()
            event.prevent_default()  # Textual would call TabbedContent's handler too


class QnnApp(WorkersMixin, App):
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "qnn-tui"
    BINDINGS = [
        # priority: the tab changes (and takes the focus) before the next key is passed on,
        # so "4" then "e" typed in one go exports (an Input still gets its digits)
        Binding("1", "show_tab('sim')", "Sim", show=False, priority=True),
        Binding("2", "show_tab('train')", "Train", show=False, priority=True),
        Binding("3", "show_tab('quant')", "Quant", show=False, priority=True),
        Binding("4", "show_tab('code')", "Code", show=False, priority=True),
        Binding("5", "show_tab('runs')", "Runs", show=False, priority=True),
        # the panes' action keys also work from anywhere (shown in their pane's footer)
        Binding("g", "generate", "generate", show=False),
        Binding("t", "train", "train", show=False),
        Binding("p", "pause", "pause", show=False),
        Binding("x", "stop", "stop", show=False),
        Binding("f", "finetune", "fine-tune", show=False),
        Binding("b", "build", "build", show=False),
        Binding("question_mark", "help", "help"),
        Binding("ctrl+s", "save", "save", show=False),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, project_dir: str | Path, warm_up: bool = True) -> None:
        super().__init__()
        self.project_dir = Path(project_dir)
        self.session = Session.open(project_dir)
        self.runs, runs_warning = load_runs(self.session.paths["runs"])
        if runs_warning:
            self.session.warnings.append(runs_warning)
        self.do_warm_up = warm_up
        self.note = ""
        self._requantize_timer: Any = None
        self.mounted_at: float | None = None
        self.tab_switched_at = 0.0
        self.painted = False  # plots wait for the first frame (plotext takes ~0.3 s to load)

    # ---- layout ---------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with PaneTabs(id="tabs"):
            for tab_id, (title, cls) in TABS.items():
                with TabPane(title, id=tab_id):
                    yield cls(self.session, id=f"{tab_id}-pane")
        yield Static(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.mounted_at = time.perf_counter()
        self.sub_title = str(self.project_dir)
        for warning in self.session.warnings:
            self.notify(warning, severity="warning", title="project", timeout=15)
        self.refresh_status()
        self.call_after_refresh(self.focus_pane, "sim")
        if self.do_warm_up:
            self.warm_up()
        if self.session.stale:
            self.run_training("requantize")
        if self.session.created and not self.session.paths["dataset"].exists():
            self.generate_data()  # a new project: its dataset is quick to make, make it

    def on_ready(self) -> None:
        self.painted = True
        self.pane(SimPane).refresh_plot()
        self.pane(TrainPane).refresh_plot()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from system_commands(self)

    def pane(self, cls: type) -> Any:
        return self.query_one(cls)

    def focus_pane(self, tab_id: str) -> None:
        """Focus the pane's first box at once, so that its keys work even when pressed in
        the same instant as the tab's number (before a scroll box knows it can scroll, the
        pane itself takes the focus)."""
        if self.query_one(TabbedContent).active != tab_id:
            return  # a later tab key won: focusing here would switch back to this tab
        pane = self.query_one(f"#{tab_id}-pane")
        focusable = [w for w in pane.query("*") if w.focusable]
        if focusable:
            focusable[0].focus()
        elif pane.can_focus:
            pane.focus()

    def refresh_panes(self) -> None:
        for cls in PANES:
            self.pane(cls).refresh_all()

    @property
    def busy(self) -> dict[int, str]:
        """The work whose threads run now (not the background JAX import): k -> name."""
        return {k: name for k, (name, _) in enumerate(self.running()) if name != "warm-up"}

    def refresh_status(self) -> None:
        text = "ready"
        running = self.running()
        if running:
            names = list(dict.fromkeys(name for name, replaced in running if not replaced))
            replaced = sum(replaced for _, replaced in running)
            text = "[reverse] BUSY [/] " + "; ".join(names or ["finishing"])
            if replaced:
                text += f" ({replaced} replaced, finishing)"
        if self.pauser is not None and not self.pauser.running.is_set():
            text += "  | PAUSED (p resumes, x stops)"
        elif self.note:
            text += f"  | {self.note}"
        self.query_one("#status", Static).update(text)

    # ---- actions --------------------------------------------------------------------------
    def action_show_tab(self, tab_id: str) -> None:
        self.tab_switched_at = time.perf_counter()  # for the latency test
        self.query_one(TabbedContent).active = tab_id
        self.focus_pane(tab_id)

    @on(TabbedContent.TabActivated)
    def tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id:
            self.call_after_refresh(self.focus_pane, event.pane.id)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """Screenshots go into the project folder (Textual's default, ~/Downloads, may not
        exist)."""
        if path is None:
            folder = self.project_dir / "screenshots"
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                self.notify(f"cannot create {folder}: {e}", severity="error")
                return None
            path = str(folder)
        return super().deliver_screenshot(filename, path, time_format)

    def autosave(self) -> None:
        try:
            self.session.save()
        except OSError as e:
            self.notify(f"could not save the project: {e}", severity="error")

    def action_save(self) -> None:
        self.autosave()
        self.notify(f"saved {self.session.paths['project']}", timeout=2)

    async def action_quit(self) -> None:
        self.autosave()
        self.workers.cancel_all()
        self.exit()

    def action_generate(self) -> None:
        self.generate_data()

    def action_import_data(self) -> None:
        def done(text: str | None) -> None:
            if text and text.strip():
                self.import_data(text.strip())

        self.push_screen(EditScreen(
            "import recorded data (.npz with x, y; or .csv with x:NAME, y:NAME[unit] columns)"
            ": file path", self.session.project.data_source or ""), done)

    def action_train(self) -> None:
        self.action_show_tab("train")
        train = self.pane(TrainPane)
        train.state, train.kind = "running", "train"
        self.session.history = []
        self.pane(TrainPane).refresh_plot()
        self.run_training("train")

    def action_pause(self) -> None:
        p = self.pauser
        if p is None:
            self.notify("nothing is training.", timeout=2)
            return
        pane = self.pane(TrainPane)
        if p.running.is_set():
            p.running.clear()
            pane.state = "paused"
        else:
            p.running.set()
            pane.state = "running"
        pane.show_status()
        self.refresh_status()

    def action_stop(self) -> None:
        if self.pauser is None:
            self.notify("nothing is training.", timeout=2)
            return
        self.pauser.stop_requested = True
        self.note = "stopping after this epoch..."
        self.refresh_status()

    def training_runs(self) -> bool:
        """A training or fine-tune (not a re-quantization) is running, not yet replaced."""
        return any(name == "training" and not replaced for name, replaced in self.running())

    def action_finetune(self) -> None:
        if self.training_runs():
            self.notify("a training is running: let it finish, or stop it (x) first.",
                        severity="warning", timeout=4)
            return
        self.action_show_tab("quant")
        self.session.history = []
        train = self.pane(TrainPane)
        train.state, train.kind = "running", "finetune"
        self.run_training("finetune")

    def action_build(self) -> None:
        if self.training_runs():
            self.notify("a training is running: its model replaces the current one, so build "
                        "when it ends (or stop it with x).", severity="warning", timeout=5)
            return
        self.action_show_tab("code")
        self.run_build()

    def action_export(self) -> None:
        self.action_show_tab("code")
        self.pane(CodePane).action_export()

    def action_clock(self) -> None:
        self.action_show_tab("code")
        self.pane(CodePane).action_clock()

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

    def on_status_changed(self, m: msg.StatusChanged) -> None:
        self.note = m.text
        if m.toast:
            self.notify(m.text, severity="warning", timeout=8)
        self.refresh_status()

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

    def on_train_progress(self, m: msg.TrainProgress) -> None:
        p = m.progress
        what = "fine-tune" if m.kind == "finetune" else p.phase
        self.note = f"{what}: epoch {p.epoch}/{p.epochs}"
        self.pane(TrainPane).progress(p, m.kind)
        self.refresh_status()

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
            if m.before and isinstance(m.before.get("mse_int"), int | float):
                change = (f"fine-tune: {figures.best_mse(m.before, short=True)} -> "
                          f"{m.metrics['mse_int']:.4f}")
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

    def on_build_done(self, m: msg.BuildDone) -> None:
        s = self.session
        self._record(lambda: record_build(s.paths["runs"], self.runs,
                                          s.paths["run"] / "int_model.json",
                                          m.summary["build"].get("variant", s.variant),
                                          m.summary))
        self.pane(CodePane).built(m.summary)
        self.pane(RunsPane).refresh_all()
        v = m.summary["verify"]
        ok = v["ok"]
        us = figures.microseconds(v["cycles"]["mean"], s.project.clock_mhz)
        self.notify(f"build: {v['inference_flash']:,} B flash, {v['cycles']['mean']:,.0f} "
                    f"cycles ({us} at {s.project.clock_mhz:g} MHz), "
                    f"{'bit-exact' if ok else 'CHECK FAILED'}",
                    severity="information" if ok else "error", timeout=8)

    def on_work_failed(self, m: msg.WorkFailed) -> None:
        self.note = ""
        self.notify(m.error, title=f"{m.what} failed", severity="error", timeout=12)
        if m.what == "build":
            self.pane(CodePane).show_error(m.error)
        if m.what == "requantize":
            self.session.stale = False
            self.refresh_panes()
        self.refresh_status()
