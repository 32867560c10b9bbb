"""Pair the sim's streams per frame and score each frame as soon as it is complete (ROS-free).

Images and ground truth arrive on separate topics; both carry the frame's exact
sim-time stamp (integer ns), which pairs them, and frames are numbered in the
order of the camera's stamps (no camera rate is assumed). After a reset the sim
clock restarts at 0, so a stream counts only once it has shown frame 0 (stamp 0)
of the new episode: stale messages of the previous one are never paired with the
new episode's frames. The controller's status for a frame (its latency and, for a
policy with a target read-out, where it placed the commanded face) arrives after
the frame, under the same rule (a status stream counts from frame 0's status), and
is joined to it when the episode finishes; `statuses_missing` says whether a scored
frame still waits for its status (the last frames' come after their scoring).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from ocelot_common.camera import IMAGE_CENTRE
from ocelot_eval.metrics import EpisodeScore, FrameScore, TruthFace, score_frame

Detector = Callable[[np.ndarray], np.ndarray]


class EpisodeRecorder:
    def __init__(self, episode_frames: int, detector: Detector) -> None:
        if episode_frames <= 0:
            raise ValueError(f"episode_frames must be > 0, got {episode_frames}")
        self.episode_frames, self.detector = episode_frames, detector
        self.episode: EpisodeScore | None = None
        self.start(None)

    def start(self, episode: EpisodeScore | None) -> None:
        self.episode = episode
        self._frame_of: dict[int, int] = {}  # camera stamp (ns) -> frame number
        self._images: dict[int, np.ndarray] = {}
        self._truth: dict[int, tuple[Sequence[TruthFace], int]] = {}
        self._latency: dict[int, float] = {}
        self._estimate: dict[int, tuple[float, float]] = {}  # camera stamp -> the policy's target point
        self._truth_point: dict[int, tuple[float, float] | None] = {}  # scored stamp -> the target's, if in view
        self._synced = {"image": False, "truth": False, "status": False}

    def _accept(self, stream: str, stamp_ns: int) -> bool:
        if stamp_ns == 0:
            self._synced[stream] = True
        return self.episode is not None and self._synced[stream]

    def add_image(self, stamp_ns: int, rgb: np.ndarray) -> list[FrameScore]:
        if (
            self._accept("image", stamp_ns)
            and stamp_ns not in self._frame_of
            and len(self._frame_of) < self.episode_frames
        ):
            self._frame_of[stamp_ns] = len(self._frame_of)
            self._images[stamp_ns] = rgb
        return self._score_ready()

    def add_truth(self, stamp_ns: int, faces: Sequence[TruthFace], target_index: int) -> list[FrameScore]:
        if self._accept("truth", stamp_ns):
            self._truth[stamp_ns] = (faces, target_index)
        return self._score_ready()

    def add_status(self, stamp_ns: int, latency_ms: float, target: tuple[float, float] | None = None) -> None:
        """The controller's latency for a frame and, when it has one, its estimate of the target's image point
        (arrive after the frame; kept until the episode ends)."""
        if self._accept("status", stamp_ns):
            self._latency[stamp_ns] = latency_ms
            if target is not None and all(math.isfinite(x) for x in target):
                self._estimate[stamp_ns] = (float(target[0]), float(target[1]))

    def _score_ready(self) -> list[FrameScore]:
        scored = []
        for stamp in sorted(set(self._images) & set(self._truth)):
            faces, target = self._truth.pop(stamp)
            truth = faces[target] if 0 <= target < len(faces) else None
            self._truth_point[stamp] = (truth.u, truth.v) if truth is not None and truth.visible else None
            score = score_frame(self._frame_of[stamp], self.detector(self._images.pop(stamp)), faces, target)
            self._current().frames.append(score)
            scored.append(score)
        return scored

    @property
    def complete(self) -> bool:
        return self.episode is not None and len(self.episode.frames) >= self.episode_frames

    @property
    def frame_stamps(self) -> list[int]:
        """The camera stamps (ns) of the episode's frames so far, in frame order."""
        return sorted(self._frame_of, key=self._frame_of.__getitem__)

    @property
    def statuses_missing(self) -> bool:
        """A controller that sends statuses has not yet sent one for every recorded frame."""
        return self._synced["status"] and any(stamp not in self._latency for stamp in self._frame_of)

    def finish(self) -> EpisodeScore:
        """The finished episode, frames in order, with the latencies and target estimates that arrived."""
        episode, self.episode = self._current(), None
        stamp_of = {frame: stamp for stamp, frame in self._frame_of.items()}
        in_order = sorted(episode.frames, key=lambda f: f.frame)
        episode.frames = [self._with_estimate(f, stamp_of.get(f.frame)) for f in in_order]
        episode.latency_ms = [self._latency[t] for t in sorted(self._latency) if t in self._frame_of]
        return episode

    def _current(self) -> EpisodeScore:
        if self.episode is None:
            raise RuntimeError("no episode is being recorded: start() one first")
        return self.episode

    def _with_estimate(self, score: FrameScore, stamp: int | None) -> FrameScore:
        """Grounding (the policy's target point to the truth) and control (the image centre to the policy's
        point), on a frame with the target in view and an estimate for it."""
        if stamp is None:
            return score
        estimate, truth = self._estimate.get(stamp), self._truth_point.get(stamp)
        if estimate is None or truth is None:
            return score
        return replace(
            score,
            grounding_px=math.dist(estimate, truth),
            control_px=math.dist(estimate, IMAGE_CENTRE),
            grounding_dx_px=estimate[0] - truth[0],
            grounding_dy_px=estimate[1] - truth[1],
        )
