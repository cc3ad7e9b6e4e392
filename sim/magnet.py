"""`magnet6`: a rigid body carrying two permanent magnets, read by six single-axis Hall sensors.

Pose (what the network estimates): position x, y, z in mm of the body origin in the world
frame, and orientation roll, pitch, yaw in degrees, as intrinsic Z-Y-X Euler angles::

    R = Rz(yaw) @ Ry(pitch) @ Rx(roll)          # body -> world; pitch stays far from +-90

Each magnet k is a point dipole at body position c_k (mm) with body moment m_k (A m^2). In the
world it sits at P_k = t + R c_k with moment M_k = R m_k. Its flux density at a sensor at s is
the dipole field, with r = s - P_k::

    B = mu0/(4 pi) * (3 (M.r_hat) r_hat - M) / |r|^3

With mu0/(4 pi) = 1e-7 T m/A, M in A m^2 and r in mm, this is 1e5 * (...) / |r_mm|^3 in mT.
Sensor j has unit sensitive axis a_j and reads the projection B_total . a_j (mT), where
B_total sums the magnets and a constant background (e.g. the Earth's ~0.05 mT). Its ADC::

    counts_j = adc_offset_counts + adc_gain_counts_per_mT * (B_total . a_j) [+ noise]

rounded and saturated to [0, 65535] (sim.base.adc_quantize).

Why two magnets: one axisymmetric dipole looks the same after any rotation about its own
axis, so one of the three angles would be invisible (a zero singular value of the
readings-to-pose Jacobian, see sim.identify). Two dipoles at different body positions with
non-parallel moments break every symmetry.

Default geometry: two ~4.6 mm NdFeB cubes (|m| = 0.1 A m^2) about 8 mm apart on the body,
magnetised along different directions; six sensors on a frame around the body, 32-40 mm from
the nominal pose (the origin), with mixed axes (constants below). Pose range: +-8 mm and
+-20 degrees. Over that range the Jacobian determinant keeps one sign (no singular surface);
at +-10 mm / +-25 degrees a few corner poses (~3 in 10^4) approach singularity.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from common.errors import QnnError
from sim.base import ForwardModel, as_array

MU0_OVER_4PI_MT_MM3 = 1e5  # mu0/(4 pi) expressed for M in A m^2, r in mm, B in mT


def rotation_matrices(roll_deg: np.ndarray, pitch_deg: np.ndarray,
                      yaw_deg: np.ndarray) -> np.ndarray:
    """Z-Y-X Euler angles (degrees, [N]) -> body-to-world rotations R[i, j, n], [3, 3, N].

    The sample axis is last so that every later step runs over long contiguous rows.
    """
    r, p, y = np.radians(roll_deg), np.radians(pitch_deg), np.radians(yaw_deg)
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    return np.stack([
        cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr,
        sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr,
        -sp, cp * sr, cp * cr,
    ]).reshape(3, 3, -1)


def dipole_field_along(
    sensor_pos: np.ndarray,  # [S, 3] mm
    sensor_axis: np.ndarray,  # [S, 3] unit
    magnet_pos: np.ndarray,  # [3, K, N] mm, world
    magnet_moment: np.ndarray,  # [3, K, N] A m^2, world
) -> np.ndarray:
    """Sum over magnets of the dipole field projected on each sensor axis, [S, N] in mT.

    With r = s - P, every dot product splits into a constant and a product with P or M:

        M.r = M.s - M.P,   a.r = a.s - a.P,   |r|^2 = |s|^2 - 2 s.P + |P|^2

    so all the [S, K, N] dot products come out of one matrix product of the stacked (s, a)
    rows with the stacked (P, M) columns: one call instead of many small numpy ops.
    """
    _, k, n = magnet_pos.shape
    n_s = sensor_pos.shape[0]
    rows = np.concatenate([sensor_pos, sensor_axis])  # [2S, 3]
    cols = np.concatenate([magnet_pos, magnet_moment], axis=1).reshape(3, -1)  # [3, 2K N]
    # einsum rather than `@`: with an inner dimension of 3, multi-threaded BLAS only adds
    # overhead (and stalls badly when the cores are busy)
    dots = np.einsum("ij,jn->in", rows, cols).reshape(2 * n_s, 2 * k, n)
    s_dot_p, s_dot_m = dots[:n_s, :k], dots[:n_s, k:]  # [S, K, N]
    a_dot_p, a_dot_m = dots[n_s:, :k], dots[n_s:, k:]
    m_dot_p = (magnet_moment * magnet_pos).sum(axis=0)  # [K, N]
    p_sq = (magnet_pos * magnet_pos).sum(axis=0)
    s_sq = (sensor_pos * sensor_pos).sum(axis=1)[:, None, None]  # [S, 1, 1]
    a_dot_s = (sensor_axis * sensor_pos).sum(axis=1)[:, None, None]

    # B.a = k (3 (M.r)(a.r)/|r|^2 - M.a) / |r|^3, in place: each temporary is [S, K, N]
    inv_r2 = s_dot_p * -2.0
    inv_r2 += s_sq
    inv_r2 += p_sq
    np.reciprocal(inv_r2, out=inv_r2)
    inv_r3 = np.sqrt(inv_r2)
    inv_r3 *= inv_r2
    b = s_dot_m - m_dot_p  # M.r
    b *= a_dot_s - a_dot_p  # a.r
    b *= inv_r2
    b *= 3.0
    b -= a_dot_m
    b *= inv_r3
    return MU0_OVER_4PI_MT_MM3 * b.sum(axis=1)


# The default geometry, found by a small random search that maximised the worst-case smallest
# singular value over the default pose range (see sim.identify), then rounded. The sensors sit
# on a frame around the body, 32-40 mm from the nominal pose, with mixed axes.
MAGNET_POSITIONS = [[-5.4, -4.6, 0.8], [0.5, 0.4, 3.5]]  # body frame, mm
MAGNET_MOMENTS = [[0.036, 0.093, -0.003], [-0.073, 0.02, 0.066]]  # body frame, A m^2, |m| 0.1
SENSOR_POSITIONS = [  # world frame, mm
    [-26.9, -8.7, 28.3], [-21.4, 21.9, -19.7], [-20.9, 10.9, 29.7],
    [33.6, -13.4, 17.0], [-36.1, -8.1, 1.4], [-32.0, 2.9, -19.4],
]
SENSOR_AXES = [  # world frame, unit vectors (normalised again in analog())
    [-0.04, -0.76, -0.65], [-0.49, -0.03, 0.87], [0.14, 0.96, 0.25],
    [-0.97, 0.24, -0.09], [-0.54, -0.2, 0.82], [-0.58, -0.8, -0.18],
]
# Per-sensor gain: about 85% of half-scale at the 99.5th percentile of |B| over the range.
ADC_GAINS = [35000.0, 42000.0, 40000.0, 71000.0, 37000.0, 38000.0]  # counts per mT


class Magnet6(ForwardModel):
    name = "magnet6"
    description = ("Rigid body with two permanent magnets (point dipoles); six single-axis "
                   "Hall sensors -> 16-bit ADC. Estimates the 6-DOF pose.")
    input_names = tuple(f"hall{j}" for j in range(6))
    input_units = ("counts",) * 6
    output_names = ("x", "y", "z", "roll", "pitch", "yaw")
    output_units = ("mm", "mm", "mm", "deg", "deg", "deg")
    pose_low = np.array([-8.0, -8.0, -8.0, -20.0, -20.0, -20.0])
    pose_high = np.array([8.0, 8.0, 8.0, 20.0, 20.0, 20.0])
    variable_rows = frozenset({"magnet_positions_mm", "magnet_moments_Am2"})

    def default_params(self) -> dict[str, Any]:
        return copy.deepcopy({
            # two ~4.6 mm NdFeB cubes: N42, Br 1.3 T -> m = Br V / mu0 ~ 0.1 A m^2
            "magnet_positions_mm": MAGNET_POSITIONS,
            "magnet_moments_Am2": MAGNET_MOMENTS,
            "sensor_positions_mm": SENSOR_POSITIONS,
            "sensor_axes": SENSOR_AXES,
            "background_mT": [0.0, 0.0, 0.0],
            "adc_gain_counts_per_mT": ADC_GAINS,
            "adc_offset_counts": [32768.0] * 6,
            "noise_sigma_counts": 4.0,
        })

    def check_params(self, params: dict[str, Any]) -> None:
        if len(params["magnet_positions_mm"]) != len(params["magnet_moments_Am2"]):
            raise QnnError("magnet6: magnet_positions_mm and magnet_moments_Am2 list different "
                           "numbers of magnets; give one moment per position.")
        if np.any(as_array(params, "adc_gain_counts_per_mT") == 0):
            raise QnnError("magnet6: a sensor's adc_gain_counts_per_mT is 0, so its reading "
                           "is constant; set a non-zero gain.")
        if np.any(np.linalg.norm(as_array(params, "sensor_axes"), axis=1) < 1e-9):
            raise QnnError("magnet6: a sensor axis is the zero vector; give each sensor a "
                           "direction.")

    def analog(self, pose: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        R = rotation_matrices(pose[:, 3], pose[:, 4], pose[:, 5])  # [3, 3, N]
        c = as_array(params, "magnet_positions_mm")  # [K, 3] body
        m = as_array(params, "magnet_moments_Am2")  # [K, 3] body
        axes = as_array(params, "sensor_axes")
        axes = axes / np.linalg.norm(axes, axis=1, keepdims=True)
        sensors = as_array(params, "sensor_positions_mm")
        # world = R @ body for every sample and magnet: [3, K, N]
        magnet_pos = np.einsum("kj,ijn->ikn", c, R) + pose[:, :3].T[:, None, :]
        magnet_moment = np.einsum("kj,ijn->ikn", m, R)
        b = dipole_field_along(sensors, axes, magnet_pos, magnet_moment).T  # [N, S]
        b += axes @ as_array(params, "background_mT")
        gain = as_array(params, "adc_gain_counts_per_mT")
        return as_array(params, "adc_offset_counts") + gain * b
