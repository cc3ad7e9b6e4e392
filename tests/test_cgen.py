"""Generated C vs the numpy integer reference, compiled with the host compilers (fast, no ARM),
and the generated text itself: tables, packing, header, determinism, no compiler extensions."""

from __future__ import annotations

import doctest
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import random_int_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import codegen.ctext
import codegen.plan
import codegen.unrolled
import qnn.overflow
from codegen.cgen import HEADER, SOURCE, VARIANTS, flash_estimate, generate_c, table_bytes, write_c
from common.errors import QnnError
from qnn.intmodel import IntModel, predict_int

FIXTURES = Path(__file__).parent / "fixtures"
HOST_MAIN = r"""
#include <stdio.h>
#include <stdint.h>
#include "qnn_model.h"
int main(void)
{
    uint16_t in[QNN_N_IN];
    int16_t out[QNN_N_OUT];
    while (fread(in, sizeof in, 1, stdin) == 1) {
        qnn_predict(in, out);
        fwrite(out, sizeof out, 1, stdout);
    }
    return 0;
}
"""
STRICT = ["-std=c99", "-Wall", "-Wextra", "-pedantic", "-Werror"]
# Host compilers: on CI (CI=true) both must be there, so a missing one fails rather than skips.
COMPILERS = (["gcc", "clang"] if os.environ.get("CI") == "true"
             else [cc for cc in ("gcc", "clang") if shutil.which(cc)])
needs_gcc = pytest.mark.skipif("gcc" not in COMPILERS, reason="host gcc missing")

CASES = [
    # sizes, w_bits, a_bits, in_bits
    ((6, 16, 16, 6), 8, 8, 12),
    ((6, 16, 16, 6), 4, 8, 12),
    ((6, 16, 16, 6), 2, 8, 12),
    ((6, 8, 6), (2, 3), 5, 8),
    ((6, 8, 6), (7, 6), 2, 16),
    ((3, 5, 2), 7, 2, 16),
    ((3, 5, 2), (5, 3), 3, 9),
    ((6, 32, 16, 8, 6), (8, 5, 4, 2), 6, 10),
    ((6, 32, 16, 8, 6), (3, 8, 6, 7), 4, 14),
    ((2, 3, 2), 4, 4, 8),
    ((9, 17, 3), (4, 8), 7, 11),
    ((1, 1, 1), 2, 2, 2),
    ((4, 300, 3), (4, 8), 8, 8),  # more than 255 outputs: 16-bit sizes in the loop's table
]


def inputs(n_in: int, n: int, seed: int) -> np.ndarray:
    """Random rows, all-0 and all-65535, and each input alone at 65535."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 65536, (n, n_in))
    x[0], x[1] = 0, 65535
    x[2 : 2 + n_in] = 0
    x[2 : 2 + n_in][np.arange(n_in), np.arange(n_in)] = 65535
    return x


def host_run(model, variant: str, folder: Path, x: np.ndarray, cc: str = "gcc",
             opt: str = "-O2") -> np.ndarray:
    write_c(model, folder, variant)
    (folder / "main.c").write_text(HOST_MAIN)
    exe = folder / "a.out"
    subprocess.run([cc, *STRICT, opt, f"-I{folder}", str(folder / SOURCE),
                    str(folder / "main.c"), "-o", str(exe)], check=True)
    r = subprocess.run([str(exe)], input=x.astype(np.uint16).tobytes(), capture_output=True,
                       check=True)
    return np.frombuffer(r.stdout, dtype=np.int16).reshape(-1, model.n_out)


@needs_gcc
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", range(len(CASES)))
def test_bit_exact_host(tmp_path, variant, case):
    sizes, wb, ab, ib = CASES[case]
    model = random_int_model(sizes, wb, ab, ib, seed=100 + case)
    x = inputs(model.n_in, 3000, case)
    y = host_run(model, variant, tmp_path, x)
    ref = predict_int(model, x)
    assert np.array_equal(y, ref), f"{int((y != ref).sum())} mismatches"
    # the outputs must vary (a model that saturates everywhere proves little)
    assert len(np.unique(ref)) > (0 if model.n_macs < 4 else 1 if model.n_macs < 16 else 10)


@needs_gcc
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(sizes=st.lists(st.integers(1, 19), min_size=2, max_size=4),
       bits=st.lists(st.integers(2, 8), min_size=3, max_size=3), a_bits=st.integers(2, 8),
       in_bits=st.integers(2, 16), seed=st.integers(0, 2**16))
def test_bit_exact_host_property(tmp_path_factory, sizes, bits, a_bits, in_bits, seed):
    """Random shapes (odd ones too) and weight widths, both variants, -Os and -O2."""
    model = random_int_model(tuple(sizes), tuple(bits[: len(sizes) - 1]), a_bits, in_bits,
                             seed=seed)
    x = inputs(model.n_in, 300, seed)
    ref = predict_int(model, x)
    for variant, opt in zip(VARIANTS, ("-Os", "-O2"), strict=True):
        y = host_run(model, variant, tmp_path_factory.mktemp(variant), x, opt=opt)
        assert np.array_equal(y, ref), (sizes, bits, variant)


@pytest.mark.skipif(len(COMPILERS) < 2, reason="clang not installed")
@pytest.mark.parametrize("variant", VARIANTS)
def test_bit_exact_clang(tmp_path, variant):
    model = random_int_model((6, 16, 16, 6), (8, 4, 2), 8, 12, seed=4)
    x = inputs(model.n_in, 1000, 4)
    assert np.array_equal(host_run(model, variant, tmp_path, x, cc="clang"),
                          predict_int(model, x))


def _sources(model) -> dict[str, str]:
    return {f"{v}/{n}": text for v in VARIANTS for n, text in generate_c(model, v).items()}


@pytest.mark.parametrize("w_bits", [8, 4, 2, (8, 4, 2)])
def test_plain_c_without_extensions(w_bits):
    """No assembly, attributes, builtins, register barriers, floats, 64-bit or division."""
    for name, text in _sources(random_int_model((6, 16, 16, 6), w_bits)).items():
        for bad in ("asm(", "__asm__", "__attribute__", "__builtin", "#pragma"):
            assert bad not in text, (name, bad)
        code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        code = re.sub(r'"(\\.|[^"\\])*"', '""', code)
        assert not re.search(r"\b(asm|register|volatile)\b", code), name
        assert not re.search(r"\b(float|double|int64_t|uint64_t|long|malloc|static int32_t"
                             r" [a-z]+\[)", code), name
        assert "/" not in code and "%" not in code, (name, "division")
        for line in re.findall(r"^\S.*$", code, flags=re.M):  # file scope
            if line.startswith(("static", "typedef", "struct", "void", "#", "}", "{")):
                assert "(" in line or line.startswith(("static const", "typedef", "struct",
                                                       "#", "}", "{")), (name, line)
            else:
                assert line.startswith("    "), (name, line)  # only the definitions above


def test_same_model_same_bytes(tmp_path):
    """No date in the files: the same model gives the same bytes, another model others."""
    model = IntModel.load(FIXTURES / "magnet6_8bit_int_model.json")
    for variant in VARIANTS:
        write_c(model, tmp_path / "a", variant)
        write_c(IntModel.load(FIXTURES / "magnet6_8bit_int_model.json"), tmp_path / "b", variant)
        for name in (HEADER, SOURCE):
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    other = IntModel.load(FIXTURES / "magnet6_4bit_int_model.json")
    assert generate_c(other)[HEADER] != generate_c(model)[HEADER]


def test_header_is_the_manual():
    model = IntModel.load(FIXTURES / "magnet6_8bit_int_model.json")
    for variant in VARIANTS:
        h = generate_c(model, variant)[HEADER]
        assert "#define QNN_N_IN 6" in h and "#define QNN_N_OUT 6" in h
        assert "#define QNN_N_HIDDEN2 16" in h
        assert "out[3]: roll, 1 LSB = 0.001 deg" in h and "out[0]: x, 1 LSB = 0.0005 mm" in h
        assert "in[0]: hall0: zero 42533 counts" in h
        assert "void qnn_predict(const uint16_t in[QNN_N_IN], int16_t out[QNN_N_OUT]);" in h
        assert "-mcpu=cortex-m0 -mthumb -Os" in h and "reentrant" in h
        assert f'variant "{variant}"' in h and "cycles" in h


def test_loop_tables_and_packing():
    """Named tables per layer; weights in 2x2 tiles, 8-bit one per byte, 4-bit two per byte,
    2-bit four per byte; inputs padded to fours (the loop takes four per pass), outputs to
    pairs, a hidden layer's outputs to fours (6-16-16-6: 8x16 + 16x16 + 16x6 = 128 + 256 + 96
    bytes at 8 bits, half at 4 bits, a quarter at 2)."""
    for w_bits, sizes in ((8, (128, 256, 96)), (4, (64, 128, 48)), (2, (32, 64, 24))):
        src = generate_c(random_int_model((6, 16, 16, 6), w_bits), "loop")[SOURCE]
        for k, n in enumerate(sizes, 1):
            assert f"static const uint8_t layer{k}_weights[{n}]" in src, (w_bits, k)
            assert f"static const struct rows layer{k}_rows[{3 if k == 3 else 8}]" in src
        assert "uint8_t shift[2];" not in src and "uint8_t shift;" in src
        assert "act[0][6] = act[0][7] = 0;" in src
    src = generate_c(random_int_model((6, 16, 16, 6), (8, 4, 2)), "loop")[SOURCE]
    assert "layer1_weights[128]" in src and "layer2_weights[128]" in src
    assert "layer3_weights[24]" in src and "switch (L->per_byte)" in src
    src = generate_c(random_int_model((3, 5, 2), 8), "loop")[SOURCE]
    assert "layer1_weights[32]" in src and "layer2_weights[16]" in src  # 8x4 and 2x8
    assert "act[0][3] = 0;" in src and "act[0][4]" not in src


@needs_gcc
def test_loop_shift_tables_when_one_shift_is_not_exact(tmp_path):
    """Each layer's multipliers are rescaled to its largest shift when that is exact; when
    not (a shift of 0 beside others, or a product leaving int32), the loop keeps a shift per
    output in struct rows, and stays bit-exact."""
    model = random_int_model((5, 9, 4), 8, 8, 12, seed=3, m_bits=15)
    model.layers[0].shift[0], model.layers[0].multiplier[0] = 0, 1
    src = generate_c(model, "loop")[SOURCE]
    assert "uint8_t shift[2];" in src and "r->shift[1]" in src and "L->shift" not in src
    x = inputs(model.n_in, 2000, 3)
    assert np.array_equal(host_run(model, "loop", tmp_path, x), predict_int(model, x))
    one = generate_c(random_int_model((5, 9, 4), 8, 8, 12, seed=3), "loop")[SOURCE]
    assert "uint8_t shift[2];" not in one and "multipliers for a shift of" in one


def test_table_bytes_and_flash_estimate():
    model = IntModel.load(FIXTURES / "magnet6_4bit_int_model.json")
    t = table_bytes(model)
    assert t["layer2_weights"] == 128 and t["layer1_rows"] == 8 * 12 and t["layer3_rows"] == 36
    assert t["input_constant"] == 24
    assert flash_estimate(model, "loop") > sum(t.values())
    assert flash_estimate(model, "unrolled") > flash_estimate(model, "loop")


def test_unrolled_shape():
    """One statement per nonzero weight, the weight as an immediate; at 4-bit weights two rows
    share each multiply where the lanes fit int16, never at 8 bits."""
    m8 = IntModel.load(FIXTURES / "magnet6_8bit_int_model.json")
    src = generate_c(m8, "unrolled")[SOURCE]
    n_stmt = len(re.findall(r"^    s\d [+-]= ", src, flags=re.M))
    assert n_stmt == sum(int(np.count_nonzero(L.weights)) for L in m8.layers)
    assert "PAIR(" not in src
    w = int(m8.layers[0].weights[0, 0])
    assert f"s0 {'-' if w < 0 else '+'}= {abs(w)} * a0[0];" in src
    m4 = IntModel.load(FIXTURES / "magnet6_4bit_int_model.json")
    src4 = generate_c(m4, "unrolled")[SOURCE]
    pairs = re.findall(r"s\d \+= PAIR\((-?\d+), (-?\d+)\) \* a2\[(\d+)\];", src4)
    assert pairs and "#define PAIR(w0, w1)" in src4
    W = m4.layers[2].weights
    w0, w1, j = (int(v) for v in pairs[0])
    assert (w0, w1) == (int(W[0, j]), int(W[1, j]))  # output rows 0 and 1 share a sum


def test_lanes_need_the_proof():
    from codegen.plan import layers
    from codegen.unrolled import lanes_fit

    model = random_int_model((16, 4, 2), 4, 8, 8)
    layer = layers(model)[1]
    layer.src.weights[:] = -8  # 4 * 8 * 255 fits int16 ...
    assert lanes_fit(layer, 0, 1)
    layer.in_span = 2**12  # ... 4 * 8 * 4096 does not
    assert not lanes_fit(layer, 0, 1)


def test_refusals(tmp_path):
    model = random_int_model((6, 16, 16, 6), 8, 8, 12)
    model.layers[1].multiplier[:] = 2**30  # acc * M cannot fit int32
    with pytest.raises(QnnError, match="refusing to export"):
        write_c(model, tmp_path / "c")
    assert not (tmp_path / "c").exists()
    model = random_int_model((3, 5, 2))
    with pytest.raises(QnnError, match="variant"):
        generate_c(model, "compact")
    for bad in ("1x", "int", "a-b"):
        with pytest.raises(QnnError, match="prefix"):
            generate_c(model, prefix=bad)
    files = generate_c(model, prefix="net")
    assert set(files) == {"net_model.h", "net_model.c"}
    assert "void net_predict(" in files["net_model.h"]


@needs_gcc
@pytest.mark.parametrize("variant", VARIANTS)
def test_hidden_clamps_below_zero_and_above_zero(tmp_path, variant):
    """Hidden layers may clamp to any int16 range (an imported TFLite model's int8 ones do):
    their activations are stored minus the lower bound, and the next layer folds it in."""
    model = random_int_model((5, 9, 7, 3), (8, 4, 2), 8, 10, seed=11)
    model.layers[0].lo, model.layers[0].hi = -128, 127
    model.layers[1].lo, model.layers[1].hi = 3, 200
    x = inputs(model.n_in, 2000, 11)
    ref = predict_int(model, x)
    assert np.array_equal(host_run(model, variant, tmp_path, x), ref)


@pytest.mark.parametrize("module", [codegen.ctext, codegen.plan, codegen.unrolled,
                                    qnn.overflow])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
