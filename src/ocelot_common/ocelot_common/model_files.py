"""The files of an exported policy, by the path of its per-frame graph, their checksums, and the
input/output names of its two graphs.

`ocelot export` writes them and the policy node reads them; both name them here.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

POLICY_INPUTS, POLICY_OUTPUTS = ("frames", "text_features", "attention_mask"), ("actions",)
PREVIOUS_ACTION = "previous_action"  # an optional policy input: the command sent for the frame before
EARLIER_ACTION = "earlier_action"  # an optional policy input: the command sent for the frame before that
# optional together: the policy's target estimate on the frame before (NaN: none) in, this frame's out
PREVIOUS_TARGET, TARGET = "previous_target", "target"
# optional together: the predictive head's state (ocelot_train.predictive_law) of the frame before (NaN: none) in,
# this frame's out; the runtime keeps it without reading it, its length from the graph's input
PREVIOUS_LAW_STATE, LAW_STATE = "previous_law_state", "law_state"
TEXT_INPUTS, TEXT_OUTPUTS = ("input_ids", "attention_mask"), ("text_features",)


def model_files(model_path: str | Path) -> dict[str, Path]:
    """model.onnx -> {policy: model.onnx, text: model.text.onnx, tokenizer: model.tokenizer.json, card: ...}."""
    path = Path(model_path)
    stem = path.with_suffix("")
    return {
        "policy": path,
        "text": Path(f"{stem}.text.onnx"),
        "tokenizer": Path(f"{stem}.tokenizer.json"),
        "card": Path(f"{stem}.card.json"),
    }


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
