"""The structured head: a fixed-form control law on the read-out, its gains set for the robot.

The network's job is to find the commanded face; turning that into a command is
the oracle's law, which this head writes out per axis (pan, tilt) as a linear law whose gains suit the robot:

    e   the read-out point's angular offset from the optical axis (the camera's model, rig signs)
    de  (e - e on the frame before) / period: the target's image motion, rad/s
    u1  the command sent for the frame before, u2 the one before that
    command = kp * e + kd * de + k1 * u1 + k2 * u2, clipped to the joint limit

The target's angular rate is its image motion plus the camera's own turn between the two frames. With
instant actuators that turn is u1's and the oracle is kp = gain / period, kd = 1, k1 = 1, k2 = 0 (the
gains the head starts from). Under a loop whose commands act a period late the turn is u2's, and the
oracle, aiming at where the target will be when the command acts (the camera still turning by u1 until
then), is kp = gain / period, kd = 1 + gain, k1 = -gain, k2 = 1 + gain; slow servos shift them further.
The gains are part of the model's config (`model.law_gains`, fixed in training and in the graph): tuned
for a robot profile in a fast model of its closed loop (`ocelot tune-law`), or fit to the oracle's labels by
least squares on the policy's own read-outs (`fit_gains`, `train.fit_law_gains`; that fits an instant loop's
labels, not those of a loop with latency and slow servos, where the oracle's commands are mostly at the
joint limit and no linear law reproduces them). No previous frame (NaN) reads as no image motion, inside
the graph.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ocelot_common.camera import CAMERA_PERIOD_S, Camera

GAIN_NAMES = ("kp", "kd", "k1", "k2")  # rows of LawHead.gains; columns: pan, tilt
ORACLE_GAIN = 0.7  # ocelot_oracle.oracle_law.OracleGains.gain: the share of the error removed per period


def oracle_gains(period_s: float = CAMERA_PERIOD_S, gain: float = ORACLE_GAIN) -> np.ndarray:
    """(4, 2) gains of the oracle's law with instant actuators, in this head's form."""
    return np.array([[gain / period_s] * 2, [1.0, 1.0], [1.0, 1.0], [0.0, 0.0]], np.float32)


def image_scale(camera: Camera = Camera()) -> tuple[float, float]:
    """tan of the half field of view on each axis: a read-out coordinate of 1 (the image edge) times it is
    the tangent of the angle off the axis."""
    half = math.tan(math.radians(camera.hfov_deg) / 2)
    return half, half * camera.height / camera.width


def read_out_angles(xy: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Read-out positions (B, 2) in [-1, 1] -> angular offsets (pan, tilt) from the optical axis (rad): a target
    right of or below the centre is a negative angle. `scale`: image_scale()."""
    return torch.atan(-xy * scale)


def check_gains(gains) -> np.ndarray:
    """(4, 2) float32 gains from a config value (rows kp, kd, k1, k2; columns pan, tilt); raises ValueError."""
    array = np.asarray(gains, np.float64) if len(gains) else np.zeros(0)
    if array.shape != (len(GAIN_NAMES), 2) or not np.isfinite(array).all():
        raise ValueError(
            f"law gains must be {len(GAIN_NAMES)} rows ({', '.join(GAIN_NAMES)}) of two finite numbers (pan, tilt), "
            f"got {gains!r}"
        )
    return array.astype(np.float32)


class LawHead(nn.Module):
    gains: torch.Tensor
    scale: torch.Tensor

    def __init__(
        self,
        max_velocity: float,
        gains=None,
        period_s: float = CAMERA_PERIOD_S,
        camera: Camera = Camera(),
    ) -> None:
        """`gains` (4, 2): None starts from the oracle's law for an instant loop."""
        super().__init__()
        self.max_velocity, self.period_s = max_velocity, period_s
        start = oracle_gains(period_s) if gains is None or not len(gains) else check_gains(gains)
        # a buffer, not a parameter: the config holds the gains (the checkpoint and the card carry them)
        self.register_buffer("gains", torch.from_numpy(start), persistent=False)
        self.register_buffer("scale", torch.tensor(image_scale(camera)), persistent=False)

    def angles(self, xy: torch.Tensor) -> torch.Tensor:
        """Read-out positions (B, 2) -> angular offsets (pan, tilt) from the optical axis (rad)."""
        return read_out_angles(xy, self.scale)

    def inputs(
        self,
        xy: torch.Tensor,
        previous_target: torch.Tensor,
        previous_action: torch.Tensor,
        earlier_action: torch.Tensor,
    ) -> torch.Tensor:
        """(B, 4, 2): the law's inputs e, de, u1 and u2, per axis."""
        error = self.angles(xy)
        before = self.angles(torch.where(torch.isnan(previous_target), xy, previous_target))
        return torch.stack([error, (error - before) / self.period_s, previous_action, earlier_action], dim=1)

    def forward(
        self,
        xy: torch.Tensor,
        previous_target: torch.Tensor,
        previous_action: torch.Tensor,
        earlier_action: torch.Tensor,
    ) -> torch.Tensor:
        command = (self.inputs(xy, previous_target, previous_action, earlier_action) * self.gains).sum(dim=1)
        return command.clamp(-self.max_velocity, self.max_velocity)


def fit_gains(inputs: np.ndarray, labels: np.ndarray, max_velocity: float) -> np.ndarray:
    """Least-squares gains (4, 2) from the law's inputs (N, 4, 2) and the oracle's commands (N, 2), per axis,
    over the frames whose label is inside the joint limit (a clipped label says only "at least this")."""
    gains = np.zeros((len(GAIN_NAMES), 2), np.float64)
    for axis in (0, 1):
        x, y = np.asarray(inputs[:, :, axis], np.float64), np.asarray(labels[:, axis], np.float64)
        keep = np.isfinite(x).all(axis=1) & np.isfinite(y) & (np.abs(y) < 0.999 * max_velocity)
        if keep.sum() < 3 * len(GAIN_NAMES):
            raise ValueError(
                f"fitting the law's gains needs at least {3 * len(GAIN_NAMES)} unclipped labels per axis; "
                f"got {keep.sum()}"
            )
        gains[:, axis] = np.linalg.lstsq(x[keep], y[keep], rcond=None)[0]
    return gains.astype(np.float32)
