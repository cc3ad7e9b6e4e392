"""Per-layer weight widths, searched greedily on measurements: from the widest width in every
layer, repeatedly lower the one layer whose reduction costs the least measured MSE per byte
of flash saved, until every layer is at the narrowest width. Each round's candidates (one per
layer that can still be lowered) train side by side (qnn.grid) and are measured on the M0;
every configuration met is a point of the sweep.

Only widths that change the storage are stepped through: the C stores weights of <= 2 bits
four to a byte, of <= 4 bits two to a byte and the rest as int8 (codegen.cgen), so lowering
8 -> 6 or 4 -> 3 saves no flash and, with fewer levels, cannot gain accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from explore.pareto import Point
from explore.sweep import SweepProgress, train_and_measure

STORAGE = ((1, 2), (3, 4), (5, 8))  # bits per weight as stored: 2, 4, 8


def storage_widths(widths: list[int]) -> list[int]:
    """The widest of the given widths in each storage class, widest first.

    >>> storage_widths([2, 3, 4, 6, 8])
    [8, 4, 2]
    """
    out = [max(w for w in widths if lo <= w <= hi) for lo, hi in STORAGE
           if any(lo <= w <= hi for w in widths)]
    return sorted(out, reverse=True)


def score(cur: Point, cand: Point) -> float:
    """MSE added per byte saved (lower is better); a free or better step scores -inf."""
    saved = cur.flash_bytes - cand.flash_bytes
    worse = cand.mse - cur.mse
    if saved <= 0:
        return -math.inf if worse <= 0 else math.inf
    return worse / saved


def search(ds: Any, cfgs: list[Any], variant: str, stop: Callable[[], bool], t0: float
           ) -> Iterator[SweepProgress | tuple[list[tuple[Any, Point]], float]]:
    base = cfgs[0]
    widths = storage_widths(sorted({w for c in cfgs for w in _flat(c.w_bits)}))
    a_bits = max(a for c in cfgs for a in _flat(c.a_bits))
    n_layers = len(base.hidden) + 1
    start = replace(base, w_bits=(widths[0],) * n_layers, a_bits=a_bits)
    pairs: list[tuple[Any, Point]] = []
    t_train = 0.0
    # rounds: the start, then at most (len(widths) - 1) lowerings per layer
    total = 1 + n_layers * n_layers * (len(widths) - 1)  # a bound: <= n_layers per round
    todo = [start]
    cur: Point | None = None
    while todo and not stop():
        batch = None
        for ev in train_and_measure(ds, todo, variant, stop, t0, len(pairs), total):
            if isinstance(ev, tuple):
                batch, t = ev
                t_train += t
            else:
                yield ev
        if not batch:
            break
        pairs.extend(batch)
        if cur is None:
            cur = batch[0][1]
        else:
            cur = min((p for _, p in batch), key=lambda p: score(cur, p))
        todo = [replace(base, w_bits=w, a_bits=a_bits) for w in _lowered(cur.w_bits, widths)]
    yield pairs, t_train


def _lowered(w_bits: tuple[int, ...], widths: list[int]) -> list[tuple[int, ...]]:
    """Every configuration with one layer lowered to the next narrower width."""
    out = []
    for k, w in enumerate(w_bits):
        narrower = [v for v in widths if v < w]
        if narrower:
            out.append((*w_bits[:k], max(narrower), *w_bits[k + 1:]))
    return out


def _flat(bits: int | tuple[int, ...]) -> tuple[int, ...]:
    return (bits,) if isinstance(bits, int) else tuple(bits)
