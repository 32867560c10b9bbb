"""Frozen-encoder outputs computed once and kept on disk (fp16, memory-mapped).

Text: one row per distinct command (a dataset has hundreds, not thousands).
Vision (frozen backends only): one row of tokens per sample of a split, so an
epoch reads a memmap instead of decoding and encoding every frame. The file
name carries a key of everything that decides the content (encoder config,
dataset metadata, split), so a stale cache is never reused; files are written
under a temporary name and renamed when complete. The frames are encoded by
the frozen encoder exported to onnxruntime, checked against PyTorch first.
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
    splits = [(Path(root) / f"{name}.txt").read_text() for name in ("train", "val", "test")
              if (Path(root) / f"{name}.txt").is_file()]
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
    import onnxruntime as ort

    from ocelot_train.export import OPSET

    path = directory / f"encoder.{os.getpid()}.onnx"
    encoder.eval()
    try:
        torch.onnx.export(encoder, (torch.from_numpy(batch),), str(path), input_names=["frames"],
                          output_names=["tokens"], dynamic_axes={"frames": {0: "batch"}, "tokens": {0: "batch"}},
                          opset_version=OPSET, dynamo=False)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    finally:
        path.unlink(missing_ok=True)

    def run(frames: np.ndarray) -> np.ndarray:
        return session.run(None, {"frames": frames})[0]

    with torch.no_grad():
        reference = encoder(torch.from_numpy(batch)).numpy()
    gap = float(np.abs(run(batch) - reference).max())
    if gap > CACHE_TOLERANCE * max(1.0, float(np.abs(reference).max())):
        raise RuntimeError(f"the exported vision encoder differs from PyTorch by {gap:.2e} on the first frames; "
                           "its tokens cannot be cached through onnxruntime")
    return run


def cached_vision_tokens(encoder, dataset, cache_dir: Path, key: str, batch_size: int = 32,
                         progress: bool = True) -> np.memmap:
    """(N, T, C) fp16 memmap of the frozen vision encoder's tokens for every sample of the dataset,
    computed by the encoder exported to onnxruntime while the next batch of frames is read."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    cache_dir.mkdir(parents=True, exist_ok=True)
    n, t, c = len(dataset), encoder.grid[0] * encoder.grid[1], encoder.out_dim
    path = cache_dir / f"vision_{key}_{n}x{t}x{c}.f16"
    if path.is_file() and path.stat().st_size == n * t * c * 2:
        return np.memmap(path, np.float16, "r", shape=(n, t, c))

    def frames(start: int) -> np.ndarray:
        return np.stack([dataset.frame_input(i) for i in range(start, min(n, start + batch_size))])

    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    out = np.memmap(tmp, np.float16, "w+", shape=(n, t, c))
    with ThreadPoolExecutor(1) as reader, \
            tqdm(total=n, unit="frame", desc="caching vision features", disable=not progress) as bar:
        batch = frames(0)
        encode = encoder_session(encoder, cache_dir, batch)
        for start in range(0, n, batch_size):
            upcoming = reader.submit(frames, start + batch_size) if start + batch_size < n else None
            out[start:start + len(batch)] = encode(batch).astype(np.float16)
            bar.update(len(batch))
            batch = upcoming.result() if upcoming else None
    out.flush()
    del out
    os.replace(tmp, path)
    return np.memmap(path, np.float16, "r", shape=(n, t, c))
