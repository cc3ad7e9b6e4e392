"""C generation: an `IntModel` -> `qnn_model.h` / `qnn_model.c`, plain C99 for the Cortex-M0.

Two variants compute exactly `qnn.intmodel.predict_int`:

- "compact": weights in flash as offset-binary bytes (w + 2^(b-1); two 4-bit or four 2-bit
  fields per byte below 5 bits), one shared dot-product kernel per row layout, tables for the
  per-channel constants. Smallest flash.
- "fast": every weight is an immediate in the code (zero weights skipped, +-1 as add/sub,
  powers of two as shifts), outputs computed in blocks so each activation is loaded once per
  block. Fewest cycles.

Both use the same exact rewriting of the specification (see `_REQUANT_DOC`): all sums are done
modulo 2^32 in `uint32_t` and only the final pre-shift value is read as `int32_t`. Because the
overflow proof (`qnn.overflow`) shows that this true value fits int32, the modular result *is*
the true value, whatever the intermediate terms were; so constants can be folded freely.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qnn.errors import QnnError
from qnn.fileio import atomic_write_text
from qnn.intmodel import INT32_MAX, INT32_MIN, IntLayer, IntModel, rnd
from qnn.overflow import check_export

VARIANTS = ("compact", "fast")
HEADER, SOURCE = "qnn_model.h", "qnn_model.c"
FAST_BLOCK = 4  # outputs computed together in the fast variant (accumulators in registers)


# --- exact integer helpers ---------------------------------------------------------------


def _u32(v: int) -> int:
    return int(v) % (1 << 32)


def _i32(v: int) -> int:
    """v mod 2^32 as the int32 with the same bit pattern."""
    v = _u32(v)
    return v - (1 << 32) if v > INT32_MAX else v


def _lit(v: int) -> str:
    """An int32 C literal (INT32_MIN has no literal of its own)."""
    v = int(v)
    return "(-2147483647 - 1)" if v == INT32_MIN else str(v)


def _c_array(ctype: str, name: str, values, per_line: int = 16, width: int = 0) -> str:
    vals = [_lit(v) if ctype.startswith("int32") else str(int(v)) for v in values]
    lines = []
    for k in range(0, len(vals), per_line):
        lines.append("    " + ", ".join(s.rjust(width) for s in vals[k : k + per_line]) + ",")
    body = "\n".join(lines)
    return f"static const {ctype} {name}[{len(vals)}] = {{\n{body}\n}};\n"


def _act_type(span: int) -> str:
    return "uint8_t" if span <= 0xFF else "uint16_t"


def _field_bits(w_bits: int) -> int:
    """Storage width of one offset-binary weight in the compact variant."""
    return 2 if w_bits <= 2 else 4 if w_bits <= 4 else 8


@dataclass
class _Stage:
    """One dense layer, rewritten for the C (all constants exact, see _REQUANT_DOC)."""

    k: int  # 1-based layer number
    layer: IntLayer
    in_lo: int  # the input activation is stored as au = a - in_lo >= 0
    in_type: str
    out_type: str  # uint8_t / uint16_t for hidden layers, int16_t for the output layer
    last: bool
    shift: int | None  # uniform shift, or None for a per-channel table
    mult: np.ndarray  # per-channel multiplier (after shift normalisation)
    shifts: np.ndarray  # per-channel shift (after normalisation)


def _acc_range(layer: IntLayer, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    W = layer.weights.astype(object)
    t1, t2 = W * lo, W * hi
    mins = np.minimum(t1, t2).sum(axis=1) + layer.bias.astype(object)
    maxs = np.maximum(t1, t2).sum(axis=1) + layer.bias.astype(object)
    return mins, maxs


def _uniform_shift(layer: IntLayer, in_lo: int, in_hi: int) -> tuple[int | None, np.ndarray,
                                                                       np.ndarray]:
    """Normalise per-channel (M, n) to one shift n_max when it stays exact: with k = n_max - n,
    ((acc*M + rnd(n)) << k) >> n_max == (acc*M + rnd(n)) >> n as long as the shifted product
    still fits int32 (checked here with Python integers over the whole accumulator range)."""
    M = [int(m) for m in layer.multiplier]
    n = [int(s) for s in layer.shift]
    nmax = max(n)
    if min(n) == nmax:
        return nmax, np.array(M, dtype=np.int64), np.array(n, dtype=np.int64)
    a_lo, a_hi = _acc_range(layer, in_lo, in_hi)
    for i in range(layer.n_out):
        kk = nmax - n[i]
        r = int(rnd(n[i]))
        for acc in (int(a_lo[i]), int(a_hi[i])):
            v = (acc * M[i] + r) << kk
            if not INT32_MIN <= v <= INT32_MAX or (M[i] << kk) > INT32_MAX:
                return None, np.array(M, dtype=np.int64), np.array(n, dtype=np.int64)
    M2 = [m << (nmax - s) for m, s in zip(M, n, strict=True)]
    return nmax, np.array(M2, dtype=np.int64), np.full(len(M), nmax, dtype=np.int64)


def _rnd_scaled(layer: IntLayer, i: int, n_eff: int) -> int:
    """The rounding term for channel i, scaled like its multiplier after normalisation."""
    n = int(layer.shift[i])
    return int(rnd(n)) << (n_eff - n)


def _stages(model: IntModel) -> list[_Stage]:
    stages = []
    lo, hi = model.input_map.lo, model.input_map.hi
    for k, layer in enumerate(model.layers):
        last = k == len(model.layers) - 1
        shift, mult, shifts = _uniform_shift(layer, lo, hi)
        out_type = "int16_t" if last else _act_type(layer.hi - layer.lo)
        stages.append(_Stage(k + 1, layer, lo, _act_type(hi - lo), out_type, last, shift,
                             mult, shifts))
        lo, hi = layer.lo, layer.hi
    return stages


# --- text pieces -------------------------------------------------------------------------

_REQUANT_DOC = """\
/*
 * The arithmetic (the bit-exact specification is qnn/intmodel.py):
 *
 *   input map  a0[j] = clamp((x[j] - zp[j]) * m[j] + rnd(s[j])) >> s[j], LO0, HI0)
 *   layer      acc   = b[i] + sum_j W[i][j] * a[j]                       (int32)
 *              y[i]  = clamp((acc * M[i] + rnd(n[i])) >> n[i], lo, hi)
 *
 * with rnd(n) = 2^(n-1) (0 for n = 0): round half up. Every product is a 32x32->32 MULS: the
 * overflow proof (qnn/overflow.py, checked again before this file was written) bounds acc,
 * each partial sum and acc * M + rnd(n) inside int32 for every uint16 input, so no 64-bit
 * product, no division and no library helper is needed.
 *
 * Because that final value fits int32, it may be computed modulo 2^32 (in uint32_t, where
 * wrap-around is defined) in any order and with constants folded: the result mod 2^32 is the
 * true value, which is then read back as int32_t. So each channel's bias, rounding term and
 * the zero points of its inputs are folded into ONE constant C[i]:
 *
 *   y[i] = clamp((int32_t)(dot[i] * M[i] + C[i]) >> n[i], lo, hi)
 *
 * where dot[i] is the sum over the stored (non-negative) activations. Activations are stored
 * offset by their clamp's lower bound (au = a - lo >= 0), so they fit uint8_t/uint16_t.
 *
 * Assumptions, checked at compile time below: int is 32 bits, `>>` of a negative int32_t is
 * an arithmetic shift and uint32_t -> int32_t conversion wraps (both are GCC's documented
 * implementation-defined behaviour, and what ASRS does on the Cortex-M0).
 */
"""

_ASSUMPTIONS = """\
/* Compile-time checks of the assumptions above (C99: a negative array size is an error). */
typedef char qnn_check_int32[(sizeof(int) == 4) ? 1 : -1];
typedef char qnn_check_asr[((-7 >> 1) == -4) ? 1 : -1];
typedef char qnn_check_wrap[((int32_t)0xFFFFFFFFu == -1) ? 1 : -1];
"""


def _banner(model: IntModel, variant: str, what: str) -> str:
    sizes = "-".join(str(s) for s in model.sizes)
    wb = ", ".join(str(L.w_bits) for L in model.layers)
    ab = ", ".join(str(L.a_bits) for L in model.layers[:-1]) or "-"
    src = model.meta.get("source") or model.meta.get("run") or "int_model.json"
    n_w = sum(L.weights.size for L in model.layers)
    return (
        f"/* {what}\n"
        f" *\n"
        f" * qnn-tui integer network {sizes} ({model.n_macs} multiply-accumulates, {n_w} "
        f"weights), variant \"{variant}\".\n"
        f" * Model: {src}.\n"
        f" * Bits: input map {model.input_map.bits}, weights per layer {wb}, hidden "
        f"activations {ab}, outputs int16.\n"
        f" * Generated by qnn-tui codegen/cgen.py on {datetime.date.today().isoformat()}: "
        f"do not edit, re-export instead.\n"
        f" * Plain C99, integer only: no float, no 64-bit arithmetic, no division, no\n"
        f" * allocation, no global mutable state.\n"
        f" */\n"
    )


def _header(model: IntModel, variant: str, prefix: str) -> str:
    P = prefix.upper()
    guard = f"{P}_MODEL_H"
    im = model.input_map
    lines = [_banner(model, variant, f"{prefix}_model.h: the interface of the generated network.")]
    lines.append(f"#ifndef {guard}\n#define {guard}\n\n#include <stdint.h>\n")
    lines.append(f"#define {P}_N_IN {model.n_in}")
    for k, s in enumerate(model.sizes[1:-1]):
        lines.append(f"#define {P}_N_HIDDEN{k + 1} {s}")
    lines.append(f"#define {P}_N_OUT {model.n_out}")
    lines.append(f"#define {P}_N_MACS {model.n_macs}\n")
    lines.append("/* Inputs: uint16 ADC counts. Each is mapped to a signed "
                 f"{im.bits}-bit activation,")
    lines.append(f" * a0 = clamp(((x - zp) * m + rnd(s)) >> s, {im.lo}, {im.hi}):")
    for j, name in enumerate(model.input_names):
        step = float(im.step[j]) if j < len(im.step) else 0.0
        info = f", {step:.4g} counts per LSB" if step else ""
        lines.append(f" *   in[{j}]: {name}: zp {int(im.zero_point[j])}, m "
                     f"{int(im.multiplier[j])}, s {int(im.shift[j])}{info}")
    lines.append(" *\n * Outputs: int16 fixed point, value = out[i] * LSB:")
    for i, (name, unit, lsb) in enumerate(zip(model.output_names, model.output_units,
                                              model.output_lsb, strict=True)):
        lines.append(f" *   out[{i}]: {name}, 1 LSB = {lsb:.6g} {unit}")
    lines.append(" */")
    lines.append(f"void {prefix}_predict(const uint16_t in[{P}_N_IN], int16_t out[{P}_N_OUT]);\n")
    lines.append(f"#endif /* {guard} */\n")
    return "\n".join(lines)


def _clamp_store(lo: int, hi: int, dst: str, ctype: str, offset: bool) -> list[str]:
    """clamp(v, lo, hi), then store it (minus lo when `offset`): one unsigned compare on the
    common path, since (uint32_t)(v - lo) > hi - lo exactly when v is outside [lo, hi]."""
    span = hi - lo
    if lo == 0:
        lines = [f"if ((uint32_t)v > {span}u) v = (v < 0) ? 0 : {hi};"]
    else:
        lines = [f"if ((uint32_t)v - (uint32_t)({lo}) > {span}u) v = (v < {lo}) ? {lo} : {hi};"]
    val = f"v - ({lo})" if offset and lo != 0 else "v"
    return lines + [f"{dst} = ({ctype})({val});"]


def _input_map(model: IntModel, prefix: str, in_type: str, out: list[str]) -> list[str]:
    """Tables for the input map; returns the C statements of its loop body."""
    im = model.input_map
    m = [int(v) for v in im.multiplier]
    s = [int(v) for v in im.shift]
    c = [_i32(int(rnd(sh)) - int(z) * mm) for z, mm, sh in zip(im.zero_point, m, s, strict=True)]
    mtype = "uint16_t" if max(m) <= 0xFFFF else "uint32_t"
    out.append("/* Input map: a0 = x * m + (rnd(s) - zp * m), the zero point folded in. */\n")
    out.append(_c_array(mtype, f"{prefix}_in_mult", m))
    out.append(_c_array("int32_t", f"{prefix}_in_add", c, per_line=6))
    if len(set(s)) == 1:
        shift = str(s[0])
    else:
        out.append(_c_array("uint8_t", f"{prefix}_in_shift", s))
        shift = f"{prefix}_in_shift[j]"
    return [
        f"uint32_t p = (uint32_t)in[j] * {prefix}_in_mult[j] + (uint32_t){prefix}_in_add[j];",
        f"int32_t v = (int32_t)p >> {shift};",
        *_clamp_store(im.lo, im.hi, "a0[j]", in_type, True),
    ]


def _requant_lines(st: _Stage, prefix: str, i: str, dot: str, out: str) -> list[str]:
    L = st.layer
    name = f"{prefix}_l{st.k}"
    shift = str(st.shift) if st.shift is not None else f"{name}_shift[{i}]"
    lines = [
        f"int32_t v = (int32_t)(({dot}) * {name}_mult[{i}] + (uint32_t){name}_add[{i}]) >> "
        f"{shift};",
    ]
    return lines + _clamp_store(L.lo, L.hi, f"{out}[{i}]", st.out_type, not st.last)


def _mult_type(mult: np.ndarray) -> str:
    return "uint16_t" if int(mult.max()) <= 0xFFFF else "uint32_t"


# --- compact -----------------------------------------------------------------------------


def _pack_rows(W: np.ndarray, w_bits: int) -> tuple[list[int], int]:
    """Offset-binary weights, packed per row, low field first; returns (bytes, bytes per row)."""
    f = _field_bits(w_bits)
    per = 8 // f
    wu = W.astype(np.int64) + (1 << (w_bits - 1))
    n_in = W.shape[1]
    row_bytes = -(-n_in // per)
    data = []
    for row in wu:
        for b in range(row_bytes):
            byte = 0
            for q in range(per):
                j = b * per + q
                if j < n_in:
                    byte |= int(row[j]) << (q * f)
            data.append(byte)
    return data, row_bytes


def _dot_kernel(name: str, n_in: int, f: int, in_type: str) -> str:
    """sum_j wu[j] * au[j] over one packed row: a loop over 8-weight chunks, then a tail."""
    per = 8 // f
    mask = (1 << f) - 1

    def terms(n_w: int) -> list[str]:
        out = []
        for j in range(n_w):
            b, q = divmod(j, per)
            byte = f"w[{b}]"
            if f == 8:
                field = f"(uint32_t){byte}"
            elif q == per - 1:
                field = f"(uint32_t)({byte} >> {q * f})"
            elif q == 0:
                field = f"({byte} & {mask}u)"
            else:
                field = f"(({byte} >> {q * f}) & {mask}u)"
            out.append(f"{field} * a[{j}]")
        return out

    chunk = 8
    n_chunks, tail = divmod(n_in, chunk)
    if n_chunks == 1:
        n_chunks, tail = 0, n_in
    body = [f"/* sum_j wu[j] * au[j] over a row of {n_in} weights ({f}-bit fields). */",
            f"static uint32_t {name}(const uint8_t *w, const {in_type} *a)", "{",
            "    uint32_t s = 0;"]
    if n_chunks:
        body.append(f"    const {in_type} *end = a + {n_chunks * chunk};")
        body.append("    do {")
        body.append("        s += " + "\n            + ".join(terms(chunk)) + ";")
        body.append(f"        w += {chunk // per};")
        body.append(f"        a += {chunk};")
        body.append("    } while (a != end);")
    if tail:
        body.append("    s += " + "\n        + ".join(terms(tail)) + ";")
    body.append("    return s;")
    body.append("}\n")
    return "\n".join(body)


def _compact_source(model: IntModel, prefix: str) -> str:
    stages = _stages(model)
    P = prefix.upper()
    out = [_banner(model, "compact", f"{prefix}_model.c: the network, compact variant."),
           f'#include "{prefix}_model.h"\n', _REQUANT_DOC, _ASSUMPTIONS]
    map_body = _input_map(model, prefix, stages[0].in_type, out)
    kernels: dict[tuple, str] = {}
    layer_code: list[list[str]] = []
    for st in stages:
        L = st.layer
        name = f"{prefix}_l{st.k}"
        f = _field_bits(L.w_bits)
        ow = 1 << (L.w_bits - 1)
        data, row_bytes = _pack_rows(L.weights, L.w_bits)
        rowsum = L.weights.astype(np.int64).sum(axis=1)
        # acc = b + sum W a = b + in_lo*rowsum + sum (wu - ow) au; C = (b + in_lo*rowsum)*M + rnd
        C = [_i32((int(L.bias[i]) + st.in_lo * int(rowsum[i])) * int(st.mult[i])
                  + _rnd_scaled(L, i, int(st.shifts[i]))) for i in range(L.n_out)]
        out.append(f"/* Layer {st.k}: {L.n_in} -> {L.n_out}, {L.w_bits}-bit weights stored as "
                   f"w + {ow} in {f}-bit fields, {row_bytes} bytes per row. */\n")
        out.append(_c_array("uint8_t", f"{name}_weights", data, width=3))
        out.append(_c_array(_mult_type(st.mult), f"{name}_mult", st.mult, per_line=8))
        out.append(_c_array("int32_t", f"{name}_add", C, per_line=6))
        if st.shift is None:
            out.append(_c_array("uint8_t", f"{name}_shift", st.shifts))
        key = (L.n_in, f, st.in_type)
        if key not in kernels:
            kname = f"{prefix}_dot{L.n_in}_w{f}" + ("" if st.in_type == "uint8_t" else "_a16")
            kernels[key] = kname
            out.append(_dot_kernel(kname, L.n_in, f, st.in_type))
        src = "a0" if st.k == 1 else f"a{st.k - 1}"
        dst = "out" if st.last else f"a{st.k}"
        n_in_def = P + "_N_IN" if st.k == 1 else f"{P}_N_HIDDEN{st.k - 1}"
        code = [f"/* layer {st.k} */", "{",
                f"    uint32_t sa = 0; /* {ow} * sum of the stored inputs: the weights' offset */",
                f"    const uint8_t *w = {name}_weights;",
                f"    for (int j = 0; j < {n_in_def}; j++) sa += {src}[j];",
                f"    sa <<= {L.w_bits - 1};",
                f"    for (int i = 0; i < {L.n_out}; i++) {{",
                f"        uint32_t dot = {kernels[key]}(w, {src}) - sa;",
                f"        w += {row_bytes};"]
        code += ["        " + s for s in _requant_lines(st, prefix, "i", "dot", dst)]
        code += ["    }", "}"]
        layer_code.append(code)
    out.append(f"void {prefix}_predict(const uint16_t in[{P}_N_IN], int16_t out[{P}_N_OUT])\n{{")
    out.append(f"    {stages[0].in_type} a0[{P}_N_IN];")
    for st in stages[:-1]:
        out.append(f"    {st.out_type} a{st.k}[{P}_N_HIDDEN{st.k}];")
    out.append(f"\n    for (int j = 0; j < {P}_N_IN; j++) {{")
    out += ["        " + s for s in map_body]
    out.append("    }")
    for code in layer_code:
        out.append("")
        out += ["    " + s for s in code]
    out.append("}\n")
    return "\n".join(out)


# --- fast --------------------------------------------------------------------------------


def _mac(acc: str, a: str, w: int) -> str | None:
    """acc += a * w with w an immediate: skip 0, add/sub for +-1, a shift for powers of two."""
    if w == 0:
        return None
    op = "+=" if w > 0 else "-="
    m = abs(w)
    if m == 1:
        return f"{acc} {op} {a};"
    if m & (m - 1) == 0:
        return f"{acc} {op} {a} << {m.bit_length() - 1};"
    return f"{acc} {op} {a} * {m}u;"


def _fast_requant(st: _Stage, i: int, acc: str, dst: str) -> list[str]:
    """The requantization of channel i with its constants as immediates."""
    L = st.layer
    C = _i32((int(L.bias[i]) + st.in_lo * int(L.weights[i].astype(np.int64).sum()))
             * int(st.mult[i]) + _rnd_scaled(L, i, int(st.shifts[i])))
    lines = [f"v = (int32_t)({acc} * {int(st.mult[i])}u + (uint32_t){_lit(C)}) >> "
             f"{int(st.shifts[i])};",
             ]
    return lines + _clamp_store(L.lo, L.hi, f"{dst}[{i}]", st.out_type, not st.last)


_KEEP_DOC = """\
/* QNN_KEEP(...) is an empty statement that tells GCC the listed accumulators are live in low
 * registers at that point and that memory may have changed: it keeps the compiler from
 * reordering the unrolled code below into one long sum per output, or from keeping every
 * activation in a register across blocks (both spill to the stack). Any other compiler gets
 * the plain C, with the same result. */
#if defined(__GNUC__) && defined(__thumb__) && !defined(__thumb2__)
#define QNN_ESCAPE(p) __asm__("" : : "l"(p) : "memory")
#define QNN_KEEP1(a) __asm__("" : "+l"(a) : : "memory")
#define QNN_KEEP2(a, b) __asm__("" : "+l"(a), "+l"(b) : : "memory")
#define QNN_KEEP3(a, b, c) __asm__("" : "+l"(a), "+l"(b), "+l"(c) : : "memory")
#define QNN_KEEP4(a, b, c, d) __asm__("" : "+l"(a), "+l"(b), "+l"(c), "+l"(d) : : "memory")
#define QNN_KEEP5(a, b, c, d, e) \\
    __asm__("" : "+l"(a), "+l"(b), "+l"(c), "+l"(d), "+l"(e) : : "memory")
#elif defined(__GNUC__)
#define QNN_ESCAPE(p) __asm__("" : : "r"(p) : "memory")
#define QNN_KEEP1(a) __asm__("" : "+r"(a) : : "memory")
#define QNN_KEEP2(a, b) __asm__("" : "+r"(a), "+r"(b) : : "memory")
#define QNN_KEEP3(a, b, c) __asm__("" : "+r"(a), "+r"(b), "+r"(c) : : "memory")
#define QNN_KEEP4(a, b, c, d) __asm__("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d) : : "memory")
#define QNN_KEEP5(a, b, c, d, e) \\
    __asm__("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e) : : "memory")
#else
#define QNN_ESCAPE(p)
#define QNN_KEEP1(a)
#define QNN_KEEP2(a, b)
#define QNN_KEEP3(a, b, c)
#define QNN_KEEP4(a, b, c, d)
#define QNN_KEEP5(a, b, c, d, e)
#endif
"""


def _fast_source(model: IntModel, prefix: str, block: int = FAST_BLOCK) -> str:
    stages = _stages(model)
    P = prefix.upper()
    im = model.input_map
    out = [_banner(model, "fast", f"{prefix}_model.c: the network, fast variant."),
           f'#include "{prefix}_model.h"\n', _REQUANT_DOC, _ASSUMPTIONS, _KEEP_DOC,
           "/* Fast variant: every constant is an immediate in the code below (a zero weight\n"
           " * costs nothing, +-1 is an add or a subtract, a power of two a shift), and the\n"
           f" * outputs are computed {block} at a time so each activation is loaded once per "
           "block. */\n"]
    body = [f"    {stages[0].in_type} a0[{P}_N_IN];"]
    for st in stages[:-1]:
        body.append(f"    {st.out_type} a{st.k}[{P}_N_HIDDEN{st.k}];")
    body.append("    int32_t v;")
    body.append("    uint32_t x;\n")
    body.append("    /* the activations live in memory, reloaded in each block */")
    body += [f"    QNN_ESCAPE(a{k});" for k in range(len(stages))]
    body.append("    /* input map: a0 = x * m + (rnd(s) - zp * m), stored as a0 - lo */")
    for j in range(model.n_in):
        m, sh, z = int(im.multiplier[j]), int(im.shift[j]), int(im.zero_point[j])
        c = _i32(int(rnd(sh)) - z * m)
        body += [f"    v = (int32_t)(in[{j}] * {m}u + (uint32_t){_lit(c)}) >> {sh};",
                 *["    " + t for t in _clamp_store(im.lo, im.hi, f"a0[{j}]",
                                                  stages[0].in_type, True)]]
    for st in stages:
        L = st.layer
        src = "a0" if st.k == 1 else f"a{st.k - 1}"
        dst = "out" if st.last else f"a{st.k}"
        body.append(f"\n    /* layer {st.k}: {L.n_in} -> {L.n_out}, {L.w_bits}-bit weights */")
        for i0 in range(0, L.n_out, block):
            rows = list(range(i0, min(i0 + block, L.n_out)))
            accs = [f"s{r - i0}" for r in rows]
            keep = f"QNN_KEEP{len(accs)}({', '.join(accs)});"
            body.append("    {")
            body.append("        uint32_t " + ", ".join(f"{a} = 0" for a in accs) + ";")
            for j in range(L.n_in):
                macs = [_mac(a, "x", int(L.weights[r, j])) for a, r in zip(accs, rows,
                                                                             strict=True)]
                macs = [mc for mc in macs if mc]
                if not macs:
                    continue
                body.append(f"        x = {src}[{j}];")
                body += ["        " + mc for mc in macs]
                body.append("        " + keep)
            for a, r in zip(accs, rows, strict=True):
                body += ["        " + s for s in _fast_requant(st, r, a, dst)]
            body.append("    }")
    body.append("    (void)x;")
    out.append(f"void {prefix}_predict(const uint16_t in[{P}_N_IN], int16_t out[{P}_N_OUT])\n{{")
    out += body
    out.append("}\n")
    return "\n".join(out)


# --- public API --------------------------------------------------------------------------


def generate_c(model: IntModel, variant: str = "compact", prefix: str = "qnn") -> dict[str, str]:
    """The C pair for `model`: {"qnn_model.h": text, "qnn_model.c": text} (names follow
    `prefix`). Refuses (QnnError) a model whose int32 arithmetic could overflow."""
    if variant not in VARIANTS:
        raise QnnError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}.")
    if not prefix.isidentifier():
        raise QnnError(f"prefix {prefix!r} is not a C identifier; use letters, digits and _.")
    check_export(model)
    source = _compact_source(model, prefix) if variant == "compact" else _fast_source(model,
                                                                                      prefix)
    return {f"{prefix}_model.h": _header(model, variant, prefix), f"{prefix}_model.c": source}


def write_c(model: IntModel, out_dir: str | Path, variant: str = "compact",
            prefix: str = "qnn") -> list[Path]:
    """Generate and write the C pair into `out_dir` (atomic writes); returns the paths."""
    files = generate_c(model, variant, prefix)
    out_dir = Path(out_dir)
    paths = []
    for name, text in files.items():
        atomic_write_text(out_dir / name, text)
        paths.append(out_dir / name)
    return paths
