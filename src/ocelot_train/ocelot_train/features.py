"""Frozen-encoder outputs computed once: text features in memory, vision tokens on disk (fp16).

Text: one row per distinct command (a dataset has hundreds, not thousands).
Vision (frozen backends only): one file of tokens per episode, so an epoch
reads tokens instead of decoding and encoding every frame. The directory is
keyed by the encoder config and each file by its episode file's content (a
sha256), so a stale cache is never reused and a copied or pulled dataset
(`dvc pull`, new modification times) keeps its cache; files are written under a
temporary name and renamed when complete. The frames are encoded by the frozen
encoder exported to onnxruntime, checked against PyTorch first.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from ocelot_common.text import tokenize

CACHE_TOLERANCE = 1e-3  # relative to the largest token value; the cache is fp16 (~5e-4 relative) anyway


def cache_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def dataset_fingerprint(root: Path) -> str:
    """What the dataset holds: metadata.json and the split files (not the collection date)."""
    metadata = json.loads((Path(root) / "metadata.json").read_text())
    metadata.pop("collection_date", None)
    splits = [
        (Path(root) / f"{name}.txt").read_text()
        for name in ("train", "val", "test")
        if (Path(root) / f"{name}.txt").is_file()
    ]
    return cache_key(metadata, splits)


@torch.no_grad()
def encode_commands(text_encoder, tokenizer, commands: list[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """-> text features (C, L, H) float32 and attention mask (C, L) int64."""
    ids, mask = tokenize(tokenizer, commands, max_tokens)
    ids, mask = torch.from_numpy(ids), torch.from_numpy(mask)
    return text_encoder(ids, mask).float(), mask


def encoder_session(encoder, directory: Path, batch: np.ndarray):
    """The frozen encoder as an onnxruntime function of a frame batch, checked against PyTorch on `batch`.

    On CPU onnxruntime runs these convolutions several times faster than eager PyTorch
    (bench/train_speed.py), which turns hours of caching into minutes on a large dataset."""
    from ocelot_train.export import cpu_session, export_graph, parity_gap

    path = directory / f"encoder.{os.getpid()}.onnx"
    encoder.eval()
    try:
        export_graph(
            encoder,
            (torch.from_numpy(batch),),
            path,
            ["frames"],
            ["tokens"],
            {"frames": {0: "batch"}, "tokens": {0: "batch"}},
        )
        session = cpu_session(path)
    finally:
        path.unlink(missing_ok=True)

    def run(frames: np.ndarray) -> np.ndarray:
        return session.run(None, {"frames": frames})[0]

    gap = parity_gap(encoder, session, {"frames": batch})
    if gap > CACHE_TOLERANCE * max(1.0, float(np.abs(run(batch)).max())):
        raise RuntimeError(
            f"the exported vision encoder differs from PyTorch by {gap:.2e} on the first frames; "
            "its tokens cannot be cached through onnxruntime"
        )
    return run


class EpisodeTokens:
    """Sample i's cached tokens (T, C) fp16, read from its episode's file on each access (a memmap per
    episode would hold a file descriptor each, and a dataset has thousands of episodes)."""

    def __init__(self, paths: list[Path], index, shape: tuple[int, int]) -> None:
        self.paths, self.index, self.shape = paths, index, shape

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> np.ndarray:
        slot, frame = int(self.index.sample_episode[i]), int(self.index.sample_frame[i])
        size = self.shape[0] * self.shape[1]
        return np.fromfile(self.paths[slot], np.float16, count=size, offset=frame * size * 2).reshape(self.shape)


def episode_token_file(directory: Path, episode_file: Path, episode: int, n: int, shape: tuple[int, int]) -> Path:
    """Named by the episode and its file's content: a rewritten episode is re-encoded, a copied one is not."""
    with open(episode_file, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()[:8]
    return directory / f"ep_{episode:06d}.{digest}.{n}x{shape[0]}x{shape[1]}.f16"


def cached_vision_tokens(
    encoder,
    dataset,
    cache_dir: Path,
    key: str,
    batch_size: int = 32,
    progress: bool = True,
    shard: tuple[int, int] | None = None,
) -> EpisodeTokens:
    """The frozen vision encoder's tokens for every sample of the dataset, one fp16 file per episode under
    cache_dir/vision_<key>: episodes added to a dataset (DAgger rounds) are the only ones encoded, and a
    killed caching run keeps the episodes it finished. With `shard` (k, n), only the episodes whose index is
    k modulo n are encoded (n processes, on a filesystem they share, cache a dataset between them)."""
    from ocelot_dataset.episode_io import episode_path

    index, shape = dataset.index, (encoder.grid[0] * encoder.grid[1], encoder.out_dim)
    directory = cache_dir / f"vision_{key}"
    directory.mkdir(parents=True, exist_ok=True)
    starts = np.searchsorted(index.sample_episode, np.arange(len(index.episodes)))
    stops = np.append(starts[1:], len(index))
    paths = [
        episode_token_file(directory, episode_path(index.root, int(ep)), int(ep), int(stop - start), shape)
        for ep, start, stop in zip(index.episodes, starts, stops)
    ]
    missing = [
        slot
        for slot, path in enumerate(paths)
        if not (path.is_file() and path.stat().st_size == (stops[slot] - starts[slot]) * shape[0] * shape[1] * 2)
        and (shard is None or int(index.episodes[slot]) % shard[1] == shard[0])
    ]
    if missing:
        _encode_episodes(
            encoder, dataset, [(paths[s], int(starts[s]), int(stops[s])) for s in missing], batch_size, progress
        )
    return EpisodeTokens(paths, index, shape)


def _encode_episodes(encoder, dataset, episodes: list[tuple[Path, int, int]], batch_size: int, progress: bool) -> None:
    """Encode each (file, first sample, end) episode through onnxruntime while the next frames are read;
    each file is written under a temporary name, renamed when complete, and replaces the episode's older ones."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    chunks = [
        (path, first, min(stop, first + batch_size))
        for path, start, stop in episodes
        for first in range(start, stop, batch_size)
    ]

    def frames(chunk: int) -> np.ndarray:
        _, first, stop = chunks[chunk]
        return np.stack([dataset.frame_input(i) for i in range(first, stop)])

    rows: list[np.ndarray] = []
    total = sum(stop - start for _, start, stop in episodes)
    with (
        ThreadPoolExecutor(1) as reader,
        tqdm(total=total, unit="frame", desc="caching vision features", disable=not progress) as bar,
    ):
        batch = frames(0)
        encode = encoder_session(encoder, episodes[0][0].parent, batch)
        for k, (path, _, _) in enumerate(chunks):
            upcoming = reader.submit(frames, k + 1) if k + 1 < len(chunks) else None
            rows.append(encode(batch).astype(np.float16))
            bar.update(len(batch))
            if k + 1 == len(chunks) or chunks[k + 1][0] != path:  # the episode is complete
                tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
                np.concatenate(rows).tofile(tmp)
                for old in path.parent.glob(path.name.split(".")[0] + ".*.f16"):
                    old.unlink()
                os.replace(tmp, path)
                rows = []
            batch = upcoming.result() if upcoming else None
