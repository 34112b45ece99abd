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
