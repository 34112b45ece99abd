"""Containers whose members are not called as one chain: their members become layers of the parent.

A ModuleList that forward walks as a chain (`for blk in self.blocks: x = blk(x)`) prints as a group,
`blocks: Block * 6`. Real model code also walks several lists side by side (`for conv, bn in
zip(self.convs, self.bns)`: res2net; twins zips four lists) or calls the members of one list on
the same input (`[op(x) for op in self.paths]`: sknet). Such a list is no chain: printed as a group
it would be called once, or read a tensor before it is made. Its members are written in the parent
instead, named `convs_1` for `convs.1`; the rename table maps the weights back to the module's keys.

`flat_containers` decides which containers are such, from the traced graph's order and wiring;
`flat_path` rewrites a module path accordingly.
"""

from __future__ import annotations

from torch import fx

from .importers.own_weights import OWN_LAYER


def _home(node: fx.Node):
    """The module path a node belongs to: a module call's target, a functional own-weight layer's owner,
    else the innermost module on its stack ("" at the top)."""
    if node.op == "call_module":
        return node.target
    if OWN_LAYER in node.meta:
        return node.meta[OWN_LAYER][1]
    stack = list((node.meta.get("nn_module_stack") or {}).values())
    return stack[-1][0] if stack else ""


def _is_layer(node: fx.Node) -> bool:
    if node.op not in ("call_module", "call_function", "call_method"):
        return False
    meta = node.meta.get("tensor_meta")
    return hasattr(meta, "shape") or isinstance(meta, (tuple, list))


def _member(path: str, container: str):
    """The member name of `container` that `path` lies in, or None."""
    if not path.startswith(container + "."):
        return None
    return path[len(container) + 1:].split(".", 1)[0]


def flat_containers(gm: fx.GraphModule) -> set:
    """Paths of the containers never called as a whole whose members do not form one chain."""
    called = {n.target for n in gm.graph.nodes if n.op == "call_module"}
    for n in gm.graph.nodes:
        called.update(v[0] for v in (n.meta.get("nn_module_stack") or {}).values())
    # (fx's GraphModule keeps a container as a plain nn.Module: any module never called as a whole counts)
    candidates = [path for path, _m in gm.named_modules() if path and path not in called
                  and any(c.startswith(path + ".") for c in called)]
    if not candidates:
        return set()
    layers = [n for n in gm.graph.nodes if _is_layer(n)]
    homes = {n: _home(n) for n in layers}
    flat = set()
    for path in candidates:
        if _not_a_chain(path, layers, homes):
            flat.add(path)
    return flat


def _not_a_chain(path: str, layers: list, homes: dict) -> bool:
    order = []  # members in the order first called
    state = "before"
    for n in layers:
        member = _member(homes[n], path)
        if member is None:
            if state == "inside":
                state = "after"
            continue
        if state == "after":
            return True  # re-entered after the parent did something else: interleaved with other calls
        state = "inside"
        if not order or order[-1] != member:
            if member in order:
                return True
            order.append(member)
        for a in n.all_input_nodes:
            if a in homes and _member(homes[a], path) is None and member != order[0]:
                return True  # a later member reads from outside: members side by side
    # A member other than the last read from outside the container: its output leaves the chain.
    last = order[-1] if order else None
    for n in layers:
        member = _member(homes[n], path)
        if member is None or member == last:
            continue
        if any(u in homes and _member(homes[u], path) is None for u in n.users):
            return True
    return False


def flat_path(path: str, flat: set) -> str:
    """`convs.1.weight` -> `convs_1.weight` when `convs` is flat (and so on down the path)."""
    if not flat or not path:
        return path
    parts = path.split(".")
    out, original = [parts[0]], parts[0]
    for part in parts[1:]:
        if original in flat:
            out[-1] = f"{out[-1]}_{part}"
        else:
            out.append(part)
        original = f"{original}.{part}"
    return ".".join(out)
