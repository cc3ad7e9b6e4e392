"""How far an integer model is from the .tflite it was imported from: both run on the same
rows, the .tflite through the numpy reference of TFLite's int8 arithmetic (qnn/tflite_ref.py,
no TensorFlow needed) with the host's float standardization around it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from common.errors import QnnError
from qnn.intmodel import IntModel, check_compatible, predict_int
from qnn.tflite_import import SOURCE
from qnn.tflite_read import read_tflite
from qnn.tflite_ref import ROUNDINGS, Plan, dequantize_output, plan, quantize_input, run_int8


def host_standardization(model: IntModel) -> dict[str, np.ndarray]:
    """The x/y mean and std the import recorded (identity for a model that was not imported)."""
    t = model.meta.get("tflite", {})
    n_in, n_out = model.n_in, model.n_out
    return {"x_mean": np.asarray(t.get("x_mean", [0.0] * n_in), np.float64),
            "x_std": np.asarray(t.get("x_std", [1.0] * n_in), np.float64),
            "y_mean": np.asarray(t.get("y_mean", [0.0] * n_out), np.float64),
            "y_std": np.asarray(t.get("y_std", [1.0] * n_out), np.float64)}


def tflite_predict(p: Plan, st: dict[str, np.ndarray], x_u16: np.ndarray,
                   rounding: str = "single") -> np.ndarray:
    """The .tflite's prediction in output units: the host standardizes in float32 (and, for
    an int8-input model, quantizes), the reference runs, the host de-standardizes."""
    x = np.asarray(x_u16, np.float32)
    xf = (x - st["x_mean"].astype(np.float32)) / st["x_std"].astype(np.float32)
    out = run_int8(p, quantize_input(p, xf), rounding)
    return dequantize_output(p, out).astype(np.float64) * st["y_std"] + st["y_mean"]


def compare(model: IntModel, p: Plan, x_u16: np.ndarray, y: np.ndarray,
            rounding: str = "single") -> dict[str, Any]:
    """MSE of both in output units, and how often / how far the int16 outputs differ from the
    reference's (its outputs rounded to the model's output LSB)."""
    if p.dense[0].weights.shape[1] != model.n_in or p.dense[-1].weights.shape[0] != model.n_out:
        raise QnnError(f"the .tflite is {p.dense[0].weights.shape[1]} -> "
                       f"{p.dense[-1].weights.shape[0]}, the run's model {model.n_in} -> "
                       f"{model.n_out}: not the model this run was imported from.")
    st = host_standardization(model)
    lsb = np.asarray(model.output_lsb, np.float64)
    y = np.asarray(y, np.float64)
    ours = predict_int(model, x_u16).astype(np.int64)
    ref = tflite_predict(p, st, x_u16, rounding)
    ref_int = np.floor(ref / lsb + 0.5)
    diff = np.abs(ours - ref_int)
    mse_ours = np.mean((ours * lsb - y) ** 2, axis=0)
    mse_ref = np.mean((ref - y) ** 2, axis=0)
    return {
        "n": int(len(y)),
        "rounding": rounding,
        "mse": float(mse_ours.mean()),  # output units squared, mean over outputs
        "mse_tflite": float(mse_ref.mean()),
        "mse_ratio": float(mse_ours.mean() / max(mse_ref.mean(), 1e-300)),
        "per_output": {name: {"unit": unit, "mse": float(a), "mse_tflite": float(b),
                              "max_diff_lsb": int(d)}
                       for name, unit, a, b, d in zip(model.output_names, model.output_units,
                                                      mse_ours, mse_ref, diff.max(axis=0),
                                                      strict=True)},
        "share_differ": float(np.mean(diff > 0)),
        "share_within_1_lsb": float(np.mean(diff <= 1)),
        "max_diff_lsb": int(diff.max()),
    }


def eval_tflite(run: str | Path, data: str | Path, tflite: str | Path | None = None,
                rounding: str = "single") -> dict[str, Any]:
    """`qnn eval RUN --data FILE [--tflite MODEL]`: the integer model's figures (with the
    float baseline when the run was trained), plus the comparison with the .tflite (by
    default the copy an imported run keeps)."""
    from qnn.run import check_run_dir, load_int_model
    from sim.dataset import load_dataset

    if rounding not in ROUNDINGS:
        raise QnnError(f"--rounding {rounding!r}: choose one of {', '.join(ROUNDINGS)}.")
    run = check_run_dir(run)
    model = load_int_model(run)
    if tflite is None:
        tflite = run / SOURCE
        if not tflite.is_file():
            raise QnnError(f"{run} was not imported from a .tflite; pass --tflite MODEL.tflite.")
    p = plan(read_tflite(tflite))
    ds = load_dataset(data)
    check_compatible(model, ds)
    if (run / "float_params.npz").is_file():  # a trained run: the usual figures first
        from qnn.pipeline import eval_run

        base = eval_run(run, data)
    else:
        from qnn.evaluate import model_figures

        y_int = model.to_physical(predict_int(model, ds.x))
        base = {"run": str(run), "data": str(data), "n": ds.n,
                "output_units": list(model.output_units),
                **model_figures(model, y_int, ds.y, "int")}
    return {**base, "tflite": {"file": str(tflite), **compare(model, p, ds.x, ds.y, rounding)}}


def is_imported(run: str | Path) -> bool:
    return (Path(run) / SOURCE).is_file() and not (Path(run) / "float_params.npz").is_file()


def human_eval(r: dict[str, Any], base_human: Any) -> str:
    """`qnn eval`'s text with the comparison: the trained run's usual lines (`base_human`),
    or the integer model's alone for an imported run, then the .tflite's."""
    from qnn.evaluate import format_rmse

    if "mse_float" in r:
        head = base_human({k: v for k, v in r.items() if k != "tflite"})
    else:
        head = (f"{r['n']} samples: integer MSE {r['mse_int']:.6g} (output units^2, mean "
                f"over outputs; standardised by the recorded y_std: "
                f"{r['mse_int_normalized']:.5f})\ninteger RMSE: "
                f"{format_rmse(r['rmse_per_output'])}")
    return head + "\n" + format_comparison(r["tflite"])


def format_comparison(t: dict[str, Any]) -> str:
    return "\n".join([
        f"vs {t['file']} (numpy reference of TFLite's int8 arithmetic, {t['rounding']} "
        f"rounding), {t['n']} samples:",
        f"  MSE in output units: integer-only {t['mse']:.6g}, .tflite {t['mse_tflite']:.6g} "
        f"({t['mse_ratio']:.4f}x)",
        f"  int16 outputs that differ from the .tflite's: {t['share_differ']:.2%}; within 1 "
        f"LSB: {t['share_within_1_lsb']:.2%}; largest difference {t['max_diff_lsb']} LSB",
    ])
