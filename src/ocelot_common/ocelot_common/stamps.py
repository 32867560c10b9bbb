"""Frame stamps as exact integers (ROS-free; takes anything with .sec and .nanosec, e.g. builtin_interfaces/Time).

Every stream of one camera frame (the image, its ground truth, the answer to it) carries that frame's exact
stamp, so streams are paired by the integer nanoseconds, and the camera's period is whatever the stamps
say: nothing downstream of the sim assumes a frame rate.
"""

from __future__ import annotations

NS_PER_S = 1_000_000_000


def nanoseconds(stamp) -> int:
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def seconds(stamp) -> float:
    """The stamp as float seconds (for arithmetic on times; pair frames by `nanoseconds`)."""
    return stamp.sec + stamp.nanosec * 1e-9
