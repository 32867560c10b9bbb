"""A training run's data and sampling: the splits, their checks, the draw weights, the command table with
its text features, the cached frozen-encoder tokens, and the loaders.

Everything that can fail on bad input fails here, before the first step. The single-process draw is
the reference; under DistributedDataParallel each rank draws its share of it (ocelot_train.distributed).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from ocelot_common.attributes import query_class
from ocelot_common.phrasings import is_held_out, paraphrases
from ocelot_train.configuration_vla import ConfigError, RunConfig
from ocelot_train.dataset import CachedTokenDataset, DatasetError, FrameDataset
from ocelot_train.distributed import DistributedDrawSampler
from ocelot_train.features import cache_key, cached_vision_tokens, dataset_fingerprint, encode_commands


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


class TrainingData:
    """Built in two steps: the splits when the run starts (`__init__`), the text features and the sample
    sets once the encoders exist (`prepare`)."""

    def __init__(self, dataset_dir: Path, config: RunConfig) -> None:
        self.dataset_dir, self.config = Path(dataset_dir), config
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
        recorded = sorted(set(self.train_frames.command_table) | set(self.val_frames.command_table))
        held_out = [command for command in recorded if is_held_out(command)]
        if held_out:
            raise DatasetError(
                f"{self.dataset_dir} holds the held-out phrasing {held_out[0]!r}: held-out phrasings measure "
                "generalisation and no training episode may have one; collect without them"
            )
        # with train.paraphrase_share, every other phrasing of a training command's request gets a row too
        share = config.train.paraphrase_share
        alternatives = [paraphrases(c) if share else [] for c in self.train_frames.command_table]
        self.commands = sorted(set(recorded) | {text for texts in alternatives for text in texts})
        row_of = {c: i for i, c in enumerate(self.commands)}
        # a split's command indices -> rows of the shared text-feature table
        self._rows = {
            split.index.split: torch.tensor([row_of[c] for c in split.command_table])
            for split in (self.train_frames, self.val_frames)
        }
        # a training command index -> the rows of its paraphrases (padded with its own), and how many there are
        widest = max([1, *map(len, alternatives)])
        table = self.train_frames.command_table
        padded = [texts + [command] * (widest - len(texts)) for command, texts in zip(table, alternatives)]
        self._paraphrase_rows = torch.tensor([[row_of[text] for text in row] for row in padded])
        self._paraphrase_counts = torch.tensor([len(texts) for texts in alternatives])
        self._paraphrase_draw = torch.Generator().manual_seed(config.train.seed)
        # each text row's named attribute (ocelot_common.attributes.query_class): what model.attribute_cells'
        # query learns to read from the command
        self._query_classes = torch.tensor([query_class(c) for c in self.commands], dtype=torch.long)
        self.device = torch.device("cpu")

    def prepare(self, text_encoder, tokenizer, vision: torch.nn.Module, device: torch.device, progress: bool) -> None:
        """Text features per distinct command; frozen vision tokens cached per frame (on the CPU first)."""
        self.text_features, self.text_mask = encode_commands(
            text_encoder, tokenizer, self.commands, self.config.model.text.max_tokens
        )
        self.train_set, self.val_set = self._sample_sets(vision, progress)
        self.device = device
        self.text_features, self.text_mask = self.text_features.to(device), self.text_mask.to(device)
        self._query_classes = self._query_classes.to(device)

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

    def _sample_sets(self, vision: torch.nn.Module, progress: bool):
        if self.config.model.vision.trainable:
            return self.train_frames, self.val_frames
        return [
            CachedTokenDataset(frames, tokens)
            for frames, tokens in zip((self.train_frames, self.val_frames), self.cache_tokens(vision, progress))
        ]

    @property
    def token_cache(self) -> Path:
        """Where a frozen vision encoder's tokens are cached: train.cache_dir, else <dataset>/feature_cache."""
        return Path(self.config.train.cache_dir or self.dataset_dir / "feature_cache")

    def cache_tokens(self, vision: torch.nn.Module, progress: bool, shard: tuple[int, int] | None = None) -> list:
        """The frozen encoder's tokens of the train and val splits, encoded where not cached yet (with `shard`
        (k, n): only the episodes whose index is k modulo n)."""
        key = cache_key(asdict(self.config.model.vision))
        return [
            cached_vision_tokens(vision, frames, self.token_cache, key, progress=progress, shard=shard)
            for frames in (self.train_frames, self.val_frames)
        ]

    def command_rows(self, dataset_commands: torch.Tensor, split: str) -> torch.Tensor:
        return self._rows[split][dataset_commands]

    def training_rows(self, dataset_commands: torch.Tensor) -> torch.Tensor:
        """A training batch's text rows: its recorded commands, with train.paraphrase_share of them (those
        whose request has another phrasing) swapped for one of the others, drawn uniformly."""
        rows = self.command_rows(dataset_commands, "train")
        if not self.config.train.paraphrase_share:
            return rows
        counts = self._paraphrase_counts[dataset_commands]
        draw = self._paraphrase_draw
        swap = (torch.rand(len(rows), generator=draw) < self.config.train.paraphrase_share) & (counts > 0)
        pick = (torch.rand(len(rows), generator=draw) * counts).long()  # < counts where a swap is drawn
        chosen = self._paraphrase_rows[dataset_commands].gather(1, pick[:, None]).squeeze(1)
        return torch.where(swap, chosen, rows)

    def step_batch(self, batch: dict, rows: torch.Tensor) -> dict:
        """A loader batch on the device with its commands' text features (`rows` index the text table)."""
        batch = {
            k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v for k, v in batch.items()
        }
        return {
            **batch,
            "text_features": self.text_features[rows],
            "text_mask": self.text_mask[rows],
            "attribute_query": self._query_classes[rows],
        }

    def loader(self, dataset, train: bool, rank: int = 0, world_size: int = 1):
        from torch.utils.data import DataLoader, RandomSampler, WeightedRandomSampler

        cfg = self.config.train
        sampler: Any
        if train and world_size > 1:  # the single-process draw below, shared out between the ranks
            weights = None if self.draw_weights is None else torch.from_numpy(self.draw_weights)
            n = cfg.max_train_samples or len(dataset)
            sampler = DistributedDrawSampler(
                len(dataset),
                n if weights is not None else min(n, len(dataset)),
                weights,
                cfg.seed,
                rank,
                world_size,
            )
        elif train and self.draw_weights is not None:
            sampler = WeightedRandomSampler(
                cast(Any, torch.from_numpy(self.draw_weights)),
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
