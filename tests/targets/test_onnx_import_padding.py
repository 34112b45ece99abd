"""ONNX auto_pad SAME_UPPER / SAME_LOWER (Conv, MaxPool, AveragePool) and ConvTranspose's output_shape imported as
explicit padding (a Pad layer in front where it is asymmetric; torch's output_padding for the transposed
convolution). Hand-made graphs with random weights and a non-zero bias, verified against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

from nnlang.targets.onnx.load import ImportError_, import_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _model(op, shape, weights=(), opset=17, **attrs):
    rng = np.random.default_rng(4)
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), f"w{k}")
             for k, s in enumerate(weights)]
    node = helper.make_node(op, ["x"] + [i.name for i in inits], ["y"], **attrs)
    graph = helper.make_graph([node], "padding", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _same(model, shape):
    import torch

    result = import_model(model)  # verified by the import
    x = np.random.default_rng(6).standard_normal(shape).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with torch.no_grad():
        got = result.model(torch.from_numpy(x)).numpy()
    assert got.shape == want.shape and np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())
    return result


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
def test_conv_same(auto_pad):
    shape = [1, 3, 7, 8]
    _same(_model("Conv", shape, [(4, 3, 2, 3), (4,)], auto_pad=auto_pad, strides=[2, 1]), shape)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
def test_max_pool_same(auto_pad):
    shape = [1, 2, 7, 6]
    _same(_model("MaxPool", shape, kernel_shape=[3, 2], strides=[2, 2], auto_pad=auto_pad), shape)


def test_average_pool_same_with_symmetric_padding():
    shape = [1, 2, 7, 7]
    _same(_model("AveragePool", shape, kernel_shape=[3, 3], auto_pad="SAME_UPPER"), shape)


@pytest.mark.parametrize("attrs", [
    {"output_shape": [10, 8], "strides": [3, 2]},
    {"output_shape": [10, 8], "strides": [3, 2], "output_padding": [1, 1], "kernel_shape": [3, 3]},
    {"auto_pad": "SAME_LOWER", "strides": [2, 2]},
])
def test_conv_transpose_output_shape(attrs):
    shape = [1, 1, 3, 3]
    result = _same(_model("ConvTranspose", shape, [(1, 2, 3, 3), (2,)], **attrs), shape)
    assert [n.op for n in result.graph.nodes] == ["ConvTranspose2d"]


def test_conv_transpose_same_upper_with_an_odd_total_is_refused():
    with pytest.raises(ImportError_) as e:
        import_model(_model("ConvTranspose", [1, 1, 3, 3], [(1, 2, 3, 3)], auto_pad="SAME_UPPER", strides=[2, 2]))
    assert "no torch padding" in str(e.value) and "(ConvTranspose)" in str(e.value)


@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [3, 3], "strides": [2, 1], "pads": [1, 0, 2, 1]},  # p = 2, asymmetric padding
    {"kernel_shape": [2, 2], "auto_pad": "SAME_LOWER", "p": 3},
    {"kernel_shape": [3], "p": 1},
])
def test_lp_pool_is_the_windows_sum_of_powers(attrs):
    shape = [1, 2, 9] if len(attrs["kernel_shape"]) == 1 else [1, 2, 7, 6]
    result = _same(_model("LpPool", shape, **attrs), shape)
    assert any(n.op.startswith("AvgPool") for n in result.graph.nodes)


def test_lp_pool_of_integers_is_refused():
    model = _model("LpPool", [1, 2, 7, 6], kernel_shape=[2, 2])
    model.graph.input[0].type.tensor_type.elem_type = TensorProto.DOUBLE
    with pytest.raises(ImportError_) as e:
        import_model(model)
    assert "float32" in str(e.value) and "(LpPool)" in str(e.value)


@pytest.mark.parametrize("attrs", [
    {"kernel_shape": [2, 2], "auto_pad": "SAME_UPPER"},
    {"kernel_shape": [3, 3], "pads": [2, 2, 2, 2]},  # more than half the window
    {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [0, 1, 2, 0], "ceil_mode": 1},
])
def test_average_pool_leaving_padding_out_of_the_mean(attrs):
    shape = [1, 2, 7, 6]
    result = _same(_model("AveragePool", shape, **attrs), shape)
    assert [n.op for n in result.graph.nodes][-1] == "Mul"  # window size / input elements in the window


@pytest.mark.parametrize("op, attrs", [
    ("AveragePool", {"kernel_shape": [2, 2], "dilations": [2, 2]}),
    ("AveragePool", {"kernel_shape": [3, 2], "dilations": [2, 3], "strides": [2, 1], "pads": [1, 0, 2, 1],
                     "count_include_pad": 1, "ceil_mode": 1}),
    ("AveragePool", {"kernel_shape": [3, 2], "dilations": [2, 1], "pads": [2, 1, 1, 1], "ceil_mode": 1}),
    ("LpPool", {"kernel_shape": [2, 2], "dilations": [2, 2], "pads": [1, 0, 0, 1]}),
])
def test_dilated_average_is_a_depthwise_sum_of_ones(op, attrs):
    shape = [1, 3, 9, 8]
    result = _same(_model(op, shape, opset=19, **attrs), shape)  # AveragePool's dilations: opset 19
    assert "Conv2d" in {n.op for n in result.graph.nodes}
