"""ONNX export: two graphs, a tokenizer and a model card, checked against PyTorch on random inputs.

    <name>.onnx            per frame:   frames (B,3,S,S), text_features (B,L,H), attention_mask (B,L)
                                        [, previous_action (B,2) if the model takes it]
                                        [, earlier_action (B,2) if the model takes it]
                                        [, previous_target (B,2) if the model takes it; NaN: none]
                                        [, previous_law_state (B,K) the predictive head's; NaN: none]
                                        -> actions (B,2)  [pan_vel, tilt_vel] rad/s
                                           [, target (B,2): this frame's estimate, the next previous_target]
                                           [, law_state (B,K): the next previous_law_state]
    <name>.text.onnx       per command: input_ids (B,L), attention_mask (B,L) -> text_features (B,L,H)
    <name>.tokenizer.json  the tokenizers-library tokenizer (no transformers needed to run)
    <name>.card.json       config, dataset fingerprint, metrics, sha256 of every file, I/O names

The per-frame graph's metadata holds its preprocessing (frame size S, normalisation:
ocelot_common.preprocessing), the one the checkpoint was trained with; the card repeats it.

With quantize_text ("all", "blocks" or "embeddings", ocelot_train.quantize.SCOPES), the text graph's weights
in that scope are stored as int8 (a quarter of the size, a little more, or a bit over half); the fp32 graph is
checked for parity first, and the int8 one by how much it moves the policy's read-out on dataset frames with
every training command.

The text encoder runs once per command instead of once per frame (for the
DINOv2 + CLIP design (training/dinov2_clip.yaml) that halves the per-frame work; for the default
it is the difference between ~3 ms and ~10 ms). Opset 17, classic exporter.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ocelot_common.model_files import (
    EARLIER_ACTION,
    LAW_STATE,
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
from ocelot_common.preprocessing import STANDARD, Preprocessing
from ocelot_train.checkpoint import CheckpointError, read_checkpoint
from ocelot_train.configuration_vla import ConfigError, model_config_from_dict
from ocelot_train.encoders_text import build_text_encoder
from ocelot_train.modeling_vla import VLAPolicy
from ocelot_train.predictive_law import PredictiveLaw
from ocelot_train.quantize import SCOPES, quantize_weights_int8
from ocelot_train.validation import UNIT_TO_CAMERA_PX

OPSET = 17
PARITY_TOLERANCE = 1e-5
# what int8 text weights may move the read-out by, camera px, on dataset frames with every training command. The
# text reaches the command only through the read-out; how far a command moves for a read-out shift is the head's
# gain (the predictive head's is about five times the linear law's), which the closed-loop gate judges.
QUANTIZED_READ_OUT_MAX_PX = 20.0  # under half a token of the stride-16 grid (46 px): never onto another face
QUANTIZED_READ_OUT_MEAN_PX = 2.0  # well under the read-out's own error (7-8 px on single faces)


class ExportError(RuntimeError):
    """The export failed a check (parity, I/O); the message gives the numbers."""


def load_checkpoint(path: str | Path) -> tuple[VLAPolicy, dict]:
    """The policy and checkpoint of best.pt from `ocelot train`, or of a model `ocelot export` wrote (its model.onnx
    or folder: its weights read back, ocelot_train.graph_weights), to export it again with other settings."""
    if Path(path).is_dir() or str(path).endswith(".onnx"):
        from ocelot_train.graph_weights import GraphWeightsError, checkpoint_from_model  # it imports this module

        try:
            checkpoint = checkpoint_from_model(path)
        except GraphWeightsError as exc:
            raise ExportError(str(exc)) from None
        return _policy(checkpoint), checkpoint
    try:
        checkpoint = read_checkpoint(path)
        config = model_config_from_dict(checkpoint["config"]["model"])
    except (CheckpointError, KeyError, TypeError) as exc:
        raise ExportError(
            f"{path} is not an Ocelot training checkpoint ({exc}); pass best.pt from `ocelot train`"
        ) from None
    return _policy(checkpoint, config), checkpoint


def _policy(checkpoint: dict, config=None) -> VLAPolicy:
    config = config or model_config_from_dict(checkpoint["config"]["model"])
    policy = VLAPolicy(config, checkpoint["text_dim"], pretrained_weights=False)  # weights come from the checkpoint
    policy.load_state_dict(checkpoint["state_dict"])
    return policy.eval()


class PolicyGraph(torch.nn.Module):
    """The per-frame graph as exported: `VLAPolicy.act` on positional inputs (the previous command and
    target only for models that take them), with the target estimate as a second output for models that
    feed it back (`previous_target`), and the predictive head's state in and out (model.head: predictive)."""

    def __init__(self, policy: VLAPolicy) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, frames, text_features, attention_mask, *previous):
        config = self.policy.config
        taken = iter(previous)  # the optional inputs the model takes, in the graph's order
        previous_action = next(taken) if config.previous_action else None
        earlier_action = next(taken) if config.earlier_action else None
        previous_target = next(taken) if config.previous_target else None
        law_state = next(taken) if config.head == "predictive" else None
        actions, target, *state = self.policy.act(
            frames, text_features, attention_mask, previous_action, previous_target, earlier_action, law_state
        )
        if previous_target is not None and config.head == "predictive" and not config.track_prior_sigma:
            # nothing else reads the previous target then (the tracking prior does, and the other heads): a no-op
            # keeps it an input, so the graph takes what its card and the runtime expect
            target = target + 0.0 * torch.nan_to_num(previous_target)
        outputs = [actions, *([target] if config.previous_target else []), *state]
        return tuple(outputs) if len(outputs) > 1 else actions


def export_graph(module: torch.nn.Module, args: tuple, path: Path, inputs, outputs, dynamic: dict) -> None:
    torch.onnx.export(
        module,
        args,
        str(path),
        input_names=list(inputs),
        output_names=list(outputs),
        dynamic_axes=dynamic,
        opset_version=OPSET,
        dynamo=False,
        do_constant_folding=True,
    )


def write_metadata(path: Path, metadata: dict[str, str]) -> None:
    """Add key/value metadata to an ONNX file (onnxruntime reads it back: custom_metadata_map)."""
    import onnx

    model = onnx.load(str(path))
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def checkpoint_preprocessing(checkpoint: dict) -> Preprocessing:
    """What the checkpoint was trained on; checkpoints that record none were all trained on STANDARD."""
    try:
        return Preprocessing.from_dict(checkpoint.get("preprocessing") or STANDARD.to_dict())
    except (TypeError, ValueError) as exc:
        raise ExportError(f"the checkpoint's preprocessing cannot be used ({exc})") from None


def cpu_session(path: Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def parity_gap(module, session, feeds: dict[str, np.ndarray]) -> float:
    """max |ONNX - PyTorch| over every output of `module` on `feeds`."""
    with torch.no_grad():
        expected = module(*(torch.from_numpy(v) for v in feeds.values()))
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = session.run(None, feeds)
    return max(float(np.max(np.abs(g - e.numpy()))) for g, e in zip(got, expected))


def law_state_size(policy: VLAPolicy) -> int:
    """The length of the state the policy's graph carries between frames (0: none; K in the graph's I/O)."""
    law = policy.law
    return law.state_size if isinstance(law, PredictiveLaw) else 0


def random_policy_inputs(
    rng: np.random.Generator,
    batch: int,
    tokens: int,
    text_dim: int,
    previous_action: bool = False,
    previous_target: bool = False,
    frame_size: int = STANDARD.frame_size,
    earlier_action: bool = False,
    law_state_size: int = 0,
) -> dict[str, np.ndarray]:
    """Random feeds for the policy graph; `law_state_size` 0: a model without a law state."""
    mask = np.ones((batch, tokens), np.int64)
    mask[:, rng.integers(3, tokens) :] = 0  # some padding, never all
    feeds = {
        "frames": rng.normal(0, 1, (batch, 3, frame_size, frame_size)).astype(np.float32),
        "text_features": rng.normal(0, 1, (batch, tokens, text_dim)).astype(np.float32),
        "attention_mask": mask,
    }
    if previous_action:
        feeds[PREVIOUS_ACTION] = rng.uniform(-1, 1, (batch, 2)).astype(np.float32)
    if earlier_action:
        feeds[EARLIER_ACTION] = rng.uniform(-1, 1, (batch, 2)).astype(np.float32)
    if previous_target:
        feeds[PREVIOUS_TARGET] = rng.uniform(-1, 1, (batch, 2)).astype(np.float32)
        feeds[PREVIOUS_TARGET][0] = np.nan  # the first frame of an episode: no estimate before it
    if law_state_size:
        feeds[PREVIOUS_LAW_STATE] = rng.uniform(-0.5, 0.5, (batch, law_state_size)).astype(np.float32)
        feeds[PREVIOUS_LAW_STATE][0] = np.nan  # an episode's first frame
    return feeds


QUANTIZATION_FRAMES = 8  # dataset frames the int8 text graph is checked on, each with every command


def dataset_frames(
    checkpoint: dict, count: int = QUANTIZATION_FRAMES, root: str | Path | None = None
) -> tuple[np.ndarray, str, list[str]]:
    """Up to `count` model-input frames spread over the checkpoint's dataset, or `root` (its val split, else
    train), where they came from, and the commands its episodes hold: what an export check should see is what
    the policy sees, not noise."""
    from ocelot_train.dataset import DatasetError, FrameDataset

    root = str(root or checkpoint.get("dataset") or "")
    for split in ("val", "train"):
        try:
            frames = FrameDataset(root, split)
        except (DatasetError, FileNotFoundError, OSError, ValueError):
            continue
        if len(frames):
            picks = sorted({int(i) for i in np.linspace(0, len(frames) - 1, count)})
            where = f"{root} ({split} split, {len(picks)} frames)"
            return np.stack([frames.frame_input(i) for i in picks]), where, list(frames.command_table)
    raise ExportError(
        f"--quantize-text checks the int8 text graph on frames of the model's training dataset "
        f"({root or 'not recorded in the checkpoint'}), and none can be read here; export where the "
        "dataset is, name another with --check-dataset, or export without --quantize-text"
    )


def _quantize_text(
    policy: VLAPolicy, tokenizer, paths: dict, feeds: dict, checkpoint: dict, scope: str, check_dataset=None
) -> dict:
    """Replace the text graph by its int8 version if it passes; measure what it does to the features, to the
    read-out (the check) and to the actions on dataset frames, each frame with every command the model was
    trained on (a model read back from its graph: the frames' dataset's)."""
    import onnxruntime as ort

    from ocelot_common.text import tokenize

    frames, frames_from, recorded = dataset_frames(checkpoint, root=check_dataset)
    commands = list(checkpoint.get("commands") or recorded or ["track the face", "follow the person on the left"])
    fp32 = ort.InferenceSession(str(paths["text"]), providers=["CPUExecutionProvider"])
    candidate = paths["text"].with_name(paths["text"].name + ".int8")
    quantize_weights_int8(paths["text"], candidate, scope=scope)
    int8 = ort.InferenceSession(str(candidate), providers=["CPUExecutionProvider"])
    ids, mask = tokenize(tokenizer, commands, policy.config.text.max_tokens)
    text_feeds = {"input_ids": ids, "attention_mask": mask}
    exact, approx = fp32.run(None, text_feeds)[0], int8.run(None, text_feeds)[0]
    real = mask.astype(bool)
    a, b = exact[real], approx[real]
    cosine = (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
    extra = {
        name: torch.from_numpy(feeds[name][:1].repeat(len(commands), 0))
        for name in (PREVIOUS_ACTION, EARLIER_ACTION, PREVIOUS_TARGET, PREVIOUS_LAW_STATE)
        if name in feeds
    }
    effect, shifts = 0.0, []
    with torch.no_grad():
        for frame in frames:
            batch = torch.from_numpy(np.repeat(frame[None], len(commands), 0))
            out = [policy.act(batch, torch.from_numpy(f), torch.from_numpy(mask), **extra) for f in (exact, approx)]
            effect = max(effect, float(np.max(np.abs(out[0][0] - out[1][0]).numpy())))
            shifts.append(torch.linalg.vector_norm((out[0][1] - out[1][1]) * UNIT_TO_CAMERA_PX, dim=1).numpy())
    shift = np.concatenate(shifts)
    worst, mean = float(np.max(shift)), float(np.mean(shift))
    if not (worst <= QUANTIZED_READ_OUT_MAX_PX and mean <= QUANTIZED_READ_OUT_MEAN_PX):  # NaN never passes
        candidate.unlink()
        finer = [f"--quantize-text {name} ({what})" for name, (_, what) in SCOPES.items() if name not in (scope, "all")]
        raise ExportError(
            f"int8 text weights ({scope}) move the read-out by up to {worst:.2f} px (limit "
            f"{QUANTIZED_READ_OUT_MAX_PX}), {mean:.2f} px on average (limit {QUANTIZED_READ_OUT_MEAN_PX}) on frames "
            f"of {frames_from}; export with {', '.join(finer)}, or without --quantize-text"
        )
    candidate.replace(paths["text"])
    return {
        "weights": "int8 per channel",
        "scope": scope,
        "commands_checked": len(commands),
        "frames_checked": len(frames),
        "frames_from": frames_from,
        "feature_cosine_min": float(cosine.min()),
        "feature_max_abs": float(np.max(np.abs(a - b))),
        "read_out_max_px": worst,
        "read_out_mean_px": mean,
        "read_out_tolerance_px": {"max": QUANTIZED_READ_OUT_MAX_PX, "mean": QUANTIZED_READ_OUT_MEAN_PX},
        "action_max_abs": effect,  # recorded, not checked: it is the read-out's shift times the head's gain
    }


def with_prior(policy: VLAPolicy, checkpoint: dict, sigma: float, radius: float, cap: float) -> None:
    """Set the tracking prior (model.track_prior_*) on a loaded policy and its checkpoint's config."""
    names = {"track_prior_sigma": sigma, "track_prior_radius": radius, "track_prior_cap": cap}
    try:
        policy.config = replace(policy.config, **names)  # the config's own checks
    except ConfigError as exc:
        raise ExportError(f"--track-prior: {exc}") from None
    checkpoint["config"] = {**checkpoint["config"], "model": {**checkpoint["config"]["model"], **names}}


def read_predictive_law(path: str | Path) -> dict:
    """The `predictive_law` of a JSON file `ocelot tune-law --law predictive --output` wrote; raises ExportError."""
    try:
        values = json.loads(Path(path).read_text())["predictive_law"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ExportError(
            f"--predictive-law {path}: cannot read its predictive_law ({exc!r}); pass the JSON that "
            "`ocelot tune-law --law predictive --output FILE` writes"
        ) from None
    return values


def with_predictive_law(policy: VLAPolicy, checkpoint: dict, values: dict) -> None:
    """Replace a loaded policy's head by the predictive one (model.head: predictive, model.predictive_law), in its
    checkpoint's config too. The read-out is untouched: the head has no weights, only the robot's settings."""
    names = {"head": "predictive", "predictive_law": values}
    try:
        policy.config = replace(policy.config, **names)  # the config's own checks
    except ConfigError as exc:
        raise ExportError(f"--predictive-law: {exc}") from None
    policy.law, policy.head = PredictiveLaw(policy.config.max_velocity, policy.config.predictive_law), None
    checkpoint["config"] = {**checkpoint["config"], "model": {**checkpoint["config"]["model"], **names}}


def export_model(
    checkpoint_path: str | Path,
    output: str | Path,
    tolerance: float = PARITY_TOLERANCE,
    extra_card: dict | None = None,
    quantize_text: str | None = None,
    track_prior: tuple[float, float, float] | None = None,
    predictive_law: dict | None = None,
    check_dataset: str | Path | None = None,
) -> dict:
    """Write the graphs, tokenizer and card; raise ExportError if ONNX and PyTorch differ by > tolerance.
    `track_prior` (sigma, radius, cap) sets the read-out's tracking prior in the graph (and the card's config):
    it acts only at run time, on the estimate the node feeds back, so a trained read-out can take one.
    `predictive_law` (model.predictive_law) puts the predictive head in place of the checkpoint's: it acts only
    on the read-out, whose training the head does not change (a read-out trained on its own loss).
    `quantize_text` (a scope of ocelot_train.quantize.SCOPES, or None for fp32) says which text weights go int8;
    they are checked on frames of the checkpoint's dataset, or of `check_dataset`."""
    if quantize_text is not None and quantize_text not in SCOPES:
        raise ExportError(f"--quantize-text {quantize_text!r}: choose one of {', '.join(SCOPES)}")
    if check_dataset and not quantize_text:
        raise ExportError("--check-dataset names the frames that check the int8 text graph: add --quantize-text")
    policy, checkpoint = load_checkpoint(checkpoint_path)
    if track_prior is not None:
        with_prior(policy, checkpoint, *track_prior)
    if predictive_law is not None:
        with_predictive_law(policy, checkpoint, predictive_law)
    config = policy.config
    text_encoder, tokenizer = build_text_encoder(config.text)
    paths = model_files(output)
    paths["policy"].parent.mkdir(parents=True, exist_ok=True)
    paths["card"].unlink(missing_ok=True)  # written last, only for an export that passed its checks
    rng = np.random.default_rng(0)
    tokens, text_dim = config.text.max_tokens, text_encoder.out_dim
    preprocessing = checkpoint_preprocessing(checkpoint)
    feeds = random_policy_inputs(
        rng,
        2,
        tokens,
        text_dim,
        config.previous_action,
        config.previous_target,
        preprocessing.frame_size,
        config.earlier_action,
        law_state_size(policy),
    )
    inputs = tuple(feeds)
    graph = PolicyGraph(policy).eval()
    outputs = (
        POLICY_OUTPUTS
        + ((TARGET,) if config.previous_target else ())
        + ((LAW_STATE,) if config.head == "predictive" else ())
    )
    export_graph(
        graph,
        tuple(torch.from_numpy(v) for v in feeds.values()),
        paths["policy"],
        inputs,
        outputs,
        {name: {0: "batch"} for name in inputs + outputs},
    )
    write_metadata(paths["policy"], preprocessing.to_metadata())
    ids = rng.integers(1000, 2000, (2, tokens)).astype(np.int64)
    text_feeds = {"input_ids": ids, "attention_mask": feeds["attention_mask"]}
    export_graph(
        text_encoder,
        tuple(torch.from_numpy(v) for v in text_feeds.values()),
        paths["text"],
        TEXT_INPUTS,
        TEXT_OUTPUTS,
        {name: {0: "batch"} for name in TEXT_INPUTS + TEXT_OUTPUTS},
    )
    tokenizer.save(str(paths["tokenizer"]))
    parity = {
        "policy": parity_gap(graph, cpu_session(paths["policy"]), feeds),
        "text": parity_gap(text_encoder, cpu_session(paths["text"]), text_feeds),
    }
    if not all(np.isfinite(v) and v <= tolerance for v in parity.values()):  # NaN never passes
        raise ExportError(f"ONNX and PyTorch disagree: max |difference| {parity} > {tolerance:g}")
    quantized = None
    if quantize_text:
        quantized = _quantize_text(policy, tokenizer, paths, feeds, checkpoint, quantize_text, check_dataset)
    card = {
        "format": "ocelot-vla-onnx/1",
        "exported": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "opset": OPSET,
        "policy": {
            "inputs": list(inputs),
            "outputs": list(outputs),
            "frame_size": preprocessing.frame_size,
            "max_velocity": config.max_velocity,
        },
        "preprocessing": preprocessing.to_dict(),
        "text": {
            "inputs": list(TEXT_INPUTS),
            "outputs": list(TEXT_OUTPUTS),
            "max_tokens": tokens,
            "feature_dim": text_dim,
            "backend": config.text.backend,
        },
        "config": checkpoint["config"],
        "dataset": checkpoint.get("dataset", ""),
        "dataset_fingerprint": checkpoint.get("dataset_fingerprint", ""),
        "metrics": checkpoint.get("metrics", {}),
        "parity_max_abs": parity,
        "parity_tolerance": tolerance,
        "text_quantization": quantized,
        "files": {
            kind: {"name": paths[kind].name, "sha256": sha256_of(paths[kind]), "bytes": paths[kind].stat().st_size}
            for kind in ("policy", "text", "tokenizer")
        },
        **(extra_card or {}),
    }
    paths["card"].write_text(json.dumps(card, indent=1, sort_keys=True))
    return card
