"""Cooperative cancellation of an analysis (issue 19: the language server stops an analysis a newer edit made
stale). A CancelToken is polled while parsing, between pieces, networks and every CANCEL_EVERY work units of
lowering; once set, the analysis raises Cancelled at the next poll. These tests set the token at a chosen poll
(no timing)."""

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
    parsing = SetAtPoll(10 ** 9)
    parse(LOOP, parsing)  # the parser's own polls (lexing, the definition, its statements) come first
    for at in (3, 5, 9):
        at += parsing.polls
        token = SetAtPoll(at)
        with pytest.raises(Cancelled) as stopped:
            analyze(LOOP, cancel=token)
        assert token.polls == at  # stopped at the very poll that saw the token set: nothing polled after
        # after the parse's, two polls come before lowering (before the static checks, before the network);
        # each later one follows at most CANCEL_EVERY units (plus one charge) after the previous one
        assert 0 < stopped.value.work <= (at - 2 - parsing.polls) * CANCEL_EVERY + LAYER_WORK
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


def written_out(networks: int, lines: int = 40) -> str:
    """Networks written out in full, one layer chain per line: parsing them is the cost."""
    return "".join(f"network W{k} {{\n    input x: [N, 3, 32, 32]\n" + "".join(
        f"    y{j} = {'x' if j == 0 else f'y{j - 1}'} -> Conv2d(16, 3, padding=1) -> BatchNorm2d -> ReLU\n"
        for j in range(lines)) + f"    output y{lines - 1}\n}}\n\n" for k in range(networks))


def test_parsing_polls_the_token_every_few_thousand_tokens_and_stops_where_it_is_set():
    """Parsing 1 MB takes seconds (benchmarks/fuzz.md): the lexer, the parser and the tree's conversion poll the
    token (every 4,096 tokens; per definition and per 256 statements), so a stale parse stops early."""
    from nnlang.syntax.parser import CANCEL_EVERY_TOKENS

    text = written_out(30)  # 80 KB, ~24,000 tokens
    counting = SetAtPoll(10 ** 9)  # never set: counts the polls
    polled = parse(text, counting)
    plain = parse(text)
    assert polled.diagnostics == plain.diagnostics == []
    assert [d.name.id for d in polled.module.definitions] == [d.name.id for d in plain.module.definitions]
    assert polled.module.definitions[-1].span == plain.module.definitions[-1].span
    tokens = len(text.split())  # fewer than the lexer's tokens
    assert counting.polls >= 2 * (tokens // CANCEL_EVERY_TOKENS) + 30  # lexing, parsing; each definition
    for at in (1, 3, counting.polls // 2, counting.polls - 1):
        token = SetAtPoll(at)
        with pytest.raises(Cancelled):
            parse(text, token)
        assert token.polls == at  # stopped at the poll that saw it set
    # the language server's path for a text it cannot cut into pieces (an unclosed brace): a whole parse
    inc = IncrementalAnalyzer()
    broken = text + "network Open {\n"
    with pytest.raises(Cancelled):
        inc.analyze(broken, cancel=SetAtPoll(5))
    assert signature(inc.analyze(broken)) == signature(analyze(broken)) and inc.whole
