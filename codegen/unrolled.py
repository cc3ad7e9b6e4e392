"""The statements of the unrolled variant: one per nonzero weight, outputs two at a time."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from codegen.ctext import c_int, c_type
from codegen.plan import Layer
from qnn.intmodel import IntModel, rnd
from qnn.overflow import dot_range

INT16_MIN, INT16_MAX = -(2**15), 2**15 - 1


def _i32(v: int) -> int:
    """v modulo 2^32, as the int32 with the same bits.

    >>> _i32(2**32 - 5), _i32(7), _i32(2**31)
    (-5, 7, -2147483648)
    """
    v %= 2**32
    return v - 2**32 if v >= 2**31 else v


def mac(acc: str, w: int, x: str) -> str | None:
    """`acc += w * x` as C, the sign in the operator; None for a zero weight.

    >>> mac("s0", -127, "a0[0]"), mac("s0", 1, "a0[1]"), mac("s1", 0, "a0[2]")
    ('s0 -= 127 * a0[0];', 's0 += a0[1];', None)
    """
    if w == 0:
        return None
    op = "+=" if w > 0 else "-="
    return f"{acc} {op} {x};" if abs(w) == 1 else f"{acc} {op} {abs(w)} * {x};"


@dataclass
class Block:
    units: list[list[int]]  # one sum per unit: a row, or two rows sharing it (lanes)
    lines: list[str] = field(default_factory=list)

    @property
    def lanes(self) -> bool:
        return any(len(u) == 2 for u in self.units)


def lanes_fit(layer: Layer, r0: int, r1: int) -> bool:
    """Whether rows r0 and r1 may share one sum: every partial sum of each lane, for inputs
    in [0, in_span], within int16 (qnn.overflow.dot_range)."""
    for r in (r0, r1):
        lo, hi = dot_range(layer.src.weights[r], 0, layer.in_span)
        if lo < INT16_MIN or hi > INT16_MAX:
            return False
    return True


def _store(layer: Layer, i: int, s: str, dst: str) -> str:
    L = layer.src
    call = (f"requantize({s}, {int(L.multiplier[i])}u, {c_int(_i32(layer.folded_constant(i)))}, "
            f"{int(L.shift[i])}, {c_int(L.lo)}, {c_int(L.hi)})")
    if layer.last:
        return f"out[{i}] = (int16_t){call};"
    ctype = c_type(0, layer.span)
    tail = f" - ({c_int(L.lo)})" if L.lo else ""
    return f"{dst}[{i}] = ({ctype})({call}{tail});"


def needed(model: IntModel) -> list[list[bool]]:
    """Which values each stage must compute: [inputs, layer 1 outputs, ...]. An activation
    that no nonzero weight of a needed output reads is never computed (nor stored)."""
    need = [[True] * model.n_out]
    for L in reversed(model.layers):
        rows = L.weights[np.array(need[0])]
        need.insert(0, [bool(v) for v in np.any(rows != 0, axis=0)])
    return need


def _units(layer: Layer, rows: list[int], pair_lanes: bool) -> list[list[int]]:
    """Rows in order, consecutive ones paired into one sum wherever their lanes fit."""
    units: list[list[int]] = []
    k = 0
    while k < len(rows):
        if pair_lanes and k + 1 < len(rows) and lanes_fit(layer, rows[k], rows[k + 1]):
            units.append([rows[k], rows[k + 1]])
            k += 2
        else:
            units.append([rows[k]])
            k += 1
    return units


def blocks(layer: Layer, src: str, dst: str, pair_lanes: bool, need: list[bool]) -> list[Block]:
    """The statements of one layer: two sums (s0, s1) per block, each input loaded once for
    both; with `pair_lanes`, a sum carries two rows wherever their lanes fit (weight pair
    W[r1][j] * 2^16 + W[r0][j]). Only the `need`ed outputs are computed."""
    W = layer.src.weights
    units = _units(layer, [i for i in range(layer.n_out) if need[i]], pair_lanes)
    out = []
    per_block = 4 if any(len(u) == 2 for u in units) else 2
    for u0 in range(0, len(units), per_block):
        b = Block(units[u0:u0 + per_block])
        b.lines.append(" ".join(f"s{q} = 0;" for q in range(len(b.units))))
        for j in range(layer.n_in):
            for q, unit in enumerate(b.units):
                if len(unit) == 2:
                    w0, w1 = int(W[unit[0], j]), int(W[unit[1], j])
                    line = (f"s{q} += PAIR({w0}, {w1}) * {src}[{j}];" if w0 or w1 else None)
                else:
                    line = mac(f"s{q}", int(W[unit[0], j]), f"{src}[{j}]")
                if line:
                    b.lines.append(line)
        for q, unit in enumerate(b.units):
            if len(unit) == 2:
                b.lines += [f"t = (uint32_t)((int32_t)(s{q} << 16) >> 16); /* row {unit[0]} */",
                            _store(layer, unit[0], "t", dst),
                            f"s{q} = (uint32_t)((int32_t)(s{q} - t) >> 16);   /* row {unit[1]} */"]
            b.lines.append(_store(layer, unit[-1], f"s{q}", dst))
        out.append(b)
    return out


def input_rows(model: IntModel, need: list[bool]) -> list[dict]:
    """The input map as requantize() arguments: (in * m + (rnd(s) - zero * m)) >> s."""
    im = model.input_map
    rows = []
    for j in (j for j in range(model.n_in) if need[j]):
        m, s, z = int(im.multiplier[j]), int(im.shift[j]), int(im.zero_point[j])
        rows.append({"j": j, "m": m, "s": s, "c": c_int(_i32(int(rnd(s)) - z * m))})
    return rows
