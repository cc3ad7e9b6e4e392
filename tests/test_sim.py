"""Forward models, identifiability, generation and the `qnn sim` command."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cli.main as qnn_cli
from common.errors import QnnError
from sim.dataset import generate, load_dataset
from sim.identify import identifiability
from sim.models import MODELS, get_model

NAMES = sorted(MODELS)


@pytest.mark.parametrize("name", NAMES)
def test_shapes_dtypes_and_metadata(name):
    m = get_model(name)
    pose = m.sample_poses(100, np.random.default_rng(0))
    x = m.forward(pose)
    assert x.shape == (100, m.n_in) and x.dtype == np.uint16
    assert pose.shape == (100, m.n_out)
    assert np.all(pose >= m.pose_low) and np.all(pose <= m.pose_high)
    assert len(m.input_units) == m.n_in and len(m.output_units) == m.n_out
    json.dumps(m.default_params())  # a UI can show and store it
    json.dumps(m.info())


def test_unknown_model_lists_known_names():
    with pytest.raises(QnnError, match="magnet6.*arm2|arm2.*magnet6"):
        get_model("nope")


@pytest.mark.parametrize("name", NAMES)
def test_noise_only_with_rng(name):
    m = get_model(name)
    pose = m.sample_poses(500, np.random.default_rng(1))
    assert np.array_equal(m.forward(pose), m.forward(pose))
    noisy = m.forward(pose, rng=np.random.default_rng(2)).astype(int)
    diff = noisy - m.forward(pose).astype(int)
    assert np.any(diff != 0)
    assert np.abs(diff).max() < 10 * m.noise_sigma(m.default_params()).max() + 2


def test_zero_noise_param_gives_clean_readings():
    m = get_model("magnet6")
    pose = m.sample_poses(50, np.random.default_rng(1))
    quiet = m.forward(pose, {"noise_sigma_counts": 0.0}, rng=np.random.default_rng(3))
    assert np.array_equal(quiet, m.forward(pose))


def test_saturation_at_both_rails():
    m = get_model("magnet6")
    pose = m.sample_poses(200, np.random.default_rng(0))
    loud = m.forward(pose, {"adc_gain_counts_per_mT": [1e7] * 6})
    assert loud.min() == 0 and loud.max() == 65535
    # a pose with a magnet almost on a sensor: huge field, pinned at a rail, no wrap-around
    s = np.array(m.default_params()["sensor_positions_mm"][0])
    assert m.forward(np.array([[*(s * 0.8), 0, 0, 0]]))[0, 0] in (0, 65535)


def test_default_range_mostly_unsaturated_and_uses_the_adc():
    m = get_model("magnet6")
    x = m.forward(m.sample_poses(5000, np.random.default_rng(0)))
    saturated = np.mean((x == 0) | (x == 65535))
    assert saturated < 0.01
    assert np.all(x.max(axis=0).astype(int) - x.min(axis=0) > 20000)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(NAMES), st.integers(0, 2**32 - 1))
def test_random_poses_in_range_give_valid_readings(name, seed):
    m = get_model(name)
    rng = np.random.default_rng(seed)
    x = m.forward(m.sample_poses(64, rng), rng=rng)
    assert x.dtype == np.uint16 and x.shape == (64, m.n_in)


def test_forward_matches_brute_force_dipole_sum():
    """The vectorised field against a textbook loop over magnets and sensors."""
    from sim.magnet import rotation_matrices

    m = get_model("magnet6")
    p = m.default_params()
    pose = m.sample_poses(20, np.random.default_rng(5))
    counts = m.analog(pose, p)
    for n, q in enumerate(pose):
        R = rotation_matrices(q[3:4], q[4:5], q[5:6])[:, :, 0]
        for j, (s, a) in enumerate(zip(p["sensor_positions_mm"], p["sensor_axes"], strict=True)):
            a = np.array(a) / np.linalg.norm(a)
            b = 0.0
            for c, mo in zip(p["magnet_positions_mm"], p["magnet_moments_Am2"], strict=True):
                M = R @ mo
                r = np.array(s) - (q[:3] + R @ c)
                d = np.linalg.norm(r)
                b += 1e5 * (3 * (M @ r) * (a @ r) / d**2 - M @ a) / d**3
            expected = p["adc_offset_counts"][j] + p["adc_gain_counts_per_mT"][j] * b
            assert counts[n, j] == pytest.approx(expected, rel=1e-9)


def test_arm2_kinematics_round_trip():
    m = get_model("arm2")
    p = m.default_params()
    pose = m.sample_poses(100, np.random.default_rng(0))
    x = m.analog(pose, p)
    q1 = np.radians(x[:, 0] * 360 / 65536 + p["encoder_zero_deg"][0])
    q2 = np.radians(x[:, 1] * 360 / 65536 + p["encoder_zero_deg"][1])
    l1, l2 = p["link_lengths_mm"]
    tip = np.stack([l1 * np.cos(q1) + l2 * np.cos(q1 + q2),
                    l1 * np.sin(q1) + l2 * np.sin(q1 + q2)], axis=1)
    assert np.allclose(tip, pose, atol=1e-9)
    assert np.allclose(x[:, 2] / 200.0, np.hypot(pose[:, 0], pose[:, 1] - 200.0))


@pytest.mark.parametrize("name", NAMES)
def test_default_models_are_identifiable(name):
    r = identifiability(name, n=512)
    # counts per half-range; noise is a few counts, so this is a resolution of < 1% of range
    assert r["min_singular_value"] > 200
    assert r["median_min_singular_value"] >= r["min_singular_value"]
    assert set(r["worst_pose"]) == set(get_model(name).output_names)
    assert r["worst_resolution_fraction"] < 0.02


def test_single_axisymmetric_dipole_is_not_identifiable():
    """One dipole on the body's roll axis: rolling changes nothing, the metric sees it."""
    single = {"magnet_positions_mm": [[0.0, 0.0, 0.0]], "magnet_moments_Am2": [[0.1, 0, 0]]}
    r = identifiability("magnet6", single, n=128)
    assert r["median_min_singular_value"] < 1e-6
    default = identifiability("magnet6", n=128)
    assert default["min_singular_value"] > 1e6 * r["median_min_singular_value"]


@pytest.mark.parametrize("bad, match", [
    ({"noise_sigma_counts": -1.0}, "noise"),
    ({"sensor_positions_mm": [[0, 0, 30]]}, "shape"),
    ({"magnet_moments_Am2": [[0.1, 0, 0]]}, "numbers of magnets"),
    ({"adc_gain_counts_per_mT": [0.0] * 6}, "gain"),
    ({"sensor_axes": [[0, 0, 0]] * 6}, "zero vector"),
    ({"background_mT": [0, float("nan"), 0]}, "not finite"),
    ({"colour": "red"}, "unknown parameter"),
])
def test_validate_params(bad, match):
    with pytest.raises(QnnError, match=match):
        get_model("magnet6").resolve_params(bad)


def test_bad_pose_shape():
    with pytest.raises(QnnError, match=r"shape \[N, 6\]"):
        get_model("magnet6").forward(np.zeros((3, 5)))


@pytest.mark.parametrize("name", NAMES)
def test_generate_is_deterministic(name):
    a, b = generate(name, n=1000, seed=7), generate(name, n=1000, seed=7)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    c = generate(name, n=1000, seed=8)
    assert not np.array_equal(a.y, c.y)
    assert a.x.dtype == np.uint16 and a.y.dtype == np.float32


def test_generate_custom_range():
    ds = generate("magnet6", n=200, seed=0, pose_low=[0] * 6, pose_high=[1] * 6)
    assert ds.y.min() >= 0 and ds.y.max() <= 1
    with pytest.raises(QnnError, match="pose_low"):
        generate("magnet6", n=10, pose_low=[1] * 6, pose_high=[0] * 6)


# ---- the CLI -----------------------------------------------------------------------------
# Only the sim command is registered: other commands are developed alongside and their
# import-time state is not this file's business.

@pytest.fixture
def cli(monkeypatch):
    monkeypatch.setattr(qnn_cli, "_command_modules", lambda: ["sim"])
    return qnn_cli.main


def test_cli_writes_dataset(cli, tmp_path, capsys):
    out = tmp_path / "test.npz"
    code = cli(["sim", "--model", "magnet6", "--n", "2000", "--seed", "1", "--out", str(out),
                "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["path"] == str(out) and result["n"] == 2000 and result["model"] == "magnet6"
    assert result["min_singular_value"] > 200 and result["seconds"] >= 0
    ds = load_dataset(out)
    assert ds.n == 2000 and ds.meta["seed"] == 1
    assert np.array_equal(ds.x, generate("magnet6", n=2000, seed=1).x)


def test_cli_list_and_human(cli, tmp_path, capsys):
    assert cli(["sim", "--list"]) == 0
    assert "magnet6" in capsys.readouterr().out
    assert cli(["sim", "--model", "arm2", "--n", "100", "--out", str(tmp_path / "a.npz")]) == 0
    assert "wrote" in capsys.readouterr().out


@pytest.mark.parametrize("argv, match", [
    (["--model", "nope", "--out", "X.npz"], "unknown model"),
    (["--out", "X.txt"], "extension"),
    (["--n", "0", "--out", "X.npz"], "at least 1"),
    ([], "--out"),
    (["--params", "missing.json", "--out", "X.npz"], "no such parameter file"),
])
def test_cli_errors_are_one_line_exit_2(cli, tmp_path, capsys, monkeypatch, argv, match):
    monkeypatch.chdir(tmp_path)
    assert cli(["sim", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err and err.startswith("qnn sim: error:")
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_cli_params_file(cli, tmp_path, capsys):
    pfile = tmp_path / "p.json"
    pfile.write_text(json.dumps({"noise_sigma_counts": -3}))
    assert cli(["sim", "--params", str(pfile), "--out", str(tmp_path / "d.npz")]) == 2
    assert "noise" in capsys.readouterr().err
    assert not (tmp_path / "d.npz").exists()
