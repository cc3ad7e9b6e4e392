"""The registry of forward models: `MODELS[name]` and `get_model(name)`.

Each model is a `ForwardModel` (sim.base) with `forward(pose, params, rng=None) -> readings`.
To add one: subclass ForwardModel in its own module and list an instance here.
"""

from __future__ import annotations

from common.errors import QnnError
from sim.arm import Arm2
from sim.base import ADC_MAX, ForwardModel, adc_quantize
from sim.magnet import Magnet6

__all__ = ["ADC_MAX", "MODELS", "ForwardModel", "adc_quantize", "get_model"]

DEFAULT_MODEL = "magnet6"

MODELS: dict[str, ForwardModel] = {m.name: m for m in (Magnet6(), Arm2())}


def get_model(name: str) -> ForwardModel:
    try:
        return MODELS[name]
    except KeyError:
        raise QnnError(f"unknown model {name!r}; known models: {', '.join(MODELS)}.") from None
