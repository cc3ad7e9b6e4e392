"""Every doctest in the product's modules runs (the examples in docstrings are part of the
documentation: they must stay true)."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "sim", "qnn", "codegen", "firmware", "m0", "explore", "cli", "qnn_tui")
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts)
    for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if ">>> " in p.read_text()
)


def test_there_are_doctests():
    assert MODULES


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
