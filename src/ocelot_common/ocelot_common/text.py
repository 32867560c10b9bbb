"""The one tokenisation that training, export and the policy node share (the `tokenizers` library only).

A tokenizer is a `tokenizers.Tokenizer` (training takes it from the text
encoder's fast tokenizer, the node loads the tokenizer.json saved beside the
model). Commands are lower-cased and stripped first, padded or cut to a fixed
length, so every graph sees the same shapes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def normalise_command(text: str) -> str:
    return " ".join(str(text).lower().split())


def tokenize(tokenizer, texts: list[str], max_tokens: int, pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """-> input_ids (N, max_tokens) int64 and attention_mask (N, max_tokens) int64 (1 = real token)."""
    if tokenizer.padding is not None or tokenizer.truncation is not None:
        tokenizer.no_padding()  # fixed-length padding and truncation happen here, the same for every caller
        tokenizer.no_truncation()
    ids = np.full((len(texts), max_tokens), pad_id, np.int64)
    mask = np.zeros((len(texts), max_tokens), np.int64)
    for i, text in enumerate(texts):
        tokens = tokenizer.encode(normalise_command(text)).ids
        if len(tokens) > max_tokens:  # keep the closing special token
            tokens = tokens[: max_tokens - 1] + tokens[-1:]
        ids[i, : len(tokens)] = tokens
        mask[i, : len(tokens)] = 1
    return ids, mask


def load_tokenizer(path: str | Path):
    """A tokenizer.json written by export; raises ValueError naming the file if it is not one."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises its own Exception type
        raise ValueError(f"{path} is not a tokenizer.json ({exc})") from None
    return tokenizer
