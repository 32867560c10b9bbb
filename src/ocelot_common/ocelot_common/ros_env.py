"""The ROS environment every Ocelot process runs in.

DDS discovery stays on this machine (otherwise it multicasts on the network),
the RMW is named explicitly, and each stack gets an explicit domain so that
separate stacks (test workers, collection workers) never hear each other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DEFAULTS = {
    "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
    "RMW_IMPLEMENTATION": "rmw_fastrtps_cpp",
    "ROS_DOMAIN_ID": "42",
    "MUJOCO_GL": "egl",
    # 900 kB camera frames: over default UDP, a lost fragment waited for the writer's heartbeat (seconds);
    # LARGE_DATA sends user data over shared memory / TCP and keeps UDP for discovery only.
    "FASTDDS_BUILTIN_TRANSPORTS": "LARGE_DATA",
    # lost reliable samples are repaired within 50 ms, not the 3 s default (see the profile's comment)
    "FASTDDS_DEFAULT_PROFILES_FILE": str(Path(__file__).with_name("fastdds_profile.xml")),
    "MLFLOW_DISABLE_TELEMETRY": "true",
}
MANAGER_NODE = "lifecycle_manager"  # the node name of a graph's lifecycle manager (ocelot_bringup)
MAX_DOMAIN_ID = 101  # the highest domain id valid for every DDS port mapping on Linux


def ros_environment(base: Mapping[str, str] | None = None, domain_id: int | None = None) -> dict[str, str]:
    """Return a copy of ``base`` (default: os.environ) with Ocelot's ROS settings filled in.

    Values already set win, except ``domain_id`` which, when given, overrides.
    """
    env = dict(os.environ if base is None else base)
    for key, value in DEFAULTS.items():
        env.setdefault(key, value)
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(validate_domain_id(domain_id))
    return env


def apply_defaults() -> None:
    """Fill in Ocelot's ROS settings in this process's environment before rclpy.init()."""
    os.environ.update(ros_environment())


def validate_domain_id(domain_id: int) -> int:
    if not 0 <= int(domain_id) <= MAX_DOMAIN_ID:
        raise ValueError(f"ROS_DOMAIN_ID must be within 0..{MAX_DOMAIN_ID}, got {domain_id}")
    return int(domain_id)
