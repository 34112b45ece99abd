"""Functional calls that read their own module's weights, recognised as the registry layer they are.

timm and others write norms and linears as subclasses whose forward calls the functional form with the
module's own tensors: BatchNormAct2d -> `F.batch_norm(x, self.running_mean, self.running_var,
self.weight, self.bias, ...)` then an activation, LayerNorm2d -> permute, `F.layer_norm(..., self.weight,
self.bias, ...)`, permute. Such a call whose tensors are exactly its module's whole state, read once, is
that module's layer: it gets the module's name (so the state_dict keys stay the same), and the module's
other calls (the activation, the permutes) move to its parent, unnamed. The module is "dissolved": it is
no block of its own, since a block and the layer would share one name.

`mark_own_weights` (run first by patterns.rewrite) leaves the fx graph as it is and records the decision in
node meta: OWN_LAYER on the call (the Layer), OWNED on the get_attr nodes it reads, UNNAMED on stateless
submodule calls inside a dissolved module.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import fx

from .fxnodes import node_arg as _arg
from .fxnodes import node_shape as _shape
from .registry import Layer, int_or_tuple, t_

OWN_LAYER = "nnlang_own_layer"  # call node meta: (Layer, owner qualname)
OWNED = "nnlang_owned"  # get_attr node meta: read by its owner's own layer
UNNAMED = "nnlang_unnamed"  # call_module node meta: a stateless part of a dissolved module

# function -> {argument index: (keyword, the owner's attribute it must be)}
_SLOTS = {
    F.batch_norm: {1: ("running_mean", "running_mean"), 2: ("running_var", "running_var"),
                   3: ("weight", "weight"), 4: ("bias", "bias")},
    F.layer_norm: {2: ("weight", "weight"), 3: ("bias", "bias")},
    F.group_norm: {2: ("weight", "weight"), 3: ("bias", "bias")},
    F.linear: {1: ("weight", "weight"), 2: ("bias", "bias")},
    F.conv1d: {1: ("weight", "weight"), 2: ("bias", "bias")},
    F.conv2d: {1: ("weight", "weight"), 2: ("bias", "bias")},
    F.conv3d: {1: ("weight", "weight"), 2: ("bias", "bias")},
    F.embedding: {1: ("weight", "weight")},
}
_IGNORED_STATE = frozenset(("num_batches_tracked",))  # BatchNorm's counter: the layer has it too


def _innermost(node: fx.Node):
    """(key, qualname) of the module whose forward made this node, or None."""
    stack = list((node.meta.get("nn_module_stack") or {}).items())
    return (stack[-1][0], stack[-1][1][0]) if stack else None


def _read_state(node: fx.Node, slots: dict):
    """{attribute: get_attr node} the call reads in its slots, and their owner; None if any slot holds
    something else than its owner's attribute of that name (or the owners differ)."""
    found, owner = {}, None
    for index, (keyword, attr) in slots.items():
        v = _arg(node, index, keyword)
        if v is None:
            continue
        if not (isinstance(v, fx.Node) and v.op == "get_attr" and len(v.users) == 1):
            return None
        who, _, name = v.target.rpartition(".")
        if name != attr or (owner is not None and who != owner):
            return None
        owner = who
        found[attr] = v
    return (found, owner) if found else None


def _layer(node: fx.Node, reads: dict, module) -> Layer | None:
    """The registry layer of the functional call, or None where it is not one."""
    fn, x = node.target, node.args[0] if node.args else None
    x_shape = _shape(x)
    if x_shape is None:
        return None
    w = reads.get("weight")
    if fn is F.batch_norm:
        stats = "running_mean" in reads and "running_var" in reads
        training = bool(_arg(node, 5, "training", False))
        if stats == training or ("weight" in reads) != ("bias" in reads) or len(x_shape) not in (2, 3, 4, 5):
            return None  # eval with running statistics, or batch statistics without any: the layer's two modes
        rank = {2: 1, 3: 1, 4: 2, 5: 3}[len(x_shape)]
        return Layer(f"BatchNorm{rank}d", {"eps": float(_arg(node, 7, "eps", 1e-5)),
                                           "momentum": getattr(module, "momentum", 0.1),
                                           "affine": "weight" in reads, "track_running_stats": stats}, [x])
    if fn is F.layer_norm:
        if w is None and "bias" in reads:
            return None
        return Layer("LayerNorm", {"normalized_shape": t_(_arg(node, 1, "normalized_shape")),
                                   "eps": float(_arg(node, 4, "eps", 1e-5)), "elementwise_affine": w is not None,
                                   "bias": "bias" in reads or w is None}, [x])
    if fn is F.group_norm:
        if (w is None) != ("bias" not in reads):
            return None
        return Layer("GroupNorm", {"num_groups": _arg(node, 1, "num_groups"), "eps": float(_arg(node, 4, "eps", 1e-5)),
                                   "affine": w is not None}, [x])
    if w is None:
        return None
    w_shape = _shape(w)
    if fn is F.linear:
        return Layer("Linear", {"out_features": w_shape[0], "bias": "bias" in reads}, [x])
    if fn is F.embedding:
        return Layer("Embedding", {"num_embeddings": w_shape[0], "embedding_dim": w_shape[1],
                                   "padding_idx": _arg(node, 2, "padding_idx"), "max_norm": _arg(node, 3, "max_norm"),
                                   "norm_type": float(_arg(node, 4, "norm_type", 2.0)),
                                   "scale_grad_by_freq": bool(_arg(node, 5, "scale_grad_by_freq", False)),
                                   "sparse": bool(_arg(node, 6, "sparse", False))}, [x])
    n = {F.conv1d: 1, F.conv2d: 2, F.conv3d: 3}[fn]
    sizes = [_arg(node, 3, "stride", 1), _arg(node, 4, "padding", 0), _arg(node, 5, "dilation", 1),
             _arg(node, 6, "groups", 1)]
    if any(isinstance(v, fx.Node) for v in sizes) or len(x_shape) != n + 2:
        return None
    stride, padding, dilation, groups = sizes
    padding = padding if isinstance(padding, str) else int_or_tuple(padding)
    return Layer(f"Conv{n}d", {"out_channels": w_shape[0], "kernel": int_or_tuple(w_shape[2:]),
                               "stride": int_or_tuple(stride), "dilation": int_or_tuple(dilation),
                               "bias": "bias" in reads, "padding": padding, "groups": groups}, [x])


def mark_own_weights(gm: fx.GraphModule) -> None:
    modules = dict(gm.named_modules())
    dissolved = {}  # owner qualname -> its nn_module_stack key
    for node in list(gm.graph.nodes):
        slots = _SLOTS.get(node.target) if node.op == "call_function" else None
        if slots is None:
            continue
        found = _read_state(node, slots)
        inner = _innermost(node)
        if found is None or inner is None or inner[1] != found[1] or "@" in inner[0] or found[1] in dissolved:
            continue
        reads, owner = found
        module = modules.get(owner)
        state = {k for k, _ in module.named_parameters(recurse=False)}
        state |= {k for k, _ in module.named_buffers(recurse=False)}
        if state - _IGNORED_STATE != set(reads):
            continue  # more state than the call reads: a layer of its own would lose it
        if any(_has_state(m) for m in module.children()):
            continue
        layer = _layer(node, reads, module)
        if layer is None and node.target is F.group_norm and set(reads) == {"weight"}:
            node = _unbiased_group_norm(gm.graph, node, reads["weight"])
            layer = node.meta[OWN_LAYER][0]
        if layer is None:
            continue
        node.meta[OWN_LAYER] = (layer, owner)
        for v in reads.values():
            v.meta[OWNED] = True
        dissolved[owner] = inner[0]
    if dissolved:
        _dissolve(gm.graph, dissolved)


def scale_channels(x, w):
    """Marker: x * w along dim 1 (what F.group_norm's weight does), should the graph run again."""
    return x * w.view(1, -1, *([1] * (x.dim() - 2)))


def _unbiased_group_norm(graph: fx.Graph, node: fx.Node, w: fx.Node) -> fx.Node:
    """F.group_norm(x, g, self.weight, None) (timm's GroupNorm1NoBias): the layer has no bias=false, so an
    unnamed GroupNorm(affine=false) then the owner's Scale(bias=false) (its weight keeps the key)."""
    node.args = (node.args[0], _arg(node, 1, "num_groups"), None, None, _arg(node, 4, "eps", 1e-5))
    node.kwargs = {}
    with graph.inserting_after(node):
        scaled = graph.call_function(scale_channels, (node, w))
    scaled.meta = dict(node.meta)
    node.replace_all_uses_with(scaled, delete_user_cb=lambda user: user is not scaled)
    scaled.meta[OWN_LAYER] = (Layer("Scale", {"bias": False, "axis": 1}, [node]), None)
    return scaled


def _has_state(module) -> bool:
    return any(True for _ in module.parameters()) or any(True for _ in module.buffers())


def _dissolve(graph: fx.Graph, dissolved: dict) -> None:
    """Take the dissolved modules out of every node's module stack; their submodule calls go unnamed."""
    keys = set(dissolved.values())
    owners = tuple(owner + "." for owner in dissolved)
    for node in graph.nodes:
        stack = node.meta.get("nn_module_stack")
        # The module and its (stateless) submodules traced through, e.g. timm's own GELU class: no blocks.
        if stack and (keys.intersection(stack) or any(v[0].startswith(owners) for v in stack.values())):
            own = node.target if node.op == "call_module" else None  # (a module call keeps its own entry)
            node.meta["nn_module_stack"] = {k: v for k, v in stack.items()
                                            if k not in keys and (v[0] == own or not v[0].startswith(owners))}
        if node.op == "call_module" and any(node.target.startswith(owner + ".") for owner in dissolved):
            node.meta[UNNAMED] = True
