"""C generation: an `IntModel` -> `qnn_model.h` / `qnn_model.c`, plain C99 for the Cortex-M0,
written from the Jinja2 templates in codegen/templates/.

Two variants compute exactly `qnn.intmodel.predict_int`:

- "loop" (default): named tables per layer and one dense() loop that reads them, like
  TensorFlow Lite Micro's reference kernels; weights of <= 4 bits packed two (<= 2 bits:
  four) per byte. Small flash.
- "unrolled": one statement per nonzero weight, the weight as an immediate; at <= 4-bit
  weights two output rows share each multiply where the overflow proof allows. Fewest cycles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from codegen import plan, unrolled
from codegen.ctext import c_array, c_ident, c_int, c_type, short_hash
from common.errors import QnnError
from common.fileio import atomic_write_text
from qnn.intmodel import IntModel
from qnn.overflow import check_export

VARIANTS = ("loop", "unrolled")
HEADER, SOURCE = "qnn_model.h", "qnn_model.c"
COMPILER = "arm-none-eabi-gcc 12.2"
FLAGS = "-mcpu=cortex-m0 -mthumb -Os"
# Figures from bench/bench_m0.py --rows 1000 (the trained 6-16-16-6 magnet6 fixtures, 1-cycle
# multiplier), printed in each header: (weight bits, cycles mean, cycles max, inference flash
# B, stack B). tests/test_verify_m0.py checks them against a build with this compiler.
MEASURED: dict[str, list[tuple[int, int, int, int, int]]] = {
    "loop": [(8, 4598, 4631, 1152, 116), (4, 5143, 5181, 956, 120)],
    "unrolled": [(8, 2420, 2497, 4528, 172), (4, 1834, 1894, 3700, 120)],
}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("codegen", "templates"), trim_blocks=True, lstrip_blocks=True,
    keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)
_FMT_DOC = {8: "as W + 128, one per byte", 4: "as W + 8, two per byte",
            2: "as W + 2, four per byte"}


def _common(model: IntModel, variant: str, prefix: str) -> dict[str, Any]:
    im = model.input_map
    src = model.meta.get("source") or model.meta.get("run") or "int_model.json"
    return {
        "prefix": prefix, "P": prefix.upper(), "variant": variant, "source": src,
        "model_hash": short_hash(model.to_json()), "sizes": "-".join(map(str, model.sizes)),
        "macs": model.n_macs, "n_weights": sum(L.weights.size for L in model.layers),
        "in_bits": im.bits, "w_bits": "/".join(str(L.w_bits) for L in model.layers),
        "a_bits": "/".join(str(L.a_bits) for L in model.layers[:-1]) or "-",
        "in_lo": im.lo, "in_hi": im.hi, "in_span": im.hi - im.lo,
        "c_array": c_array, "c_int": c_int,
    }


def _header(model: IntModel, ctx: dict[str, Any]) -> str:
    im = model.input_map
    inputs = []
    for j, name in enumerate(model.input_names):
        step = float(im.step[j]) if j < len(im.step) else 0.0
        inputs.append({"j": j, "name": name, "zero": int(im.zero_point[j]),
                       "m": int(im.multiplier[j]), "s": int(im.shift[j]),
                       "step": f" ({step:.4g} counts per step)" if step else ""})
    outputs = [{"i": i, "name": n, "unit": u, "lsb": f"{lsb:.6g}"} for i, (n, u, lsb) in
               enumerate(zip(model.output_names, model.output_units, model.output_lsb,
                             strict=True))]
    measured = [f"{w}-bit weights: {mean:,} cycles (max {mx:,}), {flash:,} B flash, "
                f"{stack} B stack" for w, mean, mx, flash, stack in MEASURED[ctx["variant"]]]
    return _ENV.get_template("qnn_model.h.j2").render(
        ctx, file=f"{ctx['prefix']}_model.h", what="the interface of the generated network.",
        n_in=model.n_in, n_out=model.n_out, hidden=model.sizes[1:-1], inputs=inputs,
        outputs=outputs, compiler=COMPILER, flags=FLAGS,
        measured=measured or ["(not measured yet: run bench/bench_m0.py)"])


def _loop_source(model: IntModel, ctx: dict[str, Any]) -> str:
    p = plan.loop_plan(model, plan.C_BLOCK)
    layers = p.layers
    im = model.input_map
    width = max([layers[0].n_in_pad] + [L.n_out_pad for L in layers])
    return _ENV.get_template("loop.c.j2").render(
        ctx, file=f"{ctx['prefix']}_model.c", what="the network, loop variant.",
        layers=layers, plan=p, fmt_doc=_FMT_DOC, max_width=width, row_text=_row_text(p),
        formats=sorted({L.fmt for L in layers}, reverse=True), width=width,
        input_multiplier=im.multiplier, input_shift=im.shift,
        pad_line=_pad_line(model.n_in, layers[0].n_in_pad), out_lo=model.layers[-1].lo)


def _pad_line(n_in: int, n_in_pad: int) -> str:
    """The statement that zeroes the padding inputs (the loop takes inputs in fours).

    >>> _pad_line(6, 8), _pad_line(4, 4)
    ('act[0][6] = act[0][7] = 0;', '')
    """
    if n_in_pad == n_in:
        return ""
    return "".join(f"act[0][{j}] = " for j in range(n_in, n_in_pad)) + "0;"


def _row_text(p: plan.LoopPlan):
    """The initializer of one `struct rows` (two outputs' constant, multiplier, shift), its
    columns as wide as the model's widest value."""
    rows = [r for L in p.layers for r in L.rows]
    wc, wm = (max(len(c_int(r[k])) for r in rows) for k in (0, 1))

    def text(r0: tuple[int, int, int], r1: tuple[int, int, int]) -> str:
        body = (f"{{{{{c_int(r0[0]):>{wc}}, {c_int(r1[0]):>{wc}}}}, "
                f"{{{r0[1]:>{wm}}, {r1[1]:>{wm}}}}")
        return body + ("}" if p.one_shift else f", {{{r0[2]:>2}, {r1[2]:>2}}}}}")
    return text


def _unrolled_source(model: IntModel, ctx: dict[str, Any]) -> str:
    layers = plan.layers(model)
    need = unrolled.needed(model)
    spans = [model.input_map.hi - model.input_map.lo] + [L.span for L in layers[:-1]]
    buffers = [{"name": f"a{k}", "ctype": c_type(0, span), "n": len(need[k])}
               for k, span in enumerate(spans) if any(need[k])]
    views = []
    for L in layers:
        dst = "out" if L.last else f"a{L.k}"
        blocks = unrolled.blocks(L, f"a{L.k - 1}", dst, L.src.w_bits <= 4, need[L.k])
        views.append({"k": L.k, "n_in": L.n_in, "n_out": L.n_out, "w_bits": L.src.w_bits,
                      "blocks": blocks})
    two = max(len(b.units) for v in views for b in v["blocks"])
    lanes = any(b.lanes for v in views for b in v["blocks"])
    return _ENV.get_template("unrolled.c.j2").render(
        ctx, file=f"{ctx['prefix']}_model.c", what="the network, unrolled variant.",
        layers=views, buffers=buffers, input_rows=unrolled.input_rows(model, need[0]),
        sums=", ".join(f"s{q}" for q in range(two)) + (", t" if lanes else ""), lanes=lanes)


# --- public API --------------------------------------------------------------------------


def generate_c(model: IntModel, variant: str = "loop", prefix: str = "qnn") -> dict[str, str]:
    """The C pair for `model`: {"qnn_model.h": text, "qnn_model.c": text} (names follow
    `prefix`). Refuses (QnnError) a model whose int32 arithmetic could overflow."""
    if variant not in VARIANTS:
        raise QnnError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}.")
    c_ident(prefix, "prefix")
    check_export(model)
    ctx = _common(model, variant, prefix)
    source = _loop_source(model, ctx) if variant == "loop" else _unrolled_source(model, ctx)
    return {f"{prefix}_model.h": _header(model, ctx), f"{prefix}_model.c": source}


def write_c(model: IntModel, out_dir: str | Path, variant: str = "loop",
            prefix: str = "qnn") -> list[Path]:
    """Generate and write the C pair into `out_dir` (atomic writes); returns the paths."""
    files = generate_c(model, variant, prefix)
    out_dir = Path(out_dir)
    paths = []
    for name, text in files.items():
        atomic_write_text(out_dir / name, text)
        paths.append(out_dir / name)
    return paths


def table_bytes(model: IntModel) -> dict[str, int]:
    """Flash of each table the loop variant writes, by C name (layer k's: "layer{k}_...")."""
    return plan.loop_table_bytes(model)


# Flash of the code around the tables, as measured (bench/bench_m0.py): the loop variant's
# qnn_predict (360 B with 8-bit weights, 404 B with 4-bit ones) plus one 16-byte
# `struct layer` per layer; the unrolled variant's bytes per nonzero weight and per output (a
# fit of the fixtures' sizes, within ~10 %).
LOOP_CODE_BYTES, LOOP_BYTES_PER_LAYER = 380, 16
UNROLLED_BYTES_PER_WEIGHT, UNROLLED_BYTES_PER_OUTPUT = 9.5, 8


def flash_estimate(model: IntModel, variant: str = "loop") -> int:
    """Inference flash (code + tables) the variant needs, estimated before building; the
    build's size report has the exact figure."""
    if variant == "loop":
        return (LOOP_CODE_BYTES + LOOP_BYTES_PER_LAYER * len(model.layers)
                + sum(table_bytes(model).values()))
    nonzero = sum(int(np.count_nonzero(L.weights)) for L in model.layers)
    outputs = model.n_in + sum(L.n_out for L in model.layers)
    return round(UNROLLED_BYTES_PER_WEIGHT * nonzero + UNROLLED_BYTES_PER_OUTPUT * outputs)
