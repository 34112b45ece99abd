"""ONNX RotaryEmbedding (opset 23) imported as layers (Slice, Mul by the cos / sin, Sub, Add, Concat): 4-D and
3-D heads, halves and interleaved pairs, a partial rotary dim, caches indexed by stored position_ids (constants
the Mul layers hold) or given per position as tensors. Hand-made graphs, verified against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

from nnlang.targets.onnx.load import ImportError_, import_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _caches(positions: int, half: int):
    angle = np.arange(positions)[:, None] / (10000.0 ** (np.arange(half)[None, :] / half))
    return np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)


def _model(shape, tensor_caches=False, **attrs):
    n, s = shape[0], shape[2] if len(shape) == 4 else shape[1]
    d = shape[3] if len(shape) == 4 else shape[2] // attrs["num_heads"]
    half = (attrs.get("rotary_embedding_dim") or d) // 2
    cos, sin = _caches(16, half)
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)]
    inits = []
    if tensor_caches:  # per position, [N, S, r/2], graph inputs
        inputs += [helper.make_tensor_value_info(c, TensorProto.FLOAT, [n, s, half]) for c in ("cos", "sin")]
        names = ["x", "cos", "sin"]
    else:
        ids = (np.arange(s)[None, :] + np.arange(n)[:, None] * 3).astype(np.int64)  # each example its own offset
        inits = [numpy_helper.from_array(cos, "cos"), numpy_helper.from_array(sin, "sin"),
                 numpy_helper.from_array(ids, "ids")]
        names = ["x", "cos", "sin", "ids"]
    node = helper.make_node("RotaryEmbedding", names, ["y"], **attrs)
    graph = helper.make_graph([node], "rotary", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    model.ir_version = 10
    return model


@pytest.mark.parametrize("shape, attrs", [
    ([2, 3, 5, 8], {}),
    ([2, 3, 5, 8], {"interleaved": 1}),
    ([2, 3, 5, 8], {"rotary_embedding_dim": 4, "interleaved": 1}),
    ([2, 5, 12], {"num_heads": 2}),
    ([2, 5, 12], {"num_heads": 2, "rotary_embedding_dim": 4}),
])
def test_rotary_embedding_with_stored_positions(shape, attrs):
    import torch

    model = _model(shape, **attrs)
    result = import_model(model)  # verified against onnxruntime
    assert "Mul" in {n.op for n in result.graph.nodes}
    x = np.random.default_rng(8).standard_normal(shape).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with torch.no_grad():
        got = result.model(torch.from_numpy(x)).numpy()
    assert np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())


def test_rotary_embedding_with_caches_per_position():
    assert import_model(_model([2, 3, 5, 8], tensor_caches=True, interleaved=1)).max_abs_diff is not None


def test_positions_given_as_a_tensor_are_refused():
    model = _model([2, 3, 5, 8])
    model.graph.input.append(helper.make_tensor_value_info("ids", TensorProto.INT64, [2, 5]))
    del model.graph.initializer[2]
    with pytest.raises(ImportError_) as e:
        import_model(model)
    assert "position_ids" in str(e.value) and "(RotaryEmbedding)" in str(e.value)
