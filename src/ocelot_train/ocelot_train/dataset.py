"""Frames of collected episodes as (frame, action, command) samples, read lazily from the HDF5 files.

The flat (episode, frame) index comes from metadata.json and the split files,
so building it opens no episode file (a 50k-episode dataset indexes in
milliseconds). Files are opened on first use in each process (DataLoader
workers get their own handles). Frames go through the shared preprocessing
(ocelot_common.preprocessing.frames_to_input), as in the policy node.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ocelot_common.attributes import face_classes
from ocelot_common.camera import CAMERA_PX
from ocelot_common.episode_context import no_previous_action
from ocelot_common.preprocessing import frames_to_input, image_point_to_unit
from ocelot_common.text import normalise_command
from ocelot_dataset.episode_io import commanded_face_attributes, episode_path, scenario_metadata, scene_face_count
from ocelot_dataset.index import load_metadata, read_split


class DatasetError(ValueError):
    """A dataset that cannot be trained on; the message names the file or split and what to do."""


@dataclass(frozen=True)
class SplitIndex:
    root: Path
    split: str
    episodes: np.ndarray  # (E,) episode indices
    sample_episode: np.ndarray  # (N,) position in `episodes` per sample
    sample_frame: np.ndarray  # (N,) frame index within its episode
    commands: list[str]  # per episode, normalised
    labels: list[str]  # per episode

    def __len__(self) -> int:
        return len(self.sample_frame)


def build_index(root: str | Path, split: str) -> SplitIndex:
    root = Path(root)
    try:
        metadata = load_metadata(root)
        wanted = read_split(root, split)
    except (FileNotFoundError, ValueError) as exc:
        raise DatasetError(str(exc)) from None
    if not wanted:
        raise DatasetError(
            f"the {split} split of {root} is empty ({split}.txt lists no episode); collect more "
            "episodes or rebuild the splits with `ocelot merge-datasets --rebuild`"
        )
    table = metadata.get("episodes", {})
    missing = [ep for ep in wanted if f"{ep:06d}" not in table]
    if missing:
        raise DatasetError(
            f"{split}.txt lists episode(s) {missing[:5]} that metadata.json does not; rebuild it with "
            f"`ocelot merge-datasets --rebuild {root}`"
        )
    absent = [ep for ep in wanted if not episode_path(root, ep).is_file()]
    if absent:
        raise DatasetError(
            f"{len(absent)} episode file(s) of the {split} split are missing, e.g. "
            f"{episode_path(root, absent[0])}; re-run the collection or rebuild the index"
        )
    counts = np.array([table[f"{ep:06d}"]["n_frames"] for ep in wanted], np.int64)
    return SplitIndex(
        root=root,
        split=split,
        episodes=np.asarray(wanted, np.int64),
        sample_episode=np.repeat(np.arange(len(wanted)), counts),
        sample_frame=np.concatenate([np.arange(c) for c in counts]) if len(counts) else np.zeros(0, np.int64),
        commands=[normalise_command(table[f"{ep:06d}"]["cmd"]) for ep in wanted],
        labels=[table[f"{ep:06d}"]["label_key"] for ep in wanted],
    )


class EpisodeFrames:
    """Per-process cache of open HDF5 files and of each episode's small arrays."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._pid: int | None = None
        self._files: dict[int, Any] = {}  # episode -> open h5py.File
        self._actions: dict[int, np.ndarray] = {}
        self._applied: dict[int, np.ndarray] = {}
        self._targets: dict[int, np.ndarray] = {}
        self._attributes: dict[int, np.ndarray] = {}
        self._face_counts: dict[int, int] = {}

    def _file(self, episode: int):
        import h5py

        if self._pid != os.getpid():  # a forked DataLoader worker must not share the parent's handles
            self._pid, self._files, self._actions, self._applied, self._targets = os.getpid(), {}, {}, {}, {}
            self._attributes, self._face_counts = {}, {}
        handle = self._files.get(episode)
        if handle is None:
            path = episode_path(self.root, episode)
            try:
                handle = self._files[episode] = h5py.File(path, "r")
                self._actions[episode] = np.stack([handle["pan_vel"][()], handle["tilt_vel"][()]], 1).astype(np.float32)
                # DAgger episodes record what was applied beside the label: that is what the policy sent
                self._applied[episode] = (
                    handle["applied"][()].astype(np.float32) if "applied" in handle else self._actions[episode]
                )
                self._targets[episode] = (
                    image_point_to_unit(handle["target_px"][()], CAMERA_PX)
                    if "target_px" in handle
                    else np.full_like(self._actions[episode], np.nan)
                )
                scenario = scenario_metadata(handle)
                self._attributes[episode] = np.array(face_classes(commanded_face_attributes(scenario)), np.int64)
                self._face_counts[episode] = scene_face_count(scenario)
            except (OSError, KeyError) as exc:
                raise DatasetError(
                    f"{path}: unreadable episode file ({exc}); `ocelot check-dataset` lists the broken files"
                ) from None
        return handle

    def attributes(self, episode: int) -> np.ndarray:
        """The commanded face's attribute classes (ocelot_common.attributes.face_classes), UNKNOWN where the
        episode does not record them."""
        self._file(episode)
        return self._attributes[episode]

    def face_count(self, episode: int) -> int:
        """How many faces the episode's scene has (0: not recorded)."""
        self._file(episode)
        return self._face_counts[episode]

    def frame(self, episode: int, index: int) -> np.ndarray:
        try:
            return self._file(episode)["frames"][index]
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{episode_path(self.root, episode)}: frame {index} unreadable ({exc})") from None

    def first_error(self, episode: int) -> float:
        """Ground-truth target distance from the image centre on the episode's first frame, px."""
        return float(self._file(episode)["gt_error_px"][0])

    def action(self, episode: int, index: int) -> np.ndarray:
        self._file(episode)
        return self._actions[episode][index]

    def applied(self, episode: int, index: int) -> np.ndarray:
        """The command the sim applied for frame `index` (the label, unless the episode records otherwise)."""
        self._file(episode)
        return self._applied[episode][index]

    def target(self, episode: int, index: int) -> np.ndarray:
        """The commanded face's position on frame `index` in read-out coordinates; NaN: out of view or
        not recorded (episodes before schema 1.2)."""
        self._file(episode)
        return self._targets[episode][index]


_NOISE = np.random.default_rng(7).normal(0, 1, 224 * 224 * 3 * 2).astype(np.float32)


def augment_frame(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Photometric only (contrast, brightness, noise): geometry would change what the command means.
    The noise is a random window of a fixed bank: drawing 150k normals per frame cost more than the model."""
    import cv2

    gain, bias = rng.uniform(0.8, 1.2), rng.uniform(-20, 20)
    x = cv2.convertScaleAbs(frame, alpha=gain, beta=bias + 128 * (1 - gain)).astype(np.float32)
    start = int(rng.integers(0, _NOISE.size - frame.size))
    x += _NOISE[start : start + frame.size].reshape(frame.shape) * rng.uniform(0, 6)
    return np.clip(x, 0, 255).astype(np.uint8)


class FrameDataset:
    """Samples: {"frame": (3,224,224) float32, "action": (2,) float32, "previous_action": (2,) float32
    (the command applied for the frame before; zero on an episode's first frame), "earlier_action" (the one
    for the frame before that; zero on the first two), "target_xy": (2,) float32
    (the commanded face in read-out coordinates, NaN if unknown), "target_attributes": (4,) int64 (its attribute
    classes, ocelot_common.attributes.face_classes), "face_count": int (the scene's faces, 0: not recorded),
    "command": int, "label": int,
    "has_previous": bool (not an episode's first frame)}; with `previous_frame`, also "previous_frame": the
    frame before (the frame itself on an episode's first), augmented as the frame is.

    `command` and `label` index into `self.command_table` / `self.label_table`, so the
    text features can be computed once per distinct command.
    """

    def __init__(
        self, root: str | Path, split: str, augment: bool = False, seed: int = 0, previous_frame: bool = False
    ) -> None:
        self.index = build_index(root, split)
        self.command_table = sorted(set(self.index.commands))
        self.label_table = sorted(set(self.index.labels))
        command_row = {c: i for i, c in enumerate(self.command_table)}
        label_row = {c: i for i, c in enumerate(self.label_table)}
        self._command_of = np.array([command_row[c] for c in self.index.commands], np.int64)
        self._label_of = np.array([label_row[c] for c in self.index.labels], np.int64)
        self._frames = EpisodeFrames(self.index.root)
        self.augment, self.seed = augment, seed
        self._rng: tuple[int, np.random.Generator] | None = None  # (pid, stream)
        self.previous_frame = previous_frame

    def __len__(self) -> int:
        return len(self.index)

    def _locate(self, i: int) -> tuple[int, int, int]:
        """Sample i -> (slot in the split's episode list, episode index, frame index)."""
        slot = int(self.index.sample_episode[i])
        return slot, int(self.index.episodes[slot]), int(self.index.sample_frame[i])

    def targets(self, i: int) -> dict:
        """Everything of sample i but the frame: action, previous action, command and label indices."""
        slot, episode, t = self._locate(i)
        previous = self._frames.applied(episode, t - 1) if t > 0 else no_previous_action()[0]
        earlier = self._frames.applied(episode, t - 2) if t > 1 else no_previous_action()[0]
        return {
            "action": self._frames.action(episode, t),
            "previous_action": previous,
            "earlier_action": earlier,
            "target_xy": self._frames.target(episode, t),
            "target_attributes": self._frames.attributes(episode),
            "face_count": self._frames.face_count(episode),
            "command": self._command_of[slot],
            "label": self._label_of[slot],
            "has_previous": t > 0,
        }

    def __getitem__(self, i: int) -> dict:
        _, episode, t = self._locate(i)
        frames = [self._frames.frame(episode, t)]
        if self.previous_frame:
            frames.append(self._frames.frame(episode, t - 1) if t > 0 else frames[0])
        if self.augment:
            if self._rng is None or self._rng[0] != os.getpid():  # each DataLoader worker draws its own stream
                self._rng = (os.getpid(), np.random.default_rng([self.seed, os.getpid()]))
            rng = self._rng[1]
            if self.previous_frame:  # one draw for both: consecutive camera frames share their lighting
                draw = int(rng.integers(2**63))
                frames = [augment_frame(f, np.random.default_rng(draw)) for f in frames]
            else:
                frames = [augment_frame(frames[0], rng)]
        sample = {"frame": frames_to_input(frames[0])[0], **self.targets(i)}
        if self.previous_frame:
            sample["previous_frame"] = frames_to_input(frames[1])[0]
        return sample

    def sample_weights(
        self, weight: float, frames: int, min_px: float, label_weights: dict[str, float] | None = None
    ) -> np.ndarray:
        """Per-sample draw weights: `weight` for the first `frames` frames of episodes whose target starts
        at least `min_px` off-centre (an acquisition), 1 elsewhere; times `label_weights[label]` where named."""
        unknown = sorted(set(label_weights or {}) - set(self.label_table))
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: no episode of the {self.index.split} split has this label; "
                f"its labels: {', '.join(self.label_table)}"
            )
        # "not <": a target out of view on the first frame (NaN) starts off-centre too
        starts_off = np.array([not self._frames.first_error(int(ep)) < min_px for ep in self.index.episodes])
        acquiring = starts_off[self.index.sample_episode] & (self.index.sample_frame < frames)
        per_label = np.array([(label_weights or {}).get(name, 1.0) for name in self.label_table])
        return np.where(acquiring, weight, 1.0) * per_label[self._label_of[self.index.sample_episode]]

    def frame_input(self, i: int) -> np.ndarray:
        """Sample i's frame as model input, never augmented (feature caching)."""
        _, episode, t = self._locate(i)
        return frames_to_input(self._frames.frame(episode, t))[0]


class CachedTokenDataset:
    """The same samples with the frozen vision encoder's cached tokens in place of the frame."""

    def __init__(self, frames: FrameDataset, tokens: Any) -> None:
        """`tokens[i]`: sample i's tokens (an array, or features.EpisodeTokens reading them per episode)."""
        self.frames, self.tokens = frames, tokens

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> dict:
        sample = {"tokens": np.asarray(self.tokens[i], np.float32), **self.frames.targets(i)}
        if self.frames.previous_frame:  # samples of an episode are consecutive in the flat index
            sample["previous_tokens"] = np.asarray(self.tokens[i - 1 if sample["has_previous"] else i], np.float32)
        return sample
