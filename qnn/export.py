"""Trained params -> IntModel, through the very function the integer-exact phase evaluates."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from qnn import network as net
from qnn.intmodel import IntLayer, IntModel
from qnn.stats import DataStats

_to_int = jax.jit(net.to_int_params, static_argnums=(1,))


def int_model_from_params(params, spec: net.NetSpec, stats: DataStats, consts,
                          names: dict[str, list[str]], cfg: Any) -> IntModel:
    ip = _to_int(params, spec, consts)
    layers = []
    for k, (layer, p) in enumerate(zip(ip, params, strict=True)):
        lo, hi = spec.out_clamp(k)
        last = k == spec.n_layers - 1
        layers.append(IntLayer(
            weights=np.asarray(layer["w"], np.int64),
            bias=np.asarray(layer["b"], np.int64),
            multiplier=np.asarray(layer["m"], np.int64),
            shift=np.asarray(layer["n"], np.int64),
            lo=lo, hi=hi, w_bits=spec.w_bits[k], a_bits=16 if last else spec.a_bits[k],
            w_step=np.abs(np.asarray(p["sw"], np.float64)) + 1e-8,  # net.step, in numpy
            a_step=0.0 if last else float(np.abs(p["sa"]) + 1e-8),
        ))
    n_in, n_out = spec.sizes[0], spec.sizes[-1]
    return IntModel(
        stats.input_map,
        layers,
        list(names.get("input_names", [f"in{j}" for j in range(n_in)])),
        list(names.get("output_names", [f"out{i}" for i in range(n_out)])),
        list(names.get("output_units", [""] * n_out)),
        [float(v) for v in stats.out_lsb],
        {
            "y_mean": [float(v) for v in stats.y_mean],
            "y_std": [float(v) for v in stats.y_std],
            "input_units": list(names.get("input_units", ["counts"] * n_in)),
            "config": cfg.to_json() if hasattr(cfg, "to_json") else {},
        },
    )
