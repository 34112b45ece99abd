"""nnlang.ide.complete: completion and signature help on real example text and on half-typed,
broken text. The cursor is written as `‸` in the texts below."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nnlang.analyze import analyze
from nnlang.ide import complete as c
from nnlang.ide import signature as sg
from nnlang.ide.hover import Context
from nnlang.layers import registry

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CURSOR = "‸"


def at(marked: str, path=None, ctx="same"):
    """(completions, text, offset) for a text with the cursor marked; the analysis is of the text
    itself unless `ctx` is given (None: no analysis yet)."""
    offset = marked.index(CURSOR)
    text = marked.replace(CURSOR, "", 1)
    if ctx == "same":
        ctx = Context(analyze(text, str(path) if path else None))
    return c.complete(ctx, text, offset, str(path) if path else None), text, offset


def sig(marked: str, path=None):
    offset = marked.index(CURSOR)
    text = marked.replace(CURSOR, "", 1)
    return sg.signature_help(Context(analyze(text, str(path) if path else None)), text, offset)


def labels(result) -> list:
    return [i.label for i in result.items]


def item(result, label):
    found = [i for i in result.items if i.label == label]
    assert len(found) == 1, (label, labels(result))
    return found[0]


def resnet50_at(after: str, insert: str = "") -> str:
    text = (EXAMPLES / "resnet50.nns").read_text()
    k = text.index(after) + len(after)
    return text[:k] + insert + CURSOR + text[k:]


N_LAYER_ITEMS = sum(1 + len(s.aliases) for s in registry.all_layers())


# ---- layers and blocks at a step ------------------------------------------------------------------

def test_step_after_an_arrow_in_resnet50():
    marked = resnet50_at("-> layer4: BottleneckStage(512, 3, stride=2)", "\n        -> ")
    r, text, offset = at(marked, EXAMPLES / "resnet50.nns")
    assert (r.context, r.start, r.end) == ("step", offset, offset)
    blocks = [i.label for i in r.items if i.kind == "block"]
    assert blocks == ["BasicBlock", "BasicStage", "Bottleneck", "BottleneckStage"]
    assert len(r.items) == N_LAYER_ITEMS + 4
    conv = item(r, "Conv2d")
    assert (conv.kind, conv.detail, conv.insert) == ("layer", "convolution", "Conv2d")
    assert conv.snippet == "Conv2d(${1:out_channels}, ${2:kernel})"
    assert conv.documentation == (
        "```nns\nConv2d(out_channels: int, kernel: int | (int, int), stride = 1, padding = 0, groups = 1, "
        "dilation = 1, bias = true)\n```\n\n" + registry.get("Conv2d").doc
        + "\n\ne.g. `Conv2d(64, 3, stride=1, padding=1)`")
    relu = item(r, "ReLU")
    assert (relu.insert, relu.snippet) == ("ReLU", "ReLU")  # nothing required: no parentheses
    dense = item(r, "Dense")  # an alias, after the canonical names
    assert (dense.detail, dense.snippet, dense.sort) == ("dense (alias of Linear)", "Dense(${1:out_features})", "2")
    stage = item(r, "BottleneckStage")
    assert stage.detail == "block (resnet.nns)"
    assert stage.snippet == "BottleneckStage(${1:channels}, ${2:blocks})"
    assert stage.documentation.startswith(
        "```nns\nblock BottleneckStage(channels: int, blocks: int, stride: int = 1, groups: int = 1, "
        "base_width: int = 64)\n```\n\nA ResNet stage")
    assert stage.sort < conv.sort  # the document's blocks first


def test_step_prefix_is_replaced_and_existing_parentheses_kept():
    r, text, offset = at(resnet50_at("-> maxpool: ", "Max"))
    assert (r.context, r.start, r.end) == ("step", offset - 3, offset)
    assert item(r, "MaxPool2d").snippet is None  # `MaxPool2d(3, ...)` follows: the name only
    assert item(r, "MaxPool2d").insert == "MaxPool2d"


@pytest.mark.parametrize("marked", [
    "network A {\n    input x: [N, 3, 8, 8]\n    y = x ->\n        ‸\n}",  # a chain continued on the next line
    "network A {\n    input x: [N, 3, 8, 8]\n    y = x -> conv1: ‸\n}",  # after `name:`
    "network A {\n    input x: [N, 3, 8, 8]\n    y = x -> \"c{i}\": ‸\n}",  # after a template name
    "network A {\n    input x: [N, 3, 8, 8]\n    y = x -> [ReLU, ‸\n}",  # an item of a sequence
    "network A {\n    input x: [N, 3, 8, 8]\n    y = x -> f: Sequential { ReLU -> ‸ }\n}",  # in a group
    "network A {\n    input x: [N, 3, 8, 8]\n    y = x -> Sequential {\n        ‸\n}",
])
def test_step_positions(marked):
    r, text, offset = at(marked)
    assert r.context == "step"
    assert len(r.items) == N_LAYER_ITEMS


def test_step_without_analysis_and_a_block_never_offers_itself():
    marked = ("block B(c: int, deep: bool = false) {\n    input x\n    y = x -> Conv2d(c, 3) -> ‸\n    output y\n"
              "\nblock C {\n    input x\n    output x\n}\n")  # B's `}` is missing
    r, _, _ = at(marked)
    assert r.context == "step"
    assert [i.label for i in r.items if i.kind == "block"] == ["C"]
    r, _, _ = at(marked, ctx=None)  # no analysis yet: the registry's layers still come
    assert labels(r)[:3] == ["Conv1d", "Conv2d", "Conv3d"] and len(r.items) == N_LAYER_ITEMS


# ---- parameters and values inside a call --------------------------------------------------------------

def test_half_typed_keyword_in_a_broken_file():
    marked = "network N {\n    input x: [N, 3, 8, 8]\n    y = x -> Conv2d(64, st‸\n    output y\n}\n"
    r, text, offset = at(marked)
    assert (r.context, r.start, r.end) == ("args", offset - 2, offset)
    params = [i for i in r.items if i.kind == "param"]
    assert [i.label for i in params] == ["kernel=", "stride=", "padding=", "groups=", "dilation=", "bias="]
    stride = item(r, "stride=")
    assert (stride.insert, stride.filter, stride.detail, stride.documentation) == (
        "stride=", "stride", "int | (int, int) = 1", "step between windows")
    assert item(r, "kernel=").detail == "int | (int, int) (required)"
    assert [i.sort for i in params] == sorted(i.sort for i in params)  # required first, then in order
    # value names follow the parameters: the compile-time functions (x is a tensor, N no parameter)
    assert [i.label for i in r.items if i.kind == "function"][:3] == ["range", "min", "max"]
    assert [i.label for i in r.items if i.kind == "tensor"] == ["x"]


def test_parameters_given_anywhere_in_the_call_are_left_out():
    marked = "network N {\n    input x: [N, 3, 8, 8]\n    y = x -> Conv2d(64, ‸, bias=false, kernel_size=3)\n}\n"
    r, _, _ = at(marked)
    assert [i.label for i in r.items if i.kind == "param"] == ["stride=", "padding=", "groups=", "dilation="]
    marked = "network N {\n    input x: [N, 3, 8, 8]\n    y = x -> Conv2d(64,\n        kernel=3, ‸\n}\n"
    r, _, _ = at(marked)
    assert [i.label for i in r.items if i.kind == "param"] == ["stride=", "padding=", "groups=", "dilation=", "bias="]


def test_block_call_parameters_and_values():
    marked = resnet50_at("BottleneckStage(128, 4", ", ")
    r, _, _ = at(marked, EXAMPLES / "resnet50.nns")
    assert r.context == "args"
    assert [(i.label, i.detail) for i in r.items if i.kind == "param"] == [
        ("groups=", "groups: int = 1"), ("base_width=", "base_width: int = 64")]  # stride=2 follows
    assert [(i.label, i.detail) for i in r.items if i.kind == "constant"] == [
        ("classes", "parameter classes: int = 1000")]


def test_value_position_offers_choices_and_the_definitions_names():
    marked = ("block W(channels: int, deep: bool = false) {\n    input x\n    let wide = channels * 2\n"
              "    for i in range(2) {\n        x = x -> Conv2d(wide, 3, padding=‸)\n    }\n    output x\n}\n")
    r, _, offset = at(marked)
    assert (r.context, r.start, r.end) == ("value", offset, offset)
    assert labels(r)[:5] == ['"same"', '"valid"', "channels", "deep", "wide"]
    assert [(i.label, i.detail) for i in r.items if i.kind == "constant"] == [
        ("channels", "parameter channels: int"), ("deep", "parameter deep: bool = false"),
        ("wide", "let constant"), ("i", "loop variable")]
    marked = marked.replace("padding=‸)", "bias=‸)")
    assert labels(at(marked)[0])[:2] == ["true", "false"]
    marked = marked.replace("bias=‸)", "stride=wide // ‸)")
    r, _, _ = at(marked)
    assert r.context == "value" and labels(r)[:4] == ["channels", "deep", "wide", "i"]


def test_value_positions_outside_calls():
    body = "network N(k: int = 3) {{\n    input x: [N, 3, 8, 8]\n    {}\n}}\n"
    for line in ("let q = ‸", "if k > ‸", "for i in ‸", "y = x -> ReLU * ‸"):
        r, _, _ = at(body.format(line))
        assert r.context == "value", line
        assert "k" in labels(r) and "range" in labels(r)
    r, _, _ = at("block B(c: int, d: int = ‸) {\n}\n")
    assert r.context == "value" and labels(r)[0] == "c"
    r, _, _ = at("block B(c: ‸) {\n}\n")
    assert (r.context, labels(r)) == ("type", ["int", "float", "bool", "str", "tuple", "any"])
    r, _, _ = at(body.format("if x.‸"))
    assert (r.context, labels(r)) == ("attribute", ["shape", "channels", "features", "rank", "dtype"])


# ---- tensors --------------------------------------------------------------------------------------

TENSORS = """network N {
    input x: [N, 3, 8, 8]
    (a, b) = x -> Split((1, 2), axis=1)
    y = (a, x) -> Concat(axis=1) -> Conv2d(4, 3, padding=1)
    LINE
}
"""


def test_chain_sources_are_the_tensors_bound_above_most_recent_first():
    r, _, offset = at(TENSORS.replace("LINE", "z = ‸"))
    assert (r.context, r.start, r.end) == ("source", offset, offset)
    assert [(i.label, i.detail) for i in r.items] == [
        ("y", "[N, 4, 8, 8]"), ("a", "[N, 1, 8, 8]"), ("b", "[N, 2, 8, 8]"), ("x", "[N, 3, 8, 8]")]
    assert all(i.kind == "tensor" for i in r.items)
    r, _, _ = at(TENSORS.replace("LINE", "z = (y, ‸"))
    assert (r.context, labels(r)) == ("source", ["y", "a", "b", "x"])
    r, _, _ = at(TENSORS.replace("LINE", "output y, ‸"))
    assert (r.context, labels(r)) == ("output", ["a", "b", "x"])
    r, _, offset = at(TENSORS.replace("LINE", "output y, b‸"))
    assert (r.start, r.end) == (offset - 1, offset)


def test_tensors_of_text_not_analysed_yet():
    """A statement typed since the last analysis (here: none at all) still counts."""
    r, _, _ = at(TENSORS.replace("LINE", "w = y -> ReLU\n    output ‸"), ctx=None)
    assert [(i.label, i.detail) for i in r.items] == [("w", ""), ("y", ""), ("a", ""), ("b", ""), ("x", "")]


def test_a_broken_statement_above_still_binds():
    marked = "network N {\n    input x: [N, 3, 8, 8]\n    y = x -> Conv2d(64, st\n    z = ‸\n}\n"
    r, _, _ = at(marked)
    assert labels(r) == ["y", "x"]


# ---- use paths ------------------------------------------------------------------------------------

def test_use_paths(tmp_path):
    (tmp_path / "blocks.nns").write_text("block A {\n    input x\n    output x\n}\n")
    (tmp_path / "model.nns").write_text("")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "more.nns").write_text("")
    (tmp_path / "notes.txt").write_text("")
    doc = tmp_path / "model.nns"
    r, _, offset = at('use "‸\n', doc)
    assert (r.context, r.start, r.end) == ("use", offset, offset)
    assert [(i.label, i.kind) for i in r.items] == [
        ("std/resnet", "file"), ("std/transformer", "file"), ("blocks", "file"), ("lib/", "folder")]
    r, _, offset = at('use "lib/m‸"\n', doc)  # the editor closed the quote
    assert (r.start, r.end, labels(r)) == (offset - 5, offset, ["lib/more"])
    r, _, _ = at('use "std/‸"\n', doc)
    assert labels(r) == ["std/resnet", "std/transformer"]
    r, _, _ = at('use "‸\n', None)  # an unsaved document: the shipped library only
    assert labels(r) == ["std/resnet", "std/transformer"]


# ---- keywords -------------------------------------------------------------------------------------

def test_keywords_at_top_level_and_in_bodies():
    r, _, _ = at("‸")
    assert (r.context, labels(r)) == ("top", ["network", "block", "use"])
    assert item(r, "use").snippet == 'use "${1:std/resnet}"'
    assert item(r, "network").insert == "network "
    r, _, offset = at(TENSORS.replace("LINE", "ou‸"))
    assert (r.context, r.start, r.end) == ("statement", offset - 2, offset)
    assert labels(r) == ["input", "output", "let", "for", "if"]
    assert item(r, "output").snippet == "output ${1:y}"  # the last tensor bound
    assert item(r, "input").snippet == "input ${1:x}: [${2:N, 3, 224, 224}]"
    assert item(r, "for").snippet == "for ${1:i} in range(${2:n}) {\n    $0\n}"
    r, _, _ = at("block B {\n    in‸\n}\n")  # `in` lexes as a keyword: still the word being typed
    assert item(r, "input").snippet == "input ${1:x}"


def test_missing_closing_brace():
    marked = ("block B(c: int) {\n    input x\n    y = x -> Conv2d(c, 3)\n\n"
              "network N {\n    input x: [N, 3, 8, 8]\n    y = x -> B(4)\n    ‸\n}\n")
    r, _, _ = at(marked)
    assert (r.context, labels(r)) == ("statement", ["input", "output", "let", "for", "if"])
    r, _, _ = at(marked.replace("    ‸\n", "    z = ‸\n"))
    assert labels(r) == ["y", "x"]


@pytest.mark.parametrize("marked", [
    "network A {\n    input x: [N, 3, 8, 8]  # a comm‸\n}",
    "network A {\n    input x: [N, 3, 8‸, 8]\n}",
    "network A {\n    \"a doc‸\"\n}",
    "network A‸ {\n}",
    "network A {\n    input x: [N, 3, 8, 8]\n    y = x -> ReLU ‸\n}",
    "network A {\n    input x: [N, 3, 8, 8]\n    (a, ‸) = x -> Split(2)\n}",
])
def test_nothing_to_offer(marked):
    r, _, _ = at(marked)
    assert (r.context, r.items) == ("none", [])


# ---- signature help -----------------------------------------------------------------------------------

CONV2D = ("Conv2d(out_channels: int, kernel: int | (int, int), stride = 1, padding = 0, groups = 1, dilation = 1, "
          "bias = true)")


def call(line: str) -> str:
    return f"network N(k: int = 3) {{\n    input x: [N, 3, 8, 8]\n    y = x -> {line}\n    output y\n}}\n"


@pytest.mark.parametrize("line, active", [
    ("Conv2d(‸", 0), ("Conv2d(64, ‸", 1), ("Conv2d(64, st‸", 2), ("Conv2d(64, 3, padding=‸", 3),
    ("Conv2d(64, kernel_size=‸", 1), ("Conv2d(64, (3, ‸", 1), ("Conv2d(64, 3, 1, 0, 1, 1, true, ‸", None),
    ("Conv2d(64, bias=false, ‸", None), ("ReLU -> Conv2d(k * ‸, 3) -> ReLU", 0),
])
def test_signature_of_a_layer(line, active):
    s = sig(call(line))
    assert (s.label, s.active) == (CONV2D, active)
    assert [s.label[a:b] for a, b in (p.label for p in s.parameters)] == [
        "out_channels: int", "kernel: int | (int, int)", "stride = 1", "padding = 0", "groups = 1", "dilation = 1",
        "bias = true"]
    assert s.parameters[2].documentation == "`int | (int, int)`, default `1`, by keyword only: step between windows"
    assert s.parameters[1].documentation == "`int | (int, int)` (also kernel_size): kernel size"
    assert s.documentation == registry.get("Conv2d").doc


def test_signature_of_a_block():
    s = sig(resnet50_at("BottleneckStage(128, ", ""), EXAMPLES / "resnet50.nns")
    assert s.label == ("BottleneckStage(channels: int, blocks: int, stride: int = 1, groups: int = 1, "
                       "base_width: int = 64)")
    assert s.active == 1
    assert s.documentation.startswith("A ResNet stage")
    assert [s.label[a:b] for a, b in (p.label for p in s.parameters)][2] == "stride: int = 1"


@pytest.mark.parametrize("line", ["ReLU‸", "Conv2d(64, 3)‸", "ReLU -> Mystery(‸"])
def test_no_signature_outside_a_known_call(line):
    assert sig(call(line)) is None
    assert sig("network N {\n    let a = range(‸\n}\n") is None


# ---- robustness and speed ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["resnet50.nns", "lenet5.nns", "unet.nns", "bert_encoder.nns"])
def test_every_position_of_an_example_and_its_prefixes(name):
    """The inner functions (not the never-raise wrappers) on every offset, of the text and of the text
    cut at that offset (what an editor holds while the file is typed from the top)."""
    path = EXAMPLES / name
    text = path.read_text()
    ctx = Context(analyze(text, str(path)))
    for offset in range(len(text) + 1):
        c._complete(ctx, text, offset, str(path))
        sg._signature_help(ctx, text, offset)
        c._complete(ctx, text[:offset], offset, str(path))


def test_completion_latency_on_resnet50():
    path = EXAMPLES / "resnet50.nns"
    text = path.read_text()
    ctx = Context(analyze(text, str(path)))
    c.complete(ctx, text, 0, str(path))  # warm: the registry's items are built once
    times = []
    for offset in range(0, len(text) + 1):
        t0 = time.perf_counter()
        c.complete(ctx, text, offset, str(path))
        times.append(time.perf_counter() - t0)
    times.sort()
    assert times[len(times) // 2] < 0.020 and times[int(len(times) * 0.95)] < 0.020
