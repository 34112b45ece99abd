"""A bare ONNX LSTM / GRU / RNN node (ONNX's own layout, no exporter glue) imported as the recurrent layer plus
layout layers. Hand-made graphs with random (non-zero) weights and biases, verified against onnxruntime (layout 1,
which onnxruntime cannot run, against ONNX's reference evaluator), every output compared."""

from __future__ import annotations

import numpy as np
import pytest

from nnlang.targets.onnx.load import ImportError_, import_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def _model(kind, t=5, n=2, f=3, h=4, dirs=1, bias=True, outputs=("Y", "Y_h"), layout=0, **attrs):
    rng = np.random.default_rng(7)
    g = _GATES[kind]
    inits = [numpy_helper.from_array((rng.standard_normal((dirs, g * h, f)) * 0.5).astype(np.float32), "W"),
             numpy_helper.from_array((rng.standard_normal((dirs, g * h, h)) * 0.5).astype(np.float32), "R")]
    ins = ["X", "W", "R"]
    if bias:
        inits.append(numpy_helper.from_array((rng.standard_normal((dirs, 2 * g * h)) * 0.5).astype(np.float32), "B"))
        ins.append("B")
    if dirs == 2:
        attrs["direction"] = "bidirectional"
    names = ["Y", "Y_h", "Y_c"][:3 if kind == "LSTM" else 2]
    node = helper.make_node(kind, ins, [o if o in outputs else "" for o in names], hidden_size=h, layout=layout,
                            **attrs)
    x = [n, t, f] if layout else [t, n, f]
    graph = helper.make_graph([node], "rnn", [helper.make_tensor_value_info("X", TensorProto.FLOAT, x)],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    return model, x


def _compare(model, x_shape, result, reference=False):
    import torch

    x = np.random.default_rng(1).standard_normal(x_shape).astype(np.float32)
    if reference:
        want = ReferenceEvaluator(model).run(None, {"X": x})
    else:
        want = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"X": x})
    with torch.no_grad():
        got = result.model(torch.from_numpy(x))
    got = got if isinstance(got, (tuple, list)) else [got]
    assert len(got) == len(want)
    for w, g in zip(want, got):
        assert tuple(g.shape) == w.shape
        assert np.abs(g.numpy() - w).max() <= 1e-5 * max(1.0, np.abs(w).max())


@pytest.mark.parametrize("kind, kw", [
    ("LSTM", {"outputs": ("Y", "Y_h", "Y_c")}),
    ("LSTM", {"dirs": 2, "outputs": ("Y", "Y_c")}),
    ("LSTM", {"outputs": ("Y_h",), "bias": False}),
    ("RNN", {"dirs": 2, "activations": ["Relu", "Relu"]}),
    ("RNN", {"outputs": ("Y",)}),
    ("GRU", {"dirs": 2, "linear_before_reset": 1}),
    ("LSTM", {"direction": "reverse", "outputs": ("Y", "Y_h", "Y_c")}),  # the sequence reversed around it
    ("RNN", {"direction": "reverse", "layout": 1}),
    # linear_before_reset=0 (ONNX's default): the cell written out step by step
    ("GRU", {"t": 3}),
    ("GRU", {"t": 3, "dirs": 2, "bias": False}),
    ("GRU", {"t": 2, "direction": "reverse", "outputs": ("Y_h",)}),
    ("GRU", {"t": 3, "layout": 1, "dirs": 2}),
])
def test_bare_recurrent_node_gives_onnxs_layout(kind, kw):
    model, x = _model(kind, **kw)
    reference = bool(kw.get("layout"))  # onnxruntime has no kernel for layout 1
    result = import_model(model, verify=not reference)  # verified against onnxruntime
    ops = [n.op for n in result.graph.nodes]
    assert kind in ops or (kind == "GRU" and "Linear" in ops)
    _compare(model, x, result, reference=reference)


@pytest.mark.parametrize("kind", ["LSTM", "RNN"])
def test_batchwise_layout_against_the_reference(kind):
    model, x = _model(kind, layout=1, dirs=2, outputs=("Y", "Y_h"))
    result = import_model(model, verify=False)  # onnxruntime has no kernel for layout 1
    _compare(model, x, result, reference=True)


@pytest.mark.parametrize("kind, kw, reason", [
    ("LSTM", {"clip": 1.0}, "clip"),
    ("GRU", {"t": 20}, "at most 16"),
    ("RNN", {"activations": ["Sigmoid"]}, "activations"),
])
def test_what_torch_does_not_compute_is_refused_by_name(kind, kw, reason):
    model, _ = _model(kind, **kw)
    with pytest.raises(ImportError_) as e:
        import_model(model)
    assert reason in str(e.value) and f"({kind})" in str(e.value)
