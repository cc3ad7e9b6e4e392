"""The explore stage: the Pareto front's logic (by property) and one real measurement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explore.pareto import Point, best_within, dominates, mark_pareto

FIXTURES = Path(__file__).parent / "fixtures"

points = st.lists(st.tuples(st.integers(1, 20), st.integers(100, 120), st.integers(1, 5)),
                  min_size=1, max_size=25).map(
    lambda rows: [Point((8,), (8, 8), (8,), float(m), f, c, 0) for m, f, c in rows])


@settings(max_examples=200, deadline=None)
@given(points)
def test_the_front_is_exactly_the_undominated_points(pts):
    front = mark_pareto(pts)
    assert front  # someone is always undominated
    for p in pts:
        dominated = any(dominates(o, p) for o in pts)
        assert p.pareto is not dominated
        if not p.pareto:  # every point off the front is beaten by one on it
            assert any(dominates(f, p) for f in front)
    assert [f.mse for f in front] == sorted(f.mse for f in front)


@settings(max_examples=200, deadline=None)
@given(points, st.integers(100, 120), st.integers(1, 5))
def test_the_best_within_a_budget_fits_it_and_nothing_fitting_is_better(pts, flash, cycles):
    best = best_within(pts, max_flash=flash, max_cycles=cycles)
    fitting = [p for p in pts if p.flash_bytes <= flash and p.cycles <= cycles]
    if best is None:
        assert not fitting
    else:
        assert best in fitting and best.mse == min(p.mse for p in fitting)


def test_a_point_names_its_configuration():
    p = Point((16, 16), (8, 4, 8), (8, 6), 1.0, 990, 3800, 68)
    assert p.label == "16,16 w8,4,8 a8,6"


@pytest.mark.toolchain
def test_measure_builds_runs_and_checks_the_model(arm_toolchain, tmp_path):
    from codegen.cgen import VARIANTS
    from explore.measure import measure, mse_in_units
    from qnn.intmodel import IntModel
    from sim.dataset import generate

    model = IntModel.load(FIXTURES / "magnet6_8bit_int_model.json")
    ds = generate("magnet6", n=400, seed=7)
    r = measure(model, ds.x, ds.y, VARIANTS[0], workdir=tmp_path)
    mse, per_output = mse_in_units(model, ds.x, ds.y)
    assert r["mse"] == mse and len(r["mse_per_output"]) == 6
    assert np.isclose(np.mean(r["mse_per_output"]), r["mse"])
    assert 300 < r["flash_bytes"] < 8000 and 500 < r["cycles"] < 20000
    assert 0 < r["stack_bytes"] <= 256 and r["bit_exact_rows"] == 256
    assert list(tmp_path.iterdir()) == []  # the build folder was temporary
