"""ONNX layout ops as registry layers: DepthToSpace / SpaceToDepth (both modes), Tile, Expand, Unsqueeze of several
axes, Pad with axes, Split into uneven num_outputs; Dropout's mask and training mode and empty slices refused by
name. Hand-made graphs, verified against onnxruntime by the import, every output compared again."""

from __future__ import annotations

import numpy as np
import pytest

from nnlang.targets.onnx.load import ImportError_, import_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _model(op, shape, consts=(), outputs=1, opset=18, **attrs):
    inits = [numpy_helper.from_array(np.asarray(v), f"c{k}") if v is not None else None for k, v in enumerate(consts)]
    ins = ["x"] + [f"c{k}" if v is not None else "" for k, v in enumerate(consts)]
    outs = [f"y{k}" for k in range(outputs)]
    node = helper.make_node(op, ins, outs, **attrs)
    graph = helper.make_graph([node], "layout", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs],
                              [i for i in inits if i is not None])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _same(model, shape):
    import torch

    result = import_model(model)
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    with torch.no_grad():
        got = result.model(torch.from_numpy(x))
    got = got if isinstance(got, (tuple, list)) else [got]
    assert len(got) == len(want)
    for w, g in zip(want, got):
        assert tuple(g.shape) == w.shape and np.array_equal(g.numpy(), w)  # moved elements: exactly equal
    return result


@pytest.mark.parametrize("op, mode", [("DepthToSpace", "DCR"), ("DepthToSpace", "CRD"), ("SpaceToDepth", None)])
def test_depth_and_space(op, mode):
    shape = [2, 8, 3, 5] if op == "DepthToSpace" else [2, 3, 4, 6]
    kw = {"mode": mode} if mode else {}
    result = _same(_model(op, shape, blocksize=2, **kw), shape)
    assert [n.op for n in result.graph.nodes] == ["Reshape", "Permute", "Reshape"]


@pytest.mark.parametrize("op, shape, const", [
    ("Tile", [2, 3, 4], np.array([1, 2, 3], np.int64)),
    ("Expand", [3, 1, 4], np.array([2, 3, 5, 4], np.int64)),
    ("Expand", [2, 1, 1], np.array([2, 3, 4], np.int64)),
])
def test_repeats_are_concats_of_copies(op, shape, const):
    result = _same(_model(op, shape, [const], opset=13), shape)
    assert "Concat" in {n.op for n in result.graph.nodes}


def test_unsqueeze_of_several_axes():
    shape = [2, 3, 4]
    result = _same(_model("Unsqueeze", shape, [np.array([5, 0, -3], np.int64)], opset=13), shape)
    assert [n.op for n in result.graph.nodes] == ["Unsqueeze"] * 3


def test_pad_with_axes():
    shape = [1, 2, 4, 5]
    _same(_model("Pad", shape, [np.array([1, 2, 0, 3], np.int64), np.array(1.5, np.float32),
                                np.array([-1, 2], np.int64)]), shape)


def test_split_into_uneven_num_outputs():
    shape = [2, 7]
    _same(_model("Split", shape, [None], outputs=4, axis=1, num_outputs=4), shape)


def test_dropout_in_training_mode_is_refused():
    model = _model("Dropout", [2, 3], [np.array(0.5, np.float32), np.array(True)], opset=13)
    with pytest.raises(ImportError_) as e:
        import_model(model)
    assert "training mode" in str(e.value) and "(Dropout)" in str(e.value)


def test_dropout_mask_at_inference_is_all_true():
    import torch

    model = _model("Dropout", [2, 3], [], outputs=2, opset=13)
    model.graph.output[1].type.tensor_type.elem_type = TensorProto.BOOL
    result = import_model(model)
    x = np.array([[0.0, np.nan, -1.0], [2.0, -0.0, np.inf]], np.float32)
    with torch.no_grad():
        y, mask = result.model(torch.from_numpy(x))
    assert mask.dtype == torch.bool and bool(mask.all()) and np.array_equal(y.numpy(), x, equal_nan=True)


def test_dropout_in_training_mode_with_ratio_0_is_the_input():
    _same(_model("Dropout", [2, 3], [np.array(0.0, np.float32), np.array(True)], opset=13), [2, 3])


def test_an_empty_slice_is_refused_by_name():
    model = _model("Slice", [4, 5], [np.array([10], np.int64), np.array([12], np.int64), np.array([1], np.int64)],
                   opset=13)
    with pytest.raises(ImportError_) as e:
        import_model(model)
    assert "empty tensor" in str(e.value) and "(Slice)" in str(e.value)


@pytest.mark.parametrize("shape, index, axis", [
    ([5, 4, 3], np.array([0, 3, -1], np.int64), 1),
    ([5, 4, 3], np.array([[2, 0], [1, 1]], np.int64), 2),
    ([5, 4], np.array([4, 1], np.int64), 0),
])
def test_gather_by_constant_indices_is_slices_joined(shape, index, axis):
    result = _same(_model("Gather", shape, [index], opset=13, axis=axis), shape)
    assert "Slice" in {n.op for n in result.graph.nodes}


@pytest.mark.parametrize("c, attrs", [
    (np.arange(12, dtype=np.float32).reshape(3, 4) - 5, {"beta": 0.5}),  # a bias per row
    (np.arange(4, dtype=np.float32), {"transA": 1, "alpha": 2.0}),
])
def test_gemm_with_transposed_data_or_a_bias_per_row(c, attrs):
    import torch

    rng = np.random.default_rng(9)
    a_shape = [5, 3] if attrs.get("transA") else [3, 5]
    w = rng.standard_normal((5, 4)).astype(np.float32)
    node = helper.make_node("Gemm", ["x", "w", "c"], ["y"], **attrs)
    graph = helper.make_graph([node], "gemm", [helper.make_tensor_value_info("x", TensorProto.FLOAT, a_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(c, "c")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    result = import_model(model)
    x = rng.standard_normal(a_shape).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    with torch.no_grad():
        got = result.model(torch.from_numpy(x)).numpy()
    assert got.shape == want.shape and np.abs(got - want).max() <= 1e-5 * max(1.0, np.abs(want).max())
