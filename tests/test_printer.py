"""The printer: IR -> .nns text. Every example printed from its own IR must read back as the same
network (weights, parameter count, MACs, shapes), and the recovered text must be what a person
would write: blocks with lifted parameters, groups, chains, no escapes of hostile strings."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from nnlang.analyze import analyze
from nnlang.ir.graph import Graph, Node, Scope, Site, Tensor
from nnlang.layers import registry
from nnlang.layers.base import TensorType, format_value
from nnlang.printer import PrintError, print_graph
from nnlang.span import Span

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.nns"))


def _analysed(text: str, path=None):
    a = analyze(text, path)
    errors = [f"{d.span.line}:{d.span.column} {d.code} {d.message}" for d in a.diagnostics if d.is_error]
    assert not errors, "\n".join(errors) + "\n" + text
    return a.graph


def _facts(g: Graph):
    weights = sorted((f"{n.path}.{w.name}", w.shape) for n in g.nodes for w in n.weights)
    shapes = [g.tensor(t).type.shape for _, t in g.outputs]
    return weights, g.total_params, g.total_macs, shapes, sorted(n.op for n in g.nodes)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_printed_from_its_ir_reads_back_as_the_same_network(path):
    g = _analysed(path.read_text(), str(path))
    text = print_graph(g)
    again = _analysed(text)
    assert _facts(again) == _facts(g)
    assert print_graph(again) == text  # a fixed point: printing the printed network changes nothing


def test_resnet18_prints_as_a_person_would_write_it():
    g = _analysed((ROOT / "examples/resnet18.nns").read_text(), str(ROOT / "examples/resnet18.nns"))
    text = print_graph(g)
    assert "block BasicBlock(channels: int) {" in text
    assert "-> layer1: BasicBlock(64) * 2" in text
    assert "-> layer2: [BasicBlock_2(128), BasicBlock(128)]" in text
    assert "downsample: Sequential { Conv2d(channels, 1, stride=2, bias=false) -> BatchNorm2d }" in text
    assert "-> fc: Linear(1000)" in text
    assert all(len(line) <= 100 for line in text.splitlines())


def test_a_column_that_is_a_multiple_of_a_parameter_is_written_as_one():
    text = """
block Bottle(width: int) {
    input x
    y = x -> a: Conv2d(width, 1) -> b: Conv2d(width * 4, 1)
    output y
}
network N {
    input x: [N, 8, 4, 4]
    y = x -> s1: Bottle(8) -> s2: Bottle(16) -> s3: Bottle(16)
    output y
}
"""
    printed = print_graph(_analysed(text))
    assert "a: Conv2d(channels, 1) -> b: Conv2d(channels * 4, 1)" in printed
    assert "s1: Bottle(8) -> s2: Bottle(16) -> s3: Bottle(16)" in printed


def test_a_value_most_instances_share_becomes_the_parameter_default():
    text = """
block U(c: int, s: int = 1) {
    input x
    y = x -> conv: Conv2d(c, 3, stride=s, padding=1)
    output y
}
network N {
    input x: [N, 3, 32, 32]
    y = x -> a: U(4) -> b: U(8, s=2) -> c: U(8) -> d: U(16)
    output y
}
"""
    printed = print_graph(_analysed(text))
    assert "block U(channels: int, stride: int = 1) {" in printed
    assert "a: U(4) -> b: U(8, stride=2) -> c: U(8) -> d: U(16)" in printed


def test_instances_with_different_structure_become_variants():
    text = """
block B(c: int, down: bool = false) {
    input x
    y = x -> conv: Conv2d(c, 1)
    if down {
        y = y -> pool: MaxPool2d(2)
    }
    output y
}
network N {
    input x: [N, 3, 8, 8]
    y = x -> a: B(4) -> b: B(4, down=true) -> c: B(8)
    output y
}
"""
    printed = print_graph(_analysed(text))
    assert "block B(channels: int) {" in printed and "block B_2 {" in printed
    assert "a: B(4) -> b: B_2 -> c: B(8)" in printed


def _tiny_graph(node_name: str, doc: str = None) -> Graph:
    """A hand-made IR, as an importer makes it: input -> Linear named `node_name` -> output."""
    site = Site(Span(0, 0, 1, 1, 1, 1))
    g = Graph(name="Tiny", doc=doc)
    g.root = Scope(name="", path="", kind="network", type_name="Tiny", site=site)
    g.tensors = [Tensor(0, TensorType(("N", 4)), None, 0, site), Tensor(1, TensorType(("N", 3)), 0, 0, site)]
    spec = registry.get("Linear")
    attrs = {p.name: p.validate(p.default) for p in spec.params if not p.required}
    attrs["out_features"] = 3
    node = Node(0, node_name, node_name, "Linear", attrs, [0], [1], site, g.root)
    g.nodes.append(node)
    g.root.children.append(node)
    g.inputs = [("x", 0)]
    g.outputs = [("y", 1)]
    return g


@pytest.mark.parametrize("name, written", [("fc", "fc: Linear(3)"), ("input", '"input": Linear(3)'),
                                           ("7", '"7": Linear(3)'), ("0", "Linear(3)")])
def test_names_that_are_keywords_or_digits_are_quoted_and_positional_ones_left_out(name, written):
    text = print_graph(_tiny_graph(name))
    assert f"y = x -> {written}" in text
    g = _analysed(text)
    assert [n.path for n in g.nodes] == [name]


@pytest.mark.parametrize("hostile", ['x"; __import__("os").system("id")', "a b", "é", "a.b", "a\nb"])
def test_a_name_that_is_not_a_layer_name_is_refused(hostile):
    with pytest.raises(PrintError, match="may only hold letters, digits and '_'"):
        print_graph(_tiny_graph(hostile))


@pytest.mark.parametrize("doc", ['say "hi"\n}\nnetwork Evil {', "tab\tend", "\u202eevil\u202c", "back\\slash",
                                 "line\u2028break"])
def test_strings_are_escaped_and_read_back_exactly(doc):
    text = print_graph(_tiny_graph("fc", doc=doc))
    assert len(text.splitlines()) == len(text.rstrip("\n").split("\n")) == 6  # nothing breaks a line
    g = _analysed(text)
    assert g.name == "Tiny" and g.doc == doc
    literal = next(line.strip() for line in text.splitlines() if line.strip().startswith('"'))
    assert ast.literal_eval(literal) == doc and literal == format_value(doc)


def test_equal_unnamed_groups_are_written_as_a_repetition_with_the_same_names():
    """ConvMixer's 32 identical `Sequential { ... }` blocks (issue 18): `Sequential { ... } * 32`, whose layers are
    named 0 .. 31 as the 32 listed groups were."""
    group = "Sequential { Conv2d(8, 3, padding=1, groups=8) -> ReLU -> BatchNorm2d }"
    listed = "network N {\n    input x: [N, 8, 6, 6]\n    y = x -> blocks: Sequential {\n        " + \
        " -> ".join([group] * 5) + "\n    }\n    output y\n}\n"
    g = _analysed(listed)
    text = print_graph(g)
    assert f"blocks: {group} * 5" in text
    assert _facts(_analysed(text)) == _facts(g)


def test_a_long_list_of_calls_is_wrapped_inside_its_brackets():
    """RepViT's alternating blocks (issue 18) printed as one 285-character line before: the list now breaks
    across lines within the width, and reads back as the same network."""
    blocks = "".join(f"block WideBlockNumber{k}(c: int) {{\n    input x\n    y = x -> Conv2d(c, {size}, "
                     f"padding={size // 2}) -> ReLU\n    output y\n}}\n\n" for k, size in ((1, 1), (2, 3)))
    calls = ", ".join(["WideBlockNumber1(8)", "WideBlockNumber2(8)"] * 6)
    g = _analysed(blocks + "network N {\n    input x: [N, 8, 6, 6]\n    y = x -> blocks: [" + calls + "]\n"
                  "    output y\n}\n")
    text = print_graph(g)
    assert max(len(line) for line in text.splitlines()) <= 120
    assert "-> blocks: [\n" in text and "WideBlockNumber1, WideBlockNumber2, WideBlockNumber1," in text
    assert _facts(_analysed(text)) == _facts(g)


def test_reshape_targets_stay_inside_their_blocks():
    """ResNeSt's SplitAttn reshapes to its input's sizes, (2, 64, 56, 56) at one stage and (2, 128, 28, 28) at the
    next (issue 18): such targets were lifted as meaningless `shape: tuple` block parameters. Instances that
    reshape to other sizes are now variants of the block, each with its sizes written inside."""
    g = _analysed("""block Halves(c: int, size: int) {
    input x
    y = x -> Conv2d(c, 1) -> Reshape((2, c // 2, size, size)) -> Sum(1)
    output y
}

network N {
    input x: [N, 4, 8, 8]
    y = x -> a: Halves(8, 8) -> MaxPool2d(2) -> b: Halves(16, 4)
    output y
}
""")
    text = print_graph(g)
    assert "tuple" not in text
    assert "Reshape((2, 4, 8, 8))" in text and "Reshape((2, 8, 4, 4))" in text
    assert _facts(_analysed(text)) == _facts(g)
