"""The files of an exported policy, by the path of its per-frame graph, and their checksums.

`ocelot export` writes them and the policy node reads them; both name them here.
"""
from __future__ import annotations

import hashlib
from pathlib import Path


def model_files(model_path: str | Path) -> dict[str, Path]:
    """model.onnx -> {policy: model.onnx, text: model.text.onnx, tokenizer: model.tokenizer.json, card: ...}."""
    path = Path(model_path)
    stem = path.with_suffix("")
    return {"policy": path, "text": Path(f"{stem}.text.onnx"), "tokenizer": Path(f"{stem}.tokenizer.json"),
            "card": Path(f"{stem}.card.json")}


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
