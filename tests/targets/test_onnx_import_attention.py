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


@pytest.mark.parametrize("attrs, extra, reason", [
    ({"is_causal": 1}, "past", "is_causal and a KV cache"),
    ({"is_causal": 1}, "mask", "is_causal and an attn_mask"),
    ({"left_window_size": 1}, "", "local window"),
    ({"softcap": 2.0}, "gqa", "grouped-query heads"),
])
def test_what_no_layer_masks_is_refused_by_name(attrs, extra, reason):
    names = ["q", "k", "v"]
    inputs = [("q", [1, 4 if extra == "gqa" else 2, 3, 8]), ("k", [1, 2, 3, 8]), ("v", [1, 2, 3, 8])]
    if extra == "past":
        names += ["", "pk", "pv"]
        inputs += [("pk", [1, 2, 2, 8]), ("pv", [1, 2, 2, 8])]
    if extra == "mask":
        names.append("m")
        inputs.append(("m", [3, 3]))
    outs = ["y", "present_key", "present_value"] if extra == "past" else ["y"]
    node = helper.make_node("Attention", names, outs, **attrs)
    shapes = [("y", [1, inputs[0][1][1], 3, 8])] + ([("present_key", [1, 2, 5, 8]), ("present_value", [1, 2, 5, 8])]
                                                   if extra == "past" else [])
    with pytest.raises(ImportError_) as e:
        import_model(_model(node, inputs, shapes))
    assert reason in str(e.value) and "(Attention)" in str(e.value)
