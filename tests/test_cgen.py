"""Generated C vs the numpy integer reference, compiled with the host gcc (fast, no ARM)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from helpers import random_int_model

from codegen import cgen_pack
from codegen.cgen import generate_c, write_c
from common.errors import QnnError
from qnn.intmodel import predict_int

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

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="host gcc missing")

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
]


def _inputs(n_in: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 65536, (n, n_in))
    x[0], x[1] = 0, 65535
    # rows at and around each zero point's extremes, one input at a time
    x[2 : 2 + n_in] = 0
    x[2 : 2 + n_in][np.arange(n_in), np.arange(n_in)] = 65535
    return x


def _host_run(model, variant: str, folder: Path, x: np.ndarray) -> np.ndarray:
    write_c(model, folder, variant)
    (folder / "main.c").write_text(HOST_MAIN)
    exe = folder / "a.out"
    subprocess.run(["gcc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic",
                    "-Wno-overlength-strings", f"-I{folder}", str(folder / "qnn_model.c"),
                    str(folder / "main.c"), "-o", str(exe)], check=True)
    r = subprocess.run([str(exe)], input=x.astype(np.uint16).tobytes(), capture_output=True,
                       check=True)
    return np.frombuffer(r.stdout, dtype=np.int16).reshape(-1, model.n_out)


@needs_gcc
@pytest.mark.parametrize("variant", ["compact", "fast"])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_bit_exact_host(tmp_path, variant, case):
    sizes, wb, ab, ib = CASES[case]
    model = random_int_model(sizes, wb, ab, ib, seed=100 + case)
    x = _inputs(model.n_in, 3000, case)
    y = _host_run(model, variant, tmp_path, x)
    ref = predict_int(model, x)
    assert y.shape == ref.shape
    assert np.array_equal(y, ref), f"{int((y != ref).sum())} mismatches"
    # the outputs must actually vary (a model that saturates everywhere proves little)
    assert len(np.unique(ref)) > (1 if model.n_macs < 16 else 10)


@needs_gcc
def test_bit_exact_host_many_seeds(tmp_path):
    """Random shapes and bit widths; both variants compiled into one run per model."""
    rng = np.random.default_rng(7)
    for k in range(8):
        n_layers = int(rng.integers(1, 4))
        sizes = tuple(int(s) for s in rng.integers(1, 20, n_layers + 1))
        wb = tuple(int(b) for b in rng.integers(2, 9, n_layers))
        model = random_int_model(sizes, wb, int(rng.integers(2, 9)), int(rng.integers(8, 17)),
                                 seed=k)
        x = _inputs(model.n_in, 500, k)
        ref = predict_int(model, x)
        for variant in ("compact", "fast"):
            y = _host_run(model, variant, tmp_path / f"{k}{variant}", x)
            assert np.array_equal(y, ref), (sizes, wb, variant)


def test_compact_tables():
    """One weight stream (blocks of up to 8 outputs, no zero rows: 16*6 + 16*16 + 6*16, then
    the 2 bytes the 6-output block's unused products read), one word per channel (B and M'),
    a 6-byte row per stage, no multiplier or shift table."""
    model = random_int_model((6, 16, 16, 6), 8, 8, 12)
    src = generate_c(model, "compact")["qnn_model.c"]
    assert "static const uint8_t qnn_w[450]" in src
    assert "static const int32_t qnn_k[44]" in src and "qnn_m[" not in src
    assert "qnn_n[" not in src and "qnn_stages[4]" in src and "#if QNN_ASM" in src


@needs_gcc
@pytest.mark.parametrize("change,form", [("shift1", "one word"), ("shift0", "one word"),
                                         ("one_shift1", "plain"), ("big_bias", "plain"),
                                         ("wide_m", "plain")])
def test_compact_forms_bit_exact(tmp_path, change, form):
    """A layer whose shifts are all 0 or 1 keeps the one-word form (one N per stage); one
    channel's shift of 1 among shifts of ~17 (its M' = M * 2^16 would overflow), a bias or a
    multiplier too wide to share a word fall back to the plain C form."""
    model = random_int_model((6, 16, 16, 6), 8, 8, 12, seed=3)
    layer = model.layers[1]
    if change in ("shift1", "shift0"):
        layer.shift[:], layer.multiplier[:] = int(change[-1]), 1
    elif change == "one_shift1":
        layer.shift[2], layer.multiplier[2] = 1, 1
    elif change == "big_bias":
        model.layers[0].bias[0] = 2**26 + 12345
        model.layers[0].multiplier[0] = 3
    else:
        layer.weights[1, :], layer.bias[1], layer.multiplier[1], layer.shift[1] = 1, 0, 100000, 22
    src = generate_c(model, "compact")["qnn_model.c"]
    assert ("qnn_n[" in src) == (form == "plain")
    assert ("#if QNN_ASM" in src) == (form == "one word")
    x = _inputs(model.n_in, 2000, 1)
    y = _host_run(model, "compact", tmp_path, x)
    assert np.array_equal(y, predict_int(model, x))


def test_header_documents_units_and_api():
    model = random_int_model((6, 16, 16, 6), 8, 8, 12)
    model.output_names[0], model.output_units[0], model.output_lsb[0] = "x", "mm", 0.001
    h = generate_c(model, "compact")["qnn_model.h"]
    assert "#define QNN_N_IN 6" in h and "#define QNN_N_OUT 6" in h
    assert "out[0]: x, 1 LSB = 0.001 mm" in h
    assert "void qnn_predict(const uint16_t in[QNN_N_IN], int16_t out[QNN_N_OUT]);" in h
    for variant in ("compact", "fast"):
        c = generate_c(model, variant)["qnn_model.c"]
        assert "no 64-bit" in c  # the requantization comment
        code = re.sub(r"/\*.*?\*/", "", c, flags=re.S)
        # string literals (the include, the fast kernel's assembly with its %[operands])
        code = re.sub(r'"(\\.|[^"\\])*"', '""', code)
        assert not re.search(r"\b(sdiv|udiv|bl|blx)\b", c), "no division or call in the asm"
        assert not re.search(r"\b(float|double|int64_t|uint64_t|long long|malloc)\b", code)
        assert "/" not in code and "%" not in code, "no division"


def test_export_refuses_overflowing_model(tmp_path):
    model = random_int_model((6, 16, 16, 6), 8, 8, 12)
    model.layers[1].multiplier[:] = 2**30  # acc * M cannot fit int32
    with pytest.raises(QnnError, match="refusing to export"):
        write_c(model, tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_bad_variant_and_prefix():
    model = random_int_model((3, 5, 2))
    with pytest.raises(QnnError, match="variant"):
        generate_c(model, "tiny")
    with pytest.raises(QnnError, match="prefix"):
        generate_c(model, prefix="1x")
    files = generate_c(model, prefix="net")
    assert set(files) == {"net_model.h", "net_model.c"}
    assert "void net_predict(" in files["net_model.h"]


def test_fast_kernel_asm_and_fallback():
    """The fast variant's MAC blocks are Thumb-1 inline assembly with the plain C under #else
    (the host tests above compile the C; the M0 tests run the assembly); layers wider than 32
    inputs split the assembly so LDRB offsets stay in range."""
    model = random_int_model((6, 40, 6), 8, 8, 12)
    src = generate_c(model, "fast")["qnn_model.c"]
    assert "#if QNN_FAST_ASM" in src and "#else" in src and "__asm__(" in src
    assert "[a] \"l\"(a1 + 32)" in src and "#31]" in src and "#32]" not in src


@pytest.mark.parametrize("w_bits,n_w", [(4, 224), (3, 224), (2, 224), ((8, 4, 2), 272),
                                         (5, 450)])
def test_compact_packs_narrow_weights(monkeypatch, w_bits, n_w):
    """Layers of <= 4-bit weights can be stored two per byte (6-16-16-6: 48 + 128 + 48 B; the
    6-output block's 3 bytes per input read by a 3-byte kernel, no padding); 5-8 bits keep
    one byte each (and 2 bytes the last block's unused products read)."""
    monkeypatch.setattr(cgen_pack, "NIB_MIN_SAVING", 0)  # pack whatever can be packed
    model = random_int_model((6, 16, 16, 6), w_bits, 8, 12)
    src = generate_c(model, "compact")["qnn_model.c"]
    assert f"static const uint8_t qnn_w[{n_w}]" in src
    assert ("uint8_t sh;" in src) == (n_w != 450)


@pytest.mark.parametrize("sizes,w_bits,n_w", [((6, 16, 16, 6), 4, 450),
                                              ((6, 16, 16, 6), (8, 4, 2), 450),
                                              ((6, 32, 32, 6), 4, 704),
                                              ((6, 32, 32, 6), (8, 4, 2), 800)])
def test_compact_packs_only_when_it_pays(sizes, w_bits, n_w):
    """Packing needs the nibble kernel (~230 B of code): a small network keeps bytes (as small,
    fewer cycles); 6-32-32-6 at 4 bits saves 704 B."""
    model = random_int_model(sizes, w_bits, 8, 12)
    src = generate_c(model, "compact")["qnn_model.c"]
    assert f"static const uint8_t qnn_w[{n_w}]" in src


@needs_gcc
@pytest.mark.parametrize("sizes,w_bits", [((6, 16, 16, 6), (8, 4, 2)), ((6, 16, 16, 6), 3),
                                          ((5, 7, 9, 3), (2, 4, 3)), ((9, 17, 3), (4, 8)),
                                          ((2, 1, 2), 4)])
def test_compact_packed_bit_exact_host(tmp_path, monkeypatch, sizes, w_bits):
    """The C fallback unpacks the nibble layout bit-exactly (odd blocks, mixed widths)."""
    monkeypatch.setattr(cgen_pack, "NIB_MIN_SAVING", 0)
    for seed in range(3):
        model = random_int_model(sizes, w_bits, 6, 10, seed=seed)
        x = _inputs(model.n_in, 300, seed)
        y = _host_run(model, "compact", tmp_path / str(seed), x)
        assert np.array_equal(y, predict_int(model, x)), (sizes, w_bits, seed)


def test_far_conditional_branches_are_relaxed():
    """A B<cond> beyond -256..+254 bytes becomes the inverse condition over a B; near ones and
    unconditional ones stay."""
    from codegen.cgen_compact_asm import relax

    ins = [("1:", ""), ("bne 2f", ""), *[("adds r0, #1", "")] * 200, ("2:", ""),
           ("bhi 1b", "back"), ("beq 2b", ""), ("b 1b", "")]
    out = relax(ins)
    texts = [t for t, _ in out]
    assert texts[:4] == ["1:", "beq 99f", "b 2f", "99:"]
    assert texts[-6:] == ["2:", "bls 99f", "b 1b", "99:", "beq 2b", "b 1b"]
