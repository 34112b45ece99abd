"""Importers of ONNX's binary elementwise ops (Add, Sub, Mul, Div of two tensors or a tensor and a constant: the
constant as a per-channel Scale / LayerScale, a positional embedding, or the layer's one-tensor form), Where and
GatherElements.
The stored-tensor naming (tensor_path) that fusions share lives here too."""

from __future__ import annotations

import re
from typing import Optional

from ..importing import Layer, Unsupported
from .import_constants import constant_operand
from .importers import Op, _channel_axis, onnx_op

_BINARY = {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div"}  # variadic Max/Min: import_legacy


@onnx_op(*_BINARY)
def binary(op: Op):
    consts = [op.const(name) for name in op.inputs]
    if sum(c is not None for c in consts) == 1:
        x, w = op.inputs if consts[1] is not None else op.inputs[::-1]
        if op.node.op_type in ("Mul", "Add"):  # a per-channel factor, a positional embedding: those layers
            try:
                return _scale(op, x, w) if op.node.op_type == "Mul" else _positional_embedding(op, x, w)
            except Unsupported:
                pass
        return constant_operand(op, _BINARY[op.node.op_type], x, w, reverse=consts[0] is not None)
    if any(c is not None for c in consts):
        raise Unsupported(f"{op.node.op_type} of two constants (fold them first)")
    if op.node.op_type == "Div" and (op.dtype(op.input(0)) or "f").startswith(("i", "u", "b")):
        return _integer_div(op)
    return Layer(_BINARY[op.node.op_type], {}, inputs=op.inputs)


def _integer_div(op: Op) -> list:
    """ONNX Div of integers truncates toward zero: the exact quotient in f64, Cast back (Cast truncates). Exact
    up to 32 bits: a quotient that is no integer is at least 1 / |b| from one, f64's rounding error below it."""
    dtype = op.dtype(op.input(0))
    if dtype not in ("u8", "i8", "i16", "i32"):
        raise Unsupported(f"Div of {dtype} integers (the truncated quotient is computed in f64, exact up to 32 "
                          "bits)")
    a, b = (op.node.output[0] + tag for tag in ("#a", "#b"))
    return [Layer("Cast", {"dtype": "f64"}, inputs=[op.input(0)], outputs=[a]),
            Layer("Cast", {"dtype": "f64"}, inputs=[op.input(1)], outputs=[b]),
            Layer("Div", {}, inputs=[a, b]), Layer("Cast", {"dtype": dtype})]


_PATH = re.compile(r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$")
_MODULE_WEIGHTS = ("weight", "bias")  # a module's own tensors: another layer's weight, not a layer


def tensor_path(name: str, initializers, node=None) -> Optional[str]:
    """A stored tensor that is a learned-tensor layer itself (weight name empty): its name is the layer's
    path, so the state_dict key stays. Our emitter names the node computing the layer as the tensor;
    torch.onnx keeps a bare parameter's qualified name (`encoder.pos_embedding`, `blocks.0.ls1.gamma`)."""
    if name not in initializers or not _PATH.match(name):
        return None
    if node is not None and node.name != name and name.rpartition(".")[2] in _MODULE_WEIGHTS:
        return None
    return name


def _positional_embedding(op: Op, x: str, w_name: str):
    """x + w with w [1, T, D] for x [N, T, D]: PositionalEmbedding (named by w when it is stored). Dims
    inference left unknown in x (after torch.onnx's Expand of a class token) are the sum's: the .nns
    analysis of the printed text checks them again."""
    w, shape, out = op.const(w_name), op.shape(x), op.shape(op.node.output[0])
    if shape is not None and out is not None and len(out) == len(shape):
        shape = tuple(d if isinstance(d, int) else o for d, o in zip(shape, out))
    if shape is None or len(shape) < 2 or any(not isinstance(d, int) for d in shape[1:]) \
            or w.shape != (1, *shape[1:]):
        raise Unsupported("Add of a constant that is not a [1, ...] tensor of the input's shape (a positional "
                          "embedding)")
    return Layer("PositionalEmbedding", {}, inputs=[x], weights={"": w},
                 path=tensor_path(w_name, op.initializers))


def _layer_scale(op: Op, x: str, w_name: str, axis: int):
    """x * w with w the stored tensor [C, 1, ..., 1] of a channel axis, named as a layer: LayerScale."""
    w, rank = op.const(w_name), len(op.shape(x))
    path = tensor_path(w_name, op.initializers, op.node)
    if path is None or axis < 1 or w.shape != (w.size,) + (1,) * (rank - axis - 1):
        return None
    return Layer("LayerScale", {"axis": -1 if axis == rank - 1 and axis != 1 else axis}, inputs=[x],
                 weights={"": w}, path=path)


def _scale(op: Op, x: str, w_name: str):
    """x * w with w varying along one axis (+ a constant of the same shape after it): Scale, or LayerScale
    when w is a stored tensor named as a layer."""
    w = op.const(w_name)
    axis = _channel_axis(op, x, w)
    if axis is None:
        raise Unsupported("Mul by a constant that is not one value per channel of one axis")
    learned = _layer_scale(op, x, w_name, axis)
    if learned is not None:
        return learned
    weights, consumes, outputs = {"weight": w.reshape(-1).copy()}, [], None
    users = op.consumers(op.node.output[0])
    if len(users) == 1 and users[0].op_type == "Add":
        add = users[0]
        other = [i for i in add.input if i != op.node.output[0]]
        b = op.const(other[0]) if len(other) == 1 else None
        if b is not None and b.shape == w.shape:
            weights["bias"] = b.reshape(-1).copy()
            consumes, outputs = [add], list(add.output)
    rank = len(op.shape(x))
    return Layer("Scale", {"bias": "bias" in weights, "axis": axis if axis != rank - 1 else -1}, inputs=[x],
                 weights=weights, consumes=consumes, outputs=outputs)


@onnx_op("Where", since=9)
def where(op: Op):
    if any(op.const(name) is not None for name in op.inputs):
        raise Unsupported("Where with a constant operand (the Where layer takes three tensors)")
    return Layer("Where", {}, inputs=list(op.inputs))


@onnx_op("GatherElements", since=11)
def gather_elements(op: Op):
    if any(op.const(name) is not None for name in op.inputs):
        raise Unsupported("GatherElements with constant indices or data (the layer takes two tensors)")
    return Layer("GatherElements", {"axis": int(op.attrs.get("axis", 0))}, inputs=list(op.inputs))
