"""IncrementalAnalyzer gives exactly what analyze() gives, after any edit -- and reuses what it can."""

from __future__ import annotations

import random
import zlib
import re
from pathlib import Path

import pytest

from nnlang.analyze import analyze
from nnlang.incremental import IncrementalAnalyzer, split_pieces

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.nns"))
SNIPPETS = ["1", "0", "x", " ", "\n", "-> ReLU ", ",", "(", ")", "{", "}", "# c", "\n    ", "Conv2d(8, 3)", '"',
            "network", "block B2 {\n    input x\n    output x\n}\n", "\t", "é", "🙂"]


def signature(a):
    """Everything observable of an analysis: diagnostics and every graph, places included."""
    diags = [(d.code, d.span, d.message, d.severity, tuple((r.span, r.message, r.path) for r in d.related), d.path,
              d.suggestions) for d in a.diagnostics]
    graphs = {}
    for name, g in a.graphs.items():
        graphs[name] = (
            [(x.path, x.op, repr(x.attrs), x.site, x.instantiation, tuple(x.inputs), tuple(x.outputs), x.params, x.macs)
             for x in g.nodes],
            [(t.site, t.type, t.producer, tuple(t.bound)) for t in g.tensors],
            [(s.path, s.kind, s.type_name, s.site, s.definition) for s in g.root.scopes()],
            g.inputs, g.outputs, repr(g.params))
    return diags, graphs, a.network, [(d.kind, d.name.id, d.span) for d in a.module.definitions]


# Left out of the many-definitions file: the examples whose analysis alone takes 20-55 ms (the file is analysed
# twice per edit; the rest still make ~1,100 lines and 57 definitions).
HEAVY = {"inception_v4", "densenet121", "inception_v3", "efficientnet_b0", "resnet101"}


def many_definitions() -> str:
    """Every example but the HEAVY ones once, its networks and blocks renamed apart: one file of ~1,100 lines."""
    uses, bodies = set(), []
    for k, path in enumerate(p for p in EXAMPLES if p.stem not in HEAVY):
        text = path.read_text()
        for line in text.splitlines():
            if line.startswith("use "):
                uses.add(line)
        body = "\n".join(line for line in text.splitlines() if not line.startswith("use "))
        a = analyze(text, str(path))
        for d in a.module.definitions:
            body = re.sub(rf"\b{d.name.id}\b", f"{d.name.id}_{k}", body)
        bodies.append(body)
    return "\n".join(sorted(uses)) + "\n\n" + "\n\n".join(bodies)


def run_edits(text: str, path: str, seed: int, steps: int):
    rng = random.Random(seed)
    inc = IncrementalAnalyzer()
    base = text
    incremental_runs = 0
    for step in range(steps):
        if step:
            k = rng.randrange(len(base) + 1)
            if rng.random() < 0.6:
                text = base[:k] + rng.choice(SNIPPETS) + base[k:]
            else:
                text = base[:k] + base[k + rng.randrange(1, 3):]
        full = analyze(text, path)
        got = inc.analyze(text, path)
        assert signature(got) == signature(full), f"seed {seed} step {step}"
        incremental_runs += not inc.whole
        if not full.errors and rng.random() < 0.5:
            base = text  # keep a valid edit: later edits move what is after it
    return incremental_runs


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_random_edits_of_each_example_give_what_a_fresh_analysis_gives(path):
    # A stable seed (str's hash changes with each process's PYTHONHASHSEED: one seed in a run gave 5 of 40)
    runs = run_edits(path.read_text(), str(path), seed=zlib.crc32(path.stem.encode()) % 1000, steps=40)
    assert runs >= 20  # most edits were analysed incrementally


@pytest.mark.slow  # ~1,100 lines analysed afresh after each of 40 edits, twice (each example's own: 40 edits above)
@pytest.mark.parametrize("seed", range(2))
def test_random_edits_of_a_file_with_many_definitions(seed):
    text = many_definitions()
    assert len(split_pieces(text)) > 30
    assert analyze(text, str(ROOT / "examples" / "many.nns")).errors == []
    run_edits(text, str(ROOT / "examples" / "many.nns"), seed, steps=40)


def test_an_edit_in_one_network_lowers_only_that_network():
    text = many_definitions()
    path = str(ROOT / "examples" / "many.nns")
    inc = IncrementalAnalyzer()
    first = inc.analyze(text, path)
    networks = len(first.graphs)
    at = text.index("Linear(classes)", len(text) // 2)
    edited = text[:at] + "\n" + text[at:]  # a line more in the middle: everything after it moves
    a = inc.analyze(edited, path)
    assert (inc.networks_lowered, inc.networks_reused) == (1, networks - 1)
    assert signature(a) == signature(analyze(edited, path))


def test_an_edited_block_lowers_the_networks_that_use_it(tmp_path):
    text = ("block B(c: int) {\n    input x\n    y = x -> Conv2d(c, 3)\n    output y\n}\n\n"
            "network P {\n    input x: [N, 3, 8, 8]\n    y = x -> B(4)\n    output y\n}\n\n"
            "network Q {\n    input x: [N, 3, 8, 8]\n    y = x -> ReLU\n    output y\n}\n")
    inc = IncrementalAnalyzer()
    inc.analyze(text, str(tmp_path / "t.nns"))
    edited = text.replace("Conv2d(c, 3)", "Conv2d(c, 5)")
    a = inc.analyze(edited, str(tmp_path / "t.nns"))
    assert (inc.networks_lowered, inc.networks_reused) == (1, 1)
    assert a.graphs["P"].nodes[0].attrs["kernel"] == (5, 5)


def test_a_changed_used_file_is_read_again(tmp_path):
    (tmp_path / "b.nns").write_text("block B {\n    input x\n    y = x -> ReLU\n    output y\n}\n")
    text = 'use "b"\n\nnetwork N {\n    input x: [N, 4]\n    y = x -> B\n    output y\n}\n'
    path = str(tmp_path / "n.nns")
    inc = IncrementalAnalyzer()
    assert inc.analyze(text, path).graphs["N"].nodes[0].op == "ReLU"
    (tmp_path / "b.nns").write_text("block B {\n    input x\n    y = x -> Tanh\n    output y\n}\n")
    a = inc.analyze(text, path)
    assert a.graphs["N"].nodes[0].op == "Tanh" and inc.networks_lowered == 1
    assert signature(a) == signature(analyze(text, path))


def test_identical_definitions_twice_and_texts_that_cannot_be_cut():
    block = "block B {\n    input x\n    y = x -> ReLU\n    output y\n}\n\n"
    text = block + block + "network N {\n    input x: [N, 4]\n    y = x -> B\n    output y\n}\n"
    inc = IncrementalAnalyzer()
    assert signature(inc.analyze(text, "t.nns")) == signature(analyze(text, "t.nns"))
    assert not inc.whole
    unbalanced = text.replace("output y\n}\n", "output y\n", 1)
    unclosed = '"""never closed\n' + text
    assert split_pieces(unbalanced) is None and split_pieces(unclosed) is None
    for broken in (unbalanced, unclosed, "junk " + text):  # analysed whole, the same as analyze()
        assert signature(inc.analyze(broken, "t.nns")) == signature(analyze(broken, "t.nns"))
        assert inc.whole
