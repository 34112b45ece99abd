"""Cooperative cancellation of an analysis (issue 19: the language server stops an analysis a newer edit made
stale). A CancelToken is polled between pieces, networks and every CANCEL_EVERY work units of lowering; once
set, the analysis raises Cancelled at the next poll. These tests set the token at a chosen poll (no timing)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from nnlang.analyze import Cancelled, CancelToken, analyze
from nnlang.diagnostics import DiagnosticSink
from nnlang.incremental import IncrementalAnalyzer
from nnlang.ir.lower import Lowerer
from nnlang.ir.work import CANCEL_EVERY, LAYER_WORK
from nnlang.syntax import parse

from test_incremental import many_definitions, signature

ROOT = Path(__file__).resolve().parent.parent

LOOP = ("network Loop {\n  input x: [N, 8]\n  let s = 0\n  for i in range(20000) { let s = s + i * 2 }\n"
        "  y = x -> Linear(4) -> ReLU\n  output y\n}\n")


class SetAtPoll(CancelToken):
    """A token that becomes set at its `at`-th poll (1-based) and counts every poll."""

    def __init__(self, at: int):
        super().__init__()
        self.at = at
        self.polls = 0

    @property
    def cancelled(self) -> bool:
        self.polls += 1
        return self.polls >= self.at

    @cancelled.setter
    def cancelled(self, value) -> None:
        pass


def _full_work(text: str) -> int:
    (defn,) = [d for d in parse(text).module.definitions if d.kind == "network"]
    lowerer = Lowerer({}, DiagnosticSink())
    lowerer.lower_network(defn)
    return lowerer.work


def test_a_token_set_mid_lowering_stops_it_at_the_next_poll_within_bounded_work():
    assert not analyze(LOOP).diagnostics  # the loop is under the work limit: a real, long analysis
    total = _full_work(LOOP)
    assert total > 20 * CANCEL_EVERY
    for at in (3, 5, 9):
        token = SetAtPoll(at)
        with pytest.raises(Cancelled) as stopped:
            analyze(LOOP, cancel=token)
        assert token.polls == at  # stopped at the very poll that saw the token set: nothing polled after
        # two polls come before lowering (before the static checks, before the network); each later one
        # follows at most CANCEL_EVERY units (plus one charge) after the previous one
        assert 0 < stopped.value.work <= (at - 2) * CANCEL_EVERY + LAYER_WORK
        assert stopped.value.work < total / 4


def test_without_a_token_or_with_one_never_set_the_analysis_is_unchanged():
    text = many_definitions()
    plain = analyze(text)
    never = analyze(text, cancel=CancelToken())
    assert signature(never) == signature(plain)
    assert any(d.code == "E503" for d in analyze(LOOP.replace("20000", "2000000")).diagnostics)
    # the work limit is still reported at the same place with a token that is polled on the way
    bounded = analyze(LOOP.replace("20000", "2000000"), cancel=CancelToken())
    assert [(d.code, d.span) for d in bounded.diagnostics] == \
        [(d.code, d.span) for d in analyze(LOOP.replace("20000", "2000000")).diagnostics]


def test_a_set_token_stops_before_any_lowering():
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        analyze(LOOP, cancel=token)
    with pytest.raises(Cancelled):
        IncrementalAnalyzer().analyze(LOOP, cancel=token)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_incremental_analyzer_stays_exact_after_cancelled_runs(seed):
    """Runs cancelled at random polls (while parsing pieces, checking or lowering) between edits: every run
    that completes gives exactly what a fresh analysis of its text gives."""
    rng = random.Random(seed)
    base = many_definitions()
    lines = base.split("\n")
    inc = IncrementalAnalyzer()
    inc.analyze(base)
    cancelled = completed = 0
    for step in range(12):
        k = rng.randrange(len(lines))
        edited = list(lines)
        if rng.random() < 0.5:
            edited.insert(k, rng.choice(["", "# a comment", "    -> ReLU", "network Extra {\n  input x: [N, 4]\n"
                                         "  y = x -> ReLU\n  output y\n}"]))
        else:
            del edited[k]
        lines = edited
        text = "\n".join(lines)
        try:
            inc.analyze(text, cancel=SetAtPoll(rng.randrange(1, 8)))
            completed += 1
        except Cancelled:
            cancelled += 1
        if step % 3 == 2:  # a run that completes, compared with a fresh analysis
            assert signature(inc.analyze(text)) == signature(analyze(text))
    assert cancelled >= 4
