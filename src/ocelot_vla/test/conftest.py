"""A small exported policy for the node tests: the project's own export, a tiny text encoder.

The tests may use torch and transformers to make the model; the node they start must not.
"""
import shutil

import pytest


def export_tiny_model(root):
    import torch
    from transformers import BertConfig, BertModel

    from ocelot_train.configuration_vla import load_run_config
    from ocelot_train.encoders_text import minilm_dir
    from ocelot_train.export import export_model
    from ocelot_train.modeling_vla import VLAPolicy

    text_dir = root / "tiny-text"
    BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64),
              add_pooling_layer=False).save_pretrained(text_dir)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(minilm_dir() / name, text_dir / name)
    config = load_run_config(None, [f"model.text.pretrained={text_dir}", "model.d_model=32", "model.n_heads=2",
                                    "model.n_fusion_layers=1", "model.vision.cnn_channels=[8,8,8]"])
    torch.manual_seed(0)
    policy = VLAPolicy(config.model, text_dim=32)
    with torch.no_grad():  # a policy that clearly moves: bias the head's output
        policy.head[-1].bias.copy_(torch.tensor([0.6, -0.3]))
    torch.save({"config": config.to_dict(), "text_dim": 32, "state_dict": policy.state_dict()}, root / "tiny.pt")
    export_model(root / "tiny.pt", root / "model" / "model.onnx")
    return root / "model" / "model.onnx"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return export_tiny_model(tmp_path_factory.mktemp("vla_model"))
