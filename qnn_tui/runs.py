"""The history of trained and built configurations, kept in the project as runs.json.

One entry per model the workbench made (train, fine-tune, re-quantization), identified by a
hash of its int_model.json, with its figures (validation MSE, per-output RMSE in output units)
and, per variant built, its flash bytes and cycles. The current model is the entry whose
hash is that of run/int_model.json. Textual-free; the file is written atomically and an
unusable one is kept aside, never overwritten."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from common.fileio import atomic_write_json
from qnn.project import keep_bad
from qnn_tui.figures import val_mse

MAX_ENTRIES = 200


def model_hash(int_model_path: Path) -> str | None:
    try:
        return hashlib.sha256(Path(int_model_path).read_bytes()).hexdigest()[:12]
    except OSError:
        return None


def _valid(e: Any) -> bool:
    return (isinstance(e, dict) and isinstance(e.get("model"), str)
            and isinstance(e.get("builds", {}), dict))


def load_runs(path: Path) -> tuple[list[dict[str, Any]], str | None]:
    """(entries, warning): a missing file is an empty history; an unusable one is copied
    aside (the history starts again) and the warning says where."""
    try:
        obj = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return [], None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        why = f"unreadable ({type(e).__name__})"
    else:
        if isinstance(obj, list) and all(_valid(e) for e in obj):
            return obj, None
        why = "not a list of runs"
    bad = keep_bad(Path(path))
    return [], f"{path}: {why}; kept it as {bad.name}, the run history starts again."


def _entry(metrics: dict[str, Any], model: Any, kind: str, digest: str) -> dict[str, Any]:
    rmse = {name: [v.get("rmse"), v.get("unit", "")]
            for name, v in metrics.get("rmse_per_output", {}).items() if isinstance(v, dict)}
    return {
        "model": digest, "time": time.strftime("%Y-%m-%d %H:%M:%S"), "kind": kind,
        "sizes": list(model.sizes),
        "w_bits": [int(layer.w_bits) for layer in model.layers],
        "a_bits": [int(layer.a_bits) for layer in model.layers[:-1]],
        "best_epoch": metrics.get("best_epoch"), "val_rows": metrics.get("val_rows"),
        "val_mse_int": val_mse(metrics), "val_mse_float": val_mse(metrics, "float"),
        "rmse": rmse, "builds": {},
    }


def record_training(path: Path, entries: list[dict[str, Any]], int_model_path: Path,
                    model: Any, metrics: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """`entries` (as loaded) with the model just written to run/, written to `path` (a
    re-quantization replaces an unbuilt re-quantization before it: bit-width clicks are
    not history)."""
    entries = list(entries)
    digest = model_hash(int_model_path) or "?"
    last = entries[-1] if entries else None
    same_model = last is not None and last["model"] == digest
    unbuilt_requantize = (last is not None and kind == "requantize"
                          and last.get("kind") == "requantize" and not last.get("builds"))
    if same_model or unbuilt_requantize:
        entries.pop()
    entries.append(_entry(metrics, model, kind, digest))
    entries = entries[-MAX_ENTRIES:]
    atomic_write_json(path, entries)
    return entries


def build_key(variant: str, lang: str) -> str:
    """The key of a build in an entry's "builds": the variant for C (as runs.json always
    had it), "<variant> rust" for Rust, so building one language keeps the other's figures.

    >>> build_key("loop", "c"), build_key("loop", "rust")
    ('loop', 'loop rust')
    """
    return variant if lang == "c" else f"{variant} {lang}"


def build_label(key: str) -> str:
    """What the runs table shows for a build key: the variant and the language.

    >>> build_label("loop"), build_label("unrolled rust"), build_label("")
    ('loop C', 'unrolled Rust', '-')
    """
    if not key:
        return "-"
    variant, _, lang = key.partition(" ")
    return f"{variant} {'Rust' if lang == 'rust' else 'C'}"


def record_build(path: Path, entries: list[dict[str, Any]], int_model_path: Path,
                 variant: str, summary: dict[str, Any], lang: str = "c"
                 ) -> list[dict[str, Any]]:
    entries = [dict(e) for e in entries]
    digest = model_hash(int_model_path)
    for e in reversed(entries):
        if e["model"] == digest:
            v = summary["verify"]
            e.setdefault("builds", {})[build_key(variant, lang)] = {
                "flash": v.get("inference_flash"), "cycles": v["cycles"]["mean"],
                "cycles_slow_multiply": v.get("cycles_slow_multiply", {}).get("mean"),
                "ok": bool(v.get("ok")), "time": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
            atomic_write_json(path, entries)
            break
    return entries


def current(entries: list[dict[str, Any]], int_model_path: Path) -> int | None:
    digest = model_hash(int_model_path)
    for i in range(len(entries) - 1, -1, -1):
        if entries[i]["model"] == digest:
            return i
    return None
