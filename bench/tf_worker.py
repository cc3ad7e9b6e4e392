"""The TensorFlow side of `bench/compare_tf.py`; runs inside `.venv-tf`, never in the product's
environment (it imports only numpy, TensorFlow, tfmot and LiteRT).

    .venv-tf/bin/python bench/tf_worker.py IN.npz OUT.npz

IN.npz holds x_train, y_train, x_val, y_val, x_test (float arrays; x are the uint16 counts),
hidden, seed, epochs_float, epochs_qat, batch_size, lr. The recipe is what a Keras user does:
standardise inputs and outputs with the training set's mean and std, train the float network
(Adam, MSE), quantization-aware training with `tfmot.quantization.keras.quantize_model`, then
full-integer conversion (int8 weights, activations, input and output) with a representative
dataset, run by LiteRT's interpreter; the host scales inputs and outputs in float.

OUT.npz gets pred_float and pred_int8 (test predictions in the outputs' units) and the wall
times: seconds_import, seconds_float, seconds_qat, seconds_convert, seconds_total (from the
process start, imports included).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

T_START = time.perf_counter()
os.environ["TF_USE_LEGACY_KERAS"] = "1"  # tfmot 0.8 takes only Keras-2 (tf_keras) models
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_math import destandardize, standardize, standardizer  # noqa: E402

T_IMPORTED = time.perf_counter()


def build(n_in: int, hidden: list[int], n_out: int) -> tf.keras.Model:
    layers = [tf.keras.Input((n_in,))]
    layers += [tf.keras.layers.Dense(h, activation="relu") for h in hidden]
    layers += [tf.keras.layers.Dense(n_out)]
    return tf.keras.Sequential(layers)


def fit(model, x, y, xv, yv, epochs: int, batch: int, lr: float) -> None:
    model.compile(optimizer=tf.keras.optimizers.Adam(lr), loss="mse")
    model.fit(x, y, validation_data=(xv, yv), epochs=epochs, batch_size=batch, verbose=0)


def to_tflite(model, x_rep: np.ndarray) -> bytes:
    """Full-integer conversion: int8 everywhere, int8 input and output tensors."""
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([x_rep[i : i + 1]] for i in range(len(x_rep)))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def run_tflite(flat: bytes, x: np.ndarray) -> np.ndarray:
    """Quantize the (standardised) inputs to int8 on the host, invoke, dequantize."""
    interp = Interpreter(model_content=flat)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.resize_tensor_input(inp["index"], list(x.shape))
    interp.allocate_tensors()
    s_in, z_in = inp["quantization"]
    q = np.clip(np.round(x / s_in + z_in), -128, 127).astype(np.int8)
    interp.set_tensor(inp["index"], q)
    interp.invoke()
    s_out, z_out = out["quantization"]
    return (interp.get_tensor(out["index"]).astype(np.float64) - z_out) * s_out


def main(src: str, dst: str) -> None:
    d = np.load(src)
    seed = int(d["seed"])
    tf.keras.utils.set_random_seed(seed)
    x_mean, x_std = standardizer(d["x_train"])
    y_mean, y_std = standardizer(d["y_train"])
    x, xv, xt = (standardize(d[k], x_mean, x_std) for k in ("x_train", "x_val", "x_test"))
    y, yv = (standardize(d[k], y_mean, y_std) for k in ("y_train", "y_val"))
    batch, lr = int(d["batch_size"]), float(d["lr"])
    model = build(x.shape[1], [int(h) for h in d["hidden"]], y.shape[1])
    t0 = time.perf_counter()
    fit(model, x, y, xv, yv, int(d["epochs_float"]), batch, lr)
    pred_float = destandardize(model.predict(xt, batch_size=4096, verbose=0), y_mean, y_std)
    t1 = time.perf_counter()
    qat = tfmot.quantization.keras.quantize_model(model)
    fit(qat, x, y, xv, yv, int(d["epochs_qat"]), batch, lr / 10)
    t2 = time.perf_counter()
    flat = to_tflite(qat, x[:1000])
    pred_int8 = destandardize(run_tflite(flat, xt), y_mean, y_std)
    t3 = time.perf_counter()
    np.savez(dst, pred_float=pred_float, pred_int8=pred_int8, tflite_bytes=len(flat),
             seconds_import=T_IMPORTED - T_START, seconds_float=t1 - t0, seconds_qat=t2 - t1,
             seconds_convert=t3 - t2, seconds_total=t3 - T_START)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
