"""What the workbench's Explore pane sweeps, as project.json keeps it (its "sweep" object:
overrides of the defaults below, like "sim_params"), and the budget it draws on the plot.

    "sweep": {"hidden": [[16, 16]], "w_bits": [8, 4, 3, 2], "a_bits": [8, 6, 4],
              "search": "grid", "budget": "1000 B"}

hidden: the layer sizes to try (absent: the project's own); search: "grid" (every
combination) or "per-layer" (explore.perlayer, from the first sizes); budget: flash bytes
("1000 B"), worst-case cycles ("2400 cycles") or microseconds at the project's clock
("50 us"), or absent. Textual-free and JAX-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from common.errors import QnnError

SEARCHES = ("grid", "per-layer")
DEFAULTS: dict[str, Any] = {"w_bits": [8, 4, 3, 2], "a_bits": [8, 6, 4], "search": "grid",
                            "budget": None}
KEYS = ("hidden", *DEFAULTS)
UNITS = {"b": "flash", "bytes": "flash", "cycles": "cycles", "cyc": "cycles", "us": "us",
         "µs": "us"}
UNIT_TEXT = {"flash": "B", "cycles": "cycles", "us": "µs"}
MAX_POINTS = 64  # a bigger grid is a job for `qnn sweep`, not an interactive pane


@dataclass(frozen=True)
class Budget:
    kind: str  # "flash", "cycles" or "us"
    value: float

    def __str__(self) -> str:
        return f"{self.value:g} {UNIT_TEXT[self.kind]}"

    def limits(self) -> dict[str, float]:
        """Keyword arguments of explore.pareto.best_within."""
        return {f"max_{self.kind}": self.value}

    def scaled(self, factor: float) -> Budget:
        v = self.value * factor
        return Budget(self.kind, float(round(v)) if self.kind != "us" or v >= 10 else v)


def parse_budget(text: str | None) -> Budget | None:
    """'1000 B', '2400 cycles', '50 us' (or µs); '', 'none' or None: no budget.

    >>> parse_budget("1,000 B"), parse_budget("50us"), parse_budget("none")
    (Budget(kind='flash', value=1000.0), Budget(kind='us', value=50.0), None)
    """
    if text is None or text.strip().lower() in ("", "none", "-"):
        return None
    t = text.strip().replace(",", "").replace("_", "")
    number = t.rstrip("abcdefghijklmnopqrstuvwxyzµABCDEFGHIJKLMNOPQRSTUVWXYZ ")
    unit = t[len(number):].strip().lower()
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if unit not in UNITS or not (math.isfinite(value) and value > 0):
        raise QnnError(f"budget {text!r}: give a positive number and a unit, e.g. 1000 B, "
                       "2400 cycles or 50 us (none: no budget).")
    return Budget(UNITS[unit], value)


@dataclass
class SweepSettings:
    hidden: list[list[int]]
    w_bits: list[int]
    a_bits: list[int]
    search: str
    budget: Budget | None

    @property
    def n_points(self) -> int:
        """Configurations a grid trains (the per-layer search's count is found as it goes)."""
        return len(self.hidden) * len(self.w_bits) * len(self.a_bits)


def _ints(name: str, v: Any) -> list[int]:
    if not (isinstance(v, list) and v and all(isinstance(x, int) and not isinstance(x, bool)
                                              for x in v)):
        raise QnnError(f"sweep {name}: {v!r} is not a list of whole numbers.")
    return v


def sweep_settings(overrides: Any, hidden: list[int]) -> SweepSettings:
    """The settings of `overrides` (project.json's "sweep") over the defaults, checked;
    `hidden`: the project's layer sizes (the default to sweep)."""
    if not isinstance(overrides, dict):
        raise QnnError("sweep: not a JSON object.")
    unknown = sorted(set(overrides) - set(KEYS))
    if unknown:
        raise QnnError(f"sweep: unknown key(s) {', '.join(unknown)}.")
    d = {**DEFAULTS, "hidden": [list(hidden)], **overrides}
    sizes = d["hidden"]
    if not isinstance(sizes, list) or not sizes:
        raise QnnError("sweep hidden: give at least one list of layer sizes, e.g. 16,16.")
    sizes = [_ints("hidden", h) for h in sizes]
    if any(not 1 <= n <= 256 for h in sizes for n in h):
        raise QnnError("sweep hidden: layer sizes are 1..256.")
    w_bits, a_bits = _ints("weight bits", d["w_bits"]), _ints("activation bits", d["a_bits"])
    for name, bits in (("weight bits", w_bits), ("activation bits", a_bits)):
        if any(not 2 <= b <= 8 for b in bits):
            raise QnnError(f"sweep {name}: {bits} has a width outside 2..8.")
        if len(set(bits)) != len(bits):
            raise QnnError(f"sweep {name}: {bits} repeats a width.")
    if d["search"] not in SEARCHES:
        raise QnnError(f"sweep search {d['search']!r}: choose one of {', '.join(SEARCHES)}.")
    if d["budget"] is not None and not isinstance(d["budget"], str):
        raise QnnError(f"sweep budget {d['budget']!r}: a text like '1000 B', or null.")
    s = SweepSettings(sizes, w_bits, a_bits, d["search"], parse_budget(d["budget"]))
    if s.n_points > MAX_POINTS:
        raise QnnError(f"{s.n_points} configurations: at most {MAX_POINTS} in the workbench "
                       "(fewer sizes or widths), or run `qnn sweep` for a bigger grid.")
    return s
