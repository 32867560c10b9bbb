"""The exported policy on onnxruntime: no torch, no transformers (ROS-free; the node is a thin shell).

Loads the per-frame graph, the text graph and the tokenizer that `ocelot export`
writes side by side, checks their inputs and outputs (and the sha256 of the
files, if expected: `gated_sha256` reads them from a PASS eval report bound to an accepted gate), encodes a
command once, and turns camera images into raw (pan_vel, tilt_vel) with the preprocessing the graph
records (ocelot_common.preprocessing; the standard one for graphs that record none).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ocelot_common.episode_context import (
    AT_REST,
    EpisodeContext,
    no_previous_action,
    no_previous_law_state,
    no_previous_target,
    previous_actions,
    previous_targets,
)
from ocelot_common.gate_binding import GateBindingError, gated_files, gated_latency_s, parse_accepted
from ocelot_common.model_files import (
    EARLIER_ACTION,
    LAW_STATE,
    POLICY_INPUTS,
    POLICY_OUTPUTS,
    PREVIOUS_ACTION,
    PREVIOUS_LAW_STATE,
    PREVIOUS_TARGET,
    TARGET,
    TEXT_INPUTS,
    TEXT_OUTPUTS,
    model_files,
    sha256_of,
)
from ocelot_common.preprocessing import Preprocessing, frames_to_input, to_policy_frame
from ocelot_common.text import load_tokenizer, tokenize


class PolicyLoadError(ValueError):
    """The model files cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class GatedModel:
    files: dict[str, str]  # {policy, text, tokenizer: sha256} of the model that passed
    command_latency_s: float  # the command latency of the robot profile it passed under


def gated_model(report_path: str | Path, accepted_gates: str = "") -> GatedModel:
    """What an `ocelot eval` report whose verdict is PASS on the deploy gate (or a gate named in
    `accepted_gates`, 'GATES_SHA:SCENARIOS_SHA:ROBOT_SHA,...') vouches for. Anything else is refused."""
    path = Path(report_path)
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise PolicyLoadError(
            f"eval report {path} cannot be read ({exc}); pass the eval_results.json that "
            "`ocelot eval` wrote for this model"
        ) from None
    try:
        return GatedModel(
            gated_files(report, parse_accepted(accepted_gates), str(path)), gated_latency_s(report, str(path))
        )
    except GateBindingError as exc:
        raise PolicyLoadError(str(exc)) from None


def _check_sha256(path: Path, expected: str) -> None:
    if not path.is_file():
        raise PolicyLoadError(f"{path} does not exist; export a model with `ocelot export`")
    actual = sha256_of(path)
    if actual != expected.strip().lower():
        raise PolicyLoadError(
            f"{path} has sha256 {actual}, not the expected {expected}: "
            "refusing a model that is not the one that passed the gate"
        )


def _session(
    path: Path, threads: int, inputs: tuple[str, ...], outputs: tuple[str, ...], optional: tuple[str, ...] = ()
):
    import onnxruntime as ort

    if not path.is_file():
        raise PolicyLoadError(f"{path} does not exist; export a model with `ocelot export`")
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    options.log_severity_level = 3  # our own error says what is wrong
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for files that are not ONNX
        raise PolicyLoadError(f"{path} is not a loadable ONNX model ({str(exc).splitlines()[0][:200]})") from None
    got_in, got_out = [i.name for i in session.get_inputs()], [o.name for o in session.get_outputs()]
    extra_in = got_in[len(inputs) :]
    # the optional inputs, those present in their order; a target estimate, and a law state, go in and out together
    known = got_in[: len(inputs)] == list(inputs) and extra_in == [name for name in optional if name in extra_in]
    expected_out = (
        list(outputs)
        + ([TARGET] if PREVIOUS_TARGET in extra_in else [])
        + ([LAW_STATE] if PREVIOUS_LAW_STATE in extra_in else [])
    )
    if not known or got_out != expected_out:
        raise PolicyLoadError(
            f"{path} has inputs {got_in} and outputs {got_out}; expected {list(inputs)} "
            f"(+ optional {list(optional)}) -> {list(outputs)} (a graph written by `ocelot export`)"
        )
    return session


def _preprocessing(session, path: Path) -> Preprocessing:
    """The preprocessing the graph records (written by `ocelot export`), checked against its frame input."""
    try:
        preprocessing = Preprocessing.from_metadata(session.get_modelmeta().custom_metadata_map)
    except ValueError as exc:
        raise PolicyLoadError(f"{path}: {exc}; export the model again with `ocelot export`") from None
    size = preprocessing.frame_size
    shape = session.get_inputs()[0].shape  # (batch, 3, height, width)
    if len(shape) != 4 or shape[1] != 3 or any(isinstance(d, int) and d != size for d in shape[2:]):
        raise PolicyLoadError(
            f"{path}: the frames input has shape {shape}, but the model's preprocessing makes "
            f"(batch, 3, {size}, {size}) frames; export the model again with `ocelot export`"
        )
    return preprocessing


def _law_state_size(session, path: Path) -> int:
    """The length of the law state the graph carries between frames, from its input's shape (batch, K)."""
    shape = next(i.shape for i in session.get_inputs() if i.name == PREVIOUS_LAW_STATE)
    if len(shape) != 2 or not isinstance(shape[1], int) or shape[1] < 1:
        raise PolicyLoadError(
            f"{path}: {PREVIOUS_LAW_STATE} has shape {shape}; it needs (batch, K) with a fixed K, as "
            "`ocelot export` writes it"
        )
    return shape[1]


class OnnxPolicy:
    def __init__(self, model_path: str | Path, threads: int = 1, expected: dict[str, str] | None = None) -> None:
        """`expected`: sha256 per model file kind (policy, text, tokenizer) that must match."""
        files = model_files(model_path)
        for kind, sha in (expected or {}).items():
            if sha:
                _check_sha256(files[kind], sha)
        self.policy = _session(
            files["policy"],
            threads,
            POLICY_INPUTS,
            POLICY_OUTPUTS,
            (PREVIOUS_ACTION, EARLIER_ACTION, PREVIOUS_TARGET, PREVIOUS_LAW_STATE),
        )
        self.preprocessing = _preprocessing(self.policy, files["policy"])
        names = {i.name for i in self.policy.get_inputs()}
        self.uses_previous_action, self.uses_previous_target = PREVIOUS_ACTION in names, PREVIOUS_TARGET in names
        self.uses_earlier_action = EARLIER_ACTION in names
        self.uses_law_state = PREVIOUS_LAW_STATE in names
        self.law_state_size = _law_state_size(self.policy, files["policy"]) if self.uses_law_state else 0
        self.context = EpisodeContext(self.law_state_size)
        self.text = _session(files["text"], threads, TEXT_INPUTS, TEXT_OUTPUTS)
        if not files["tokenizer"].is_file():
            raise PolicyLoadError(f"{files['tokenizer']} does not exist; it is written by `ocelot export`")
        self.tokenizer = load_tokenizer(files["tokenizer"])
        shape = self.policy.get_inputs()[1].shape  # (batch, tokens, features)
        if not isinstance(shape[1], int):
            raise PolicyLoadError(f"{files['policy']}: text_features needs a fixed token count, got {shape}")
        self.max_tokens = shape[1]
        self.command = ""
        self._text_features: np.ndarray | None = None
        self._mask: np.ndarray | None = None

    def set_command(self, text: str) -> None:
        """Encode the command once (the text graph does not run per frame)."""
        if not str(text).strip():
            raise ValueError("the language command is empty")
        ids, mask = tokenize(self.tokenizer, [text], self.max_tokens)
        self._text_features = self.text.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        self._mask, self.command = mask, text
        self.reset()  # the estimate was of the face the old command named

    @property
    def last_target(self) -> np.ndarray | None:
        """Where the policy placed the commanded face on the last frame ((x, y) in [-1, 1]); None after a
        reset or for models that do not estimate it."""
        return self.context.known_target

    def reset(self) -> None:
        """Forget the target estimate fed back between frames: the next frame starts an episode."""
        self.context.reset()

    def _feeds(
        self, frames: np.ndarray, commands_before, targets_before=None, earlier=None, law_states_before=None
    ) -> dict[str, np.ndarray]:
        """Policy-graph inputs for model-input frames (N, 3, S, S), the commands sent before them and
        (models that take them) the commands sent before those (None: none, zero), the target
        estimates and the law states on the frames before them (None: none, NaN)."""
        if self._text_features is None or self._mask is None:
            raise RuntimeError("set_command() first")
        n = len(frames)
        feeds = {
            "frames": frames,
            "text_features": np.repeat(self._text_features, n, 0),
            "attention_mask": np.repeat(self._mask, n, 0),
        }
        if self.uses_previous_action:
            feeds[PREVIOUS_ACTION] = np.asarray(commands_before, np.float32).reshape(n, 2)
        if self.uses_earlier_action:
            feeds[EARLIER_ACTION] = (
                no_previous_action(n) if earlier is None else np.asarray(earlier, np.float32).reshape(n, 2)
            )
        if self.uses_previous_target:
            feeds[PREVIOUS_TARGET] = (
                no_previous_target(n)
                if targets_before is None
                else np.asarray(targets_before, np.float32).reshape(n, 2)
            )
        if self.uses_law_state:
            feeds[PREVIOUS_LAW_STATE] = (
                no_previous_law_state(n, self.law_state_size)
                if law_states_before is None
                else np.asarray(law_states_before, np.float32).reshape(n, -1)
            )
        return feeds

    def act_on_frames(self, frames: np.ndarray, commands_before: np.ndarray | None = None) -> np.ndarray:
        """A batch of stored policy frames (N, S, S, 3) -> raw actions (N, 2), for offline evaluation.
        `commands_before` (N, 2): the command sent for the frame before each (zero if None), for models
        that take it."""
        previous = no_previous_action(len(frames)) if commands_before is None else commands_before
        # consecutive frames of one episode: the earlier command of each is the previous one of the one before
        earlier = previous_actions(previous)
        inputs = frames_to_input(frames, self.preprocessing)
        if self.uses_law_state:  # each frame's state is the frame before's output: one frame at a time, as the node
            context = EpisodeContext(self.law_state_size)
            return np.stack([self._step(frame[None], before, context)[0][0] for frame, before in zip(inputs, previous)])
        if not self.uses_previous_target:
            return self.policy.run(None, self._feeds(inputs, previous, earlier=earlier))[0]
        # each frame gets the estimate of the one before (the first: none); estimates need no previous one
        targets = self.policy.run(None, self._feeds(inputs, previous, earlier=earlier))[1]
        return self.policy.run(None, self._feeds(inputs, previous, previous_targets(targets), earlier))[0]

    def act(self, rgb: np.ndarray, previous_action: tuple[float, float] = AT_REST) -> tuple[np.ndarray, float]:
        """(H, W, 3) uint8 RGB camera image -> raw (pan_vel, tilt_vel) and inference ms.
        `previous_action` (the command sent for the frame before) is used by models that take it; models
        that take their previous target estimate or the command before the previous one get what this
        object kept from the last call (`reset` between episodes)."""
        frame = to_policy_frame(rgb, self.preprocessing.frame_size)
        actions, elapsed = self._step(frames_to_input(frame, self.preprocessing), previous_action, self.context)
        return actions[0].astype(np.float64), elapsed

    def _step(self, inputs: np.ndarray, previous_action, context: EpisodeContext) -> tuple[np.ndarray, float]:
        """One frame of an episode: the graph on a model-input frame (1, 3, S, S) with what `context` kept from
        the frame before, which then keeps this frame's. -> (raw actions (1, 2), inference ms)."""
        feeds = self._feeds(
            inputs, previous_action, context.previous_target, context.earlier_action, context.previous_law_state
        )
        start = time.perf_counter()
        outputs = self.policy.run(None, feeds)
        elapsed = (time.perf_counter() - start) * 1e3
        context.remember(
            outputs[1] if self.uses_previous_target else None,
            previous_action,
            outputs[-1] if self.uses_law_state else None,
        )
        return outputs[0], elapsed
