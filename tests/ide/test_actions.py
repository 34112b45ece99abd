"""nnlang.ide.actions: each quick fix's edits applied to the text, and the text analysed again without
the diagnostic it fixes."""

from __future__ import annotations

from pathlib import Path

import pytest

from nnlang.analyze import analyze
from nnlang.ide.actions import Edit, apply, quick_fixes
from nnlang.ide.hover import Context

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def fixes_of(text: str, code: str, nth: int = 0):
    """(the analysis, the nth diagnostic with the code, its fixes)."""
    a = analyze(text)
    d = [x for x in a.diagnostics if x.code == code][nth]
    return a, d, quick_fixes(Context(a), [(d.code, d.span.start, d.span.end, d.message)])


def count(text: str, code: str) -> int:
    return sum(1 for d in analyze(text).diagnostics if d.code == code)


TYPOS = """block W(channels: int, factor: flot = 1.5) {
    input x
    let wide = chanels * 2
    y = x -> Conv2d(wide, 1)
    output y
}

network N {
    input x: [N, 3, 32, 32]
    y = x -> Relu -> Conv2d(8, 3, strid=2) -> W(8)
    z = yy -> ReLU
    output z
}
"""


@pytest.mark.parametrize("code, old, new", [
    ("E108", "flot", "float"), ("E208", "chanels", "channels"), ("E101", "Relu", "ReLU"),
    ("E102", "strid", "stride"), ("E201", "yy", "y"),
])
def test_did_you_mean(code, old, new):
    a, d, fixes = fixes_of(TYPOS, code)
    assert d.suggestions == (new,)
    assert [(f.title, f.preferred, f.edits) for f in fixes] == [
        (f"Replace '{old}' with '{new}'", True, [Edit(d.span.start, d.span.end, new)])]
    assert TYPOS[d.span.start:d.span.end] == old
    fixed = apply(TYPOS, fixes[0].edits)
    assert count(fixed, code) == 0


def test_several_suggestions_the_closest_preferred():
    text = "network N {\n    input x: [N, 3, 8, 8]\n    y = x -> BatchNorm(3)\n    output y\n}\n"
    a, d, fixes = fixes_of(text, "E101")
    assert len(d.suggestions) > 1
    assert [f.title for f in fixes] == [f"Replace 'BatchNorm' with '{s}'" for s in d.suggestions]
    assert [f.preferred for f in fixes] == [True] + [False] * (len(fixes) - 1)
    assert "did you mean" in d.message  # the message is unchanged


FLAT = """network N {
    input x: [N, 3, 32, 32]
    y = x -> Conv2d(8, 3) -> bn: BatchNorm1d
    z = x -> Conv2d(8, 3) -> [ReLU, BatchNorm1d] -> Flatten
    w = x -> Conv2d(8, 3) -> LSTM(16)
    output y, z, w
}
"""


def test_flatten_before_a_layer_that_takes_features():
    a, d, fixes = fixes_of(FLAT, "E302", 0)
    assert d.message.startswith("BatchNorm1d expects a rank-2 or 3 input")
    assert [(f.title, f.preferred) for f in fixes] == [
        ("Insert Flatten before BatchNorm1d: [N, 8, 30, 30] -> [N, 7200]", True)]
    start = FLAT.index("bn: BatchNorm1d")
    assert fixes[0].edits == [Edit(start, start, "Flatten -> ")]
    fixed = apply(FLAT, fixes[0].edits)
    assert "-> Flatten -> bn: BatchNorm1d" in fixed
    b = analyze(fixed)
    assert [x.span.line for x in b.diagnostics if x.code == "E302"] == [4, 5]  # line 3 is fixed
    assert [nd.op for nd in b.graphs["N"].nodes[:3]] == ["Conv2d", "Flatten", "BatchNorm1d"]


def test_flatten_in_a_sequence():
    a, d, fixes = fixes_of(FLAT, "E302", 1)
    start = FLAT.index("BatchNorm1d]")
    assert fixes[0].edits == [Edit(start, start, "Flatten, ")]
    assert "[ReLU, Flatten, BatchNorm1d]" in apply(FLAT, fixes[0].edits)
    assert [x.span.line for x in analyze(apply(FLAT, fixes[0].edits)).diagnostics if x.code == "E302"] == [3, 5]


def test_no_flatten_for_a_layer_that_reads_rank_2_as_a_sequence():
    a, d, fixes = fixes_of(FLAT, "E302", 2)
    assert d.message.startswith("LSTM expects")
    assert fixes == []


UNUSED = """network N {
    input x: [N, 3, 8, 8]
    (a, b) = x -> Split((1, 2), axis=1)
    c = a -> ReLU  # a comment goes with it
    d = x
        -> Conv2d(4, 3)
        -> ReLU
    output b
}
"""


def test_remove_an_unused_tensor():
    a, d, fixes = fixes_of(UNUSED, "W204", 0)
    assert UNUSED[d.span.start:d.span.end] == "c"
    assert [(f.title, f.preferred) for f in fixes] == [("Remove the unused tensor 'c' (delete its statement)", True)]
    fixed = apply(UNUSED, fixes[0].edits)
    assert fixed == UNUSED.replace("    c = a -> ReLU  # a comment goes with it\n", "")
    assert "'c'" not in " ".join(x.message for x in analyze(fixed).diagnostics)


def test_remove_a_chain_over_several_lines():
    a, d, fixes = fixes_of(UNUSED, "W204", 1)
    assert UNUSED[d.span.start:d.span.end] == "d"
    fixed = apply(UNUSED, fixes[0].edits)
    assert fixed == UNUSED.replace("    d = x\n        -> Conv2d(4, 3)\n        -> ReLU\n", "")
    assert [x.message for x in analyze(fixed).diagnostics] == ["tensor 'c' is never used"]


def test_no_removal_of_one_target_of_several():
    a, d, fixes = fixes_of(UNUSED.replace("output b", "output c"), "W204", 0)
    assert UNUSED[d.span.start:d.span.end] == "b"
    assert fixes == []


NO_OUTPUT = """block B(c: int) {
    input x
    y = x -> Conv2d(c, 3)
    if c > 2 {
        y = y -> ReLU
    }
}

network N {
    input x: [N, 3, 8, 8]
    (a, b) = x -> Split(2, axis=1) }
"""


def test_add_the_missing_output():
    a, d, fixes = fixes_of(NO_OUTPUT, "E207", 0)
    assert d.message == "block B has no output: add `output y` (its last unused tensor)"
    assert [(f.title, f.preferred) for f in fixes] == [("Add `output y` to block B", True)]
    at = NO_OUTPUT.index("}\n\nnetwork")
    assert fixes[0].edits == [Edit(at, at, "    output y\n")]
    fixed = apply(NO_OUTPUT, fixes[0].edits)
    assert "        y = y -> ReLU\n    }\n    output y\n}\n" in fixed
    assert [x.message for x in analyze(fixed).diagnostics if x.code == "E207"] == [
        "network N has no output: add `output b` (its last unused tensor)"]


def test_add_output_before_a_brace_on_the_same_line():
    a, d, fixes = fixes_of(NO_OUTPUT, "E207", 1)
    assert fixes[0].title == "Add `output b` to network N"
    fixed = apply(NO_OUTPUT, fixes[0].edits)
    assert fixed.endswith("    (a, b) = x -> Split(2, axis=1) \n    output b\n}\n")
    assert count(fixed, "E207") == 1  # B's


def test_no_input_is_not_fixed_by_an_output():
    text = "network N {\n    output y\n}\n"
    a = analyze(text)
    d = next(x for x in a.diagnostics if x.code == "E207")
    assert quick_fixes(Context(a), [(d.code, d.span.start, d.span.end)]) == []


def test_requests_that_match_nothing():
    a = analyze(TYPOS)
    ctx = Context(a)
    d = next(x for x in a.diagnostics if x.code == "E101")
    assert quick_fixes(ctx, [("E101", d.span.start, d.span.end + 1), ("E999", 0, 1), ("E102",)]) == []
    fixes = quick_fixes(ctx, [("E999", 0, 1), (d.code, d.span.start, d.span.end)])
    assert [f.request for f in fixes] == [1]


def test_examples_have_nothing_to_fix():
    for path in sorted(EXAMPLES.glob("*.nns")):
        a = analyze(path.read_text(), str(path))
        assert quick_fixes(Context(a), [(d.code, d.span.start, d.span.end) for d in a.diagnostics]) == []


def test_no_output_added_to_a_definition_with_a_syntax_error():
    """The parser drops a broken statement, so the output may be in what it dropped."""
    text = "network N {\n    input x: [N, 3, 8, 8]\n    y = x -> Conv2d(8,, 3)\n    z = x -> ReLU\n}\n"
    a, d, fixes = fixes_of(text, "E207")
    assert any(x.code == "E001" for x in a.diagnostics)
    assert fixes == []
