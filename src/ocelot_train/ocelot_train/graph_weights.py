"""A training checkpoint from an exported model, to fine-tune a model whose checkpoint was not kept.

`ocelot export` writes the trainable weights into the policy graph: most as initializers under their own
names (`policy.<name>`), the Linear layers that act on token sequences as the transposed matrix of a
MatMul that an Add of `policy.<layer>.bias` follows. A frozen pretrained vision encoder is taken from its
package, as training takes it. The result is checked: the rebuilt policy must compute what the graph
computes, within the export's parity tolerance, or nothing is written.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ocelot_common.model_files import model_files
from ocelot_common.preprocessing import Preprocessing
from ocelot_train.configuration_vla import model_config_from_dict
from ocelot_train.export import PARITY_TOLERANCE, PolicyGraph, law_state_size, random_policy_inputs
from ocelot_train.modeling_vla import VLAPolicy

PREFIX = "policy."  # the exported module (export.PolicyGraph) holds the policy under this name


class GraphWeightsError(ValueError):
    """The model cannot be turned back into a checkpoint; the message says why."""


def _graph_tensors(graph) -> dict[str, np.ndarray]:
    """name -> weight of the policy, from the graph's initializers and its MatMul + bias pairs."""
    from onnx import numpy_helper

    initial = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    tensors = {name[len(PREFIX) :]: value for name, value in initial.items() if name.startswith(PREFIX)}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in initial:
            continue
        for after in consumers.get(node.output[0], []):
            bias = next((n for n in after.input if n.startswith(PREFIX) and n.endswith(".bias")), None)
            if after.op_type == "Add" and bias is not None:
                tensors[bias[len(PREFIX) : -len(".bias")] + ".weight"] = initial[node.input[1]].T
    return tensors


def checkpoint_from_model(model: str | Path) -> dict:
    """The checkpoint (as `ocelot train` writes it) of an exported model (its model.onnx, or the folder)."""
    import onnx
    import onnxruntime as ort

    model = Path(model)
    files = model_files(model / "model.onnx" if model.is_dir() else model)
    try:
        card = json.loads(files["card"].read_text())
        config = model_config_from_dict(card["config"]["model"])
        text_dim = int(card["text"]["feature_dim"])
        graph = onnx.load(str(files["policy"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise GraphWeightsError(f"{model}: not a model written by `ocelot export` ({exc})") from None
    if config.vision.trainable:
        raise GraphWeightsError(
            f"{files['policy']}: its vision encoder was trained, and the graph holds its convolutions with the "
            "batch norms folded in; only models with a frozen pretrained encoder can be read back"
        )
    policy = VLAPolicy(config, text_dim).eval()
    state = policy.state_dict()
    tensors = _graph_tensors(graph.graph)
    trainable = {name for name, p in policy.named_parameters() if p.requires_grad}
    missing = sorted(trainable - set(tensors))
    if missing:
        raise GraphWeightsError(f"{files['policy']}: the graph does not hold {', '.join(missing[:5])}")
    for name in trainable:
        if tuple(tensors[name].shape) != tuple(state[name].shape):
            raise GraphWeightsError(
                f"{files['policy']}: {name} is {tensors[name].shape}, the config makes it {tuple(state[name].shape)}"
            )
        state[name] = torch.from_numpy(np.array(tensors[name]))
    policy.load_state_dict(state)
    session = ort.InferenceSession(str(files["policy"]), providers=["CPUExecutionProvider"])
    preprocessing = Preprocessing.from_metadata(session.get_modelmeta().custom_metadata_map)
    _check_parity(policy, session, files["policy"], preprocessing.frame_size)
    return {
        "config": card["config"],
        "text_dim": text_dim,
        "state_dict": state,
        "metrics": card.get("metrics", {}),
        "dataset": card.get("dataset", ""),
        "dataset_fingerprint": card.get("dataset_fingerprint", ""),
        "commands": [],
        "preprocessing": preprocessing.to_dict(),
        "recovered_from": {"model": str(files["policy"]), "sha256": card.get("files", {})},
    }


def _check_parity(policy: VLAPolicy, session, path: Path, frame_size: int) -> None:
    config = policy.config
    feeds = random_policy_inputs(
        np.random.default_rng(0),
        2,
        config.text.max_tokens,
        policy.text_proj.in_features,
        config.previous_action,
        config.previous_target,
        frame_size,
        config.earlier_action,
        law_state_size(policy),
    )
    expected = session.run(None, feeds)
    with torch.no_grad():
        got = PolicyGraph(policy)(*(torch.from_numpy(v) for v in feeds.values()))
        got = got if isinstance(got, tuple) else (got,)
    worst = max(float(np.abs(g.numpy() - e).max()) for g, e in zip(got, expected))
    if not worst <= PARITY_TOLERANCE:
        raise GraphWeightsError(
            f"{path}: the rebuilt policy differs from the graph by {worst:.2e} (> {PARITY_TOLERANCE}); "
            "its weights could not all be recovered"
        )
