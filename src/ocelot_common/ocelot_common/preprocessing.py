"""The one image preprocessing that collection, training and the policy node share.

`to_policy_frame` turns any camera image into the policy's 224x224 RGB uint8
frame (what episodes store); `frames_to_input` turns stored frames into the
model's float input. The policy node runs both on live images, training runs
the second on stored frames, so the model sees the same pixels everywhere.
"""

from __future__ import annotations

import numpy as np

POLICY_SIZE = 224
MEAN = np.array([0.485, 0.456, 0.406], np.float32)  # ImageNet statistics, as the pretrained encoders expect
STD = np.array([0.229, 0.224, 0.225], np.float32)


def to_policy_frame(rgb: np.ndarray, size: int = POLICY_SIZE) -> np.ndarray:
    """(H, W, 3) uint8 RGB of any size -> (size, size, 3) uint8, area-averaged (no aliasing)."""
    import cv2

    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    if rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ValueError("empty image")
    rgb = np.ascontiguousarray(rgb)  # BGR->RGB views have negative strides
    if rgb.shape[:2] == (size, size):
        return rgb
    shrinking = rgb.shape[0] > size or rgb.shape[1] > size
    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def frames_to_input(frames: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) or (H, W, 3) uint8 -> float32 (N, 3, H, W), scaled to [0, 1] and normalised."""
    batch = frames[None] if frames.ndim == 3 else frames
    x = (batch.astype(np.float32) / 255.0 - MEAN) / STD
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def image_point_to_unit(pixels: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Image points (u right, v down) in pixels of an image of (width, height) -> [-1, 1] on each axis, the
    coordinates of the policy's target read-out (a policy frame is the whole image resized to a square)."""
    return np.asarray(pixels, np.float32) / np.asarray(image_size, np.float32) * 2.0 - 1.0


def unit_to_image_point(unit: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """The inverse of image_point_to_unit: read-out coordinates -> pixels of an image of (width, height)."""
    return (np.asarray(unit, np.float64) + 1.0) / 2.0 * np.asarray(image_size, np.float64)
