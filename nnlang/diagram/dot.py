"""DiagramModel + ViewState -> DOT text. Pure Python and cheap: the language server calls it on
every change. `assets/dotview.js` is the same function for the HTML viewer, line for line; a
test checks they agree, so change both together.

Long flat sequences are wrapped into columns: a top-to-bottom chain of 25 Inception modules is
a few readable columns on one screen instead of one strip a few pixels wide. Only a block whose
children are all boxes (no open sub-block) is wrapped, when it spans more than state.wrap ranks,
into the number of columns that brings the drawing closest to a 16:10 screen. A column starts
only where the chain has a single edge from the box just before and nothing from outside the
block reaches it or later; no column is shorter than half the others. The cut edges do not constrain
the ranking; the first boxes of the columns share a rank, joined left to right by invisible edges.
"""

from __future__ import annotations

from .model import DiagramModel
from .view import ViewState


def _attrs(rec: dict, key: str, state: ViewState) -> str:
    return rec[key] + (f' tooltip="{rec["tip"]}"' if state.tooltips and "tip" in rec else "")


def representative(model: DiagramModel, state: ViewState, item: str) -> str:
    """The drawn box that stands for `item`: itself, its outermost closed block, or -- inside a
    rolled-up repeat -- the same layer of the repeat's first item."""
    rec = model.nodes[item]
    moved = bool(state.rolled)
    while moved:
        moved = False
        roll = rec.get("roll")
        if roll:
            for a in rec["anc"]:
                if a in roll and a in state.rolled:
                    item = roll[a]
                    rec = model.nodes[item]
                    moved = True
                    break
    for a in rec["anc"]:
        if a not in state.expanded:
            return a
    return item


def _crosses_roll(model: DiagramModel, state: ViewState, src: str, dst: str) -> bool:
    """An edge inside a rolled-up repeat that is not inside its first item: not drawn (from one
    item to the next it would loop back; inside a later item it repeats the first item's)."""
    if not state.rolled:
        return False
    ru = model.nodes[src].get("rc")
    rv = model.nodes[dst].get("rc")
    if not ru or not rv:
        return False
    for r, k in ru.items():
        if r in state.rolled and r in rv and (rv[r] != k or k != 0):
            return True
    return False


def _visible_edges(model: DiagramModel, state: ViewState) -> list:
    """[a, b, label or ""] between drawn boxes, in IR order (a topological order of the boxes)."""
    out = []
    seen = set()
    for src, dst, t, label, multi in model.edges:
        a = representative(model, state, src)
        b = representative(model, state, dst)
        if a == b or _crosses_roll(model, state, src, dst):
            continue
        key = f"{a}>{b}>{t}"
        if key in seen:
            continue
        seen.add(key)
        if state.edge_labels == "all":
            show = True
        elif state.edge_labels == "none":
            show = False
        else:
            show = model.scopes[a]["nout"] > 1 if a[0] == "s" else multi
        out.append([a, b, label if show else ""])
    return out


def _children(model: DiagramModel, state: ViewState, sid: str) -> list:
    rec = model.scopes[sid]
    if sid in state.rolled and rec["rollable"]:
        return rec["children"][:1]
    return rec["children"]


def _better(a: tuple, b: tuple) -> bool:
    """a < b for fractions (p, q), in integers: Python and JavaScript agree exactly."""
    return a[0] * b[1] < b[0] * a[1]


def _columns(kids: list, ranks: list, height: int, bad: list) -> list:
    """Greedy column starts: a new column where the next box would make this one too tall."""
    cols = [0]
    top = ranks[0]
    for k in range(1, len(kids)):
        if ranks[k] - top + 1 > height and not bad[k]:
            cols.append(k)
            top = ranks[k]
    return cols


def _even(cols: list, ranks: list) -> bool:
    """No column shorter than half the tallest (a lone box in a column of its own reads badly)."""
    spans = []
    for j in range(len(cols)):
        part = ranks[cols[j]:cols[j + 1] if j + 1 < len(cols) else len(ranks)]
        spans.append(max(part) - min(part) + 1)
    return 2 * min(spans) >= max(spans)


def _shape_score(cols: list, ranks: list) -> tuple:
    """How far the drawing is from a 16:10 screen, as a fraction >= 1. A box is about 3.2 times
    as wide as a rank is tall, so the aspect is 3.2 * width / height and the target 1.6."""
    width = 0
    height = 0
    for j in range(len(cols)):
        part = ranks[cols[j]:cols[j + 1] if j + 1 < len(cols) else len(ranks)]
        counts: dict = {}
        for r in part:
            counts[r] = counts.get(r, 0) + 1
        width += max(counts.values())
        height = max(height, max(part) - min(part) + 1)
    return (2 * width, height) if 2 * width >= height else (height, 2 * width)


def _wrap(model: DiagramModel, state: ViewState, edges: list):
    """Column breaks of the long flat sequences (scopes whose children are all boxes):
    {scope id: [first box of each column]} and the set of "a>b" edges cut."""
    heads: dict = {}
    cuts: set = set()
    if not state.wrap:
        return heads, cuts
    rank: dict = {}
    for a, b, _ in edges:
        r = rank.get(a, 0) + 1
        if r > rank.get(b, 0):
            rank[b] = r
    for sid in model.scopes:
        if sid != model.root and sid not in state.expanded:
            continue
        kids = _children(model, state, sid)
        if len(kids) < 2 or any(c[0] == "s" and c in state.expanded for c in kids):
            continue
        ranks = [rank.get(c, 0) for c in kids]
        total = max(ranks) - min(ranks) + 1
        if total <= state.wrap:
            continue
        pos = {c: k for k, c in enumerate(kids)}
        bad = [False] * len(kids)  # bad[k]: no column may start at kids[k]
        crossing: list = [[] for _ in kids]
        for a, b, _ in edges:
            ka = pos.get(a)
            kb = pos.get(b)
            if kb is None:
                continue
            if ka is None:  # from outside the block: no column may start before its target
                for c in range(1, kb + 1):
                    bad[c] = True
                continue
            if ka >= kb:
                continue
            for c in range(ka + 2, kb + 1):  # a skip over the cut
                bad[c] = True
            crossing[ka + 1].append(f"{a}>{b}")
            if len(crossing[ka + 1]) > 1:  # a fork across the cut
                bad[ka + 1] = True
        best = _shape_score([0], ranks)
        chosen = None
        for n in range(2, 9):
            height = -(-total // n)
            cols = _columns(kids, ranks, height, bad)
            score = _shape_score(cols, ranks)
            if len(cols) > 1 and _even(cols, ranks) and _better(score, best):
                best = score
                chosen = cols
        if chosen:
            heads[sid] = [kids[k] for k in chosen]
            for k in chosen[1:]:
                cuts.update(crossing[k])
    return heads, cuts


def _emit_scope(model: DiagramModel, state: ViewState, sid: str, depth: int, out: list, heads: dict):
    pad = "  " * depth
    for c in _children(model, state, sid):
        if c[0] == "n":
            out.append(f"{pad}{c} [{_attrs(model.nodes[c], 'attrs', state)}]")
            continue
        s = model.scopes[c]
        if c in state.expanded:
            rolled = c in state.rolled and s["rollable"]
            out.append(f"{pad}subgraph cluster_{c} {{")
            out.append(f"{pad}  graph [{s['rolled'] if rolled else s['cluster']}]")
            _emit_scope(model, state, c, depth + 1, out, heads)
            out.append(f"{pad}}}")
        else:
            out.append(f"{pad}{c} [{_attrs(s, 'collapsed', state)}]")
    if sid in heads:
        # A flat edge orders its ends left to right: the columns read in order.
        out.append(f"{pad}{{rank=same; {' -> '.join(heads[sid])} [style=invis]}}")


def to_dot(model: DiagramModel, state: ViewState) -> str:
    edges = _visible_edges(model, state)
    heads, cuts = _wrap(model, state, edges)
    out = ["digraph nnlang {"]
    out += ["  " + h for h in model.header]
    for iid in model.inputs:
        out.append(f"  {iid} [{_attrs(model.nodes[iid], 'attrs', state)}]")
    _emit_scope(model, state, model.root, 1, out, heads)
    for oid in model.outputs:
        out.append(f"  {oid} [{_attrs(model.nodes[oid], 'attrs', state)}]")
    for a, b, label in edges:
        attrs = []
        if label:
            attrs.append(f"label=<{label}>")
        if f"{a}>{b}" in cuts:
            attrs.append("constraint=false")
        out.append(f"  {a} -> {b}" + (f" [{' '.join(attrs)}]" if attrs else ""))
    out.append("}")
    return "\n".join(out) + "\n"
