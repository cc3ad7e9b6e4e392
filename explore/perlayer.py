"""Per-layer weight widths, searched greedily on measurements: from the widest width in every
layer, repeatedly lower the one layer whose reduction costs the least measured MSE per byte
of flash saved, until every layer is at the narrowest width. Each round's candidates (one per
layer that can still be lowered) train side by side (qnn.grid) and are measured on the M0;
every configuration met is a point of the sweep. The uniform widths (the same width in every
layer) train in the first round beside the start, so that the search's result can be compared
with the best uniform width at the same flash (compare_uniform); a configuration met twice is
measured once.

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


def pick(cur: Point, candidates: list[Point]) -> Point:
    """The next step: the least MSE added per byte saved; ties (a step that saves nothing,
    as mixing storage widths, which needs more code, often does) go to the candidate that
    loses the least accuracy.

    >>> cur = Point((8,), (8, 8), (8,), 1.0, 1000, 900, 0)
    >>> dearer = [Point((8,), w, (8,), m, 1100, 900, 0) for w, m in (((4, 8), 3.), ((8, 4), 2.))]
    >>> pick(cur, dearer).w_bits
    (8, 4)
    """
    return min(candidates, key=lambda p: (score(cur, p), p.mse))


def search(ds: Any, cfgs: list[Any], variant: str, stop: Callable[[], bool], t0: float
           ) -> Iterator[SweepProgress | tuple[list[tuple[Any, Point]], float]]:
    base = cfgs[0]
    widths = storage_widths(sorted({w for c in cfgs for w in _flat(c.w_bits)}))
    a_bits = max(a for c in cfgs for a in _flat(c.a_bits))
    n_layers = len(base.hidden) + 1
    # the start (widest everywhere) first, then the other uniform widths
    todo = [replace(base, w_bits=(w,) * n_layers, a_bits=a_bits) for w in widths]
    seen: dict[tuple[int, ...], Point] = {}
    pairs: list[tuple[Any, Point]] = []
    t_train = 0.0
    # rounds: at most (len(widths) - 1) lowerings per layer, <= n_layers candidates each
    total = len(widths) + n_layers * n_layers * (len(widths) - 1)  # a bound
    candidates = [c.w_bits for c in todo[:1]]
    cur: Point | None = None
    while candidates and not stop():
        if todo:  # a candidate met before (a uniform width, say) is not trained again
            batch: list[tuple[Any, Point]] = []
            for ev in train_and_measure(ds, todo, variant, stop, t0, len(pairs), total):
                if isinstance(ev, tuple):
                    batch, t = ev
                    t_train += t
                else:
                    yield ev
            pairs.extend(batch)
            seen.update((p.w_bits, p) for _, p in batch)
        if any(w not in seen for w in candidates):
            break  # stopped before every candidate was measured
        met = [seen[w] for w in candidates]
        cur = met[0] if cur is None else pick(cur, met)
        candidates = _lowered(cur.w_bits, widths)
        todo = [replace(base, w_bits=w, a_bits=a_bits) for w in candidates if w not in seen]
    yield pairs, t_train


def compare_uniform(points: list[Point]) -> list[dict[str, Any]]:
    """For each mixed-width point of the Pareto front (marked), the best uniform-width point
    (the same width in every layer) within the same flash, and how their MSEs compare.

    >>> P = lambda w, m, f: Point((8,), w, (8,), m, f, 900, 0, pareto=True)
    >>> r = compare_uniform([P((8, 8), 1.0, 1000), P((4, 4), 2.0, 800), P((8, 4), 1.2, 900)])
    >>> r[0]["per_layer"], r[0]["uniform"], round(r[0]["mse_ratio"], 2)
    ('8 w8,4 a8', '8 w4,4 a8', 0.6)
    """
    uniform = [p for p in points if len(set(p.w_bits)) == 1]
    out = []
    for p in sorted((p for p in points if p.pareto and len(set(p.w_bits)) > 1),
                    key=lambda p: p.flash_bytes):
        fits = [u for u in uniform if u.flash_bytes <= p.flash_bytes]
        u = min(fits, key=lambda u: (u.mse, u.flash_bytes), default=None)
        out.append({"per_layer": p.label, "flash_bytes": p.flash_bytes, "mse": p.mse,
                    "uniform": u.label if u else None,
                    "uniform_flash_bytes": u.flash_bytes if u else None,
                    "uniform_mse": u.mse if u else None,
                    "mse_ratio": p.mse / u.mse if u and u.mse > 0 else None})
    return out


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
