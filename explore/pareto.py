"""The Pareto front of measured configurations: a point is on it when no other point is at
least as good on every axis (MSE, flash, cycles) and better on one. Cycles within
CYCLES_TOLERANCE of each other count as equal: a few cycles' difference is smaller than the
spread of one network's cycles over its inputs, not a speed a user can have."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

CYCLES_TOLERANCE = 0.01  # 1 %: about the spread of one model's cycles from input to input


@dataclass
class Point:
    """One measured configuration (all figures measured, none estimated)."""

    hidden: tuple[int, ...]
    w_bits: tuple[int, ...]  # per layer
    a_bits: tuple[int, ...]  # per hidden layer
    mse: float  # integer model, held-out data, output units (mean over outputs)
    flash_bytes: int  # inference flash of the generated code
    cycles: int  # max cycles per inference on the emulated M0
    stack_bytes: int
    pareto: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """`16,16 w8,4,8 a8,8`: hidden sizes, weight bits and activation bits per layer."""
        h = ",".join(map(str, self.hidden))
        return (f"{h} w{','.join(map(str, self.w_bits))} "
                f"a{','.join(map(str, self.a_bits))}")

    def costs(self) -> tuple[float, int, int]:
        return (self.mse, self.flash_bytes, self.cycles)


def dominates(a: Point, b: Point) -> bool:
    """a is at least as good as b everywhere and better somewhere (cycles: by more than
    CYCLES_TOLERANCE).

    >>> p = lambda m, f, c: Point((8,), (8, 8), (8,), m, f, c, 0)
    >>> dominates(p(1.0, 500, 900), p(1.0, 600, 900)), dominates(p(1.0, 500, 900), p(0.9, 600, 900))
    (True, False)
    >>> dominates(p(4.0, 1024, 5148), p(7.8, 1024, 5144))  # 4 cycles faster is not faster
    True
    >>> dominates(p(1.0, 500, 900), p(1.0, 500, 905)), dominates(p(1.0, 500, 900), p(1.0, 500, 950))
    (False, True)
    """
    no_worse = (a.mse <= b.mse and a.flash_bytes <= b.flash_bytes
                and a.cycles <= b.cycles * (1 + CYCLES_TOLERANCE))
    better = (a.mse < b.mse or a.flash_bytes < b.flash_bytes
              or a.cycles < b.cycles * (1 - CYCLES_TOLERANCE))
    return no_worse and better


def mark_pareto(points: Sequence[Point]) -> list[Point]:
    """Set each point's `pareto` flag; returns the front, most accurate first.

    >>> p = lambda m, f, c: Point((8,), (8, 8), (8,), m, f, c, 0)
    >>> [(q.mse, q.flash_bytes) for q in mark_pareto([p(1, 900, 9), p(2, 500, 9), p(3, 600, 9)])]
    [(1, 900), (2, 500)]
    """
    for q in points:
        q.pareto = not any(dominates(o, q) for o in points if o is not q)
    return sorted((q for q in points if q.pareto), key=lambda q: (q.mse, q.flash_bytes))


def best_within(points: Sequence[Point], max_flash: int | None = None,
                max_cycles: int | None = None, max_us: float | None = None,
                clock_mhz: float = 48.0) -> Point | None:
    """The most accurate point inside the budget (None when nothing fits); `max_us` is
    microseconds per inference at `clock_mhz` (worst-case cycles / clock).

    >>> p = lambda m, f, c: Point((8,), (8, 8), (8,), m, f, c, 0)
    >>> best_within([p(1, 900, 9), p(2, 500, 9)], max_flash=600).mse
    2
    >>> best_within([p(1, 900, 4800), p(2, 500, 2400)], max_us=50, clock_mhz=48).mse
    2
    """
    fits = [q for q in points
            if (max_flash is None or q.flash_bytes <= max_flash)
            and (max_cycles is None or q.cycles <= max_cycles)
            and (max_us is None or q.cycles / clock_mhz <= max_us)]
    return min(fits, key=lambda q: (q.mse, q.flash_bytes, q.cycles), default=None)
