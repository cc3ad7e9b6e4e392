"""TFLite's int8 arithmetic in numpy: the reference the importer is measured against.

A .tflite the importer takes is a chain (`plan`): an optional QUANTIZE (float32 -> int8), then
FULLY_CONNECTED ops, each with a fused activation (NONE, RELU, RELU6, RELU_N1_TO_1) and
optionally followed by RELU / RELU6 ops and no-op RESHAPEs, then an optional DEQUANTIZE.
Everything else is refused with the op's name and index. The arithmetic follows TFLite's
documented quantization spec and its reference kernels:

- activations are int8 with a zero point, real = scale * (q - zero_point); weights are
  symmetric int8 (zero point 0), per tensor or per output channel; bias is int32 with scale
  in_scale * w_scale and zero point 0;
- FULLY_CONNECTED: acc = bias + sum_j W_ij (q_j - zp_in) in int32, then
  q_out = clamp(zp_out + MultiplyByQuantizedMultiplier(acc, M0, shift), act_min, act_max),
  where the real rescale in_scale * w_scale / out_scale becomes M0 * 2^(shift - 31) with M0 a
  Q31 number in [2^30, 2^31) (QuantizeMultiplier), and MultiplyByQuantizedMultiplier rounds
  the 64-bit product acc * M0 once, half up (LiteRT's build), or twice (TensorFlow's tf.lite
  reference kernels): see qnn/tflite_fixed.py;
- RELU / RELU6 requantize q - zp_in by in_scale / out_scale the same way, then clamp;
- QUANTIZE rounds x / scale half away from zero, DEQUANTIZE is scale * (q - zp) in float32.

tests/test_tflite.py checks this against the LiteRT interpreter (and TensorFlow's reference
kernels with double rounding), bit for bit, on the fixtures in tests/fixtures/tflite/.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.errors import QnnError
from qnn.tflite_fixed import ROUNDINGS, mbqm, quantize_multiplier, round_half_away
from qnn.tflite_read import Graph, Op, Tensor

SUPPORTED = ("FULLY_CONNECTED (fused NONE/RELU/RELU6), RELU, RELU6, a no-op RESHAPE, and "
             "QUANTIZE/DEQUANTIZE at the ends")
_CLAMPS = {"NONE": (None, None), "RELU": (0.0, None), "RELU6": (0.0, 6.0),
           "RELU_N1_TO_1": (-1.0, 1.0)}


# --- the plan: the chain of supported ops with TFLite's integer parameters -----------------


@dataclass
class Dense:
    op: int  # the FULLY_CONNECTED's op index
    weights: np.ndarray  # int8 values [n_out, n_in]
    bias: np.ndarray  # int32 values [n_out]
    in_scale: float
    in_zp: int
    w_scale: np.ndarray  # float32 [n_out] (per-tensor: repeated)
    out_scale: float
    out_zp: int
    m0: np.ndarray  # TFLite's Q31 multiplier per output channel
    shift: np.ndarray
    act_min: int
    act_max: int
    activation: str
    per_channel: bool


@dataclass
class Relu:
    op: int
    name: str  # RELU / RELU6
    in_scale: float
    in_zp: int
    out_scale: float
    out_zp: int
    m0: int
    shift: int
    act_min: int
    act_max: int

    @property
    def identity(self) -> bool:
        """Same scale and zero point in and out: the op is a clamp and nothing else."""
        return self.in_scale == self.out_scale and self.in_zp == self.out_zp


@dataclass
class Plan:
    in_float: bool  # float32 input through a QUANTIZE op (else the host feeds int8)
    in_scale: float
    in_zp: int
    out_float: bool  # float32 output through a DEQUANTIZE op
    out_scale: float
    out_zp: int
    steps: list[Dense | Relu]
    ops: list[str]  # every op's name, in order (for the record)

    @property
    def dense(self) -> list[Dense]:
        return [s for s in self.steps if isinstance(s, Dense)]


def _refuse(g: Graph, op: Op, why: str) -> QnnError:
    return QnnError(f"{g.path}: op {op.index} {op.name}: {why}")


def _scalar_q(t: Tensor) -> tuple[float, int]:
    return float(t.scale[0]), int(t.zero_point[0])


def _activation_range(activation: str, scale: float, zp: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: quantize(f) = zp + round(f / scale) in float."""
    lo_f, hi_f = _CLAMPS[activation]

    def q(f: float) -> int:
        return zp + int(round_half_away(np.float32(f) / np.float32(scale)))

    lo = -128 if lo_f is None else max(-128, q(lo_f))
    hi = 127 if hi_f is None else min(127, q(hi_f))
    return lo, hi


def _check_int8_activation(g: Graph, op: Op, t: Tensor, what: str) -> None:
    if t.dtype == "int16":
        raise _refuse(g, op, f"its {what} is int16 (16x8 quantization); convert with int8 "
                      "activations (full-integer int8 quantization).")
    if t.dtype != "int8":
        raise _refuse(g, op, f"its {what} is {t.dtype}; the import takes int8 activations "
                      "(full-integer quantization).")
    if t.scale.size != 1:
        raise _refuse(g, op, f"its {what} has {t.scale.size} scales; activations must be "
                      "quantized per tensor.")


def _dense(g: Graph, op: Op) -> Dense:
    T = g.tensors
    if len(op.inputs) < 2:
        raise _refuse(g, op, "needs an input and weights.")
    x, w = T[op.inputs[0]], T[op.inputs[1]]
    b = T[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
    y = T[op.outputs[0]]
    if x.dtype == "float32":
        why = ("float inputs with int8 weights (dynamic-range quantization)"
               if w.dtype == "int8" else "a float layer (the model is not quantized)")
        raise _refuse(g, op, f"{why}; convert with full-integer int8 quantization (a "
                      "representative dataset or quantization-aware training).")
    _check_int8_activation(g, op, x, "input")
    _check_int8_activation(g, op, y, "output")
    if w.dtype != "int8" or w.data is None or w.data.ndim != 2:
        raise _refuse(g, op, f"weights {w.describe()} are not a constant int8 matrix.")
    n_out, n_in = w.data.shape
    if int(np.prod(x.shape)) != n_in or int(np.prod(y.shape)) != n_out:
        raise _refuse(g, op, f"shapes {list(x.shape)} x {list(w.shape)} -> {list(y.shape)} "
                      "are not one row (batch 1) through a dense layer.")
    if np.any(w.zero_point != 0) or w.scale.size not in (1, n_out) or (
            w.scale.size == n_out > 1 and w.axis != 0):
        raise _refuse(g, op, "weights are not symmetric int8 per tensor or per output channel.")
    if op.options.get("weights_format", 0) != 0:
        raise _refuse(g, op, "shuffled weights are not supported; convert with the default "
                      "weights format.")
    act = op.options.get("activation", "NONE")
    if act not in _CLAMPS:
        raise _refuse(g, op, f"fused activation {act} is not supported (NONE, RELU, RELU6).")
    if b is None:
        bias = np.zeros(n_out, np.int64)
    elif b.dtype != "int32" or b.data is None or b.data.size != n_out:
        raise _refuse(g, op, f"bias {b.describe()} is not a constant int32 vector of {n_out}.")
    else:
        bias = b.data.astype(np.int64).reshape(n_out)
    s_in, zp_in = _scalar_q(x)
    s_out, zp_out = _scalar_q(y)
    per_channel = w.scale.size > 1
    w_scale = np.broadcast_to(w.scale, (n_out,)).astype(np.float32)
    if per_channel:  # fully_connected.cc: a double product per channel
        reals = [float(s_in) * float(s) / float(s_out) for s in w_scale]
    else:  # GetQuantizedConvolutionMultipler: the float product, then a double division
        reals = [float(np.float32(s_in) * np.float32(w_scale[0])) / float(s_out)] * n_out
    m0, shift = zip(*(quantize_multiplier(r) for r in reals), strict=True)
    lo, hi = _activation_range(act, s_out, zp_out)
    return Dense(op.index, w.data.astype(np.int64), bias, s_in, zp_in, w_scale, s_out, zp_out,
                 np.array(m0, np.int64), np.array(shift, np.int64), lo, hi, act, per_channel)


def _relu(g: Graph, op: Op) -> Relu:
    x, y = g.tensors[op.inputs[0]], g.tensors[op.outputs[0]]
    _check_int8_activation(g, op, x, "input")
    _check_int8_activation(g, op, y, "output")
    s_in, zp_in = _scalar_q(x)
    s_out, zp_out = _scalar_q(y)
    m0, shift = quantize_multiplier(float(np.float32(s_in) / np.float32(s_out)))
    lo = max(-128, zp_out + int(round_half_away(np.float32(0.0))))
    hi = 127 if op.name == "RELU" else min(
        127, zp_out + int(round_half_away(np.float32(6.0) / np.float32(s_out))))
    return Relu(op.index, op.name, s_in, zp_in, s_out, zp_out, m0, shift, lo, hi)


def _squeezed(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)


def plan(g: Graph) -> Plan:
    """Check that `g` is a chain the import takes and collect TFLite's integer parameters;
    QnnError naming the first op that is not."""
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise QnnError(f"{g.path}: {len(g.inputs)} inputs and {len(g.outputs)} outputs; the "
                       "import takes one input tensor and one output tensor.")
    if not g.ops:
        raise QnnError(f"{g.path}: the graph has no ops.")
    T = g.tensors
    cur = g.inputs[0]
    in_t = T[cur]
    steps: list[Dense | Relu] = []
    in_float = out_float = False
    for k, op in enumerate(g.ops):
        if not op.inputs or op.inputs[0] != cur or len(op.outputs) != 1:
            raise _refuse(g, op, "does not continue the chain from the previous op; the import "
                          "takes a plain chain of layers.")
        if op.name == "QUANTIZE":
            if k != 0 or T[cur].dtype != "float32":
                raise _refuse(g, op, "a requantization inside the graph is not supported; "
                              "QUANTIZE may only turn the float input into int8.")
            _check_int8_activation(g, op, T[op.outputs[0]], "output")
            in_float, in_t = True, T[op.outputs[0]]
        elif op.name == "DEQUANTIZE":
            if k != len(g.ops) - 1 or T[op.outputs[0]].dtype != "float32":
                raise _refuse(g, op, "DEQUANTIZE may only turn the int8 output into float.")
            _check_int8_activation(g, op, T[cur], "input")
            out_float = True
        elif op.name == "FULLY_CONNECTED":
            steps.append(_dense(g, op))
        elif op.name in ("RELU", "RELU6"):
            if not steps:
                raise _refuse(g, op, "must follow a FULLY_CONNECTED.")
            steps.append(_relu(g, op))
        elif op.name == "RESHAPE":
            a, b = T[cur], T[op.outputs[0]]
            if _squeezed(a.shape) != _squeezed(b.shape) or a.dtype != b.dtype or not (
                    np.array_equal(a.scale, b.scale)
                    and np.array_equal(a.zero_point, b.zero_point)):
                raise _refuse(g, op, f"is not a no-op ({list(a.shape)} -> {list(b.shape)}); "
                              "the import takes a chain of dense layers.")
        else:
            raise _refuse(g, op, f"is not supported; the import takes {SUPPORTED}.")
        cur = op.outputs[0]
    if cur != g.outputs[0]:
        raise QnnError(f"{g.path}: the chain of ops does not end at the graph's output.")
    if not steps:
        raise QnnError(f"{g.path}: no FULLY_CONNECTED op; nothing to import.")
    if not in_float:
        _check_int8_activation(g, g.ops[0], in_t, "input")
    out_t = T[g.ops[-2].outputs[0]] if out_float else T[cur]
    s_in, zp_in = _scalar_q(in_t)
    s_out, zp_out = _scalar_q(out_t)
    return Plan(in_float, s_in, zp_in, out_float, s_out, zp_out, steps,
                [op.name for op in g.ops])


# --- running it ---------------------------------------------------------------------------


def quantize_input(p: Plan, x_float: np.ndarray) -> np.ndarray:
    """QUANTIZE (or the host's quantization of an int8-input model): float32 -> int8."""
    v = np.asarray(x_float, np.float32) / np.float32(p.in_scale)
    return np.clip(round_half_away(v).astype(np.int64) + p.in_zp, -128, 127)


def dequantize_output(p: Plan, q: np.ndarray) -> np.ndarray:
    return (np.float64(p.out_scale) * (np.asarray(q, np.int64) - p.out_zp)).astype(np.float32)


def dense_ref(d: Dense, q: np.ndarray, rounding: str = "single") -> np.ndarray:
    acc = (np.asarray(q, np.int64) - d.in_zp) @ d.weights.T + d.bias
    return np.clip(d.out_zp + mbqm(acc, d.m0, d.shift, rounding), d.act_min, d.act_max)


def relu_ref(r: Relu, q: np.ndarray, rounding: str = "single") -> np.ndarray:
    v = r.out_zp + mbqm(np.asarray(q, np.int64) - r.in_zp, r.m0, r.shift, rounding)
    return np.clip(v, r.act_min, r.act_max)


def run_int8(p: Plan, q_in: np.ndarray, rounding: str = "single") -> np.ndarray:
    """int8 input rows [N, n_in] -> int8 output rows [N, n_out] (as int64)."""
    if rounding not in ROUNDINGS:
        raise QnnError(f"rounding {rounding!r}: choose one of {', '.join(ROUNDINGS)}.")
    q = np.asarray(q_in, np.int64)
    for s in p.steps:
        q = dense_ref(s, q, rounding) if isinstance(s, Dense) else relu_ref(s, q, rounding)
    return q


def run_reference(p: Plan, x: np.ndarray, rounding: str = "single") -> np.ndarray:
    """The model's own input -> its own output, as the interpreter gives them: float32 in and
    out for a float-I/O model, int8 for an int8 one. `rounding` (see `mbqm`): "single" is
    LiteRT's interpreter and TensorFlow's default kernels, "double" TensorFlow 2.19's
    reference kernels (a build without TFLITE_SINGLE_ROUNDING)."""
    q = quantize_input(p, x) if p.in_float else np.asarray(x, np.int64)
    out = run_int8(p, q, rounding)
    return dequantize_output(p, out) if p.out_float else out.astype(np.int8)
