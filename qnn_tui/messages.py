"""What the workers tell the app: small dataclass messages (posted from worker threads)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class BusyChanged(Message):
    """A worker's thread started or ended its work: the app re-reads what runs."""


@dataclass
class DatasetReady(Message):
    n: int
    seconds: float
    source: str | None = None  # the imported file; None when simulated


@dataclass
class TrainProgress(Message):
    progress: Any  # qnn.train.Progress
    kind: str = "train"  # "train" or "finetune"


@dataclass
class TrainDone(Message):
    kind: str  # "train", "finetune" or "requantize"
    result: Any  # qnn.train.TrainResult
    metrics: dict[str, Any]
    before: dict[str, Any] | None = None  # metrics before a fine-tune


@dataclass
class BuildDone(Message):
    summary: dict[str, Any]


@dataclass
class WorkFailed(Message):
    what: str
    error: str


@dataclass
class StatusChanged(Message):
    """Something a worker is doing now (shown in the status line; `toast`: also notify)."""

    text: str
    toast: bool = False


@dataclass
class SweepStep(Message):
    """Progress of the running sweep (explore.sweep.SweepProgress)."""

    progress: Any


@dataclass
class SweepDone(Message):
    doc: dict[str, Any] | None  # sweep.json as written; None: stopped before any point
