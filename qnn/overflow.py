"""Overflow analysis: a proof, by interval arithmetic, that every int32 value the C computes
stays in int32 for every uint16 input.

For each stage we propagate the exact range [lo, hi] of every activation: the input map's
clamp, then each layer's clamp. For an accumulator that starts at the bias and adds
W_ij * a_j in any order, every partial sum lies in
    [b_i + sum_j min(W_ij lo_j, W_ij hi_j),  b_i + sum_j max(W_ij lo_j, W_ij hi_j)]
widened to include b_i itself, and the requantization product acc * M + rnd(n) is monotone in
acc. All sums are computed in Python integers, so the check itself cannot overflow.

This module is the one home of range analysis: the C generator (codegen/) asks it for the
per-channel ranges (`layer_ranges`) and for the range of the sums it writes in its own form
(`dot_range`), instead of deriving them itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.errors import QnnError
from qnn.intmodel import INT32_MAX, INT32_MIN, IntModel, rnd


@dataclass
class StageBound:
    name: str
    channel_worst: list[int]  # per output channel: worst |value| of acc, partial sums, product
    acc_lo: int  # over all channels
    acc_hi: int
    prod_lo: int  # acc * M + rnd(n), over all channels
    prod_hi: int

    @property
    def worst(self) -> int:
        return max(abs(self.acc_lo), abs(self.acc_hi), abs(self.prod_lo), abs(self.prod_hi))

    @property
    def worst_acc(self) -> int:
        return max(abs(self.acc_lo), abs(self.acc_hi))

    @property
    def headroom_bits(self) -> float:
        """log2(2^31 / worst): how many more bits the worst int32 value could grow."""
        return float(31 - np.log2(max(self.worst, 1)))

    @property
    def ok(self) -> bool:
        lo, hi = min(self.acc_lo, self.prod_lo), max(self.acc_hi, self.prod_hi)
        return lo >= INT32_MIN and hi <= INT32_MAX


@dataclass
class OverflowReport:
    stages: list[StageBound]

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.stages)

    def first_failure(self) -> str | None:
        for s in self.stages:
            if not s.ok:
                ch = int(np.argmax(s.channel_worst))
                return (f"{s.name}, channel {ch}: worst case {s.channel_worst[ch]:,} "
                        f"exceeds int32 ({INT32_MAX:,})")
        return None


def dot_range(weights, lo, hi, start: int = 0) -> tuple[int, int]:
    """The range of every partial sum of `start + sum_j weights[j] * a[j]`, in any order,
    for a[j] in [lo[j], hi[j]] (scalars apply to every j): [start + the sum of each term's
    minimum, start + the sum of each term's maximum], widened to include `start`.

    >>> dot_range([3, -2], 0, 10)
    (-20, 30)
    >>> dot_range([1, 1], -5, 5, start=100)
    (90, 110)
    """
    n = len(weights)
    los = [int(lo)] * n if np.isscalar(lo) else [int(v) for v in lo]
    his = [int(hi)] * n if np.isscalar(hi) else [int(v) for v in hi]
    terms = [(int(w) * a, int(w) * b) for w, a, b in zip(weights, los, his, strict=True)]
    low = int(start) + sum(min(t) for t in terms)
    high = int(start) + sum(max(t) for t in terms)
    return min(low, int(start)), max(high, int(start))


@dataclass
class LayerRange:
    """A dense layer's ranges: its input activations and, per output channel, the
    accumulator and every partial sum of it (any order), for all uint16 inputs."""

    in_lo: int
    in_hi: int
    acc_lo: list[int]
    acc_hi: list[int]


def layer_ranges(model: IntModel) -> list[LayerRange]:
    """Per layer: the input activation range and the per-channel accumulator ranges."""
    lo, hi = model.input_map.lo, model.input_map.hi
    out = []
    for layer in model.layers:
        accs = [dot_range(row, lo, hi, int(b)) for row, b in zip(layer.weights, layer.bias,
                                                                  strict=True)]
        out.append(LayerRange(lo, hi, [a for a, _ in accs], [b for _, b in accs]))
        lo, hi = layer.lo, layer.hi
    return out


def requant_range(lo: int, hi: int, m: int, n: int) -> tuple[int, int]:
    """The range of acc * m + rnd(n) for acc in [lo, hi] (the requantization's product)."""
    r = int(rnd(n))
    a, b = lo * m + r, hi * m + r
    return min(a, b), max(a, b)


def fits_int32(lo: int, hi: int) -> bool:
    return lo >= INT32_MIN and hi <= INT32_MAX


def analyze(model: IntModel) -> OverflowReport:
    im = model.input_map
    stages = []
    # input map: d in [-zp, 65535 - zp], product d * m + rnd(s)
    prods = [requant_range(-int(z), 65535 - int(z), int(m), int(s))
             for z, m, s in zip(im.zero_point, im.multiplier, im.shift, strict=True)]
    d_lo, d_hi = -int(im.zero_point.max()), 65535 - int(im.zero_point.min())
    stages.append(StageBound(
        "input map", [max(abs(a), abs(b)) for a, b in prods], d_lo, d_hi,
        min(p[0] for p in prods), max(p[1] for p in prods)))
    for k, (layer, r) in enumerate(zip(model.layers, layer_ranges(model), strict=True)):
        worst, p_los, p_his = [], [], []
        for i in range(layer.n_out):
            p_lo, p_hi = requant_range(r.acc_lo[i], r.acc_hi[i], int(layer.multiplier[i]),
                                        int(layer.shift[i]))
            p_los.append(p_lo)
            p_his.append(p_hi)
            worst.append(max(abs(r.acc_lo[i]), abs(r.acc_hi[i]), abs(p_lo), abs(p_hi)))
        name = "output layer" if k == len(model.layers) - 1 else f"layer {k + 1}"
        stages.append(StageBound(name, worst, min(r.acc_lo), max(r.acc_hi), min(p_los),
                                 max(p_his)))
    return OverflowReport(stages)


def check_export(model: IntModel) -> OverflowReport:
    """Raise QnnError when any int32 value could overflow; return the report otherwise."""
    report = analyze(model)
    failure = report.first_failure()
    if failure:
        raise QnnError(f"refusing to export: {failure}; retrain with fewer weight/activation "
                       "bits or a larger activation step.")
    return report
