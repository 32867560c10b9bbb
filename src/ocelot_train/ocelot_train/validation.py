"""Validation of a policy on a run's validation split: the MSE overall and per label, the text ablation (every
sample given another sample's command: if language is used, clearly worse), and the read-out's distance
from the commanded face in camera pixels, overall, per label and per attribute an attribute command names."""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn

from ocelot_common.attributes import ATTRIBUTE_VALUES, UNKNOWN
from ocelot_common.camera import CAMERA_PX
from ocelot_common.phrasings import request
from ocelot_train.modeling_vla import ATTRIBUTE_KINDS, grid_distance
from ocelot_train.training_data import TrainingData

UNIT_TO_CAMERA_PX = torch.tensor(CAMERA_PX) / 2.0  # read-out coordinates -> camera pixels


def attribute_kinds(commands: list[str]) -> list[str | None]:
    """Each command's attribute kind (glasses, hat, hair or shirt) if it is an attribute command, else None."""
    found = [request(command) for command in commands]
    return [r[1] if r is not None and r[0] == "multi_attr" else None for r in found]


def mean_per_attribute(errors: torch.Tensor, rows: torch.Tensor, commands: list[str]) -> dict[str, float]:
    """Mean of the finite errors (N,) per attribute kind of their commands (`rows` index `commands`); attribute
    kinds alone: the other commands are reported per label."""
    kinds = attribute_kinds(commands)
    means = {}
    for kind in sorted({k for k in kinds if k is not None}):
        chosen = torch.tensor([k == kind for k in kinds], dtype=torch.bool)[rows] & torch.isfinite(errors)
        if chosen.any():
            means[kind] = float(errors[chosen].mean())
    return means


def attribute_hits_of(attribute: tuple[torch.Tensor, torch.Tensor], grid_xy: torch.Tensor, batch: dict) -> torch.Tensor:
    """(B, kinds + 1): whether model.attribute_cells' most likely class of each kind, at the grid cell nearest
    the commanded face, is the face's recorded one, and whether the command's query names what it asks for
    (1 or 0; NaN where unknown: no recorded class, or the face out of view)."""
    cells, query = attribute
    known = torch.isfinite(batch["target_xy"]).all(dim=1)
    nearest = grid_distance(grid_xy, batch["target_xy"].nan_to_num()).argmin(dim=1)
    at_face = cells[torch.arange(len(cells), device=cells.device), nearest]  # (B, V)
    hits = []
    for k, kind in enumerate(ATTRIBUTE_KINDS):
        wanted = batch["target_attributes"][:, k]
        hit = (at_face[:, kind][:, :-1].argmax(dim=1) == wanted).to(cells.dtype)  # its values, not "no face"
        hits.append(torch.where(known & (wanted != UNKNOWN), hit, torch.full_like(hit, math.nan)))
    wanted = batch["attribute_query"]
    hit = (query.argmax(dim=1) == wanted).to(cells.dtype)
    hits.append(torch.where(wanted != UNKNOWN, hit, torch.full_like(hit, math.nan)))
    return torch.stack(hits, dim=1)


@torch.no_grad()
def validate(model: nn.Module, data: TrainingData) -> dict:
    model.eval()
    to_camera_px = UNIT_TO_CAMERA_PX.to(data.device)
    rng = torch.Generator().manual_seed(1234)
    sq_parts: list[torch.Tensor] = []
    ablate_parts: list[torch.Tensor] = []
    label_parts: list[torch.Tensor] = []
    misplaced_parts: list[torch.Tensor] = []
    row_parts: list[torch.Tensor] = []
    attribute_hits: list[torch.Tensor] = []  # model.attribute_cells: per frame and kind, 1 right, 0 wrong, NaN unknown
    for batch in data.loader(data.val_set, train=False):
        rows = data.command_rows(batch["command"], "val")
        batch = data.step_batch(batch, rows)
        info = model(batch)[1]
        actions, xy = info["actions"], info["target_estimate"]
        sq_parts.append(((actions - batch["action"]) ** 2).mean(1).cpu())
        misplaced_parts.append(torch.linalg.vector_norm((xy - batch["target_xy"]) * to_camera_px, dim=1).cpu())
        other = torch.randint(0, len(data.commands) - 1, rows.shape, generator=rng)
        other = other + (other >= rows).long() if len(data.commands) > 1 else rows  # never the true command
        ablated = model(data.step_batch(batch, other))[1]["actions"]
        ablate_parts.append(((ablated - batch["action"]) ** 2).mean(1).cpu())
        if info.get("attribute_cells") is not None:
            grid_xy = cast(torch.Tensor, model.grid_xy)
            attribute_hits.append(attribute_hits_of(info["attribute_cells"], grid_xy, batch).cpu())
        label_parts.append(batch["label"].cpu())
        row_parts.append(rows.cpu())
    sq, sq_ablate = torch.cat(sq_parts), torch.cat(ablate_parts)
    labels, misplaced = torch.cat(label_parts), torch.cat(misplaced_parts)
    label_table = data.val_frames.label_table
    per_label = {name: float(sq[labels == i].mean()) for i, name in enumerate(label_table) if (labels == i).any()}
    known = torch.isfinite(misplaced)
    # where the read-out puts the commanded face against where it is (frames that record it; NaN: none do)
    target_px = {
        name: float(misplaced[known & (labels == i)].mean())
        for i, name in enumerate(label_table)
        if (known & (labels == i)).any()
    }
    found = {}
    if attribute_hits:
        hits = torch.cat(attribute_hits)
        names = [*ATTRIBUTE_VALUES, "query"]
        found["val_attribute_accuracy"] = {
            name: float(hits[:, k][torch.isfinite(hits[:, k])].mean())
            for k, name in enumerate(names)
            if torch.isfinite(hits[:, k]).any()
        }
    return {
        **found,
        "val_mse": float(sq.mean()),
        "val_mse_shuffled_text": float(sq_ablate.mean()),
        "val_mse_per_label": per_label,
        "val_target_error_px": float(misplaced[known].mean()) if known.any() else math.nan,
        "val_target_error_px_per_label": target_px,
        # the attribute commands by what they name: their label's figure mixes easy and hard kinds
        "val_target_error_px_per_attribute": mean_per_attribute(misplaced, torch.cat(row_parts), data.commands),
    }
