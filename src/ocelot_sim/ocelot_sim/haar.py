"""OpenCV's Haar face detector with the settings every part of Ocelot shares.

The face textures' target points, the evaluator's per-frame scores and the
detection-rate checks all go through `detect_faces`, so they agree on what a
detected face is.
"""

from __future__ import annotations

import threading

import numpy as np

SCALE_FACTOR = 1.1
MIN_NEIGHBORS = 4
MIN_SIZE_PX = 20


_per_thread = threading.local()


def _cascade():
    """One classifier per thread: detectMultiScale on a shared classifier is not thread-safe."""
    cascade = getattr(_per_thread, "cascade", None)
    if cascade is None:
        cascade = _per_thread.cascade = _load_cascade()
    return cascade


def _load_cascade():
    import cv2

    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
    cascade = cv2.CascadeClassifier(path)
    if cascade.empty():
        raise RuntimeError(
            f"OpenCV could not load its Haar cascade from {path}; "
            "reinstall opencv-python-headless < 5 (5.x has no CascadeClassifier)"
        )
    return cascade


def detect_faces(rgb: np.ndarray, min_size: int = MIN_SIZE_PX) -> np.ndarray:
    """Boxes (x, y, w, h) of faces in an RGB uint8 image, largest first; shape (N, 4)."""
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    boxes = _cascade().detectMultiScale(
        gray, scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBORS, minSize=(min_size, min_size)
    )
    boxes = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    return boxes[np.argsort(-(boxes[:, 2] * boxes[:, 3]), kind="stable")]


def box_centre(box) -> tuple[float, float]:
    x, y, w, h = (float(v) for v in box)
    return x + w / 2.0, y + h / 2.0
