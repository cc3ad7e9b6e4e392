"""A workbench project: one folder holding a readable configuration and its artifacts.

    DIR/project.json   the configuration (below), written atomically
    DIR/dataset.npz    the generated dataset (sim.dataset.save_dataset)
    DIR/run/           the run folder (qnn.run.save_run): int_model.json, params, metrics...
    DIR/build/         the firmware build: qnn_model.c/.h, qnn.elf, qnn.map, build.log, *.su
                       and summary.json (replaced whole by each successful build)
    DIR/c/             where the workbench exports qnn_model.c/.h by default (`export_dir`)
    DIR/runs.json      the history of trained/built configurations (qnn_tui.runs)
    DIR/sweep/         the Explore pane's last sweep: sweep.json, points/NN-…/ run folders

project.json (every key optional; missing keys take the defaults of `Project`)::

    {"format": "qnn-project", "version": 1,
     "model": "magnet6", "sim_params": {...overrides of model.default_params()...},
     "pose_low": [...], "pose_high": [...], "n": 20000, "seed": 1,
     "hidden": [16, 16], "w_bits": [8, 8, 8], "a_bits": [8, 8],
     "epochs": [150, 30, 5], "epochs_finetune": 15, "lr": 0.03, "batch_size": 64,
     "variant": "loop", "pose": [...], "clock_mhz": 48.0, "export_dir": null,
     "data_source": null, "sweep": {...what the Explore pane sweeps, qnn.sweepconf...}}

Textual-free and JAX-free: plain dataclasses and functions the workbench (and tests) call.
"""

from __future__ import annotations

import json
import os
import shutil
import time
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
RUNS = "runs.json"
SWEEP_DIR = "sweep"
VARIANTS = ("loop", "unrolled")  # the C variants (codegen.cgen.VARIANTS)
OLD_VARIANTS = {"compact": "loop", "fast": "unrolled"}  # names before issue 8
BITS_RANGE = (2, 8)
CLOCK_RANGE = (1.0, 1000.0)  # MHz
VAL_FRACTION = 0.1  # qnn.config.TrainConfig's default: the rows kept for validation



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
    variant: str = VARIANTS[0]
    pose: list[float] | None = None  # the pose shown in the simulator pane
    clock_mhz: float = 48.0  # the M0's clock, for microseconds per inference
    export_dir: str | None = None  # where the C was last exported (None: DIR/c)
    data_source: str | None = None  # the recorded file dataset.npz was imported from
    sweep: dict[str, Any] = field(default_factory=dict)  # overrides of qnn.sweepconf

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
        rows = self.n - max(1, round(VAL_FRACTION * self.n))
        if self.batch_size > rows:
            raise QnnError(f"batch size {self.batch_size:,} is more than the {rows:,} training "
                           f"rows of the {self.n:,}-sample dataset ({VAL_FRACTION:.0%} are kept "
                           f"for validation); at most {rows:,}, typically 32..512.")
        if self.variant not in VARIANTS:
            raise QnnError(f"variant {self.variant!r}: choose one of {', '.join(VARIANTS)}.")
        if not CLOCK_RANGE[0] <= self.clock_mhz <= CLOCK_RANGE[1]:
            raise QnnError(f"clock {self.clock_mhz:g} MHz outside {CLOCK_RANGE[0]:g}.."
                           f"{CLOCK_RANGE[1]:g} MHz.")
        if len(self.w_bits) != self.n_layers or len(self.a_bits) != self.n_layers - 1:
            raise QnnError(f"w_bits needs {self.n_layers} values and a_bits "
                           f"{self.n_layers - 1} for hidden sizes {self.hidden}.")
        self.train_config().validate()
        from qnn.sweepconf import sweep_settings

        sweep_settings(self.sweep, self.hidden)

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
                if v is None:  # "the default" (written so by an earlier workbench)
                    continue
                v = OLD_VARIANTS.get(v, v)
            kw[f.name] = _coerce(f.name, v, default)
        p = cls(**kw)
        p.validate()
        return p


OPTIONAL_STRINGS = ("export_dir", "data_source")


def _coerce(name: str, v: Any, default: Any) -> Any:
    ok = True
    if v is None:
        ok = name in ("pose_low", "pose_high", "pose", *OPTIONAL_STRINGS)
    elif name in OPTIONAL_STRINGS:
        ok = isinstance(v, str)
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
            "c": d / C_DIR, "build": d / BUILD_DIR, "runs": d / RUNS, "sweep": d / SWEEP_DIR}


def open_project(d: str | Path) -> Opened:
    """Open the project in folder `d`, creating it (with defaults) if it does not exist.

    A file that cannot be used (unreadable, not JSON, nonsense values, a newer format) is
    kept as `project.json.bad-<time>` (never over an earlier one) and the defaults are used;
    `warning` says what happened and where the file went.
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
        bad = keep_bad(path)
        reason = " ".join(str(e).split())
        return Opened(Project(), d, warning=f"{path} is unusable ({reason}); kept it as "
                      f"{bad} and started from the defaults.")


def keep_bad(path: Path) -> Path:
    """Copy an unusable file aside as NAME.bad-YYYYmmdd-HHMMSS[-k] (never over an earlier
    copy) and return where it went."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    bad = path.with_name(f"{path.name}.bad-{stamp}")
    k = 1
    while bad.exists():
        k += 1
        bad = path.with_name(f"{path.name}.bad-{stamp}-{k}")
    shutil.copy2(path, bad)
    return bad


def adopt_run(project: Project, run: Path) -> str | None:
    """After a reset to the defaults, take the settings the trained model in `run` was made
    with (network sizes and bit widths; simulator and training settings when its config
    says), so the model is kept as it is rather than silently re-quantized. Returns what
    was taken, or None when the run folder has no usable model."""
    from qnn.intmodel import IntModel
    from qnn.run import CONFIG, INT_MODEL

    try:
        model = IntModel.load(Path(run) / INT_MODEL)
    except QnnError:
        return None
    p = Project(**{f.name: getattr(project, f.name) for f in fields(Project)})
    p.hidden = [int(n) for n in model.sizes[1:-1]]
    p.w_bits = [int(layer.w_bits) for layer in model.layers]
    p.a_bits = [int(layer.a_bits) for layer in model.layers[:-1]]
    trial = Project(**{f.name: getattr(p, f.name) for f in fields(Project)})
    try:  # the dataset and training settings too, when config.json has them
        cfg = json.loads((Path(run) / CONFIG).read_text())
        train, meta = cfg["train"], cfg["data"]["meta"]
        trial.model, trial.n, trial.seed = str(meta["model"]), int(meta["n"]), int(meta["seed"])
        trial.sim_params = dict(meta["params"])
        trial.pose_low, trial.pose_high = list(meta["pose_low"]), list(meta["pose_high"])
        trial.epochs = [int(train[k]) for k in ("epochs_float", "epochs_qat", "epochs_int")]
        trial.epochs_finetune = int(train["epochs_finetune"])
        trial.lr, trial.batch_size = float(train["lr"]), int(train["batch_size"])
        trial.validate()
        p = trial
    except (OSError, ValueError, TypeError, KeyError, QnnError):
        pass
    try:
        p.validate()
    except QnnError:
        return None
    for f in fields(Project):
        setattr(project, f.name, getattr(p, f.name))
    sizes = "-".join(str(n) for n in model.sizes)
    return (f"the model in {Path(run).name}/ is kept: its settings were taken ({sizes}, "
            f"w bits {', '.join(map(str, p.w_bits))}, a bits {', '.join(map(str, p.a_bits))}, "
            f"dataset {p.model} n {p.n:,} seed {p.seed})")


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
