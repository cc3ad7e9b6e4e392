"""The numbers the C needs, worked out from an `IntModel` (the templates only print them).

Both variants store every activation unsigned, as its distance above its clamp's lower bound:
u = a - lo >= 0 (so Thumb-1 loads it zero-extended with an immediate offset). A layer whose
inputs are stored as u = a - lo_in folds that offset into its bias at generation time:

    acc_i = b_i + sum_j W_ij * a_j = (b_i + lo_in * sum_j W_ij) + sum_j W_ij * u_j

Everything here is exact integer arithmetic in Python. Ranges come from `qnn.overflow`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from codegen.ctext import INT32_MAX, c_type
from common.errors import QnnError
from qnn.intmodel import IntLayer, IntModel, rnd
from qnn.overflow import dot_range, fits_int32, layer_ranges, requant_range

# Weight storage of the loop variant, by weight bits: (name, weights per byte, offset)
FORMATS = {8: ("byte", 1, 128), 4: ("nibble", 2, 8), 2: ("crumb", 4, 2)}


def weight_format(w_bits: int) -> int:
    """The loop variant's container bits for a layer: 8, 4 or 2 (two or four per byte).

    >>> [weight_format(b) for b in (2, 3, 4, 5, 8)]
    [2, 4, 4, 8, 8]
    """
    return 2 if w_bits <= 2 else 4 if w_bits <= 4 else 8


def _even(n: int) -> int:
    return n + (n & 1)


def _round_up(n: int, k: int) -> int:
    return -(-n // k) * k


@dataclass
class Layer:
    """One dense layer as the C sees it (k is 1-based)."""

    k: int
    src: IntLayer
    n_in: int
    n_out: int
    in_lo: int  # inputs are stored as u = a - in_lo, in [0, in_span]
    in_span: int
    bias: list[int]  # b_i + in_lo * sum_j W_ij: the accumulator when every u_j is 0
    last: bool
    fmt: int = 8  # loop variant: container bits of a weight (8, 4 or 2)
    tiles: list[int] = field(default_factory=list)  # loop variant: the weight bytes
    multiplier: list[int] | None = None  # loop variant: rescaled to one shift, if exact
    rows: list[tuple[int, int, int]] = field(default_factory=list)  # loop: (C, M, n) per output
    block: int = 2  # loop variant: inputs per pass of its inner loop (2, or 4 in the C)

    @property
    def lo(self) -> int:
        return self.src.lo

    @property
    def span(self) -> int:
        return self.src.hi - self.src.lo

    @property
    def offset(self) -> int:
        return FORMATS[self.fmt][2]

    @property
    def n_in_pad(self) -> int:
        """Loop variant: the inputs, padded to whole blocks (the C takes four per pass)."""
        return _round_up(self.n_in, self.block)

    @property
    def n_out_pad(self) -> int:
        """Loop variant: the outputs, in pairs; a hidden layer's in blocks (the next inputs)."""
        return _round_up(self.n_out, 2 if self.last else self.block)

    def folded_constant(self, i: int) -> int:
        """The unrolled variant's requantization constant: bias_i * M_i + rnd(n_i), modulo
        2^32 (so y_i = (sum_i * M_i + C_i) >> n_i with sum_i = sum_j W_ij * u_j)."""
        L = self.src
        return (self.bias[i] * int(L.multiplier[i]) + int(rnd(int(L.shift[i])))) % 2**32


def layers(model: IntModel) -> list[Layer]:
    """The model's layers with their folded biases (and no packing)."""
    out = []
    for k, (L, r) in enumerate(zip(model.layers, layer_ranges(model), strict=True)):
        W = L.weights.astype(np.int64)
        bias = [int(b) + r.in_lo * int(s) for b, s in zip(L.bias, W.sum(axis=1), strict=True)]
        out.append(Layer(k + 1, L, L.n_in, L.n_out, r.in_lo, r.in_hi - r.in_lo, bias,
                         k == len(model.layers) - 1))
    return out


def tiles(W: np.ndarray, fmt: int, n_out: int = 0, n_in: int = 0) -> list[int]:
    """The loop variant's weight bytes: 2x2 tiles (rows i, i+1; columns j, j+1), in row-pair
    order, each weight stored offset-binary (W + offset >= 0); W padded with zeros to n_out
    rows and n_in columns (at least to even sizes).

    byte (8):   4 bytes  W[i][j], W[i+1][j], W[i][j+1], W[i+1][j+1]
    nibble (4): 2 bytes  W[i][j] | W[i+1][j] << 4,  W[i][j+1] | W[i+1][j+1] << 4
    crumb (2):  1 byte   W[i][j] | W[i+1][j] << 2 | W[i][j+1] << 4 | W[i+1][j+1] << 6

    >>> tiles(np.array([[1, -1], [0, -2]]), 8), tiles(np.array([[1, -1], [0, -2]]), 4)
    ([129, 128, 127, 126], [137, 103])
    >>> tiles(np.array([[1, -1], [0, -2]]), 2), tiles(np.array([[1], [0], [-1]]), 8)
    ([27], [129, 128, 128, 128, 127, 128, 128, 128])
    >>> tiles(np.array([[1, -1], [0, -2]]), 8, 2, 4)
    [129, 128, 127, 126, 128, 128, 128, 128]
    """
    _, per_byte, offset = FORMATS[fmt]
    rows, cols = W.shape
    P = np.zeros((max(n_out, _round_up(rows, 2)), max(n_in, _round_up(cols, 2))), dtype=np.int64)
    P[:rows, :cols] = W
    P += offset
    out: list[int] = []
    for i in range(0, P.shape[0], 2):
        for j in range(0, P.shape[1], 2):
            t = [int(P[i, j]), int(P[i + 1, j]), int(P[i, j + 1]), int(P[i + 1, j + 1])]
            if fmt == 8:
                out += t
            elif fmt == 4:
                out += [t[0] | t[1] << 4, t[2] | t[3] << 4]
            else:
                out.append(t[0] | t[1] << 2 | t[2] << 4 | t[3] << 6)
    return out


def one_shift(layer: IntLayer, acc_lo: list[int], acc_hi: list[int]) -> list[int] | None:
    """The multipliers rescaled to the layer's largest shift n: M_i * 2^(n - n_i), or None
    when that is not exact. It is exact when every n_i >= 1 (then rnd(n_i) * 2^(n - n_i) =
    rnd(n)) and the rescaled product acc * M + rnd(n) still fits int32 (qnn.overflow).

    >>> L = IntLayer(np.zeros((2, 1)), np.zeros(2), np.array([3, 5]), np.array([2, 4]), 0, 1,
    ...              8, 8)
    >>> one_shift(L, [-10, -10], [10, 10]), one_shift(L, [-2**28] * 2, [0, 0])
    ([12, 5], None)
    """
    shifts = [int(v) for v in layer.shift]
    n = max(shifts)
    if min(shifts) < 1 and min(shifts) != n:
        return None
    mults = [int(m) << (n - s) for m, s in zip(layer.multiplier, shifts, strict=True)]
    for m, lo, hi in zip(mults, acc_lo, acc_hi, strict=True):
        if not fits_int32(*requant_range(lo, hi, m, n)):
            return None
    return mults


def loop_layers(model: IntModel, block: int = 2) -> list[Layer]:
    """Layers with the loop variant's weight tiles, inputs padded to multiples of `block`,
    checked to fit its int32 sums: the raw sums add products of stored bytes (<= 255) and
    stored inputs (<= span), all >= 0."""
    out = layers(model)
    for layer, r in zip(out, layer_ranges(model), strict=True):
        layer.block = block
        layer.fmt = weight_format(layer.src.w_bits)
        layer.tiles = tiles(layer.src.weights, layer.fmt, layer.n_out_pad, layer.n_in_pad)
        layer.multiplier = one_shift(layer.src, r.acc_lo, r.acc_hi)
        raw = dot_range([255] * layer.n_in_pad, 0, layer.in_span)[1]
        correction = layer.offset * dot_range([1] * layer.n_in_pad, 0, layer.in_span)[1]
        if max(raw, correction) > INT32_MAX:
            raise QnnError(f"layer {layer.k}: its {layer.n_in} inputs of {layer.in_span + 1} "
                           "levels could overflow the loop's int32 sums; use the unrolled "
                           "variant or fewer activation bits.")
    return out


def int32_wrap(v: int) -> int:
    """v modulo 2^32, as the int32 with the same bits.

    >>> int32_wrap(2**31), int32_wrap(-1), int32_wrap(2**32 + 5)
    (-2147483648, -1, 5)
    """
    v %= 2**32
    return v - 2**32 if v >= 2**31 else v


def requant_rows(layer: Layer, one: bool) -> list[tuple[int, int, int]]:
    """The loop variant's (constant, multiplier, shift) of each output, padded to an even
    count: y = (acc * M + C) >> n with C = b * M + 2^(n-1) modulo 2^32, where acc is the sum
    without the bias (b folds the inputs' lower bounds, see `layers`). The true value of
    acc * M + C is the one the overflow proof bounds, so the wrapped uint32 arithmetic is exact.

    >>> L = Layer(1, IntLayer(np.zeros((1, 1)), np.zeros(1), np.array([3]), np.array([2]), 0,
    ...           1, 8, 8), 1, 1, 0, 1, [-5], True, multiplier=[3])
    >>> requant_rows(L, True)
    [(-13, 3, 2), (0, 0, 0)]
    """
    src = layer.src
    out = []
    for i, b in enumerate(layer.bias):
        m = layer.multiplier[i] if one else int(src.multiplier[i])
        n = int(src.shift.max()) if one else int(src.shift[i])
        out.append((int32_wrap(b * m + int(rnd(n))), m, n))
    return out + [(0, 0, 0)] * (layer.n_out_pad - layer.n_out)


@dataclass
class LoopPlan:
    """Everything the loop variant's template needs besides the model itself."""

    layers: list[Layer]
    one_shift: bool  # every layer's multipliers rescaled to one shift (no shifts per row)
    input_multiplier: str  # C type of the input map's multipliers
    multiplier: str  # C type of the layers' multipliers
    input_constant: list[int]  # 2^(s-1) - zero * m: a0 = (in * m + constant) >> s, clamped

    @property
    def rows_multiplier(self) -> str:
        """C type of the multipliers in struct rows: a uint8_t would leave the struct the
        same size (padding), so uint16_t at least."""
        return "uint16_t" if self.multiplier == "uint8_t" else self.multiplier


def _utype(values: list[int]) -> str:
    return c_type(0, max(values)).replace("int32_t", "uint32_t")


def loop_plan(model: IntModel, block: int = 2) -> LoopPlan:
    """The loop variant's numbers, inputs padded to multiples of `block` (the C's inner loop
    takes 4 per pass; the Rust mirror, codegen/rust.py, 2)."""
    ls = loop_layers(model, block)
    one = all(L.multiplier is not None for L in ls)
    for L in ls:
        L.rows = requant_rows(L, one)
    mults = [v for L in ls for v in (L.multiplier if one else L.src.multiplier)]
    im = model.input_map
    constant = [int(rnd(int(s))) - int(z) * int(m)
                for z, m, s in zip(im.zero_point, im.multiplier, im.shift, strict=True)]
    return LoopPlan(ls, one, _utype([int(v) for v in im.multiplier]),
                    _utype([int(v) for v in mults]), constant)


def distances_fit(p: LoopPlan, model: IntModel) -> bool:
    """Whether v - lo fits int32 for every requantization of the loop variant (the input map's
    and each layer's, v = (acc * M + C) >> n over the overflow proof's ranges): the Rust
    requantize() then computes it wrapping. Fails only for a shift of 0 with products near
    2^31."""
    im = model.input_map
    spans = []
    for c, m, s in zip(p.input_constant, im.multiplier, im.shift, strict=True):
        a, b = c, 65535 * int(m) + c
        spans.append((min(a, b) >> int(s), max(a, b) >> int(s), im.lo))
    for L, r in zip(p.layers, layer_ranges(model), strict=True):
        mults = L.multiplier if p.one_shift else [int(m) for m in L.src.multiplier]
        for i in range(L.n_out):
            n = int(L.src.shift.max()) if p.one_shift else int(L.src.shift[i])
            lo, hi = requant_range(r.acc_lo[i], r.acc_hi[i], mults[i], n)
            spans.append((lo >> n, hi >> n, L.lo))
    return all(fits_int32(v_lo - lo, v_hi - lo) for v_lo, v_hi, lo in spans)


# Inputs per pass of the C loop's inner loop (two 2x2 tiles): the C pads inputs to fours.
C_BLOCK = 4


def rows_bytes(p: LoopPlan) -> int:
    """sizeof(struct rows): two int32 constants, two multipliers, two shifts unless one per
    layer, padded to 4 bytes."""
    size = 8 + 2 * {"uint16_t": 2, "uint32_t": 4}[p.rows_multiplier] + (0 if p.one_shift else 2)
    return (size + 3) // 4 * 4


def loop_table_bytes(model: IntModel) -> dict[str, int]:
    """Bytes of each table the C loop variant writes (flash), by name."""
    p = loop_plan(model, C_BLOCK)
    size = {"uint8_t": 1, "uint16_t": 2, "uint32_t": 4}
    n_in = model.n_in
    out = {"input_multiplier": size[p.input_multiplier] * n_in, "input_constant": 4 * n_in,
           "input_shift": n_in}
    for layer in p.layers:
        out[f"layer{layer.k}_weights"] = len(layer.tiles)
        out[f"layer{layer.k}_rows"] = rows_bytes(p) * layer.n_out_pad // 2
    return out
