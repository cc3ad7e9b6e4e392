"""`arm2`: a two-link planar arm read by two joint encoders and a range sensor.

Pose (what the network estimates): the end-effector position x, y in mm, in the plane of the
arm with the shoulder at the origin. The network must therefore learn the forward kinematics
from joint readings (non-linear, coupled), helped by a redundant range measurement.

The joint angles follow from the pose by inverse kinematics, elbow on one side (q2 > 0)::

    cos q2 = (x^2 + y^2 - L1^2 - L2^2) / (2 L1 L2)
    q1     = atan2(y, x) - atan2(L2 sin q2, L1 + L2 cos q2)

Readings (uint16):

    enc_shoulder, enc_elbow   16-bit absolute encoders: ((q - zero_deg) mod 360) * 65536 / 360
    range                     a time-of-flight sensor at a fixed beacon b (mm) measuring |p - b|:
                              range_offset_counts + range_gain_counts_per_mm * |p - b|

Default geometry: L1 = 120 mm, L2 = 90 mm, beacon at (0, 200) mm; pose range x in [60, 160],
y in [-60, 80] mm, which keeps the elbow between ~30 and ~150 degrees (away from the
stretched-out and folded singularities, where the pose stops being identifiable).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from common.errors import QnnError
from sim.base import ForwardModel, as_array

COUNTS_PER_TURN = 65536.0


def inverse_kinematics(x: np.ndarray, y: np.ndarray, l1: float, l2: float
                       ) -> tuple[np.ndarray, np.ndarray]:
    """End-effector position (mm) -> joint angles (q1, q2) in degrees, q2 >= 0.

    Out-of-reach points are pulled onto the workspace boundary (cos q2 clipped to [-1, 1]).
    """
    cos_q2 = np.clip((x * x + y * y - l1 * l1 - l2 * l2) / (2.0 * l1 * l2), -1.0, 1.0)
    q2 = np.arccos(cos_q2)
    q1 = np.arctan2(y, x) - np.arctan2(l2 * np.sin(q2), l1 + l2 * cos_q2)
    return np.degrees(q1), np.degrees(q2)


def encoder_counts(q_deg: np.ndarray, zero_deg: float) -> np.ndarray:
    """An absolute encoder: the angle past its zero, wrapped to one turn, in counts."""
    return np.mod(q_deg - zero_deg, 360.0) * (COUNTS_PER_TURN / 360.0)


class Arm2(ForwardModel):
    name = "arm2"
    description = ("Two-link planar arm; two 16-bit joint encoders and a range sensor to a "
                   "fixed beacon. Estimates the end-effector position.")
    input_names = ("enc_shoulder", "enc_elbow", "range")
    input_units = ("counts", "counts", "counts")
    output_names = ("x", "y")
    output_units = ("mm", "mm")
    pose_low = np.array([60.0, -60.0])
    pose_high = np.array([160.0, 80.0])

    def default_params(self) -> dict[str, Any]:
        return {
            "link_lengths_mm": [120.0, 90.0],
            "encoder_zero_deg": [-180.0, -90.0],
            "encoder_noise_counts": 1.0,
            "beacon_mm": [0.0, 200.0],
            "range_gain_counts_per_mm": 200.0,
            "range_offset_counts": 0.0,
            "range_noise_counts": 30.0,
        }

    def noise_sigma(self, params: dict[str, Any]) -> np.ndarray:
        enc = float(params["encoder_noise_counts"])
        return np.array([enc, enc, float(params["range_noise_counts"])])

    def check_params(self, params: dict[str, Any]) -> None:
        if np.any(as_array(params, "link_lengths_mm") <= 0):
            raise QnnError("arm2: link lengths must be > 0 mm; fix link_lengths_mm.")
        if float(params["range_gain_counts_per_mm"]) == 0:
            raise QnnError("arm2: range_gain_counts_per_mm is 0, so the range reading is "
                           "constant; set a non-zero gain.")

    def analog(self, pose: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        l1, l2 = as_array(params, "link_lengths_mm")
        zero1, zero2 = as_array(params, "encoder_zero_deg")
        x, y = pose[:, 0], pose[:, 1]
        q1, q2 = inverse_kinematics(x, y, l1, l2)
        bx, by = as_array(params, "beacon_mm")
        dist = np.hypot(x - bx, y - by)
        out = np.empty((pose.shape[0], 3))
        out[:, 0] = encoder_counts(q1, zero1)
        out[:, 1] = encoder_counts(q2, zero2)
        out[:, 2] = (float(params["range_offset_counts"])
                     + float(params["range_gain_counts_per_mm"]) * dist)
        return out
