"""sensor_msgs/Image -> numpy RGB, without cv_bridge (which does not install here)."""

from __future__ import annotations

import numpy as np

CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}


def image_to_rgb(msg) -> np.ndarray:
    """An (H, W, 3) uint8 RGB view or copy of the message; ValueError names what is wrong."""
    encoding = msg.encoding.lower()
    if encoding not in CHANNELS:
        raise ValueError(f"unsupported encoding '{msg.encoding}'; supported: {', '.join(CHANNELS)}")
    if msg.height == 0 or msg.width == 0:
        raise ValueError("zero-size image")
    channels = CHANNELS[encoding]
    row = msg.width * channels
    if msg.step < row or len(msg.data) < msg.step * msg.height:
        raise ValueError(f"image data too short: {len(msg.data)} bytes for {msg.height} rows of step {msg.step}")
    buffer = np.frombuffer(msg.data, np.uint8, count=msg.step * msg.height).reshape(msg.height, msg.step)
    pixels = buffer[:, :row].reshape(msg.height, msg.width, channels)
    if encoding == "rgb8":
        return pixels
    if encoding == "bgr8":
        return pixels[:, :, ::-1]
    if encoding == "rgba8":
        return pixels[:, :, :3]
    if encoding == "bgra8":
        return pixels[:, :, 2::-1]
    return np.repeat(pixels, 3, axis=2)


def jpeg_message(image, rgb: np.ndarray, quality: int = 90):
    """sensor_msgs/CompressedImage of an RGB frame, as image_transport's `compressed` JPEG (with the original
    image's header): what recordings hold, about a twentieth of the raw image."""
    import cv2
    from sensor_msgs.msg import CompressedImage

    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return CompressedImage(header=image.header, format="rgb8; jpeg compressed bgr8", data=data.tobytes())
