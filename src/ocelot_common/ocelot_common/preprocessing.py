"""The one image preprocessing that collection, training and the policy node share, and that travels
with the model.

`to_policy_frame` turns any camera image into the policy's square RGB uint8
frame (what episodes store); `frames_to_input` turns stored frames into the
model's float input. The policy node runs both on live images, training runs
the second on stored frames, so the model sees the same pixels everywhere.

A `Preprocessing` says what the model was trained on (frame size, normalisation);
`ocelot export` writes it into the policy graph's metadata (so the sha256 that a
gate report binds covers it) and into the model card, and the runtime reads it
from the graph. Graphs exported before it was recorded carry none: they were all
trained on `STANDARD`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

METADATA_KEY = "ocelot.preprocessing"  # the policy graph's metadata entry (JSON)


@dataclass(frozen=True)
class Preprocessing:
    """RGB pixels scaled to [0, 1], minus `mean`, over `std` (per channel), NCHW, `frame_size` square."""

    frame_size: int = 224
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)  # ImageNet statistics, as pretrained encoders expect
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def __post_init__(self) -> None:
        if isinstance(self.frame_size, bool) or not isinstance(self.frame_size, int) or self.frame_size < 16:
            raise ValueError(f"preprocessing frame_size must be an integer >= 16, got {self.frame_size!r}")
        for name in ("mean", "std"):
            values = getattr(self, name)
            if len(values) != 3 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
                raise ValueError(f"preprocessing {name} must be three finite numbers (R, G, B), got {values!r}")
            object.__setattr__(self, name, tuple(float(v) for v in values))
        if min(self.std) <= 0:
            raise ValueError(f"preprocessing std must be positive, got {self.std!r}")

    def to_dict(self) -> dict:
        """As JSON holds it (lists, not tuples)."""
        return {"frame_size": self.frame_size, "mean": list(self.mean), "std": list(self.std)}

    def to_metadata(self) -> dict[str, str]:
        return {METADATA_KEY: json.dumps(self.to_dict(), sort_keys=True)}

    @classmethod
    def from_dict(cls, values: Mapping) -> Preprocessing:
        unknown = sorted(set(values) - {"frame_size", "mean", "std"})
        if unknown:
            raise ValueError(f"preprocessing has unknown keys {unknown}; it holds frame_size, mean and std")
        fields: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        return cls(**fields)

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> Preprocessing:
        """A policy graph's metadata -> its preprocessing (STANDARD for graphs that record none)."""
        if METADATA_KEY not in metadata:
            return STANDARD
        try:
            values = json.loads(metadata[METADATA_KEY])
        except ValueError as exc:
            raise ValueError(f"metadata {METADATA_KEY} is not JSON ({exc})") from None
        if not isinstance(values, dict):
            raise ValueError(f"metadata {METADATA_KEY} must be a JSON object, got {values!r}")
        return cls.from_dict(values)


STANDARD = Preprocessing()  # what every policy so far was trained on; collection stores its frame size


def to_policy_frame(rgb: np.ndarray, size: int = STANDARD.frame_size) -> np.ndarray:
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


def frames_to_input(frames: np.ndarray, preprocessing: Preprocessing = STANDARD) -> np.ndarray:
    """(N, H, W, 3) or (H, W, 3) uint8 -> float32 (N, 3, H, W), scaled to [0, 1] and normalised."""
    batch = frames[None] if frames.ndim == 3 else frames
    mean, std = np.array(preprocessing.mean, np.float32), np.array(preprocessing.std, np.float32)
    x = (batch.astype(np.float32) / 255.0 - mean) / std
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def image_point_to_unit(pixels: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """Image points (u right, v down) in pixels of an image of (width, height) -> [-1, 1] on each axis, the
    coordinates of the policy's target read-out (a policy frame is the whole image resized to a square)."""
    return np.asarray(pixels, np.float32) / np.asarray(image_size, np.float32) * 2.0 - 1.0


def unit_to_image_point(unit: np.ndarray, image_size: tuple[int, int]) -> np.ndarray:
    """The inverse of image_point_to_unit: read-out coordinates -> pixels of an image of (width, height)."""
    return (np.asarray(unit, np.float64) + 1.0) / 2.0 * np.asarray(image_size, np.float64)
