"""The App: six tabs over one Session, global keys, message routing, autosave.

The panes own their widgets and figures; the workers (qnn_tui.workers) own the long work and
qnn_tui.replies what follows their messages; this module only wires them together."""

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

from qnn_tui.busy import busy_names, status_line
from qnn_tui.code_pane import CodePane
from qnn_tui.explore_actions import ExploreMixin
from qnn_tui.explore_pane import ExplorePane
from qnn_tui.fields import EditScreen
from qnn_tui.help import HelpScreen
from qnn_tui.palette import system_commands
from qnn_tui.quant_pane import QuantPane
from qnn_tui.replies import RepliesMixin
from qnn_tui.runs import load_runs
from qnn_tui.runs_pane import RunsPane
from qnn_tui.session import Session
from qnn_tui.sim_pane import SimPane
from qnn_tui.train_pane import TrainPane
from qnn_tui.workers import WorkersMixin

TABS = {"sim": ("1 Simulator", SimPane), "train": ("2 Training", TrainPane),
        "quant": ("3 Quantization", QuantPane), "code": ("4 Codegen", CodePane),
        "explore": ("5 Explore", ExplorePane), "runs": ("6 Runs", RunsPane)}
PANES = tuple(cls for _, cls in TABS.values())


class PaneTabs(TabbedContent):
    """TabbedContent that follows the focus only while it is still there: tab keys typed
    fast (2 then 3) would otherwise have the first pane's late focus event switch back."""

    def _on_tab_pane_focused(self, event: TabPane.Focused) -> None:
        focused = self.screen.focused
        if focused is None or event.tab_pane not in focused.ancestors_with_self:
            event.stop()
            event.prevent_default()  # Textual would call TabbedContent's handler too


class QnnApp(ExploreMixin, RepliesMixin, WorkersMixin, App):
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "qnn-tui"
    BINDINGS = [
        # priority: the tab changes (and takes the focus) before the next key is passed on,
        # so "4" then "e" typed in one go exports (an Input still gets its digits)
        Binding("1", "show_tab('sim')", "Sim", show=False, priority=True),
        Binding("2", "show_tab('train')", "Train", show=False, priority=True),
        Binding("3", "show_tab('quant')", "Quant", show=False, priority=True),
        Binding("4", "show_tab('code')", "Code", show=False, priority=True),
        Binding("5", "show_tab('explore')", "Explore", show=False, priority=True),
        Binding("6", "show_tab('runs')", "Runs", show=False, priority=True),
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
        return busy_names(self.running())

    def refresh_status(self) -> None:
        paused = self.pauser is not None and not self.pauser.running.is_set()
        self.query_one("#status", Static).update(status_line(self.running(), paused, self.note))

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
        """k in panes 4 and 5: one clock, the project's, for every µs shown."""
        self.pane(CodePane).action_clock()
