"""Pair the sim's streams per frame and score each frame as soon as it is complete (ROS-free).

Images and ground truth arrive on separate topics; both carry the frame's sim
time. After a reset the sim clock restarts at 0, so a stream counts only once
it has shown frame 0 of the new episode: stale messages of the previous one are
never paired with the new episode's frames.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ocelot_eval.metrics import EpisodeScore, FrameScore, TruthFace, score_frame

Detector = Callable[[np.ndarray], np.ndarray]


class EpisodeRecorder:
    def __init__(self, episode_frames: int, detector: Detector, period: float = 0.1) -> None:
        if episode_frames <= 0:
            raise ValueError(f"episode_frames must be > 0, got {episode_frames}")
        self.episode_frames, self.detector, self.period = episode_frames, detector, period
        self.episode: EpisodeScore | None = None
        self._images: dict[int, np.ndarray] = {}
        self._truth: dict[int, tuple[Sequence[TruthFace], int]] = {}
        self._latency: dict[int, float] = {}
        self._synced = {"image": False, "truth": False}

    def start(self, episode: EpisodeScore) -> None:
        self.episode = episode
        self._images, self._truth, self._latency = {}, {}, {}
        self._synced = {"image": False, "truth": False}

    def _frame(self, stream: str, stamp: float) -> int | None:
        frame = int(round(stamp / self.period))
        if frame == 0:
            self._synced[stream] = True
        if self.episode is None or not self._synced[stream] or not 0 <= frame < self.episode_frames:
            return None
        return frame

    def add_image(self, stamp: float, rgb: np.ndarray) -> list[FrameScore]:
        frame = self._frame("image", stamp)
        if frame is not None:
            self._images[frame] = rgb
        return self._score_ready()

    def add_truth(self, stamp: float, faces: Sequence[TruthFace], target_index: int) -> list[FrameScore]:
        frame = self._frame("truth", stamp)
        if frame is not None:
            self._truth[frame] = (faces, target_index)
        return self._score_ready()

    def add_latency(self, stamp: float, latency_ms: float) -> None:
        """The controller's latency for a frame (arrives after the frame; kept until the episode ends)."""
        frame = int(round(stamp / self.period))
        if self.episode is not None and 0 <= frame < self.episode_frames:
            self._latency[frame] = latency_ms

    def _score_ready(self) -> list[FrameScore]:
        scored = []
        for frame in sorted(set(self._images) & set(self._truth)):
            faces, target = self._truth.pop(frame)
            score = score_frame(frame, self.detector(self._images.pop(frame)), faces, target)
            self.episode.frames.append(score)
            scored.append(score)
        return scored

    @property
    def complete(self) -> bool:
        return self.episode is not None and len(self.episode.frames) >= self.episode_frames

    def finish(self) -> EpisodeScore:
        """The finished episode, frames in order, with the latencies that arrived."""
        episode, self.episode = self.episode, None
        episode.frames.sort(key=lambda f: f.frame)
        episode.latency_ms = [self._latency[f] for f in sorted(self._latency)]
        return episode
