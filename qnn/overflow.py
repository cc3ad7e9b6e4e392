"""Overflow analysis: a proof, by interval arithmetic, that every int32 value the C computes
stays in int32 for every uint16 input.

For each stage we propagate the exact range [lo, hi] of every activation: the input map's
clamp, then each layer's clamp. For an accumulator that starts at the bias and adds
W_ij * a_j in any order, every partial sum lies in
    [b_i + sum_j min(W_ij lo_j, W_ij hi_j),  b_i + sum_j max(W_ij lo_j, W_ij hi_j)]
widened to include b_i itself, and the requantization product acc * M + rnd(n) is monotone in
acc. All sums are computed in Python integers, so the check itself cannot overflow.
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


def _requant_range(lo: int, hi: int, m: int, n: int) -> tuple[int, int]:
    r = int(rnd(n))
    a, b = lo * m + r, hi * m + r
    return min(a, b), max(a, b)


def analyze(model: IntModel) -> OverflowReport:
    im = model.input_map
    stages = []
    # input map: d in [-zp, 65535 - zp], product d * m + rnd(s)
    prods = [_requant_range(-int(z), 65535 - int(z), int(m), int(s))
             for z, m, s in zip(im.zero_point, im.multiplier, im.shift, strict=True)]
    d_lo, d_hi = -int(im.zero_point.max()), 65535 - int(im.zero_point.min())
    stages.append(StageBound(
        "input map", [max(abs(a), abs(b)) for a, b in prods], d_lo, d_hi,
        min(p[0] for p in prods), max(p[1] for p in prods)))
    lo = [im.lo] * model.n_in
    hi = [im.hi] * model.n_in
    for k, layer in enumerate(model.layers):
        worst, acc_los, acc_his, p_los, p_his = [], [], [], [], []
        for i in range(layer.n_out):
            b = int(layer.bias[i])
            terms = [(int(w) * lo[j], int(w) * hi[j]) for j, w in enumerate(layer.weights[i])]
            a_lo = b + sum(min(t) for t in terms)
            a_hi = b + sum(max(t) for t in terms)
            a_lo, a_hi = min(a_lo, b), max(a_hi, b)
            p_lo, p_hi = _requant_range(a_lo, a_hi, int(layer.multiplier[i]), int(layer.shift[i]))
            acc_los.append(a_lo)
            acc_his.append(a_hi)
            p_los.append(p_lo)
            p_his.append(p_hi)
            worst.append(max(abs(a_lo), abs(a_hi), abs(p_lo), abs(p_hi)))
        name = "output layer" if k == len(model.layers) - 1 else f"layer {k + 1}"
        stages.append(StageBound(name, worst, min(acc_los), max(acc_his), min(p_los), max(p_his)))
        lo, hi = [layer.lo] * layer.n_out, [layer.hi] * layer.n_out
    return OverflowReport(stages)


def check_export(model: IntModel) -> OverflowReport:
    """Raise QnnError when any int32 value could overflow; return the report otherwise."""
    report = analyze(model)
    failure = report.first_failure()
    if failure:
        raise QnnError(f"refusing to export: {failure}; retrain with fewer weight/activation "
                       "bits or a larger activation step.")
    return report
