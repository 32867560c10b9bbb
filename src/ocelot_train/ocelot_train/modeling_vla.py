"""The VLA policy: visual tokens attend to the command's tokens, then a text-conditioned spatial read-out.

    frames (B,3,224,224) -> vision encoder -> tokens (B,T,Cv) -> proj + position -> (B,T,D)
        (+ with model.vision.colour_cells, the colours in and around each token's cell, ColourContext)
    command (B,L) -> frozen text encoder -> (B,L,Ct) -> trainable proj -> (B,L,D)
    N fusion layers: visual tokens query the text tokens (padding masked); with
        model.visual_self_attention, each other first
    per-token score -> softmax over the grid -> expected (x, y) and a weighted feature
    MLP head (+ the previous command, + the target's motion since the previous frame, if configured)
        -> tanh * max_velocity -> (pan_vel, tilt_vel)
    or (model.head: law) the oracle's law on the read-out, its gains set for the robot (ocelot_train.law_head)
    or (model.head: predictive) the oracle's aim on a filtered read-out, with the robot's actuation in the graph
        and a state carried from frame to frame (ocelot_train.predictive_law)

The read-out is a spatial soft-argmax whose weights depend on the command, so
"the person on the left" can move the attention to another face. No Python
control flow depends on tensor values, so the graph exports to ONNX as is.

With `previous_target`, the read-out position on the previous frame (the policy's
own estimate, fed back at run time) is an input: its difference to the current one
is how far the target moved in the image, which with the previous command gives the
target's angular rate. NaN means "no previous frame" (an episode's first) and reads
as no motion, inside the graph.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ocelot_common.attributes import ATTRIBUTE_VALUES, NO_ATTRIBUTE, UNKNOWN
from ocelot_train.configuration_vla import TrainingRules, VLAConfig
from ocelot_train.encoders_vision import VisionEncoder, build_vision_encoder, colour_image
from ocelot_train.law_head import LawHead
from ocelot_train.predictive_law import PredictiveLaw

MASKED = -1e4  # additive attention bias for padding (finite: keeps fp16 and ONNX free of NaN)
MOTION_SCALE = 10.0  # read-out positions span [-1, 1]; a face moves ~0.05 of that per frame


class CrossAttention(nn.Module):
    """Multi-head attention written out, so padding masks export the same everywhere."""

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dh = heads, d // heads
        self.q, self.k, self.v, self.out = (nn.Linear(d, d) for _ in range(4))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, context: torch.Tensor, context_mask: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        split = lambda y: y.reshape(b, -1, self.heads, self.dh).transpose(1, 2)  # noqa: E731
        q, k, v = split(self.q(x)), split(self.k(context)), split(self.v(context))
        bias = (1.0 - context_mask.to(q.dtype))[:, None, None, :] * MASKED
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.dh) + bias, dim=-1)
        return self.out((self.drop(weights) @ v).transpose(1, 2).reshape(b, t, d))


class FusionLayer(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float, self_attention: bool = False) -> None:
        super().__init__()
        self.norm_attn, self.norm_ff = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = CrossAttention(d, heads, dropout)
        self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * d, d))
        self.norm_self = nn.LayerNorm(d) if self_attention else None
        self.self_attn = CrossAttention(d, heads, dropout) if self_attention else None
        if self.self_attn is not None:  # a no-op until trained: the layer starts as one without it
            nn.init.zeros_(self.self_attn.out.weight)
            nn.init.zeros_(self.self_attn.out.bias)

    def forward(self, visual: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        if self.self_attn is not None and self.norm_self is not None:
            normed = self.norm_self(visual)
            visual = visual + self.self_attn(normed, normed, visual.new_ones(visual.shape[:2]))
        visual = visual + self.attn(self.norm_attn(visual), text, text_mask)
        return visual + self.ff(self.norm_ff(visual))


def command_mean(text: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
    """The command's mean token (B, D) of its text features (B, L, D), padding left out."""
    mask = text_mask.to(text.dtype)[..., None]
    return (text * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1.0)


class ColourContext(nn.Module):
    """The colour cells of the tokens (B, T, 3 * ih * iw, encoders_vision.WithColourCells) and the command ->
    an addition to each token's feature (B, T, D) and to its score (B, T). A small network reads the pooled
    colour image down to the token grid, then `reach` tokens up and down and one to each side: the colour of
    the hair above a face and of the shirt below it, whatever the face looks like. The score is that colour
    feature matched against a query from the command ("the person in the red shirt"), so a colour word finds
    its cells directly rather than only through the fusion layers. Both outputs start at zero, so a model
    started from a checkpoint without it starts out as the checkpoint's."""

    def __init__(self, channels: int, d: int, grid: tuple[int, int], hidden: int = 32, reach: int = 3) -> None:
        super().__init__()
        self.grid = grid
        layers: list[nn.Module] = [nn.Conv2d(3, hidden, 3, padding=1), nn.GELU()]
        for _ in range(round(math.log2(math.sqrt(channels / 3)))):  # each halves the image, to the token grid
            layers += [nn.Conv2d(hidden, hidden, 3, stride=2, padding=1), nn.GELU()]
        layers += [nn.Conv2d(hidden, hidden, (2 * reach + 1, 3), padding=(reach, 1)), nn.GELU()]
        self.cells = nn.Sequential(*layers)
        self.out = nn.Linear(hidden, d)
        self.query = nn.Linear(d, hidden)
        for layer in (self.out, self.query):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(
        self, colours: torch.Tensor, text: torch.Tensor, text_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.cells(colour_image(colours, self.grid)).flatten(2).transpose(1, 2)  # (B, T, hidden)
        command = command_mean(text, text_mask)  # (B, D)
        score = (features @ self.query(command)[..., None]).squeeze(-1) / math.sqrt(features.shape[-1])
        return self.out(features), score


def _kind_slices() -> tuple[list[slice], list[int]]:
    """Each kind's slice of AttributeCells' per-cell logits (its values, then "no face is centred here"), and
    where each of ATTRIBUTE_CLASSES is among them."""
    slices: list[slice] = []
    named: list[int] = []
    start = 0
    for values in ATTRIBUTE_VALUES.values():
        slices.append(slice(start, start + len(values) + 1))
        named += range(start, start + len(values))
        start += len(values) + 1
    return slices, named


ATTRIBUTE_KINDS, NAMED_LOGITS = _kind_slices()
CELL_LOGITS = ATTRIBUTE_KINDS[-1].stop


class AttributeCells(nn.Module):
    """The frozen encoder's tokens (B, T, C) and the command -> each cell's attribute logits (B, T, CELL_LOGITS),
    the command's query logits (B, NO_ATTRIBUTE + 1) and an addition to each cell's score (B, T).

    A cell reads its own tokens, those of the `above` rows over it and of the `below` rows under it (and one to
    each side): a face's hair reaches above its centre and its shirt sits 1-4 cells under it, as far as it is
    near (with model.vision.colour_cells, their cells' colours too). Each kind (ocelot_common.attributes) has a
    logit per value and one for "no face is centred on this cell", so that the shirt itself, a cell or two under
    the face, does not read as a face with that shirt. The frozen tokens hold the shirt's colour; what the
    read-out lacked was a signal that teaches it where to look, which attribute_loss gives on every frame rather
    than only through attribute commands' positions.

    The query names, from the command's mean text feature, the attribute class it asks for or none; the score
    is the log-probability that a face with the named class is centred on the cell, times a learned gain that
    starts at zero, so a model started from a checkpoint without it starts out as the checkpoint's."""

    GAIN_SCALE = 10.0  # the gain is this times its parameter: it must reach a few units under steps of ~lr

    def __init__(
        self, channels: int, grid: tuple[int, int], text_dim: int, hidden: int = 64, above: int = 2, below: int = 4
    ) -> None:
        super().__init__()
        self.grid = grid
        self.detector = nn.Sequential(
            nn.ZeroPad2d((1, 1, above, below)),  # (left, right, top, bottom)
            nn.Conv2d(channels, hidden, (above + below + 1, 3)),
            nn.GELU(),
            nn.Conv2d(hidden, CELL_LOGITS, 1),
        )
        self.query = nn.Linear(text_dim, NO_ATTRIBUTE + 1)
        self.gain = nn.Parameter(torch.zeros(()))

    def forward(
        self, tokens: torch.Tensor, text_features: torch.Tensor, text_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, t, c = tokens.shape
        gh, gw = self.grid
        cells = self.detector(tokens.transpose(1, 2).reshape(b, c, gh, gw)).flatten(2).transpose(1, 2)
        query = self.query(command_mean(text_features, text_mask))
        log_p = torch.cat([torch.log_softmax(cells[..., kind], dim=-1) for kind in ATTRIBUTE_KINDS], dim=-1)
        wanted = torch.softmax(query, dim=-1)[:, :NO_ATTRIBUTE]  # what "none" takes adds nothing to any cell
        named = log_p[..., NAMED_LOGITS]  # (B, T, NO_ATTRIBUTE)
        # the gain multiplies a tensor first: GAIN_SCALE * gain alone would be folded into one constant on export,
        # and the gain could not be read back from the graph (ocelot_train.graph_weights)
        return cells, query, (named * wanted[:, None]).sum(dim=-1) * self.gain * self.GAIN_SCALE


def off_face_cells(grid_xy: torch.Tensor, points: torch.Tensor, alone: torch.Tensor) -> torch.Tensor:
    """(K, T): the cells on which no face is centred, as far as a frame's commanded face (`points`, (K, 2))
    shows: beyond SPREAD_FREE_RADIUS from it, those in the band over and under it (within a cell spacing
    across and 0.6 image half-heights up or down: its hair, its shirt; faces do not stand on one another),
    and every one where it is the scene's only face (`alone`, (K,))."""
    gap = grid_distance(grid_xy, points)
    across = (grid_xy[None, :, 0] - points[:, None, 0]).abs()
    updown = (grid_xy[None, :, 1] - points[:, None, 1]).abs()
    spacing = (grid_xy[1, 0] - grid_xy[0, 0]).abs()
    band = (across <= spacing * 1.01) & (updown <= 0.6)
    return (gap > SPREAD_FREE_RADIUS) & (band | alone[:, None])


def attribute_loss(
    cells: torch.Tensor,
    query: torch.Tensor,
    grid_xy: torch.Tensor,
    target_xy: torch.Tensor,
    target_attributes: torch.Tensor,
    attribute_query: torch.Tensor,
    face_count: torch.Tensor,
) -> torch.Tensor:
    """Cross-entropy of AttributeCells' outputs, over the rows where the commanded face is known: each kind's
    logits of the cells within SPREAD_FREE_RADIUS of it against its recorded value (UNKNOWN: not counted), and
    of the cells off_face_cells names against "no face centred here"; and the query against the class the
    command names (UNKNOWN: not counted). Each term is a mean over what it counts (0 when nothing is known)."""
    known = torch.isfinite(target_xy).all(dim=1)
    points = target_xy[known]
    near = grid_distance(grid_xy, points) <= SPREAD_FREE_RADIUS  # (K, T)
    off = off_face_cells(grid_xy, points, face_count[known] == 1)
    cells, classes = cells[known], target_attributes[known]
    face_terms = cells.new_zeros(())
    for k, kind in enumerate(ATTRIBUTE_KINDS):
        values = kind.stop - kind.start - 1
        wanted = classes[:, k]  # (K,)
        log_p = torch.log_softmax(cells[..., kind], dim=-1)  # (K, T, values + 1)
        picked = log_p.gather(2, wanted.clamp_min(0)[:, None, None].expand(-1, log_p.shape[1], 1)).squeeze(2)
        on_face = (near & (wanted != UNKNOWN)[:, None]).to(picked.dtype)
        face_terms = face_terms - (picked * on_face).sum() / on_face.sum().clamp_min(1.0)
        elsewhere = off.to(picked.dtype)
        face_terms = face_terms - (log_p[..., values] * elsewhere).sum() / elsewhere.sum().clamp_min(1.0)
    named = (attribute_query != UNKNOWN).to(query.dtype)
    picked_query = torch.log_softmax(query, dim=-1).gather(1, attribute_query.clamp_min(0)[:, None]).squeeze(1)
    return face_terms - (picked_query * named).sum() / named.sum().clamp_min(1.0)


def target_loss(xy: torch.Tensor, target_xy: torch.Tensor) -> torch.Tensor:
    """Smooth-L1 distance of the read-out position from the commanded face, over the rows where the face
    is known (NaN rows: out of view or not recorded); 0 when none is. It teaches the read-out where the
    commanded face is directly, which the action loss teaches only through the gains."""
    known = torch.isfinite(target_xy).all(dim=1)
    if not known.any():
        return xy.sum() * 0.0  # keeps the graph (and DDP's gradient sync) the same on every batch
    return nn.functional.smooth_l1_loss(xy[known], target_xy[known], beta=0.1)


def grid_distance(grid_xy: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """(B, T): each grid cell's distance to each row's point (B, 2), in image half-widths (NaN rows: NaN).
    Floored inside the root, so a cell on the point keeps a finite gradient."""
    return (grid_xy[None] - points[:, None]).pow(2).sum(dim=-1).clamp_min(1e-12).sqrt()


SPREAD_FREE_RADIUS = 0.2  # image half-widths: about a near face's size, past a cell or two of the grid


def attention_spread(weights: torch.Tensor, grid_xy: torch.Tensor, target_xy: torch.Tensor) -> torch.Tensor:
    """The read-out's weight far from the commanded face: sum_i w_i ((|g_i - t| - r)+)^2, r = SPREAD_FREE_RADIUS,
    over the rows where the face is known. The position loss alone rewards hedging between two faces (their
    mean is the least squared error when unsure, and a point on neither); this charges the weight put on the
    other face, so the read-out learns to commit to one. Weight within r is free: charging it too would pull
    the read-out onto the nearest grid cell (half a cell is ~20 camera pixels)."""
    known = torch.isfinite(target_xy).all(dim=1)
    if not known.any():
        return weights.sum() * 0.0  # keeps the graph the same on every batch, as target_loss does
    gap = grid_distance(grid_xy, target_xy[known])  # (K, T)
    return (weights[known] * (gap - SPREAD_FREE_RADIUS).clamp_min(0.0).pow(2)).sum(dim=1).mean()


def target_mass_loss(weights: torch.Tensor, grid_xy: torch.Tensor, target_xy: torch.Tensor) -> torch.Tensor:
    """-log of the read-out's grid weight within SPREAD_FREE_RADIUS of the commanded face, over the rows where
    the face is known: a classification of the cells. When the read-out is sure of another face, the position
    and spread losses barely move it (a cell's pull scales with its weight, ~0 on the commanded face), while
    this one's pull on the commanded face's cells stays of order one."""
    known = torch.isfinite(target_xy).all(dim=1)
    if not known.any():
        return weights.sum() * 0.0  # keeps the graph the same on every batch, as target_loss does
    near = (grid_distance(grid_xy, target_xy[known]) <= SPREAD_FREE_RADIUS).to(weights.dtype)
    return -(weights[known] * near).sum(dim=1).clamp_min(1e-6).log().mean()


class VLAPolicy(nn.Module):
    """`forward(batch) -> (loss, info)` trains it; `act(frames, text_features, text_mask, ...)` is the graph
    that is exported. The frozen text encoder runs outside (once per command: its features are cached in
    training and computed by a graph of their own)."""

    grid_xy: torch.Tensor  # a buffer

    def __init__(
        self,
        config: VLAConfig,
        text_dim: int,
        vision: VisionEncoder | None = None,
        pretrained_weights: bool = True,
        rules: TrainingRules | None = None,
    ) -> None:
        super().__init__()
        self.config, self.rules = config, rules or TrainingRules()
        self.vision = vision if vision is not None else build_vision_encoder(config.vision, pretrained_weights)
        if not config.vision.trainable:
            for p in self.vision.parameters():
                p.requires_grad_(False)
        d = config.d_model
        gh, gw = self.vision.grid
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, gh), torch.linspace(-1, 1, gw), indexing="ij")
        self.register_buffer("grid_xy", torch.stack([xs.flatten(), ys.flatten()], dim=1), persistent=False)
        self.colour_channels = self.vision.colour_channels
        self.vision_proj = nn.Linear(self.vision.out_dim - self.colour_channels, d)
        self.colour = ColourContext(self.colour_channels, d, self.vision.grid) if self.colour_channels else None
        self.attribute = (
            AttributeCells(self.vision.out_dim, self.vision.grid, text_dim)  # with the colour cells, if any
            if config.attribute_cells
            else None
        )
        self.position = nn.Sequential(nn.Linear(2, d), nn.GELU(), nn.Linear(d, d))
        self.text_proj = nn.Linear(text_dim, d)
        self.fusion = nn.ModuleList(
            FusionLayer(d, config.n_heads, config.dropout, config.visual_self_attention)
            for _ in range(config.n_fusion_layers)
        )
        self.norm = nn.LayerNorm(d)
        self.score = nn.Linear(d, 1)
        self.cell_offset: nn.Linear | None = None
        if config.cell_offsets:
            self.cell_offset = nn.Linear(d, 2)
            nn.init.zeros_(self.cell_offset.weight)  # zero offsets: the read-out starts as the cells' centres
            nn.init.zeros_(self.cell_offset.bias)
        # (x, y): a cell's offset reaches up to one spacing, as a face on a cell's edge is scored by both neighbours
        self.cell_spacing = 2.0 / max(gw - 1, 1), 2.0 / max(gh - 1, 1)
        self.law: LawHead | PredictiveLaw | None = None
        if config.head == "law":
            self.law = LawHead(config.max_velocity, config.law_gains)
        elif config.head == "predictive":
            self.law = PredictiveLaw(config.max_velocity, config.predictive_law)
        self.head = (
            None
            if self.law is not None
            else nn.Sequential(
                nn.Linear(
                    d + 2 + 2 * (config.previous_action + config.previous_target + config.earlier_action),
                    config.head_hidden,
                ),
                nn.GELU(),
                nn.Dropout(config.dropout),
                nn.Linear(config.head_hidden, config.head_hidden),
                nn.GELU(),
                nn.Linear(config.head_hidden, 2),
            )
        )

    def train(self, mode: bool = True):
        super().train(mode)
        if not self.config.vision.trainable:
            self.vision.eval()  # frozen: batch-norm statistics and dropout stay as pretrained
        for module in self.modules():  # a batch norm frozen otherwise (train.train_only) keeps its statistics too
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(
                p.requires_grad for p in module.parameters()
            ):
                module.eval()
        return self

    def act(
        self,
        frames: torch.Tensor,
        text_features: torch.Tensor,
        text_mask: torch.Tensor,
        previous_action: torch.Tensor | None = None,
        previous_target: torch.Tensor | None = None,
        earlier_action: torch.Tensor | None = None,
        previous_law_state: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """What the exported graph computes: (actions (B, 2), read-out position (B, 2)), and with the predictive
        head its state for the next frame (B, its state_size). No previous (or earlier) command reads as the robot
        at rest, no (or a NaN) previous target as no motion, no (or a NaN) law state as an episode's start."""
        return self.from_visual_tokens(
            self.vision(frames),
            text_features,
            text_mask,
            previous_action,
            previous_target,
            earlier_action,
            previous_law_state,
        )

    def forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        """One step on a batch: (loss, {"actions", "target_estimate"}). The batch holds "frame" (B, 3, 224,
        224) or "tokens" (cached frozen-encoder features), the command's "text_features" and "text_mask",
        the oracle's "action", the command applied for the frame before ("previous_action"), "has_previous"
        (not an episode's first frame), "target_xy" (the commanded face, NaN: unknown) and, for
        `previous_target`, the frame before ("previous_frame" or "previous_tokens"). In train mode the
        inputs that reach back one frame are perturbed by `self.rules` (they are the policy's own outputs
        in closed loop); in eval mode they are used as given."""
        config = self.config
        previous_action = self._previous_action(batch["previous_action"]) if config.previous_action else None
        earlier_action = self._previous_action(batch["earlier_action"]) if config.earlier_action else None
        previous_target = self._previous_target(batch) if config.previous_target else None
        text, mask = batch["text_features"], batch["text_mask"]
        tokens = batch["tokens"] if "tokens" in batch else self.vision(batch["frame"])
        pooled, xy, weights, attribute = self.read_out(tokens, text, mask, previous_target)
        # the predictive head's state needs the frames before; the read-out is what trains, so none is given
        actions = self.command(pooled, xy, previous_action, previous_target, earlier_action)[0]
        loss = self.rules.action_loss_weight * nn.functional.mse_loss(actions.float(), batch["action"])
        if self.rules.target_loss_weight > 0:
            loss = loss + self.rules.target_loss_weight * target_loss(xy.float(), batch["target_xy"])
        if self.rules.target_spread_weight > 0:
            spread = attention_spread(weights.float(), self.grid_xy.float(), batch["target_xy"])
            loss = loss + self.rules.target_spread_weight * spread
        if self.rules.target_mass_weight > 0:
            mass = target_mass_loss(weights.float(), self.grid_xy.float(), batch["target_xy"])
            loss = loss + self.rules.target_mass_weight * mass
        if attribute is not None and self.rules.attribute_loss_weight > 0:
            cells, query = attribute
            terms = attribute_loss(
                cells.float(),
                query.float(),
                self.grid_xy.float(),
                batch["target_xy"],
                batch["target_attributes"],
                batch["attribute_query"],
                batch["face_count"],
            )
            loss = loss + self.rules.attribute_loss_weight * terms
        return loss, {"actions": actions, "target_estimate": xy, "attribute_cells": attribute}

    def _previous_action(self, previous: torch.Tensor) -> torch.Tensor:
        """In training, some previous commands are zeroed and the rest made noisy: in closed loop the
        policy reads back its own commands, and the image must stay the main evidence."""
        if not self.training:
            return previous
        rules = self.rules
        keep = (torch.rand(len(previous), 1, device=previous.device) >= rules.previous_action_dropout).to(
            previous.dtype
        )
        return keep * (previous + rules.previous_action_noise * torch.randn_like(previous))

    def _previous_target(self, batch: dict) -> torch.Tensor:
        """The policy's own estimate on the frame before, as the runtime feeds it back (no gradient: there
        it is an input); NaN ("no previous frame") on first frames and, in training, a share of the rest."""
        text, mask = batch["text_features"], batch["text_mask"]
        with torch.no_grad():
            if "previous_tokens" in batch:
                target = self.read_out(batch["previous_tokens"], text, mask)[1]
            else:
                target = self.target(batch["previous_frame"], text, mask)
        missing = ~batch["has_previous"].bool()
        if self.training:
            missing |= torch.rand(len(missing), device=missing.device) < self.rules.previous_target_dropout
        return torch.where(missing[:, None], torch.full_like(target, float("nan")), target)

    def target(self, frames: torch.Tensor, text_features: torch.Tensor, text_mask: torch.Tensor) -> torch.Tensor:
        """The read-out position (B, 2) in [-1, 1]: where the policy places the commanded face."""
        return self.read_out(self.vision(frames), text_features, text_mask)[1]

    def read_out(
        self,
        tokens: torch.Tensor,
        text_features: torch.Tensor,
        text_mask: torch.Tensor,
        previous_target: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """Visual tokens + command -> (feature pooled where the target is (B, D), its position (B, 2), the
        grid's weights (B, T), with model.attribute_cells its cells' attribute logits and the command's query
        logits (else None)). With model.track_prior_sigma, cells far from `previous_target` score lower
        (NaN: no prior)."""
        tokens = tokens.to(self.vision_proj.weight.dtype)
        features = tokens[..., : tokens.shape[-1] - self.colour_channels]
        visual = self.vision_proj(features) + self.position(self.grid_xy)[None]
        text = self.text_proj(text_features.to(self.text_proj.weight.dtype))
        colour_score = None
        if self.colour is not None:
            colour_feature, colour_score = self.colour(tokens[..., features.shape[-1] :], text, text_mask)
            visual = visual + colour_feature
        for layer in self.fusion:
            visual = layer(visual, text, text_mask)
        visual = self.norm(visual)
        scores = self.score(visual).squeeze(-1)  # (B, T)
        if colour_score is not None:
            scores = scores + colour_score
        attribute = None
        if self.attribute is not None:
            cells, query, attribute_score = self.attribute(tokens, text_features.to(tokens.dtype), text_mask)
            scores = scores + attribute_score
            attribute = cells, query
        if self.config.track_prior_sigma and previous_target is not None:
            scores = scores - self.track_penalty(previous_target.to(scores.dtype))
        weights = torch.softmax(scores, dim=1)  # (B, T): where the target is
        return (weights.unsqueeze(-1) * visual).sum(dim=1), self.position_of(weights, visual), weights, attribute

    def position_of(self, weights: torch.Tensor, visual: torch.Tensor) -> torch.Tensor:
        """The read-out's position (B, 2): the grid weights' mean of the cells' centres, each moved by its offset
        (model.cell_offsets, within one cell spacing) to where that cell places the face it scores."""
        if self.cell_offset is None:
            return weights @ self.grid_xy
        points = self.grid_xy + torch.tanh(self.cell_offset(visual)) * self.grid_xy.new_tensor(self.cell_spacing)
        return (weights.unsqueeze(-1) * points).sum(dim=1)

    def track_penalty(self, previous_target: torch.Tensor) -> torch.Tensor:
        """(B, T): min(((d - radius)+ / sigma)^2 / 2, cap), d each grid cell's distance to the previous
        estimate; 0 where there is none. Flat within the radius (as far as a face and the camera move in a
        camera period: a moving face is not held back), steep beyond it (another face that scores about as
        well is not taken), and capped: a face that scores `cap` higher than what is near the previous
        estimate still wins (the target jumped, or the estimate was on the wrong face)."""
        config = self.config
        gap = grid_distance(self.grid_xy, previous_target)
        beyond = (gap - config.track_prior_radius).clamp_min(0.0) / config.track_prior_sigma
        penalty = (0.5 * beyond.pow(2)).clamp_max(config.track_prior_cap)
        return torch.where(torch.isnan(penalty), torch.zeros_like(penalty), penalty)

    def from_visual_tokens(
        self,
        tokens: torch.Tensor,
        text_features: torch.Tensor,
        text_mask: torch.Tensor,
        previous_action: torch.Tensor | None = None,
        previous_target: torch.Tensor | None = None,
        earlier_action: torch.Tensor | None = None,
        previous_law_state: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """The part after the vision encoder (training on cached frozen features starts here): what `act`
        returns."""
        pooled, xy = self.read_out(tokens, text_features, text_mask, previous_target)[:2]
        actions, law_state = self.command(
            pooled, xy, previous_action, previous_target, earlier_action, previous_law_state
        )
        return (actions, xy) if law_state is None else (actions, xy, law_state)

    def command(
        self,
        pooled: torch.Tensor,
        xy: torch.Tensor,
        previous_action: torch.Tensor | None,
        previous_target: torch.Tensor | None,
        earlier_action: torch.Tensor | None,
        previous_law_state: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The read-out (its pooled feature and position) and the loop's context -> (the command (B, 2), the
        predictive head's state for the next frame (None for the other heads))."""
        at_rest = xy.new_zeros(xy.shape)
        if isinstance(self.law, PredictiveLaw):
            return self.law(
                xy,
                xy.new_full((len(xy), self.law.state_size), math.nan)
                if previous_law_state is None
                else previous_law_state,
                at_rest if previous_action is None else previous_action.to(xy.dtype),
                at_rest if earlier_action is None else earlier_action.to(xy.dtype),
            )
        if self.law is not None:
            actions = self.law(
                xy,
                torch.full_like(xy, math.nan) if previous_target is None else previous_target.to(xy.dtype),
                at_rest if previous_action is None else previous_action.to(xy.dtype),
                at_rest if earlier_action is None else earlier_action.to(xy.dtype),
            )
            return actions, None
        assert self.head is not None
        features = [pooled, xy]
        if self.config.previous_action:
            if previous_action is None:
                previous_action = xy.new_zeros(xy.shape)
            features.append(previous_action.to(xy.dtype) / self.config.max_velocity)
        if self.config.previous_target:
            here = xy.detach()
            if previous_target is None:
                previous_target = here
            previous_target = previous_target.to(xy.dtype)
            features.append((here - torch.where(torch.isnan(previous_target), here, previous_target)) * MOTION_SCALE)
        if self.config.earlier_action:
            earlier = at_rest if earlier_action is None else earlier_action.to(xy.dtype)
            features.append(earlier / self.config.max_velocity)
        return torch.tanh(self.head(torch.cat(features, dim=1))) * self.config.max_velocity, None

    def load_state_dict_widening_head(self, state: dict) -> list[str]:
        """Load a checkpoint of this model made without some head inputs (e.g. before `previous_target`):
        the head's first layer gets zero weights for the new inputs, so the model starts out as the
        checkpoint's. A law head (model.head: law, its gains in the config) starting from a checkpoint with an
        MLP head drops the MLP, and a model with visual self-attention, colour or attribute cells keeps its own
        no-op start for them where the checkpoint has none (the checkpoint's vision encoder is then this one's
        backbone).
        Returns the names of the weights widened, dropped, moved or added; other mismatches raise as usual."""
        own, widened = self.state_dict(), []
        state = dict(state)
        if self.colour is not None and not any(name.startswith("colour.") for name in state):
            moved = [name for name in state if name.startswith("vision.") and not name.startswith("vision.backbone.")]
            for name in moved:
                state["vision.backbone." + name.removeprefix("vision.")] = state.pop(name)
            widened += ["vision.* -> vision.backbone.*"] if moved else []
        if self.law is not None:
            widened += sorted(name for name in state if name.startswith("head."))
            state = {name: value for name, value in state.items() if not name.startswith("head.")}
        for name, value in state.items():
            mine = own.get(name)
            if (
                name.startswith("head.")
                and mine is not None
                and value.ndim == 2
                and mine.ndim == 2
                and value.shape[0] == mine.shape[0]
                and value.shape[1] < mine.shape[1]
            ):
                state[name] = torch.cat([value, value.new_zeros(value.shape[0], mine.shape[1] - value.shape[1])], 1)
                widened.append(name)
        for name in sorted(set(own) - set(state)):  # parts the checkpoint has not that start as no-ops
            no_op_start = name.startswith(("colour.", "cell_offset.", "attribute."))
            if ".self_attn." in name or ".norm_self." in name or no_op_start:
                state[name] = own[name]
                widened.append(name)
        self.load_state_dict(state)
        return widened

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]
