"""The automatic view (`--depth auto`): which blocks to open, chosen by measured readability.

One score, `Measure.scale`: the drawing is fitted to a 16:10 screen (SCREEN, in points, the
units of Graphviz's layout and of the SVG) and the score is the zoom that takes, capped at 1. A
strip 5,000 points tall scores 0.2 (text at a fifth of its size); a page close to 16:10 scores
near 1 unless it is large. A view is *readable* when it scores at least MIN_SCALE and draws at
most BOX_BUDGET boxes.

The candidates, for each depth d while depth d draws at most BOX_BUDGET boxes (repeats built
alike are rolled up unless the caller says not to):

1. depth d: every block above level d open;
2. depth d plus the first block of each branchy type closed at level d ("what an InceptionA
   looks like inside"; a block is branchy when its direct contents are not one chain);
3. depth d plus only the first branchy block closed at level d.

The choice: the readable candidate that draws the most boxes (ties: the larger score, then the
order above); when none is readable, the one with the largest score. Deterministic: the same
model and options always give the same view.

The size is estimated in pure Python, not laid out: the language server chooses the view on
every change, and running `dot` per candidate would cost 50-500 ms each. The estimate ranks the
drawn boxes (longest path over the edges `dot.py` keeps as constraints, so the column wrap is
included), gives each box the width of its longest label line in Helvetica and its rows' height,
and adds the clusters' margins and labels. tests/diagram/test_readability.py compares it with
`dot -Tjson0` for every example.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import dot as D
from .model import DiagramModel
from .view import ViewState

SCREEN = (1600, 1000)  # points: a 16:10 window
MIN_SCALE = 0.55  # 11 pt text drawn at 6 px: the smallest that still reads
BOX_BUDGET = 40  # boxes a readable page holds (ResNet-18 with every block open, 59, is past it)

# Graphviz geometry of the header in model.py (points): rank and node separation, the title's height.
_RANKSEP, _NODESEP, _TITLE = 23, 22, 24
_CLUSTER_SIDE, _CLUSTER_TOP, _CLUSTER_BOTTOM = 8, 20, 8
_TAG = re.compile(r"<[^>]*>")
_ENTITY = re.compile(r"&#?\w+;")


@dataclass(frozen=True)
class Measure:
    boxes: int
    width: float  # points
    height: float

    @property
    def scale(self) -> float:
        """The zoom that fits the drawing on SCREEN, at most 1: the readability score."""
        return min(1.0, SCREEN[0] / max(self.width, 1.0), SCREEN[1] / max(self.height, 1.0))

    @property
    def aspect(self) -> float:
        return self.width / max(self.height, 1.0)

    @property
    def readable(self) -> bool:
        return self.boxes <= BOX_BUDGET and self.scale >= MIN_SCALE


def _label_size(attrs: str) -> tuple:
    """(width, height) in points of an HTML-like label of table rows: Helvetica's average
    character is about 0.55 em; a row is 12 points; margins from the node defaults."""
    label = attrs[attrs.index("label=<") + 7:] if "label=<" in attrs else ""
    rows = label.split("</TR>")[:-1] or [label]
    width = 0.0
    for row in rows:
        size = 9 if 'POINT-SIZE="9"' in row else 11
        width = max(width, len(_ENTITY.sub("x", _TAG.sub("", row))) * size * 0.55)
    return width + 16, 6 + 12 * len(rows)


def _size(model: DiagramModel, box: str) -> tuple:
    sizes = model.sizes
    s = sizes.get(box)
    if s is None:
        rec = model.scopes.get(box) if box[0] == "s" else model.nodes[box]
        s = sizes[box] = _label_size(rec["collapsed"] if box[0] == "s" else rec["attrs"])
    return s


def _open_ancestors(model: DiagramModel, state: ViewState, box: str) -> list:
    if box[0] == "s":
        anc, p = [], model.scopes[box]["parent"]
        while p is not None and p != model.root:
            anc.append(p)
            p = model.scopes[p]["parent"]
        return anc[::-1]
    return [a for a in model.nodes[box]["anc"] if a in state.expanded]


def measure(model: DiagramModel, state: ViewState) -> Measure:
    """The estimated size of `to_dot(model, state)` laid out by `dot`, and its box count."""
    edges = D._visible_edges(model, state)
    heads, cuts = D._wrap(model, state, edges)
    boxes = list(model.inputs) + D._drawn(model, state, model.root, []) + list(model.outputs)
    keep = [(a, b) for a, b, _ in edges if f"{a}>{b}" not in cuts]
    floor: dict = {}
    rank: dict = {}
    for _ in range(2):  # the second pass puts the columns' heads on one rank, as `rank=same` does
        rank = dict(floor)
        for a, b in keep:
            r = rank.get(a, 0) + 1
            if r > rank.get(b, 0):
                rank[b] = r
        for group, _anchored in heads.values():
            top = max(rank.get(h, 0) for h in group)
            for h in group:
                floor[h] = top
    widths: dict = {}
    heights: dict = {}
    tops: dict = {}  # cluster -> its first rank
    bottoms: dict = {}
    nest: dict = {}
    groups: dict = {}  # (rank, innermost open block or "") -> summed width of its boxes there
    for b in boxes:
        r = rank.get(b, 0)
        w, h = _size(model, b)
        heights[r] = max(heights.get(r, 0), h)
        anc = _open_ancestors(model, state, b) if b[0] in "ns" else []
        key = (r, anc[-1] if anc else "")
        groups[key] = groups.get(key, 0) + w + _NODESEP
        nest[r] = max(nest.get(r, 0), len(anc))
        for a in anc:
            if r < tops.get(a, r + 1):
                tops[a] = r
            if r > bottoms.get(a, -1):
                bottoms[a] = r
    for (r, c), w in groups.items():
        # a block's boxes on a rank are at least as wide as its cluster's label
        w = max(w, _cluster_label_width(model, state, c) + _NODESEP) if c else w
        widths[r] = widths.get(r, 0) + w + (2 * _CLUSTER_SIDE if c else 0)
    extra: dict = {}
    for a, r in tops.items():
        extra[r] = extra.get(r, 0) + _CLUSTER_TOP
    for a, r in bottoms.items():
        extra[r] = extra.get(r, 0) + _CLUSTER_BOTTOM
    width = max((w - _NODESEP + 2 * _CLUSTER_SIDE * max(nest.get(r, 0) - 1, 0) for r, w in widths.items()),
                default=0)
    # Clusters stacked on a rank in several columns add their margins once, not once per column.
    height = sum(heights.values()) + _RANKSEP * max(len(heights) - 1, 0)
    height += sum(min(e, 2 * _CLUSTER_TOP) for e in extra.values())
    n = sum(1 for b in boxes if b[0] in "ns")
    return Measure(n, max(width, _title_width(model)), height + _TITLE)


def _cluster_label_width(model: DiagramModel, state: ViewState, sid: str) -> float:
    key = ("cluster", sid, sid in state.rolled)
    w = model.sizes.get(key)
    if w is None:  # 10 pt
        rec = model.scopes[sid]
        attrs = rec["rolled"] if sid in state.rolled and rec["rollable"] else rec["cluster"]
        w = model.sizes[key] = len(_ENTITY.sub("x", _TAG.sub("", attrs.split("label=<", 1)[1][:-1]))) * 5.5
    return w


def _title_width(model: DiagramModel) -> float:
    w = model.sizes.get("title")
    if w is None:  # the graph label: 13 pt, and nothing narrower than it is drawn
        title = model.header[0].split("label=<", 1)[1].rsplit(">", 1)[0]
        w = model.sizes["title"] = len(_ENTITY.sub("x", _TAG.sub("", title))) * 7
    return w


def branchy_scopes(model: DiagramModel) -> set:
    """Blocks whose direct contents are not one chain: a child feeds two others, two feed one,
    or the block's inputs reach two of its children (a residual skip)."""
    succ: dict = {}  # (scope, child) -> set of children it feeds
    pred: dict = {}
    entries: dict = {}  # scope -> children fed from outside
    for src, dst, _t, _label, _multi in model.edges:
        if dst not in model.nodes or dst[0] != "n":
            continue
        da = model.nodes[dst]["anc"]
        sa = model.nodes[src]["anc"] if src in model.nodes else []
        for i, s in enumerate(da):
            kid_d = da[i + 1] if i + 1 < len(da) else dst
            if s in sa:
                j = sa.index(s)
                kid_s = sa[j + 1] if j + 1 < len(sa) else src
                if kid_s != kid_d:
                    succ.setdefault((s, kid_s), set()).add(kid_d)
                    pred.setdefault((s, kid_d), set()).add(kid_s)
            else:
                entries.setdefault(s, set()).add(kid_d)
    out = {s for s, kids in entries.items() if len(kids) > 1}
    out |= {s for (s, _), kids in succ.items() if len(kids) > 1}
    out |= {s for (s, _), kids in pred.items() if len(kids) > 1}
    return out


def _drawn_closed(model: DiagramModel, expanded: set, rolled: frozenset, level: int) -> list:
    """Closed blocks at `level` that are drawn (not hidden in a rolled-up repeat), in preorder."""
    out = []

    def walk(sid):
        rec = model.scopes[sid]
        kids = rec["children"][:1] if sid in rolled and rec["rollable"] else rec["children"]
        for c in kids:
            if c[0] != "s":
                continue
            if c in expanded:
                walk(c)
            elif model.scopes[c]["level"] == level:
                out.append(c)

    walk(model.root)
    return out


def candidates(model: DiagramModel, max_depth: int, rolled: frozenset):
    """(label, expanded set) in the order described above, depth by depth while the plain depth
    stays within BOX_BUDGET boxes (the first depth always)."""
    branchy = None
    for d in range(1, max_depth + 1):
        expanded = {sid for sid, s in model.scopes.items() if s["level"] < d}
        if d > 1 and _count(model, expanded, rolled) > BOX_BUDGET:
            return
        yield f"depth {d}", expanded
        if branchy is None:
            branchy = branchy_scopes(model)
        closed = [s for s in _drawn_closed(model, expanded, rolled, d)
                  if s in branchy and model.scopes[s]["kind"] == "block"]
        if not closed:
            continue
        firsts, seen = [], set()
        for s in closed:
            t = model.scopes[s]["tname"]
            if t not in seen:
                seen.add(t)
                firsts.append(s)
        yield f"depth {d}, first of each branchy block", expanded | set(firsts)
        if len(firsts) > 1:
            yield f"depth {d}, first branchy block", expanded | {closed[0]}


def _count(model: DiagramModel, expanded: set, rolled: frozenset) -> int:
    n = 0
    stack = [model.root]
    while stack:
        sid = stack.pop()
        rec = model.scopes[sid]
        for c in rec["children"][:1] if sid in rolled and rec["rollable"] else rec["children"]:
            if c[0] == "s" and c in expanded:
                stack.append(c)
            else:
                n += 1
    return n


def choose(model: DiagramModel, max_depth: int, base: ViewState) -> tuple:
    """(expanded set, Measure or None, label) of the automatic view; `base` gives the other options
    (rolled repeats, edge labels, wrap). The measure is None when there was nothing to choose."""
    cands = list(candidates(model, max_depth, base.rolled))
    if len(cands) == 1:
        return cands[0][1], None, cands[0][0]
    best = None
    for order, (label, expanded) in enumerate(cands):
        state = ViewState(frozenset(expanded | {model.root}), base.rolled, base.edge_labels, base.tooltips, base.wrap)
        m = measure(model, state)
        key = (1, m.boxes, m.scale, -order) if m.readable else (0, m.scale, -m.boxes, -order)
        if best is None or key > best[0]:
            best = (key, expanded, m, label)
    return best[1], best[2], best[3]
