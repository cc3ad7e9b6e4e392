"""The state of an open project (Textual-free, JAX-free): the configuration, and what has been
made from it so far. Workers fill it in; panes read it.

Every file read here may be anything (hand-edited, truncated, from another version): what
cannot be used is left alone on disk, skipped, and said in `warnings` (one line each)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.errors import QnnError
from qnn.project import Project, adopt_run, open_project, paths, save_project

SUMMARY = "summary.json"  # the last build-and-verify, in the build folder

# what the panes read from each file: a file without these is not used
PROGRESS_KEYS = ("phase", "epoch", "epochs", "val_float", "val_fq", "val_int",
                 "samples_per_s", "elapsed")
SUMMARY_KEYS = {"build": ("size", "integer_only", "problems"),
                "verify": ("cycles", "inferences", "mismatched_rows", "cycles_per_mac",
                           "peak_stack", "inference_flash")}


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def check_metrics(m: Any) -> str | None:
    """Why `m` (metrics.json) is unusable, or None."""
    if not isinstance(m, dict):
        return f"a JSON {type(m).__name__}, not an object"
    if m:  # {} is fine: an imported model has no figures yet
        for key in ("mse_int", "mse_float"):
            if not _number(m.get(key)):
                return f"no number {key!r}"
    for key in ("rmse_per_output", "rmse_per_output_float"):
        v = m.get(key, {})
        if not isinstance(v, dict) or not all(
                isinstance(e, dict) and _number(e.get("rmse")) for e in v.values()):
            return f"{key!r} is not a table of RMSEs"
    return None


def check_history(h: Any) -> str | None:
    if not isinstance(h, list):
        return f"a JSON {type(h).__name__}, not a list of epochs"
    for e in h:
        if not isinstance(e, dict) or any(k not in e for k in PROGRESS_KEYS):
            return "an entry is not an epoch record"
        if not all(_number(e[k]) or (e[k] is None and k in ("val_fq", "val_int"))
                   for k in PROGRESS_KEYS if k != "phase"):
            return "an epoch record holds a non-number"
    return None


def check_summary(s: Any) -> str | None:
    if not isinstance(s, dict):
        return f"a JSON {type(s).__name__}, not an object"
    for part, keys in SUMMARY_KEYS.items():
        if not isinstance(s.get(part), dict):
            return f"no {part!r} object"
        missing = [k for k in keys if k not in s[part]]
        if missing:
            return f"{part!r} lacks {', '.join(missing)}"
    size, cycles = s["build"]["size"], s["verify"]["cycles"]
    if not isinstance(size, dict) or not isinstance(cycles, dict) or not all(
            _number(cycles.get(k)) for k in ("min", "mean", "max")):
        return "malformed size or cycles"
    return None


def read_json(path: Path, check: Any) -> tuple[Any, str | None]:
    """(content, None) or (None, why it is unusable)."""
    try:
        obj = json.loads(path.read_text())
    except FileNotFoundError:
        return None, "missing"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        return None, f"unreadable ({type(e).__name__})"
    why = check(obj)
    return (None, why) if why else (obj, None)


@dataclass
class Session:
    dir: Path
    project: Project
    warnings: list[str] = field(default_factory=list)  # shown once on opening
    dataset: Any = None  # sim.dataset.Dataset, once generated or loaded
    result: Any = None  # qnn.train.TrainResult of the last training (in memory)
    int_model: Any = None  # qnn.intmodel.IntModel of the run folder / last result
    metrics: dict[str, Any] | None = None
    history: list[Any] = field(default_factory=list)  # Progress-like dicts/objects
    build: dict[str, Any] | None = None  # last build-and-verify summary
    stale: bool = False  # the bit widths changed since int_model was made
    lang: str = "c"  # what the codegen pane shows and builds: "c" or "rust"
    created: bool = False  # the folder was new: the project has just been made
    sweep: dict[str, Any] | None = None  # the last sweep's sweep.json (qnn_tui.sweeps)
    sweep_live: list[Any] | None = None  # points of the running sweep, as measured

    @classmethod
    def open(cls, d: str | Path) -> Session:
        opened = open_project(d)
        s = cls(opened.dir, opened.project, created=opened.created)
        if opened.warning or opened.created:  # defaults: keep a trained model as it is
            kept = adopt_run(s.project, s.paths["run"])
            if opened.warning:
                s.warnings.append(opened.warning + (f" But {kept}." if kept else ""))
            elif kept:
                s.warnings.append(f"{s.paths['project']} was missing: made it; {kept}.")
            if kept:
                save_project(s.dir, s.project)
        s.load_artifacts()
        s.load_sweep()
        return s

    @property
    def variant(self) -> str:
        """The project's C variant (one of qnn.project.VARIANTS, checked on loading)."""
        return self.project.variant

    @property
    def warning(self) -> str | None:
        return " ".join(self.warnings) or None

    @property
    def paths(self) -> dict[str, Path]:
        return paths(self.dir)

    def save(self) -> None:
        save_project(self.dir, self.project)

    def load_artifacts(self) -> None:
        """Pick up an earlier run folder and build (cheap: JSON only)."""
        run = self.paths["run"]
        if not (run / "int_model.json").is_file():
            if run.is_dir() and any(run.iterdir()):
                self.warnings.append(f"{run}: no int_model.json, so no model; train again "
                                     "(t, pane 2).")
            return
        from qnn.run import HISTORY, METRICS, load_int_model

        try:
            self.int_model = load_int_model(run)
        except QnnError as e:
            self.warnings.append(f"{e} The workbench starts without a model.")
            return
        self.metrics, why = read_json(run / METRICS, check_metrics)
        if why:
            self.warnings.append(f"{run / METRICS}: {why}; the model is kept, its figures "
                                 "come back with the next training or fine-tune.")
        history, why = read_json(run / HISTORY, check_history)
        self.history = history or []
        if why and why != "missing":
            self.warnings.append(f"{run / HISTORY}: {why}; no loss curves until the next "
                                 "training.")
        self.stale = not self.bits_match()
        summary = self.paths["build"] / SUMMARY
        if summary.is_file():
            self.build, why = read_json(summary, check_summary)
            if self.build is not None:  # reopen on the language last built
                self.lang = "rust" if self.build["build"].get("lang") == "rust" else "c"
            if why:
                self.warnings.append(f"{summary}: {why}; press b (pane 4) to build again.")

    def load_sweep(self) -> None:
        from qnn_tui.sweeps import SWEEP_JSON, load_sweep

        self.sweep, why = load_sweep(self.paths["sweep"])
        if why and why != "missing":
            self.warnings.append(f"{self.paths['sweep'] / SWEEP_JSON}: {why}; the Explore pane "
                                 "starts empty (s in pane 5 sweeps again).")

    def bits_match(self) -> bool:
        m = self.int_model
        if m is None:
            return False
        return ([layer.w_bits for layer in m.layers] == list(self.project.w_bits)
                and [layer.a_bits for layer in m.layers[:-1]] == list(self.project.a_bits))
