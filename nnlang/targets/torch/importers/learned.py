"""The learned-tensor layers (PositionalEmbedding, ClassToken, LayerScale), StochasticDepth and LayerNorm2d.

StochasticDepth and LayerNorm2d are modules (nnlang's emitted code constructs them as nnlang_modules).
The learned tensors are bare parameters that forward reads (fx `get_attr`), as torchvision and timm write
them: `x + self.pos_embedding`, `torch.cat((self.class_token.expand(n, -1, -1), x), dim=1)`,
`self.layer_scale * x`. `rewrite_parameters` (run first by patterns.rewrite) finds each such use with one
small registered pattern and replaces the consuming call by a marker call whose importer gives the layer;
the parameter's own name becomes the layer's (its state_dict key is the layer's path, as in .nns; read by
another module than its owner, the layer is placed where it is read and the rename table keeps the key). A
parameter read in any other way stays refused.
"""

from __future__ import annotations

import operator

import torch
from torch import fx

from ....layers.window import window_of
from .fxnodes import node_shape as _shape
from .registry import Call, Layer, call_importer, function_key, module_importer


@module_importer("StochasticDepth")
def stochastic_depth(m, ins):
    return Layer("StochasticDepth", {"p": float(m.p), "mode": m.mode})


@module_importer("LayerNorm2d")
def layer_norm_2d(m, ins):
    return Layer("LayerNorm2d", {"eps": float(m.eps), "elementwise_affine": m.elementwise_affine})


# ---- markers: what a recognised use of a parameter becomes ---------------------------------------
# (Each computes what the calls it replaces did, should the graph run again.)

def positional_embedding(x, p):
    return x + p


def class_token(x, p):
    return torch.cat((p.expand(x.shape[0], -1, -1), x), dim=1)  # P [1, K, D]


def layer_scale(x, p, shape=None):
    return x * (p if shape is None else p.reshape(shape))


def relative_position_bias(x, p, window, index_key=None):
    from ..modules import relative_position_index

    n = window[0] * window[1]
    return x + p[relative_position_index(*window).to(p.device)].view(n, n, -1).permute(2, 0, 1)


_MARKERS = (positional_embedding, class_token, layer_scale, relative_position_bias)


def _layer_scale_axis(x_shape: tuple, p_shape: tuple):
    """The channel axis of x that a [C, 1, ..., 1] multiplier runs along (the dims after it broadcast), or
    None. Written as .nns does: 1 for channels first, -1 for the last dim of a longer input."""
    if not p_shape or any(d != 1 for d in p_shape[1:]):
        return None
    axis = len(x_shape) - len(p_shape)
    if axis < 1 or x_shape[axis] != p_shape[0]:
        return None
    return -1 if axis == len(x_shape) - 1 and axis != 1 else axis


@call_importer(function_key(positional_embedding))
def _positional_embedding(call: Call):
    return Layer("PositionalEmbedding", {}, [call.args[0]], path=call.args[1].target)


@call_importer(function_key(class_token))
def _class_token(call: Call):
    k = call.shape(call.args[1])[1]
    return Layer("ClassToken", {"tokens": k} if k != 1 else {}, [call.args[0]], path=call.args[1].target)


@call_importer(function_key(layer_scale))
def _layer_scale(call: Call):
    x, p = call.args[:2]
    p_shape = call.shape(p) if len(call.args) < 3 else _without_leading_ones(call.args[2])
    return Layer("LayerScale", {"axis": _layer_scale_axis(call.shape(x), p_shape)}, [x], path=p.target)


@call_importer(function_key(relative_position_bias))
def _relative_position_bias(call: Call):
    x, p, window = call.args
    owner = p.target.rpartition(".")[0]
    here = f"{owner}.relative_position_bias" if owner else "relative_position_bias"
    keys = {"relative_position_bias_table": p.target}
    index = call.kwargs.get("index_key")
    if index:
        keys["relative_position_index"] = index
    return Layer("RelativePositionBias", {"window": tuple(window)}, [x], path=here, keys=keys)


def _without_leading_ones(shape) -> tuple:
    shape = tuple(shape)
    while len(shape) > 1 and shape[0] == 1:
        shape = shape[1:]
    return shape


# ---- the patterns ----------------------------------------------------------------------------------

_PATTERNS: list = []  # fn(param node, user node) -> (marker, x, the node it replaces) or None


def parameter_pattern(fn):
    _PATTERNS.append(fn)
    return fn


def _binary(user: fx.Node, p: fx.Node, targets: tuple):
    """The other operand of `p <op> x` / `x <op> p` (a plain binary call, no alpha=), or None."""
    if user.op != "call_function" or user.target not in targets or user.kwargs or len(user.args) != 2:
        return None
    a, b = user.args
    x = b if a is p else a if b is p else None
    return x if isinstance(x, fx.Node) and x is not p and _shape(x) is not None else None


@parameter_pattern
def _added(p: fx.Node, user: fx.Node):
    """x + P with P [1, T, D] for x [N, T, D]: PositionalEmbedding."""
    x = _binary(user, p, (operator.add, torch.add))
    shape = _shape(x) if x is not None else None
    if shape is None or len(shape) < 2 or _shape(p) != (1, *shape[1:]) or _shape(user) != shape:
        return None
    return positional_embedding, x, user


@parameter_pattern
def _scaled(p: fx.Node, user: fx.Node):
    """P * x with P [C, 1, 1] for x [N, C, H, W], or [D] on x's last dim: LayerScale."""
    x = _binary(user, p, (operator.mul, torch.mul))
    shape = _shape(x) if x is not None else None
    if shape is None or _layer_scale_axis(shape, _shape(p)) is None or _shape(user) != shape:
        return None
    return layer_scale, x, user


_MUL_METHODS = ("mul", "mul_")


@parameter_pattern
def _scaled_reshaped(p: fx.Node, user: fx.Node):
    """x * P.view(1, -1, 1, 1) (or x.mul(...)): LayerScale along the axis the reshaped P runs on."""
    if user.op != "call_method" or user.target not in ("view", "reshape") or len(user.users) != 1:
        return None
    shape = _shape(user)
    mul = next(iter(user.users))
    if mul.op == "call_method" and mul.target in _MUL_METHODS and len(mul.args) == 2 and mul.args[1] is user \
            and not mul.kwargs:
        x = mul.args[0]
    else:
        x = _binary(mul, user, (operator.mul, torch.mul))
    x_shape = _shape(x) if isinstance(x, fx.Node) else None
    if x_shape is None or shape is None or _shape(mul) != x_shape:
        return None
    if _layer_scale_axis(x_shape, _without_leading_ones(shape)) is None:
        return None
    return layer_scale, x, mul, shape


@parameter_pattern
def _prepended(p: fx.Node, user: fx.Node):
    """torch.cat((P.expand(n, -1, -1), x), dim=1) with P [1, K, D]: ClassToken (tokens=K). The expand's sizes
    are size computations (x.shape[0], x.size(0)) that go with it; the cat's shape says it fits x. Tokens in
    front of it (`cat((cls.expand(..), reg.expand(..), x))`) stay a cat, then each is taken in turn; other
    reads of the expanded token after the cat (CaiT's class-attention blocks: `cat((t, x))` and `t + ...`)
    are the cat's first K rows."""
    if user.op != "call_method" or user.target != "expand" or user.args[0] is not p:
        return None
    cats = [u for u in user.users if u.op == "call_function" and u.target is torch.cat]
    if len(cats) != 1:
        return None
    cat = cats[0]
    tensors = cat.args[0] if cat.args else cat.kwargs.get("tensors")
    dim = cat.args[1] if len(cat.args) > 1 else cat.kwargs.get("dim", 0)
    if not isinstance(tensors, (tuple, list)) or len(tensors) < 2 or tensors[-2] is not user \
            or list(tensors).count(user) != 1 or dim not in (1, -2):
        return None
    x = tensors[-1]
    shape = _shape(x) if isinstance(x, fx.Node) else None
    p_shape = _shape(p)
    if shape is None or len(shape) != 3 or p_shape is None or len(p_shape) != 3 \
            or p_shape[::2] != (1, shape[2]) or _shape(user) != (shape[0], p_shape[1], shape[2]):
        return None
    order = {n: i for i, n in enumerate(cat.graph.nodes)}
    if any(order.get(u, -1) < order[cat] for u in user.users if u is not cat):
        return None  # read before the cat: nothing to take its rows from
    return class_token, x, cat


def _chain_user(node: fx.Node):
    """The one reader of node, or None."""
    return next(iter(node.users)) if len(node.users) == 1 else None


def _stored_tensor(gm, node):
    """The tensor a get_attr node (possibly through .view(-1) / .flatten()) reads, and its get_attr target."""
    if node.op == "call_method" and node.target in ("view", "reshape", "flatten") and isinstance(node.args[0], fx.Node):
        node = node.args[0]
    if node.op != "get_attr":
        return None, None
    t = _attribute(gm, node.target)
    return (t, node.target) if isinstance(t, torch.Tensor) else (None, None)


@parameter_pattern
def _relative_bias_added(p: fx.Node, user: fx.Node):
    """logits + table[index].view(n, n, -1).permute(2, 0, 1) (then .contiguous(), .unsqueeze(0)), the index a
    stored tensor equal to Swin's relative_position_index of a window of n tokens (MaxViT's attention):
    RelativePositionBias."""
    if user.op != "call_function" or user.target is not operator.getitem or user.args[0] is not p \
            or not isinstance(user.args[1], fx.Node):
        return None
    gm = p.graph.owning_module
    index, index_target = _stored_tensor(gm, user.args[1])
    table = _attribute(gm, p.target)
    if index is None or table.dim() != 2 or index.dtype not in (torch.int64, torch.int32):
        return None
    heads = table.shape[1]
    node, n = user, int(round(index.numel() ** 0.5))
    view = _chain_user(node)
    if view is None or view.op != "call_method" or view.target not in ("view", "reshape") \
            or _shape(view) != (n, n, heads):
        return None
    perm = _chain_user(view)
    dims = tuple(perm.args[1:]) if perm is not None and perm.op == "call_method" and perm.target == "permute" else ()
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    if dims != (2, 0, 1):
        return None
    last = perm
    for _ in range(2):  # .contiguous() and .unsqueeze(0), in either order (torchvision's, timm's)
        nxt = _chain_user(last)
        if nxt is not None and nxt.op == "call_method" and (nxt.target == "contiguous" or (
                nxt.target == "unsqueeze" and tuple(nxt.args[1:]) == (0,))):
            last = nxt
    add = _chain_user(last)
    x = _binary(add, last, (operator.add, torch.add)) if add is not None else None
    shape = _shape(x) if x is not None else None
    if shape is None or len(shape) < 3 or tuple(shape[-3:]) != (heads, n, n) or _shape(add) != shape:
        return None
    window = window_of(table.shape[0], index.reshape(-1).tolist(), n)
    if window is None:
        return None
    # the index's key: the buffer read, or (fx made it a constant) the owner's buffer of Swin's name; the
    # rebuild takes it only when it holds the same values
    owner = p.target.rpartition(".")[0]
    key = index_target if index_target and not index_target.startswith("_tensor_constant") \
        else f"{owner}.relative_position_index" if owner else "relative_position_index"
    return relative_position_bias, x, add, tuple(window), key


def _prepended_rest(g: fx.Graph, p: fx.Node, cat: fx.Node, new: fx.Node) -> fx.Node:
    """After `cat` became ClassToken `new`: the tokens before it stay a cat, the expand's other reads
    become `new[:, :K]`. Returns what replaces the cat."""
    from torch.fx.passes.shape_prop import _extract_tensor_metadata

    tensors = list(cat.args[0] if cat.args else cat.kwargs.get("tensors"))
    expand, x = tensors[-2:]
    k = _shape(p)[1]
    meta = cat.meta.get("tensor_meta")
    n, t, d = _shape(x)
    new.meta["tensor_meta"] = _extract_tensor_metadata(torch.empty((n, t + k, d), dtype=meta.dtype, device="meta"))
    rows = [u for u in expand.users if u is not cat]
    if rows:
        with g.inserting_after(new):
            first = g.call_function(operator.getitem, (new, (slice(None), slice(None, k))))
        first.meta = dict(cat.meta, tensor_meta=expand.meta["tensor_meta"])
        for u in rows:
            u.replace_input_with(expand, first)
    if len(tensors) == 2:
        return new
    with g.inserting_before(cat):
        rest = g.call_function(torch.cat, (tensors[:-2] + [new],), {"dim": 1})
    rest.meta = dict(cat.meta)
    return rest


def rewrite_parameters(gm: fx.GraphModule) -> None:
    """Replace each recognised use of a parameter by its marker call (dead size computations and expands
    go with patterns.rewrite's dead-code pass), until none is left: a rewrite may open another (the
    second of two tokens in one cat). Buffers are never layers: a fixed table is not learned."""
    g = gm.graph
    changed = True
    while changed:
        changed = False
        for p in [n for n in g.nodes if n.op == "get_attr"]:
            if not isinstance(_attribute(gm, p.target), torch.nn.Parameter):
                continue
            for user in list(p.users):
                found = next((f for f in (pattern(p, user) for pattern in _PATTERNS) if f is not None), None)
                if found is None:
                    continue
                marker, x, old, *extra = found
                kwargs = {}
                if marker is relative_position_bias:  # the index buffer's key: a keyword the marker's importer reads
                    extra, kwargs = extra[:1], {"index_key": extra[1]} if extra[1] else {}
                with g.inserting_before(old):
                    new = g.call_function(marker, (x, p, *extra), kwargs)
                new.meta = dict(old.meta)
                if marker is class_token:
                    new = _prepended_rest(g, p, old, new)
                old.replace_all_uses_with(new)
                g.erase_node(old)
                changed = True


def _attribute(gm: fx.GraphModule, target: str):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part, None)
    return obj


def parameter_problem(node: fx.Node):
    """Why a get_attr node cannot be imported, or None when it is a learned-tensor layer's own tensor."""
    users = list(node.users)
    ours = [u for u in users if u.op == "call_function" and u.target in _MARKERS and u.args[1] is node]
    if users and len(ours) == len(users):
        if len(users) > 1:
            return f"the parameter {node.target!r} is read {len(users)} times; .nns has no weight sharing"
        return None
    if str(node.target).startswith("_tensor_constant"):
        readers = ", ".join(sorted({_reader(u) for u in users})) or "nothing"
        return (f"a tensor forward makes from sizes or literals alone (a sin-cos table, a mask), a constant of the "
                f"trace, is read by {readers}: only elementwise ops take a constant operand")
    return f"forward reads the parameter or buffer {node.target!r} directly; .nns layers own their weights"


def _reader(node: fx.Node) -> str:
    if node.op == "call_module":
        return f"the module {node.target}"
    if node.op == "call_method":
        return f".{node.target}()"
    return getattr(node.target, "__name__", str(node.target))


def parameter_name(scope_path: str, target: str) -> str:
    """The layer name of parameter `target` read by a call in the module at scope_path: its own name. Read by
    its owner, the state_dict key stays the same; read by another module (PiT's `cls_token`, read where the
    first stage prepends it), the layer is placed where it is read and the converter's rename table maps
    the new key to the module's."""
    name = target.rpartition(".")[2]
    if name.startswith("_tensor_constant"):  # a tensor forward made (torch.tensor(...)), fx's name for it
        return "constant" + name[len("_tensor_constant"):]
    return name
