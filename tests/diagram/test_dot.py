"""DOT generation: ids, collapse states, rolled-up repeats, ranges (pure Python, no Graphviz)."""

import re

import pytest
from diagram_util import EXAMPLES, example

from nnlang.diagram import build_model, diagram_payload, resolve_state, to_dot
from nnlang.diagram.view import auto_depth, max_depth, visible_count

STMT = re.compile(r"^\s*([nsio]\d+) \[id=\"\1\"", re.MULTILINE)


def boxes(dot: str) -> list:
    return STMT.findall(dot)


@pytest.mark.parametrize("name", EXAMPLES)
def test_full_expansion_draws_every_layer_once(name):
    g = example(name).graph
    model = build_model(g)
    ids = boxes(to_dot(model, resolve_state(model, "all", roll=False)))
    assert sorted(i for i in ids if i[0] == "n") == sorted(f"n{n.id}" for n in g.nodes)
    assert [i for i in ids if i[0] == "i"] == [f"i{k}" for k in range(len(g.inputs))]
    assert [i for i in ids if i[0] == "o"] == [f"o{k}" for k in range(len(g.outputs))]
    assert not [i for i in ids if i[0] == "s"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_each_depth_draws_the_layers_and_blocks_it_promises(name):
    model = build_model(example(name).graph)
    for depth in range(1, max_depth(model) + 1):
        ids = [i for i in boxes(to_dot(model, resolve_state(model, depth, roll=False))) if i[0] in "ns"]
        assert len(ids) == len(set(ids)) == visible_count(model, depth), depth
        for sid in (i for i in ids if i[0] == "s"):
            assert model.scopes[sid]["level"] == depth


def test_depth_one_of_resnet18_is_the_stem_and_four_stages():
    a = example("resnet18")
    model = build_model(a.graph)
    dot = to_dot(model, resolve_state(model, 1))
    labels = re.findall(r"<B>([^<]+)</B> <FONT COLOR=\"#57606a\">([^<]+)</FONT>", dot)
    assert ("layer1", "BasicBlock ×2") in labels
    assert ("layer3", "BasicBlock ×2") in labels
    assert "conv1" in dict(labels)
    assert "s1 -> s4" in dot  # layer1 -> layer2: edges join the collapsed blocks


def test_expand_opens_a_block_and_its_parents_only():
    model = build_model(example("resnet18").graph)
    state = resolve_state(model, 1, expand=["layer3.0"])
    paths = {model.scopes[s]["path"] for s in state.expanded}
    assert paths == {"", "layer3", "layer3.0"}
    state = resolve_state(model, "all", collapse=["BasicBlock"])
    assert all(model.scopes[s]["tname"] != "BasicBlock" for s in state.expanded)


def test_auto_depth_fits_the_budget():
    # auto_depth: the plain depth bound (kept for callers); the automatic view is test_readability's
    for name in ("densenet121", "inception_v3", "resnet50", "lenet5"):
        model = build_model(example(name).graph)
        d = auto_depth(model)
        assert d == 1 or visible_count(model, d) <= 60
        assert d == max_depth(model) or visible_count(model, d + 1) > 60


def test_rolled_repeat_draws_the_first_layer_with_the_count():
    g = example("bert_encoder").graph
    model = build_model(g)
    layers = next(s for s in model.scopes.values() if s["path"] == "layers")
    assert layers["rollable"]
    dot = to_dot(model, resolve_state(model, "all", roll=True))
    ids = [i for i in boxes(dot) if i[0] == "n"]
    first = [n for n in g.nodes if n.path.startswith("layers.0.")]
    assert sorted(ids) == sorted(f"n{n.id}" for n in first)
    assert "TransformerEncoderLayer ×12 (first shown)" in dot
    # the last layer's output reaches the network output through its counterpart in item 0
    assert f"n{first[-1].id} -> o0" in dot
    assert not re.search(rf"n{first[-1].id} -> n{first[0].id}\b", dot)  # no loop back


def test_multi_output_edges_are_labelled_with_their_shape():
    src = """network Two {
    input x: [N, 8, 4, 4]
    (a, b) = x -> Split(2, axis=1)
    y = (a, b) -> Add
    output y
}
"""
    from nnlang.analyze import analyze

    g = analyze(src).graph
    model = build_model(g)
    dot = to_dot(model, resolve_state(model, "all"))
    assert dot.count("[label=<[N, 4, 4, 4]>]") == 2
    assert "label=<[N, 8, 4, 4]>" not in dot  # a single-output edge: the box already shows it
    everything = to_dot(model, resolve_state(model, "all", edge_labels="all"))
    assert "i0 -> n0 [label=<[N, 8, 4, 4]>]" in everything


def test_long_flat_sequences_wrap_into_columns():
    model = build_model(example("inception_v3").graph)
    dot = to_dot(model, resolve_state(model, 1))
    heads = re.findall(r"\{rank=same; ([^\[]+) \[style=invis\]\}", dot)
    assert len(heads) == 1 and len(heads[0].split(" -> ")) >= 2
    assert dot.count("constraint=false") == len(heads[0].split(" -> ")) - 1
    assert "rank=same" not in to_dot(model, resolve_state(model, 1, wrap=0))


def test_payload_ranges_point_into_the_document():
    a = example("resnet18")
    p = diagram_payload(a, depth="all", svg=False)
    assert p["network"] == "ResNet18" and p["svg"] is None and p["dot"].startswith("digraph")
    g = a.graph
    for node in g.nodes:
        r = p["ranges"][f"n{node.id}"]
        line = a.text.count("\n", 0, r["start"]) + 1
        assert (r["line"], a.text[r["start"]:r["end"]]) == (line, a.text[r["start"]:r["end"]])
        piece = a.text[r["start"]:r["end"]]
        if node.site.path is None:
            assert node.op in piece or node.name in piece
            assert "origin" not in r
        else:  # a layer of std/resnet.nns: the document range is the block call, origin the layer
            assert "BasicBlock" in piece
            assert r["origin"]["path"].endswith("resnet.nns")
    conv1 = p["ranges"]["n0"]
    assert (conv1["line"], conv1["column"]) == (12, 19)
    assert p["unknown"] == [] and diagram_payload(a, expand=["nope"], svg=False)["unknown"] == ["nope"]


def test_payload_without_a_network():
    from nnlang.analyze import analyze

    p = diagram_payload(analyze("block B {\n    input x\n    output x\n}\n"))
    assert p["dot"] is None and p["ranges"] == {}


def test_a_graph_with_errors_still_draws():
    from nnlang.analyze import analyze

    a = analyze("network Bad {\n    input x: [N, 8]\n    y = x -> Conv2d(4, 3) -> Linear(2)\n    output y\n}\n")
    assert a.errors
    p = diagram_payload(a, svg=False)
    assert p["dot"] is not None and "?" in p["dot"]


def test_diagram_imports_no_graphviz():
    import subprocess
    import sys

    code = ("import sys, nnlang.diagram, nnlang.analyze; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('graphviz', 'torch', 'numpy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
