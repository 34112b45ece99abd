"""Tensors a forward computes from sizes alone, folded to constants of the trace before the import maps calls.

Sin-cos position tables and rotary frequencies (timm's `_build_grid`, `torch.arange(H)` scaled and passed through
sin / cos), masks made with `torch.zeros(B, H, W)`: such a call depends on the input only through its shape
(x.shape, x.size(), x.device, x.dtype), never on its values or on a module's weights, so it is one tensor for
every input of the declared shapes. `fold_size_constants` runs the traced graph once on the example input,
keeps the value of each such tensor that a data-dependent call reads, and puts it in the graph as a constant
(`_tensor_constant_fN`, which the import then takes as a constant operand: `Add(shape=...)`, named constant_fN).
It runs after the rewrites (patterns.rewrite), so a pattern that reads such calls (a causal mask made by
`torch.ones(T, T).tril()`) has had them first; the constant-operand rewrite then runs again.

A value that spans the example's batch (its first dim is the example N while the declared batch is symbolic)
is folded only when it is the same for every sample and only elementwise calls read it: it is kept as one row
(broadcast gives the same result for any N). Anything that reads a module's parameters or buffers, or calls a
module, is not folded: those are layers.
"""

from __future__ import annotations

import operator

import torch
from torch import fx

from .fxnodes import node_shape

_SHAPE_ONLY_METHODS = frozenset(("size", "dim", "numel"))
_SHAPE_ONLY_ATTRIBUTES = frozenset(("shape", "device", "dtype", "ndim"))
_ELEMENTWISE = frozenset((operator.add, operator.sub, operator.mul, operator.truediv, torch.add, torch.sub, torch.mul,
                          torch.div))
_ELEMENTWISE_METHODS = frozenset(("add", "sub", "mul", "div"))
PREFIX = "_tensor_constant_f"


def _reads_only_shape(node: fx.Node) -> bool:
    if node.op == "call_method" and node.target in _SHAPE_ONLY_METHODS:
        return True
    return node.op == "call_function" and node.target is getattr and len(node.args) > 1 \
        and node.args[1] in _SHAPE_ONLY_ATTRIBUTES


def _elementwise(node: fx.Node) -> bool:
    return (node.op == "call_function" and node.target in _ELEMENTWISE) or (
        node.op == "call_method" and node.target in _ELEMENTWISE_METHODS)


def candidates(gm: fx.GraphModule) -> list:
    """The tensor nodes computed from sizes alone that a data-dependent node reads (in graph order)."""
    data: set = set()  # nodes whose value depends on an input's values, a weight or a module
    for node in gm.graph.nodes:
        if node.op in ("placeholder", "call_module") or (
                node.op == "get_attr" and not str(node.target).startswith("_tensor_constant")):
            data.add(node)
        elif node.op in ("call_function", "call_method") and not _reads_only_shape(node):
            if any(a in data for a in node.all_input_nodes):
                data.add(node)
    found = []
    for node in gm.graph.nodes:
        if node in data or node.op not in ("call_function", "call_method") or node_shape(node) is None:
            continue
        if any(u in data for u in node.users):  # (a factory of literal sizes too: torch.arange(14))
            found.append(node)
    return found


def fold_size_constants(gm: fx.GraphModule, examples: list, batch_symbolic: bool) -> int:
    """Replace each candidate by a constant of its value on the example; returns how many were folded."""
    nodes = candidates(gm)
    if not nodes:
        return 0
    wanted = set(nodes)
    values: dict = {}

    class _Recorder(fx.Interpreter):
        def run_node(self, n):
            result = super().run_node(n)
            if n in wanted:
                values[n] = result.detach().clone() if isinstance(result, torch.Tensor) else None
            return result

    with torch.no_grad():
        _Recorder(gm).run(*examples)
    from torch.fx.passes.shape_prop import _extract_tensor_metadata

    batch = examples[0].shape[0] if examples and examples[0].dim() else None
    folded = count = 0
    for node in nodes:
        value = values.get(node)
        if not isinstance(value, torch.Tensor) or value.is_complex():
            continue
        if batch_symbolic and value.dim() and value.shape[0] == batch and batch != 1:
            if not all(_elementwise(u) for u in node.users) or not bool((value == value[:1]).all()):
                continue  # per-sample values, or a shape other calls depend on: not a constant
            value = value[:1].clone()
        # one constant per reader: a constant operand is its reader's own weight (a rotary table read by every
        # block is one small copy per block, as the module would hold it per layer)
        for user in list(node.users):
            while hasattr(gm, f"{PREFIX}{count}"):
                count += 1
            name = f"{PREFIX}{count}"
            gm.register_buffer(name, value if len(node.users) == 1 else value.clone())
            with gm.graph.inserting_before(user):
                const = gm.graph.get_attr(name)
            const.meta = {"tensor_meta": _extract_tensor_metadata(value), "type": torch.Tensor}
            user.replace_input_with(node, const)
        folded += 1
    if folded:
        gm.graph.eliminate_dead_code()
        gm.recompile()
    return folded
