"""Rust generation: an `IntModel` -> `qnn_model.rs`, a `no_std` module for a firmware crate,
written from the Jinja2 templates in codegen/templates/ (*.rs.j2).

The same two variants as the C (codegen/cgen.py), from the same numbers (codegen/plan.py,
codegen/unrolled.py), computing exactly `qnn.intmodel.predict_int`:

- "loop": named `static` tables per layer and one `dense` loop that reads them.
- "unrolled": one statement per nonzero weight, the weight as a constant; at <= 4-bit weights
  two output rows share each multiply where the overflow proof allows.

What the module never does, so that the linked object holds no panic machinery and no helper:
index (every table is walked by iterators, or destructured), overflow-check (every sum is a
`Wrapping<u32>` or a `wrapping_*` call, in debug builds too: the overflow proof says the true
values fit), divide, use 64-bit integers or floats at run time, or zero-fill/copy an array (at
opt-level "s" rustc turns those into calls of `__aeabi_memclr`/`__aeabi_memcpy`). Its C ABI
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
    p = plan.loop_plan(model)
    im = model.input_map
    width = max([plan._even(model.n_in)] + [L.n_out_pad for L in p.layers])
    views = []
    for L in p.layers:
        mults = L.multiplier if p.one_shift else L.src.multiplier
        views.append({"k": L.k, "n_in": L.n_in, "n_out": L.n_out, "w_bits": L.src.w_bits,
                      "lo": L.lo, "span": L.span, "doc": _FMT_DOC[L.fmt],
                      "format": FORMATS[L.fmt], "tiles": L.tiles,
                      "group": 2 if L.fmt == 8 else 1, "n_in_pad": L.n_in_pad,
                      "n_out_pad": L.n_out_pad,
                      "padded": L.n_in != L.n_in_pad or L.n_out != L.n_out_pad,
                      "bias": _pad(L.bias, L.n_out_pad),
                      "multiplier": _pad(mults, L.n_out_pad),
                      "shift": int(L.src.shift.max()), "shifts": _pad(L.src.shift, L.n_out_pad)})
    return _ENV.get_template("loop.rs.j2").render(
        _api(model, ctx), file=f"{ctx['prefix']}_model.rs", what="the network, loop variant.",
        layers=views, formats=sorted({L.fmt for L in p.layers}, reverse=True),
        one_shift=p.one_shift, mult=RUST_TYPES[p.multiplier],
        input_mult=RUST_TYPES[p.input_multiplier], width=width,
        input_zero_point=[int(z) for z in im.zero_point],
        input_multiplier=[int(m) for m in im.multiplier],
        input_shift=[int(s) for s in im.shift], n_in_odd=model.n_in % 2 == 1,
        out_lo=model.layers[-1].lo, last=len(p.layers) % 2 == 1)


def _pad(values, n: int) -> list[int]:
    return [int(v) for v in values] + [0] * (n - len(values))


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
