"""Read a TensorFlow Lite flatbuffer into plain Python objects (tensors, ops, constants).

The schema is parsed by the `tflite` package (generated from TFLite's schema.fbs with
`flatbuffers`); this module only copies what the importer and the numpy reference need out of
it, once, so that a truncated or corrupt file fails here, in one place, with one line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import QnnError

# TensorType -> numpy dtype (the types a quantized dense net can hold)
_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16,
           9: np.int8, 10: np.float64, 16: np.uint16, 15: np.uint32}
_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


@dataclass
class Tensor:
    index: int
    name: str
    dtype: str  # "int8", "float32", ... ("type N" for types this reader does not know)
    shape: tuple[int, ...]
    scale: np.ndarray  # float32, [] when not quantized, [1] per tensor, [C] per channel
    zero_point: np.ndarray  # int64, like scale
    axis: int  # quantized dimension (per-channel)
    data: np.ndarray | None = None  # the constant's values, shaped; None for activations

    @property
    def quantized(self) -> bool:
        return self.scale.size > 0

    def describe(self) -> str:
        q = f", scale {self.scale[0]:.6g} zero point {int(self.zero_point[0])}" \
            if self.scale.size == 1 else (f", {self.scale.size} scales" if self.quantized else "")
        return f"tensor {self.index} '{self.name}' {self.dtype}{list(self.shape)}{q}"


@dataclass
class Op:
    index: int
    name: str  # builtin name, e.g. "FULLY_CONNECTED" (custom ops: "CUSTOM 'name'")
    inputs: list[int]  # tensor indices, -1 for an omitted optional input
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    path: str
    sha256: str
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]
    description: str = ""


def _op_names() -> dict[int, str]:
    from tflite.BuiltinOperator import BuiltinOperator

    return {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}


def read_tflite(path: str | Path) -> Graph:
    """Parse `path`; QnnError (one line) for a missing, foreign, truncated or corrupt file."""
    path = Path(path)
    try:
        buf = path.read_bytes()
    except FileNotFoundError:
        raise QnnError(f"{path}: no such file.") from None
    except OSError as e:
        raise QnnError(f"{path}: cannot read it ({e.strerror or e}).") from None
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise QnnError(f"{path}: not a TensorFlow Lite model (no 'TFL3' flatbuffer identifier); "
                       "pass the .tflite file the TFLite converter wrote.")
    try:
        return _parse(buf, path)
    except QnnError:
        raise
    except Exception as e:  # noqa: BLE001 - flatbuffers reports damage as any of many errors
        raise QnnError(f"{path}: truncated or corrupt .tflite ({type(e).__name__}: {e}); "
                       "convert the model again.") from None


def _parse(buf: bytes, path: Path) -> Graph:
    from tflite.Model import Model

    model = Model.GetRootAs(buf, 0)
    if model.SubgraphsLength() != 1:
        raise QnnError(f"{path}: {model.SubgraphsLength()} subgraphs; only a single-graph model "
                       "(a plain chain of layers) can be imported.")
    names = _op_names()
    codes = []
    for k in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(k)
        code = max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())
        name = names.get(code, f"builtin {code}")
        if name == "CUSTOM":
            name = f"CUSTOM '{(oc.CustomCode() or b'').decode(errors='replace')}'"
        codes.append(name)
    sg = model.Subgraphs(0)
    tensors = [_tensor(model, sg.Tensors(i), i, buf) for i in range(sg.TensorsLength())]
    ops = []
    for i in range(sg.OperatorsLength()):
        op = sg.Operators(i)
        idx = op.OpcodeIndex()
        if not 0 <= idx < len(codes):
            raise ValueError(f"op {i} has opcode index {idx} of {len(codes)}")
        ins = [int(v) for v in op.InputsAsNumpy()] if op.InputsLength() else []
        outs = [int(v) for v in op.OutputsAsNumpy()] if op.OutputsLength() else []
        for t in ins + outs:
            if not -1 <= t < len(tensors):
                raise ValueError(f"op {i} refers to tensor {t} of {len(tensors)}")
        ops.append(Op(i, codes[idx], ins, outs, _options(op, codes[idx])))
    g_in = [int(v) for v in sg.InputsAsNumpy()] if sg.InputsLength() else []
    g_out = [int(v) for v in sg.OutputsAsNumpy()] if sg.OutputsLength() else []
    desc = (model.Description() or b"").decode(errors="replace")
    return Graph(str(path), hashlib.sha256(buf).hexdigest(), tensors, ops, g_in, g_out, desc)


def _tensor(model: Any, t: Any, index: int, buf: bytes) -> Tensor:
    code = t.Type()
    dtype = _DTYPES.get(code)
    shape = tuple(int(v) for v in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    scale, zp, axis = np.zeros(0, np.float32), np.zeros(0, np.int64), 0
    q = t.Quantization()
    if q is not None and q.ScaleLength():
        scale = np.asarray(q.ScaleAsNumpy(), np.float32)
        zp = (np.asarray(q.ZeroPointAsNumpy(), np.int64) if q.ZeroPointLength()
              else np.zeros(scale.size, np.int64))
        axis = int(q.QuantizedDimension())
        if zp.size != scale.size:
            raise ValueError(f"tensor {index}: {scale.size} scales but {zp.size} zero points")
    data = None
    b = t.Buffer()
    if b > 0:
        if b >= model.BuffersLength():
            raise ValueError(f"tensor {index} refers to buffer {b} of {model.BuffersLength()}")
        raw = _buffer_bytes(model.Buffers(b), buf)
        if raw is not None and dtype is not None:
            count = int(np.prod(shape)) if shape else 1
            if len(raw) != count * np.dtype(dtype).itemsize:
                raise ValueError(f"tensor {index}: {len(raw)} data bytes for shape {list(shape)}")
            data = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
    name = (t.Name() or b"").decode(errors="replace")
    dname = np.dtype(dtype).name if dtype is not None else f"type {code}"
    return Tensor(index, name, dname, shape, scale, zp, axis, data)


def _buffer_bytes(b: Any, buf: bytes) -> bytes | None:
    if b.DataLength():
        return b.DataAsNumpy().tobytes()
    off, size = int(b.Offset()), int(b.Size())
    if off > 1:  # large models keep constants after the flatbuffer
        if off + size > len(buf):
            raise ValueError(f"buffer data at {off}+{size} beyond the file's {len(buf)} bytes")
        return buf[off : off + size]
    return None


def _options(op: Any, name: str) -> dict[str, Any]:
    table = op.BuiltinOptions()
    if table is None:
        return {}
    if name == "FULLY_CONNECTED":
        from tflite.FullyConnectedOptions import FullyConnectedOptions

        o = FullyConnectedOptions()
        o.Init(table.Bytes, table.Pos)
        return {"activation": _ACTIVATIONS.get(o.FusedActivationFunction(),
                                               str(o.FusedActivationFunction())),
                "weights_format": int(o.WeightsFormat()), "keep_num_dims": bool(o.KeepNumDims())}
    return {}
