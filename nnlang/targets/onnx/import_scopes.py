"""Scopes the printer can write: each block is one call, at the place of its first layer, so everything it reads
must exist by then. A module path can gather layers that are not contiguous in the data flow: the dynamo
exporter's nodes carry no module path, yet a parameter read by one node names its layer (ConvNeXt's
`features.1.0.layer_scale` puts a scope `features` around every stage's layer scale while the convolutions stay
at the top level). Such a scope is dissolved into its parent: its layers and sub-scopes move up in order, named
`<scope>_<name>` (its sub-scopes that are in order stay blocks). (A module computing a layer of its own between
its children's, MaxViT's relative-position bias, is placed inside the module before this: _Converter.place.)
"""

from __future__ import annotations

from ...ir.graph import Node, Scope


def dissolve_unordered(graph) -> int:
    """Dissolve every scope that reads a tensor made after its first layer; returns how many. Parents are
    checked before their children; whether a scope is in order depends only on the layers under it, so one
    pass suffices (a moved sub-scope is checked in its new parent)."""
    count = 0
    for scope in list(graph.root.scopes()):
        if scope is graph.root or _in_order(graph, scope):
            continue
        _dissolve(scope)
        count += 1
    return count


def _in_order(graph, scope: Scope) -> bool:
    ids = [n.id for n in scope.nodes()]
    if not ids:
        return True
    first = min(ids)
    return all(graph.tensor(t).producer is None or graph.tensor(t).producer < first
               for t in scope.external_inputs())


def _dissolve(scope: Scope) -> None:
    parent = scope.parent
    taken = {c.name for c in parent.children if c is not scope and c.name}
    moved = []
    for child in scope.children:
        name = ""
        if child.name:
            base = f"{scope.name}_{child.name}"
            name, k = base, 2
            while name in taken:
                name, k = f"{base}_{k}", k + 1
            taken.add(name)
        child.name = name
        if isinstance(child, Scope):
            child.parent = parent
            _repath(child, parent.child_path(name))
        else:
            child.scope = parent
            child.path = parent.child_path(name) if name else ""
        moved.append(child)
    rest = [c for c in parent.children if c is not scope] + moved
    parent.children[:] = sorted(rest, key=_first_id)  # creation order: a topological order


def _repath(scope: Scope, path: str) -> None:
    scope.path = path
    for c in scope.children:
        if isinstance(c, Scope):
            _repath(c, scope.child_path(c.name))
        elif c.name:
            c.path = scope.child_path(c.name)


def _first_id(child) -> int:
    if isinstance(child, Node):
        return child.id
    return min((n.id for n in child.nodes()), default=-1)
