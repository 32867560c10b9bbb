"""The parameters of the structured head's law for a robot profile, tuned in a fast model of the closed loop.

The model leaves the renderer out and keeps the loop: the commanded face of seeded scenarios
(ocelot_sim.scenario) moves along its path (ocelot_sim.motion) from where the episode starts it, the camera
turns as the profile's actuation makes it (ocelot_sim.actuation, the model the sim runs), commands are shaped
as the policy node shapes them (ocelot_vla.command_shaping), and the law is the module the exported graph
holds (ocelot_train.law_head, or ocelot_train.predictive_law), seeing the face's image point with Gaussian
read-out noise. The score is the mean distance of the face from the image centre over the episodes' frames, as
the evaluator measures it.

A seeded (1+1) evolution strategy with the one-fifth success rule lowers it. What the model does not hold:
the read-out's bias, its mistakes of face, the image's motion blur and perturbation jumps; closed-loop
`ocelot eval` under the same profile is what judges a model with the gains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ocelot_common.camera import CAMERA_PERIOD_S, Camera
from ocelot_sim.actuation import Actuation, ticks
from ocelot_sim.motion import angles_at
from ocelot_sim.robot_profile import RobotProfile
from ocelot_sim.scenario import generate
from ocelot_vla.command_shaping import CommandShaper, ShapingLimits

LATE_LOOP_START = [[3.0, 3.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0]]


def start_gains(profile: RobotProfile) -> np.ndarray:
    """Where the search starts: the oracle's law for an instant loop; for a loop whose commands act late, a
    law that reads the target's rate as its image motion plus the turn of the command before the previous
    one (kd = k2 = 1: what turned the camera between the two frames when commands act a period late) with a
    P gain of 3/s, well inside what a period of delay leaves stable (the oracle's 7/s makes it ring)."""
    from ocelot_train.law_head import oracle_gains

    return oracle_gains() if profile.instant_actuators else np.array(LATE_LOOP_START, np.float32)


@dataclass(frozen=True)
class LoopModel:
    profile: RobotProfile
    seeds: tuple[int, ...]  # one episode per scenario seed
    frames: int = 100
    noise_px: float = 5.0  # std of the read-out's error per frame and axis, camera pixels
    noise_seed: int = 0
    limits: ShapingLimits = field(default_factory=ShapingLimits)
    camera: Camera = Camera()

    @cached_property
    def paths(self) -> list:
        """The commanded face's motion in each scenario (drawn once: every evaluation of the search uses them)."""
        scenarios = [generate(seed) for seed in self.seeds]
        return [scenario.faces[scenario.target].motion for scenario in scenarios]


LAWS = ("linear", "predictive")  # model.head law (ocelot_train.law_head), predictive (ocelot_train.predictive_law)


def law_step(law: str, parameters: np.ndarray, model: LoopModel, options: dict | None = None):
    """(step, memory): `step(xy, memory, u1, u2) -> (command, memory)` runs the head's law on a batch of read-outs;
    `memory` is what it carries between frames (the previous read-out, or the predictive law's state), NaN at
    first. `parameters`: the linear law's gains (4, 2), or the predictive law's gain, alpha and beta (3, 2);
    `options`: the predictive law's optional settings as predictive_law_for takes them (fold_margin_rad,
    swing_fraction; none given: off)."""
    import torch

    from ocelot_train.law_head import LawHead
    from ocelot_train.predictive_law import PARAMETERS, PredictiveLaw, predictive_law_for

    n, values = len(model.seeds), np.asarray(parameters, np.float64)
    if law == "linear":
        linear = LawHead(model.limits.max_velocity, values.astype(np.float32).tolist())
        return (lambda xy, memory, u1, u2: (linear(xy, memory, u1, u2), xy)), torch.full((n, 2), math.nan)
    if law == "predictive":
        chosen = {name: values[row].tolist() for row, name in enumerate(PARAMETERS)}
        settings = predictive_law_for(model.profile, **(options or {}), **chosen)
        predictive = PredictiveLaw(model.limits.max_velocity, settings)
        return predictive, torch.full((n, predictive.state_size), math.nan)
    raise ValueError(f"unknown law {law!r}; laws: {', '.join(LAWS)}")


def loop_errors(
    parameters: np.ndarray, model: LoopModel, law: str = "linear", options: dict | None = None
) -> np.ndarray:
    """(episodes, frames) distance of the commanded face from the image centre, camera pixels, under the law
    `law` with `parameters` (law_step). Every episode runs at once through one law (a batch), each with its own
    actuation and shaper."""
    import torch

    step, memory = law_step(law, parameters, model, options)
    focal, size = model.camera.focal_px, np.array([model.camera.width, model.camera.height], np.float64)
    paths = model.paths
    n, steps = len(paths), ticks(CAMERA_PERIOD_S)
    rng = np.random.default_rng(model.noise_seed)
    actuation = [Actuation(model.profile) for _ in range(n)]
    shapers = [CommandShaper(model.limits) for _ in range(n)]
    camera = np.zeros((n, 2))
    commands = [torch.zeros(n, 2), torch.zeros(n, 2)]  # the one before the previous, the previous
    errors = np.zeros((n, model.frames))
    for frame in range(model.frames):
        t = frame * CAMERA_PERIOD_S
        bearing = np.array([angles_at(path, t) for path in paths])
        offset = np.tan(bearing - camera) * focal  # the face's image point from the centre (left/up positive)
        errors[:, frame] = np.hypot(offset[:, 0], offset[:, 1])
        seen = offset + rng.normal(0.0, model.noise_px, offset.shape)
        xy = torch.from_numpy(np.clip(-seen / (size / 2), -1.0, 1.0)).float()  # the read-out's coordinates
        with torch.no_grad():
            raw, memory = step(xy, memory, commands[1], commands[0])
        shaped = np.array([[*_shape(shaper, *command)] for shaper, command in zip(shapers, raw.numpy())])
        for i in range(n):
            actuation[i].command(*shaped[i])
            for _ in range(steps):
                camera[i] += np.array(actuation[i].step()) * actuation[i].step_s
        commands = [commands[1], torch.from_numpy(shaped).float()]
    return errors


def _shape(shaper: CommandShaper, pan: float, tilt: float) -> tuple[float, float]:
    out = shaper.shape(float(pan), float(tilt), CAMERA_PERIOD_S)
    return out.pan, out.tilt


@dataclass
class Tuning:
    gains: np.ndarray  # the law's parameters: (4, 2) gains, or (3, 2) for the predictive law
    error_px: float  # the loop's mean error with them
    start_error_px: float
    evaluations: int


def bounded(law: str, parameters: np.ndarray) -> np.ndarray:
    """Parameters moved inside what the law accepts (the predictive law's ranges, predictive_law.BOUNDS)."""
    if law != "predictive":
        return parameters
    from ocelot_train.predictive_law import BOUNDS, PARAMETERS

    return np.clip(parameters, 1e-3, np.array([[BOUNDS[name][1]] for name in PARAMETERS]))


def tune(
    model: LoopModel,
    start: np.ndarray,
    iterations: int,
    seed: int = 0,
    progress=None,
    law: str = "linear",
    options: dict | None = None,
) -> Tuning:
    """A seeded (1+1)-ES on the law's parameters from `start`: a step that lowers the mean error is kept; the
    step size grows after a success and shrinks after a failure (one-fifth rule)."""
    rng = np.random.default_rng(seed)
    best = bounded(law, np.asarray(start, np.float64).copy())
    best_error = start_error = float(loop_errors(best, model, law, options).mean())
    scale = np.maximum(np.abs(best), 0.2) * 0.3  # per-parameter step, relative to its size
    sigma = 1.0
    for _ in range(iterations):
        trial = bounded(law, best + sigma * scale * rng.normal(size=best.shape))
        error = float(loop_errors(trial, model, law, options).mean())
        if error < best_error:
            best, best_error, sigma = trial, error, sigma * 1.5
        else:
            sigma *= 1.5 ** (-1 / 4)
        if progress is not None:
            progress(best_error)
    return Tuning(best.astype(np.float32), best_error, start_error, iterations + 1)
