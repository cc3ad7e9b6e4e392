"""Bit-width configurations trained side by side (qnn.grid) and the sweep built on them."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from cli.main import main
from common.errors import QnnError
from qnn import network as net
from qnn.config import TrainConfig
from qnn.grid import train_grid
from qnn.intmodel import predict_int
from sim.dataset import generate, save_dataset, split

TINY = dict(hidden=(6, 6), epochs_float=6, epochs_qat=4, epochs_int=2)
BITS = [(8, 8), (4, 6), (2, 3), ((3, 8, 5), (4, 7))]


@pytest.fixture(scope="module")
def data():
    ds = generate("magnet6", n=1200, seed=3)
    return ds, *split(ds, 0.1, seed=0)


@pytest.fixture(scope="module")
def grid_results(data):
    _, tr, va = data
    cfgs = [TrainConfig(w_bits=w, a_bits=a, **TINY) for w, a in BITS]
    events = list(train_grid(tr.x, tr.y, va.x, va.y, cfgs))
    return cfgs, events[:-1], events[-1]


def test_every_configuration_is_exported_bit_exact_with_the_reference(data, grid_results):
    ds, _, va = data
    cfgs, _, results = grid_results
    rows = np.concatenate([ds.x[:300], np.zeros((1, 6), np.uint16),
                           np.full((1, 6), 65535, np.uint16)])
    for cfg, r in zip(cfgs, results, strict=True):
        assert r.spec == cfg.spec(6, 6)  # the configuration's own bit widths, per layer
        assert [L.w_bits for L in r.int_model.layers] == list(r.spec.w_bits)
        assert np.array_equal(net.int_forward_model(r.int_model, rows),
                              predict_int(r.int_model, rows))


def test_the_vmapped_evaluation_is_the_exported_model(data, grid_results):
    """What training validated (bounds as data, vmapped) is the integer model exported (bounds
    from the spec): the same integers, layer by layer, for every configuration."""
    _, _, va = data
    cfgs, _, results = grid_results
    stats = results[0].stats
    consts = dict(net.make_consts(stats))
    specs = [r.spec for r in results]
    bounds = [net.bounds_of(s) for s in specs]
    consts.update({k: np.stack([b[k] for b in bounds]) for k in net.BOUND_KEYS})
    stacked = [{k: np.stack([r.params[i][k] for r in results]) for k in results[0].params[i]}
               for i in range(len(results[0].params))]
    axes = {k: (0 if k in net.BOUND_KEYS else None) for k in consts}
    ip = jax.vmap(net.to_int_params, in_axes=(0, None, axes))(stacked, specs[0], consts)
    out = jax.vmap(net.int_forward, in_axes=(0, None, None, axes))(ip, va.x, specs[0], consts)
    for c, r in enumerate(results):
        for k, L in enumerate(r.int_model.layers):
            assert np.array_equal(np.asarray(ip[k]["w"][c]), L.weights)
            assert np.array_equal(np.asarray(ip[k]["m"][c]), L.multiplier)
            assert np.array_equal(np.asarray(ip[k]["n"][c]), L.shift)
        assert np.array_equal(np.asarray(out[c]), predict_int(r.int_model, va.x))


def test_grid_training_matches_qnn_train_closely_and_fewer_bits_cost_accuracy(data,
                                                                             grid_results):
    from qnn.train import TrainResult, train

    _, tr, va = data
    cfgs, progress, results = grid_results
    assert [p.epoch for p in progress] == list(range(1, 13))
    assert {p.phase for p in progress} == {"float", "qat", "int"}
    single = [e for e in train(tr.x, tr.y, va.x, va.y, cfgs[1]) if isinstance(e, TrainResult)]
    # Same float network, same batches: the grid's configuration and `qnn train` of it agree
    # (up to float rounding of the batched computation).
    assert np.allclose(single[0].float_params[0]["w"], results[1].float_params[0]["w"])
    v_single, v_grid = single[0].history[-1].val_int, results[1].history[-1].val_int
    assert abs(v_single - v_grid) <= 0.05 * v_single
    finals = [min(p.val_int for p in r.history if p.val_int is not None) for r in results]
    assert finals[0] < finals[2]  # 8 bits beat 2/3 bits


def test_a_grid_must_share_everything_but_bit_widths(data):
    _, tr, va = data
    cfgs = [TrainConfig(**TINY), TrainConfig(**{**TINY, "hidden": (4, 4)})]
    with pytest.raises(QnnError, match="only in bit widths"):
        next(train_grid(tr.x, tr.y, va.x, va.y, cfgs))


@pytest.mark.toolchain
@pytest.mark.slow
def test_qnn_sweep_end_to_end(arm_toolchain, data, tmp_path, capsys):
    ds = data[0]
    save_dataset(ds, tmp_path / "d.npz")
    out = tmp_path / "sweep"
    rc = main(["sweep", "--data", str(tmp_path / "d.npz"), "--out", str(out), "--hidden", "6,6",
               "4,4", "--wbits", "8,2", "--abits", "8", "--epochs", "6,4,2", "--max-flash",
               "5000", "--clock-mhz", "24", "--json"])
    assert rc == 0
    r = json.loads(capsys.readouterr().out)
    doc = json.loads((out / "sweep.json").read_text())
    assert len(doc["points"]) == 4 and doc["points"] == r["points"]
    for p in doc["points"]:
        assert {"hidden", "w_bits", "a_bits", "mse", "flash_bytes", "cycles", "stack_bytes",
                "pareto"} <= set(p)
        assert len(p["w_bits"]) == 3 and len(p["a_bits"]) == 2 and p["mse"] > 0
        assert p["us"] == p["cycles"] / 24  # µs at the clock given
    assert doc["clock_mhz"] == r["clock_mhz"] == 24
    front = [p for p in doc["points"] if p["pareto"]]
    assert front and r["front"] == sorted((p["label"] for p in front),
                                          key=lambda lb: r["front"].index(lb))
    fits = [p for p in doc["points"] if p["flash_bytes"] <= 5000]
    assert r["best"]["mse"] == min(p["mse"] for p in fits)
    # best/ is a run folder ready for `qnn export`
    assert main(["export", str(out / "best"), "--out", str(tmp_path / "c")]) == 0
    assert (tmp_path / "c").is_dir()
    # its split is recorded (a test holdout first): `qnn eval --split val` redoes it exactly
    capsys.readouterr()
    assert main(["eval", str(out / "best"), "--data", str(tmp_path / "d.npz"), "--split", "val",
                 "--json"]) == 0
    val = json.loads(capsys.readouterr().out)
    metrics = json.loads((out / "best" / "metrics.json").read_text())
    assert val["n"] == metrics["val_rows"] and val["mse_int"] == metrics["mse_int"]
    # the human output: a front table and two plots
    assert main(["sweep", "--data", str(tmp_path / "d.npz"), "--out", str(out), "--hidden",
                 "4,4", "--wbits", "8", "--abits", "8", "--epochs", "2,1,1", "--quiet",
                 "--max-us", "10000"]) == 0
    text = capsys.readouterr().out
    assert "Pareto front" in text and "log10 MSE vs inference flash" in text
    assert "log10 MSE vs cycles" in text and "µs@48" in text
    assert "best within 10000 µs at 48 MHz: 4,4 w8,8,8 a8,8" in text
    # a time budget nothing meets: said, exit 1, no best/
    assert main(["sweep", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "o2"),
                 "--hidden", "4,4", "--wbits", "8", "--abits", "8", "--epochs", "2,1,1",
                 "--quiet", "--max-us", "1", "--clock-mhz", "8"]) == 1
    assert "no configuration fits 1 µs at 8 MHz" in capsys.readouterr().out
    assert not (tmp_path / "o2" / "best").exists()


@pytest.mark.parametrize("extra, needle", [
    (["--wbits", "9"], "--wbits 9 outside 2..8"),
    (["--abits", "1"], "--abits 1 outside 2..8"),
    (["--max-flash", "0"], "--max-flash 0"),
    (["--hidden", "0,4"], "hidden sizes"),
    (["--variant", "loop", "--max-cycles", "-5"], "--max-cycles -5"),
    (["--clock-mhz", "0"], "--clock-mhz 0"),
    (["--mhz", "2000"], "--clock-mhz 2000"),
    (["--max-us", "-1"], "--max-us -1"),
    (["--max-us", "nan"], "--max-us nan"),
])
def test_bad_sweep_input_is_one_line_and_writes_nothing(tmp_path, capsys, extra, needle):
    ds = generate("magnet6", n=200, seed=1)
    save_dataset(ds, tmp_path / "d.npz")
    out = tmp_path / "out"
    rc = main(["sweep", "--data", str(tmp_path / "d.npz"), "--out", str(out), *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and needle in err and "\n" not in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("extra, needle", [
    (["--clock-mhz", "abc"], "--clock-mhz"),
    (["--clock-mhz", "-48"], "--clock-mhz -48"),
    (["--max-us", "0"], "--max-us 0"),
    (["--max-us", "fast"], "--max-us"),
])
def test_a_bad_clock_or_time_budget_under_json_is_one_object(tmp_path, capsys, extra, needle):
    ds = generate("magnet6", n=200, seed=1)
    save_dataset(ds, tmp_path / "d.npz")
    out = tmp_path / "out"
    try:
        rc = main(["sweep", "--data", str(tmp_path / "d.npz"), "--out", str(out), *extra,
                   "--json"])
    except SystemExit as e:  # argparse's own errors (not a number) exit from the parser
        rc = e.code
    printed = capsys.readouterr().out
    err = json.loads(printed)
    assert rc == 2 and printed.count("\n") == 1 and needle in err["error"]
    assert err["command"] == "sweep" and not out.exists()


def test_a_missing_dataset_or_too_few_rows_is_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", "--data", str(tmp_path / "none.npz"), "--out", str(out)]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not out.exists()


def test_the_per_layer_search_steps_one_layer_to_the_next_storage_width():
    from explore.pareto import Point
    from explore.perlayer import _lowered, score, storage_widths

    widths = storage_widths([2, 3, 4, 6, 8])
    assert widths == [8, 4, 2]
    assert _lowered((8, 4, 2), widths) == [(4, 4, 2), (8, 2, 2)]
    assert _lowered((2, 2, 2), widths) == []
    cur = Point((8,), (8, 8), (8,), 1.0, 1000, 900, 0)
    cheap = Point((8,), (4, 8), (8,), 1.1, 900, 900, 0)  # +0.1 for 100 B
    dear = Point((8,), (8, 4), (8,), 1.5, 800, 900, 0)  # +0.5 for 200 B
    free = Point((8,), (8, 4), (8,), 0.9, 1000, 900, 0)  # better, saves nothing
    assert min([dear, cheap], key=lambda p: score(cur, p)) is cheap
    assert score(cur, free) == -float("inf")
    assert score(cur, Point((8,), (8, 4), (8,), 1.2, 1000, 900, 0)) == float("inf")


@pytest.mark.toolchain
@pytest.mark.slow
def test_the_per_layer_search_walks_from_widest_to_narrowest(arm_toolchain, data, tmp_path):
    from explore.sweep import SweepResult, grid, sweep

    cfgs = grid(TrainConfig(**{**TINY, "hidden": (4,)}), [(4,)], [8, 4], [8])
    res = [e for e in sweep(data[0], cfgs, tmp_path, per_layer=True, max_flash=10**6)
           if isinstance(e, SweepResult)][0]
    labels = [p.label for p in res.points]
    # the start and the other uniform width, then two candidates; the one left after them
    # (w4,4) was met already: w8,8 w4,4 -> {w4,8 w8,4} -> (w4,4)
    assert labels[:2] == ["4 w8,8 a8", "4 w4,4 a8"]
    assert sorted(labels[2:]) == ["4 w4,8 a8", "4 w8,4 a8"]
    assert res.best is not None and (tmp_path / "best" / "int_model.json").is_file()
    doc = json.loads((tmp_path / "sweep.json").read_text())
    for row in doc["per_layer_vs_uniform"]:  # each mixed point of the front vs uniform
        assert row["per_layer"] in labels[2:] and row["uniform"] in (*labels[:2], None)
        if row["uniform"] is not None:
            assert row["uniform_flash_bytes"] <= row["flash_bytes"]
