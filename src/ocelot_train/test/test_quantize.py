"""Weight-only int8 quantization of ONNX graphs: smaller, same interface, close outputs."""

import numpy as np
import pytest
import torch

from ocelot_train.quantize import quantize_weights_int8


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(2000, 64)
        self.proj = torch.nn.Linear(64, 1024)
        self.small = torch.nn.Linear(1024, 4)  # 4096 weights: below the threshold, stays fp32

    def forward(self, ids):
        return self.small(torch.relu(self.proj(self.embed(ids))))


def exported_net(tmp_path):
    torch.manual_seed(0)
    ids = torch.randint(0, 2000, (3, 7))
    src = tmp_path / "fp32.onnx"
    torch.onnx.export(
        Net().eval(), (ids,), str(src), input_names=["ids"], output_names=["out"], dynamo=False, opset_version=17
    )
    return src, ids


def outputs(path, ids):
    import onnxruntime as ort

    return ort.InferenceSession(str(path)).run(None, {"ids": ids.numpy()})[0]


def test_int8_weights_shrink_the_graph_and_keep_its_outputs_close(tmp_path):
    src, ids = exported_net(tmp_path)
    dst = tmp_path / "int8.onnx"
    assert quantize_weights_int8(src, dst) == 2
    assert dst.stat().st_size < 0.4 * src.stat().st_size
    exact, approx = outputs(src, ids), outputs(dst, ids)
    assert np.max(np.abs(exact - approx)) < 0.02 * np.max(np.abs(exact))


def test_the_embeddings_scope_quantizes_the_tables_alone(tmp_path):
    src, ids = exported_net(tmp_path)
    full, tables = tmp_path / "all.onnx", tmp_path / "embeddings.onnx"
    assert quantize_weights_int8(src, full) == 2 and quantize_weights_int8(src, tables, scope="embeddings") == 1
    assert full.stat().st_size < tables.stat().st_size < src.stat().st_size
    exact = outputs(src, ids)
    assert np.max(np.abs(exact - outputs(tables, ids))) < np.max(np.abs(exact - outputs(full, ids)))


def test_the_blocks_scope_keeps_an_outlier_from_coarsening_its_whole_column(tmp_path):
    """A large weight in one input row sets the scale of its whole column under "all"; under "blocks" only
    that row's block of 64 is coarser, so the outputs stay closer, for a few more bytes of scales."""
    import onnx

    torch.manual_seed(0)
    net = Net().eval()
    net.embed = torch.nn.Embedding(2000, 256)
    net.proj = torch.nn.Linear(256, 1024)  # 256 inputs: 4 blocks a column
    with torch.no_grad():
        net.proj.weight[:, 0] *= 40.0  # input 0: an outlier row of the (256, 1024) MatMul weight
    ids = torch.randint(0, 2000, (3, 7))
    src = tmp_path / "fp32.onnx"
    torch.onnx.export(net, (ids,), str(src), input_names=["ids"], output_names=["out"], dynamo=False, opset_version=17)
    full, blocks = tmp_path / "all.onnx", tmp_path / "blocks.onnx"
    assert quantize_weights_int8(src, full) == 2 and quantize_weights_int8(src, blocks, scope="blocks") == 2
    assert full.stat().st_size < blocks.stat().st_size < 1.1 * full.stat().st_size
    exact = outputs(src, ids)
    assert np.max(np.abs(exact - outputs(blocks, ids))) < 0.75 * np.max(np.abs(exact - outputs(full, ids)))
    ops = [node.op_type for node in onnx.load(str(blocks)).graph.node]
    assert ops.count("Reshape") >= 1 and ops.count("DequantizeLinear") == 1  # the MatMul in blocks, the table per row


def test_an_unknown_scope_is_refused_before_writing(tmp_path):
    src, _ = exported_net(tmp_path)
    with pytest.raises(ValueError, match="unknown int8 scope 'layers': choose one of all, blocks, embeddings"):
        quantize_weights_int8(src, tmp_path / "out.onnx", scope="layers")
    assert not (tmp_path / "out.onnx").exists()
