"""Rewrites of small idioms of real model code into calls that have a registry layer, run by patterns.rewrite.

* `torch.stack(xs, d)` read only by `.mean(d)` / `.sum(d)` over that dim -> Average / Add of the xs
  (crossvit's head ensemble); any other stack -> `torch.cat([x.unsqueeze(d) ...], d)` (Unsqueeze, Concat:
  the same values; the language has no Stack layer).
* `x.reshape_as(y)` -> `x.reshape(<y's traced shape>)`: the reshape importer then decides the layer.
* `torch.rsqrt(x)` -> `torch.reciprocal(torch.sqrt(x))`: Sqrt, Reciprocal (timm's RmsNorm2d, mobilenetv5).

The rewritten nodes keep the replaced node's meta (shape, module stack, source line).
"""

from __future__ import annotations

import torch
from torch import fx
from torch.fx.passes.shape_prop import _extract_tensor_metadata

from .fxnodes import node_arg as _arg
from .fxnodes import node_shape as _shape


def rewrite_idioms(gm: fx.GraphModule) -> None:
    g = gm.graph
    for node in list(g.nodes):
        _stack(g, node)
    for node in list(g.nodes):
        _reshape_as(g, node)
    for node in list(g.nodes):
        _rsqrt(g, node)


def _reduced_over(user: fx.Node, dim: int, rank: int):
    """"mean" / "sum" when user is x.mean(dim) / x.sum(dim) / torch.mean(x, dim) over exactly `dim`, no keepdim."""
    if user.op == "call_method" and user.target in ("mean", "sum"):
        kind = user.target
    elif user.op == "call_function" and user.target in (torch.mean, torch.sum):
        kind = user.target.__name__
    else:
        return None
    d = _arg(user, 1, "dim")
    if isinstance(d, (tuple, list)) and len(d) == 1:
        d = d[0]
    if not isinstance(d, int) or d % rank != dim % rank or _arg(user, 2, "keepdim", False):
        return None
    if user.kwargs.get("dtype") is not None or len(user.args) > 3:
        return None
    return kind


def _stack(g: fx.Graph, node: fx.Node) -> None:
    if not (node.op == "call_function" and node.target is torch.stack):
        return
    from .patterns import add_n, average  # (patterns imports this module)

    xs, dim = _arg(node, 0, "tensors"), _arg(node, 1, "dim", 0)
    out = _shape(node)
    if (not isinstance(xs, (list, tuple)) or not xs or not isinstance(dim, int) or out is None
            or not all(_shape(x) is not None for x in xs) or set(node.kwargs) - {"tensors", "dim"}):
        return
    users = list(node.users)
    kind = _reduced_over(users[0], dim, len(out)) if len(users) == 1 else None
    if kind is not None and len(xs) > 1:
        user = users[0]
        with g.inserting_before(user):
            new = g.call_function(average if kind == "mean" else add_n, tuple(xs))
        new.meta = dict(user.meta)
        user.replace_all_uses_with(new)
        g.erase_node(user)
        g.erase_node(node)
        return
    pieces = []
    for x in xs:
        with g.inserting_before(node):
            piece = g.call_method("unsqueeze", (x, dim))
        value = torch.empty(_shape(x), dtype=x.meta["tensor_meta"].dtype, device="meta").unsqueeze(dim)
        piece.meta = dict(node.meta, tensor_meta=_extract_tensor_metadata(value))
        pieces.append(piece)
    with g.inserting_before(node):
        new = g.call_function(torch.cat, (pieces, dim))
    new.meta = dict(node.meta)
    node.replace_all_uses_with(new)
    g.erase_node(node)


def _reshape_as(g: fx.Graph, node: fx.Node) -> None:
    if not (node.op == "call_method" and node.target == "reshape_as" and len(node.args) == 2):
        return
    x, other = node.args
    shape = _shape(node)
    if shape is None or _shape(x) is None:
        return
    with g.inserting_before(node):
        new = g.call_method("reshape", (x, shape))
    new.meta = dict(node.meta)
    node.replace_all_uses_with(new)
    g.erase_node(node)


def _rsqrt(g: fx.Graph, node: fx.Node) -> None:
    if not (node.op == "call_function" and node.target is torch.rsqrt or node.op == "call_method"
            and node.target == "rsqrt") or len(node.args) != 1 or node.kwargs or _shape(node) is None:
        return
    with g.inserting_before(node):
        root = g.call_function(torch.sqrt, (node.args[0],))
        new = g.call_function(torch.reciprocal, (root,))
    root.meta = dict(node.meta)
    new.meta = dict(node.meta)
    node.replace_all_uses_with(new)
    g.erase_node(node)
