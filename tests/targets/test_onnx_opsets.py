"""Opset handling: the newest registered form at or below the chosen opset is written; a native op and
the decomposition used below its opset give the same numbers (and torch's)."""

from __future__ import annotations

import _onnx_harness as oh
import _torch_harness as th
import pytest
import torch

from nnlang.targets.onnx.emit import build_model
from nnlang.targets.onnx.mapping import DEFAULT_OPSET, MIN_OPSET, lookup, max_opset, onnx_layer

onnx = pytest.importorskip("onnx")

# (layer call, input, opset below the native op, opset of the native op, the op, what only the old form has)
NATIVE = [
    ("LayerNorm", "[2, 5, 8]", 13, 17, "LayerNormalization", "ReduceMean"),
    ("LayerNorm(normalized_shape=(5, 8), bias=false)", "[2, 5, 8]", 16, 17, "LayerNormalization", "ReduceMean"),
    ("GroupNorm(3)", "[2, 6, 4, 4]", 20, 21, "GroupNormalization", "InstanceNormalization"),
    ("GELU", "[2, 3, 4]", 19, 20, "Gelu", "Erf"),
    ('GELU(approximate="tanh")', "[2, 3, 4]", 17, 20, "Gelu", "Tanh"),
    ("Mish", "[2, 3, 4]", 17, 18, "Mish", "Softplus"),
    ("Hardswish", "[2, 3, 4]", 13, 14, "HardSwish", "HardSigmoid"),
    ("CELU(2.0)", "[2, 3]", 11, 12, "Celu", "Exp"),
    ('Pad((2, 1), mode="circular")', "[2, 3, 5]", 18, 19, "Pad", "Concat"),
    ("Softmax(dim=1)", "[2, 5, 3]", 12, 13, "Softmax", "Transpose"),
    ("LogSoftmax(dim=0)", "[4, 3]", 11, 13, "LogSoftmax", "Transpose"),
]


def _graph(call, shape):
    return oh.analysed(th.network([(shape, "")], call)).graph


@pytest.mark.parametrize("call, shape, old, new, op, helper_op", NATIVE, ids=[n[0] for n in NATIVE])
def test_native_op_from_its_opset_and_the_same_numbers_below_it(call, shape, old, new, op, helper_op):
    g = _graph(call, shape)
    module, state = oh.torch_reference(g)
    x = oh.inputs_for(g)
    results = {}
    for opset in (old, new):
        model = build_model(g, opset, state)
        onnx.checker.check_model(model, full_check=True)
        ops = {n.op_type for n in model.graph.node}
        if opset == new:
            assert op in ops and helper_op not in ops, ops
        else:  # the softmaxes keep their op and move the axis around it
            assert helper_op in ops and (op in ops) == (op in ("Softmax", "LogSoftmax")), ops
        ref, results[opset] = oh.compare(g, opset, x, module=module, model=model)
        oh.assert_same(ref, results[opset], 1e-5, f"{call} at {opset}")
    oh.assert_same(results[old], results[new], 1e-5, f"{call}: {old} vs {new}")


def test_layer_norm_at_13_and_17():
    """The issue's example: LayerNorm decomposed below opset 17, native from it, equal numbers."""
    g = _graph("LayerNorm(eps=1e-6)", "[N, T, 16]")
    module, state = oh.torch_reference(g)
    x = [torch.randn(3, 7, 16) * 5 + 2]
    m13, m17 = build_model(g, 13, state), build_model(g, 17, state)
    assert "LayerNormalization" not in {n.op_type for n in m13.graph.node}
    assert [n.op_type for n in m17.graph.node] == ["LayerNormalization"]
    ref, a = oh.compare(g, 13, x, module=module, model=m13)
    _, b = oh.compare(g, 17, x, module=module, model=m17)
    oh.assert_same(ref, a, 1e-5)
    oh.assert_same(ref, b, 1e-5)
    oh.assert_same(a, b, 1e-5)


@pytest.mark.parametrize("opset", [13, 18])
def test_split_of_a_run_time_size(opset):
    """Equal pieces of a symbolic dim: no sizes before opset 18, num_outputs from it."""
    g = oh.analysed(th.network([("[N, T, 4]", "")], "Split(2, axis=1)", 2)).graph
    model = build_model(g, opset, {})
    (split,) = [n for n in model.graph.node if n.op_type == "Split"]
    assert [a.name for a in split.attribute] == (["axis"] if opset < 18 else ["axis", "num_outputs"])
    assert len(split.input) == 1
    x = torch.randn(2, 6, 4)
    ref, got = oh.compare(g, opset, [x], model=model)
    oh.assert_same(ref, got, 0.0)


@pytest.mark.parametrize("opset", [17, 18])
def test_reduce_axes_attribute_then_input(opset):
    g = oh.analysed(th.network([("[2, 3, 4]", "")], "Mean(axis=(1, 2), keepdims=true)")).graph
    model = build_model(g, opset, {})
    (mean,) = [n for n in model.graph.node if n.op_type == "ReduceMean"]
    assert (len(mean.input), "axes" in [a.name for a in mean.attribute]) == ((1, True) if opset < 18 else (2, False))
    ref, got = oh.compare(g, opset, oh.inputs_for(g), model=model)
    oh.assert_same(ref, got, 1e-6)


TRANSFORMER = ('use "std/transformer"\n\nnetwork Enc {\n    input x: [N, T, 8]\n'
               '    y = x -> layers: TransformerEncoderLayer(2, dim_feedforward=16, activation="gelu") * 2\n'
               "    output y\n}\n")


@pytest.mark.parametrize("opset", sorted({MIN_OPSET, 13, DEFAULT_OPSET, 20, max_opset()}))
def test_transformer_block_at_every_kind_of_opset(opset):
    a = oh.analysed(TRANSFORMER, path="enc.nns")
    module, state = oh.torch_reference(a.graph)
    model = build_model(a.graph, opset, state)
    onnx.checker.check_model(model, full_check=True)
    ref, got = oh.compare(a.graph, opset, [torch.randn(3, 5, 8)], module=module, model=model)
    oh.assert_same(ref, got, 1e-5)


def test_newest_entry_at_or_below_the_opset_is_chosen():
    calls = []

    @onnx_layer("_Probe", since=12)
    def old(b):
        calls.append("old")

    @onnx_layer("_Probe", since=15)
    def new(b):
        calls.append("new")

    from nnlang.targets.onnx.mapping import _REGISTRY, NotExpressible

    try:
        assert lookup("_Probe", 12) is old and lookup("_Probe", 14) is old
        assert lookup("_Probe", 15) is new and lookup("_Probe", 28) is new
        with pytest.raises(NotExpressible) as e:
            lookup("_Probe", 11)
        assert e.value.since == 12
        with pytest.raises(RuntimeError, match="defined twice"):
            onnx_layer("_Probe", since=15)(new)
    finally:
        del _REGISTRY["_Probe"]


def test_default_opset_is_17():
    g = _graph("ReLU", "[2, 3]")
    from nnlang.targets.onnx.emit import emit_graph

    assert DEFAULT_OPSET == 17
    assert emit_graph(g, DEFAULT_OPSET).problems == []
