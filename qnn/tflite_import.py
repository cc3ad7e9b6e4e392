"""A TFLite int8 dense chain -> this project's integer model (see qnn/intmodel.py).

TFLite's arithmetic (qnn/tflite_ref.py) and this project's differ in three places, and the
import bridges each:

- Input. TFLite takes a float, `(counts - x_mean) / x_std` on the host, and quantizes it:
  q = round(x / s_in) + zp_in. Here the model takes the uint16 counts, and the input map does
  it all in integers: a0 = q = round((counts - Z) * m / 2^s) with Z = x_mean - zp_in x_std
  s_in (rounded to whole counts) and m / 2^s ~ 1 / (x_std s_in). The first layer's sum over
  (q - zp_in) becomes a sum over q with -zp_in sum_j W_ij folded into its bias.
- Hidden layers. TFLite keeps q with a zero point; here the activation is a = q - zp_out, so
  the next layer needs no offset, and the fused activation (or a separate RELU/RELU6 op with
  the same scale and zero point) is the clamp [act_min - zp_out, act_max - zp_out]. A RELU
  that also rescales rounds a second time in TFLite, so it becomes a layer of its own with
  identity weights. TFLite's requantization multiplies by a Q31 M0 in 64 bits; here M has at
  most `m_bits` bits and n is chosen (qnn.dyadic) so that acc * M stays in int32 for every
  input (the overflow proof checks it). The rounding is the same as TFLite's single-rounding
  kernels (round half up), so a hidden activation differs from TFLite's only where acc * r lies
  within M's relative error of a rounding boundary.
- Output. TFLite's int8 output is dequantized and de-standardized on the host: y = s_out (q -
  zp_out) y_std + y_mean. Here the output layer gives int16 in a fixed unit per output, y =
  out * lsb; by default lsb = s_out y_std, the .tflite's own output step, so the int16
  outputs are TFLite's outputs in the same step, off by at most one (y_mean / lsb is rarely
  a whole number, so the rounding happens at a shifted point). The layer has one clamp: the
  union of the outputs' TFLite ranges (int8 saturation, a fused ReLU), in their units.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import QnnError
from common.fileio import atomic_dir
from qnn.dyadic import choose_multiplier
from qnn.intmodel import INT16_MAX, INT16_MIN, InputMap, IntLayer, IntModel
from qnn.tflite_read import read_tflite
from qnn.tflite_ref import Dense, Plan, plan

# Bits of M. Fidelity to TFLite grows with them (on the QAT'd magnet model, outputs within
# 1 LSB of the .tflite's: 83% at 8 bits, 99.2% at 12, 99.6% at 14, 99.7% at 15).
DEFAULT_M_BITS = 14
SOURCE = "model.tflite"  # the imported file, kept in the run folder for `qnn eval`


@dataclass
class Standardization:
    """The host-side float pre/post-processing the .tflite was trained with."""

    x_mean: np.ndarray
    x_std: np.ndarray
    y_mean: np.ndarray
    y_std: np.ndarray

    def to_json(self) -> dict[str, list[float]]:
        return {k: [float(v) for v in getattr(self, k)]
                for k in ("x_mean", "x_std", "y_mean", "y_std")}


def _values(given: Any, n: int, default: float, flag: str, what: str,
            positive: bool = False) -> np.ndarray:
    if given is None:
        return np.full(n, default, np.float64)
    v = np.asarray(given, np.float64).ravel()
    if v.size != n:
        raise QnnError(f"{flag} gives {v.size} values; the model has {n} {what}: give {n}, "
                       "comma-separated.")
    if not np.all(np.isfinite(v)) or (positive and np.any(v <= 0)):
        raise QnnError(f"{flag} must be finite{' and positive' if positive else ''} numbers.")
    return v


def standardization(n_in: int, n_out: int, x_mean: Any = None, x_std: Any = None,
                    y_mean: Any = None, y_std: Any = None) -> Standardization:
    """Validated lists (identity where not given)."""
    return Standardization(
        _values(x_mean, n_in, 0.0, "--x-mean", "inputs"),
        _values(x_std, n_in, 1.0, "--x-std", "inputs", positive=True),
        _values(y_mean, n_out, 0.0, "--y-mean", "outputs"),
        _values(y_std, n_out, 1.0, "--y-std", "outputs", positive=True))


def _real(m0: Any, shift: Any) -> np.ndarray:
    """TFLite's multiplier as the exact real it stands for: M0 2^(shift - 31)."""
    return np.asarray(m0, np.float64) * np.exp2(np.asarray(shift, np.float64) - 31)


@dataclass
class _Stage:
    """One layer of the integer model in TFLite's terms: acc = bias + sum_j W a_j, then
    a_out = clamp(MultiplyByQuantizedMultiplier(acc, M0, shift), lo, hi), a_out = q - out_zp
    of its output tensor."""

    op: int  # the TFLite op it comes from
    weights: np.ndarray
    bias: np.ndarray
    m0: np.ndarray  # TFLite's multiplier per channel
    shift: np.ndarray
    lo: int
    hi: int
    in_scale: float
    in_zp: int
    out_scale: float
    out_zp: int
    w_scale: np.ndarray
    w_bits: int = 8
    per_channel: bool = False


def _stages(p: Plan, notes: list[str]) -> list[_Stage]:
    """Dense ops become layers; a RELU/RELU6 with the same scale and zero point in and out is
    a clamp, folded into its layer's clamp; one that rescales rounds a second time in TFLite,
    so it stays a layer of its own (identity weights), which keeps the import exact."""
    out: list[_Stage] = []
    for s in p.steps:
        if out and (s.in_scale, s.in_zp) != (out[-1].out_scale, out[-1].out_zp):
            raise QnnError(f"op {s.op}: its input's quantization differs from the previous "
                           "op's output; the chain is inconsistent.")
        if isinstance(s, Dense):
            out.append(_Stage(s.op, s.weights, s.bias, s.m0, s.shift, s.act_min - s.out_zp,
                              s.act_max - s.out_zp, s.in_scale, s.in_zp, s.out_scale, s.out_zp,
                              s.w_scale, 8, s.per_channel))
        elif s.identity:
            prev = out[-1]
            prev.lo = max(prev.lo, s.act_min - s.out_zp)
            prev.hi = min(prev.hi, s.act_max - s.out_zp)
        else:
            n = out[-1].weights.shape[0]
            notes.append(f"op {s.op} {s.name} rescales by {float(_real(s.m0, s.shift)):.6g}; "
                         f"TFLite rounds twice there, so it stays a layer of its own ({n}x{n} "
                         "identity weights)")
            out.append(_Stage(s.op, np.eye(n, dtype=np.int64), np.zeros(n, np.int64),
                              np.full(n, s.m0, np.int64), np.full(n, s.shift, np.int64),
                              s.act_min - s.out_zp, s.act_max - s.out_zp, s.in_scale, s.in_zp,
                              s.out_scale, s.out_zp, np.ones(n), 2))
        if out[-1].lo >= out[-1].hi:
            raise QnnError(f"op {s.op}: the activations are clamped to a single value; nothing "
                           "to import.")
    return out


def _acc_bound(w: np.ndarray, b: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Worst |acc| per channel over inputs in [lo, hi] (as qnn.overflow bounds it)."""
    t1, t2 = w * lo, w * hi
    a_lo = b + np.minimum(t1, t2).sum(axis=1)
    a_hi = b + np.maximum(t1, t2).sum(axis=1)
    return np.maximum.reduce([np.abs(a_lo), np.abs(a_hi), np.abs(b)])


def input_map(p: Plan, st: Standardization, m_bits: int) -> InputMap:
    """counts -> q, the int8 value TFLite's QUANTIZE gives for (counts - x_mean) / x_std:
    q = round((counts - Z) / k) with k = x_std s_in counts per LSB and Z = x_mean - zp_in k,
    in whole counts (the half-count this rounds off moves q by at most 0.5 / k LSB)."""
    k = st.x_std * np.float64(p.in_scale)
    z = np.floor(st.x_mean - p.in_zp * k + 0.5)
    for j, v in enumerate(z):
        if not 0 <= v <= 65535:
            raise QnnError(f"input {j}: the .tflite's int8 range centres at {v:.0f} counts, "
                           "outside 0..65535; check --x-mean/--x-std (the float input must be "
                           "(counts - mean) / std).")
    zp = z.astype(np.int64)
    m, s = choose_multiplier(1.0 / k, np.maximum(zp, 65535 - zp), 2**m_bits - 1)
    return InputMap(zp, m, s, 8, step=np.exp2(s) / np.maximum(m, 1))


def int_model_from_plan(p: Plan, st: Standardization, out_lsb: Any = None,
                        m_bits: int = DEFAULT_M_BITS, source: str = "") -> IntModel:
    if not 4 <= m_bits <= 15:
        raise QnnError(f"--m-bits {m_bits} outside 4..15.")
    notes: list[str] = []
    stages = _stages(p, notes)
    n_in, n_out = stages[0].weights.shape[1], stages[-1].weights.shape[0]
    im = input_map(p, st, m_bits)
    layers: list[IntLayer] = []
    prev = (im.lo, im.hi)
    step = lsb = np.zeros(n_out)
    for k, sg in enumerate(stages):
        last = k == len(stages) - 1
        w, lo, hi = sg.weights, sg.lo, sg.hi
        # layer 0 sees q itself (the input map's a0), later layers q - zp: fold the offset
        b = sg.bias - (sg.in_zp * w.sum(axis=1) if k == 0 else 0)
        r = _real(sg.m0, sg.shift)
        if last:
            step = np.float64(sg.out_scale) * st.y_std  # the .tflite's output step
            lsb = step if out_lsb is None else _values(out_lsb, n_out, 1.0, "--out-lsb",
                                                        "outputs", positive=True)
            r = r * step / lsb  # acc -> output LSBs
            c = st.y_mean / lsb  # the de-standardizing offset, in LSBs, folded into the bias
            b = b + np.floor(c / r + 0.5).astype(np.int64)
            lo_i = np.floor(lo * step / lsb + c + 0.5)
            hi_i = np.floor(hi * step / lsb + c + 0.5)
            bad = np.flatnonzero((lo_i < INT16_MIN) | (hi_i > INT16_MAX))
            if bad.size:
                i = int(bad[0])
                span = max(abs(lo * step[i] + st.y_mean[i]), abs(hi * step[i] + st.y_mean[i]))
                raise QnnError(f"output {i}: the .tflite's output range reaches {span:.6g}, "
                               f"more than int16 holds at {lsb[i]:.6g} per LSB; give a coarser "
                               f"--out-lsb (>= {span / INT16_MAX:.3g}).")
            # one clamp per layer: the union of the outputs' ranges, so none is cut short
            lo, hi = int(lo_i.min()), int(hi_i.max())
        m, n = choose_multiplier(r, _acc_bound(w, b, *prev), 2**m_bits - 1)
        layers.append(IntLayer(
            weights=w.copy(), bias=b.astype(np.int64), multiplier=m, shift=n,
            lo=lo, hi=hi, w_bits=sg.w_bits, a_bits=16 if last else 8,
            w_step=np.asarray(sg.w_scale, np.float64),
            a_step=0.0 if last else float(sg.out_scale)))
        prev = (lo, hi)
    meta = {
        "source": source or "imported .tflite",
        "y_mean": [float(v) for v in st.y_mean],
        "y_std": [float(v) for v in st.y_std],
        "input_units": ["counts"] * n_in,
        "tflite": {
            **st.to_json(),
            "ops": p.ops,
            "input": "float32" if p.in_float else "int8",
            "output": "float32" if p.out_float else "int8",
            "per_channel": [sg.per_channel for sg in stages],
            "m_bits": m_bits,
            "output_step": [float(v) for v in step],
            "notes": notes,
        },
    }
    return IntModel(im, layers, [f"in{j}" for j in range(n_in)],
                    [f"out{i}" for i in range(n_out)], [""] * n_out,
                    [float(v) for v in lsb], meta)


def prove(model: IntModel, path: str | Path, m_bits: int) -> Any:
    """The overflow proof (qnn.overflow) of an imported model; QnnError when it fails."""
    from qnn.overflow import analyze

    report = analyze(model)
    failure = report.first_failure()
    if failure:
        raise QnnError(f"{path}: cannot be made overflow-free in int32 at --m-bits {m_bits}: "
                       f"{failure}; its accumulator range is too wide for a 32-bit product "
                       "even at n = 0.")
    return report


def import_tflite(path: str | Path, out: str | Path, *, x_mean: Any = None, x_std: Any = None,
                  y_mean: Any = None, y_std: Any = None, out_lsb: Any = None,
                  m_bits: int = DEFAULT_M_BITS) -> dict[str, Any]:
    """Read, check, convert and prove `path`, then write the run folder `out` whole (or
    nothing, on any error): int_model.json, config.json, metrics.json and model.tflite."""
    from qnn.run import CONFIG, INT_MODEL, METRICS

    path = Path(path)
    g = read_tflite(path)
    p = plan(g)
    st = standardization(p.dense[0].weights.shape[1], p.dense[-1].weights.shape[0],
                         x_mean, x_std, y_mean, y_std)
    model = int_model_from_plan(p, st, out_lsb, m_bits, source=f"{path.name} (imported .tflite)")
    report = prove(model, path, m_bits)
    info = {"file": str(path), "sha256": g.sha256, "ops": p.ops, "m_bits": m_bits,
            "standardization": st.to_json(),
            "out_lsb": [float(v) for v in model.output_lsb]}
    with atomic_dir(out) as tmp:
        model.save(tmp / INT_MODEL)
        (tmp / CONFIG).write_text(json.dumps({"import": info, "sizes": model.sizes},
                                             indent=1) + "\n")
        (tmp / METRICS).write_text("{}\n")  # no training: no losses to show
        shutil.copyfile(path, tmp / SOURCE)
    return {"ok": True, "run": str(out), "sizes": model.sizes, "macs": model.n_macs,
            **{k: v for k, v in info.items() if k != "standardization"},
            "input": model.meta["tflite"]["input"], "output": model.meta["tflite"]["output"],
            "per_channel": model.meta["tflite"]["per_channel"],
            "multiplier_bits": [int(L.multiplier.max()).bit_length() for L in model.layers],
            "headroom_bits": [round(s.headroom_bits, 2) for s in report.stages],
            "notes": model.meta["tflite"]["notes"]}
