"""The generated C on the emulated Cortex-M0: `qnn verify` bit-exact, budgets, CLI paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import random_int_model

from cli.main import main
from firmware.make import build
from m0.verify import verify

DEFAULT = ((6, 16, 16, 6), 8, 8, 12)


def _run_folder(tmp_path, sizes=DEFAULT[0], w_bits=DEFAULT[1], a_bits=8, in_bits=12, seed=0):
    run = tmp_path / "run"
    run.mkdir()
    random_int_model(sizes, w_bits, a_bits, in_bits, seed=seed).save(run / "int_model.json")
    return run


@pytest.fixture(scope="module")
def dataset_file(tmp_path_factory):
    from sim.dataset import generate, save_dataset

    path = tmp_path_factory.mktemp("data") / "magnet6.npz"
    save_dataset(generate("magnet6", n=10_000, seed=3), path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["compact", "fast"])
def test_verify_dataset_bit_exact(tmp_path, arm_toolchain, dataset_file, variant):
    run = _run_folder(tmp_path)
    r = verify(run, dataset_file, 2000, variant=variant)
    assert r["dataset_rows"] == 10_000 and r["random_rows"] == 2000
    assert r["mismatches"] == 0 and r["ok"], r["first_mismatch"]
    assert r["peak_stack"] <= (96 if variant == "fast" else 128)


@pytest.mark.slow
@pytest.mark.parametrize("sizes,w_bits", [
    ((6, 16, 16, 6), 2),
    ((6, 16, 16, 6), 4),
    ((6, 8, 6), (2, 8)),
    ((3, 5, 2), 4),
    ((6, 32, 16, 8, 6), (8, 4, 2, 8)),
])
def test_verify_random_bit_exact(tmp_path, arm_toolchain, sizes, w_bits):
    run = _run_folder(tmp_path, sizes, w_bits, a_bits=6, in_bits=10, seed=5)
    for variant in ("compact", "fast"):
        r = verify(run, None, 3000, variant=variant, out=tmp_path / variant)
        assert r["inferences"] == 3000
        assert r["mismatches"] == 0 and r["ok"], (variant, r["first_mismatch"])


def test_compact_forms_on_m0(tmp_path, arm_toolchain):
    """The compact variant's other forms on the M0, bit-exact: a clamp with lo > 0 and a layer
    of shift 1 (still the one-word assembly), and a multiplier too wide to share a word with
    its bias (the plain C form)."""
    from codegen.cgen import generate_c

    for k, change in enumerate(("lo", "wide_m")):
        run = tmp_path / f"run{k}"
        run.mkdir()
        model = random_int_model(*DEFAULT, seed=7)
        if change == "lo":
            model.layers[0].lo = 1
            model.layers[1].shift[:], model.layers[1].multiplier[:] = 1, 1
        else:
            layer = model.layers[2]
            layer.weights[1, :], layer.bias[1] = 1, 0
            layer.multiplier[1], layer.shift[1] = 100000, 22
        model.save(run / "int_model.json")
        src = generate_c(model, "compact")["qnn_model.c"]
        assert ("__asm__ volatile" in src) == (change == "lo")
        r = verify(run, None, 1000, variant="compact", out=run / "build")
        assert r["mismatches"] == 0 and r["ok"], (change, r["first_mismatch"])


FIXTURES = Path(__file__).parent / "fixtures"
MODELS = ["random", "magnet6_8bit", "magnet6_4bit"]


def _model_folder(tmp_path, which: str):
    if which == "random":
        return _run_folder(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(FIXTURES / f"{which}_int_model.json", run / "int_model.json")
    return run


@pytest.mark.parametrize("which", MODELS)
def test_fast_budget_and_integer_only(tmp_path, arm_toolchain, which):
    """The fast variant's budget (2500 cycles, 96 B stack), on a random and on trained models
    (measured ~2300 cycles and 76 B at 8 bits)."""
    run = _model_folder(tmp_path, which)
    r = verify(run, None, 300, variant="fast")
    assert r["ok"] and r["mismatches"] == 0
    assert r["cycles"]["max"] <= 2500
    assert r["peak_stack"] <= 96
    b = build(run, variant="fast", reuse=True)
    assert b["reused"] and b["integer_only"] and not b["problems"]
    assert b["size"]["inference_flash"] < 6000


@pytest.mark.parametrize("which", ["random", "magnet6_8bit", "magnet6_4bit"])
def test_compact_budget(tmp_path, arm_toolchain, which):
    """The compact variant's budget: at most 1000 B of inference flash (code + weights +
    tables), 4000 cycles and 96 B of stack, no helper linked. Measured 990 B (340 B code +
    450 B weights + 176 B per-channel words + 24 B stage rows), 3804 cycles max (random) /
    3840 (magnet6 8-bit), 68 B stack; the 4-bit fixture is stored as bytes too (too small
    for nibble packing to pay)."""
    run = _model_folder(tmp_path, which)
    r = verify(run, None, 300, variant="compact")
    assert r["ok"] and r["mismatches"] == 0
    assert r["peak_stack"] <= 96
    assert r["cycles"]["max"] <= 4000
    b = build(run, variant="compact", reuse=True)
    assert b["reused"] and b["integer_only"] and not b["problems"]
    assert b["size"]["inference_flash"] <= 1000


@pytest.mark.parametrize("which", ["magnet6_4bit", (8, 4, 2), (2, 4, 3), (4, 8, 4),
                                   ((5, 7, 9, 3), (2, 4, 3))])
def test_compact_packed_weights_on_m0(tmp_path, monkeypatch, arm_toolchain, which):
    """Nibble-packed weights (w_bits <= 4) are bit-exact on the M0: the trained 4-bit fixture
    (224 B of weights; measured 4145 cycles max, 68 B stack) and mixed-width random models
    (one with odd channel counts), all packed here although they are too small for packing
    to pay by default."""
    from codegen import cgen_pack

    monkeypatch.setattr(cgen_pack, "NIB_MIN_SAVING", 0)
    sizes, w_bits = (6, 16, 16, 6), which
    if isinstance(which, str):
        run = _model_folder(tmp_path, which)
    else:
        if isinstance(which[0], tuple):
            sizes, w_bits = which
        run = _run_folder(tmp_path, sizes, w_bits, a_bits=6, in_bits=10, seed=7)
    r = verify(run, None, 2000, variant="compact")
    assert r["ok"] and r["mismatches"] == 0, r["first_mismatch"]
    assert r["peak_stack"] <= 96 and r["cycles"]["max"] <= 4200
    b = build(run, variant="compact", reuse=True)
    sym = {s["name"]: s["bytes"] for s in b["size"]["symbols"]}
    assert sym["qnn_w"] == {"magnet6_4bit": 224}.get(which, sym["qnn_w"])
    assert sym["qnn_w"] < sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))


def test_compact_is_integer_only_and_small(tmp_path, arm_toolchain):
    run = _run_folder(tmp_path)
    b = build(run, variant="compact")
    assert b["ok"] and b["integer_only"]
    names = {s["name"] for s in b["size"]["symbols"]}
    assert not any(n.startswith("__aeabi") or n.startswith("__") and "div" in n for n in names)
    assert b["size"]["inference_flash"] < 1500


def test_cli_build_and_export(tmp_path, arm_toolchain, capsys):
    run = _run_folder(tmp_path, (3, 5, 2), 4)
    assert main(["export", str(run), "--out", str(tmp_path / "c"), "--variant", "fast"]) == 0
    assert (tmp_path / "c" / "qnn_model.c").is_file()
    assert "wrote" in capsys.readouterr().out
    assert main(["build", str(run), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] and out["integer_only"] and out["size"]["inference_flash"] > 0
    assert (run / "build" / "qnn.elf").is_file()


def test_cli_corrupt_run_folder(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "int_model.json").write_text("{not json")
    for cmd in (["export", str(run), "--out", str(tmp_path / "c")], ["build", str(run)],
                ["verify", str(run)]):
        assert main(cmd) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "int_model.json" in err, err
    assert main(["export", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c")]) == 2
    assert "no such run folder" in capsys.readouterr().err


def test_cli_refuses_overflowing_model(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    model = random_int_model((6, 16, 16, 6), 8, 8, 12)
    model.layers[0].multiplier[:] = 2**30
    model.save(run / "int_model.json")
    assert main(["export", str(run), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip()
    assert "refusing to export" in err and err.count("\n") == 0
    assert not (tmp_path / "c").exists()


def test_random_inputs_cover_extremes():
    from m0.verify import random_inputs

    x = random_inputs(100, 6)
    assert (x[0] == 0).all() and (x[1] == 65535).all()
    assert x.min() >= 0 and x.max() <= 65535 and len(np.unique(x)) > 300


@pytest.mark.parametrize("variant,flag", [("compact", "QNN_ASM"), ("fast", "QNN_FAST_ASM")])
def test_plain_c_on_m0(tmp_path, arm_toolchain, variant, flag):
    """-D{flag}=0 builds the C under #else for the M0 (for a firmware engineer who would rather
    not ship inline assembly): bit-exact and integer-only too (the compact one is ~2x slower:
    measured 8,236 cycles max, 1,022 B)."""
    from codegen.cgen import write_c
    from firmware.build import build_firmware
    from firmware.elfinfo import check_integer_only
    from m0.emulator import run_inferences
    from m0.verify import random_inputs
    from qnn.intmodel import IntModel, predict_int

    model = IntModel.load(FIXTURES / "magnet6_8bit_int_model.json")
    write_c(model, tmp_path, variant)
    assert f"#ifndef {flag}" in (tmp_path / "qnn_model.c").read_text()
    elf = build_firmware(tmp_path, tmp_path / "build", cflags=[f"-D{flag}=0"]).elf
    assert check_integer_only(elf) == []
    x = random_inputs(200, model.n_in)
    r = run_inferences(elf, x, model.n_out)
    assert np.array_equal(r.outputs, predict_int(model, x))
    assert variant == "fast" or r.cycles.min() > 6000  # the C ran, not the assembly


def test_build_says_when_compact_runs_plain_c(tmp_path, arm_toolchain, capsys):
    """Wide multipliers (--m-bits 15) cannot share a word with the bias: `qnn build` still
    works, and says why the compact variant runs its plain C and what to do."""
    run = tmp_path / "run"
    run.mkdir()
    random_int_model(*DEFAULT, seed=1, m_bits=15).save(run / "int_model.json")
    assert main(["build", str(run)]) == 0
    out = capsys.readouterr().out
    assert "note: plain C:" in out and "--m-bits 8" in out
    b = build(run, reuse=True)
    assert b["form"].startswith("plain C") and "\n" not in b["form"]
    (tmp_path / "b").mkdir()
    assert build(_run_folder(tmp_path / "b"), variant="compact")["form"] == "assembly"
