"""The state of an open project (Textual-free, JAX-free): the configuration, and what has been
made from it so far. Workers fill it in; panes read it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.errors import QnnError
from qnn.project import Project, open_project, paths, save_project

SUMMARY = "summary.json"  # the last build-and-verify, in the build folder


@dataclass
class Session:
    dir: Path
    project: Project
    warning: str | None = None
    dataset: Any = None  # sim.dataset.Dataset, once generated or loaded
    result: Any = None  # qnn.train.TrainResult of the last training (in memory)
    int_model: Any = None  # qnn.intmodel.IntModel of the run folder / last result
    metrics: dict[str, Any] | None = None
    history: list[Any] = field(default_factory=list)  # Progress-like dicts/objects
    build: dict[str, Any] | None = None  # last build-and-verify summary
    stale: bool = False  # the bit widths changed since int_model was made
    lang: str = "c"  # what the codegen pane shows and builds: "c" or "rust"
    created: bool = False  # the folder was new: the project has just been made

    @classmethod
    def open(cls, d: str | Path) -> Session:
        opened = open_project(d)
        s = cls(opened.dir, opened.project, opened.warning, created=opened.created)
        s.load_artifacts()
        return s

    @property
    def paths(self) -> dict[str, Path]:
        return paths(self.dir)

    def save(self) -> None:
        save_project(self.dir, self.project)

    def load_artifacts(self) -> None:
        """Pick up an earlier run folder (cheap: JSON only); errors leave the fields empty."""
        run = self.paths["run"]
        if not (run / "int_model.json").is_file():
            return
        from qnn.run import HISTORY, METRICS, load_int_model, load_json

        try:
            self.int_model = load_int_model(run)
            self.metrics = load_json(run, METRICS)
            self.history = load_json(run, HISTORY, list) if (run / HISTORY).is_file() else []
        except QnnError as e:
            self.int_model, self.metrics, self.history = None, None, []
            self.warning = f"{run}: {e}"
        self.stale = self.int_model is not None and not self.bits_match()
        if self.int_model is not None and (self.paths["build"] / SUMMARY).is_file():
            try:
                self.build = json.loads((self.paths["build"] / SUMMARY).read_text())
                self.lang = "rust" if self.build["build"].get("lang") == "rust" else "c"
            except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
                self.build = None

    def bits_match(self) -> bool:
        m = self.int_model
        if m is None:
            return False
        return ([layer.w_bits for layer in m.layers] == list(self.project.w_bits)
                and [layer.a_bits for layer in m.layers[:-1]] == list(self.project.a_bits))
