"""Assemble an episode from the sim's streams: image, command (the label) and ground truth, paired by
frame, and, where the label is not the applied command (DAgger), the applied one too.

ROS-free. Messages are keyed by their exact stamp (integer ns: every stream of
a frame carries the frame's stamp), and frames are numbered in the order of
the camera's stamps, so neither the pairing nor `sim_time` assumes a camera
rate: `sim_time` is the sim's own stamps. After a reset the sim's clock
restarts at 0, so each stream is ignored until it shows frame 0 (stamp 0) of
the new episode: stale messages of the previous one, still in flight, can
never be paired with the new episode's frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ocelot_common.stamps import NS_PER_S
from ocelot_dataset.episode_io import Episode

STREAMS = ("image", "command", "truth")
APPLIED = "applied"


@dataclass
class EpisodeAssembler:
    warmup_frames: int
    episode_frames: int
    index: int = -1
    info: dict = field(default_factory=dict)
    record_applied: bool = False

    def __post_init__(self) -> None:
        if self.warmup_frames < 0 or self.episode_frames <= 0:
            raise ValueError("warmup_frames must be >= 0 and episode_frames > 0")
        self.streams = STREAMS + ((APPLIED,) if self.record_applied else ())
        self.start(self.index, self.info)

    def start(self, index: int, info: dict) -> None:
        self.index, self.info = index, info
        self._parts: dict[str, dict[int, Any]] = {s: {} for s in self.streams}
        self._synced = dict.fromkeys(self.streams, False)

    @property
    def stamps_wanted(self) -> list[int]:
        """The stamps of the frames to record (after the warm-up), as far as the camera has sent them."""
        return sorted(self._parts["image"])[self.warmup_frames : self.warmup_frames + self.episode_frames]

    def add(self, stream: str, stamp_ns: int, value) -> None:
        if stream not in self._synced:
            return
        if stamp_ns == 0:
            self._synced[stream] = True
        if self._synced[stream]:
            self._parts[stream][stamp_ns] = value

    @property
    def recorded(self) -> int:
        """Frames for which every stream has arrived."""
        return sum(all(t in self._parts[s] for s in self.streams) for t in self.stamps_wanted)

    def first_gap(self) -> str:
        """The first frame still incomplete and what it lacks (for the skip warning)."""
        unsynced = [s for s in self.streams if not self._synced[s]]
        note = f"; never saw frame 0 on {unsynced}" if unsynced else ""
        wanted = self.stamps_wanted
        for i, t in enumerate(wanted):
            lacking = [s for s in self.streams if t not in self._parts[s]]
            if lacking:
                return f"frame {self.warmup_frames + i} lacks {', '.join(lacking)}{note}"
        if len(wanted) < self.episode_frames:
            return f"frame {self.warmup_frames + len(wanted)} lacks image{note}"
        return "none"

    @property
    def complete(self) -> bool:
        return self.recorded == self.episode_frames

    def episode(self) -> Episode:
        frames = self.stamps_wanted
        image, command, truth = (self._parts[s] for s in STREAMS)
        return Episode(
            index=self.index,
            frames=np.stack([image[f] for f in frames]),
            pan_vel=np.array([command[f][0] for f in frames], np.float32),
            tilt_vel=np.array([command[f][1] for f in frames], np.float32),
            gt_error_px=np.array([truth[f][0] for f in frames], np.float32),
            perturbed=np.array([truth[f][1] for f in frames], bool),
            target_px=np.array([truth[f][2:4] for f in frames], np.float32),
            sim_time=np.array(frames, np.float64) / NS_PER_S,
            cmd=str(self.info.get("command", "")),
            label_key=str(self.info.get("label_key", "")),
            metadata=dict(self.info),
            applied=np.array([self._parts[APPLIED][f] for f in frames], np.float32) if self.record_applied else None,
        )
