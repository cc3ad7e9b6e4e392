"""The generated Rust (codegen/rust.py): its text, the host check (Debian's rustc, native,
against the numpy reference), and the Cortex-M0 build: bit-exact on the emulator, no helper,
no panic path (also with overflow checks on), no mutable global; and the CLI's --lang rust."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from elftools.elf.elffile import ELFFile
from helpers import random_int_model

from cli.main import main
from codegen.cgen import HEADER, VARIANTS, write_c
from codegen.plan import distances_fit, loop_plan
from codegen.rust import COPY_FILL_MAX, RUST_BLOCK, SOURCE_RS, generate_rust, write_rust
from common.errors import QnnError
from firmware.build import build_firmware
from firmware.elfinfo import check_integer_only, mutable_globals, size_report
from firmware.make import build
from firmware.rust import compile_host, compile_model, find_rustc, llvm_args, target_spec
from m0.emulator import run_inferences
from m0.verify import random_inputs, verify
from qnn.intmodel import IntModel, predict_int
from qnn.overflow import check_export, layer_ranges

FIXTURES = Path(__file__).parent / "fixtures"
TRAINED = ["magnet6_8bit", "magnet6_4bit"]
# Three shapes of random model: odd sizes, 2/3/4-bit weights, a deeper net (each format).
SHAPES = [((3, 5, 2), 4, 3, 9), ((5, 7, 9, 3), (2, 4, 3), 6, 10),
          ((6, 32, 16, 8, 6), (8, 4, 2, 8), 4, 14)]
MAIN = """\
{mod}
use std::io::{{Read, Write}};

fn main() {{
    let mut raw = Vec::new();
    std::io::stdin().read_to_end(&mut raw).unwrap();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for row in raw.chunks_exact(2 * qnn_model::N_IN) {{
        let mut input = [0u16; qnn_model::N_IN];
        for (x, b) in input.iter_mut().zip(row.chunks_exact(2)) {{
            *x = u16::from_le_bytes([b[0], b[1]]);
        }}
        let y = qnn_model::predict(&input);
        let mut z = [0i16; qnn_model::N_OUT];
        qnn_model::predict_into(&input, &mut z);
        let mut c = [0i16; qnn_model::N_OUT];
        unsafe {{ qnn_model::qnn_predict(input.as_ptr(), c.as_mut_ptr()) }};
        assert!(y == z && y == c, "predict, predict_into and qnn_predict disagree");
        for v in y {{
            out.write_all(&v.to_le_bytes()).unwrap();
        }}
    }}
    let n = qnn_model::OUT_LSB.len() + qnn_model::OUT_UNIT.len() + qnn_model::OUT_NAME.len();
    assert_eq!(n, 3 * qnn_model::N_OUT);
}}
"""


def fixture(which: str) -> IntModel:
    return IntModel.load(FIXTURES / f"{which}_int_model.json")


def models() -> list[tuple[str, IntModel]]:
    out = [(w, fixture(w)) for w in TRAINED]
    for k, (sizes, w_bits, a_bits, in_bits) in enumerate(SHAPES):
        out.append((f"random{k}", random_int_model(sizes, w_bits, a_bits, in_bits, seed=k)))
    return out


MODELS = models()


def inputs(n_in: int, n: int, seed: int = 0) -> np.ndarray:
    """Random rows, all-0 and all-65535 first, then each input alone at 65535."""
    x = random_inputs(n, n_in, seed)
    x[2 : 2 + n_in] = 0
    x[2 : 2 + n_in][np.arange(n_in), np.arange(n_in)] = 65535
    return x


# --- the text ---------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name,model", MODELS, ids=[n for n, _ in MODELS])
def test_text_is_deterministic_plain_rust(name, model, variant):
    text = generate_rust(model, variant)
    assert text == generate_rust(model, variant)
    code = "\n".join(line.split("//")[0] for line in text.splitlines())  # comments out
    assert re.findall(r"#\[[^\]]*\]", code) == ["#[no_mangle]"]
    assert "//!" not in text  # include!-able
    for banned in ("f64", "i64", "u64", "i128", "u128", "unwrap", "expect(", "panic!",
                   "assert", "clamp(", "unreachable", "static mut", "asm!", "Cell"):
        assert banned not in code, banned
    assert not re.search(r"[^/]/[^/=]|%", code), "division or remainder"
    assert code.count("unsafe") == 1 and "pub unsafe extern \"C\" fn qnn_predict" in code
    assert [line for line in code.splitlines() if "f32" in line] == [
        line for line in code.splitlines() if line.startswith("pub const OUT_LSB")]
    assert f"pub const N_IN: usize = {model.n_in};" in code
    assert f"pub const N_OUT: usize = {model.n_out};" in code


def test_units_and_symbol_prefix():
    model = fixture("magnet6_8bit")
    text = generate_rust(model, "loop", prefix="imu")
    assert "pub unsafe extern \"C\" fn imu_predict(" in text
    assert "/// - `output[3]`: roll, 1 LSB = 0.001 deg" in text
    assert 'pub const OUT_UNIT: [&str; N_OUT] = ["mm", "mm", "mm", "deg", "deg", "deg"];' in text
    with pytest.raises(QnnError, match="variant"):
        generate_rust(model, "fast")
    with pytest.raises(QnnError, match="identifier"):
        generate_rust(model, "loop", prefix="1x")


def test_refuses_an_overflowing_model():
    model = random_int_model((6, 8, 6), 8, 8, 16, seed=1, m_bits=15)
    model.layers[0].multiplier[:] = 2**15 - 1
    model.layers[0].shift[:] = 0
    with pytest.raises(QnnError, match="refusing to export.*exceeds int32"):
        generate_rust(model)


# --- the host check -----------------------------------------------------------------------


def host_exe(model: IntModel, variant: str, folder: Path, *, include: bool = False,
             flags: tuple[str, ...] = ("-C", "opt-level=2"), rustc: Path | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SOURCE_RS).write_text(generate_rust(model, variant))
    mod = ('mod qnn_model {\n    include!("qnn_model.rs");\n}' if include else "mod qnn_model;")
    (folder / "main.rs").write_text(MAIN.format(mod=mod))
    return compile_host(folder / SOURCE_RS, folder / "main.rs", folder / "host", rustc, flags)


def host_run(exe: Path, x: np.ndarray, n_out: int) -> np.ndarray:
    r = subprocess.run([str(exe)], input=x.astype("<u2").tobytes(), capture_output=True,
                       check=True, timeout=60)
    return np.frombuffer(r.stdout, dtype="<i2").reshape(-1, n_out)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name,model", MODELS, ids=[n for n, _ in MODELS])
def test_host_bit_exact(tmp_path, rust_toolchain, name, model, variant):
    """Debian's rustc, native, -D warnings: predict == predict_into == qnn_predict ==
    qnn.intmodel.predict_int on 3,000 rows (0, 65535 and each input alone at 65535 too)."""
    x = inputs(model.n_in, 3000, seed=7)
    exe = host_exe(model, variant, tmp_path)
    np.testing.assert_array_equal(host_run(exe, x, model.n_out), predict_int(model, x))


def clamped_hidden_model() -> IntModel:
    """Hidden layers clamped to [-128, 127] and [3, 200] (like an imported TFLite model's)."""
    model = random_int_model((5, 9, 7, 3), (8, 4, 2), 8, 10, seed=11)
    model.layers[0].lo, model.layers[0].hi = -128, 127
    model.layers[1].lo, model.layers[1].hi = 3, 200
    return model


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
def test_host_bit_exact_on_the_c_generators_cases(tmp_path, rust_toolchain, variant):
    """Every model shape test_cgen.py checks the C on (odd sizes, 1-1-1, a 300-wide layer,
    2..8-bit weights, 2..8-bit activations), and hidden layers that clamp below zero."""
    from test_cgen import CASES

    cases = [random_int_model(*case, seed=k) for k, case in enumerate(CASES)]
    for k, model in enumerate([*cases, clamped_hidden_model()]):
        x = inputs(model.n_in, 2000, seed=k)
        exe = host_exe(model, variant, tmp_path / str(k))
        np.testing.assert_array_equal(host_run(exe, x, model.n_out), predict_int(model, x),
                                      err_msg=f"model {k}")


@pytest.mark.parametrize("variant", VARIANTS)
def test_host_debug_build_with_overflow_checks_and_include(tmp_path, rust_toolchain,
                                                            variant):
    """A debug build (overflow checks, debug assertions) through `include!` runs the same:
    nothing in the module is an overflow-checked operation that could trip."""
    model = fixture("magnet6_4bit")
    x = inputs(model.n_in, 500, seed=8)
    exe = host_exe(model, variant, tmp_path, include=True,
                   flags=("-C", "opt-level=0", "-C", "debug-assertions=on",
                          "-C", "overflow-checks=on"))
    np.testing.assert_array_equal(host_run(exe, x, model.n_out), predict_int(model, x))


def test_newer_rustc_warnings(tmp_path, rust_toolchain):
    """The rustc first on PATH, when it is another one (e.g. rustup's): -D warnings still
    clean with its newer lints, and the same outputs."""
    other = shutil.which("rustc")
    if other is None or Path(other).resolve() == find_rustc().resolve():
        pytest.skip("no second rustc on PATH")
    model = fixture("magnet6_8bit")
    x = inputs(model.n_in, 300)
    for variant in VARIANTS:
        exe = host_exe(model, variant, tmp_path / variant, rustc=Path(other))
        np.testing.assert_array_equal(host_run(exe, x, model.n_out), predict_int(model, x))


# --- the Cortex-M0 ---------------------------------------------------------------------------


def m0_build(model: IntModel, variant: str, folder: Path,
             flags: tuple[str, ...] = ()) -> tuple[Path, Path]:
    write_c(model, folder, variant)
    (folder / "qnn_model.c").unlink()  # only the header: the harness includes it
    write_rust(model, folder, variant)
    obj = compile_model(folder / SOURCE_RS, folder / "qnn_model_rs.o", flags)
    return build_firmware(folder, folder / "build", model_object=obj).elf, obj


def assert_clean(elf: Path, obj: Path) -> None:
    assert check_integer_only(elf) == [] and mutable_globals(elf) == []
    report = size_report(elf)
    assert report.problems == [] and report.inference["data"] == report.inference["bss"] == 0
    names = " ".join(s.name for s in report.symbols)
    assert "panic" not in names and "__aeabi" not in names and "memcpy" not in names
    with open(obj, "rb") as f:
        sections = {s.name: s["sh_size"] for s in ELFFile(f).iter_sections()}
    assert not any(size for name, size in sections.items()
                   if name.startswith((".data", ".bss"))), sections


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name,model", MODELS, ids=[n for n, _ in MODELS])
def test_m0_bit_exact_and_clean(tmp_path, arm_toolchain, rust_toolchain, name, model,
                                variant):
    elf, obj = m0_build(model, variant, tmp_path)
    assert_clean(elf, obj)
    x = inputs(model.n_in, 500, seed=3)
    res = run_inferences(elf, x, model.n_out)
    np.testing.assert_array_equal(res.outputs, predict_int(model, x))
    assert size_report(elf).stack_worst == res.peak_stack


@pytest.mark.parametrize("variant", VARIANTS)
def test_m0_hidden_layers_clamped_below_zero(tmp_path, arm_toolchain, rust_toolchain, variant):
    model = clamped_hidden_model()
    elf, obj = m0_build(model, variant, tmp_path)
    assert_clean(elf, obj)
    x = inputs(model.n_in, 1000, seed=12)
    np.testing.assert_array_equal(run_inferences(elf, x, model.n_out).outputs,
                                  predict_int(model, x))


@pytest.mark.parametrize("variant", VARIANTS)
def test_m0_overflow_checks_on_link_no_panic(tmp_path, arm_toolchain, rust_toolchain,
                                             variant):
    """With overflow checks (and debug assertions) compiled in, the object still links
    without core and reaches no panic: the module has no checked arithmetic at all."""
    model = random_int_model(*SHAPES[1][:2], seed=4)
    elf, obj = m0_build(model, variant, tmp_path, ("-C", "overflow-checks=on",
                                                   "-C", "debug-assertions=on"))
    assert_clean(elf, obj)


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("which", TRAINED)
def test_trained_models_bit_exact_on_test_data(tmp_path, arm_toolchain, rust_toolchain,
                                                dataset_file, variant, which):
    """`qnn verify --lang rust`: 10,000 simulated rows + 2,000 random full-range rows."""
    run = tmp_path / which
    run.mkdir()
    shutil.copy(FIXTURES / f"{which}_int_model.json", run / "int_model.json")
    r = verify(run, dataset_file, 2000, variant=variant, lang="rust")
    assert r["dataset_rows"] == 10_000 and r["random_rows"] == 2000 and r["lang"] == "rust"
    assert r["mismatches"] == 0 and r["ok"], r["first_mismatch"]


@pytest.mark.slow
@pytest.mark.parametrize("k", range(len(SHAPES)))
def test_random_models_bit_exact_full_range(tmp_path, arm_toolchain, rust_toolchain, k):
    sizes, w_bits, a_bits, in_bits = SHAPES[k]
    run = tmp_path / "run"
    run.mkdir()
    random_int_model(sizes, w_bits, a_bits, in_bits, seed=10 + k).save(run / "int_model.json")
    for variant in VARIANTS:
        r = verify(run, None, 10_000, variant=variant, out=tmp_path / variant, lang="rust")
        assert r["mismatches"] == 0 and r["ok"], (variant, r["first_mismatch"])


@pytest.mark.parametrize("variant", VARIANTS)
def test_m0_predict_by_value_needs_no_helper(tmp_path, arm_toolchain, rust_toolchain,
                                            variant):
    """`predict` (the safe API, returning [i16; N_OUT]) links no memclr/memcpy either."""
    model = fixture("magnet6_4bit")
    write_c(model, tmp_path, variant)
    (tmp_path / SOURCE_RS).write_text(generate_rust(model, variant) + BY_VALUE)
    obj = compile_model(tmp_path / SOURCE_RS, tmp_path / "m.o")
    elf = build_firmware(tmp_path, tmp_path / "build", model_object=obj,
                         keep=["qnn_by_value"]).elf
    assert check_integer_only(elf, "qnn_by_value") == []
    x = inputs(model.n_in, 50)
    res = run_inferences(elf, x, model.n_out, function="qnn_by_value")
    np.testing.assert_array_equal(res.outputs, predict_int(model, x))


BY_VALUE = """
#[no_mangle]
pub unsafe extern "C" fn qnn_by_value(input: *const u16, output: *mut i16) {
    let y = predict(&*input.cast::<[u16; N_IN]>());
    for (o, v) in (*output.cast::<[i16; N_OUT]>()).iter_mut().zip(y) {
        *o = v;
    }
}
"""


def test_a_panicking_module_fails_the_build_by_name(tmp_path, arm_toolchain, rust_toolchain):
    """Indexing with a run-time index needs core's panic_bounds_check, which is not linked:
    the build says so."""
    model = fixture("magnet6_8bit")
    write_c(model, tmp_path, "loop")
    (tmp_path / SOURCE_RS).write_text(
        "pub const N_IN: usize = 6;\npub const N_OUT: usize = 6;\n#[no_mangle]\n"
        "pub unsafe extern \"C\" fn qnn_predict(input: *const u16, output: *mut i16) {\n"
        "    let input = &*input.cast::<[u16; N_IN]>();\n"
        "    *output = input[usize::from(input[0])] as i16;\n}\n")
    obj = compile_model(tmp_path / SOURCE_RS, tmp_path / "m.o")
    with pytest.raises(QnnError, match=r"can panic \(`core::panicking::panic_bounds_check`\)"):
        build_firmware(tmp_path, tmp_path / "build", model_object=obj)


def near_int32_model() -> IntModel:
    """One layer, shift 0, whose largest product acc * M is within 32768 of 2^31: the overflow
    proof passes, but v - lo (lo = -32768) does not fit i32. One layer, so the extreme
    accumulator is reachable: inputs at 0 or 65535 by the sign of the row's weights."""
    model = random_int_model((3, 2), 8, 8, 10, seed=14)
    im = model.input_map  # 0 and 65535 reach the clamps: -512 and 511
    im.zero_point[:], im.multiplier[:], im.shift[:] = 32768, 1, 5
    model.layers[0].multiplier[:] = (2**31 - 1) // max(layer_ranges(model)[0].acc_hi)
    model.layers[0].shift[:] = 0
    check_export(model)
    return model


def test_requantize_distance_wraps_only_where_it_fits():
    """The loop variant's requantize() takes v - lo wrapping where the overflow proof's ranges
    show it fits i32 (every trained model), else saturating."""
    for _, model in MODELS:
        assert distances_fit(loop_plan(model, RUST_BLOCK), model)
        assert "let d = v.wrapping_sub(lo);" in generate_rust(model, "loop")
    model = near_int32_model()
    assert not distances_fit(loop_plan(model, RUST_BLOCK), model)
    assert "let d = v.saturating_sub(lo);" in generate_rust(model, "loop")


@pytest.mark.parametrize("variant", VARIANTS)
def test_near_int32_model_bit_exact_host_and_m0(tmp_path, arm_toolchain, rust_toolchain,
                                               variant):
    model = near_int32_model()
    extremes = np.where(model.layers[0].weights > 0, 65535, 0)  # each row's largest sum
    x = np.concatenate([extremes, inputs(model.n_in, 1000, seed=5)]).astype(np.uint16)
    want = predict_int(model, x)
    np.testing.assert_array_equal(host_run(host_exe(model, variant, tmp_path / "h"), x,
                                           model.n_out), want)
    elf, obj = m0_build(model, variant, tmp_path / "m0")
    assert_clean(elf, obj)
    np.testing.assert_array_equal(run_inferences(elf, x, model.n_out).outputs, want)


def test_m0_wide_layer_fills_its_buffers_without_memcpy(tmp_path, arm_toolchain,
                                                       rust_toolchain):
    """Wider than COPY_FILL_MAX, the loop variant's buffers start from a fill loop: a copy of
    that many bytes would be a memcpy call."""
    model = random_int_model((6, COPY_FILL_MAX + 8, 6), 8, 8, 12, seed=6)
    text = generate_rust(model, "loop")
    assert "const FILL" not in text and f"let mut b = [1; {COPY_FILL_MAX + 8}];" in text
    assert "const FILL" in generate_rust(fixture("magnet6_8bit"), "loop")
    elf, obj = m0_build(model, "loop", tmp_path)
    assert_clean(elf, obj)
    x = inputs(model.n_in, 300, seed=6)
    np.testing.assert_array_equal(run_inferences(elf, x, model.n_out).outputs,
                                  predict_int(model, x))


def test_m0_target_and_llvm_options(rust_toolchain):
    """The M0 target is thumbv6m-none-eabi's own specification with the frame pointer optional
    (r7 free for the loop's registers), and each variant gets its measured LLVM options."""
    spec = json.loads(target_spec(find_rustc()))
    assert spec["frame-pointer"] == "may-omit" and spec["llvm-target"] == "thumbv6m-none-eabi"
    assert "is-builtin" not in spec
    assert "-pre-RA-sched=list-ilp" in llvm_args("loop")[1]
    assert "-pre-RA-sched" not in llvm_args("unrolled")[1]
    assert "-disable-machine-cse" in llvm_args(None)[1]


# --- the CLI ---------------------------------------------------------------------------------


def qnn(capsys, *args: str) -> tuple[int, dict]:
    code = main([*args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_cli_export_rust(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(FIXTURES / "magnet6_4bit_int_model.json", run / "int_model.json")
    code, r = qnn(capsys, "export", str(run), "--lang", "rust", "--out", str(tmp_path / "o"))
    assert code == 0 and r["lang"] == "rust"
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [SOURCE_RS]
    assert (tmp_path / "o" / SOURCE_RS).read_text() == generate_rust(fixture("magnet6_4bit"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_cli_build_and_verify_rust(tmp_path, capsys, arm_toolchain, rust_toolchain, variant):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(FIXTURES / "magnet6_8bit_int_model.json", run / "int_model.json")
    code, b = qnn(capsys, "build", str(run), "--lang", "rust", "--variant", variant)
    assert code == 0 and b["ok"] and b["lang"] == "rust" and "rustc 1." in b["compiler"]
    assert b["size"]["stack_worst"] and b["size"]["inference"]["bss"] == 0
    assert (run / "build" / HEADER).is_file() and not (run / "build" / "qnn_model.c").exists()
    code, v = qnn(capsys, "verify", str(run), "--lang", "rust", "--variant", variant,
                  "--random", "300")
    assert code == 0 and v["ok"] and v["mismatches"] == 0 and v["lang"] == "rust"
    assert v["cycles"]["max"] > 0 and v["peak_stack"] == b["size"]["stack_worst"]
    # the C build into the same folder replaces the Rust one (no stale source lingers)
    assert build(run, variant=variant)["lang"] == "c"
    assert not (run / "build" / SOURCE_RS).exists()
