"""The work budget is per file (issue 19): the networks of a file spend one budget in file order, those past it
get one E503 each instead of analysis, and the incremental analyzer replays the budget exactly (after any edit,
what a fresh analysis of the same text gives). Timings are in benchmarks/fuzz.md, not asserted here."""

from __future__ import annotations

import random

from test_incremental import signature

from nnlang.analyze import analyze
from nnlang.incremental import IncrementalAnalyzer
from nnlang.ir.work import MAX_WORK, WORK_PER_BYTE


def bombs(count: int, repeat: int = 10_000) -> str:
    """The open finding of benchmarks/fuzz.md: many small networks, each asking for too much work."""
    return "".join(f"network N{k} {{\n  input x: [N, 4]\n  y = x -> ReLU * {repeat}\n  output y\n}}\n"
                   for k in range(count))


def e503_by_line(a) -> dict:
    return {d.span.line: d for d in a.diagnostics if d.code == "E503"}


def test_285_small_networks_in_20_kb_spend_one_budget_and_the_rest_get_one_e503_each():
    text = bombs(285)
    assert len(text) == 19_840
    a = analyze(text)
    assert {d.code for d in a.diagnostics} == {"E503"}
    names = [d.name for d in a.module.definitions]
    assert len(names) == 285
    found = e503_by_line(a)
    assert len(found) == len(a.diagnostics) == 285  # one per network, none twice
    # The first network is cut by its own limit, the second by what is left of the file's budget ...
    assert "(loops and repetitions too large?)" in found[3].message and found[3].span.column == 12
    assert "what is left of this file's work budget" in found[8].message
    # ... and every one after that is not analysed: one E503 at its name, and an empty graph.
    for name in names[2:]:
        d = next(x for x in a.diagnostics if x.span.line == name.span.line)
        assert d.span == name.span
        assert d.message.startswith(f"network {name.id} is not analysed: the networks above it use all of this "
                                    f"file's work budget")
        assert a.graphs[name.id].nodes == []
    assert IncrementalAnalyzer().analyze(text).diagnostics == a.diagnostics


def test_one_network_alone_keeps_its_own_limit():
    # A file's budget is never below the limit of a network that is alone in it: one bomb reports as before.
    one = bombs(1)
    (d,) = analyze(one).diagnostics
    assert d.code == "E503" and d.message.endswith("steps (loops and repetitions too large?)")
    limit = int(d.message.split("more than ")[1].split(" ")[0].replace(",", ""))
    assert limit == MAX_WORK + WORK_PER_BYTE * (len(one) - 1)  # the definition, without the final line end


def test_networks_within_the_budget_are_analysed_in_full():
    small = bombs(30, repeat=100)  # 30 x 100 layers: far below the budget
    a = analyze(small)
    assert a.diagnostics == [] and all(len(g.nodes) == 100 for g in a.graphs.values())


PAD = "# " + "x" * 50_000 + "\n"  # 300,000 units more in the file's budget: room for several networks


def net(name: str, repeat: int) -> str:
    return f"network {name} {{\n  input x: [N, 4]\n  y = x -> ReLU * {repeat}\n  output y\n}}\n"


def mixed() -> str:
    """Networks that finish, one cut by its own limit, more that finish, one cut by what is left of the file's
    budget, two not analysed: every way a network's spending can end."""
    return PAD + net("A", 300) + net("B", 200) + net("Bomb", 10_000) + net("C", 900) + net("D", 4000) \
        + net("E", 4500) + net("F", 2000) + net("G", 2) + "\n# the end\n"


def messages_by_network(a) -> dict:
    found: dict = {}
    for d in a.diagnostics:
        owner = next(x.name.id for x in a.module.definitions if x.span.start <= d.span.start < x.span.end)
        found.setdefault(owner, []).append(d.message)
    return found


def test_mixed_file_every_kind_of_end():
    a = analyze(mixed())
    found = messages_by_network(a)
    assert list(found) == ["Bomb", "E", "F", "G"] and all(len(m) == 1 for m in found.values())
    assert "loops and repetitions too large" in found["Bomb"][0]
    assert "what is left of this file's work budget" in found["E"][0]
    assert all("is not analysed" in found[k][0] for k in "FG")
    assert [len(a.graphs[k].nodes) for k in "ABCD"] == [300, 200, 900, 4000]
    assert a.graphs["F"].nodes == a.graphs["G"].nodes == []


EDITS = ["1", "0", " ", "\n", "# c\n", "-> ReLU ", "00", "* 2", "x"]


def test_random_edits_give_what_a_fresh_analysis_gives_while_the_budget_binds():
    """Edits change the file's size (so its budget), what the networks above a network spend, and the networks
    themselves: the incremental analysis must still equal a fresh one, and reuse what it can."""
    rng = random.Random(19)
    inc = IncrementalAnalyzer()
    base = text = mixed()
    reused = 0
    for step in range(20):
        if step:
            k = rng.randrange(len(PAD), len(base) + 1)  # in the networks, not the padding comment
            if rng.random() < 0.7:
                text = base[:k] + rng.choice(EDITS) + base[k:]
            else:
                text = base[:k] + base[k + rng.randrange(1, 3):]
        full = analyze(text)
        got = inc.analyze(text)
        assert signature(got) == signature(full), f"step {step}"
        reused += inc.networks_reused
        if all(d.code == "E503" for d in full.errors) and rng.random() < 0.6:
            base = text  # keep an edit that broke nothing: later edits move what is after it
    assert reused > 30  # replaying the budget still lets most networks be reused


def test_edits_that_move_the_budget_across_networks():
    """The edits that matter, made on purpose: a network above spends less (those below are lowered again and
    now fit) or more (those below are cut or skipped), the file grows (so does its budget), a network goes."""
    inc = IncrementalAnalyzer()
    text = mixed()
    defused = text.replace("ReLU * 10000", "ReLU * 10")
    heavier = text.replace("ReLU * 900", "ReLU * 9000")
    squeezed = heavier.replace("ReLU * 300", "ReLU * 3000")  # less is left for C than its own limit
    steps = [text, defused, text, heavier, squeezed, heavier,
             text + "# " + "x" * 30_000 + "\n",  # 180,000 units more for everyone
             text.replace("network A", "# network A"),  # a syntax error above all of them
             text.replace(net("A", 300), ""),  # a network less: 12,000 units more for those after it
             text]
    for k, t in enumerate(steps):
        assert signature(inc.analyze(t)) == signature(analyze(t)), f"step {k}"
    assert analyze(defused).diagnostics == []  # all fit once the bomb is gone
    found = messages_by_network(analyze(heavier))
    assert list(found) == ["Bomb", "C", "D", "E", "F", "G"]
    assert "what is left" in found["D"][0] and "is not analysed" in found["E"][0]
    assert "what is left" in messages_by_network(analyze(squeezed))["C"][0]
