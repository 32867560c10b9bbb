"""Scenario generation: everything about an episode follows deterministically from its seed.

A scenario names 1-3 faces (texture, distance, motion), which one the command
targets, the command's phrasing, and the domain randomisation (walls, floor,
lights, camera noise and brightness). Scenario files (YAML) override any field;
what they leave out still follows from the seed. `face_split` (train, val or
test) draws every procedural face from that partition of the face pool
(collection sets it from the seed, so a dataset's splits hold disjoint faces).
`phrasing_split` (train or held_out) draws the command from that set of
phrasings; generated scenarios use `train`, and a training collection refuses
what `held_out_of_training` names (held-out phrasings, photographed faces).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ocelot_common.config_files import read_yaml
from ocelot_common.labels import LABELS
from ocelot_common.phrasings import PHRASING_SPLITS, is_held_out, phrasings
from ocelot_dataset.splits import FACE_SPLITS
from ocelot_sim.faces import Attributes, TextureError, detectable_procedural, load_texture, parse_texture_name
from ocelot_sim.motion import MOTIONS, MotionSpec

DEFAULT_LABEL_MIX = {"track": 0.4, "multi_left": 0.15, "multi_right": 0.15, "multi_closest": 0.15, "multi_attr": 0.15}
DISTANCE_RANGE = (1.0, 4.0)  # m
SPEED_RANGE = (0.0, 1.0)  # rad/s a scenario may ask for (the joints' limit)
GENERATED_SPEED = (0.05, 0.5)  # rad/s the generator draws
AZIMUTH_SPAN = 0.5  # faces stay within +-this azimuth (all in view at the start), rad
ELEVATION_SPAN = 0.12  # lane centres within +-this elevation, rad
LANE_GAP = 0.06  # rad between neighbouring lanes
CLOSEST_MARGIN_M = 0.5
MAX_FACES = 3
BILLBOARD_HALF_M = 0.25  # the face poster is 0.5 m square (worlds/ocelot_world.xml)


class ScenarioError(ValueError):
    """A scenario field that cannot be used; the message names the field."""


@dataclass(frozen=True)
class FaceSpec:
    texture: str
    distance_m: float
    motion: MotionSpec
    attributes: Attributes


@dataclass(frozen=True)
class Scenario:
    seed: int
    label_key: str
    command: str
    target: int
    faces: tuple[FaceSpec, ...]
    wall_colours: tuple[tuple[float, float, float], tuple[float, float, float]]
    floor_colour: tuple[float, float, float]
    light_intensity: float
    camera_noise_sigma: float  # std of additive Gaussian noise, share of full scale
    brightness_offset: float  # added to every pixel, 0..255 scale

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def scenario_id(self) -> str:
        """Stable content hash: episodes of the same scenario share it (splits group by it)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:16]


def held_out_of_training(scenario: Scenario) -> str:
    """Why no training episode may be made of `scenario` ('' if it may): its command is a held-out phrasing
    or one of its faces is a photograph. Both are kept for measuring generalisation."""
    if is_held_out(scenario.command):
        return f"its command {scenario.command!r} is a held-out phrasing"
    photos = [face.texture for face in scenario.faces if parse_texture_name(face.texture)[0] == "photo"]
    if photos:
        return f"its face {photos[0]!r} is a photograph"
    return ""


def _poster_half_angle(distance_m: float) -> float:
    return math.atan(BILLBOARD_HALF_M / distance_m)


def _travel(lane_half: float, distance_m: float) -> float:
    """How far a face may move from its lane centre so that its whole poster stays in the lane."""
    return max(0.0, lane_half - _poster_half_angle(distance_m))


def _min_distance(lane_half: float) -> float:
    """Closest distance at which a poster still fits its lane (lanes are disjoint: no overlaps)."""
    return max(DISTANCE_RANGE[0], BILLBOARD_HALF_M / math.tan(max(lane_half - 0.01, 1e-3)))


def _lanes(n: int) -> list[tuple[float, float]]:
    """n azimuth lanes (centre, half width), right to left (ascending azimuth)."""
    width = (2 * AZIMUTH_SPAN - (n - 1) * LANE_GAP) / n
    return [(-AZIMUTH_SPAN + width / 2 + i * (width + LANE_GAP), width / 2) for i in range(n)]


def _attr_command(rng: np.random.Generator, target: Attributes, table: dict) -> tuple[str, Any]:
    """Pick an attribute of the target to name, and a test that the other faces must fail."""
    kinds = ["glasses"] * target.glasses + ["hat"] * target.hat + ["hair", "shirt"]
    kind = str(rng.choice(kinds))
    text = str(rng.choice(table["multi_attr"][kind]))
    if kind == "glasses":
        return text, lambda a: not a.glasses
    if kind == "hat":
        return text, lambda a: not a.hat
    if kind == "hair":
        return text.format(hair=target.hair_colour), lambda a: a.hair_colour != target.hair_colour
    return text.format(shirt=target.shirt_colour), lambda a: a.shirt_colour != target.shirt_colour


def _colour(rng: np.random.Generator, low: float, high: float) -> tuple[float, float, float]:
    red, green, blue = rng.uniform(low, high, 3)
    return float(red), float(green), float(blue)


def generate(
    seed: int, label_mix: dict[str, float] | None = None, overrides: dict | None = None, face_split: str | None = None
) -> Scenario:
    """The scenario of a seed; `overrides` (one scenario-file entry) replace fields. `face_split` draws the
    faces from that partition of the pool unless the overrides name one (None: the whole pool)."""
    overrides = validate_overrides(dict(overrides or {}))
    split = overrides.get("face_split", face_split)
    table = phrasings(overrides.get("phrasing_split", "train"))
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ScenarioError(f"seed must be a non-negative integer, got {seed!r}")
    rng = np.random.default_rng([seed, 0x5CE7])
    mix = label_mix or DEFAULT_LABEL_MIX
    label = overrides.get("label_key") or str(rng.choice(list(mix), p=np.array(list(mix.values())) / sum(mix.values())))
    face_overrides = overrides.get("faces")
    n = 1 if label == "track" else int(rng.integers(2, MAX_FACES + 1))  # drawn always: keeps the stream aligned
    n = len(face_overrides) if face_overrides else n
    if label != "track" and n < 2:
        raise ScenarioError(f"label_key '{label}' needs at least 2 faces, got {n}")
    lanes = _lanes(n)
    target = {"track": 0, "multi_left": n - 1, "multi_right": 0}.get(label, int(rng.integers(0, n)))

    # textures: the target first, so a multi_attr command can name what only it has
    target_index = detectable_procedural(rng, split=split)
    target_attrs = load_texture(f"procedural:{target_index}").attributes
    command, others_ok = ("", lambda a: True)
    if label == "multi_attr":
        command, others_ok = _attr_command(rng, target_attrs, table)
    textures = [
        f"procedural:{target_index}"
        if i == target
        else f"procedural:{detectable_procedural(rng, others_ok, split=split)}"
        for i in range(n)
    ]
    if not command:
        command = str(rng.choice(table[label]))

    nearest = _min_distance(lanes[0][1]) if n > 1 else DISTANCE_RANGE[0]
    distances = [float(rng.uniform(nearest, DISTANCE_RANGE[1])) for _ in range(n)]
    if label == "multi_closest":
        distances[target] = float(rng.uniform(nearest, 2.5))
        for i in range(n):
            if i != target:
                distances[i] = float(rng.uniform(distances[target] + CLOSEST_MARGIN_M, DISTANCE_RANGE[1]))

    faces = []
    for i, (centre_az, half) in enumerate(lanes):
        pattern = str(rng.choice(MOTIONS))
        travel = _travel(half, distances[i])
        # a face in a narrow lane moves slower: a sweep across it takes >= 1 s, as a person's would
        speed = 0.0 if pattern == "static" else min(float(rng.uniform(*GENERATED_SPEED)), 2.0 * travel)
        motion = MotionSpec(
            pattern,
            speed,
            (centre_az, float(rng.uniform(-ELEVATION_SPAN, ELEVATION_SPAN))),
            travel,
            float(rng.uniform(-0.35, 0.35)),
            float(rng.uniform()),
            int(rng.integers(2**31)),
        )
        faces.append(FaceSpec(textures[i], distances[i], motion, load_texture(textures[i]).attributes))

    wall_a, wall_b = _colour(rng, 0.35, 0.8), _colour(rng, 0.35, 0.8)
    scenario = Scenario(
        seed=seed,
        label_key=label,
        command=command,
        target=target,
        faces=tuple(faces),
        wall_colours=(wall_a, wall_b),
        floor_colour=_colour(rng, 0.2, 0.5),
        light_intensity=float(rng.uniform(0.65, 1.0)),
        camera_noise_sigma=float(rng.uniform(0.0, 0.02)),
        brightness_offset=float(rng.uniform(-15, 15)),
    )
    return _apply_overrides(scenario, overrides)


# -- overrides and scenario files ------------------------------------------------
TOP_FIELDS = {
    "seed",
    "label_key",
    "command",
    "faces",
    "camera_noise_sigma",
    "brightness_offset",
    "light_intensity",
    "face_split",
    "phrasing_split",
}
FACE_FIELDS = {"texture", "distance_m", "motion", "speed"}


def validate_overrides(entry: dict) -> dict:
    unknown = sorted(set(entry) - TOP_FIELDS)
    if unknown:
        raise ScenarioError(f"unknown scenario field '{unknown[0]}'; fields: {', '.join(sorted(TOP_FIELDS))}")
    if "label_key" in entry and entry["label_key"] not in LABELS:
        raise ScenarioError(f"label_key: unknown label '{entry['label_key']}'; labels: {', '.join(LABELS)}")
    if "face_split" in entry and entry["face_split"] not in FACE_SPLITS:
        raise ScenarioError(f"face_split: unknown split {entry['face_split']!r}; splits: {', '.join(FACE_SPLITS)}")
    if "phrasing_split" in entry and entry["phrasing_split"] not in PHRASING_SPLITS:
        raise ScenarioError(
            f"phrasing_split: unknown split {entry['phrasing_split']!r}; splits: {', '.join(PHRASING_SPLITS)}"
        )
    if "command" in entry and not (isinstance(entry["command"], str) and entry["command"].strip()):
        raise ScenarioError("command: must be non-empty text")
    _check_range(entry, "camera_noise_sigma", 0.0, 0.2, "")
    _check_range(entry, "brightness_offset", -100.0, 100.0, "")
    _check_range(entry, "light_intensity", 0.05, 1.5, "")
    faces = entry.get("faces")
    if faces is not None:
        if not isinstance(faces, list) or not 1 <= len(faces) <= MAX_FACES:
            raise ScenarioError(f"faces: must be a list of 1 to {MAX_FACES} faces")
        for i, face in enumerate(faces):
            where = f"faces[{i}]."
            if not isinstance(face, dict):
                raise ScenarioError(f"faces[{i}]: must be a mapping with fields {', '.join(sorted(FACE_FIELDS))}")
            unknown = sorted(set(face) - FACE_FIELDS)
            if unknown:
                raise ScenarioError(f"{where}{unknown[0]}: unknown field; fields: {', '.join(sorted(FACE_FIELDS))}")
            if "texture" in face:
                try:
                    parse_texture_name(face["texture"])
                except TextureError as exc:
                    raise ScenarioError(f"{where}texture: {exc}") from None
            if "motion" in face and face["motion"] not in MOTIONS:
                raise ScenarioError(f"{where}motion: unknown motion '{face['motion']}'; motions: {', '.join(MOTIONS)}")
            _check_range(face, "distance_m", *DISTANCE_RANGE, where)
            _check_range(face, "speed", *SPEED_RANGE, where)
    return entry


def _check_range(entry: dict, key: str, low: float, high: float, where: str) -> None:
    if key not in entry:
        return
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ScenarioError(f"{where}{key}: must be a number, got {value!r}")
    if not low <= value <= high:
        raise ScenarioError(f"{where}{key}: {value} is outside [{low}, {high}]")


def _apply_overrides(scenario: Scenario, entry: dict) -> Scenario:
    changes = {
        k: entry[k] for k in ("command", "camera_noise_sigma", "brightness_offset", "light_intensity") if k in entry
    }
    faces = list(scenario.faces)
    for i, face in enumerate(entry.get("faces") or []):
        motion = faces[i].motion
        if "motion" in face:
            motion = replace(
                motion, pattern=face["motion"], speed=0.0 if face["motion"] == "static" else motion.speed or 0.2
            )
        if "speed" in face:
            motion = replace(motion, speed=float(face["speed"]))
        distance = float(face.get("distance_m", faces[i].distance_m))
        lane_half = _lanes(len(faces))[i][1]
        motion = replace(motion, half_width=_travel(lane_half, distance))
        texture = face.get("texture", faces[i].texture)
        try:
            attributes = load_texture(texture).attributes
        except TextureError as exc:
            raise ScenarioError(f"faces[{i}].texture: {exc}") from None
        faces[i] = FaceSpec(texture, distance, motion, attributes)
    if scenario.label_key == "multi_closest" and entry.get("faces"):
        nearest = min(range(len(faces)), key=lambda i: faces[i].distance_m)
        if nearest != scenario.target:
            changes["target"] = nearest
    return replace(scenario, faces=tuple(faces), **changes)


def load_scenario_file(path: str | Path) -> list[dict]:
    """Entries of a scenario file: a YAML list of {seed, ...overrides}; each is validated."""
    path = Path(path)
    entries = read_yaml(path, "scenario file", ScenarioError)
    if isinstance(entries, dict) and "scenarios" in entries:
        entries = entries["scenarios"]
    if not isinstance(entries, list) or not entries:
        raise ScenarioError(f"scenario file {path} must hold a non-empty list of {{seed, ...}} entries")
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or "seed" not in entry:
            raise ScenarioError(f"{path}: entry {i} must be a mapping with a 'seed'")
        try:
            validate_overrides(entry)
        except ScenarioError as exc:
            raise ScenarioError(f"{path}: entry {i}: {exc}") from None
    return entries


def from_entry(entry: dict, label_mix: dict[str, float] | None = None, face_split: str | None = None) -> Scenario:
    overrides = {k: v for k, v in entry.items() if k != "seed"}
    return generate(entry["seed"], label_mix, overrides, face_split)


def check_scenario_file(path: str) -> None:
    """'' (no file: seeded scenarios) or a file that loads; raises ScenarioError naming the problem."""
    if path:
        load_scenario_file(path)


def scenario_for_request(
    seed: int, spec_yaml: str = "", label_mix: dict[str, float] | None = None, face_split: str | None = None
) -> Scenario:
    """The scenario a reset request names: a seed, plus optional overrides as YAML text."""
    overrides = {}
    if spec_yaml.strip():
        try:
            overrides = yaml.safe_load(spec_yaml)
        except yaml.YAMLError as exc:
            raise ScenarioError(f"spec_yaml is not valid YAML: {exc}") from None
        if not isinstance(overrides, dict):
            raise ScenarioError("spec_yaml must be a mapping of scenario fields")
        overrides.pop("seed", None)
    return generate(int(seed), label_mix, overrides, face_split)
