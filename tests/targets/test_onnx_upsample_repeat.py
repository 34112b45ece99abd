"""Nearest upsampling by whole factors in ONNX (issue 20, ResNet-50-FPN's top-down pathway): written as a
per-channel ConvTranspose of ones (kernel = stride = the factor), which ONNX's shape inference carries a
symbolic batch through (Resize with scales does not), equal to torch in onnxruntime, and imported back as the
Upsample it stands for. A stored ConvTranspose of ones (learned weights) stays a ConvTranspose."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

import _onnx_harness as oh  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from nnlang.targets.onnx.emit import build_model  # noqa: E402
from nnlang.targets.onnx.load import import_model  # noqa: E402

TEXT = """
network Up(factor: int = 2) {
    "Nearest upsampling of a convolution's output, added to a finer map."
    input coarse: [N, 3, 5, 4], fine: [N, 6, 5 * factor, 4 * factor]
    u = coarse -> conv: Conv2d(6, 1) -> Upsample(scale_factor=factor)
    y = (u, fine) -> Add
    output y
}
"""


@pytest.mark.parametrize("factor", [2, 3])
def test_whole_factor_nearest_keeps_the_symbolic_batch_equals_torch_and_imports_as_upsample(factor):
    a = oh.analysed(TEXT.replace("factor: int = 2", f"factor: int = {factor}"))
    module, state = oh.torch_reference(a.graph)
    model = build_model(a.graph, 17, state)
    assert [n.op_type for n in model.graph.node if n.op_type in ("Resize", "ConvTranspose")] == ["ConvTranspose"]
    inferred = onnx.shape_inference.infer_shapes(oh.strip_value_info(model), strict_mode=True)
    shapes = {v.name: oh.onnx_shape(v) for v in [*inferred.graph.value_info, *inferred.graph.output]}
    up = next(n for n in model.graph.node if n.op_type == "ConvTranspose").output[0]
    assert shapes[up] == ["N", 6, 5 * factor, 4 * factor]
    tensors = oh.inputs_for(a.graph, sizes={"N": 2})
    ref, got = oh.compare(a.graph, 17, tensors, module=module, model=model)
    oh.assert_same(ref, got, 1e-5)
    result = import_model(model)
    assert "Upsample(scale_factor=" in result.text and "ConvTranspose" not in result.text
    assert sum(p.numel() for p in result.model.parameters()) == a.graph.total_params


def test_a_stored_convtranspose_of_ones_stays_a_convtranspose():
    ones = numpy_helper.from_array(np.ones((4, 1, 2, 2), np.float32), "deconv.weight")
    node = helper.make_node("ConvTranspose", ["x", "deconv.weight"], ["y"], kernel_shape=[2, 2], strides=[2, 2],
                            group=4)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 3, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6, 6])], [ones])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    result = import_model(model)
    assert "ConvTranspose2d" in result.text and "Upsample" not in result.text
    assert sum(p.numel() for p in result.model.parameters()) == 16
