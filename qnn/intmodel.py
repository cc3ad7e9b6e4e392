"""The integer model: the bit-exact specification that the C, the JAX evaluation and this
numpy reference all implement.

Every value is an integer; the arithmetic is the one a Cortex-M0 does in int32.

Input map (uint16 ADC counts -> signed `in_bits` activations), for each input j::

    d_j  = x_j - zero_point_j                                  # int32, |d| <= 65535
    a0_j = clamp((d_j * m_j + rnd(s_j)) >> s_j, -2^(in_bits-1), 2^(in_bits-1) - 1)

Dense layer (weights W in [-2^(w_bits-1), 2^(w_bits-1) - 1], int32 bias b), per output i::

    acc_i = b_i + sum_j W_ij * a_j                             # int32 accumulator
    y_i   = clamp((acc_i * M_i + rnd(n_i)) >> n_i, lo, hi)     # dyadic requantization

Hidden layers clamp to [0, 2^a_bits - 1], which is ReLU and saturation in one step; the output
layer clamps to int16 and its outputs are in a fixed-point unit: value = y_i * lsb_i.

`rnd(n) = (1 << n) >> 1` (0 for n = 0), so `(v + rnd(n)) >> n` is floor(v / 2^n + 1/2):
round half up, with `>>` an arithmetic shift (GCC's documented behaviour for signed ints).
M_i * acc_i is a plain 32x32->32 multiply: the overflow analysis (`qnn.overflow`) proves that
it and every partial sum fit in int32 for all uint16 inputs, so no 64-bit product is needed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import QnnError
from common.fileio import atomic_write_json

FORMAT = "qnn-int-model"
VERSION = 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT16_MIN, INT16_MAX = -(2**15), 2**15 - 1


def rnd(shift: np.ndarray | int) -> np.ndarray:
    """Rounding constant for a right shift by `shift`: 2^(shift-1), or 0 when shift is 0."""
    return (np.int64(1) << np.asarray(shift, dtype=np.int64)) >> 1


@dataclass
class InputMap:
    zero_point: np.ndarray  # uint16 counts, [n_in]
    multiplier: np.ndarray  # int, [n_in]
    shift: np.ndarray  # int, [n_in]
    bits: int  # a0 is signed, in [-2^(bits-1), 2^(bits-1) - 1]
    step: np.ndarray = field(default_factory=lambda: np.zeros(0))  # counts per LSB (info)

    @property
    def lo(self) -> int:
        return -(2 ** (self.bits - 1))

    @property
    def hi(self) -> int:
        return 2 ** (self.bits - 1) - 1


@dataclass
class IntLayer:
    weights: np.ndarray  # int, [n_out, n_in]
    bias: np.ndarray  # int32, [n_out]
    multiplier: np.ndarray  # M_i >= 0, [n_out]
    shift: np.ndarray  # n_i in [0, 31], [n_out]
    lo: int
    hi: int
    w_bits: int
    a_bits: int  # output bits of this layer (16 for the output layer)
    w_step: np.ndarray = field(default_factory=lambda: np.zeros(0))  # learned, info only
    a_step: float = 0.0  # learned output step (hidden) or 0 for the output layer

    @property
    def n_in(self) -> int:
        return int(self.weights.shape[1])

    @property
    def n_out(self) -> int:
        return int(self.weights.shape[0])


@dataclass
class IntModel:
    input_map: InputMap
    layers: list[IntLayer]
    input_names: list[str]
    output_names: list[str]
    output_units: list[str]
    output_lsb: list[float]  # physical value of one output LSB, per output
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def n_out(self) -> int:
        return self.layers[-1].n_out

    @property
    def sizes(self) -> list[int]:
        return [self.n_in] + [layer.n_out for layer in self.layers]

    @property
    def n_macs(self) -> int:
        return sum(layer.n_in * layer.n_out for layer in self.layers)

    def to_physical(self, y_int: np.ndarray) -> np.ndarray:
        return np.asarray(y_int, dtype=np.float64) * np.asarray(self.output_lsb)

    # --- JSON ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        im = self.input_map
        return {
            "format": FORMAT,
            "version": VERSION,
            "sizes": self.sizes,
            "input_names": self.input_names,
            "output_names": self.output_names,
            "output_units": self.output_units,
            "output_lsb": [float(v) for v in self.output_lsb],
            "input_map": {
                "bits": im.bits,
                "zero_point": im.zero_point.tolist(),
                "multiplier": im.multiplier.tolist(),
                "shift": im.shift.tolist(),
                "step": np.asarray(im.step, dtype=float).tolist(),
            },
            "layers": [
                {
                    "w_bits": L.w_bits,
                    "a_bits": L.a_bits,
                    "clamp": [L.lo, L.hi],
                    "weights": L.weights.tolist(),
                    "bias": L.bias.tolist(),
                    "multiplier": L.multiplier.tolist(),
                    "shift": L.shift.tolist(),
                    "w_step": np.asarray(L.w_step, dtype=float).tolist(),
                    "a_step": float(L.a_step),
                }
                for L in self.layers
            ],
            "meta": self.meta,
        }

    def save(self, path: str | Path) -> None:
        atomic_write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> IntModel:
        path = Path(path)
        try:
            obj = json.loads(path.read_text())
        except FileNotFoundError:
            raise QnnError(f"{path}: no such file; train a model first (qnn train).") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise QnnError(f"{path}: not a readable JSON integer model ({e}).") from None
        return cls.from_json(obj, source=str(path))

    @classmethod
    def from_json(cls, obj: Any, source: str = "model") -> IntModel:
        try:
            return _from_json(obj)
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise QnnError(
                f"{source}: malformed integer model ({_describe(e)}); re-export it.") from None


def _describe(e: Exception) -> str:
    return f"missing field {e}" if isinstance(e, KeyError) else str(e)


def _int_array(values: Any, name: str, lo: int, hi: int, ndim: int) -> np.ndarray:
    a = np.asarray(values)
    if a.ndim != ndim or a.size == 0:
        raise ValueError(f"{name} must be a non-empty {ndim}-d array")
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must hold integers")
    a = a.astype(np.int64)
    if a.min() < lo or a.max() > hi:
        raise ValueError(f"{name} has values outside [{lo}, {hi}]")
    return a


def _bits(value: Any, name: str, lo: int, hi: int) -> int:
    if not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return value


def _from_json(obj: Any) -> IntModel:
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} file")
    if obj.get("version") != VERSION:
        raise ValueError(f"version {obj.get('version')!r}, this tool reads version {VERSION}")
    im = obj["input_map"]
    in_bits = _bits(im["bits"], "input_map.bits", 2, 16)
    input_map = InputMap(
        zero_point=_int_array(im["zero_point"], "input_map.zero_point", 0, 65535, 1),
        multiplier=_int_array(im["multiplier"], "input_map.multiplier", 0, INT32_MAX, 1),
        shift=_int_array(im["shift"], "input_map.shift", 0, 31, 1),
        bits=in_bits,
        step=np.asarray(im.get("step", []), dtype=float),
    )
    layers = []
    for k, L in enumerate(obj["layers"]):
        w_bits = _bits(L["w_bits"], f"layer {k} w_bits", 2, 8)
        a_bits = _bits(L["a_bits"], f"layer {k} a_bits", 2, 16)
        wmax = 2 ** (w_bits - 1)
        lo, hi = (int(v) for v in L["clamp"])
        if not INT16_MIN <= lo < hi <= INT16_MAX:
            raise ValueError(f"layer {k} clamp [{lo}, {hi}] is not inside int16")
        layer = IntLayer(
            weights=_int_array(L["weights"], f"layer {k} weights", -wmax, wmax - 1, 2),
            bias=_int_array(L["bias"], f"layer {k} bias", INT32_MIN, INT32_MAX, 1),
            multiplier=_int_array(L["multiplier"], f"layer {k} multiplier", 0, INT32_MAX, 1),
            shift=_int_array(L["shift"], f"layer {k} shift", 0, 31, 1),
            lo=lo,
            hi=hi,
            w_bits=w_bits,
            a_bits=a_bits,
            w_step=np.asarray(L.get("w_step", []), dtype=float),
            a_step=float(L.get("a_step", 0.0)),
        )
        n_out = layer.n_out
        for name in ("bias", "multiplier", "shift"):
            if getattr(layer, name).shape != (n_out,):
                raise ValueError(f"layer {k} {name} must have {n_out} entries")
        layers.append(layer)
    if not layers:
        raise ValueError("no layers")
    for k in range(1, len(layers)):
        if layers[k].n_in != layers[k - 1].n_out:
            raise ValueError(f"layer {k} takes {layers[k].n_in} inputs, layer {k-1} gives "
                             f"{layers[k - 1].n_out}")
    n_in, n_out = layers[0].n_in, layers[-1].n_out
    for name in ("zero_point", "multiplier", "shift"):
        if getattr(input_map, name).shape != (n_in,):
            raise ValueError(f"input_map.{name} must have {n_in} entries")
    names = [str(s) for s in obj["output_names"]]
    units = [str(s) for s in obj["output_units"]]
    lsb = [float(v) for v in obj["output_lsb"]]
    in_names = [str(s) for s in obj["input_names"]]
    if not (len(names) == len(units) == len(lsb) == n_out) or len(in_names) != n_in:
        raise ValueError("names/units/lsb do not match the layer sizes")
    return IntModel(input_map, layers, in_names, names, units, lsb, dict(obj.get("meta", {})))


# --- the numpy reference -----------------------------------------------------------------


def _check_int32(v: np.ndarray, what: str) -> np.ndarray:
    if v.size and (v.min() < INT32_MIN or v.max() > INT32_MAX):
        raise QnnError(f"int32 overflow in {what}: the model is not safe to export.")
    return v


def map_inputs(im: InputMap, x_u16: np.ndarray) -> np.ndarray:
    """uint16 counts [N, n_in] -> signed input activations a0 [N, n_in] (int64 holding int32)."""
    d = np.asarray(x_u16, dtype=np.int64) - im.zero_point
    prod = _check_int32(d * im.multiplier + rnd(im.shift), "input map")
    return np.clip(prod >> im.shift, im.lo, im.hi)


def dense_int(layer: IntLayer, a: np.ndarray, name: str = "layer") -> np.ndarray:
    """One integer dense layer, as the C does it: int32 accumulate, requantize, clamp."""
    acc = layer.bias[None, :].copy()
    for j in range(layer.n_in):  # the C's order, so every partial sum is checked
        acc = _check_int32(acc + a[:, j : j + 1] * layer.weights[None, :, j], f"{name} acc")
    prod = _check_int32(acc * layer.multiplier + rnd(layer.shift), f"{name} requant")
    return np.clip(prod >> layer.shift, layer.lo, layer.hi)


def predict_int(model: IntModel, x_u16: np.ndarray) -> np.ndarray:
    """The numpy integer reference: uint16 inputs [N, n_in] -> int16 outputs [N, n_out]."""
    x = np.asarray(x_u16)
    if x.ndim != 2 or x.shape[1] != model.n_in:
        raise QnnError(f"inputs have shape {x.shape}, the model takes [N, {model.n_in}].")
    if x.size and (x.min() < 0 or x.max() > 65535):
        raise QnnError("inputs must be uint16 ADC counts in [0, 65535].")
    a = map_inputs(model.input_map, x)
    for k, layer in enumerate(model.layers):
        a = dense_int(layer, a, f"layer {k}")
    return a.astype(np.int16)


def check_compatible(model: IntModel, ds: Any, need_y: bool = True) -> None:
    """A dataset's shape matches the model's (cheap: no JAX, so any command may call it)."""
    if ds.x.shape[1] != model.n_in:
        raise QnnError(f"the data has {ds.x.shape[1]} inputs, the model takes {model.n_in}.")
    if need_y and ds.y.shape[1] != model.n_out:
        raise QnnError(f"the data has {ds.y.shape[1]} outputs, the model gives {model.n_out}.")
