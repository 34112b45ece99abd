"""Rewrites of attention as real model code writes it (timm's Attention and its relatives), run by
patterns.rewrite before conversion.

* `q, k, v = qkv.unbind(0)` -> one `qkv.select(0, i)` per piece: each is a Select layer (the tuple itself
  has no layer; fx reads its pieces with getitem).
* `softmax((q * scale) @ k.transpose(-2, -1), dim=-1) @ v` (the scale on q, on the scores or absent; an
  eval-mode Dropout on the weights) -> `F.scaled_dot_product_attention(q, k, v, scale=scale)`: the
  ScaledDotProductAttention layer, which is what the fused path of the same module calls.

The rewritten nodes keep the replaced node's meta (shape, module stack, source line).
"""

from __future__ import annotations

import operator

import torch
import torch.nn.functional as F
from torch import fx, nn

from .fxnodes import node_arg as _arg
from .fxnodes import node_shape as _shape


def rewrite_attention(gm: fx.GraphModule) -> None:
    g = gm.graph
    modules = dict(gm.named_modules())
    for node in list(g.nodes):
        _unbind(g, node)
    for node in list(g.nodes):
        _explicit_attention(g, node, modules)


# -- unbind

def _unbind(g: fx.Graph, node: fx.Node) -> None:
    if not (node.op == "call_method" and node.target == "unbind"
            or node.op == "call_function" and node.target is torch.unbind):
        return
    x, dim = node.args[0], _arg(node, 1, "dim", 0)
    if _shape(x) is None or not isinstance(dim, int):
        return
    users = list(node.users)
    # Only pieces read by index: the tuple as a whole (returned, passed on) has no layer.
    if not all(u.op == "call_function" and u.target is operator.getitem and isinstance(u.args[1], int)
               for u in users):
        return
    for user in users:
        with g.inserting_before(user):
            new = g.call_method("select", (x, dim, user.args[1]))
        new.meta = dict(user.meta)
        user.replace_all_uses_with(new)
        g.erase_node(user)
    g.erase_node(node)


# -- softmax(q @ k^T * scale) @ v

_MATMUL = (operator.matmul, torch.matmul)
_MUL = (operator.mul, torch.mul)


def _is_call(node, targets) -> bool:
    return isinstance(node, fx.Node) and node.op == "call_function" and node.target in targets and not node.kwargs


def _single(node) -> bool:
    return isinstance(node, fx.Node) and len(node.users) == 1


def _softmax_input(node: fx.Node, modules: dict):
    """x of softmax(x, dim=-1) in its method, functional or module form (no dtype), else None."""
    rank = len(_shape(node) or ())
    if node.op == "call_method" and node.target == "softmax" or _is_call_kw(node, (F.softmax, torch.softmax)):
        dim = _arg(node, 1, "dim")
        if node.kwargs.get("dtype") is not None or len(node.args) > 2 or set(node.kwargs) - {"dim", "dtype"}:
            return None
    elif node.op == "call_module" and type(modules.get(node.target)) is nn.Softmax:
        dim = modules[node.target].dim
    else:
        return None
    return node.args[0] if isinstance(dim, int) and rank and dim % rank == rank - 1 else None


def _is_call_kw(node, targets) -> bool:
    return isinstance(node, fx.Node) and node.op == "call_function" and node.target in targets


def _scaled(node):
    """(x, factor) of `x * factor` / `factor * x` with a Python number, else (node, None)."""
    if _is_call(node, _MUL) and len(node.args) == 2:
        a, b = node.args
        for x, s in ((a, b), (b, a)):
            if isinstance(x, fx.Node) and isinstance(s, (int, float)) and not isinstance(s, bool):
                return x, float(s)
    return node, None


def _key_transposed(node):
    """k of k.transpose(-2, -1) (either order, or the positive dims of the last two), else None."""
    if not (isinstance(node, fx.Node) and _single(node)):
        return None
    if node.op == "call_method" and node.target == "transpose" or _is_call_kw(node, (torch.transpose,)):
        k = node.args[0]
        rank = len(_shape(k) or ())
        dims = (_arg(node, 1, "dim0"), _arg(node, 2, "dim1"))
        if rank >= 3 and all(isinstance(d, int) for d in dims) and {d % rank for d in dims} == {rank - 2, rank - 1}:
            return k
    return None


def _dropout_input(node: fx.Node, modules: dict):
    """x of an nn.Dropout call (identity in eval mode, where the import runs), else None."""
    if node.op == "call_module" and isinstance(modules.get(node.target), nn.Dropout) and len(node.args) == 1:
        return node.args[0]
    return None


def _explicit_attention(g: fx.Graph, node: fx.Node, modules: dict) -> None:
    if not _is_call(node, _MATMUL) or len(node.args) != 2:
        return
    weights, v = node.args
    chain = []  # the nodes replaced, consumer first
    if isinstance(weights, fx.Node) and _single(weights) and _dropout_input(weights, modules) is not None:
        chain.append(weights)
        weights = _dropout_input(weights, modules)
    if not (isinstance(weights, fx.Node) and _single(weights)):
        return
    scores = _softmax_input(weights, modules)
    if not _single(scores):
        return
    chain.append(weights)
    inner, scale = _scaled(scores)  # (q @ k^T) * scale
    if scale is not None:
        chain.append(scores)
        scores = inner
        if not _single(scores):
            return
    if not _is_call(scores, _MATMUL) or len(scores.args) != 2:
        return
    chain.append(scores)
    q, kt = scores.args
    k = _key_transposed(kt)
    if k is None:
        return
    chain.append(kt)
    if scale is None and _single(q):
        q_inner, scale = _scaled(q)  # (q * scale) @ k^T
        if scale is not None:
            chain.append(q)
            q = q_inner
    shapes = [_shape(t) for t in (q, k, v)]
    if any(s is None for s in shapes) or len({len(s) for s in shapes}) != 1 or len(shapes[0]) < 3:
        return
    if shapes[0][-1] != shapes[1][-1] or shapes[1][-2] != shapes[2][-2]:
        return
    with g.inserting_before(node):  # (no factor written: 1, not SDPA's default 1 / sqrt(E))
        new = g.call_function(F.scaled_dot_product_attention, (q, k, v), {"scale": 1.0 if scale is None else scale})
    new.meta = dict(node.meta)
    node.replace_all_uses_with(new)
    g.erase_node(node)
    for old in chain:  # consumers first: each is unused once the one after it is gone
        if not old.users:
            g.erase_node(old)
