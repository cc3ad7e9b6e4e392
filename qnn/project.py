"""A workbench project: one folder holding a readable configuration and its artifacts.

    DIR/project.json   the configuration (below), written atomically
    DIR/dataset.npz    the generated dataset (sim.dataset.save_dataset)
    DIR/run/           the run folder (qnn.run.save_run): int_model.json, params, metrics...
    DIR/c/             the generated qnn_model.c / qnn_model.h
    DIR/build/         the firmware build (qnn.elf, qnn.map, build.log, *.su)

project.json (every key optional; missing keys take the defaults of `Project`)::

    {"format": "qnn-project", "version": 1,
     "model": "magnet6", "sim_params": {...overrides of model.default_params()...},
     "pose_low": [...], "pose_high": [...], "n": 20000, "seed": 1,
     "hidden": [16, 16], "w_bits": [8, 8, 8], "a_bits": [8, 8],
     "epochs": [150, 30, 5], "epochs_finetune": 15, "lr": 0.03, "batch_size": 64,
     "variant": "loop", "pose": [...]}

Textual-free and JAX-free: plain dataclasses and functions the workbench (and tests) call.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from common.errors import QnnError
from common.fileio import atomic_write_json

FORMAT = "qnn-project"
VERSION = 1
PROJECT_FILE = "project.json"
DATASET = "dataset.npz"
RUN = "run"
C_DIR = "c"
BUILD_DIR = "build"
VARIANTS = ("loop", "unrolled")  # the C variants (codegen.cgen.VARIANTS)
OLD_VARIANTS = {"compact": "loop", "fast": "unrolled"}  # names before issue 8
BITS_RANGE = (2, 8)


def default_dir() -> Path:
    """Where `qnn-tui` with no argument keeps its default project:
    $QNN_TUI_HOME, else $XDG_DATA_HOME/qnn-tui/default, else ~/.local/share/qnn-tui/default."""
    if os.environ.get("QNN_TUI_HOME"):
        return Path(os.environ["QNN_TUI_HOME"])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "qnn-tui" / "default"


@dataclass
class Project:
    model: str = "magnet6"
    sim_params: dict[str, Any] = field(default_factory=dict)
    pose_low: list[float] | None = None  # None: the model's default range
    pose_high: list[float] | None = None
    n: int = 20000
    seed: int = 1
    hidden: list[int] = field(default_factory=lambda: [16, 16])
    w_bits: list[int] = field(default_factory=lambda: [8, 8, 8])  # one per layer
    a_bits: list[int] = field(default_factory=lambda: [8, 8])  # one per hidden layer
    epochs: list[int] = field(default_factory=lambda: [150, 30, 5])  # = TrainConfig defaults
    epochs_finetune: int = 15
    lr: float = 0.03
    batch_size: int = 64
    variant: str = "loop"
    pose: list[float] | None = None  # the pose shown in the simulator pane

    # ---- derived -------------------------------------------------------------------------
    @property
    def n_layers(self) -> int:
        return len(self.hidden) + 1

    def train_config(self) -> Any:
        from qnn.config import TrainConfig

        f, q, i = self.epochs
        return TrainConfig(hidden=tuple(self.hidden), w_bits=tuple(self.w_bits),
                           a_bits=tuple(self.a_bits), epochs_float=f, epochs_qat=q,
                           epochs_int=i, epochs_finetune=self.epochs_finetune,
                           batch_size=self.batch_size, lr=self.lr, seed=self.seed)

    def validate(self) -> None:
        """Raise QnnError on nonsense (wrong types, lengths, ranges)."""
        from sim.models import get_model

        model = get_model(self.model)
        model.resolve_params(self.sim_params)
        model.pose_range(self.pose_low, self.pose_high)
        if self.pose is not None and len(self.pose) != model.n_out:
            raise QnnError(f"pose must have {model.n_out} values.")
        if not 10 <= self.n <= 5_000_000:
            raise QnnError(f"dataset size {self.n} outside 10..5000000.")
        if len(self.epochs) != 3:
            raise QnnError("epochs must be three numbers: float, qat, int.")
        if len(self.w_bits) != self.n_layers or len(self.a_bits) != self.n_layers - 1:
            raise QnnError(f"w_bits needs {self.n_layers} values and a_bits "
                           f"{self.n_layers - 1} for hidden sizes {self.hidden}.")
        if self.variant not in VARIANTS:
            raise QnnError(f"variant {self.variant!r}: choose one of {', '.join(VARIANTS)}.")
        self.train_config().validate()

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, obj: Any) -> Project:
        if not isinstance(obj, dict):
            raise QnnError("not a JSON object.")
        if obj.get("format", FORMAT) != FORMAT:
            raise QnnError(f"format {obj.get('format')!r} is not {FORMAT!r}.")
        if int(obj.get("version", VERSION)) > VERSION:
            raise QnnError(f"written by a newer version (format version {obj['version']}).")
        unknown = sorted(set(obj) - {f.name for f in fields(cls)} - {"format", "version"})
        if unknown:
            raise QnnError(f"unknown key(s) {', '.join(unknown)}.")
        d = cls()
        kw = {}
        for f in fields(cls):
            if f.name not in obj:
                continue
            v, default = obj[f.name], getattr(d, f.name)
            if f.name == "variant":
                v = OLD_VARIANTS.get(v, v)
            kw[f.name] = _coerce(f.name, v, default)
        p = cls(**kw)
        p.validate()
        return p


def _coerce(name: str, v: Any, default: Any) -> Any:
    ok = True
    if v is None:
        ok = name in ("pose_low", "pose_high", "pose")
    elif isinstance(default, bool) or isinstance(v, bool):
        ok = False
    elif isinstance(default, int):
        ok = isinstance(v, int)
    elif isinstance(default, float):
        ok = isinstance(v, int | float)
        v = float(v) if ok else v
    elif isinstance(default, str):
        ok = isinstance(v, str)
    elif isinstance(default, dict):
        ok = isinstance(v, dict)
    elif isinstance(default, list) or default is None:
        ok = isinstance(v, list) and all(isinstance(x, int | float) and not isinstance(x, bool)
                                         for x in v)
        if ok and isinstance(default, list) and default and isinstance(default[0], int):
            ok = all(isinstance(x, int) for x in v)
    if not ok:
        raise QnnError(f"{name}: unexpected value {v!r}.")
    return v


@dataclass
class Opened:
    project: Project
    dir: Path
    warning: str | None = None  # set when the file was unusable and defaults were taken
    created: bool = False


def paths(d: str | Path) -> dict[str, Path]:
    d = Path(d)
    return {"project": d / PROJECT_FILE, "dataset": d / DATASET, "run": d / RUN,
            "c": d / C_DIR, "build": d / BUILD_DIR}


def open_project(d: str | Path) -> Opened:
    """Open the project in folder `d`, creating it (with defaults) if it does not exist.

    A file that cannot be used (unreadable, not JSON, nonsense values, a newer format) is
    kept as `project.json.bad` and the defaults are used; `warning` says what happened.
    """
    d = Path(d).expanduser()
    if d.exists() and not d.is_dir():
        raise QnnError(f"{d}: not a folder; give a folder for the project.")
    path = d / PROJECT_FILE
    if not path.exists():
        project = Project()
        save_project(d, project)
        return Opened(project, d, created=True)
    try:
        project = Project.from_json(json.loads(path.read_text()))
        return Opened(project, d)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, QnnError, TypeError,
            ValueError) as e:
        bad = path.with_name(PROJECT_FILE + ".bad")
        shutil.copy2(path, bad)
        reason = " ".join(str(e).split())
        return Opened(Project(), d, warning=f"{path} is unusable ({reason}); kept it as "
                      f"{bad.name} and started from the defaults.")


def save_project(d: str | Path, project: Project) -> None:
    atomic_write_json(Path(d) / PROJECT_FILE, project.to_json())


def step_bits(project: Project, kind: str, layer: int, delta: int) -> bool:
    """Change weight ("w") or activation ("a") bits of `layer` by delta within 2..8.
    Returns False when there is nothing to change (output layer has no activation bits,
    or the value is at its limit)."""
    bits = project.w_bits if kind == "w" else project.a_bits
    if not 0 <= layer < len(bits):
        return False
    new = min(max(bits[layer] + delta, BITS_RANGE[0]), BITS_RANGE[1])
    if new == bits[layer]:
        return False
    bits[layer] = new
    return True
