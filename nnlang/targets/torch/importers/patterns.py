"""Rewrites of the traced fx graph before conversion: idioms that take several calls in PyTorch and are
one registry layer (or one per axis), so the importer sees them as single calls.

* A functional call reading its own module's weights (F.batch_norm(x, self.running_mean, ...)) -> that
  module's layer (own_weights.py: only marked, run first).
* A parameter read in forward as a learned tensor (`x + self.pos_embedding`, the class token's expand
  and cat, `self.layer_scale * x`) -> that layer (learned.py, run first).
* `a + b + c` (left to right, each sum read once) -> one Add of three; the same for `*`, maximum, minimum.
* `(a + b) / 2` -> Average: a sum of k tensors divided by k.
* `x[:, 1:-1, None]` -> one getitem per axis (Slice, then Unsqueeze): each is a layer.
* `F.pad(x, pads)` read only by a Conv / MaxPool / AvgPool with no padding of its own -> that layer with
  the padding (explicit when symmetric, "same" when the pads are "same"'s), which is how the PyTorch
  target writes padding="same"; `pool(F.pad(x)) / pool(F.pad(ones))` is its AvgPool with
  count_include_pad=false. Other pads stay a Pad layer.

New nodes call the marker functions below (plain functions with importers of their own) and keep the
replaced node's meta: its shape, module stack and source line.
"""

from __future__ import annotations

import math
import operator

import torch
import torch.nn.functional as F
from torch import fx, nn

from ....layers.conv import resolve_pads
from .attention import rewrite_attention
from .constants import rewrite_constants
from .fxnodes import node_shape as _shape
from .idioms import rewrite_idioms
from .learned import rewrite_parameters
from .own_weights import OWN_LAYER, mark_own_weights
from .registry import PARAMS_META, Call, Layer, Unsupported, call_importer, function_key
from .shape import index_steps

# ---- markers: what the rewritten nodes call ------------------------------------------------------
# (Each computes what the calls it replaces did, in the same order, should the graph run again.)

def add_n(*xs):
    return _fold(operator.add, xs)


def mul_n(*xs):
    return _fold(operator.mul, xs)


def maximum_n(*xs):
    return _fold(torch.maximum, xs)


def minimum_n(*xs):
    return _fold(torch.minimum, xs)


def average(*xs):
    return add_n(*xs) / len(xs)


def _fold(fn, xs):
    out = xs[0]
    for x in xs[1:]:
        out = fn(out, x)
    return out


_MARKER_OPS = {add_n: "Add", mul_n: "Mul", maximum_n: "Maximum", minimum_n: "Minimum", average: "Average"}


def _marker_importer(op: str):
    def importer(call: Call):
        return Layer(op, {}, list(call.args))

    return importer


for _fn, _op in _MARKER_OPS.items():
    call_importer(function_key(_fn))(_marker_importer(_op))


# ---- the pass ------------------------------------------------------------------------------------

def rewrite(gm: fx.GraphModule, inputs: list) -> None:
    """Rewrite gm's graph in place (after shape propagation: the meta is read). `inputs`: the
    (name, shape, dtype) declarations; "same" padding with a stride is kept only where they fix the sizes."""
    g = gm.graph
    modules = dict(gm.named_modules())
    concrete = all(isinstance(d, int) for _name, shape, _dtype in inputs for d in shape[1:])
    mark_own_weights(gm)  # F.batch_norm(x, self.running_mean, ...): the module's own layer
    rewrite_parameters(gm)  # first: `x + pos_embedding + y` is a layer, then an Add
    rewrite_constants(gm)  # then the other tensor attributes an elementwise op reads (`x * self.scale`)
    rewrite_attention(gm)  # qkv.unbind(0) -> Selects; softmax(q @ k^T * s) @ v -> one attention layer
    rewrite_idioms(gm)  # torch.stack, reshape_as
    for node in list(g.nodes):
        _split_index(g, node)
    for node in list(g.nodes):
        _merge_chain(g, node)
    for node in list(g.nodes):
        _average(g, node)
    for node in list(g.nodes):
        _exclusive_avg_pool(g, node, modules, concrete)
    for node in list(g.nodes):
        _padded_layer(g, node, modules, concrete)
        _padded_call(g, node, concrete)
    g.eliminate_dead_code()


def _stack(node) -> list:
    return list((node.meta.get("nn_module_stack") or {}).keys())


def _replace(g: fx.Graph, old: fx.Node, fn, args: tuple) -> fx.Node:
    with g.inserting_before(old):
        new = g.call_function(fn, args)
    new.meta = dict(old.meta)
    old.replace_all_uses_with(new)
    g.erase_node(old)
    return new


# -- chains

_CHAIN_KINDS = {operator.add: add_n, torch.add: add_n, operator.mul: mul_n, torch.mul: mul_n,
                torch.maximum: maximum_n, torch.minimum: minimum_n}


def _operands(node: fx.Node, marker):
    """The tensors a node combines, if it is a binary call of the marker's kind or that marker itself."""
    if node.op != "call_function" or node.kwargs:
        return None
    if node.target is marker:
        return tuple(node.args)
    if _CHAIN_KINDS.get(node.target) is marker and len(node.args) == 2 and all(_shape(a) for a in node.args):
        return tuple(node.args)
    return None


def _merge_chain(g: fx.Graph, node: fx.Node) -> None:
    marker = _CHAIN_KINDS.get(node.target) if node.op == "call_function" else None
    ours = _operands(node, marker) if marker else None
    if not ours:
        return
    left = ours[0]
    theirs = _operands(left, marker) if isinstance(left, fx.Node) else None
    # Only a left operand (evaluation order kept: (a + b) + c), read here alone, in the same module.
    if not theirs or len(left.users) != 1 or _stack(left) != _stack(node):
        return
    _replace(g, node, marker, theirs + ours[1:])
    g.erase_node(left)


# -- Average

def _average(g: fx.Graph, node: fx.Node) -> None:
    if node.op != "call_function" or node.target not in (operator.truediv, torch.div, torch.true_divide):
        return
    if node.kwargs or len(node.args) != 2:
        return
    total, k = node.args
    if not isinstance(total, fx.Node) or isinstance(k, bool) or not isinstance(k, (int, float)):
        return
    terms = _operands(total, add_n)
    if not terms or len(terms) != k or len(total.users) != 1 or _stack(total) != _stack(node):
        return
    _replace(g, node, average, terms)
    g.erase_node(total)


# -- indexing

def _split_index(g: fx.Graph, node: fx.Node) -> None:
    if node.op != "call_function" or node.target is not operator.getitem:
        return
    shape = _shape(node.args[0])
    if shape is None or _shape(node) is None:
        return
    try:
        steps = index_steps(node.args[1], len(shape))
    except Unsupported:
        return  # the getitem importer says why
    if len(steps) < 2:
        return
    from torch.fx.passes.shape_prop import _extract_tensor_metadata

    meta = node.args[0].meta["tensor_meta"]
    value = torch.empty(shape, dtype=meta.dtype, device="meta")
    current = node.args[0]
    for op, params in steps:
        index = _single_index(op, params)
        value = value[index]
        with g.inserting_before(node):
            current = g.call_function(operator.getitem, (current, index))
        current.meta = dict(node.meta, tensor_meta=_extract_tensor_metadata(value))
    node.replace_all_uses_with(current)
    g.erase_node(node)


def _single_index(op: str, params: dict) -> tuple:
    """The index of one step of index_steps, as Python writes it (x[:, :, 3], x[..., None, :])."""
    if op == "Unsqueeze":
        axis, item = params["dim"], None
        if axis < 0:
            return (Ellipsis, None) + (slice(None),) * (-axis - 1)
    else:
        axis = params["axis"]
        item = params["index"] if op == "Select" else slice(params["start"], params["end"], params["step"])
    if axis < 0:
        return (Ellipsis, item) + (slice(None),) * (-axis - 1)
    return (slice(None),) * axis + (item,)


# -- padding folded into the layer that reads it

_PADDED = {nn.Conv1d: "conv", nn.Conv2d: "conv", nn.Conv3d: "conv", nn.MaxPool1d: "max", nn.MaxPool2d: "max",
           nn.MaxPool3d: "max", nn.AvgPool1d: "avg", nn.AvgPool2d: "avg", nn.AvgPool3d: "avg"}


def _windows(module):
    """(kind, kernel, stride, dilation) as n-tuples, if the module is one whose padding can be folded:
    no padding of its own, no ceil_mode (its last-window rule reads the implicit padding)."""
    kind = _PADDED.get(type(module))
    if kind is None:
        return None
    n = int(type(module).__name__[-2])

    def tup(v):
        return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n

    padding = module.padding
    if padding == "valid":
        padding = 0
    if isinstance(padding, str) or any(tup(padding)) or getattr(module, "ceil_mode", False):
        return None
    if kind == "avg" and getattr(module, "divisor_override", None) is not None:
        return None
    return kind, tup(module.kernel_size), tup(module.stride), tup(getattr(module, "dilation", 1))


def _pad_args(node):
    """(x, pads, value) of F.pad(x, pads) in constant mode, else None."""
    if not (isinstance(node, fx.Node) and node.op == "call_function" and node.target is F.pad):
        return None
    call = Call(node.target, tuple(node.args), dict(node.kwargs), _shape, None)
    if (call.arg(2, "mode", "constant") or "constant") != "constant":
        return None
    value = call.arg(3, "value")
    pads = call.arg(1, "pad")
    if not isinstance(pads, (tuple, list)) or not all(isinstance(p, int) for p in pads):
        return None
    return call.args[0], tuple(pads), 0.0 if value is None else float(value)


def _padding(windows, x, pads: tuple, concrete: bool):
    """The layer's padding parameter equivalent to padding x by pads: symmetric ints, or "same" when the
    pads are what "same" resolves to here (size-independent with stride 1, else only for fixed sizes)."""
    kind, kernel, stride, dilation = windows
    n = len(kernel)
    shape = _shape(x)
    if shape is None or len(pads) > 2 * n or min(pads, default=0) < 0:
        return None
    pads = pads + (0,) * (2 * n - len(pads))
    begin = tuple(pads[2 * (n - 1 - k)] for k in range(n))  # F.pad lists the last dim first
    end = tuple(pads[2 * (n - 1 - k) + 1] for k in range(n))
    if begin == end and (kind == "conv" or all(2 * p <= k for p, k in zip(begin, kernel))):
        return begin
    if all(s == 1 for s in stride) or concrete:
        same = resolve_pads("", "same", shape[-n:], kernel, stride, dilation)
        if begin + end == same:
            return "same"
    return None


def _padded_layer(g: fx.Graph, node: fx.Node, modules: dict, concrete: bool) -> None:
    if node.op != "call_module" or len(node.args) != 1 or node.kwargs:
        return
    windows = _windows(modules.get(node.target))
    found = _pad_args(node.args[0])
    if windows is None or found is None or len(node.args[0].users) != 1:
        return
    x, pads, value = found
    params = _pad_params(windows, x, pads, value, concrete)
    if params is not None:
        _set_input(g, node, x, params)


def _pad_params(windows, x, pads: tuple, value, concrete: bool):
    """The layer's params taking over an F.pad in front of it (the pad value is the window's neutral one:
    -inf before a max, 0 before an average or a conv), or None when its padding cannot say it."""
    if value != (-math.inf if windows[0] == "max" else 0.0):
        return None
    padding = _padding(windows, x, pads, concrete)
    if padding is None:
        return None
    params = {"padding": padding}
    if windows[0] == "avg":
        params["count_include_pad"] = True  # the zeros F.pad added count
    return params


_POOL_CALLS = {getattr(F, f"{kind}_pool{n}d"): (kind, n) for kind in ("max", "avg") for n in (1, 2, 3)}
_CONV_CALLS = {F.conv1d: 1, F.conv2d: 2, F.conv3d: 3}


def _call_windows(node: fx.Node):
    """(kind, kernel, stride, dilation) of F.max_pool2d / F.avg_pool2d without padding or ceil_mode of its own,
    or of a functional conv that is its module's own layer (timm's MaxPool2dSame, Conv2dSame: pad_same first)."""
    def tup(v, n):
        return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n

    if node.op != "call_function":
        return None
    if node.target in _POOL_CALLS:
        kind, n = _POOL_CALLS[node.target]
        call = Call(node.target, tuple(node.args), dict(node.kwargs), _shape, None)
        kernel = call.arg(1, "kernel_size")
        stride = call.arg(2, "stride") or kernel
        ceil = call.arg(5 if kind == "max" else 4, "ceil_mode", False)
        if any(tup(call.arg(3, "padding", 0), n)) or ceil or not isinstance(kernel, (int, tuple, list)):
            return None
        if kind == "avg" and call.arg(6, "divisor_override") is not None:
            return None
        dilation = call.arg(4, "dilation", 1) if kind == "max" else 1
        return kind, tup(kernel, n), tup(stride, n), tup(dilation, n)
    own = node.meta.get(OWN_LAYER)
    if node.target in _CONV_CALLS and own is not None:
        n, params = _CONV_CALLS[node.target], own[0].params
        if params.get("padding") not in (0, (0,) * n):
            return None
        w = node.args[1] if len(node.args) > 1 else node.kwargs.get("weight")
        kernel = _shape(w)[2:] if _shape(w) else None
        return None if kernel is None else ("conv", tuple(kernel), tup(params["stride"], n), tup(params["dilation"], n))
    return None


def _padded_call(g: fx.Graph, node: fx.Node, concrete: bool) -> None:
    """pad_same then a functional pool / own-weight conv: that layer with the padding, as _padded_layer."""
    windows = _call_windows(node)
    found = _pad_args(node.args[0]) if windows is not None and node.args else None
    if found is None or len(node.args[0].users) != 1:
        return
    x, pads, value = found
    params = _pad_params(windows, x, pads, value, concrete)
    if params is None:
        return
    if OWN_LAYER in node.meta:
        layer = node.meta[OWN_LAYER][0]
        layer.params.update(params)
        layer.inputs = [x]
    _set_input(g, node, x, params, keep_args=True)


def _set_input(g: fx.Graph, node: fx.Node, x: fx.Node, params: dict, keep_args: bool = False) -> None:
    pad = node.args[0]
    node.args = (x, *node.args[1:]) if keep_args else (x,)
    node.meta[PARAMS_META] = params
    if not pad.users:
        g.erase_node(pad)


def _exclusive_avg_pool(g: fx.Graph, node: fx.Node, modules: dict, concrete: bool) -> None:
    """pool(F.pad(x)) / pool(F.pad(ones)): the average over the real positions only."""
    if node.op != "call_function" or node.target is not operator.truediv or len(node.args) != 2:
        return
    top, bottom = node.args
    if not all(isinstance(v, fx.Node) and v.op == "call_module" and len(v.args) == 1 for v in (top, bottom)):
        return
    windows = _windows(modules.get(top.target))
    if top.target != bottom.target or windows is None or windows[0] != "avg" or len(bottom.users) != 1:
        return
    a, b = _pad_args(top.args[0]), _pad_args(bottom.args[0])
    if a is None or b is None or a[1:] != b[1:] or a[2] != 0.0 or not _is_ones(b[0]):
        return
    if len(top.users) != 1 or len(top.args[0].users) != 1:
        return
    padding = _padding(windows, a[0], a[1], concrete)
    if padding is None:
        return
    _set_input(g, top, a[0], {"padding": padding, "count_include_pad": False})
    node.replace_all_uses_with(top)
    g.erase_node(node)
    g.erase_node(bottom)  # (the ones and their pad go with the dead code)


def _is_ones(node) -> bool:
    while isinstance(node, fx.Node) and node.op == "call_method" and node.target == "unsqueeze":
        node = node.args[0]
    if not isinstance(node, fx.Node):
        return False
    return (node.op == "call_method" and node.target == "new_ones"
            or node.op == "call_function" and node.target in (torch.ones, torch.ones_like))
