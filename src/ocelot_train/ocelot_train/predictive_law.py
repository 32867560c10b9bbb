"""The predictive head: the oracle's aim, told only what the image and the robot's own commands tell.

The oracle under a robot profile aims where the face will be when its command takes effect: it predicts the
camera's turn until then from the commands still in flight and the joints' velocity, and the face's from its
path (ocelot_oracle.oracle_law). This head does the same with what a policy has:
- the camera's turn: from the commands it sent (u1, u2) and the joints' velocity it predicted a frame ago,
  through the profile's actuation without its acceleration limit (a delay, then a first-order lag: closed
  form, so the graph holds it and the command that gives a wanted turn is solved exactly);
- the face: an alpha-beta filter on the read-out's angle, its prediction moved by the camera's turn, gives
  the angle and the face's world rate (the image alone shows neither: a face still in the image may be
  turning with the camera).

Per axis, with T the camera period, L the command latency (0 <= L <= T) and tau the joint's time constant:
    predicted  e- = e^ + w^ T - (camera turn over the last period)
    filtered   e^ = e- + alpha (e - e-),  w^ = w^ + beta (e - e-) / T
    aim        the error when the command acts, e^ + w^ L - (turn until then), times `gain`, plus w^ T
    command    the one whose turn over the period it holds is that aim
The state the graph carries from frame to frame (`previous_law_state` in, `law_state` out; NaN: none, an
episode's first frame, read as a face at rest and joints at the velocity u2 set) is (e^, w^, joint velocity)
per axis. The parameters are the model's config (`model.predictive_law`), set for a robot profile
(`predictive_law_for`, tuned by `ocelot tune-law --law predictive`).

Folding (`fold_margin_rad` > 0): faces sweep their lane and turn back at its ends, where a filter that
predicts at the last rate runs on past the turn and its forecast overshoots by its whole horizon. The head then
also keeps, per axis, the camera's angle since the episode began (the turns it has modelled), and the highest
angle the face reached moving up and the lowest moving down (where the episode began is no end). Once both are
seen, more than NARROWEST_LANE apart, and the face is back from one by the margin, a prediction or forecast that
passes that end is folded back at it, as the face will be, and a folded prediction turns the filter's rate
round. A face that goes on past a seen end (a wandering one) moves the end with it. The state is then 12
numbers: the six above, then (camera, highest, lowest) per axis.

A swinging forecast (`swing_fraction` f, with folding): a face that sweeps its lane on a sine slows towards the
ends, so a forecast at its last rate runs ahead of it there. With both ends seen, a face within f of the lane's
half-width A from its middle is forecast on the harmonic swing through its angle y (from the middle) and rate v
that stays within the lane: y(s) = y cos(ws) + (v / w) sin(ws), with v^2 + w^2 y^2 = w^2 A^2. Nearer the ends,
where that fit is ill-conditioned, folding forecasts as before. The filter's own prediction is not swung.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ocelot_common.camera import CAMERA_PERIOD_S
from ocelot_train.law_head import image_scale, read_out_angles

PARAMETERS = ("gain", "alpha", "beta")  # per axis (pan, tilt)
STATE_SIZE = 6  # (e^ pan, e^ tilt, w^ pan, w^ tilt, velocity pan, velocity tilt)
FOLDED_STATE_SIZE = STATE_SIZE + 6  # and (camera, highest face angle, lowest face angle) per axis
UNSEEN = 100.0  # rad: the highest (-) and lowest (+) angle before the face has moved that way (no end to fold at)
# rad: ends closer than this are a face held still and the read-out's noise, not a lane's (in the loop model, folding
# there cost static faces 0.4 px at 2.5 px of noise)
NARROWEST_LANE = 0.02
# where a search starts: the oracle's share of the error removed per period, and a filter that follows a face
# within a frame or two (loop model, 3.5 px of read-out noise under pi4)
START = {"gain": (0.7, 0.7), "alpha": (0.8, 0.8), "beta": (0.5, 0.5)}
BOUNDS = {"gain": (0.0, 1.0), "alpha": (0.0, 1.0), "beta": (0.0, 2.0)}  # (low, high]: each parameter's range


def check_predictive(values: dict, period_s: float = CAMERA_PERIOD_S) -> dict:
    """A complete, valid `model.predictive_law` (floats) from a config value; raises ValueError naming the key."""
    keys = set(PARAMETERS) | {"latency_s", "time_constant_s"}
    if not isinstance(values, dict) or not keys <= set(values) <= keys | {"fold_margin_rad", "swing_fraction"}:
        got = sorted(values) if isinstance(values, dict) else type(values).__name__
        raise ValueError(
            f"needs exactly the keys {sorted(keys)}, and optionally fold_margin_rad and swing_fraction (e.g. from "
            f"`ocelot tune-law --law predictive`), got {got}"
        )
    out: dict = {}
    for name in (*PARAMETERS, "time_constant_s"):
        pair = values[name]
        if not isinstance(pair, (list, tuple)) or len(pair) != 2 or not all(math.isfinite(float(v)) for v in pair):
            raise ValueError(f"{name} must be two finite numbers (pan, tilt), got {pair!r}")
        out[name] = [float(v) for v in pair]
    out["latency_s"] = float(values["latency_s"])
    for name, (low, high) in BOUNDS.items():
        if not all(low < v <= high for v in out[name]):
            raise ValueError(f"{name} must be in ({low}, {high}] on each axis, got {out[name]}")
    if not 0.0 <= out["latency_s"] <= period_s:
        raise ValueError(f"latency_s must be in [0, {period_s}] (one camera period), got {out['latency_s']}")
    if min(out["time_constant_s"]) < 0:
        raise ValueError(f"time_constant_s must be >= 0, got {out['time_constant_s']}")
    if "fold_margin_rad" in values:
        margin = values["fold_margin_rad"]
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0.0 <= margin < 1.0:
            raise ValueError(f"fold_margin_rad must be a number in [0, 1) rad (0: no folding), got {margin!r}")
        out["fold_margin_rad"] = float(margin)
    if "swing_fraction" in values:
        fraction = values["swing_fraction"]
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 < fraction < 1.0:
            raise ValueError(f"swing_fraction must be a number in (0, 1), got {fraction!r}")
        if not out.get("fold_margin_rad"):
            raise ValueError("swing_fraction needs the lane's ends, which only folding keeps: set fold_margin_rad too")
        out["swing_fraction"] = float(fraction)
    return out


def predictive_law_for(profile, fold_margin_rad: float = 0.0, swing_fraction: float = 0.0, **parameters) -> dict:
    """`model.predictive_law` for a robot profile (ocelot_sim.robot_profile.RobotProfile) and the parameters
    given (the others from START); folding only where `fold_margin_rad` > 0, the swinging forecast only where
    `swing_fraction` > 0 (each key left out when off)."""
    values: dict = {name: list(parameters.get(name, START[name])) for name in PARAMETERS}
    values.update(latency_s=float(profile.command_latency_s), time_constant_s=list(profile.time_constant_s))
    if fold_margin_rad:  # a bad one is refused by the check
        values["fold_margin_rad"] = fold_margin_rad
    if swing_fraction:
        values["swing_fraction"] = swing_fraction
    return check_predictive(values)


def lag_terms(time_constant_s, seconds: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per axis (decay, reach) of a first-order lag over `seconds`: from velocity v0 under setpoint u the
    velocity becomes u + (v0 - u) decay and the joint turns u seconds + (v0 - u) reach."""
    tau = np.asarray(time_constant_s, np.float64)
    decay = np.exp(-seconds / np.maximum(tau, 1e-12)) * (tau > 0)
    return torch.tensor(decay, dtype=torch.float32), torch.tensor(tau * (1.0 - decay), dtype=torch.float32)


class PredictiveLaw(nn.Module):
    gain: torch.Tensor
    alpha: torch.Tensor
    beta: torch.Tensor
    scale: torch.Tensor

    def __init__(self, max_velocity: float, values: dict, period_s: float = CAMERA_PERIOD_S) -> None:
        super().__init__()
        values = check_predictive(values, period_s)
        self.max_velocity, self.period_s, self.latency_s = max_velocity, period_s, values["latency_s"]
        self.fold_margin = values.get("fold_margin_rad", 0.0)
        self.swing_fraction = values.get("swing_fraction", 0.0)
        self.state_size = FOLDED_STATE_SIZE if self.fold_margin > 0 else STATE_SIZE  # what it carries between frames
        for name in PARAMETERS:  # buffers, not parameters: the config holds them (the card carries them)
            self.register_buffer(name, torch.tensor(values[name]), persistent=False)
        self.register_buffer("scale", torch.tensor(image_scale()), persistent=False)
        tau = values["time_constant_s"]
        self.until_effect = lag_terms(tau, self.latency_s)  # from a frame until its command acts
        self.after_effect = lag_terms(tau, period_s - self.latency_s)  # from then to the next frame
        self.period = lag_terms(tau, period_s)  # the period a command holds

    def _through(self, terms, velocity, setpoint, seconds: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(velocity after `seconds` under `setpoint`, the turn over them)."""
        decay, reach = terms
        return setpoint + (velocity - setpoint) * decay, setpoint * seconds + (velocity - setpoint) * reach

    def _ends(self, known, none, estimate, rate, turn) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(the face's angle since the episode began, the camera's, and the highest and lowest angle the face
        reached moving up, and down). Where the episode began is no end: only a face moving towards an end
        moves it."""
        camera = torch.where(none, torch.zeros_like(turn), known[:, 6:8] + turn)
        face = camera + estimate
        highest = torch.where(none, torch.full_like(face, -UNSEEN), known[:, 8:10])
        lowest = torch.where(none, torch.full_like(face, UNSEEN), known[:, 10:12])
        highest = torch.where(rate > 0, torch.maximum(highest, face), highest)
        lowest = torch.where(rate < 0, torch.minimum(lowest, face), lowest)
        return face, camera, highest, lowest

    def _folded(self, face, rate, ends, seconds: float) -> tuple[torch.Tensor, torch.Tensor]:
        """(how far the face moves in `seconds` at `rate`, folded back at an end it has turned at; whether it was
        folded). Both ends must have been seen, at least NARROWEST_LANE apart."""
        highest, lowest = ends
        there = face + rate * seconds
        wide = (highest - lowest) > NARROWEST_LANE
        high = (face < highest - self.fold_margin) & (there > highest) & wide
        low = (face > lowest + self.fold_margin) & (there < lowest) & wide
        there = torch.where(high, 2 * highest - there, there)
        there = torch.where(low, 2 * lowest - there, there)
        return there - face, high | low

    def _forecast(self, face, rate, ends, seconds: float) -> torch.Tensor:
        """How far the face moves in `seconds` from now: folded at a seen end, and (`swing_fraction`) swung between
        the ends where the face is within that fraction of the lane's half-width from its middle."""
        moved = self._folded(face, rate, ends, seconds)[0]
        if not self.swing_fraction:
            return moved
        highest, lowest = ends
        middle, half = (highest + lowest) / 2, (highest - lowest) / 2
        offset = face - middle
        inside = ((highest - lowest) > NARROWEST_LANE) & (offset.abs() < self.swing_fraction * half)
        room = torch.clamp(half * half - offset * offset, min=1e-8)  # > 0 wherever `inside`
        w = torch.sqrt(rate * rate / room).clamp(min=1e-3)  # rad/s; a face at rest barely swings
        swung = offset * torch.cos(w * seconds) + rate / w * torch.sin(w * seconds) - offset
        return torch.where(inside, swung, moved)

    def forward(
        self, xy: torch.Tensor, state: torch.Tensor, previous_action: torch.Tensor, earlier_action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """xy (B, 2): the read-out's position in [-1, 1]; state (B, state_size) of the frame before (NaN rows:
        none); the commands applied for the frame before (u1) and the one before it (u2). -> (command (B, 2),
        state)."""
        T, L = self.period_s, self.latency_s
        error = read_out_angles(xy, self.scale)
        u1, u2 = previous_action, earlier_action
        none = torch.isnan(state).any(dim=1, keepdim=True)
        known = torch.where(none, torch.zeros_like(state), state)
        estimate, rate = known[:, 0:2], known[:, 2:4]
        velocity = torch.where(none, u2, known[:, 4:6])
        # the last period: u2 held until a latency after the frame before, then u1
        velocity, turn_early = self._through(self.until_effect, velocity, u2, L)
        velocity, turn_late = self._through(self.after_effect, velocity, u1, T - L)
        if self.fold_margin > 0:  # a face predicted past an end it turns at comes back from it
            moved, folded = self._folded(known[:, 6:8] + estimate, rate, (known[:, 8:10], known[:, 10:12]), T)
            predicted = estimate + moved - (turn_early + turn_late)
            rate = torch.where(folded, -rate, rate)
        else:
            predicted = estimate + rate * T - (turn_early + turn_late)
        residual = error - predicted
        estimate = torch.where(none, error, predicted + self.alpha * residual)
        rate = torch.where(none, torch.zeros_like(error), rate + self.beta * residual / T)
        kept = [estimate, rate, velocity]
        # how far the face moves until this command acts, and over the period it then holds
        at_effect, over_period = rate * L, rate * T
        if self.fold_margin > 0:
            face, camera, highest, lowest = self._ends(known, none, estimate, rate, turn_early + turn_late)
            kept += [camera, highest, lowest]
            at_effect = self._forecast(face, rate, (highest, lowest), L)
            over_period = self._forecast(face, rate, (highest, lowest), L + T) - at_effect
        # from now: u1 holds until this command acts, a latency on; the command then holds a period
        acting, turn_until = self._through(self.until_effect, velocity, u1, L)
        aim = self.gain * (estimate + at_effect - turn_until) + over_period
        reach = self.period[1]
        command = (aim - acting * reach) / (T - reach)
        return command.clamp(-self.max_velocity, self.max_velocity), torch.cat(kept, dim=1)
