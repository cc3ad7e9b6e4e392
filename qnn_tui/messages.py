"""What the workers tell the app: small dataclass messages (posted from worker threads)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message


@dataclass
class DatasetReady(Message):
    n: int
    seconds: float


@dataclass
class TrainProgress(Message):
    progress: Any  # qnn.train.Progress


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
    """Something a worker is doing now (shown in the status line)."""

    text: str
