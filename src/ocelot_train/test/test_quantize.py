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


def test_an_unknown_scope_is_refused_before_writing(tmp_path):
    src, _ = exported_net(tmp_path)
    with pytest.raises(ValueError, match="unknown int8 scope 'layers': choose one of all, embeddings"):
        quantize_weights_int8(src, tmp_path / "out.onnx", scope="layers")
    assert not (tmp_path / "out.onnx").exists()
