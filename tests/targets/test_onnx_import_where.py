"""ONNX Where with a constant mask and an infinite fill imports as the Add of a constant bias (issue 20: GPT-2's
causal attention, which nnlang writes below opset 23 as Where(lower-triangular mask, scores, -inf)); a Where
the Add cannot give exactly is left to the Where op's own import (nnlang/targets/onnx/fusions_constant.py)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
torch = pytest.importorskip("torch")

import _onnx_harness as oh  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from nnlang.analyze import analyze  # noqa: E402
from nnlang.targets.onnx.emit import build_model  # noqa: E402
from nnlang.targets.onnx.load import ImportError_, import_model  # noqa: E402

CAUSAL = """
network Causal {
    "Causal attention over 6 positions, 2 heads."
    input q: [N, 2, 6, 8], k: [N, 2, 6, 8], v: [N, 2, 6, 8]
    y = (q, k, v) -> ScaledDotProductAttention(is_causal=true)
    output y
}
"""


def test_the_causal_mask_comes_back_as_a_constant_add_with_equal_outputs():
    a = oh.analysed(CAUSAL)
    module, state = oh.torch_reference(a.graph)
    model = build_model(a.graph, 17, state)
    assert "Where" in [n.op_type for n in model.graph.node]
    result = import_model(model)
    assert "Add(shape=(6, 6))" in result.text
    back = analyze(result.text, path="back.nns")
    assert not back.errors
    tensors = oh.inputs_for(a.graph, sizes={"N": 2})
    feeds = {name: t.numpy() for (name, _), t in zip(a.graph.inputs, tensors)}
    want = oh.run_onnx(model, feeds)[0]
    with torch.no_grad():
        got = result.model.eval()(*tensors)
    assert got.shape == want.shape
    assert float(np.abs(got.numpy() - want).max()) <= 1e-5 * max(1.0, float(np.abs(want).max()))


def _where_model(fill: float):
    mask = numpy_helper.from_array(np.tril(np.ones((4, 4), bool)), "mask")
    value = numpy_helper.from_array(np.array(fill, np.float32), "fill")
    node = helper.make_node("Where", ["mask", "x", "fill"], ["y"], name="masked")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4, 4])], [mask, value])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_an_infinite_fill_is_exact_and_a_finite_one_is_refused():
    result = import_model(_where_model(float("-inf")))  # verified against onnxruntime by the importer
    x = torch.randn(2, 4, 4)
    with torch.no_grad():
        y = result.model.eval()(x)
    want = torch.where(torch.tril(torch.ones(4, 4, dtype=torch.bool)), x, torch.tensor(float("-inf")))
    assert torch.equal(y, want)
    with pytest.raises(ImportError_) as e:
        import_model(_where_model(-1e9))
    assert "node masked (Where): " in str(e.value)  # a finite fill has no exact Add: the Where op's own import
