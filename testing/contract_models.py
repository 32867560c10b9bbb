"""Small models that keep the export contract, built without torch: for the robot's packages' tests.

The robot runs onnxruntime and tokenizers only, and its packages' tests run there too, so the models they
load are written here with `onnx.helper` and `tokenizers` (no torch, no transformers, no MuJoCo). The graphs
take the inputs and give the outputs `ocelot export` writes (ocelot_common.model_files) and carry the
preprocessing metadata export records; their arithmetic is a few fixed random matrices:

    actions = tanh(bias + mean colour @ G + masked mean text @ T [+ previous_action @ A] [+ earlier_action @ E]
                   [+ motion @ M])
    target  = tanh(k * (brightness-weighted column and row position))           (with previous_target)
    motion  = target - previous_target (NaN: none, no motion)
    law_state = (actions, ..., actions), K/2 times, and [+ previous_law_state[:, :2] @ S] (NaN: none, zero)
                                                                         (with a law state of length K)

so an image, a command, the two commands before and the target's motion each move the actions, as they do in a
trained policy. Tests of the export itself (parity with PyTorch) live with ocelot_train.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ocelot_common.model_files import (
    EARLIER_ACTION,
    LAW_STATE,
    POLICY_INPUTS,
    PREVIOUS_ACTION,
    PREVIOUS_LAW_STATE,
    PREVIOUS_TARGET,
    TARGET,
    TEXT_INPUTS,
    TEXT_OUTPUTS,
    model_files,
)
from ocelot_common.preprocessing import STANDARD

WORDS = (
    "track the face follow person on left right closest nearest one with a an red blue green yellow "
    "shirt hair glasses hat dark blond keep centred camera me to"
).split()
MAX_TOKENS, TEXT_DIM, OPSET = 16, 32, 17


def build_tokenizer():
    """A word-level tokenizer: [PAD]=0, [UNK], [CLS] words [SEP], lower-case words split on whitespace."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *WORDS])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])]
    )
    return tokenizer, len(vocab)


def _save(graph, path: Path, metadata: dict[str, str] | None = None) -> None:
    import onnx

    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # what onnxruntime of the robot's pin reads for opset 17
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _text_graph(vocab_size: int, rng: np.random.Generator):
    from onnx import TensorProto, helper, numpy_helper

    embedding = rng.normal(0, 1, (vocab_size, TEXT_DIM)).astype(np.float32)
    nodes = [
        helper.make_node("Gather", ["embedding", "input_ids"], ["embedded"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "last_axis"], ["mask_3d"]),
        helper.make_node("Mul", ["embedded", "mask_3d"], ["text_features"]),
    ]
    batch_tokens = ["batch", MAX_TOKENS]
    return helper.make_graph(
        nodes,
        "contract_text",
        [helper.make_tensor_value_info(name, TensorProto.INT64, batch_tokens) for name in TEXT_INPUTS],
        [helper.make_tensor_value_info(TEXT_OUTPUTS[0], TensorProto.FLOAT, [*batch_tokens, TEXT_DIM])],
        [
            numpy_helper.from_array(embedding, "embedding"),
            numpy_helper.from_array(np.array([2], np.int64), "last_axis"),
        ],
    )


def _policy_graph(
    rng: np.random.Generator,
    head_bias,
    zero_head: bool,
    previous_action: bool,
    previous_target: bool,
    earlier_action: bool = False,
    law_state: int = 0,
):
    from onnx import TensorProto, helper, numpy_helper

    size = STANDARD.frame_size
    scale = 0.0 if zero_head else 1.0
    weights = {
        "G": rng.normal(0, 0.3, (3, 2)) * scale,
        "T": rng.normal(0, 0.1, (TEXT_DIM, 2)) * scale,
        "A": np.array([[0.8, 0.1], [-0.1, 0.8]]) * scale,
        "E": np.array([[-0.5, 0.0], [0.2, -0.5]]) * scale,
        "M": np.array([[40.0, 0.0], [0.0, 40.0]]) * scale,
        "S": np.array([[0.5, 0.0], [0.0, -0.5]]) * scale,
        "zero": np.zeros(1),
        "bias": np.asarray(head_bias, np.float64)[None] * scale,
        "ramp": np.linspace(-1, 1, size)[:, None],
        "k": np.array([60.0]),
        "one_axis": np.array([1]),
    }
    init = [
        numpy_helper.from_array(v.astype(np.int64 if k == "one_axis" else np.float32), k) for k, v in weights.items()
    ]
    init += [numpy_helper.from_array(np.array(v, np.int64), k) for k, v in (("from0", [0]), ("to2", [2]))]
    nodes = [
        helper.make_node("ReduceMean", ["frames"], ["colour"], axes=[2, 3], keepdims=0),  # (B, 3)
        helper.make_node("MatMul", ["colour", "G"], ["from_image"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "two_axis"], ["mask_3d"]),
        helper.make_node("Mul", ["text_features", "mask_3d"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "one_axis"], ["text_sum"], keepdims=0),  # (B, H)
        helper.make_node("ReduceSum", ["mask_f", "one_axis"], ["count"], keepdims=1),  # (B, 1)
        helper.make_node("Div", ["text_sum", "count"], ["text_mean"]),
        helper.make_node("MatMul", ["text_mean", "T"], ["from_text"]),
        helper.make_node("Add", ["from_image", "from_text"], ["sum_1"]),
        helper.make_node("Add", ["sum_1", "bias"], ["pre_0"]),
    ]
    init.append(numpy_helper.from_array(np.array([2], np.int64), "two_axis"))
    inputs = [
        helper.make_tensor_value_info("frames", TensorProto.FLOAT, ["batch", 3, size, size]),
        helper.make_tensor_value_info("text_features", TensorProto.FLOAT, ["batch", MAX_TOKENS, TEXT_DIM]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", MAX_TOKENS]),
    ]
    last = "pre_0"
    # each command the model takes adds its own matrix's share
    for taken, name, weight in ((previous_action, PREVIOUS_ACTION, "A"), (earlier_action, EARLIER_ACTION, "E")):
        if not taken:
            continue
        inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", 2]))
        nodes += [
            helper.make_node("MatMul", [name, weight], [f"from_{name}"]),
            helper.make_node("Add", [last, f"from_{name}"], [f"pre_{name}"]),
        ]
        last = f"pre_{name}"
    outputs = [helper.make_tensor_value_info("actions", TensorProto.FLOAT, ["batch", 2])]
    if previous_target:
        inputs.append(helper.make_tensor_value_info(PREVIOUS_TARGET, TensorProto.FLOAT, ["batch", 2]))
        nodes += [
            # brightness by column and by row, centred: where the bright things are, in [-1, 1]
            helper.make_node("ReduceMean", ["frames"], ["columns"], axes=[1, 2], keepdims=0),  # (B, S)
            helper.make_node("ReduceMean", ["frames"], ["rows"], axes=[1, 3], keepdims=0),
            helper.make_node("ReduceMean", ["columns"], ["level"], axes=[1], keepdims=1),
            helper.make_node("Sub", ["columns", "level"], ["columns_c"]),
            helper.make_node("Sub", ["rows", "level"], ["rows_c"]),
            helper.make_node("MatMul", ["columns_c", "ramp"], ["x_raw"]),
            helper.make_node("MatMul", ["rows_c", "ramp"], ["y_raw"]),
            helper.make_node("Concat", ["x_raw", "y_raw"], ["xy_raw"], axis=1),
            helper.make_node("Div", ["xy_raw", "k"], ["xy_scaled"]),
            helper.make_node("Tanh", ["xy_scaled"], [TARGET]),
            # NaN previous target: no motion
            helper.make_node("IsNaN", [PREVIOUS_TARGET], ["missing"]),
            helper.make_node("Where", ["missing", TARGET, PREVIOUS_TARGET], ["before"]),
            helper.make_node("Sub", [TARGET, "before"], ["motion"]),
            helper.make_node("MatMul", ["motion", "M"], ["from_motion"]),
            helper.make_node("Add", [last, "from_motion"], ["pre_2"]),
        ]
        last = "pre_2"
        outputs.append(helper.make_tensor_value_info(TARGET, TensorProto.FLOAT, ["batch", 2]))
    if law_state:
        inputs.append(helper.make_tensor_value_info(PREVIOUS_LAW_STATE, TensorProto.FLOAT, ["batch", law_state]))
        nodes += [
            # NaN (an episode's first frame): nothing carried
            helper.make_node("IsNaN", [PREVIOUS_LAW_STATE], ["state_missing"]),
            helper.make_node("Where", ["state_missing", "zero", PREVIOUS_LAW_STATE], ["state_known"]),
            helper.make_node("Slice", ["state_known", "from0", "to2", "one_axis"], ["carried"]),
            helper.make_node("MatMul", ["carried", "S"], ["from_state"]),
            helper.make_node("Add", [last, "from_state"], ["pre_state"]),
        ]
        last = "pre_state"
    nodes.append(helper.make_node("Tanh", [last], ["actions"]))  # max_velocity 1 rad/s
    if law_state:
        nodes.append(helper.make_node("Concat", ["actions"] * (law_state // 2), [LAW_STATE], axis=1))
        outputs.append(helper.make_tensor_value_info(LAW_STATE, TensorProto.FLOAT, ["batch", law_state]))
    assert [i.name for i in inputs[:3]] == list(POLICY_INPUTS)
    return helper.make_graph(nodes, "contract_policy", inputs, outputs, init)


def write_contract_model(
    root: Path,
    head_bias: tuple[float, float] = (0.6, -0.3),
    zero_head: bool = False,
    previous_action: bool = False,
    previous_target: bool = False,
    earlier_action: bool = False,
    law_state: int = 0,
) -> Path:
    """root/model/model.onnx (+ text graph, tokenizer, card). `head_bias` makes the policy clearly move;
    `zero_head` zeroes every weight of the action (a broken model: always zero velocity); `law_state` (its length, even;
    0: none) carries a state from frame to frame, as the predictive head does."""
    paths = model_files(Path(root) / "model" / "model.onnx")
    paths["policy"].parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    tokenizer, vocab_size = build_tokenizer()
    tokenizer.save(str(paths["tokenizer"]))
    _save(_text_graph(vocab_size, rng), paths["text"])
    graph = _policy_graph(rng, head_bias, zero_head, previous_action, previous_target, earlier_action, law_state)
    _save(graph, paths["policy"], STANDARD.to_metadata())
    inputs = [
        *POLICY_INPUTS,
        *([PREVIOUS_ACTION] * previous_action),
        *([EARLIER_ACTION] * earlier_action),
        *([PREVIOUS_TARGET] * previous_target),
        *([PREVIOUS_LAW_STATE] * bool(law_state)),
    ]
    card = {
        "format": "ocelot-vla-onnx/1",
        "policy": {
            "inputs": inputs,
            "outputs": ["actions", *([TARGET] * previous_target), *([LAW_STATE] * bool(law_state))],
        },
        "text": {"max_tokens": MAX_TOKENS, "feature_dim": TEXT_DIM},
        "preprocessing": STANDARD.to_dict(),
        "made_by": "testing/contract_models.py (a stand-in that keeps the export contract)",
    }
    paths["card"].write_text(json.dumps(card, indent=1))
    return paths["policy"]
