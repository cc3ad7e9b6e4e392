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
