"""Build the firmware around hand-written qnn_model.c fixtures; check sizes and the
integer-only check on the linked ELF."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.errors import QnnError
from firmware.build import build_firmware, find_toolchain
from firmware.elfinfo import check_integer_only, size_report
from firmware.elfread import Firmware

FIXTURES = Path(__file__).parent / "fixtures"
ASM_FUNCS = ["cyc_simple", "cyc_loop", "cyc_call", "stack36", "bad_thumb2", "bad_unaligned",
             "bad_endless", "bad_overflow", "calls_thumb2"]  # fmt: skip


@pytest.fixture(scope="session")
def mlp_build(arm_toolchain, tmp_path_factory):
    return build_firmware(FIXTURES / "mlp", tmp_path_factory.mktemp("mlp"))


@pytest.fixture(scope="session")
def asm_build(arm_toolchain, tmp_path_factory):
    return build_firmware(FIXTURES / "asm", tmp_path_factory.mktemp("asm"), keep=ASM_FUNCS)


def test_missing_toolchain_is_one_line_with_install_hint(monkeypatch):
    monkeypatch.setenv("QNN_ARM_GCC", "/nonexistent")
    with pytest.raises(QnnError) as err:
        find_toolchain()
    msg = str(err.value)
    assert "\n" not in msg
    assert "arm-none-eabi-gcc not found" in msg
    assert "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi" in msg


def test_missing_toolchain_fails_the_build(monkeypatch, tmp_path):
    monkeypatch.setenv("QNN_ARM_GCC", "/nonexistent")
    with pytest.raises(QnnError, match="apt-get install"):
        build_firmware(FIXTURES / "mlp", tmp_path)


def test_build_links_and_symbols_are_found(mlp_build):
    assert mlp_build.elf.is_file() and mlp_build.map.is_file() and mlp_build.log.is_file()
    assert {p.name for p in mlp_build.su_files} >= {"qnn_model.su", "startup.su", "harness.su"}
    assert any("-mcpu=cortex-m0" in cmd for cmd in mlp_build.commands)
    fw = Firmware(mlp_build.elf)
    for name in ("qnn_predict", "qnn_w0", "qnn_w1", "Reset_Handler", "main", "qnn_harness_in"):
        assert name in fw.symbols
    assert fw.symbols["qnn_predict"].kind == "code"
    assert fw.symbols["qnn_w1"].kind == "rodata"
    assert fw.symbols["qnn_act_a"].kind == "bss"
    assert fw.symbols["qnn_vector_table"].address == 0
    assert fw.linker["__stack_top"] == 0x2000_4000


def test_size_report_numbers(mlp_build):
    rep = size_report(mlp_build.elf)
    sizes = {s.name: s for s in rep.symbols}
    assert sizes["qnn_w1"].bytes == 24 * 12  # int8 weights of the 24 -> 12 layer
    assert sizes["qnn_b0"].bytes == 24 * 4
    assert sizes["qnn_w1"].origin == "model" and sizes["Reset_Handler"].origin == "firmware"
    assert rep.inference["rodata"] == sum(s.bytes for s in rep.symbols
                                          if s.origin == "model" and s.kind == "rodata")
    assert rep.inference["code"] >= sizes["qnn_predict"].bytes + sizes["qnn_dense"].bytes
    assert rep.inference["bss"] == 2 * 24 * 4
    assert rep.firmware["rodata"] == 64  # the 16-entry vector table
    assert 0 < rep.flash_used < 4096 and rep.flash_total == 32 * 1024
    assert rep.stack_reserved == 2048 and rep.ram_total == 16 * 1024
    assert rep.stack_predict == 48 and rep.stack_worst == 48 + 40
    assert rep.ok and rep.problems == []
    json.dumps(rep.to_dict())
    text = rep.render()
    assert "qnn_w1" in text and "OK" in text


def test_integer_only_passes_on_clean_models(mlp_build, asm_build):
    assert check_integer_only(mlp_build.elf) == []
    assert check_integer_only(asm_build.elf) == []


@pytest.mark.parametrize(
    "fixture, helper",
    [("int64", "__aeabi_lmul"), ("div", "__aeabi_idiv"), ("float", "__aeabi_fmul")],
)
def test_integer_only_names_the_helper(arm_toolchain, tmp_path, fixture, helper):
    build = build_firmware(FIXTURES / fixture, tmp_path)
    problems = check_integer_only(build.elf)
    assert problems
    assert any(helper in p for p in problems), problems
    assert any(p.startswith("qnn_predict reaches") for p in problems)
    rep = size_report(build.elf)
    assert not rep.ok and rep.problems == problems
    assert "NOT OK" in rep.render()


def test_integer_only_flags_thumb2_instructions(asm_build):
    problems = check_integer_only(asm_build.elf, root="calls_thumb2")
    assert len(problems) == 1
    assert "bad_thumb2" in problems[0] and "sdiv" in problems[0]


def test_libc_call_is_a_clear_link_error(arm_toolchain, tmp_path):
    with pytest.raises(QnnError, match="calls `memset`") as err:
        build_firmware(FIXTURES / "libc", tmp_path)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "qnn.elf").exists()


def test_compile_error_gives_first_error_line_and_no_stale_elf(mlp_build, tmp_path):
    out = tmp_path / "out"
    build_firmware(FIXTURES / "mlp", out)
    assert (out / "qnn.elf").exists()
    with pytest.raises(QnnError) as err:
        build_firmware(FIXTURES / "syntax_error", out)
    msg = str(err.value)
    assert "qnn_model.c:6" in msg and "error:" in msg and "build.log" in msg
    assert not (out / "qnn.elf").exists()  # the old, now stale ELF is gone
    assert "expected expression" in (out / "build.log").read_text()
