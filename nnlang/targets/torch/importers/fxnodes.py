"""What the graph rewrites read off an fx node: its traced shape and its arguments by position or name."""

from __future__ import annotations

from torch import fx


def node_shape(node):
    """The traced shape of a tensor node (shape propagation's tensor_meta), or None for anything else."""
    meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
    return tuple(meta.shape) if hasattr(meta, "shape") and hasattr(meta, "dtype") else None


def node_arg(node: fx.Node, index: int, name: str, default=None):
    """The call's argument at position index, or given by keyword name."""
    if len(node.args) > index:
        return node.args[index]
    return node.kwargs.get(name, default)
