"""Behavioural cloning of the oracle: the training loop (AdamW, warm-up + cosine, clipping, bf16 autocast).

The policy owns its loss (`VLAPolicy.forward(batch) -> (loss, info)`); the data
and sampling are `ocelot_train.training_data`, validation (MSE overall and per
label, the text ablation, the read-out's error in pixels) `ocelot_train.validation`,
and the epoch's report and MLflow logging `ocelot_train.tracking`. The best
checkpoint by validation loss is kept. It runs on train.device (auto: a GPU when
there is one); under torchrun (WORLD_SIZE > 1) with DistributedDataParallel, one
process per device, each drawing its share of the single-process draw.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ocelot_common.preprocessing import STANDARD
from ocelot_train.checkpoint import CheckpointError, read_checkpoint
from ocelot_train.configuration_vla import ConfigError, RunConfig, TrainingRules
from ocelot_train.distributed import placement
from ocelot_train.encoders_text import build_text_encoder
from ocelot_train.graph_weights import GraphWeightsError, checkpoint_from_model
from ocelot_train.law_head import GAIN_NAMES, LawHead, fit_gains
from ocelot_train.modeling_vla import VLAPolicy
from ocelot_train.tracking import report_epoch
from ocelot_train.training_data import TrainingData
from ocelot_train.validation import validate


@dataclass
class TrainResult:
    checkpoint: Path
    history: list[dict] = field(default_factory=list)
    best: dict = field(default_factory=dict)


def lr_lambda(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

    return factor


class Trainer:
    def __init__(
        self, dataset_dir: str | Path, output_dir: str | Path, config: RunConfig, progress: bool = True
    ) -> None:
        self.config, self.progress = config, progress
        self.dataset_dir, self.output = Path(dataset_dir), Path(output_dir)
        try:
            self.place = placement(config.train.device)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self.device, self.distributed, self.rank = self.place.device, self.place.distributed, self.place.rank
        torch.manual_seed(config.train.seed)
        self.data = TrainingData(self.dataset_dir, config)  # everything that can fail on bad input, first
        self.text_encoder, self.tokenizer = build_text_encoder(config.model.text)
        self.policy = VLAPolicy(config.model, self.text_encoder.out_dim, rules=TrainingRules.of(config.train))
        if config.train.init_checkpoint:
            self._load_initial_weights(config.train.init_checkpoint)
        if config.train.train_only:
            self._train_only(config.train.train_only)
        # frozen tokens are cached on the CPU before the policy moves to the device
        self.data.prepare(self.text_encoder, self.tokenizer, self.policy.vision, self.device, self.progress)
        self.policy.to(self.device)

    # the sample sets, for benchmarks and tests
    @property
    def train_set(self):
        return self.data.train_set

    @property
    def val_set(self):
        return self.data.val_set

    @property
    def train_frames(self):
        return self.data.train_frames

    @property
    def val_frames(self):
        return self.data.val_frames

    def _train_only(self, prefixes: list[str]) -> None:
        """Freeze every trainable parameter whose name starts with none of `prefixes`."""
        trainable = [(name, p) for name, p in self.policy.named_parameters() if p.requires_grad]
        for prefix in prefixes:
            if not any(name.startswith(prefix) for name, _ in trainable):
                parts = sorted({name.split(".")[0] for name, _ in trainable})
                raise ConfigError(
                    f"train.train_only: no trainable parameter of this model starts with {prefix!r}; "
                    f"its trainable parts are {', '.join(parts)}"
                )
        for name, p in trainable:
            p.requires_grad_(name.startswith(tuple(prefixes)))

    def _load_initial_weights(self, path: str) -> None:
        """From a checkpoint, or from an exported model (model.onnx: its weights read back from the graph)."""
        try:
            checkpoint = checkpoint_from_model(path) if path.endswith(".onnx") else read_checkpoint(path)
            widened = self.policy.load_state_dict_widening_head(checkpoint["state_dict"])
        except (CheckpointError, GraphWeightsError, KeyError, RuntimeError) as exc:
            first = str(exc).splitlines()[0][:300]
            raise ConfigError(
                f"train.init_checkpoint {path} cannot start this model ({first}); it must be a "
                "checkpoint of `ocelot train` or a model.onnx of `ocelot export` with the same model config "
                "(or one with fewer head inputs, an MLP head where this model has a law head, or no visual "
                "self-attention or colour cells where this model has them)"
            ) from None
        if widened and self.progress:
            print(f"init_checkpoint {path}: widened, dropped, moved or added for this model: {', '.join(widened)}")

    def evaluate(self, model: nn.Module) -> dict:
        return validate(model, self.data)

    def run(self, mlflow_run=None) -> TrainResult:
        from tqdm import tqdm

        cfg = self.config.train
        model: nn.Module = self.policy
        if self.distributed:
            torch.distributed.init_process_group(self.place.backend)
            model = nn.parallel.DistributedDataParallel(
                self.policy, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        if self.policy.law is not None and cfg.fit_law_gains:
            self.fit_law_gains()
        optimizer = torch.optim.AdamW(self.policy.trainable_parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        loader = self.data.loader(self.train_set, True, self.rank, self.place.world_size)
        total = cfg.epochs * len(loader)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(min(cfg.warmup_steps, total // 5), total))
        self.output.mkdir(parents=True, exist_ok=True)
        result = TrainResult(self.output / "best.pt")
        best = math.inf
        for epoch in range(1, cfg.epochs + 1):
            model.train()
            if self.distributed:
                loader.sampler.set_epoch(epoch)
            losses, started, seen = [], time.monotonic(), 0
            bar = tqdm(
                loader,
                desc=f"epoch {epoch}/{cfg.epochs}",
                unit="batch",
                disable=not self.progress or self.rank,
                leave=False,
            )
            for batch in bar:
                rows = self.data.training_rows(batch["command"])
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=cfg.amp):
                    loss, _ = model(self.data.step_batch(batch, rows))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.policy.trainable_parameters(), cfg.grad_clip)
                optimizer.step()
                scheduler.step()
                losses.append(loss.item())
                seen += len(rows)
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
            seen *= self.place.world_size  # every rank takes the same number of steps
            row: dict[str, Any] = {
                "epoch": epoch,
                "train_loss": float(np.mean(losses)),
                "samples": seen,
                "samples_per_s": seen / max(time.monotonic() - started, 1e-9),
                "lr": scheduler.get_last_lr()[0],
                "device": str(self.device),
                "world_size": self.place.world_size,
            }
            row.update(validate(self.policy, self.data))
            result.history.append(row)
            if self.rank == 0:
                report_epoch(row, mlflow_run, self.progress)
                self._save(self.output / "last.pt", row)
                if self._selection(row) < best:
                    best, result.best = self._selection(row), row
                    self._save(result.checkpoint, row)
        if self.distributed:
            torch.distributed.destroy_process_group()
        if self.rank == 0:
            (self.output / "history.json").write_text(json.dumps(result.history, indent=1))
        return result

    def _selection(self, row: dict) -> float:
        """What the best epoch has least of: the validation MSE, or, when only the read-out trains
        (train.action_loss_weight 0), the read-out's distance from the commanded face."""
        if self.config.train.action_loss_weight == 0 and math.isfinite(row["val_target_error_px"]):
            return row["val_target_error_px"]
        return row["val_mse"]

    @torch.no_grad()
    def fit_law_gains(self) -> np.ndarray:
        """Set a law head's gains (model.law_gains, and the graph's) to the least-squares fit of the law to the
        training split's labels, on the read-outs of the policy as it is (the same fit on every rank: it is
        a pass over all of the split)."""
        from torch.utils.data import DataLoader

        law = self.policy.law
        assert isinstance(law, LawHead)  # the run config allows fit_law_gains with model.head: law only
        self.policy.eval()
        inputs, labels = [], []
        loader = DataLoader(self.train_set, batch_size=256, shuffle=False, num_workers=self.config.train.num_workers)
        for batch in loader:
            batch = self.data.step_batch(batch, self.data.command_rows(batch["command"], "train"))
            text, mask = batch["text_features"], batch["text_mask"]
            if "tokens" in batch:
                xy = self.policy.read_out(batch["tokens"], text, mask)[1]
            else:
                xy = self.policy.target(batch["frame"], text, mask)
            previous = self.policy._previous_target(batch)
            inputs.append(law.inputs(xy, previous, batch["previous_action"], batch["earlier_action"]).cpu().numpy())
            labels.append(batch["action"].cpu().numpy())
        gains = fit_gains(np.concatenate(inputs), np.concatenate(labels), self.config.model.max_velocity)
        law.gains.copy_(torch.from_numpy(gains))
        self.config.model.law_gains = gains.tolist()  # the checkpoint's config: what export builds the graph from
        if self.progress and self.rank == 0:
            rows = ", ".join(f"{name} {g[0]:.3f}/{g[1]:.3f}" for name, g in zip(GAIN_NAMES, gains))
            print(f"law gains fit on {sum(len(x) for x in labels)} training frames (pan/tilt): {rows}")
        return gains

    def _save(self, path: Path, row: dict) -> None:
        tmp = path.with_name(path.name + ".tmp")
        torch.save(
            {
                "config": self.config.to_dict(),
                "text_dim": self.text_encoder.out_dim,
                "state_dict": {k: v.cpu() for k, v in self.policy.state_dict().items()},
                "metrics": row,
                "dataset": str(self.dataset_dir),
                "dataset_fingerprint": self.data.fingerprint,
                "commands": self.data.commands,
                "preprocessing": STANDARD.to_dict(),  # what FrameDataset fed it; export writes it into the graph
            },
            tmp,
        )
        os.replace(tmp, path)
