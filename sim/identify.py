"""Is the pose recoverable from the readings? The smallest singular value of the Jacobian.

At a pose p the readings change as  d(readings) = J dp  with J = d(analog counts)/d(pose).
If J has a (near-)zero singular value, some pose direction moves the readings (almost) not
at all and no network can estimate it. We measure J

  * noise-free and before rounding/clipping (`ForwardModel.analog`), by central differences;
  * in normalised units: readings in ADC counts, each pose coordinate in units of its
    default half-range ((high - low) / 2, e.g. 10 mm or 25 deg), so that all outputs weigh
    alike whatever their unit.

So `min_singular_value` is in counts per half-range: moving the pose by a fraction f of its
half-range in the worst direction changes the reading vector by at least f * s counts (in
Euclidean norm). Compared with the noise, sigma / s is roughly the worst-direction pose
resolution as a fraction of the half-range (`worst_resolution_fraction`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.base import ADC_MAX, ForwardModel
from sim.models import get_model

REL_STEP = 1e-4  # finite-difference step, as a fraction of the half-range


def jacobians(model: ForwardModel, pose: np.ndarray, params: dict[str, Any]) -> np.ndarray:
    """d(analog counts)/d(pose / half_range) at each pose: [N, n_in, n_out], central
    differences, all 2 * n_out shifted copies evaluated in one vectorised call."""
    n, d = pose.shape
    half = (model.pose_high - model.pose_low) / 2.0
    steps = np.eye(d) * (REL_STEP * half)  # [d, d], row i shifts coordinate i
    shifted = np.concatenate([pose[:, None, :] + steps, pose[:, None, :] - steps], axis=1)
    f = model.analog(shifted.reshape(-1, d), params).reshape(n, 2 * d, -1)
    # (f(p + h e_i) - f(p - h e_i)) / (2h), h = REL_STEP half-ranges -> per half-range
    return ((f[:, :d] - f[:, d:]) / (2.0 * REL_STEP)).transpose(0, 2, 1)


def min_singular_values(J: np.ndarray) -> np.ndarray:
    """Smallest singular value of each [n_in, n_out] Jacobian; 0 if n_in < n_out."""
    sv = np.linalg.svd(J, compute_uv=False)
    if J.shape[1] < J.shape[2]:
        return np.zeros(J.shape[0])
    return sv[:, -1]


def identifiability(
    model: ForwardModel | str,
    params: dict[str, Any] | None = None,
    n: int = 256,
    seed: int = 0,
    pose_low: Any = None,
    pose_high: Any = None,
) -> dict[str, Any]:
    """Smallest singular value of d(readings)/d(pose) over n random poses (see module doc).

    Returns min_singular_value (the worst sample), median_min_singular_value, worst_pose
    (a dict name -> value), worst_resolution_fraction (noise sigma / min SV), the fraction of
    noise-free readings that saturate at 0 or 65535, and the units.
    """
    model = get_model(model) if isinstance(model, str) else model
    params = model.resolve_params(params)
    rng = np.random.default_rng(seed)
    pose = model.sample_poses(n, rng, pose_low, pose_high)
    s = min_singular_values(jacobians(model, pose, params))
    worst = int(np.argmin(s))
    counts = model.analog(pose, params)
    sigma = float(np.max(model.noise_sigma(params)))
    return {
        "model": model.name,
        "n": n,
        "min_singular_value": float(s[worst]),
        "median_min_singular_value": float(np.median(s)),
        "worst_pose": dict(zip(model.output_names, pose[worst].tolist(), strict=True)),
        "worst_resolution_fraction": sigma / float(s[worst]) if s[worst] > 0 else float("inf"),
        "saturated_fraction": float(np.mean((counts < 0) | (counts > ADC_MAX))),
        "units": "counts per pose half-range (noise-free, unclipped)",
    }
