"""What a policy carries from one frame of an episode to the next, and what an episode's first frame gets.

Two inputs reach back one frame and one two (ROS-free, numpy only):
- the previous command: the command applied for the frame before; on an episode's first frame the
  robot starts at rest, so it is zero;
- the earlier command: the command applied for the frame before that (zero on an episode's first two
  frames). Under a loop whose commands act a camera period late, it is the one that turned the camera
  between the frame before and this one;
- the previous target: the policy's own estimate of where the commanded face was on the frame before
  ((x, y) in [-1, 1]); on an episode's first frame there is none, NaN, which the graph reads as "no motion";
- the previous law state: what a predictive head (ocelot_train.predictive_law) left on the frame before, kept
  without being read; NaN on an episode's first frame. Its length is the graph's (6, or 12 for a folding head).

Training data, offline evaluation and the runtime (`OnnxPolicy`, the VLA node) take them from here; the
torch policy applies the same rules inside its graph (`ocelot_train.modeling_vla`).
"""

from __future__ import annotations

import numpy as np

AT_REST = (0.0, 0.0)  # the previous command of an episode's first frame (pan, tilt rad/s)


def no_previous_action(n: int = 1) -> np.ndarray:
    """(n, 2) previous commands for frames that have no frame before them."""
    return np.tile(np.asarray(AT_REST, np.float32), (n, 1))


def no_previous_target(n: int = 1) -> np.ndarray:
    """(n, 2) previous target estimates for frames that have no frame before them."""
    return np.full((n, 2), np.nan, np.float32)


def no_previous_law_state(n: int, size: int) -> np.ndarray:
    """(n, size) predictive-head states for frames that have no frame before them."""
    return np.full((n, size), np.nan, np.float32)


def previous_actions(applied: np.ndarray) -> np.ndarray:
    """Commands applied on an episode's consecutive frames (N, 2) -> each frame's previous command."""
    applied = np.asarray(applied, np.float32).reshape(-1, 2)
    return np.concatenate([no_previous_action(), applied[:-1]])


def previous_targets(targets: np.ndarray) -> np.ndarray:
    """Target estimates on an episode's consecutive frames (N, 2) -> each frame's previous estimate."""
    targets = np.asarray(targets, np.float32).reshape(-1, 2)
    return np.concatenate([no_previous_target(), targets[:-1]])


class EpisodeContext:
    """The target estimate, the law state and the earlier command kept between the frames of one closed-loop
    episode (the previous command is the motors' state: the command shaper keeps it; the one before it is the
    previous command the last frame was given). `law_state_size`: the length of the model's law state (0: none)."""

    def __init__(self, law_state_size: int = 0) -> None:
        self.law_state_size = law_state_size
        self.reset()

    def reset(self) -> None:
        """The next frame starts an episode."""
        self.previous_target = no_previous_target()
        self.previous_law_state = no_previous_law_state(1, self.law_state_size)
        self.earlier_action = no_previous_action()

    def remember(self, target: np.ndarray | None, previous_action, law_state: np.ndarray | None = None) -> None:
        """What this frame leaves to the next: its target estimate and law state (None: a model without
        them) and the previous command it was given (the next frame's earlier command)."""
        if target is not None:
            self.previous_target = np.asarray(target, np.float32).reshape(1, 2)
        if law_state is not None:
            self.previous_law_state = np.asarray(law_state, np.float32).reshape(1, self.law_state_size)
        self.earlier_action = np.asarray(previous_action, np.float32).reshape(1, 2)

    @property
    def known_target(self) -> np.ndarray | None:
        """The last estimate ((x, y) in [-1, 1]); None at an episode's start."""
        target = self.previous_target[0]
        return None if np.isnan(target).any() else target.copy()
