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
    last = k == len(model.layers) - 1
    # The learned float steps live here, not in the layer table: they are what the integer
    # constants were made from, not what the firmware runs (and the table must fit 80 columns).
    steps = "" if last else f", activation step {layer.a_step:.3g}"
    lines = [f"layer {k + 1}: {layer.n_in} -> {layer.n_out}, w {layer.w_bits} bit, "
             f"clamp [{layer.lo}, {layer.hi}]{steps}",
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


# ---- what a figure is, said with it ---------------------------------------------------------
def val_mse(m: dict[str, Any] | None, kind: str = "int") -> float | None:
    """The normalised validation MSE (each output scaled by its std: what the loss curves
    show): `mse_KIND_normalized`, or `mse_KIND` in metrics written before it existed."""
    if not m:
        return None
    v = m.get(f"mse_{kind}_normalized", m.get(f"mse_{kind}"))
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def best_mse(m: dict[str, Any] | None, short: bool = False) -> str:
    """The figure of merit of a model, named: normalised MSE of the integer model on the
    validation rows, which model (the best epoch kept, or a re-quantization), and the float
    baseline (the float network before QAT)."""
    mse, mse_float = val_mse(m), val_mse(m, "float")
    if m is None or mse is None:
        return "no validation figures for this model (an imported one?): f fine-tunes it"
    if short:
        return f"val MSE int {mse:.4f}"
    parts = []
    if m.get("kind") == "requantize":
        parts.append("re-quantized")
    elif m.get("best_epoch"):
        parts.append(f"best epoch {m['best_epoch']}"
                     + (f"/{m['epochs']}" if m.get("epochs") else ""))
    if m.get("val_rows"):
        parts.append(f"{m['val_rows']:,} rows")
    which = f" ({', '.join(parts)})" if parts else ""
    base = f"; float baseline {mse_float:.4f}" if mse_float is not None else ""
    return f"val MSE int {mse:.4f}{which}{base}"


def microseconds(cycles: float, mhz: float) -> str:
    us = cycles / mhz
    return f"{us:,.1f} µs" if us < 10_000 else f"{us / 1000:,.1f} ms"


@dataclass
class OutputErrors:
    name: str
    unit: str
    errors: np.ndarray  # integer model - truth, in the output's unit, per validation row
    rmse: float
    max_abs: float
    p99_abs: float
    worst_pose: dict[str, float]  # the truth pose of the row with the largest |error|


def output_errors(model: IntModel, x: np.ndarray, y: np.ndarray,
                  pose_names: list[str] | None = None) -> list[OutputErrors]:
    """Per output, the integer model's errors on (x, y) in output units: the worst cases
    (max and 99th percentile of |error|) and where in the pose range the worst one is."""
    from qnn.intmodel import predict_int

    err = model.to_physical(predict_int(model, x)) - np.asarray(y, np.float64)
    names = pose_names or list(model.output_names)
    out = []
    for i, (name, unit) in enumerate(zip(model.output_names, model.output_units, strict=True)):
        e = err[:, i]
        worst = int(np.argmax(np.abs(e))) if len(e) else 0
        out.append(OutputErrors(
            name, unit, e, float(np.sqrt(np.mean(e ** 2))) if len(e) else 0.0,
            float(np.max(np.abs(e))) if len(e) else 0.0,
            float(np.percentile(np.abs(e), 99)) if len(e) else 0.0,
            {n: float(v) for n, v in zip(names, np.asarray(y)[worst], strict=False)}))
    return out


def flash_text(model: IntModel, variant: str, build: dict[str, Any] | None) -> str:
    """The model's flash, named: codegen's estimate of the C for the project's variant, and
    the bytes the last build of that variant measured, in the language it was built in."""
    from codegen.cgen import flash_estimate

    text = f"~{flash_estimate(model, variant):,} B inference flash ({variant} C, estimated)"
    if build and build.get("build", {}).get("variant") == variant:
        lang = "Rust" if build["build"].get("lang") == "rust" else "C"
        text += f"; built ({lang}): {build['verify']['inference_flash']:,} B"
    return text
