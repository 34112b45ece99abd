"""Every finding of the fuzzing campaigns (tests/fuzz, benchmarks/fuzz.md), minimised, kept as a test.

Times are CPU seconds (time.process_time) against ten times the issue's budget (0.3 s for a file under
20 KB), so a loaded machine does not make them flaky; where the cause is a count (work units, tensors), the
count is asserted too.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from nnlang.analyze import analyze

ROOT = Path(__file__).resolve().parent.parent
LIMIT_S = 3.0  # ten times the budget


def timed(text: str, path=None):
    t0 = time.process_time()
    a = analyze(text, path)
    return a, time.process_time() - t0


def codes(a) -> set:
    return {d.code for d in a.diagnostics}


@pytest.fixture(scope="module", autouse=True)
def _warm_up():
    analyze("network A {\n    input x: [N, 4]\n    output x\n}\n")


# ---- lowering: work the statement counter did not see ------------------------------------------------

def test_layer_outputs_count_as_work():
    """Seed 1, input 88 (generated): a block holding Split(933) called 2,237 times made 2 million tensors,
    5.5 s of CPU for 851 bytes; each result now costs work before it is made."""
    text = ("block B {\n    input x\n    (a, b) = x -> Split(933)\n    output x\n}\n"
            "network N {\n    input x: [N, 933]\n    y = x -> B * 2237 -> B * 567\n    output y\n}\n")
    a, dt = timed(text)
    assert "E503" in codes(a)
    assert len(a.graph.tensors) < 200_000
    assert dt < LIMIT_S


def test_a_split_with_more_outputs_than_allowed_is_refused_before_its_shape_rule():
    text = "network N {\n    input x: [N, 8]\n    (a, b) = x -> Split(10000000000)\n    output a\n}\n"
    a, dt = timed(text)
    assert "E503" in codes(a) or "E104" in codes(a) or "E105" in codes(a)
    assert dt < LIMIT_S


@pytest.mark.parametrize("body", [
    # a 200-term sum in a loop of 100,000: 12.5 s for 903 bytes
    "    for i in range(100000) {\n        let a = i" + " + i" * 200 + "\n    }\n",
    # len(range(100000)) in a loop of 100,000: 10^10 elements built, hours
    "    for i in range(100000) {\n        let a = len(range(100000))\n    }\n",
    # a 200-term layer argument in a loop of 10,000: 1.3 s
    "    for i in range(10000) {\n        y = x -> Linear(1" + " + 1" * 200 + ")\n    }\n",
    # tuples compared element by element
    "    let t = range(100000)\n    for i in range(100000) {\n        let b = t == t\n    }\n",
], ids=["sum", "range", "layer_argument", "tuple_compare"])
def test_expression_evaluation_counts_as_work(body):
    text = "network N {\n    input x: [N, 4]\n" + body + "    output x\n}\n"
    a, dt = timed(text)
    assert "E503" in codes(a)
    assert dt < LIMIT_S


def test_a_parameter_default_is_under_the_work_limit_too():
    """Defaults are evaluated before the body: the work limit's stop must be caught there as well."""
    text = "network N(a = " + " + ".join(["len(range(100000))"] * 60) + ") {\n    input x: [N, 4]\n    output x\n}\n"
    a, dt = timed(text)
    assert "E503" in codes(a)
    assert dt < LIMIT_S


def test_a_loop_of_failing_statements_is_bounded():
    """Seed 12, input 2216 (a mutation of a test snippet): `input` misspelt, so every iteration of a loop of
    100,000 reported an undefined source (0.53 s); reports and assignments now cost work."""
    text = ("network A {\n \u0269nput x: [N, 4]\n for i in range(100000) { y = x -> Conv2d(-2517401745596863513034710"
            "3551742504475206716915511136976519765832296161474698137, k) }\x08  z = x -> ReLU\n output z\n}\n")
    a, dt = timed(text)
    assert dt < LIMIT_S
    assert "E002" in codes(a)


def test_a_written_out_network_may_cost_what_it_costs():
    """The limit grows with the definition's text: 8,000 written-out layers (more than the base limit allows
    through a loop) analyse without E503."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from generate import residual_network
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    a = analyze(residual_network(8000))
    assert a.diagnostics == [] and len(a.graph.nodes) == 8000


# ---- evaluation: Python errors that were not diagnostics ------------------------------------------------

@pytest.mark.parametrize("expr", ['("a",) >= (1,)', "(x,) > (x,)", "((1,), 2) > (1, 2)", "(1, (2,)) <= (1, 3)"])
def test_tuples_whose_items_cannot_be_ordered_are_an_error_not_a_crash(expr):
    """Seeds 101 (inputs 9473, 24285) and 102 (6481), generated: tuple ordering compares items, and a str
    with an int, two tensors, or a tuple with a bool raised TypeError out of analyze()."""
    a = analyze(f"network N {{\n    input x: [N, 4]\n    let b = {expr}\n    output x\n}}\n")
    assert [(d.code, d.message) for d in a.errors] == [("E501", "cannot compare tuples whose items cannot be compared")]


@pytest.mark.parametrize("text,message", [
    # seed 103, input 7314 (generated): `Unsqueeze(2) * 10000` grew the rank with every layer, and each layer
    # copies its input's shape: 0.56 s for 2.2 KB (quadratic in the repeat count)
    ("network N {\n    input x: [N, 4]\n    y = x -> Unsqueeze(2) * 10000 -> ReLU\n    output y\n}\n",
     "Unsqueeze gives a tensor of 65 dims; at most 64 are supported"),
    ("network N {\n    input x: [" + ", ".join(["1"] * 5000) + "]\n    y = x -> ReLU * 4000\n    output y\n}\n",
     "5,000 dims; tensors of at most 64 dims are supported"),
], ids=["growing", "declared"])
def test_the_rank_of_a_tensor_is_bounded(text, message):
    a, dt = timed(text)
    assert [d.message for d in a.errors] == [message]
    assert dt < LIMIT_S


def test_a_use_path_with_a_lone_surrogate():
    """Seed 106, input 15260 (a unicode mutation): `use "std\\udfff/resnet"` raised UnicodeEncodeError from
    os.listdir while looking for a close file name."""
    a = analyze('use "std\udfff/resnet"\n\nnetwork N {\n    input x: [N, 4]\n    output x\n}\n', "/tmp/n.nns")
    assert [d.code for d in a.errors] == ["E401"]


def test_the_weights_of_a_layer_count_as_work():
    """Seed 106, input 24916 (generated): GRU(512, num_layers=64) * 2045 -- 256 weights each: 0.75 s for 292
    bytes."""
    text = ("network N {\n    input x: [1, 1, 3]\n    out = x -> GRU(512, num_layers=64) * 2045\n"
            "    output out\n}\n")
    a, dt = timed(text)
    assert "E503" in codes(a)
    assert dt < LIMIT_S


# ---- the language server: documents with old-Mac line ends (a lone \r) -------------------------------------

def test_positions_in_a_document_with_lone_cr_line_ends():
    """Seeds 103 and 104 (the document model): LineMap counted lines at \\n only, so in a text with a lone \\r
    every position after it (hover, definition, inlay hints, folding ranges) was on the wrong line."""
    from lsprotocol import types as t
    from nnlang_lsp.convert import LineMap

    text = "ab\rcd\r\nef\ng𝑊h"
    lines = LineMap(text, "utf-16")
    assert lines.offset(t.Position(line=1, character=1)) == 4
    assert lines.offset(t.Position(line=2, character=9)) == 9  # clamped to the line's end
    assert lines.offset(t.Position(line=3, character=3)) == 12
    assert lines.position_at(11) == t.Position(line=3, character=1)
    assert lines.position(4, 3) == t.Position(line=3, character=3)  # after the astral character: 2 units
    assert len(lines.starts) == 4


def test_formatting_edits_in_a_document_with_lone_cr_line_ends():
    """The formatter's line edits count lines at \\n: in a text with lone \\r line ends they are one edit of
    the whole text, which a client applies to get `nnlang fmt`'s result."""
    from nnlang_lsp.features.formatting import _edits
    from nnlang_lsp.workspace import Document
    from nnlang.syntax.format import format_edits, format_text

    text = "network A {\r  input x: [N, 4]\r      y = x -> ReLU\r  output y\r}\r"
    doc = Document("file:///a.nns", 1, text, "utf-16")
    (edit,) = _edits(doc, format_edits(text))
    assert (edit.range.start.line, edit.range.start.character, edit.range.end.line) == (0, 0, 6)
    assert edit.new_text == format_text(text).text
