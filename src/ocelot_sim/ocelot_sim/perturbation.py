"""Mid-episode perturbation: every N frames the target jumps by a random angular offset.

Without it the oracle keeps the face centred and nearly every recorded command
is ~0, so a cloned policy learns to do nothing. With a jump every 15 frames
held for 5, about a third of the frames show a correction. Offsets are uniform
within +-range on pan and +-range * (vertical / horizontal field of view) on
tilt, so the face stays in the frame. The RNG is seeded from seed ^ 0xBEEF,
independent of the scenario and camera-noise streams, and each jump k draws
from its own stream, so any frame's offset is known without replaying the past.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TILT_SHARE = 0.78  # vertical / horizontal half field of view of the 640x480, 60 degree camera


@dataclass(frozen=True)
class Perturbation:
    interval: int = 0  # frames between jumps; 0 turns perturbation off
    range_rad: float = 0.5  # pan offset bound
    hold: int = 5  # frames the face stays at the jumped-to place

    def __post_init__(self) -> None:
        if self.interval < 0 or self.hold < 0 or self.range_rad < 0:
            raise ValueError("perturbation interval, hold and range must be >= 0")
        if self.interval and self.hold >= self.interval:
            raise ValueError(f"perturbation hold ({self.hold}) must be shorter than the interval ({self.interval})")

    @property
    def enabled(self) -> bool:
        return self.interval > 0 and self.range_rad > 0


def active_jump(p: Perturbation, frame: int) -> int | None:
    """Index k >= 1 of the jump holding at this frame, or None."""
    if not p.enabled or frame < p.interval:
        return None
    k, since = divmod(frame, p.interval)
    return k if since < p.hold else None


def jump_offset(p: Perturbation, seed: int, k: int) -> tuple[float, float]:
    rng = np.random.default_rng([int(seed) ^ 0xBEEF, k])
    d_pan, d_tilt = rng.uniform(-1.0, 1.0, size=2)
    return float(d_pan * p.range_rad), float(d_tilt * p.range_rad * TILT_SHARE)
