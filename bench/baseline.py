"""A baseline for the benchmark: the same network written the way TensorFlow Lite Micro's
int8 reference kernels do it (FullyConnected + MultiplyByQuantizedMultiplier).

int8 activations with zero points, int8 weights (one byte each, whatever their bit width),
int32 bias, a Q31 multiplier and shift per output channel, and the requantization through
SaturatingRoundingDoublingHighMul (a 64-bit product: `(int64_t)a * b`, which links libgcc's
`__aeabi_lmul` on a Cortex-M0) and RoundingDivideByPOT. It is not bit-exact with our integer
model (different rounding and zero points); it does the same work per layer (same shapes),
which is what the benchmark compares. Same interface as the generated code (`qnn_predict`),
so it builds with the same firmware and runs on the same emulator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from codegen.cgen import HEADER, generate_c
from codegen.ctext import c_array
from common.fileio import atomic_write_text
from qnn.intmodel import IntModel

_KERNELS = r"""
/* --- TFLM reference: tensorflow/lite/kernels/internal/common.h ------------------------- */
static int32_t SaturatingRoundingDoublingHighMul(int32_t a, int32_t b)
{
    int overflow = a == b && a == INT32_MIN;
    int64_t a_64 = a;
    int64_t b_64 = b;
    int64_t ab_64 = a_64 * b_64;
    int32_t nudge = ab_64 >= 0 ? (1 << 30) : (1 - (1 << 30));
    int32_t ab_x2_high32 = (int32_t)((ab_64 + nudge) / (1ll << 31));
    return overflow ? INT32_MAX : ab_x2_high32;
}

static int32_t RoundingDivideByPOT(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)((1ll << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + ((x < 0) ? 1 : 0);
    return (x >> exponent) + ((remainder > threshold) ? 1 : 0);
}

static int32_t MultiplyByQuantizedMultiplier(int32_t x, int32_t quantized_multiplier,
                                             int shift)
{
    int left_shift = shift > 0 ? shift : 0;
    int right_shift = shift > 0 ? 0 : -shift;
    return RoundingDivideByPOT(
        SaturatingRoundingDoublingHighMul(x * (1 << left_shift), quantized_multiplier),
        right_shift);
}

/* --- TFLM reference: integer_ops/fully_connected.h (per-channel) ------------------------ */
static void FullyConnectedPerChannel(int32_t input_offset, const int32_t *output_multiplier,
                                     const int32_t *output_shift, int32_t output_offset,
                                     int32_t output_activation_min,
                                     int32_t output_activation_max, const int8_t *input_data,
                                     const int8_t *filter_data, const int32_t *bias_data,
                                     int8_t *output_data, int output_depth, int accum_depth)
{
    for (int out_c = 0; out_c < output_depth; ++out_c) {
        int32_t acc = 0;
        for (int d = 0; d < accum_depth; ++d) {
            int32_t input_val = input_data[d];
            int32_t filter_val = filter_data[out_c * accum_depth + d];
            acc += filter_val * (input_val + input_offset);
        }
        if (bias_data) {
            acc += bias_data[out_c];
        }
        acc = MultiplyByQuantizedMultiplier(acc, output_multiplier[out_c], output_shift[out_c]);
        acc += output_offset;
        acc = acc > output_activation_max ? output_activation_max : acc;
        acc = acc < output_activation_min ? output_activation_min : acc;
        output_data[out_c] = (int8_t)acc;
    }
}
"""


def _q31(model: IntModel, k: int) -> tuple[list[int], list[int]]:
    """Q31 multiplier and TFLM shift (negative = right) from our dyadic M * 2^-n."""
    L = model.layers[k]
    mults, shifts = [], []
    for m, n in zip(L.multiplier, L.shift, strict=True):
        real = max(int(m), 1) / 2.0 ** int(n)
        mant, exp = np.frexp(real)  # real = mant * 2^exp, mant in [0.5, 1)
        q = min(int(round(mant * 2**31)), 2**31 - 1)
        mults.append(q)
        shifts.append(int(exp))
    return mults, shifts


def baseline_source(model: IntModel) -> str:
    out = ["/* TFLite-Micro-style int8 reference implementation of the network, for the\n"
           " * benchmark only (bench/bench_m0.py). See bench/baseline.py. */\n",
           '#include "qnn_model.h"\n', _KERNELS]
    for k, L in enumerate(model.layers):
        W = np.clip(L.weights, -128, 127)
        mults, shifts = _q31(model, k)
        bias = np.clip(L.bias // 16, -(2**31), 2**31 - 1)
        out.append(c_array(f"fc{k}_weights", "int8_t", W.ravel()))
        out.append(c_array(f"fc{k}_bias", "int32_t", bias, per_line=8))
        out.append(c_array(f"fc{k}_mult", "int32_t", mults, per_line=6))
        out.append(c_array(f"fc{k}_shift", "int32_t", shifts))
    width = max(model.sizes)
    out.append("void qnn_predict(const uint16_t in[QNN_N_IN], int16_t out[QNN_N_OUT])\n{")
    out.append(f"    int8_t a[{width}], b[{width}];")
    out.append("    for (int j = 0; j < QNN_N_IN; j++) a[j] = (int8_t)((in[j] >> 8) - 128);")
    src, dst = "a", "b"
    for k, L in enumerate(model.layers):
        out.append(f"    FullyConnectedPerChannel({0 if k == 0 else 128}, fc{k}_mult, fc{k}_shift, "
                   f"-128, -128, 127, {src}, fc{k}_weights, fc{k}_bias, {dst}, {L.n_out}, "
                   f"{L.n_in});")
        src, dst = dst, src
    out.append(f"    for (int i = 0; i < QNN_N_OUT; i++) out[i] = (int16_t)({src}[i] * 256);")
    out.append("}\n")
    return "\n".join(out)


def write_baseline(model: IntModel, out_dir: str | Path) -> None:
    out_dir = Path(out_dir)
    atomic_write_text(out_dir / "qnn_model.h", generate_c(model)[HEADER])
    atomic_write_text(out_dir / "qnn_model.c", baseline_source(model))
