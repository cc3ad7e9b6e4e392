"""The long work, in thread workers that loop over the core's generators and post messages.

A mixin of the App: each worker is exclusive in its group (a new one cancels the old one),
honours cancellation between epochs, and turns every QnnError into a WorkFailed message.
Only these threads import JAX (through qnn_tui.core's training functions)."""

from __future__ import annotations

import contextlib
import threading
import time
import traceback
from collections.abc import Iterator

from textual import work
from textual.worker import Worker, get_current_worker

from common.errors import QnnError
from qnn_tui.busy import Running
from qnn_tui.messages import (
    BuildDone,
    BusyChanged,
    DatasetReady,
    StatusChanged,
    SweepDone,
    SweepStep,
    TrainDone,
    TrainProgress,
    WorkFailed,
)


class WorkersMixin:
    """Needs `self.session` (qnn_tui.session.Session) and `self.post_message`.

    What is busy is what runs (qnn_tui.busy): each worker's thread registers itself in
    `running` when it starts its work and removes itself when it ends (whatever happens),
    posting BusyChanged both times."""

    pauser = None  # core.Pauser of the running training, if any
    sweep_stop: threading.Event | None = None  # set: the running sweep stops at its next check
    _running_work: Running | None = None  # not `_running`: Textual's App has one
    _running_lock = threading.Lock()  # guards making `_running_work`, once per app
    _finish_lock = threading.Lock()  # one training at a time writes the run folder

    def _work(self) -> Running:
        with self._running_lock:
            if self._running_work is None:
                self._running_work = Running()
            return self._running_work

    @contextlib.contextmanager
    def _working(self, name: str) -> Iterator[Worker]:
        worker = get_current_worker()
        try:
            with self._work().working(name, worker):
                self.post_message(BusyChanged())
                yield worker
        finally:
            self.post_message(BusyChanged())

    def running(self) -> list[tuple[str, bool]]:
        """(name, replaced) of each work whose thread is running now (Running.now)."""
        return self._work().now()

    def _fail(self, what: str, e: BaseException) -> None:
        if get_current_worker().is_cancelled:
            return  # replaced by a newer one of its kind: its failure is no news
        if isinstance(e, QnnError):
            self.post_message(WorkFailed(what, str(e)))
        else:  # a bug: keep the UI alive, show one line, keep the trace in the log
            self.log.error(traceback.format_exc())
            self.post_message(WorkFailed(what, f"internal error: {type(e).__name__}: {e}"))

    @work(thread=True, exclusive=True, group="warmup", name="warm-up")
    def warm_up(self) -> None:
        """Import JAX in the background so the first training starts sooner (not "busy")."""
        try:
            import qnn.train  # noqa: F401
        except Exception as e:  # noqa: BLE001
            self._fail("loading JAX", e)

    @work(thread=True, exclusive=True, group="data", name="generating data")
    def generate_data(self) -> None:
        from qnn_tui import core

        with self._working("generating data"):
            s = self.session
            t0 = time.perf_counter()
            self.post_message(StatusChanged(f"generating {s.project.n:,} samples..."))
            try:
                s.dataset = core.generate_dataset(s.project, s.paths["dataset"])
            except Exception as e:  # noqa: BLE001
                self._fail("generating data", e)
                return
            self.post_message(DatasetReady(s.dataset.n, time.perf_counter() - t0))

    @work(thread=True, exclusive=True, group="data", name="importing data")
    def import_data(self, source: str) -> None:
        from qnn_tui import core

        with self._working("importing data"):
            s = self.session
            t0 = time.perf_counter()
            self.post_message(StatusChanged(f"checking {source}..."))
            try:
                s.dataset = core.import_dataset(source, s.project, s.paths["dataset"])
            except Exception as e:  # noqa: BLE001
                self._fail("importing data", e)
                return
            self.post_message(DatasetReady(s.dataset.n, time.perf_counter() - t0, source))

    @work(thread=True, exclusive=True, group="train", name="training")
    def run_training(self, kind: str = "train") -> None:
        """kind: "train" (all phases), "finetune" (qat + int from the last result) or
        "requantize" (no epochs: the last result at the new bit widths)."""
        with self._working("re-quantizing" if kind == "requantize" else "training") as worker:
            self._train(kind, worker)

    def _train(self, kind: str, worker: Worker) -> None:
        from qnn_tui import core

        s = self.session
        self.pauser = pauser = core.Pauser(lambda: worker.is_cancelled)
        try:
            if kind == "train":
                self._dataset()  # a first training may make the project's dataset
            elif s.dataset is None:
                s.dataset = core.load_dataset(s.paths["dataset"])
            cfg = s.project.train_config()
            note = core.clamp_batch(cfg, s.dataset.n)
            if note:
                self.post_message(StatusChanged(note, toast=True))
            init = None
            if kind != "train":
                if s.result is None:
                    if s.int_model is None:
                        raise QnnError("no trained model yet; train first (key t, pane 2).")
                    s.result = core.result_from_run(s.paths["run"])
                init = s.result
                if list(init.spec.sizes[1:-1]) != list(s.project.hidden):
                    raise QnnError("the hidden sizes changed since the last training; train "
                                   "again (key t in pane 2).")
                if (init.spec.sizes[0], init.spec.sizes[-1]) != (s.dataset.n_in,
                                                                  s.dataset.n_out):
                    raise QnnError("the dataset has other inputs/outputs than the trained "
                                   "model (another forward model?); train again (key t, "
                                   "pane 2).")
            if kind == "requantize":
                cfg.epochs_finetune, cfg.epochs_int = 0, 0
            before = s.metrics
            self.post_message(StatusChanged(f"{kind}: starting (JAX compiles first)..."))
            for event in core.training(s.dataset, cfg, pauser.check, init=init):
                if isinstance(event, tuple):
                    result, val_ds = event
                    if kind == "requantize":  # no epochs: keep the curves of the last run
                        result.history = list(init.history)
                    with self._finish_lock:  # a replaced training must not write the run
                        if worker.is_cancelled:
                            return
                        metrics = core.finish(result, val_ds, s.dataset, s.paths["run"],
                                              s.paths["dataset"], kind)
                        self.post_message(TrainDone(kind, result, metrics, before))
                elif not worker.is_cancelled:  # a replaced training must not draw
                    self.post_message(TrainProgress(event, kind))
        except Exception as e:  # noqa: BLE001
            self._fail(kind, e)
        finally:
            if self.pauser is pauser:
                self.pauser = None

    @work(thread=True, exclusive=True, group="build", name="building")
    def run_build(self) -> None:
        from qnn_tui import core

        with self._working("building"):
            s = self.session
            tools = "rustc and arm-none-eabi-gcc" if s.lang == "rust" else "arm-none-eabi-gcc"
            self.post_message(StatusChanged(f"building with {tools}, then emulating..."))
            try:
                if s.int_model is None:
                    raise QnnError("no trained model yet; train first (key t, pane 2).")
                if s.stale:
                    raise QnnError("the bit widths changed since the model was made; wait "
                                   "for the re-quantization or fine-tune (key f, pane 3).")
                summary = core.build_and_verify(s.paths["run"], s.paths["build"],
                                                s.variant, lang=s.lang)
            except Exception as e:  # noqa: BLE001
                self._fail("build", e)
                return
            self.post_message(BuildDone(summary))

    def _dataset(self) -> None:
        """The session's dataset: loaded, or generated first when the project has none."""
        from qnn_tui import core

        s = self.session
        if s.dataset is None and not s.paths["dataset"].is_file():
            self.post_message(StatusChanged("no dataset yet: generating it first..."))
            t0 = time.perf_counter()
            s.dataset = core.generate_dataset(s.project, s.paths["dataset"])
            self.post_message(DatasetReady(s.dataset.n, time.perf_counter() - t0))
        if s.dataset is None:
            s.dataset = core.load_dataset(s.paths["dataset"])

    @work(thread=True, exclusive=True, group="sweep", name="sweeping")
    def run_sweep(self) -> None:
        """Train and measure the project's sweep (qnn_tui.sweeps); x sets `sweep_stop`."""
        from qnn_tui import sweeps

        with self._working("sweeping") as worker:
            s = self.session
            self.sweep_stop = stop = threading.Event()
            try:
                self._dataset()
                _, _, note = sweeps.configs(s.project, s.dataset.n)
                if note:
                    self.post_message(StatusChanged(note, toast=True))
                self.post_message(StatusChanged("sweep: starting (JAX compiles first)..."))
                for ev in sweeps.run_sweep(s.project, s.dataset, s.paths["dataset"],
                                           s.paths["sweep"],
                                           lambda: stop.is_set() or worker.is_cancelled):
                    if ev is None or isinstance(ev, dict):
                        self.post_message(SweepDone(ev))
                    else:
                        self.post_message(SweepStep(ev))
            except Exception as e:  # noqa: BLE001
                self._fail("sweep", e)
            finally:
                if self.sweep_stop is stop:
                    self.sweep_stop = None
