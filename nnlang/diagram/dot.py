"""DiagramModel + ViewState -> DOT text. Pure Python and cheap: the language server calls it on
every change. `assets/dotview.js` is the same function for the HTML viewer, line for line; a
test checks they agree, so change both together.

Long flat sequences are wrapped into columns: a top-to-bottom chain of 25 Inception modules is
a few readable columns on one screen instead of one strip a few pixels wide. From the network
down, an open block whose children (boxes or open blocks) span more than state.wrap ranks is
wrapped into the number of columns that brings the drawing closest to a 16:10 screen; blocks
inside a wrapped one are not wrapped again. A column starts only where one tensor crosses from
the item just before and nothing from outside the block reaches it or later; no column is shorter
than half the others. The cut edges do not constrain the ranking; the columns' first boxes share
a rank, ordered left to right by invisible edges (through invisible points when they sit in open
blocks).
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


def _columns(spans: list, height: int, bad: list) -> list:
    """Greedy column starts: a new column where the next item would make this one too tall."""
    cols = [0]
    top = spans[0][0]
    for k in range(1, len(spans)):
        if spans[k][1] - top + 1 > height and not bad[k]:
            cols.append(k)
            top = spans[k][0]
    return cols


def _col_span(spans: list, cols: list, j: int) -> int:
    part = spans[cols[j]:cols[j + 1] if j + 1 < len(cols) else len(spans)]
    return max(s[1] for s in part) - min(s[0] for s in part) + 1


def _even(cols: list, spans: list) -> bool:
    """No column shorter than half the tallest (a lone box in a column of its own reads badly)."""
    heights = [_col_span(spans, cols, j) for j in range(len(cols))]
    return 2 * min(heights) >= max(heights)


def _shape_score(cols: list, spans: list, boxes: list) -> tuple:
    """How far the drawing is from a 16:10 screen, as a fraction >= 1. A box is about 3.2 times
    as wide as a rank is tall, so the aspect is 3.2 * width / height and the target 1.6.
    `boxes[k]`: the ranks of the boxes drawn for item k (one, or an open block's)."""
    width = 0
    height = 0
    for j in range(len(cols)):
        end = cols[j + 1] if j + 1 < len(cols) else len(spans)
        counts: dict = {}
        for k in range(cols[j], end):
            for r in boxes[k]:
                counts[r] = counts.get(r, 0) + 1
        width += max(counts.values())
        height = max(height, _col_span(spans, cols, j))
    return (2 * width, height) if 2 * width >= height else (height, 2 * width)


def _drawn(model: DiagramModel, state: ViewState, sid: str, out: list) -> list:
    """The boxes drawn inside the open block `sid`, in the order they are written."""
    for c in _children(model, state, sid):
        if c[0] == "s" and c in state.expanded:
            _drawn(model, state, c, out)
        else:
            out.append(c)
    return out


def _wrap(model: DiagramModel, state: ViewState, edges: list):
    """Column breaks of the long sequences: {scope id: [[first box of each column], anchored]} and the set of
    "a>b" edges cut. From the network down, an open block whose children span more than
    state.wrap ranks is wrapped between its children (boxes or open blocks); the blocks inside a
    wrapped one are not wrapped again, so the ranks measured before the cut stay valid."""
    heads: dict = {}
    cuts: set = set()
    if not state.wrap:
        return heads, cuts
    rank: dict = {}
    for a, b, _ in edges:
        r = rank.get(a, 0) + 1
        if r > rank.get(b, 0):
            rank[b] = r
    todo = [model.root]
    while todo:
        sid = todo.pop(0)
        kids = _children(model, state, sid)
        inner = [c for c in kids if c[0] == "s" and c in state.expanded]
        if len(kids) < 2 or not _wrap_scope(model, state, edges, rank, sid, kids, heads, cuts):
            todo.extend(inner)
    return heads, cuts


def _wrap_scope(model, state, edges, rank, sid, kids, heads, cuts) -> bool:
    members = [_drawn(model, state, c, []) if c[0] == "s" and c in state.expanded else [c] for c in kids]
    boxes = [[rank.get(b, 0) for b in m] for m in members]
    spans = [(min(r), max(r)) if r else (0, 0) for r in boxes]
    total = max(s[1] for s in spans) - min(s[0] for s in spans) + 1
    if total <= state.wrap:
        return False
    pos = {}
    for k, m in enumerate(members):
        for b in m:
            pos[b] = k
    bad = [False] * len(kids)  # bad[k]: no column may start at kids[k]
    crossing: list = [[] for _ in kids]
    for a, b, _ in edges:
        ka = pos.get(a)
        kb = pos.get(b)
        if kb is None:
            if ka is not None:  # a tensor leaving the block mid-way: a later column would send it across the page
                for c in range(ka + 1, len(kids)):
                    bad[c] = True
            continue
        if ka is None:  # from outside the block: no column may start before its target
            for c in range(1, kb + 1):
                bad[c] = True
            continue
        if ka >= kb:
            continue
        for c in range(ka + 2, kb + 1):  # a skip over the cut
            bad[c] = True
        cross = crossing[ka + 1]
        if cross and cross[0][0] != a:  # two tensors across the cut (one fanning out is fine)
            bad[ka + 1] = True
        cross.append((a, f"{a}>{b}"))
    best = _shape_score([0], spans, boxes)
    chosen = None
    for n in range(2, 9):
        height = -(-total // n)
        cols = _columns(spans, height, bad)
        score = _shape_score(cols, spans, boxes)
        if len(cols) > 1 and _even(cols, spans) and _better(score, best):
            best = score
            chosen = cols
    if not chosen:
        return False
    # Each column's head: the first of its top boxes (an open block's entry), in one rank.
    tops = []
    for k in chosen:
        top = spans[k][0]
        tops.append(next(b for b, r in zip(members[k], boxes[k]) if r == top) if members[k] else kids[k])
    heads[sid] = [tops, any(len(m) != 1 or m[0] != c for m, c in zip(members, kids))]
    for k in chosen[1:]:
        cuts.update(key for _, key in crossing[k])
    return True


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
        tops, anchored = heads[sid]
        if anchored:
            # Heads inside open blocks: a flat edge between clusters does not order them, so
            # each column hangs from an invisible point of this block, and the points are ordered.
            points = [f"{sid}w{k}" for k in range(len(tops))]
            for w in points:
                out.append(f'{pad}{w} [id="{w}" class="nn-anchor" shape=point style=invis width=0 height=0 label=""]')
            out.append(f"{pad}{{rank=same; {' -> '.join(points)} [style=invis]}}")
            for w, h in zip(points, tops):
                out.append(f"{pad}{w} -> {h} [style=invis]")
        else:
            # A flat edge orders its ends left to right: the columns read in order.
            out.append(f"{pad}{{rank=same; {' -> '.join(tops)} [style=invis]}}")


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
