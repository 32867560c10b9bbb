"""Weight-only int8 quantization of ONNX graphs: smaller, same interface, close outputs."""

import numpy as np
import torch

from ocelot_train.quantize import quantize_weights_int8


def test_int8_weights_shrink_the_graph_and_keep_its_outputs_close(tmp_path):
    import onnxruntime as ort

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(2000, 64)
            self.proj = torch.nn.Linear(64, 1024)
            self.small = torch.nn.Linear(1024, 4)  # 4096 weights: below the threshold, stays fp32

        def forward(self, ids):
            return self.small(torch.relu(self.proj(self.embed(ids))))

    torch.manual_seed(0)
    src, dst = tmp_path / "fp32.onnx", tmp_path / "int8.onnx"
    ids = torch.randint(0, 2000, (3, 7))
    torch.onnx.export(
        Net().eval(), (ids,), str(src), input_names=["ids"], output_names=["out"], dynamo=False, opset_version=17
    )
    assert quantize_weights_int8(src, dst) == 2
    assert dst.stat().st_size < 0.4 * src.stat().st_size
    exact = ort.InferenceSession(str(src)).run(None, {"ids": ids.numpy()})[0]
    approx = ort.InferenceSession(str(dst)).run(None, {"ids": ids.numpy()})[0]
    assert np.max(np.abs(exact - approx)) < 0.02 * np.max(np.abs(exact))
