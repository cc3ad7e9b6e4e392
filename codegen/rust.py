"""Rust generation: an `IntModel` -> `qnn_model.rs`, a `no_std` module for a firmware crate,
written from the Jinja2 templates in codegen/templates/ (*.rs.j2).

The same two variants as the C (codegen/cgen.py), from the same numbers (codegen/plan.py,
codegen/unrolled.py), computing exactly `qnn.intmodel.predict_int`:

- "loop": the C's layout (codegen.plan.loop_plan): per layer a weight table and a table of
  `Rows` (each output pair's folded constants and multipliers, walked by one iterator), a
  `LAYERS` table that `predict_into` loops over with `dense` inlined (one stack frame); the
  inner loop takes two inputs per pass (the C four), so inputs are padded to pairs.
- "unrolled": one statement per nonzero weight, the weight as a constant; at <= 4-bit weights
  two output rows share each multiply where the overflow proof allows.

What the module never does, so that the linked object holds no panic machinery and no helper:
index at run time (every table is walked by iterators, or destructured), overflow-check
(every sum is a `Wrapping` or a `wrapping_*` call, in debug builds too: the overflow proof
says the true values fit), divide, use 64-bit integers or floats at run time, zero-fill an
array or copy more than 64 bytes at once (rustc turns those into calls of
`__aeabi_memclr`/`__aeabi_memcpy`). The build's LLVM options (firmware/rust.py) were chosen by
measuring these shapes; the source stays plain safe Rust. Its C ABI
symbol `qnn_predict` is the C's, so the same harness and emulator run it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codegen import plan, unrolled
from codegen.cgen import _ENV, HEADER, VARIANTS, _common, generate_c
from codegen.ctext import c_ident, c_type
from common.errors import QnnError
from common.fileio import atomic_write_text
from qnn.intmodel import IntModel, rnd
from qnn.overflow import check_export

SOURCE_RS = "qnn_model.rs"
RUST_TYPES = {"uint8_t": "u8", "int8_t": "i8", "uint16_t": "u16", "int16_t": "i16",
              "uint32_t": "u32", "int32_t": "i32"}
# The loop variant's weight storage, by container bits (codegen.plan.tiles): the Format.
FORMATS = {8: "Bytes", 4: "Nibbles", 2: "Crumbs"}
# Inputs per pass of the Rust loop's inner loop (the C takes four): inputs padded to pairs.
RUST_BLOCK = 2
# The loop variant's activation buffers start as a copy of a constant up to this many values
# (rustc 1.63 copies up to 64 bytes inline, with LDM/STM; a longer copy is a `memcpy` call),
# wider ones by a fill loop.
COPY_FILL_MAX = 32
_FORMAT_FNS = {8: "bytes", 4: "nibbles", 2: "crumbs"}
_FMT_DOC = {8: "as W + 128, rows i and i + 1 in two bytes per input",
            4: "as W + 8, rows i and i + 1 in a byte per input",
            2: "as W + 2, rows i and i + 1 of inputs j and j + 1 in a byte"}


def rs_type(lo: int, hi: int) -> str:
    """The smallest Rust integer type holding [lo, hi].

    >>> rs_type(0, 255), rs_type(-8, 7), rs_type(0, 40000)
    ('u8', 'i8', 'u16')
    """
    return RUST_TYPES[c_type(lo, hi)]


def rs_str(text: str) -> str:
    """A Rust string literal.

    >>> print(rs_str('a "b"\\\\c'))
    "a \\"b\\"\\\\c"
    """
    out = []
    for ch in str(text):
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(f"\\u{{{ord(ch):x}}}")
    return '"' + "".join(out) + '"'


def rs_doc(text: str) -> str:
    """One line of doc-comment text (no line breaks)."""
    return " ".join(str(text).split())


def rs_f32(v: float) -> str:
    """An f32 literal with 6 significant digits (the C header prints the same).

    >>> rs_f32(0.0005), rs_f32(2.0), rs_f32(1e-05)
    ('0.0005', '2.0', '1e-05')
    """
    text = f"{float(v):.6g}"
    return text if any(c in text for c in ".en") else text + ".0"


def rs_array(name: str, rtype: str, values, group: int = 1, per_line: int = 16,
             doc: str = "") -> str:
    """A `static` Rust array; with `group` > 1 an array of `[rtype; group]` rows (tiles,
    row pairs), values right-aligned.

    >>> print(rs_array("LAYER1_SHIFT", "u8", [18, 17, 9, 9], group=2, per_line=4))
    static LAYER1_SHIFT: [[u8; 2]; 2] = [
        [18, 17], [ 9,  9],
    ];
    """
    vals = [str(int(v)) for v in values]
    if len(vals) % group:
        raise ValueError(f"{name}: {len(vals)} values do not make rows of {group}")
    width = max((len(v) for v in vals), default=1)
    vals = [v.rjust(width) for v in vals]
    items = vals if group == 1 else ["[" + ", ".join(vals[k:k + group]) + "]"
                                     for k in range(0, len(vals), group)]
    per_row = max(1, min(per_line // group, 92 // (len(items[0]) + 2) if items else 1))
    rows = ["    " + ", ".join(items[k:k + per_row]) + ","
            for k in range(0, len(items), per_row)]
    etype = rtype if group == 1 else f"[{rtype}; {group}]"
    head = "".join(f"/// {line}\n" for line in doc.splitlines())
    return (head + f"static {name}: [{etype}; {len(items)}] = [\n" + "\n".join(rows)
            + "\n];")


def _api(model: IntModel, ctx: dict[str, Any]) -> dict[str, Any]:
    """What the public part of the module (constants, predict, qnn_predict) prints."""
    im = model.input_map
    inputs = []
    for j, name in enumerate(model.input_names):
        inputs.append({"j": j, "name": rs_doc(name), "zero": int(im.zero_point[j]),
                       "m": int(im.multiplier[j]), "s": int(im.shift[j])})
    outputs = [{"i": i, "name": rs_doc(n), "unit": rs_doc(u), "lsb": rs_f32(lsb),
                "name_lit": rs_str(n), "unit_lit": rs_str(u)}
               for i, (n, u, lsb) in enumerate(zip(model.output_names, model.output_units,
                                                    model.output_lsb, strict=True))]
    return {**ctx, "n_in": model.n_in, "n_out": model.n_out, "inputs": inputs,
            "outputs": outputs, "rs_array": rs_array, "rs_type": rs_type}


def _loop_source(model: IntModel, ctx: dict[str, Any]) -> str:
    p = plan.loop_plan(model, RUST_BLOCK)
    im = model.input_map
    width = max([p.layers[0].n_in_pad] + [L.n_out_pad for L in p.layers])
    rows = [r for L in p.layers for r in L.rows]
    wc, wm = (max(len(str(r[k])) for r in rows) for k in (0, 1))

    def rows_text(r0: tuple[int, int, int], r1: tuple[int, int, int]) -> str:
        text = (f"Rows {{ constant: [{r0[0]:>{wc}}, {r1[0]:>{wc}}], "
                f"multiplier: [{r0[1]:>{wm}}, {r1[1]:>{wm}}]")
        return text + (" }" if p.one_shift else f", shift: [{r0[2]:>2}, {r1[2]:>2}] }}")

    views = []
    for L in p.layers:
        views.append({"k": L.k, "n_in": L.n_in, "n_out": L.n_out, "w_bits": L.src.w_bits,
                      "lo": L.lo, "span": L.span, "doc": _FMT_DOC[L.fmt],
                      "format": f"Format::{FORMATS[L.fmt]}", "tiles": L.tiles,
                      "n_in_pad": L.n_in_pad,
                      "n_out_pad": L.n_out_pad, "row_bytes": L.n_in_pad * 2 // (8 // L.fmt),
                      "padded": L.n_in != L.n_in_pad or L.n_out != L.n_out_pad,
                      "rows": [rows_text(L.rows[i], L.rows[i + 1])
                               for i in range(0, L.n_out_pad, 2)],
                      "shift": int(L.src.shift.max())})
    mult = RUST_TYPES[p.rows_multiplier]
    input_mult = RUST_TYPES[p.input_multiplier]
    return _ENV.get_template("loop.rs.j2").render(
        _api(model, ctx), file=f"{ctx['prefix']}_model.rs", what="the network, loop variant.",
        layers=views, formats=sorted({L.fmt for L in p.layers}, reverse=True),
        format_names=FORMATS, format_fns=_FORMAT_FNS, offsets={f: plan.FORMATS[f][2]
                                                              for f in plan.FORMATS},
        one_shift=p.one_shift, mult=mult, to_i32=lambda v: _to_i32(mult, v),
        input_mult=input_mult, input_to_i32=_to_i32(input_mult, "m"), width=width,
        max_row_bytes=max(v["row_bytes"] for v in views), copy_fill=width <= COPY_FILL_MAX,
        input_multiplier=[int(m) for m in im.multiplier],
        input_constant=p.input_constant, input_shift=[int(s) for s in im.shift],
        pad_inputs=list(range(model.n_in, p.layers[0].n_in_pad)),
        **_distance(p, model),
        out_lo=model.layers[-1].lo)


def _distance(p: plan.LoopPlan, model: IntModel) -> dict[str, str]:
    """How requantize() takes v - lo: wrapping when the overflow proof's ranges show the true
    difference fits i32 for every layer (always, unless a layer has shift 0 and products near
    2^31), else saturating (exact too, and a few cycles slower)."""
    if plan.distances_fit(p, model):
        return {"distance": "wrapping_sub",
                "distance_note": "exact: v - lo fits i32 (qnn/overflow.py ranges)"}
    return {"distance": "saturating_sub",
            "distance_note": "v - lo may not fit i32: saturated, then clamped"}


def _to_i32(rtype: str, name: str) -> str:
    """`name` of unsigned type `rtype` as an i32 (a u32 by `as`: the same bits, and the
    product with it is taken modulo 2^32 anyway)."""
    return f"{name} as i32" if rtype == "u32" else f"i32::from({name})"


def _i32(v: int) -> int:
    v %= 2**32
    return v - 2**32 if v >= 2**31 else v


def _mac(acc: str, w: int, x: str) -> str | None:
    """`acc += W(w) * x`, the sign in the operator; None for a zero weight.

    >>> _mac("s0", -127, "a0_0"), _mac("s0", 1, "a0_1"), _mac("s1", 0, "a0_2")
    ('s0 -= W(127) * a0_0;', 's0 += a0_1;', None)
    """
    if w == 0:
        return None
    op = "+=" if w > 0 else "-="
    return f"{acc} {op} {x};" if abs(w) == 1 else f"{acc} {op} W({abs(w)}) * {x};"


def _store(layer: plan.Layer, i: int, s: str) -> str:
    L = layer.src
    call = (f"requantize({s}, {int(L.multiplier[i])}, {_i32(layer.folded_constant(i))}, "
            f"{int(L.shift[i])}, {int(L.lo)}, {int(L.hi)})")
    if layer.last:
        return f"*out{i} = {call} as i16;"
    lo = int(layer.lo)
    value = f"{call}.wrapping_sub({lo})" if lo else call
    return f"let a{layer.k}_{i} = W({value} as u32);"


def _blocks(layer: plan.Layer, pair_lanes: bool, need: list[bool]) -> list[dict[str, Any]]:
    """The statements of one layer, as codegen.unrolled.blocks writes them for the C: two sums
    per block (four when rows share a sum), each input read once for all of them."""
    W = layer.src.weights
    units = unrolled._units(layer, [i for i in range(layer.n_out) if need[i]], pair_lanes)
    per_block = 4 if any(len(u) == 2 for u in units) else 2
    out = []
    src = f"a{layer.k - 1}_"
    for u0 in range(0, len(units), per_block):
        block = units[u0:u0 + per_block]
        macs: list[str] = []
        used = set()
        for j in range(layer.n_in):
            for q, unit in enumerate(block):
                if len(unit) == 2:
                    w0, w1 = int(W[unit[0], j]), int(W[unit[1], j])
                    line = f"s{q} += pair({w0}, {w1}) * {src}{j};" if w0 or w1 else None
                else:
                    line = _mac(f"s{q}", int(W[unit[0], j]), f"{src}{j}")
                if line:
                    macs.append(line)
                    used.add(q)
        lines = [f"let {'mut ' if q in used or len(u) == 2 else ''}s{q} = W(0);"
                 for q, u in enumerate(block)]
        lines += macs
        for q, unit in enumerate(block):
            if len(unit) == 2:
                lines += [f"let t = W(((s{q}.0 << 16) as i32 >> 16) as u32); // row {unit[0]}",
                          _store(layer, unit[0], "t"),
                          f"s{q} = W(((s{q} - t).0 as i32 >> 16) as u32); // row {unit[1]}"]
            lines.append(_store(layer, unit[-1], f"s{q}"))
        rows = ", ".join(" + ".join(map(str, u)) for u in block)
        out.append({"lines": lines, "rows": rows if any(len(u) == 2 for u in block) else ""})
    return out


def _input_rows(model: IntModel, need: list[bool]) -> list[dict[str, int]]:
    """The input map as requantize() arguments: (in * m + (rnd(s) - zero * m)) >> s."""
    im = model.input_map
    rows = []
    for j in (j for j in range(model.n_in) if need[j]):
        m, s, z = int(im.multiplier[j]), int(im.shift[j]), int(im.zero_point[j])
        rows.append({"j": j, "m": m, "s": s, "c": _i32(int(rnd(s)) - z * m)})
    return rows


def _unrolled_source(model: IntModel, ctx: dict[str, Any]) -> str:
    layers = plan.layers(model)
    need = unrolled.needed(model)
    views = []
    for L in layers:
        views.append({"k": L.k, "n_in": L.n_in, "n_out": L.n_out, "w_bits": L.src.w_bits,
                      "blocks": _blocks(L, L.src.w_bits <= 4, need[L.k])})
    inputs = [f"in{j}" if need[0][j] else "_" for j in range(model.n_in)]
    lanes = any(b["rows"] for v in views for b in v["blocks"])
    return _ENV.get_template("unrolled.rs.j2").render(
        _api(model, ctx), file=f"{ctx['prefix']}_model.rs",
        what="the network, unrolled variant.", layers=views, input_names=inputs,
        input_rows=_input_rows(model, need[0]), lanes=lanes)


# --- public API --------------------------------------------------------------------------


def generate_rust(model: IntModel, variant: str = "loop", prefix: str = "qnn") -> str:
    """The text of `qnn_model.rs` for `model` (its C ABI symbol: `{prefix}_predict`).
    Refuses (QnnError) a model whose int32 arithmetic could overflow."""
    if variant not in VARIANTS:
        raise QnnError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}.")
    c_ident(prefix, "prefix")
    check_export(model)
    ctx = _common(model, variant, prefix)
    if variant == "loop":
        return _loop_source(model, ctx)
    return _unrolled_source(model, ctx)


def write_rust(model: IntModel, out_dir: str | Path, variant: str = "loop",
               prefix: str = "qnn", header: bool = False) -> list[Path]:
    """Write `qnn_model.rs` into `out_dir` (atomic); with `header`, also the C header of the
    same C ABI (`qnn_model.h`, for C code that calls `qnn_predict`). Returns the paths."""
    out_dir = Path(out_dir)
    files = {f"{prefix}_model.rs": generate_rust(model, variant, prefix)}
    if header:
        name = HEADER.replace("qnn", prefix, 1)
        files[name] = generate_c(model, variant, prefix)[name]
    paths = []
    for name, text in files.items():
        atomic_write_text(out_dir / name, text)
        paths.append(out_dir / name)
    return paths
