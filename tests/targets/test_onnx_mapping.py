"""The ONNX mapping of every registry layer against the PyTorch target.

Every layer x every configuration of the PyTorch mapping tests (test_torch_mapping.CASES) is built as a
tiny network, written as ONNX at several opsets, checked (onnx.checker full_check), run in
onnxruntime and compared with the PyTorch target's module on the same input and the same weights.
"""

from __future__ import annotations

import _onnx_harness as oh
import _torch_harness as th
import pytest
from test_torch_mapping import CASES

from nnlang.layers.base import weight_key
from nnlang.layers.registry import all_layers
from nnlang.targets.onnx.emit import CompileError, build_model
from nnlang.targets.onnx.mapping import DEFAULT_OPSET, MIN_OPSET, max_opset, registry, unsupported

onnx = pytest.importorskip("onnx")

LAYER_NAMES = [spec.name for spec in all_layers()]
# The defaults, the oldest opset written, and the newest that onnxruntime runs every mapping of.
OPSETS = tuple(sorted({MIN_OPSET, 13, DEFAULT_OPSET, 21, max_opset()}))
PARAMS = [pytest.param(name, i, case, id=f"{name}-{i}") for name in LAYER_NAMES for i, case in
          enumerate(CASES.get(name, []))]
# Layers (and configurations) that opset 11 cannot express, and the opset the report must name.
NEEDS_12 = {"Bilinear", "NLLLoss", "CrossEntropyLoss", "Einsum"}


def graph_of(case):
    return oh.analysed(th.network(list(case.inputs), case.call, case.outs)).graph


def test_every_registry_layer_has_an_onnx_mapping():
    assert sorted(set(LAYER_NAMES) - set(registry())) == []
    assert sorted(set(registry()) - set(LAYER_NAMES)) == [], "mappings for names that are not canonical layers"
    assert all(since >= MIN_OPSET for entries in registry().values() for since, _ in entries)


def test_every_layer_has_cases_to_run():
    assert [n for n in LAYER_NAMES if len(CASES.get(n, [])) < 2] == []


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")  # KLDivLoss's default
@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("name, index, case", PARAMS)
def test_layer_in_onnxruntime_equals_torch(name, index, case, opset):
    g = graph_of(case)
    if opset < 12 and name in NEEDS_12 or (opset < 12 and name in ("Maximum", "Minimum") and "f" not in
                                           g.tensor(g.nodes[0].outputs[0]).type.dtype):
        problems = unsupported(g, opset)
        assert [(n.op, "needs --opset 12" in why) for n, why in problems] == [(name, True)]
        return
    assert unsupported(g, opset) == []
    module, state = oh.torch_reference(g)
    model = build_model(g, opset, state)
    onnx.checker.check_model(model, full_check=True)
    tensors = oh.inputs_for(g, high=case.high, make=case.make)
    ref, got = oh.compare(g, opset, tensors, module=module, model=model)
    atol = 1e-5 if all(r.dtype.kind != "f" or abs(r).max(initial=0) < 10 for r in ref) else 1e-4
    oh.assert_same(ref, got, atol, f"{case.call} at opset {opset}")


@pytest.mark.parametrize("name, index, case", PARAMS)
def test_layer_names_and_locations(name, index, case):
    """One layer at path L: its initializers are L.<state_dict key>, the node computing its result is named
    L, its helper nodes L/..., and every node's doc_string is the step's location."""
    g = graph_of(case)
    _, state = oh.torch_reference(g)
    model = build_model(g, DEFAULT_OPSET, state, document="t.nns")
    node = g.nodes[0]
    where = f"t.nns:{node.site.span.line}:{node.site.span.column}"
    assert {n.doc_string for n in model.graph.node} == {where}
    assert sum(n.name == "L" for n in model.graph.node) == 1
    assert all(n.name == "L" or n.name.startswith("L/") for n in model.graph.node)
    used = {i.name for i in model.graph.initializer}
    assert used <= {weight_key("L", w.name) for w in node.weights}
    # Every initializer is a state_dict entry, bit for bit; only a training counter may be left out.
    for init in model.graph.initializer:
        assert (onnx.numpy_helper.to_array(init) == state[init.name]).all()
    assert {weight_key("L", w.name) for w in node.weights} - used <= {"L.num_batches_tracked"}
    assert [o.name for o in model.graph.output] == [f"y{i}" for i in range(case.outs)]
    assert [i.name for i in model.graph.input] == [f"a{i}" for i in range(len(case.inputs))]


def test_opset_range_is_checked():
    g = graph_of(CASES["ReLU"][0])
    from nnlang.targets.onnx.mapping import check_opset

    for bad in (MIN_OPSET - 1, max_opset() + 1, "17", True):
        with pytest.raises(ValueError, match=f"choose {MIN_OPSET} to {max_opset()}"):
            check_opset(bad)
    with pytest.raises(ValueError):
        unsupported(g, MIN_OPSET - 1)


def test_unexpressible_nodes_are_all_reported_with_their_places():
    text = ("network T {\n    input a: [2, 5]\n    input b: [2, 6]\n    input t: [2] i64\n"
            "    y = (a, b) -> bil: Bilinear(5)\n"
            "    l = (y, t) -> ce: CrossEntropyLoss\n"
            "    output l\n}\n")
    g = oh.analysed(text).graph
    problems = unsupported(g, 11)
    assert [(n.path, n.site.span.line) for n, _ in problems] == [("bil", 5), ("ce", 6)]
    assert all("needs --opset 12 or newer (chosen: 11)" in why for _, why in problems)
    with pytest.raises(CompileError) as e:
        build_model(g, 11, {}, document="t.nns")
    assert "t.nns:5:" in str(e.value) and "t.nns:6:" in str(e.value) and len(e.value.problems) == 2
    assert unsupported(g, 12) == []


def test_adaptive_pooling_of_a_symbolic_size_is_not_exportable():
    g = oh.analysed("network T {\n    input x: [N, 3, L]\n    y = x -> p: AdaptiveAvgPool1d(4)\n"
                    "    output y\n}\n").graph
    ((node, why),) = unsupported(g, max_opset())
    assert node.path == "p" and "not exportable" in why and "'L'" in why
    g = oh.analysed("network T {\n    input x: [N, 3, L]\n    y = x -> p: AdaptiveAvgPool1d(1)\n"
                    "    output y\n}\n").graph
    assert unsupported(g, 11) == []  # one cell: a plain mean, whatever the size


# Layers whose ONNX form reads sizes at run time (Shape) when the dims are symbolic.
SYMBOLIC = [
    ("Upsample(size=(7, 9))", [("[N, 3, H, W]", "")]),
    ('Upsample(scale_factor=2, mode="bilinear")', [("[N, 3, 4, 5]", "")]),
    ("Flatten(start_dim=2)", [("[N, 3, H, W]", "")]),
    ("Flatten(start_dim=0, end_dim=1)", [("[N, T, 4]", "")]),
    ("GroupNorm(2)", [("[N, 4, L]", "")]),
    ("LRN(4)", [("[N, 6, H, W]", "")]),
    ("MultiheadAttention(2, add_bias_kv=true, need_weights=true)", [("[N, T, 8]", "")]),
    ('KLDivLoss(reduction="batchmean")', [("[N, 3]", ""), ("[N, 3]", "")]),
    ("Split(2, axis=1)", [("[N, T, 3]", "")]),
    ("GlobalMaxPool(keepdims=true)", [("[N, 3, H, W]", "")]),
    ("AdaptiveAvgPool2d(1)", [("[N, 3, H, W]", "")]),
    ("LSTM(4, num_layers=2, bidirectional=true, return_state=true)", [("[N, T, 3]", "")]),
]


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")
@pytest.mark.parametrize("opset", [13, DEFAULT_OPSET])
@pytest.mark.parametrize("call, inputs", SYMBOLIC, ids=[s[0] for s in SYMBOLIC])
def test_symbolic_dims_are_read_at_run_time(call, inputs, opset):
    outs = 3 if "return_state" in call else (2 if "need_weights" in call or call.startswith("Split") else 1)
    g = oh.analysed(th.network(inputs, call, outs)).graph
    module, state = oh.torch_reference(g)
    model = build_model(g, opset, state)
    onnx.checker.check_model(model, full_check=True)
    assert any(d.dim_param for i in model.graph.input for d in i.type.tensor_type.shape.dim)
    for sizes in ({"N": 2, "T": 6, "H": 5, "W": 7, "L": 4}, {"N": 3, "T": 4, "H": 3, "W": 4, "L": 6}):
        tensors = oh.inputs_for(g, sizes=sizes)
        if call.startswith("KLDiv"):
            tensors = [t.log_softmax(-1) for t in tensors]
        ref, got = oh.compare(g, opset, tensors, module=module, model=model)
        oh.assert_same(ref, got, 1e-5, f"{call} {sizes}")
