"""Motion blur from the camera's own rotation during the exposure (ROS-free).

While the shutter is open the camera turns by rate x exposure; every point of the image then smears along
a line of focal_px x that angle (pan turning left moves the picture right, tilt up moves it down). The
blur is the same over the whole frame: a face the camera follows smears as much as the background, which
overstates the blur on a well tracked face and understates it on a face that moves while the camera is
still. Lines shorter than a pixel leave the image as it is.
"""

from __future__ import annotations

import math

import numpy as np

MIN_BLUR_PX = 1.0


def blur_extent_px(rates: tuple[float, float], exposure_s: float, focal_px: float) -> tuple[float, float]:
    """(du, dv): how far the picture moves during the exposure, px (u right, v down)."""
    return focal_px * rates[0] * exposure_s, focal_px * rates[1] * exposure_s


def motion_blur(image: np.ndarray, du: float, dv: float) -> np.ndarray:
    """The image averaged along the line (-du/2, -dv/2) .. (du/2, dv/2): a box blur along the motion."""
    import cv2

    length = math.hypot(du, dv)
    if length < MIN_BLUR_PX:
        return image
    half = int(math.ceil(length / 2))
    size = 2 * half + 1
    kernel = np.zeros((size, size), np.float32)
    # sub-pixel ends by supersampling the line: one sample per quarter pixel, bilinear splat
    samples = max(2, int(math.ceil(length * 4)) + 1)
    for s in np.linspace(-0.5, 0.5, samples):
        x, y = half + s * du, half + s * dv
        x0, y0 = int(math.floor(x)), int(math.floor(y))
        fx, fy = x - x0, y - y0
        for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            if 0 <= x0 + dx < size and 0 <= y0 + dy < size:
                kernel[y0 + dy, x0 + dx] += w
    kernel /= kernel.sum()
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)
