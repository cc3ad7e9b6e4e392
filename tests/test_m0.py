"""The emulated Cortex-M0: outputs, exact cycle counts, peak stack, and bad firmware reported
as QnnError instead of hanging."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest

from common.errors import QnnError
from firmware.build import build_firmware
from m0.emulator import run_inferences

FIXTURES = Path(__file__).parent / "fixtures"
ASM_FUNCS = ["cyc_simple", "cyc_loop", "cyc_call", "stack36", "bad_thumb2", "bad_unaligned",
             "bad_endless", "bad_overflow"]  # fmt: skip


@pytest.fixture(scope="module")
def mlp_elf(arm_toolchain, tmp_path_factory) -> Path:
    return build_firmware(FIXTURES / "mlp", tmp_path_factory.mktemp("m0mlp")).elf


@pytest.fixture(scope="module")
def asm_elf(arm_toolchain, tmp_path_factory) -> Path:
    return build_firmware(FIXTURES / "asm", tmp_path_factory.mktemp("m0asm"), keep=ASM_FUNCS).elf


def mlp_reference(x: np.ndarray) -> np.ndarray:
    """tests/fixtures/mlp/qnn_model.c in numpy, with its arrays parsed from the C."""
    text = (FIXTURES / "mlp" / "qnn_model.c").read_text()
    arr = {m[0]: np.array([int(v) for v in m[1].split(",")], dtype=np.int64)
           for m in re.findall(r"(qnn_\w+)\[\d+\] = \{([^}]*)\}", text)}  # fmt: skip
    a = (x.astype(np.int64) - 32768) >> 9
    sizes = [6, 24, 12, 3]
    for k in range(3):
        w = arr[f"qnn_w{k}"].reshape(sizes[k + 1], sizes[k])
        acc = a @ w.T + arr[f"qnn_b{k}"]
        n = arr[f"qnn_n{k}"]
        v = (acc * arr[f"qnn_m{k}"] + (1 << (n - 1))) >> n
        assert np.abs(acc * arr[f"qnn_m{k}"]).max() < 2**31  # the C works in int32
        a = np.clip(v, 0, 127) if k < 2 else np.clip(v, -32768, 32767)
    return a.astype(np.int16)


def test_outputs_match_python(mlp_elf):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 65536, (200, 6))
    x[0], x[1], x[2, ::2] = 0, 65535, 65535
    res = run_inferences(mlp_elf, x, 3)
    assert res.outputs.dtype == np.int16 and res.outputs.shape == (200, 3)
    np.testing.assert_array_equal(res.outputs, mlp_reference(x))
    assert res.cycles.shape == (200,) and res.instructions.shape == (200,)
    assert np.all(res.cycles > res.instructions)
    assert 0 < res.peak_stack <= 88  # the .su files give 48 + 40


def test_cycles_are_deterministic_and_slow_multiply_adds_31_per_muls(mlp_elf):
    x = np.random.default_rng(2).integers(0, 65536, (20, 6))
    fast = run_inferences(mlp_elf, x, 3)
    again = run_inferences(mlp_elf, x, 3)
    slow = run_inferences(mlp_elf, x, 3, slow_multiply=True)
    np.testing.assert_array_equal(fast.cycles, again.cycles)
    np.testing.assert_array_equal(fast.outputs, slow.outputs)
    # one MULS per MAC (6*24 + 24*12 + 12*3 = 468) and one per requantization (39)
    np.testing.assert_array_equal(slow.cycles - fast.cycles, 31 * (468 + 39))


@pytest.mark.parametrize(
    "function, cycles, slow_cycles, instructions, outputs",
    [
        ("cyc_simple", 11, 42, 4, [25, 0]),  # BL 4 + movs 1 + muls 1 + strh 2 + bx 3
        ("cyc_loop", 26, 26, 10, [0, 0]),  # see tests/fixtures/asm/qnn_model.c
        ("cyc_call", 21, 21, 6, [7, 0]),
    ],
)
def test_hand_counted_cycles(asm_elf, function, cycles, slow_cycles, instructions, outputs):
    x = np.array([[0, 0], [65535, 1]])
    res = run_inferences(asm_elf, x, 2, function=function)
    assert res.cycles.tolist() == [cycles, cycles]
    assert res.instructions.tolist() == [instructions, instructions]
    assert res.outputs.tolist() == [outputs, outputs]
    slow = run_inferences(asm_elf, x, 2, function=function, slow_multiply=True)
    assert slow.cycles.tolist() == [slow_cycles, slow_cycles]


def test_qnn_predict_of_the_asm_fixture(asm_elf):
    x = np.array([[0, 0], [100, 7], [65535, 65535]])
    res = run_inferences(asm_elf, x, 2)
    expected = [[0, 0], [114, 93], [np.int16(np.uint16(65535 * 3 & 0xFFFF)), 0]]
    assert res.outputs.tolist() == expected


def test_peak_stack_is_exact(asm_elf):
    res = run_inferences(asm_elf, np.zeros((3, 2)), 2, function="stack36")
    assert res.peak_stack == 36


@pytest.mark.parametrize(
    "function, words",
    [
        ("bad_thumb2", "invalid instruction"),  # a real M0 core, not an M33
        ("bad_unaligned", "unaligned"),
        ("bad_endless", "endless loop"),
        ("bad_overflow", "stack overflow"),
    ],
)
def test_bad_firmware_is_reported(asm_elf, function, words):
    x = np.zeros((2, 2), dtype=np.uint16)
    with pytest.raises(QnnError) as err:
        run_inferences(asm_elf, x, 2, function=function, max_cycles_per_inference=20_000)
    msg = str(err.value)
    assert words in msg and "inference 0" in msg and function in msg and "\n" not in msg


def test_bad_arguments(mlp_elf):
    with pytest.raises(QnnError, match=r"\[N, 6\]"):
        run_inferences(mlp_elf, np.zeros((2, 5)), 3)
    with pytest.raises(QnnError, match="uint16"):
        run_inferences(mlp_elf, np.full((2, 6), 70000), 3)
    with pytest.raises(QnnError, match="no function"):
        run_inferences(mlp_elf, np.zeros((2, 6)), 3, function="nope")
    with pytest.raises(QnnError, match="budget"):
        run_inferences(mlp_elf, np.zeros((2, 6)), 3, max_cycles_per_inference=7000)


@pytest.mark.slow
def test_ten_thousand_inferences_fast_and_exact(mlp_elf):
    x = np.random.default_rng(3).integers(0, 65536, (10_000, 6))
    t0 = time.perf_counter()
    res = run_inferences(mlp_elf, x, 3)
    rate = len(x) / (time.perf_counter() - t0)
    np.testing.assert_array_equal(res.outputs, mlp_reference(x))
    # ~2,500/s on an idle machine for these ~8,500 cycles; the bound only catches a
    # per-instruction hook sneaking back in (that would be ~50x slower)
    assert rate > 300, f"{rate:.0f} inferences/s"
    assert res.cycles.min() > 8000 and res.cycles.max() < 9000
