"""Forward-sensor simulation: models (pose -> uint16 readings), identifiability, datasets.

Pure numpy, vectorised; no Textual and no JAX.

    from sim import get_model, generate, identifiability
    ds = generate("magnet6", n=100_000, seed=1)
"""

from sim.base import ADC_MAX, ForwardModel, adc_quantize
from sim.models import DEFAULT_MODEL, MODELS, get_model

__all__ = ["ADC_MAX", "DEFAULT_MODEL", "MODELS", "ForwardModel", "adc_quantize", "get_model"]
