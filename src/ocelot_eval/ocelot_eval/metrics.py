"""Tracking metrics as the camera sees them (ROS-free): per frame, per episode, and over a scenario set.

Per frame, the Haar detection that belongs to the target is the one whose box
contains the target's projected target point (the same point the oracle aims
at and the labels use); the error is the distance from the image centre to that
box's centre. No such box, or the target out of view, is a lost face.
Tracking error (mean, p95) counts the frames from an episode's response on
(the first frame under RESPONSE_THRESHOLD_PX); the approach before it is what
the response time measures. An episode that never responds counts whole. The
ground-truth error (image centre to the projection) is kept beside it, and
on every frame where the target is in view the scored box is compared with the
truth in 2D: how far its centre is from the projected point (no cancelling of
opposite errors), whether there was no box to score (a miss), and whether the
box scored is nearer another face's point than the target's (a wrong match).
That is what says how far the Haar estimate, and so the gate, can be trusted.
A policy that estimates where the commanded face is (its target read-out) has
that estimate scored too, from the response on, like the tracking error: grounding
is its distance from the truth (did it find the right face, and where), control
the distance of the estimate from the image centre (how well it centred what it
found). The two say whether to work on seeing or on steering. Grounding is also
split in two: each episode's steady offset of the estimate from the truth (its
mean, signed; the bias) and the estimate's scatter about that offset (the
jitter). A bias says the policy sees this face's point elsewhere than the labels
put it (a face unlike those it was trained on); jitter, that it is unsure frame
to frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from ocelot_common.camera import IMAGE_CENTRE

RESPONSE_THRESHOLD_PX = 20.0


@dataclass(frozen=True)
class TruthFace:
    """What the simulator knows of one face in one frame."""

    u: float  # projected target point, px
    v: float
    visible: bool


@dataclass(frozen=True)
class FrameScore:
    frame: int
    error_px: float  # image centre to the target's detected box centre; NaN when lost
    gt_error_px: float  # image centre to the target's projection; NaN when out of view
    face_lost: bool
    target_selected: bool  # the target is the visible face nearest the image centre
    haar_offset_px: float = math.nan  # scored box centre to the target's projection (2D); NaN: none scored
    wrong_match: bool = False  # the scored box's centre is nearer another visible face's point
    grounding_px: float = math.nan  # the policy's target estimate to the target's projection; NaN: none / out of view
    control_px: float = math.nan  # the image centre to the policy's target estimate (same frames)
    grounding_dx_px: float = math.nan  # the policy's target estimate minus the target's projection, x (right)
    grounding_dy_px: float = math.nan  # and y (down)


def _distance(u: float, v: float, centre: tuple[float, float] = IMAGE_CENTRE) -> float:
    return math.hypot(u - centre[0], v - centre[1])


def match_target(boxes: np.ndarray, target: TruthFace) -> np.ndarray | None:
    """The detected box (x, y, w, h) containing the target point, nearest it by centre; None when none does."""
    if not target.visible or len(boxes) == 0:
        return None
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x, y, w, h = boxes.T
    inside = (x <= target.u) & (target.u <= x + w) & (y <= target.v) & (target.v <= y + h)
    if not inside.any():
        return None
    candidates = boxes[inside]
    centres = candidates[:, :2] + candidates[:, 2:] / 2.0
    return candidates[int(np.argmin(np.hypot(*(centres - (target.u, target.v)).T)))]


def score_frame(frame: int, boxes: np.ndarray, faces: Sequence[TruthFace], target_index: int) -> FrameScore:
    """Score one camera frame from its Haar boxes and the ground truth of its faces."""
    if not 0 <= target_index < len(faces):
        raise ValueError(f"target_index {target_index} names none of the {len(faces)} faces")
    target = faces[target_index]
    box = match_target(boxes, target)
    visible = [i for i, f in enumerate(faces) if f.visible]
    error = offset = math.nan
    wrong = False
    if box is not None:
        u, v = box[0] + box[2] / 2.0, box[1] + box[3] / 2.0
        error, offset = _distance(u, v), _distance(u, v, (target.u, target.v))
        wrong = any(_distance(u, v, (faces[i].u, faces[i].v)) < offset for i in visible if i != target_index)
    gt_error = _distance(target.u, target.v) if target.visible else math.nan
    nearest = min(visible, key=lambda i: _distance(faces[i].u, faces[i].v)) if visible else -1
    return FrameScore(frame, error, gt_error, box is None, nearest == target_index, offset, wrong)


@dataclass
class EpisodeScore:
    """One episode's frames and what they add up to."""

    index: int
    seed: int
    label_key: str
    command: str
    num_faces: int
    textures: list[str]
    frames: list[FrameScore] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)  # controller latency per frame, when it reports one

    @property
    def errors(self) -> np.ndarray:
        return np.array([f.error_px for f in self.frames], dtype=np.float64)

    def tracking_errors(self) -> np.ndarray:
        """Detected errors from the response frame on (all frames when the episode never responds)."""
        return self._from_response("error_px")

    def _from_response(self, column: str) -> np.ndarray:
        """A per-frame value from the response frame on (all frames when the episode never responds), NaN out."""
        values = np.array([getattr(f, column) for f in self.frames], dtype=np.float64)[max(self.response_frames(), 0) :]
        return values[~np.isnan(values)]

    def grounding_errors(self) -> np.ndarray:
        return self._from_response("grounding_px")

    def control_errors(self) -> np.ndarray:
        return self._from_response("control_px")

    def grounding_offsets(self) -> np.ndarray:
        """(frames, 2) signed estimate - truth (x right, y down) from the response on; frames without one out
        (the recorder sets both coordinates or neither)."""
        return np.stack([self._from_response("grounding_dx_px"), self._from_response("grounding_dy_px")], axis=1)

    def grounding_split(self) -> tuple[np.ndarray, np.ndarray]:
        """(the episode's steady offset (2,), each frame's distance from it): bias and jitter; empty without
        estimates."""
        offsets = self.grounding_offsets()
        if not len(offsets):
            return np.empty(0), np.empty(0)
        bias = offsets.mean(axis=0)
        return bias, np.hypot(*(offsets - bias).T)

    def response_frames(self, threshold: float = RESPONSE_THRESHOLD_PX) -> int:
        """Frames from the episode's start until the detected error is below threshold; -1 when never."""
        for f in self.frames:
            if not f.face_lost and f.error_px < threshold:
                return f.frame - self.frames[0].frame
        return -1

    def summary(self) -> dict:
        tracking, detected = self.tracking_errors(), self.errors[~np.isnan(self.errors)]
        return {
            "num_frames": len(self.frames),
            "mean_error_px": _mean(tracking),
            "p95_error_px": _percentile(tracking, 95),
            "mean_error_all_frames_px": _mean(detected),
            "face_lost_rate": float(np.mean([f.face_lost for f in self.frames])) if self.frames else math.nan,
            "response_frames": self.response_frames(),
            "target_selection": float(np.mean([f.target_selected for f in self.frames])) if self.frames else math.nan,
            "gt_mean_error_px": _mean(np.array([f.gt_error_px for f in self.frames], dtype=np.float64)),
            "grounding_offset_px": self.grounding_split()[0].tolist() or None,  # [x, y]; None: no estimate
        }

    def to_dict(self) -> dict:
        record = {k: v for k, v in asdict(self).items() if k not in ("frames", "latency_ms")}
        record["summary"] = self.summary()
        record["frames"] = {key: [getattr(f, key) for f in self.frames] for key in FrameScore.__dataclass_fields__}
        record["latency_ms"] = list(self.latency_ms)
        return _json_safe(record)

    @classmethod
    def from_dict(cls, record: dict) -> EpisodeScore:
        columns = record["frames"]
        n = len(columns["frame"])
        offsets, wrong = columns.get("haar_offset_px", [None] * n), columns.get("wrong_match", [False] * n)
        grounding, control = columns.get("grounding_px", [None] * n), columns.get("control_px", [None] * n)
        dx, dy = columns.get("grounding_dx_px", [None] * n), columns.get("grounding_dy_px", [None] * n)
        frames = [
            FrameScore(
                int(columns["frame"][i]),
                _num(columns["error_px"][i]),
                _num(columns["gt_error_px"][i]),
                bool(columns["face_lost"][i]),
                bool(columns["target_selected"][i]),
                _num(offsets[i]),
                bool(wrong[i]),
                _num(grounding[i]),
                _num(control[i]),
                _num(dx[i]),
                _num(dy[i]),
            )
            for i in range(n)
        ]
        return cls(
            int(record["index"]),
            int(record["seed"]),
            record["label_key"],
            record["command"],
            int(record["num_faces"]),
            list(record["textures"]),
            frames,
            [float(x) for x in record.get("latency_ms", [])],
        )


def aggregate(episodes: Sequence[EpisodeScore]) -> dict:
    """Metrics over a set of episodes: frames pooled; response averaged per episode (never = episode length)."""
    frames = [f for ep in episodes for f in ep.frames]
    if not frames:
        raise ValueError("no scored frames to aggregate")
    errors = np.array([f.error_px for f in frames], dtype=np.float64)
    truth = np.array([f.gt_error_px for f in frames], dtype=np.float64)
    detected = errors[~np.isnan(errors)]
    tracking = np.concatenate([ep.tracking_errors() for ep in episodes])
    responses = [ep.response_frames() for ep in episodes]
    multi = [f for ep in episodes if ep.num_faces > 1 for f in ep.frames]
    latency = np.array([x for ep in episodes for x in ep.latency_ms], dtype=np.float64)
    grounding = np.concatenate([ep.grounding_errors() for ep in episodes])
    control = np.concatenate([ep.control_errors() for ep in episodes])
    splits = [ep.grounding_split() for ep in episodes]
    # the bias weighs each episode by its frames with an estimate, as the pooled grounding error does
    frames_with = [len(jitter) for _, jitter in splits]
    bias = np.repeat([np.hypot(*offset) if n else 0.0 for (offset, _), n in zip(splits, frames_with)], frames_with)
    jitter = np.concatenate([jitter for _, jitter in splits])
    agreement = haar_agreement(frames)
    return _json_safe(
        {
            "episodes": len(episodes),
            "frames": len(frames),
            "mean_error_px": _mean(tracking),
            "p95_error_px": _percentile(tracking, 95),
            "mean_error_all_frames_px": _mean(detected),
            "face_lost_rate": float(np.mean([f.face_lost for f in frames])),
            "response_frames": float(np.mean([r if r >= 0 else len(ep.frames) for r, ep in zip(responses, episodes)])),
            "episodes_never_responding": sum(r < 0 for r in responses),
            "target_selection": float(np.mean([f.target_selected for f in multi])) if multi else None,
            "gt_mean_error_px": _mean(truth),
            "gt_p95_error_px": _percentile(truth[~np.isnan(truth)], 95),
            "haar_position_error_px": agreement["mean_position_error_px"],
            "haar_wrong_match_rate": agreement["wrong_match_rate"],
            "haar_vs_truth": agreement,
            "latency_ms_p50": _percentile(latency, 50),
            "latency_ms_p95": _percentile(latency, 95),
            "grounding_error_px": _mean(grounding),
            "grounding_p95_px": _percentile(grounding, 95),
            "grounding_bias_px": _mean(bias),
            "grounding_jitter_px": _mean(jitter),
            "control_error_px": _mean(control),
            "control_p95_px": _percentile(control, 95),
            "frames_with_estimate": int(len(grounding)),
        }
    )


CLOSED_LOOP_METRICS = frozenset(
    {
        "mean_error_px",
        "p95_error_px",
        "mean_error_all_frames_px",
        "face_lost_rate",
        "response_frames",
        "target_selection",
        "gt_mean_error_px",
        "gt_p95_error_px",
        "haar_position_error_px",
        "haar_wrong_match_rate",
        "latency_ms_p50",
        "latency_ms_p95",
    }
)


def haar_agreement(frames: Sequence[FrameScore]) -> dict:
    """How well the scored Haar boxes follow the ground truth, over every frame with the target in view:
    the 2D distance of the scored box centre from the projected point (mean, p95), misses (in view, no box
    scored) and wrong matches (the box scored is nearer another face's point), each as a count and a rate
    of the frames in view."""
    in_view = [f for f in frames if not math.isnan(f.gt_error_px)]
    offsets = np.array([f.haar_offset_px for f in in_view], dtype=np.float64)
    scored = offsets[~np.isnan(offsets)]
    misses = sum(math.isnan(f.haar_offset_px) for f in in_view)
    wrong = sum(f.wrong_match for f in in_view)
    n = len(in_view)
    return {
        "frames_in_view": n,
        "frames_scored": int(len(scored)),
        "mean_position_error_px": _mean(scored),
        "p95_position_error_px": _percentile(scored, 95),
        "misses": int(misses),
        "miss_rate": misses / n if n else math.nan,
        "wrong_matches": int(wrong),
        "wrong_match_rate": wrong / n if n else math.nan,
    }


def per_label(episodes: Sequence[EpisodeScore]) -> dict[str, dict]:
    labels = sorted({ep.label_key for ep in episodes})
    return {label: aggregate([ep for ep in episodes if ep.label_key == label]) for label in labels}


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(np.mean(values)) if len(values) else math.nan


def _percentile(values: np.ndarray, q: float) -> float:
    values = values[~np.isnan(values)]
    return float(np.percentile(values, q)) if len(values) else math.nan


def _num(value) -> float:
    return math.nan if value is None else float(value)


def _json_safe(value):
    """NaN and inf become None: JSON has no NaN, and a report must parse everywhere."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return _json_safe(value.item())
    return value
