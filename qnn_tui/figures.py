"""Figures the panes show, from the core's objects (numpy only; no Textual, no JAX)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qnn.intmodel import IntModel


@dataclass
class LayerRow:
    name: str
    shape: str
    w_bits: int
    a_bits: int | None  # None for the output layer (int16)
    w_step: str
    a_step: str
    multiplier: str
    shift: str
    worst_acc: int
    headroom_bits: float
    flash_bytes: int
    ok: bool


def _span(values: np.ndarray, fmt: str = "{}") -> str:
    v = np.asarray(values).ravel()
    if v.size == 0:
        return "-"
    lo, hi = v.min(), v.max()
    return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}..{fmt.format(hi)}"


def layer_flash_bytes(model: IntModel, k: int) -> int:
    """Flash of layer k's tables in the default (loop) C, from the code generator; the
    build's size report has the exact bytes."""
    from codegen.cgen import table_bytes

    return sum(b for name, b in table_bytes(model).items() if name.startswith(f"layer{k + 1}_"))


def layer_rows(model: IntModel) -> list[LayerRow]:
    from qnn.overflow import analyze

    stages = analyze(model).stages[1:]  # stage 0 is the input map
    rows = []
    for k, (layer, st) in enumerate(zip(model.layers, stages, strict=True)):
        last = k == len(model.layers) - 1
        rows.append(LayerRow(
            name="output" if last else f"hidden {k + 1}",
            shape=f"{layer.n_in}x{layer.n_out}",
            w_bits=layer.w_bits,
            a_bits=None if last else layer.a_bits,
            w_step=_span(layer.w_step, "{:.2g}"),
            a_step="-" if last else f"{layer.a_step:.2g}",
            multiplier=_span(layer.multiplier),
            shift=_span(layer.shift),
            worst_acc=st.worst_acc,
            headroom_bits=st.headroom_bits,
            flash_bytes=layer_flash_bytes(model, k),
            ok=st.ok,
        ))
    return rows


def layer_detail(model: IntModel, k: int, limit: int = 64) -> str:
    """Per-channel constants of layer k, one line per output channel."""
    from qnn.overflow import analyze

    layer = model.layers[k]
    st = analyze(model).stages[k + 1]
    lines = [f"layer {k + 1}: {layer.n_in} -> {layer.n_out}, w {layer.w_bits} bit, "
             f"clamp [{layer.lo}, {layer.hi}]",
             f"{'ch':>3} {'M':>10} {'shift':>5} {'bias':>10} {'w_step':>9} {'worst':>13}"]
    w_step = np.broadcast_to(np.asarray(layer.w_step, float).ravel() if np.size(layer.w_step)
                             else np.full(layer.n_out, np.nan), (layer.n_out,))
    for i in range(min(layer.n_out, limit)):
        lines.append(f"{i:3d} {int(layer.multiplier[i]):10d} {int(layer.shift[i]):5d} "
                     f"{int(layer.bias[i]):10d} {w_step[i]:9.3g} {st.channel_worst[i]:13,d}")
    return "\n".join(lines)


def total_flash(model: IntModel) -> int:
    """Inference flash (code + tables) of the default (loop) C, estimated by the generator."""
    from codegen.cgen import flash_estimate

    return flash_estimate(model, "loop")


def fmt_rmse(rmse: dict[str, Any]) -> list[tuple[str, str]]:
    return [(name, f"{v['rmse']:.4g} {v['unit']}") for name, v in rmse.items()]
