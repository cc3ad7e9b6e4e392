"""Figures of merit, in the outputs' own units (what a user compares with anything else):

* per output: MSE, RMSE, the largest |error| and its 99th percentile (a pose estimator is
  judged by its worst cases too), each in that output's unit (MSE in unit^2);
* overall: MSE = the mean over outputs of the per-output MSE, RMSE = its square root, and
  the largest and 99th-percentile |error| over all outputs (mixed units when the outputs'
  units differ).

The standardised MSE (each output's error divided by its training std, so every output
counts equally whatever its unit) is what training minimises; it is kept, labelled
`*_normalized`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from qnn.intmodel import IntModel, map_inputs, predict_int

if TYPE_CHECKING:  # evaluation is numpy only: `qnn eval` never loads JAX
    from qnn.network import NetSpec

FIGURES = ("mse", "rmse", "max_abs", "p99_abs")


def norm_mse(pred: np.ndarray, y: np.ndarray, std: np.ndarray) -> float:
    """Standardised MSE: the mean over outputs of MSE / std^2."""
    return float(np.mean(((np.asarray(pred, np.float64) - y) / std) ** 2))


def error_figures(pred: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Per output [n_out]: mse, rmse, max_abs and p99_abs of pred - y, in y's units."""
    err = np.asarray(pred, np.float64) - np.asarray(y, np.float64)
    mse = np.mean(err**2, axis=0)
    return {"mse": mse, "rmse": np.sqrt(mse), "max_abs": np.abs(err).max(axis=0),
            "p99_abs": np.percentile(np.abs(err), 99, axis=0)}


def overall(fig: dict[str, np.ndarray]) -> dict[str, float]:
    """The overall figures: MSE is the mean of the per-output MSEs, RMSE its root."""
    mse = float(np.mean(fig["mse"]))
    return {"mse": mse, "rmse": float(np.sqrt(mse)), "max_abs": float(fig["max_abs"].max()),
            "p99_abs": float(fig["p99_abs"].max())}


def per_output(model: IntModel, fig: dict[str, np.ndarray], name: str) -> dict[str, Any]:
    """{output: {name: value, "unit": unit}}, the shape `rmse_per_output` always had."""
    units = [f"{u}^2" if (name == "mse" and u) else u for u in model.output_units]
    return {out: {name: float(v), "unit": unit}
            for out, unit, v in zip(model.output_names, units, fig[name], strict=True)}


def float_predict(model: IntModel, float_params, spec: NetSpec, x_u16: np.ndarray):
    """The float network's prediction in physical units (the float baseline): the same
    arithmetic as qnn.network.float_forward, in numpy (float64)."""
    x = map_inputs(model.input_map, x_u16) * spec.in_scale()
    for layer in float_params[:-1]:
        x = np.maximum(x @ np.asarray(layer["w"], np.float64).T + layer["b"], 0)
    z = x @ np.asarray(float_params[-1]["w"], np.float64).T + float_params[-1]["b"]
    return z * np.asarray(model.meta["y_std"]) + np.asarray(model.meta["y_mean"])


def rmse_per_output(model: IntModel, pred: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    return per_output(model, error_figures(pred, y), "rmse")


def model_figures(model: IntModel, pred: np.ndarray, y: np.ndarray, kind: str
                  ) -> dict[str, Any]:
    """Every figure of one model's predictions (`kind` "int" or "float"): mse_KIND,
    rmse_KIND, max_abs_KIND, p99_abs_KIND overall (output units), NAME_per_output for the
    integer model (NAME_per_output_float for the float one), mse_KIND_normalized."""
    y = np.asarray(y, np.float64)
    fig = error_figures(pred, y)
    out: dict[str, Any] = {f"{name}_{kind}": v for name, v in overall(fig).items()}
    suffix = "" if kind == "int" else "_float"
    for name in FIGURES:
        out[f"{name}_per_output{suffix}"] = per_output(model, fig, name)
    std = np.asarray(model.meta.get("y_std", [1.0] * model.n_out))
    out[f"mse_{kind}_normalized"] = norm_mse(pred, y, std)
    return out


def evaluate(model: IntModel, float_params, spec: NetSpec, x_u16: np.ndarray,
             y: np.ndarray) -> dict[str, Any]:
    """The integer model and the float baseline on (x_u16, y): every figure above, for both
    (see model_figures), the outputs' units and int_over_float (ratio of the MSEs)."""
    y_int = model.to_physical(predict_int(model, x_u16))
    y_float = float_predict(model, float_params, spec, x_u16)
    out = {"n": int(len(y)), "output_units": list(model.output_units),
           **model_figures(model, y_int, y, "int"), **model_figures(model, y_float, y, "float")}
    out["int_over_float"] = out["mse_int"] / max(out["mse_float"], 1e-30)
    return out


def format_rmse(rmse: dict[str, Any]) -> str:
    return "  ".join(f"{k} {v['rmse']:.4g} {v['unit']}" for k, v in rmse.items())


def format_table(r: dict[str, Any]) -> str:
    """Per output, integer model then float: RMSE, max |error|, p99 |error|, in units."""
    head = (f"{'output':10s} {'unit':5s} {'RMSE int':>10s} {'float':>10s} {'max|e| int':>11s} "
            f"{'float':>10s} {'p99|e| int':>11s} {'float':>10s}")
    rows = [head]
    for name, v in r["rmse_per_output"].items():
        f = [r[f"{k}_per_output_float"][name][k] for k in ("rmse", "max_abs", "p99_abs")]
        i = [v["rmse"], r["max_abs_per_output"][name]["max_abs"],
             r["p99_abs_per_output"][name]["p99_abs"]]
        rows.append(f"{name:10s} {v['unit']:5s} {i[0]:10.4g} {f[0]:10.4g} {i[1]:11.4g} "
                    f"{f[1]:10.4g} {i[2]:11.4g} {f[2]:10.4g}")
    return "\n".join(rows)


def format_summary(r: dict[str, Any]) -> str:
    """One line: overall MSE of both models in output units, and the standardised ones."""
    return (f"MSE (mean over outputs, in output units^2): integer {r['mse_int']:.5g}, float "
            f"{r['mse_float']:.5g} ({r['int_over_float']:.3f}x); standardised: integer "
            f"{r['mse_int_normalized']:.5f}, float {r['mse_float_normalized']:.5f}")
