"""Weight-only int8 quantization of an ONNX graph (per output channel, symmetric), for the text encoder.

The frozen text encoder is most of a model's size (all-MiniLM-L6-v2: 90 MB in
fp32) and runs once per command, so its speed hardly matters but its size does
(the shipped model and the Pi). Each large MatMul weight and Gather table is
stored as int8 with one scale per output channel and restored by a
DequantizeLinear node; activations stay fp32, so the features keep ~0.999
cosine similarity with fp32 where dynamic (activation) quantization gave ~0.94.

The scope says which weights: "all" (a quarter of the fp32 size), or "embeddings", the Gather tables alone
(the word-embedding table is half of MiniLM's weights; the encoder layers stay fp32, so the features move
far less). A read-out that sits between two faces on some frame can be moved across by the full int8
graph's error where the embeddings-only one leaves it. "blocks" is "all" with one scale per BLOCK_ROWS input
rows of each MatMul column instead of one per column (restored by Cast, Mul and Reshape, which opset 17
has): a few large weights then coarsen only their own block. For MiniLM it is 3 % larger than "all", and its
features move a third as far from fp32 (0.053 against 0.156 at most; the embeddings scope: 0.029).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MIN_ELEMENTS = 65536  # smaller tensors are not worth a node
BLOCK_ROWS = 64  # the "blocks" scope: MatMul weight rows (inputs) that share a scale per column
SCOPES = {  # scope -> (the ops whose weights go int8, what it is)
    "all": (("MatMul", "Gather"), "every large weight, a scale per column"),
    "blocks": (("MatMul", "Gather"), f"every large weight, a scale per {BLOCK_ROWS} rows of a column"),
    "embeddings": (("Gather",), "the embedding tables alone"),
}


def quantize_weights_int8(
    source: str | Path, target: str | Path, min_elements: int = MIN_ELEMENTS, scope: str = "all"
) -> int:
    """Write `target` with int8 weights of the ops in `scope` (SCOPES); returns how many tensors were quantized."""
    if scope not in SCOPES:
        raise ValueError(f"unknown int8 scope {scope!r}: choose one of {', '.join(SCOPES)}")
    ops, _ = SCOPES[scope]
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    initializers = {init.name: init for init in graph.initializer}
    channel_axis = {}  # weight name -> axis whose entries get a scale each
    for node in graph.node:
        if node.op_type not in ops:
            continue
        if node.op_type == "MatMul" and node.input[1] in initializers:
            channel_axis.setdefault(node.input[1], 1)  # (K, N): one scale per output column
        elif node.op_type == "Gather" and node.input[0] in initializers:
            channel_axis.setdefault(node.input[0], 0)  # (V, D) embedding table: one scale per row
    dequantize = []
    for name, axis in channel_axis.items():
        weight = numpy_helper.to_array(initializers[name])
        if weight.dtype != np.float32 or weight.ndim != 2 or weight.size < min_elements:
            continue
        graph.initializer.remove(initializers[name])
        if scope == "blocks" and axis == 1 and weight.shape[0] % BLOCK_ROWS == 0:
            dequantize.extend(_block_quantized(graph, name, weight))
            continue
        quantized, scale = symmetric_int8(weight, 1 - axis)
        graph.initializer.extend(
            [
                numpy_helper.from_array(quantized, f"{name}_int8"),
                numpy_helper.from_array(scale.squeeze(1 - axis), f"{name}_scale"),
            ]
        )
        dequantize.append(
            helper.make_node(
                "DequantizeLinear", [f"{name}_int8", f"{name}_scale"], [name], axis=axis, name=f"{name}_dequantize"
            )
        )
    for node in reversed(dequantize):
        graph.node.insert(0, node)  # before every use: the graph stays topologically sorted
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return len({node.output[0] for node in dequantize} & set(channel_axis))


def symmetric_int8(values: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """int8 values and their float32 scales, one per slice along `axis` (kept as a size-1 dimension): the
    largest magnitude of each slice maps to 127."""
    scale = np.abs(values).max(axis=axis, keepdims=True) / 127.0
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    return np.clip(np.round(values / scale), -127, 127).astype(np.int8), scale


def _block_quantized(graph, name: str, weight: np.ndarray) -> list:
    """Store a (K, N) MatMul weight as int8 (K/BLOCK_ROWS, BLOCK_ROWS, N) with a scale per block and column;
    return the nodes that restore it under its own name."""
    from onnx import TensorProto, helper, numpy_helper

    rows, columns = weight.shape
    quantized, scale = symmetric_int8(weight.reshape(rows // BLOCK_ROWS, BLOCK_ROWS, columns), 1)
    graph.initializer.extend(
        [
            numpy_helper.from_array(quantized, f"{name}_int8"),
            numpy_helper.from_array(scale, f"{name}_scale"),
            numpy_helper.from_array(np.array([rows, columns], dtype=np.int64), f"{name}_shape"),
        ]
    )
    return [
        helper.make_node("Cast", [f"{name}_int8"], [f"{name}_float"], to=TensorProto.FLOAT, name=f"{name}_cast"),
        helper.make_node("Mul", [f"{name}_float", f"{name}_scale"], [f"{name}_blocks"], name=f"{name}_rescale"),
        helper.make_node("Reshape", [f"{name}_blocks", f"{name}_shape"], [name], name=f"{name}_reshape"),
    ]
