"""The oracle's control law: P on the angular error plus velocity feed-forward.

A pure P controller at 10 Hz lags the target by a frame; adding the target's own
angular rate (feed-forward) removes that lag. The rate is the ground truth's
when given (extrapolated over the coming period with the change since the last
frame), else estimated from successive bearings. Angles follow the rig: pan is
positive counter-clockwise seen from above (target left of centre -> positive),
tilt is positive upwards (target above centre -> positive).
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class OracleGains:
    gain: float = 0.7            # share of the angular error removed per camera period
    period_s: float = 0.1        # camera period
    max_velocity: float = 1.0    # joint limit, rad/s
    feed_forward: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.gain <= 1.0:
            raise ValueError(f"gain must be in (0, 1], got {self.gain}")
        if self.period_s <= 0 or self.max_velocity <= 0:
            raise ValueError("period_s and max_velocity must be positive")


@dataclass(frozen=True)
class Camera:
    width: int = 640
    height: int = 480
    hfov_deg: float = 60.0

    @property
    def focal_px(self) -> float:
        return (self.width / 2) / math.tan(math.radians(self.hfov_deg) / 2)


def pixel_to_angles(u: float, v: float, camera: Camera) -> tuple[float, float]:
    """Angular offset (pan, tilt) of pixel (u, v) from the optical axis, in the rig's signs."""
    f = camera.focal_px
    return math.atan2(camera.width / 2 - u, f), math.atan2(camera.height / 2 - v, f)


class OracleLaw:
    """Stateful: remembers the target's last world bearing to estimate its rate."""

    def __init__(self, gains: OracleGains = OracleGains(), camera: Camera = Camera()) -> None:
        self.gains = gains
        self.camera = camera
        self._last: tuple[float, float, float] | None = None  # (t, pan bearing, tilt bearing)
        self._last_rate: tuple[float, float, float] | None = None  # (t, pan rate, tilt rate)

    def reset(self) -> None:
        self._last = self._last_rate = None

    def command(self, t: float, u: float, v: float, pan: float, tilt: float,
                rate: tuple[float, float] | None = None) -> tuple[float, float]:
        """(pan_vel, tilt_vel) for target pixel (u, v) seen at time t with joints at (pan, tilt).

        `rate`: the target's true (azimuth, elevation) rate at t, when known.
        """
        err_pan, err_tilt = pixel_to_angles(u, v, self.camera)
        bearing = (pan + err_pan, tilt + err_tilt)
        ff_pan = ff_tilt = 0.0
        if self.gains.feed_forward and rate is not None:
            ff_pan, ff_tilt = rate
            last = self._last_rate
            if last is not None and 0 < t - last[0] <= 1.5 * self.gains.period_s:
                # the mean rate over the coming period: half a period of the recent change on top
                half = 0.5 * self.gains.period_s / (t - last[0])
                ff_pan += half * (rate[0] - last[1])
                ff_tilt += half * (rate[1] - last[2])
            self._last_rate = (t, *rate)
        elif self.gains.feed_forward and self._last is not None and t > self._last[0]:
            dt = t - self._last[0]
            ff_pan = (bearing[0] - self._last[1]) / dt
            ff_tilt = (bearing[1] - self._last[2]) / dt
        self._last = (t, *bearing)
        k = self.gains.gain / self.gains.period_s
        return self.clip(k * err_pan + ff_pan), self.clip(k * err_tilt + ff_tilt)

    def clip(self, value: float) -> float:
        limit = self.gains.max_velocity
        if not math.isfinite(value):
            return 0.0
        return max(-limit, min(limit, value))
