"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def arm_toolchain() -> Path:
    """Path of arm-none-eabi-gcc. Skips the test without it, except on CI (CI=true), where
    a missing toolchain is a failure: the firmware tests must really run there."""
    from common.errors import QnnError
    from firmware.build import find_toolchain

    try:
        return find_toolchain()
    except QnnError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the ARM toolchain is missing: {e}")
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def rust_toolchain() -> Path:
    """Debian's rustc (with rust-src, whose `core` is built for the M0 once and cached). Skips
    with the install line without it, except on CI (CI=true), where that is a failure."""
    from common.errors import QnnError
    from firmware.rust import core_source, find_rustc

    try:
        rustc = find_rustc()
        core_source(rustc)
        return rustc
    except QnnError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but the Rust toolchain is missing: {e}")
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def dataset_file(tmp_path_factory) -> Path:
    """10,000 simulated magnet6 rows: the test data the M0 bit-exactness tests (C and Rust)
    run, made once per session."""
    from sim.dataset import generate, save_dataset

    path = tmp_path_factory.mktemp("data") / "magnet6.npz"
    save_dataset(generate("magnet6", n=10_000, seed=3), path)
    return path
