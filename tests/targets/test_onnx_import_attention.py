"""ONNX Attention (opset 23) forms beyond the plain one: the KV cache, softcap, the qk_matmul_output modes.

Each graph is made with onnx.helper and imported with verification: onnxruntime on the original and the PyTorch
target on the imported text agree on a random input within the relative tolerance (import_model raises
otherwise); the test also checks the layers it became and compares every output on its own input.
"""

from __future__ import annotations

import numpy as np
import pytest

from nnlang.targets.onnx.load import ImportError_, import_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper  # noqa: E402


def _vi(name, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, shape)


def _model(node, inputs, outputs):
    graph = helper.make_graph([node], "attention", [_vi(n, s) for n, s in inputs], [_vi(n, s) for n, s in outputs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    model.ir_version = 10
    return model


def _check_outputs(model, result, inputs):
    """Every output of the imported network equals onnxruntime's on a fresh input (relative to its scale)."""
    import torch

    rng = np.random.default_rng(3)
    feeds = {n: rng.standard_normal(s).astype(np.float32) for n, s in inputs}
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)
    with torch.no_grad():
        got = result.model(*(torch.from_numpy(feeds[n]) for n, _ in inputs))
    got = got if isinstance(got, (tuple, list)) else [got]
    assert len(got) == len(want)
    for w, g in zip(want, got):
        assert g.shape == w.shape
        assert np.abs(g.numpy() - w).max() <= 1e-5 * max(1.0, np.abs(w).max())


@pytest.mark.parametrize("rank", [3, 4])
def test_kv_cache_is_a_concat_before_the_attention(rank):
    outs = ["y", "present_key", "present_value"]
    if rank == 4:
        node = helper.make_node("Attention", ["q", "k", "v", "m", "pk", "pv"], outs)
        inputs = [("q", [2, 3, 4, 8]), ("k", [2, 3, 5, 8]), ("v", [2, 3, 5, 6]), ("m", [4, 12]),
                  ("pk", [2, 3, 7, 8]), ("pv", [2, 3, 7, 6])]
        y = [2, 3, 4, 6]
    else:
        node = helper.make_node("Attention", ["q", "k", "v", "m", "pk", "pv"], outs, q_num_heads=3, kv_num_heads=3)
        inputs = [("q", [2, 4, 24]), ("k", [2, 5, 24]), ("v", [2, 5, 18]), ("m", [4, 12]),
                  ("pk", [2, 3, 7, 8]), ("pv", [2, 3, 7, 6])]
        y = [2, 4, 18]
    model = _model(node, inputs, [("y", y), ("present_key", [2, 3, 12, 8]), ("present_value", [2, 3, 12, 6])])
    result = import_model(model)
    ops = [n.op for n in result.graph.nodes]
    assert ops.count("Concat") == 2 and ops.count("ScaledDotProductAttention") == 1
    _check_outputs(model, result, inputs)


@pytest.mark.parametrize("mode", [0, 1, 2, 3])
def test_qk_matmul_output_and_softcap_are_the_attention_written_out(mode):
    node = helper.make_node("Attention", ["q", "k", "v", "m"], ["y", "", "", "qk"], softcap=2.5,
                            qk_matmul_output_mode=mode, scale=0.4)
    inputs = [("q", [2, 3, 4, 8]), ("k", [2, 3, 6, 8]), ("v", [2, 3, 6, 5]), ("m", [4, 6])]
    model = _model(node, inputs, [("y", [2, 3, 4, 5]), ("qk", [2, 3, 4, 6])])
    result = import_model(model)
    ops = [n.op for n in result.graph.nodes]
    assert "ScaledDotProductAttention" not in ops and {"MatMul", "Tanh", "Softmax", "Add"} <= set(ops)
    _check_outputs(model, result, inputs)


def test_softcap_with_a_cache_and_3d_heads():
    node = helper.make_node("Attention", ["q", "k", "v", "", "pk", "pv"], ["y", "present_key", "present_value"],
                            softcap=3.0, q_num_heads=2, kv_num_heads=2)
    inputs = [("q", [1, 4, 16]), ("k", [1, 3, 16]), ("v", [1, 3, 12]), ("pk", [1, 2, 5, 8]), ("pv", [1, 2, 5, 6])]
    model = _model(node, inputs, [("y", [1, 4, 12]), ("present_key", [1, 2, 8, 8]), ("present_value", [1, 2, 8, 6])])
    _check_outputs(model, import_model(model), inputs)


@pytest.mark.parametrize("attrs, extra", [
    ({"is_causal": 1}, "past"),  # ONNX's causal mask is bottom-right with a cache
    ({"is_causal": 1}, "mask"),  # and combines with attn_mask
    ({"is_causal": 1}, "bool"),
    ({"left_window_size": 1, "right_window_size": 0}, ""),
    ({"is_causal": 1, "left_window_size": 1}, "past"),
    ({"softcap": 2.0}, "gqa"),  # each key / value head repeated in turn
    ({"is_causal": 1}, "stored"),  # a bool mask held as an initializer
])
def test_masks_torch_does_not_make_are_a_constant_bias(attrs, extra):
    names = ["q", "k", "v"]
    inputs = [("q", [1, 4 if extra == "gqa" else 2, 3, 8]), ("k", [1, 2, 4, 8]), ("v", [1, 2, 4, 6])]
    outs = ["y"]
    if extra == "past":
        names += ["", "pk", "pv"]
        inputs += [("pk", [1, 2, 2, 8]), ("pv", [1, 2, 2, 6])]
        outs += ["present_key", "present_value"]
    if extra in ("mask", "bool"):
        names.append("m")
    node = helper.make_node("Attention", names + (["m"] if extra == "stored" else []), outs, **attrs)
    keys = 6 if extra == "past" else 4
    shapes = [("y", [1, inputs[0][1][1], 3, 6])] + ([("present_key", [1, 2, 6, 8]), ("present_value", [1, 2, 6, 6])]
                                                   if extra == "past" else [])
    graph_inputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs]
    if extra == "mask":
        inputs.append(("m", [3, keys]))
        graph_inputs.append(helper.make_tensor_value_info("m", TensorProto.FLOAT, [3, keys]))
    if extra == "bool":
        graph_inputs.append(helper.make_tensor_value_info("m", TensorProto.BOOL, [3, keys]))
    graph = helper.make_graph([node], "attention", graph_inputs, [_vi(n, s) for n, s in shapes])
    if extra == "stored":
        graph.initializer.append(helper.make_tensor("m", TensorProto.BOOL, [3, 4], [True, False, True, True] * 3))
    window = "left_window_size" in attrs  # the window attributes are opset 25's
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 25 if window else 23)])
    model.ir_version = 10
    feeds = None
    if extra == "bool":  # every query keeps key 0 (a row masked entirely is ONNX's 0, softmax's NaN)
        rng = np.random.default_rng(0)
        feeds = {n: rng.standard_normal(s).astype(np.float32) for n, s in inputs}
        feeds["m"] = rng.random((3, keys)) < 0.6
        feeds["m"][:, 0] = True
    result = import_model(model, example_inputs=feeds)  # verified against onnxruntime
    ops = [n.op for n in result.graph.nodes]
    assert "ScaledDotProductAttention" not in ops and "Softmax" in ops
    if extra != "bool":
        _check_outputs(model, result, inputs)


@pytest.mark.parametrize("extra, reason", [
    ("nonpad", "nonpad_kv_seqlen"),
    ("short", "does not cover all"),
])
def test_what_no_layer_masks_is_refused_by_name(extra, reason):
    inputs = [("q", [1, 2, 3, 8]), ("k", [1, 2, 4, 8]), ("v", [1, 2, 4, 8])]
    graph_inputs = [_vi(n, s) for n, s in inputs]
    if extra == "nonpad":
        names = ["q", "k", "v", "", "", "", "lens"]
        graph_inputs.append(_vi("lens", [1], TensorProto.INT32))
    else:
        names = ["q", "k", "v", "m"]
        graph_inputs.append(_vi("m", [3, 2]))
    node = helper.make_node("Attention", names, ["y"])
    graph = helper.make_graph([node], "attention", graph_inputs, [_vi("y", [1, 2, 3, 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    model.ir_version = 10
    with pytest.raises(ImportError_) as e:
        import_model(model)
    assert reason in str(e.value) and "(Attention)" in str(e.value)


def test_float16_attention_is_verified_to_its_precision():
    """onnxruntime's f16 attention and torch's differ by rounding (half an ulp): the verification's bound is at
    least 4 ulps of the output's type, and no more than that."""
    import torch

    inputs = [("q", [2, 3, 4, 8]), ("k", [2, 3, 6, 8]), ("v", [2, 3, 6, 8])]
    node = helper.make_node("Attention", ["q", "k", "v"], ["y"])
    graph = helper.make_graph([node], "attention", [_vi(n, s, TensorProto.FLOAT16) for n, s in inputs],
                              [_vi("y", [2, 3, 4, 8], TensorProto.FLOAT16)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    model.ir_version = 10
    result = import_model(model)
    rng = np.random.default_rng(3)
    feeds = {n: rng.standard_normal(s).astype(np.float16) for n, s in inputs}
    want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    with torch.no_grad():
        got = result.model(*(torch.from_numpy(feeds[n]) for n, _ in inputs)).numpy()
    diff = np.abs(got.astype(np.float32) - want.astype(np.float32)).max()
    assert diff <= 4 * 2.0 ** -10 * max(1.0, np.abs(want).max())


@pytest.mark.parametrize("causal", [0, 1])
def test_constant_key_lengths_are_a_constant_mask(causal):
    inputs = [("q", [2, 2, 3, 8]), ("k", [2, 2, 6, 8]), ("v", [2, 2, 6, 4])]
    node = helper.make_node("Attention", ["q", "k", "v", "", "", "", "lens"], ["y"], is_causal=causal)
    graph = helper.make_graph([node], "attention", [_vi(n, s) for n, s in inputs], [_vi("y", [2, 2, 3, 4])],
                              [helper.make_tensor("lens", TensorProto.INT64, [2], [4, 6])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 24)])
    model.ir_version = 10
    result = import_model(model)
    assert "Softmax" in {n.op for n in result.graph.nodes}
    _check_outputs(model, result, inputs)
