"""The robot's camera, in one place: image size, field of view and frame rate.

The sim renders it, the oracle inverts it, episodes and the evaluator measure
pixels in it, and the camera period is the controller's step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

CAMERA_PX = (640, 480)  # (width, height) of the camera image; gt_error_px and target_px are measured in it
HFOV_DEG = 60.0  # horizontal field of view
CAMERA_HZ = 10.0  # frames per second
CAMERA_PERIOD_S = 1.0 / CAMERA_HZ
IMAGE_CENTRE = (CAMERA_PX[0] / 2, CAMERA_PX[1] / 2)


@dataclass(frozen=True)
class Camera:
    width: int = CAMERA_PX[0]
    height: int = CAMERA_PX[1]
    hfov_deg: float = HFOV_DEG

    @property
    def focal_px(self) -> float:
        return (self.width / 2) / math.tan(math.radians(self.hfov_deg) / 2)
