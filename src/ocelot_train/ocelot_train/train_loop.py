"""Behavioural cloning of the oracle: MSE on (pan_vel, tilt_vel), AdamW, warm-up + cosine, clipping.

Per epoch it reports the train loss, the validation MSE overall and per label,
and a text ablation: the validation MSE when every sample gets another
sample's command. If language is used, the ablation is clearly worse. The
best checkpoint by validation loss is kept. Frozen encoders run once: text
features per distinct command, vision tokens per frame (frozen backends).
It runs on train.device (auto: a GPU when there is one); under torchrun
(WORLD_SIZE > 1) with DistributedDataParallel, one process per device, each
drawing its share of the single-process draw (ocelot_train.distributed).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ocelot_common.camera import CAMERA_PX
from ocelot_common.preprocessing import STANDARD
from ocelot_train.checkpoint import CheckpointError, read_checkpoint
from ocelot_train.configuration_vla import ConfigError, RunConfig, TrainingRules
from ocelot_train.dataset import CachedTokenDataset, DatasetError, FrameDataset
from ocelot_train.distributed import DistributedDrawSampler, placement
from ocelot_train.encoders_text import build_text_encoder
from ocelot_train.features import cache_key, cached_vision_tokens, dataset_fingerprint, encode_commands
from ocelot_train.modeling_vla import VLAPolicy


@dataclass
class TrainResult:
    checkpoint: Path
    history: list[dict] = field(default_factory=list)
    best: dict = field(default_factory=dict)


def verify_episode_files(dataset: FrameDataset) -> None:
    """Open every episode of the split once, so a corrupt file stops the run before training."""
    from ocelot_dataset.episode_io import FRAME_SHAPE, EpisodeError, episode_path, read_summary

    for episode in dataset.index.episodes:
        path = episode_path(dataset.index.root, int(episode))
        try:
            summary = read_summary(path)  # readable, and every per-frame array has n_frames entries
        except EpisodeError as exc:
            raise DatasetError(
                f"{exc}; `ocelot check-dataset --deep` lists the broken files; delete them and "
                "re-run the collection to record them again"
            ) from None
        if summary["frames_shape"] != (summary["n_frames"], *FRAME_SHAPE):
            raise DatasetError(
                f"{path}: frames {summary['frames_shape']} do not match the episode schema "
                f"{(summary['n_frames'], *FRAME_SHAPE)}"
            )


UNIT_TO_CAMERA_PX = torch.tensor(CAMERA_PX) / 2.0  # read-out coordinates -> camera pixels


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
        # everything that can fail on bad input happens here, before the first step
        previous_frame = config.model.previous_target
        self.train_frames = FrameDataset(
            self.dataset_dir,
            "train",
            augment=config.train.augment,
            seed=config.train.seed,
            previous_frame=previous_frame,
        )
        self.val_frames = FrameDataset(self.dataset_dir, "val", previous_frame=previous_frame)
        for split in (self.train_frames, self.val_frames):
            verify_episode_files(split)
        self.draw_weights = self._draw_weights()
        self.fingerprint = dataset_fingerprint(self.dataset_dir)
        self.text_encoder, self.tokenizer = build_text_encoder(config.model.text)
        self.policy = VLAPolicy(config.model, self.text_encoder.out_dim, rules=TrainingRules.of(config.train))
        if config.train.init_checkpoint:
            self._load_initial_weights(config.train.init_checkpoint)
        self.commands = sorted(set(self.train_frames.command_table) | set(self.val_frames.command_table))
        row_of = {c: i for i, c in enumerate(self.commands)}
        # a split's command indices -> rows of the shared text-feature table
        self._rows = {
            split.index.split: torch.tensor([row_of[c] for c in split.command_table])
            for split in (self.train_frames, self.val_frames)
        }
        self.text_features, self.text_mask = encode_commands(
            self.text_encoder, self.tokenizer, self.commands, config.model.text.max_tokens
        )
        self.train_set, self.val_set = self._sample_sets()  # frozen tokens are cached on the CPU first
        self.policy.to(self.device)
        self.text_features, self.text_mask = self.text_features.to(self.device), self.text_mask.to(self.device)
        self._to_camera_px = UNIT_TO_CAMERA_PX.to(self.device)

    def _load_initial_weights(self, path: str) -> None:
        try:
            checkpoint = read_checkpoint(path)
            widened = self.policy.load_state_dict_widening_head(checkpoint["state_dict"])
        except (CheckpointError, KeyError, RuntimeError) as exc:
            first = str(exc).splitlines()[0][:300]
            raise ConfigError(
                f"train.init_checkpoint {path} cannot start this model ({first}); it must be a "
                "checkpoint of `ocelot train` with the same model config (or one with fewer "
                "head inputs: previous_action / previous_target off)"
            ) from None
        if widened and self.progress:
            print(f"init_checkpoint {path}: the new head inputs start at zero weight ({', '.join(widened)})")

    def _draw_weights(self) -> np.ndarray | None:
        """Per-sample draw weights of the training split (acquisition and label weights); None: uniform."""
        cfg = self.config.train
        if not (cfg.acquisition_weight > 1.0 or cfg.label_weights):
            return None
        try:
            return self.train_frames.sample_weights(
                cfg.acquisition_weight, cfg.acquisition_frames, cfg.acquisition_min_px, cfg.label_weights
            )
        except ValueError as exc:
            raise ConfigError(f"train.label_weights: {exc}") from None

    def _sample_sets(self):
        if self.config.model.vision.trainable:
            return self.train_frames, self.val_frames
        cache_dir = Path(self.config.train.cache_dir or self.dataset_dir / "feature_cache")
        vision = self.config.model.vision
        sets = []
        for frames in (self.train_frames, self.val_frames):
            sets.append(
                CachedTokenDataset(
                    frames,
                    cached_vision_tokens(
                        self.policy.vision, frames, cache_dir, cache_key(asdict(vision)), progress=self.progress
                    ),
                )
            )
        return sets

    def _command_rows(self, dataset_commands: torch.Tensor, split: str) -> torch.Tensor:
        return self._rows[split][dataset_commands]

    def _on_device(self, batch: dict) -> dict:
        return {k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}

    def _step_batch(self, batch: dict, rows: torch.Tensor) -> dict:
        """A loader batch on the device with its commands' text features (`rows` index the text table)."""
        batch = self._on_device(batch)
        return {**batch, "text_features": self.text_features[rows], "text_mask": self.text_mask[rows]}

    def _loader(self, dataset, train: bool):
        from torch.utils.data import DataLoader, RandomSampler, WeightedRandomSampler

        cfg = self.config.train
        if train and self.distributed:  # the single-process draw below, shared out between the ranks
            weights = None if self.draw_weights is None else torch.from_numpy(self.draw_weights)
            n = cfg.max_train_samples or len(dataset)
            sampler = DistributedDrawSampler(
                len(dataset),
                n if weights is not None else min(n, len(dataset)),
                weights,
                cfg.seed,
                self.rank,
                self.place.world_size,
            )
        elif train and self.draw_weights is not None:
            sampler = WeightedRandomSampler(
                torch.from_numpy(self.draw_weights),
                num_samples=cfg.max_train_samples or len(dataset),
                generator=torch.Generator().manual_seed(cfg.seed),
            )
        elif train:
            n = cfg.max_train_samples or len(dataset)
            sampler = RandomSampler(
                dataset, num_samples=min(n, len(dataset)), generator=torch.Generator().manual_seed(cfg.seed)
            )
        elif cfg.max_val_samples and cfg.max_val_samples < len(dataset):
            rng = np.random.default_rng(cfg.seed)
            sampler = sorted(rng.choice(len(dataset), cfg.max_val_samples, replace=False).tolist())
        else:
            sampler = None
        return DataLoader(
            dataset,
            batch_size=cfg.batch_size,
            sampler=sampler,
            shuffle=False,
            num_workers=cfg.num_workers,
            persistent_workers=cfg.num_workers > 0,
            pin_memory=self.device.type == "cuda",
        )

    @torch.no_grad()
    def evaluate(self, model: nn.Module) -> dict:
        """Validation MSE overall and per label, and with every command replaced by another one."""
        model.eval()
        rng = torch.Generator().manual_seed(1234)
        sq, sq_ablate, labels, misplaced = [], [], [], []
        for batch in self._loader(self.val_set, train=False):
            rows = self._command_rows(batch["command"], "val")
            batch = self._step_batch(batch, rows)
            info = model(batch)[1]
            actions, xy = info["actions"], info["target_estimate"]
            sq.append(((actions - batch["action"]) ** 2).mean(1).cpu())
            misplaced.append(torch.linalg.vector_norm((xy - batch["target_xy"]) * self._to_camera_px, dim=1).cpu())
            other = torch.randint(0, len(self.commands) - 1, rows.shape, generator=rng)
            other = other + (other >= rows).long() if len(self.commands) > 1 else rows  # never the true command
            ablated = model(self._step_batch(batch, other))[1]["actions"]
            sq_ablate.append(((ablated - batch["action"]) ** 2).mean(1).cpu())
            labels.append(batch["label"].cpu())
        sq, sq_ablate, labels, misplaced = torch.cat(sq), torch.cat(sq_ablate), torch.cat(labels), torch.cat(misplaced)
        per_label = {
            name: float(sq[labels == i].mean())
            for i, name in enumerate(self.val_frames.label_table)
            if (labels == i).any()
        }
        known = torch.isfinite(misplaced)
        # where the read-out puts the commanded face against where it is (frames that record it; NaN: none do)
        target_px = {
            name: float(misplaced[known & (labels == i)].mean())
            for i, name in enumerate(self.val_frames.label_table)
            if (known & (labels == i)).any()
        }
        return {
            "val_mse": float(sq.mean()),
            "val_mse_shuffled_text": float(sq_ablate.mean()),
            "val_mse_per_label": per_label,
            "val_target_error_px": float(misplaced[known].mean()) if known.any() else math.nan,
            "val_target_error_px_per_label": target_px,
        }

    def run(self, mlflow_run=None) -> TrainResult:
        from tqdm import tqdm

        cfg = self.config.train
        model: nn.Module = self.policy
        if self.distributed:
            torch.distributed.init_process_group(self.place.backend)
            model = nn.parallel.DistributedDataParallel(
                self.policy, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        optimizer = torch.optim.AdamW(self.policy.trainable_parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        loader = self._loader(self.train_set, train=True)
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
                rows = self._command_rows(batch["command"], "train")
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=cfg.amp):
                    loss, _ = model(self._step_batch(batch, rows))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.policy.trainable_parameters(), cfg.grad_clip)
                optimizer.step()
                scheduler.step()
                losses.append(loss.item())
                seen += len(rows)
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
            seen *= self.place.world_size  # every rank takes the same number of steps
            row = {
                "epoch": epoch,
                "train_loss": float(np.mean(losses)),
                "samples": seen,
                "samples_per_s": seen / max(time.monotonic() - started, 1e-9),
                "lr": scheduler.get_last_lr()[0],
                "device": str(self.device),
                "world_size": self.place.world_size,
            }
            row.update(self.evaluate(self.policy))
            result.history.append(row)
            if self.rank == 0:
                self._report(row, mlflow_run)
                self._save(self.output / "last.pt", row)
                if row["val_mse"] < best:
                    best, result.best = row["val_mse"], row
                    self._save(result.checkpoint, row)
        if self.distributed:
            torch.distributed.destroy_process_group()
        if self.rank == 0:
            (self.output / "history.json").write_text(json.dumps(result.history, indent=1))
        return result

    def _report(self, row: dict, mlflow_run) -> None:
        per_label = " ".join(f"{k}={v:.4f}" for k, v in row["val_mse_per_label"].items())
        if self.progress:
            print(
                f"epoch {row['epoch']}: train {row['train_loss']:.4f}  val {row['val_mse']:.4f}  "
                f"shuffled-text {row['val_mse_shuffled_text']:.4f}  ({per_label})  "
                + (f"target {row['val_target_error_px']:.1f} px  " if math.isfinite(row["val_target_error_px"]) else "")
                + f"{row['samples_per_s']:.0f} samples/s",
                flush=True,
            )
        if mlflow_run is not None:
            import mlflow

            metrics = {k: v for k, v in row.items() if isinstance(v, float) and math.isfinite(v)}
            metrics.update({f"val_mse_{k}": v for k, v in row["val_mse_per_label"].items()})
            metrics.update({f"val_target_error_px_{k}": v for k, v in row["val_target_error_px_per_label"].items()})
            mlflow.log_metrics(metrics, step=row["epoch"])

    def _save(self, path: Path, row: dict) -> None:
        tmp = path.with_name(path.name + ".tmp")
        torch.save(
            {
                "config": self.config.to_dict(),
                "text_dim": self.text_encoder.out_dim,
                "state_dict": {k: v.cpu() for k, v in self.policy.state_dict().items()},
                "metrics": row,
                "dataset": str(self.dataset_dir),
                "dataset_fingerprint": self.fingerprint,
                "commands": self.commands,
                "preprocessing": STANDARD.to_dict(),  # what FrameDataset fed it; export writes it into the graph
            },
            tmp,
        )
        os.replace(tmp, path)
