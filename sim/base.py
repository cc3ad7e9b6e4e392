"""The forward-model interface and the ADC every model reads through.

A forward model maps poses (what the network will estimate) to sensor readings (what the
microcontroller sees)::

    forward(pose [N, n_out] float64, params, rng=None) -> readings [N, n_in] uint16

in two steps, so that the noise-free, unclipped part can be differentiated:

    analog(pose, params)  -> float64 counts, the ideal ADC value before rounding
    forward               =  clip(round(analog + noise), 0, 65535) as uint16

Noise (Gaussian, sigma in counts per input) is added only when an `rng` is given, so the
same pose always gives the same readings without one. Saturation is the clip: a real ADC
pins at its rails rather than wrapping.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from common.errors import QnnError

ADC_MAX = 65535
CHUNK = 4096  # rows per vectorised step: keeps the [chunk, K, S] temporaries in cache


class ForwardModel:
    """Base class: subclasses set the names/ranges and implement `analog` and
    `check_params` (and `noise_sigma` if the noise is not the scalar `noise_sigma_counts`)."""

    name: str = ""
    description: str = ""
    input_names: tuple[str, ...] = ()
    input_units: tuple[str, ...] = ()
    output_names: tuple[str, ...] = ()
    output_units: tuple[str, ...] = ()
    pose_low: np.ndarray = np.zeros(0)
    pose_high: np.ndarray = np.zeros(0)
    variable_rows: frozenset[str] = frozenset()  # params whose first dimension may vary

    # ---- to implement -------------------------------------------------------------------
    def default_params(self) -> dict[str, Any]:
        raise NotImplementedError

    def analog(self, pose: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        """Noise-free ideal ADC values in counts (float64, not rounded or clipped)."""
        raise NotImplementedError

    def check_params(self, params: dict[str, Any]) -> None:
        """Model-specific checks; raise QnnError. Keys and finiteness are checked already."""

    # ---- shared -------------------------------------------------------------------------
    @property
    def n_in(self) -> int:
        return len(self.input_names)

    @property
    def n_out(self) -> int:
        return len(self.output_names)

    def noise_sigma(self, params: dict[str, Any]) -> np.ndarray:
        """Noise standard deviation in counts for each input, [n_in]."""
        return np.full(self.n_in, float(params["noise_sigma_counts"]))

    def resolve_params(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Defaults overlaid with `params` (a partial dict is fine), validated."""
        full = self.default_params()
        if params:
            unknown = sorted(set(params) - set(full))
            if unknown:
                raise QnnError(
                    f"{self.name}: unknown parameter(s) {', '.join(unknown)}; "
                    f"known ones are {', '.join(full)}."
                )
            full.update(copy.deepcopy(params))
        self.validate_params(full)
        return full

    def validate_params(self, params: dict[str, Any]) -> None:
        """Raise QnnError on nonsense: missing keys, wrong shapes, NaN, negative noise..."""
        defaults = self.default_params()
        missing = sorted(set(defaults) - set(params))
        if missing:
            raise QnnError(f"{self.name}: parameter(s) {', '.join(missing)} missing; "
                           "start from default_params().")
        for key, default in defaults.items():
            want = np.shape(default)
            try:
                got = np.asarray(params[key], dtype=np.float64)
            except (TypeError, ValueError):
                raise QnnError(f"{self.name}: parameter {key} must be numeric "
                               f"with shape {list(want)}; fix the value.") from None
            if key in self.variable_rows and got.ndim == len(want) and got.shape[0] >= 1:
                want = (got.shape[0],) + tuple(want[1:])
            if got.shape != want:
                raise QnnError(f"{self.name}: parameter {key} has shape {list(got.shape)}, "
                               f"expected {list(want)}; fix the value.")
            if not np.all(np.isfinite(got)):
                raise QnnError(f"{self.name}: parameter {key} is not finite; fix the value.")
        if np.any(self.noise_sigma(params) < 0):
            raise QnnError(f"{self.name}: noise sigma must be >= 0 counts; fix the value.")
        self.check_params(params)

    def check_pose(self, pose: np.ndarray) -> np.ndarray:
        pose = np.asarray(pose, dtype=np.float64)
        if pose.ndim != 2 or pose.shape[1] != self.n_out:
            raise QnnError(f"{self.name}: pose must have shape [N, {self.n_out}] "
                           f"({', '.join(self.output_names)}), got {list(pose.shape)}.")
        if not np.all(np.isfinite(pose)):
            raise QnnError(f"{self.name}: pose contains NaN or inf; pass finite poses.")
        return pose

    def forward(
        self,
        pose: np.ndarray,
        params: dict[str, Any] | None = None,
        rng: np.random.Generator | None = None,
    ) -> np.ndarray:
        """Poses [N, n_out] -> uint16 readings [N, n_in]; noisy only when `rng` is given."""
        pose = self.check_pose(pose)
        params = self.resolve_params(params)
        sigma = self.noise_sigma(params)
        out = np.empty((pose.shape[0], self.n_in), dtype=np.uint16)
        for lo in range(0, pose.shape[0], CHUNK):
            counts = self.analog(pose[lo : lo + CHUNK], params)
            if rng is not None:
                counts += sigma * rng.standard_normal(counts.shape)
            out[lo : lo + CHUNK] = adc_quantize(counts)
        return out

    def sample_poses(
        self,
        n: int,
        rng: np.random.Generator,
        low: np.ndarray | None = None,
        high: np.ndarray | None = None,
    ) -> np.ndarray:
        """n poses uniform in the box [low, high] (the model's default range if None)."""
        low, high = self.pose_range(low, high)
        return low + (high - low) * rng.random((n, self.n_out))

    def pose_range(self, low: Any = None, high: Any = None) -> tuple[np.ndarray, np.ndarray]:
        low = self.pose_low if low is None else np.asarray(low, dtype=np.float64)
        high = self.pose_high if high is None else np.asarray(high, dtype=np.float64)
        for what, v in (("pose_low", low), ("pose_high", high)):
            if v.shape != (self.n_out,) or not np.all(np.isfinite(v)):
                raise QnnError(f"{self.name}: {what} must be {self.n_out} finite numbers "
                               f"({', '.join(self.output_names)}).")
        if np.any(low > high):
            raise QnnError(f"{self.name}: pose_low exceeds pose_high; swap or fix the bounds.")
        return low, high

    def info(self) -> dict[str, Any]:
        """A JSON-able summary a UI can show."""
        return {
            "name": self.name,
            "description": self.description,
            "input_names": list(self.input_names),
            "input_units": list(self.input_units),
            "output_names": list(self.output_names),
            "output_units": list(self.output_units),
            "pose_low": self.pose_low.tolist(),
            "pose_high": self.pose_high.tolist(),
        }


def adc_quantize(counts: np.ndarray) -> np.ndarray:
    """Ideal analog counts -> uint16: round to nearest, saturate at 0 and 65535."""
    return np.clip(np.rint(counts), 0, ADC_MAX).astype(np.uint16)


def as_array(params: dict[str, Any], key: str) -> np.ndarray:
    return np.asarray(params[key], dtype=np.float64)
