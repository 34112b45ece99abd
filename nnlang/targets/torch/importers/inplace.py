"""In-place methods made functional before the other rewrites: `x.add_(y)` returns x changed, and every later
read of x reads the changed tensor; fx records the call as one more node and treats it as pure, so a result
nobody reads (NaFlexViT's `x.add_(pos_embed_flat)`) would be dropped as dead code and later reads would see x
unchanged. The later reads of x are made to read the in-place call's node instead, which is what they read.

Left as it is when the change reaches a tensor through a view (x a view of a base read later, or a view of x
taken before the call and read after it): the new value of those tensors is not a node of the graph.
"""

from __future__ import annotations

import operator

from torch import fx

# methods returning a view of their input (a change through either shows in the other)
_VIEWS = frozenset({"view", "reshape", "flatten", "unflatten", "transpose", "permute", "unsqueeze", "squeeze",
                    "expand", "narrow", "select", "t", "as_strided", "split", "chunk", "unbind", "view_as",
                    "contiguous", "detach"})


def _is_view(n: fx.Node) -> bool:
    if n.op == "call_method":
        return n.target in _VIEWS
    return n.op == "call_function" and n.target is operator.getitem


def functionalize_inplace(g: fx.Graph) -> None:
    """Run on the traced graph before any dead-code pass (load._trace)."""
    order = {n: i for i, n in enumerate(g.nodes)}
    for n in list(g.nodes):
        if n.op != "call_method" or not isinstance(n.target, str) or not n.target.endswith("_") \
                or n.target.startswith("_") or not n.args:
            continue
        x = n.args[0]
        if not isinstance(x, fx.Node) or x.op == "get_attr" or _aliased_after(x, n, order):
            continue  # a parameter changed in forward stays what it is (refused as a read of it)
        for u in [u for u in x.users if u is not n and order.get(u, -1) > order[n]]:
            u.replace_input_with(x, n)


def _read_after(node: fx.Node, n: fx.Node, order: dict, but: fx.Node) -> bool:
    return any(u is not but and order.get(u, -1) > order[n] for u in node.users)


def _aliased_after(x: fx.Node, n: fx.Node, order: dict) -> bool:
    """Does a tensor sharing x's storage (a base x is a view of, a view of x) get read after n?"""
    for v in x.users:
        if v is not n and _is_view(v) and order.get(v, -1) < order[n] and _read_after(v, n, order, v):
            return True
    b = x
    while _is_view(b) and b.args and isinstance(b.args[0], fx.Node):
        base = b.args[0]
        if _read_after(base, n, order, b):
            return True
        b = base
    return False
