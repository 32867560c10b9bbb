"""Frozen-encoder outputs computed once and kept on disk (fp16, memory-mapped).

Text: one row per distinct command (a dataset has hundreds, not thousands).
Vision (frozen backends only): one row of tokens per sample of a split, so an
epoch reads a memmap instead of decoding and encoding every frame. The file
name carries a key of everything that decides the content (encoder config,
dataset metadata, split), so a stale cache is never reused; files are written
under a temporary name and renamed when complete.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch

from ocelot_common.text import tokenize


def cache_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def dataset_fingerprint(root: Path) -> str:
    """What the dataset holds: metadata.json and the split files (not the collection date)."""
    metadata = json.loads((Path(root) / "metadata.json").read_text())
    metadata.pop("collection_date", None)
    splits = [(Path(root) / f"{name}.txt").read_text() for name in ("train", "val", "test")
              if (Path(root) / f"{name}.txt").is_file()]
    return cache_key(metadata, splits)


@torch.no_grad()
def encode_commands(text_encoder, tokenizer, commands: list[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """-> text features (C, L, H) float32 and attention mask (C, L) int64."""
    ids, mask = tokenize(tokenizer, commands, max_tokens)
    ids, mask = torch.from_numpy(ids), torch.from_numpy(mask)
    return text_encoder(ids, mask).float(), mask


def cached_vision_tokens(encoder, dataset, cache_dir: Path, key: str, batch_size: int = 32,
                         progress: bool = True) -> np.memmap:
    """(N, T, C) fp16 memmap of the frozen vision encoder's tokens for every sample of the dataset."""
    from tqdm import tqdm

    cache_dir.mkdir(parents=True, exist_ok=True)
    n, t, c = len(dataset), encoder.grid[0] * encoder.grid[1], encoder.out_dim
    path = cache_dir / f"vision_{key}_{n}x{t}x{c}.f16"
    if path.is_file() and path.stat().st_size == n * t * c * 2:
        return np.memmap(path, np.float16, "r", shape=(n, t, c))
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    out = np.memmap(tmp, np.float16, "w+", shape=(n, t, c))
    encoder.eval()
    with torch.no_grad(), tqdm(total=n, unit="frame", desc="caching vision features", disable=not progress) as bar:
        for start in range(0, n, batch_size):
            idx = range(start, min(n, start + batch_size))
            frames = torch.from_numpy(np.stack([dataset.frame_input(i) for i in idx]))
            out[start:start + len(idx)] = encoder(frames).numpy().astype(np.float16)
            bar.update(len(idx))
    out.flush()
    del out
    os.replace(tmp, path)
    return np.memmap(path, np.float16, "r", shape=(n, t, c))
