"""Figures of merit, the same everywhere: normalised MSE (mean over outputs of the MSE of the
standardised outputs, so every output counts equally whatever its unit) and per-output RMSE
in physical units."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from qnn import network as net
from qnn.intmodel import IntModel, map_inputs, predict_int


def norm_mse(pred: np.ndarray, y: np.ndarray, std: np.ndarray) -> float:
    return float(np.mean(((np.asarray(pred, np.float64) - y) / std) ** 2))


def rmse_per_output(model: IntModel, pred: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    rmse = np.sqrt(np.mean((np.asarray(pred, np.float64) - y) ** 2, axis=0))
    return {name: {"rmse": float(r), "unit": unit}
            for name, unit, r in zip(model.output_names, model.output_units, rmse, strict=True)}


def float_predict(model: IntModel, float_params, spec: net.NetSpec, x_u16: np.ndarray):
    """The float network's prediction in physical units (the float baseline)."""
    a0 = jnp.asarray(map_inputs(model.input_map, x_u16).astype(np.float32))
    params = [{k: jnp.asarray(v) for k, v in layer.items()} for layer in float_params]
    z = np.asarray(net.float_forward(params, a0, spec), np.float64)
    return z * np.asarray(model.meta["y_std"]) + np.asarray(model.meta["y_mean"])


def evaluate(model: IntModel, float_params, spec: net.NetSpec, x_u16: np.ndarray,
             y: np.ndarray) -> dict[str, Any]:
    y = np.asarray(y, np.float64)
    std = np.asarray(model.meta["y_std"])
    y_int = model.to_physical(predict_int(model, x_u16))
    y_float = float_predict(model, float_params, spec, x_u16)
    mse_float, mse_int = norm_mse(y_float, y, std), norm_mse(y_int, y, std)
    return {
        "n": int(len(y)),
        "mse_float": mse_float,
        "mse_int": mse_int,
        "int_over_float": mse_int / max(mse_float, 1e-30),
        "rmse_per_output": rmse_per_output(model, y_int, y),
        "rmse_per_output_float": rmse_per_output(model, y_float, y),
    }


def format_rmse(rmse: dict[str, Any]) -> str:
    return "  ".join(f"{k} {v['rmse']:.4g} {v['unit']}" for k, v in rmse.items())
