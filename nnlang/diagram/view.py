"""Which blocks are drawn open: `--depth`, `--expand`, the automatic depth, rolled-up repeats."""

from __future__ import annotations

from dataclasses import dataclass

from .model import DiagramModel

AUTO_BUDGET = 60  # auto_depth's bound (kept for callers); `--depth auto` is readability.choose
WRAP = 10  # ranks a flat sequence may span before it is wrapped into columns


@dataclass(frozen=True)
class ViewState:
    """What to draw. `expanded`: scope ids drawn as clusters (the network `s0` always is); every
    other scope whose parent is drawn open is one box. `rolled`: repeats drawn as their first item
    (`×n`). `edge_labels`: "auto" labels the edges that leave a layer or block with several outputs
    (the boxes show every other shape), "all" or "none". `tooltips`: DOT tooltips (static SVGs;
    the HTML viewer has its own hover panel). `wrap`: ranks per column before a long chain is
    wrapped into the next column (0: never)."""

    expanded: frozenset
    rolled: frozenset = frozenset()
    edge_labels: str = "auto"
    tooltips: bool = True
    wrap: int = WRAP

    def to_json(self) -> dict:
        return {"expanded": sorted(self.expanded, key=_id_key), "rolled": sorted(self.rolled, key=_id_key),
                "edgeLabels": self.edge_labels, "tooltips": self.tooltips, "wrap": self.wrap}


def _id_key(sid: str):
    return int(sid[1:])


def max_depth(model: DiagramModel) -> int:
    """The depth that opens every block."""
    return max((s["level"] for s in model.scopes.values()), default=0) + 1


def visible_count(model: DiagramModel, depth: int) -> int:
    """Boxes drawn at `depth` (layers whose blocks are all open, plus the closed blocks)."""
    layers = sum(1 for k, n in model.nodes.items() if k[0] == "n" and len(n["anc"]) < depth)
    return layers + sum(1 for s in model.scopes.values() if s["level"] == depth)


def auto_depth(model: DiagramModel, budget: int = AUTO_BUDGET) -> int:
    """The deepest depth that draws at most `budget` boxes (at least 1)."""
    best = 1
    for d in range(1, max_depth(model) + 1):
        if visible_count(model, d) <= budget:
            best = d
        else:
            break
    return best


def match_scopes(model: DiagramModel, names) -> tuple[set, list]:
    """Scope ids named by path (`layer3`, `layer3.0`) or block type (`BasicBlock`); and the names
    that matched nothing."""
    found, unknown = set(), []
    for name in names or ():
        hits = {sid for sid, s in model.scopes.items() if sid != model.root and name in (s["path"], s["tname"])}
        if hits:
            found |= hits
        else:
            unknown.append(name)
    return found, unknown


def resolve_state(model: DiagramModel, depth="auto", expand=(), collapse=(), roll: bool = True,
                  edge_labels: str = "auto", tooltips: bool = True, wrap: int = WRAP) -> ViewState:
    """depth: an int (1 = the network's own layers and top-level blocks as boxes), "all" / None
    (everything open) or "auto" (the most detailed readable view: readability.py). `expand` opens
    the named blocks (and the blocks around them), `collapse` closes them; unknown names are
    ignored here (see `match_scopes`). `roll`: draw each repeat built alike as its first item."""
    if edge_labels not in ("auto", "all", "none"):
        raise ValueError(f"edge_labels must be auto, all or none, not {edge_labels!r}")
    rolled = frozenset(sid for sid, s in model.scopes.items() if s["rollable"]) if roll else frozenset()
    if depth == "auto":
        from .readability import choose  # readability measures with dot.py, which imports this module

        expanded = set(choose(model, max_depth(model), ViewState(frozenset(), rolled, edge_labels, tooltips,
                                                                 wrap))[0])
    else:
        limit = max_depth(model) if depth is None or depth == "all" else int(depth)
        expanded = {sid for sid, s in model.scopes.items() if s["level"] < limit}
    opened, _ = match_scopes(model, expand)
    for sid in opened:
        while sid is not None:
            expanded.add(sid)
            sid = model.scopes[sid]["parent"]
    closed, _ = match_scopes(model, collapse)
    expanded -= closed
    expanded.add(model.root)
    return ViewState(frozenset(expanded), rolled, edge_labels, tooltips, wrap)
