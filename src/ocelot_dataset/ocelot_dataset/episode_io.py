"""Episode files: one HDF5 file per episode, written under a temporary name and renamed when complete.

Schema (what training, offline evaluation and the checks read):
  frames       (N, 224, 224, 3) uint8, one frame per chunk, gzip
  pan_vel      (N,) float32   oracle command, /cmd_vel angular.z (rad/s)
  tilt_vel     (N,) float32   oracle command, /cmd_vel angular.y (rad/s)
  gt_error_px  (N,) float32   ground-truth distance of the target from the image centre (640x480 px)
  perturbed    (N,) bool      a perturbation jump holds the target at this frame
  sim_time     (N,) float64   frame time in the episode (s)
  applied      (N, 2) float32 optional: the command the sim applied for each frame (pan, tilt), recorded
                              when the label is not it (DAgger: a policy steers, the oracle labels)
  target_px    (N, 2) float32 optional (schema 1.2): the commanded face's projected point (u right, v down,
                              640x480 px); NaN while it is out of view
  cmd, label_key, metadata    scalar strings (metadata: JSON with the scenario, the collection settings and
                              `robot`, the robot profile values the episode was collected under)
  attrs: schema_version, n_frames, episode_index, scenario_id
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ocelot_common.preprocessing import STANDARD

SCHEMA_VERSION = "1.2"
FRAME_SHAPE = (STANDARD.frame_size, STANDARD.frame_size, 3)  # a stored frame: the policy frame, RGB uint8
EPISODE_DIR = "episodes"
TMP_SUFFIX = ".h5.tmp"


class EpisodeError(ValueError):
    """An episode file that cannot be used; the message names the file."""


@dataclass
class Episode:
    index: int
    frames: np.ndarray
    pan_vel: np.ndarray
    tilt_vel: np.ndarray
    gt_error_px: np.ndarray
    perturbed: np.ndarray
    sim_time: np.ndarray
    cmd: str
    label_key: str
    metadata: dict
    applied: np.ndarray | None = None
    target_px: np.ndarray | None = None

    @property
    def scenario_id(self) -> str:
        return str(self.metadata.get("scenario_id", ""))


def episode_path(root: Path, index: int) -> Path:
    return Path(root) / EPISODE_DIR / f"ep_{index:06d}.h5"


def episode_index_of(path: Path) -> int:
    return int(Path(path).name[len("ep_") : len("ep_") + 6])


def write_episode(root: Path, episode: Episode, compression_level: int = 4) -> Path:
    """Write atomically: a killed writer leaves at most a .tmp file, never a partial episode;
    a failed write (a full disk) removes its .tmp file and raises."""
    return _write_atomically(
        episode_path(root, episode.index), lambda tmp: _write_file(tmp, episode, compression_level)
    )


def write_episode_file(root: Path, index: int, data: bytes) -> Path:
    """An episode file made elsewhere (another machine's worker), written as `write_episode` writes: under
    the temporary name, synced, then renamed."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())

    return _write_atomically(episode_path(root, index), write)


def _write_atomically(final: Path, write: Callable[[Path], None]) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(final.name[: -len(".h5")] + TMP_SUFFIX)
    try:
        write(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, final)
    return final


def _write_file(tmp: Path, episode: Episode, compression_level: int) -> None:
    import h5py

    n = len(episode.frames)
    with h5py.File(tmp, "w") as f:
        f.create_dataset(
            "frames",
            data=episode.frames,
            chunks=(1, *episode.frames.shape[1:]),
            compression="gzip",
            compression_opts=compression_level,
        )
        for name, dtype in (
            ("pan_vel", np.float32),
            ("tilt_vel", np.float32),
            ("gt_error_px", np.float32),
            ("perturbed", bool),
            ("sim_time", np.float64),
        ):
            f.create_dataset(name, data=np.asarray(getattr(episode, name), dtype=dtype))
        for name in ("applied", "target_px"):
            if getattr(episode, name) is not None:
                f.create_dataset(name, data=np.asarray(getattr(episode, name), np.float32).reshape(n, 2))
        f["cmd"] = episode.cmd
        f["label_key"] = episode.label_key
        f["metadata"] = json.dumps(episode.metadata, sort_keys=True)
        f.attrs.update(
            schema_version=SCHEMA_VERSION, n_frames=n, episode_index=episode.index, scenario_id=episode.scenario_id
        )
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())


def read_summary(path: Path) -> dict:
    """Counts and labels without reading frames; raises EpisodeError naming the file."""
    import h5py

    try:
        with h5py.File(path, "r") as f:
            n = int(f.attrs["n_frames"])
            summary = {
                "episode": int(f.attrs["episode_index"]),
                "n_frames": n,
                "scenario_id": str(f.attrs["scenario_id"]),
                "label_key": f["label_key"][()].decode(),
                "cmd": f["cmd"][()].decode(),
                "frames_shape": tuple(f["frames"].shape),
                "frames_dtype": str(f["frames"].dtype),
                "textures": _textures(f),
                "camera_period_s": _period(f["sim_time"][()]),
            }
            for name in ("pan_vel", "tilt_vel", "gt_error_px", "perturbed"):
                if f[name].shape != (n,):
                    raise EpisodeError(f"{path}: {name} has shape {f[name].shape}, expected ({n},)")
            for name in ("applied", "target_px"):
                if name in f and f[name].shape != (n, 2):
                    raise EpisodeError(f"{path}: {name} has shape {f[name].shape}, expected ({n}, 2)")
            return summary
    except EpisodeError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise EpisodeError(f"{path}: unreadable episode file ({exc})") from None


def scenario_metadata(f) -> dict:
    """The episode's scenario as recorded (its metadata JSON), from an open episode file."""
    return json.loads(f["metadata"][()])


def _textures(f) -> list[str]:
    """The episode's face textures, from its scenario (metadata JSON); [] when it records none."""
    faces = scenario_metadata(f).get("faces") or []
    return [str(face["texture"]) for face in faces if isinstance(face, dict) and "texture" in face]


def commanded_face_attributes(metadata: dict) -> dict | None:
    """The commanded face's attributes as the scenario records them (scenario_metadata's `faces[target]`); None
    when it records none (a photo face without them, an episode without a scenario)."""
    faces, target = metadata.get("faces") or [], metadata.get("target")
    if not isinstance(target, int) or not 0 <= target < len(faces) or not isinstance(faces[target], dict):
        return None
    attributes = faces[target].get("attributes")
    return attributes if isinstance(attributes, dict) else None


def scene_face_count(metadata: dict) -> int:
    """How many faces the episode's scenario has (scenario_metadata's `faces`); 0 when it records none."""
    faces = metadata.get("faces")
    return len(faces) if isinstance(faces, list) else 0


def _period(sim_time: np.ndarray) -> float | None:
    """The camera period the episode's own stamps show (median step); None below two frames."""
    steps = np.diff(sim_time)
    return float(np.median(steps)) if len(steps) else None


def read_episode(path: Path, frames: bool = True) -> Episode:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return Episode(
                index=int(f.attrs["episode_index"]),
                frames=f["frames"][()] if frames else np.empty((0, *FRAME_SHAPE), np.uint8),
                pan_vel=f["pan_vel"][()],
                tilt_vel=f["tilt_vel"][()],
                gt_error_px=f["gt_error_px"][()],
                perturbed=f["perturbed"][()],
                sim_time=f["sim_time"][()],
                cmd=f["cmd"][()].decode(),
                label_key=f["label_key"][()].decode(),
                metadata=scenario_metadata(f),
                applied=f["applied"][()] if "applied" in f else None,
                target_px=f["target_px"][()] if "target_px" in f else None,
            )
    except (OSError, KeyError, ValueError) as exc:
        raise EpisodeError(f"{path}: unreadable episode file ({exc})") from None


def complete_episodes(root: Path) -> dict[int, Path]:
    """Episode files present under root (complete by construction: only renamed when whole)."""
    folder = Path(root) / EPISODE_DIR
    if not folder.is_dir():
        return {}
    return {episode_index_of(p): p for p in sorted(folder.glob("ep_[0-9][0-9][0-9][0-9][0-9][0-9].h5"))}


def remove_partial(root: Path, episodes: range | None = None) -> list[Path]:
    """Delete the .tmp files a killed writer left behind (only `episodes`' own: other workers may be writing)."""
    folder = Path(root) / EPISODE_DIR
    leftovers = sorted(folder.glob(f"ep_[0-9][0-9][0-9][0-9][0-9][0-9]{TMP_SUFFIX}")) if folder.is_dir() else []
    leftovers = [p for p in leftovers if episodes is None or episode_index_of(p) in episodes]
    for path in leftovers:
        path.unlink()
    return leftovers
