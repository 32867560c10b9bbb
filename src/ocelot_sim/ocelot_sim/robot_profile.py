"""Robot profiles: the closed loop a robot has, as data (ROS-free).

A profile says how the commands and the camera of one kind of robot behave:
- command_latency_s: from a frame's capture to the command that answers it taking effect (camera
  readout, transfer, inference, servo driver); the previous command holds until then.
- time_constant_s (pan, tilt): first-order response of each axis' velocity to its command.
- accel_limit_rad_s2 (pan, tilt): the most the velocity changes per second (inf: no limit).
- exposure_s: how long the shutter is open; the frame smears by the camera's rotation over it.

Profiles are YAML files in ocelot_sim/config/robots/ (`ideal`: the instant, ideal loop; `pi4`: a
Raspberry Pi 4 rig), named on the command line or given as a path. Collection may draw each episode's
values from ranges (`Randomisation`), seeded by the episode's seed, so a run is repeatable.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ocelot_common.config_files import installed_share_file, read_yaml

PROFILES_DIR = Path(__file__).resolve().parent.parent / "config" / "robots"  # the source tree's
SCALARS = ("command_latency_s", "exposure_s")
PER_AXIS = ("time_constant_s", "accel_limit_rad_s2")
VALUES = SCALARS + PER_AXIS
RANDOMISE_SALT = 0x20B0  # keeps the profile draw apart from the episode's other seeded draws


class RobotProfileError(ValueError):
    """A profile name, file or range that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class RobotProfile:
    name: str = "ideal"
    command_latency_s: float = 0.0
    time_constant_s: tuple[float, float] = (0.0, 0.0)
    accel_limit_rad_s2: tuple[float, float] = (math.inf, math.inf)
    exposure_s: float = 0.0

    def __post_init__(self) -> None:
        for key in SCALARS:
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise RobotProfileError(f"robot profile {self.name!r}: {key} must be a number >= 0, got {value!r}")
        for key in PER_AXIS:
            pair = getattr(self, key)
            if len(pair) != 2 or not all(isinstance(v, (int, float)) and not math.isnan(v) for v in pair):
                raise RobotProfileError(
                    f"robot profile {self.name!r}: {key} must be a number or [pan, tilt], got {pair!r}"
                )
        if min(self.time_constant_s) < 0 or math.isinf(max(self.time_constant_s)):
            raise RobotProfileError(f"robot profile {self.name!r}: time_constant_s must be finite and >= 0")
        if min(self.accel_limit_rad_s2) <= 0:
            raise RobotProfileError(f"robot profile {self.name!r}: accel_limit_rad_s2 must be > 0 (inf: none)")

    @property
    def instant_actuators(self) -> bool:
        """No latency, no lag, no acceleration limit: the command is the velocity, at once."""
        return (
            self.command_latency_s == 0 and max(self.time_constant_s) == 0 and min(self.accel_limit_rad_s2) == math.inf
        )

    def values(self) -> dict:
        """Every value, JSON-ready (inf as the string "inf"): what a report and an episode record."""
        out = asdict(self)
        for key in PER_AXIS:
            out[key] = [v if math.isfinite(v) else "inf" for v in out[key]]
        return out


def _number(value, where: str) -> float:
    if isinstance(value, str) and value.strip().lower() in ("inf", ".inf"):
        return math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RobotProfileError(f"{where} must be a number, got {value!r}")
    return float(value)


def from_values(values: dict, name: str | None = None) -> RobotProfile:
    """A profile from a mapping of its values (a YAML file's, or a report's `robot`)."""
    if not isinstance(values, dict):
        raise RobotProfileError(f"a robot profile is a mapping of {', '.join(VALUES)}; got {values!r}")
    unknown = sorted(set(values) - set(VALUES) - {"name"})
    if unknown:
        raise RobotProfileError(
            f"robot profile {name or values.get('name')!r}: unknown value(s) {', '.join(unknown)}; "
            f"known: {', '.join(VALUES)}"
        )
    name = str(name or values.get("name") or "custom")
    default = RobotProfile()
    fields: dict = {"name": name}
    for key in SCALARS:
        fields[key] = _number(values.get(key, getattr(default, key)), f"{name}: {key}")
    for key in PER_AXIS:
        raw = values.get(key, getattr(default, key))
        pair = list(raw) if isinstance(raw, (list, tuple)) else [raw, raw]
        if len(pair) != 2:
            raise RobotProfileError(f"{name}: {key} must be a number or [pan, tilt], got {raw!r}")
        fields[key] = tuple(_number(v, f"{name}: {key}") for v in pair)
    return RobotProfile(**fields)


def profile_names() -> list[str]:
    return sorted(p.stem for p in _profiles_dir().glob("*.yaml"))


def _profiles_dir() -> Path:
    installed = installed_share_file("ocelot_sim", "config/robots/ideal.yaml")
    return installed.parent if installed is not None else PROFILES_DIR


def _is_path(text: str) -> bool:
    return text.endswith((".yaml", ".yml")) or "/" in text


def profile_reference(name_or_path: str) -> str:
    """What a command line names, as the nodes should get it: a name as it is, a path made absolute."""
    text = str(name_or_path).strip()
    return str(Path(text).expanduser().resolve()) if _is_path(text) else text


def load_profile(name_or_path: str) -> RobotProfile:
    """A profile by name (ideal, pi4, ...: ocelot_sim/config/robots/NAME.yaml) or from a YAML file's path."""
    text = str(name_or_path).strip()
    if not text:
        raise RobotProfileError("no robot profile given; name one of " + ", ".join(profile_names()))
    is_path = _is_path(text)
    path = Path(text).expanduser() if is_path else _profiles_dir() / f"{text}.yaml"
    if not path.is_file():
        raise RobotProfileError(
            f"no robot profile {text!r}"
            + (f" ({path} does not exist)" if is_path else "")
            + "; profiles: "
            + ", ".join(profile_names())
            + ", or a YAML file's path"
        )
    raw = read_yaml(path, "robot profile", RobotProfileError)
    return from_values(raw if raw is not None else {}, path.stem if is_path else text)


@dataclass(frozen=True)
class Randomisation:
    """Uniform ranges per value (a per-axis value gets one draw for both axes, keeping its pan/tilt ratio)."""

    ranges: tuple[tuple[str, float, float], ...] = ()

    def apply(self, profile: RobotProfile, seed: int) -> RobotProfile:
        """The profile with each ranged value drawn for the episode of `seed` (the same seed, the same draw)."""
        if not self.ranges:
            return profile
        rng = np.random.default_rng([int(seed), RANDOMISE_SALT])
        changes: dict = {}
        for key, low, high in self.ranges:
            value = float(rng.uniform(low, high))
            if key in PER_AXIS:
                base = getattr(profile, key)
                scale = max(base) if math.isfinite(max(base)) and max(base) > 0 else 0.0
                changes[key] = tuple(value * b / scale for b in base) if scale else (value, value)
            else:
                changes[key] = value
        return replace(profile, **changes)

    def text(self) -> str:
        return ",".join(f"{key}={low:g}:{high:g}" for key, low, high in self.ranges)


def parse_randomisation(text: str) -> Randomisation:
    """'command_latency_s=0.06:0.15,time_constant_s=0.02:0.08' -> Randomisation; '' -> none."""
    ranges: list[tuple[str, float, float]] = []
    for item in filter(None, (part.strip() for part in str(text).split(","))):
        key, sep, span = item.partition("=")
        low, sep2, high = span.partition(":")
        key = key.strip()
        if not sep or not sep2 or key not in VALUES:
            raise RobotProfileError(
                f"robot randomisation {item!r} must be VALUE=LOW:HIGH with VALUE one of {', '.join(VALUES)}"
            )
        try:
            low_v, high_v = float(low), float(high)
        except ValueError:
            raise RobotProfileError(f"robot randomisation {item!r}: LOW and HIGH must be numbers") from None
        if not (math.isfinite(low_v) and math.isfinite(high_v) and 0 <= low_v <= high_v):
            raise RobotProfileError(f"robot randomisation {item!r}: needs 0 <= LOW <= HIGH, both finite")
        if key == "accel_limit_rad_s2" and low_v <= 0:
            raise RobotProfileError(f"robot randomisation {item!r}: an acceleration limit must be > 0")
        if any(key == seen for seen, _, _ in ranges):
            raise RobotProfileError(f"robot randomisation names {key} twice")
        ranges.append((key, low_v, high_v))
    return Randomisation(tuple(ranges))
