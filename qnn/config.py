"""Training configuration, validated before any work starts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from common.errors import QnnError
from qnn.network import NetSpec


def _per_layer(bits: int | tuple[int, ...] | list[int], n: int, what: str) -> tuple[int, ...]:
    t = (bits,) * n if isinstance(bits, int) else tuple(bits)
    if len(t) != n:
        raise QnnError(f"{what}: {len(t)} values given for {n} layers; give one value or {n}.")
    return t


@dataclass
class TrainConfig:
    hidden: tuple[int, ...] = (16, 16)
    w_bits: int | tuple[int, ...] = 8  # one for all layers, or one per layer
    a_bits: int | tuple[int, ...] = 8  # one for all hidden layers, or one per hidden layer
    in_bits: int = 12  # signed bits of the mapped uint16 inputs
    # Bits of the dyadic multipliers M. 8 loses nothing measurable (the integer-exact phase
    # trains with the exact M) and lets the compact C keep M and the bias in one word.
    m_bits: int = 8
    # Measured on 20k samples (bench/compare_tf.py): Adam, batch 64 and a one-cycle learning
    # rate peaking at 0.03 reach TensorFlow's float accuracy in ~20 epochs; 150 settle
    # (about 5 ms each for 6-16-16-6).
    epochs_float: int = 150
    epochs_qat: int = 30
    epochs_int: int = 5
    epochs_finetune: int = 15  # qat epochs of a fine-tune after a bit-width change
    batch_size: int = 64
    lr: float = 0.03  # peak learning rate of the float phase (qnn.train.LR_SCALE: the others)
    seed: int = 0
    val_fraction: float = 0.1
    out_lsb: list[float] | None = None  # physical value of one output LSB; None: from data
    extra: dict[str, Any] = field(default_factory=dict)

    def spec(self, n_in: int, n_out: int) -> NetSpec:
        n_layers = len(self.hidden) + 1
        return NetSpec(
            (n_in, *self.hidden, n_out),
            _per_layer(self.w_bits, n_layers, "--wbits"),
            _per_layer(self.a_bits, n_layers - 1, "--abits"),
            self.in_bits,
            self.m_bits,
        )

    def validate(self) -> None:
        n_layers = len(self.hidden) + 1
        for b in _per_layer(self.w_bits, n_layers, "--wbits"):
            if not 2 <= b <= 8:
                raise QnnError(f"weight bits {b} outside 2..8; the C stores weights as int8.")
        for b in _per_layer(self.a_bits, n_layers - 1, "--abits"):
            if not 2 <= b <= 8:
                raise QnnError(f"activation bits {b} outside 2..8; activations are uint8.")
        if not 4 <= self.in_bits <= 16:
            raise QnnError(f"input bits {self.in_bits} outside 4..16.")
        if not 4 <= self.m_bits <= 15:
            raise QnnError(f"multiplier bits {self.m_bits} outside 4..15.")
        if not self.hidden or any(h < 1 or h > 256 for h in self.hidden):
            raise QnnError(f"hidden sizes {list(self.hidden)} must be 1..256 each, at least one.")
        epochs = (self.epochs_float, self.epochs_qat, self.epochs_int, self.epochs_finetune)
        if any(e < 0 for e in epochs) or self.epochs_float + self.epochs_qat + self.epochs_int < 1:
            raise QnnError("epochs must be >= 0 and at least one epoch in total.")
        if self.batch_size < 1 or not 0 < self.lr < 1:
            raise QnnError("batch size must be >= 1 and the learning rate in (0, 1).")
        if not 0 < self.val_fraction < 0.9:
            raise QnnError("validation fraction must be in (0, 0.9).")

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("hidden", "w_bits", "a_bits"):
            if isinstance(d[k], tuple):
                d[k] = list(d[k])
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TrainConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for k in ("hidden", "w_bits", "a_bits"):
            if isinstance(known.get(k), list):
                known[k] = tuple(known[k])
        try:
            cfg = cls(**known)
        except TypeError as e:
            raise QnnError(f"training configuration is malformed ({e}).") from None
        return cfg
