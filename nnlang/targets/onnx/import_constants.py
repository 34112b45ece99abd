"""A constant operand of Add / Sub / Mul / Div / Max / Min: the layer's one-tensor form (layers/constants.py).

One number (an initializer or Constant of one element that does not widen x) becomes the layer's `value`,
as the number the initializer holds (`Mul(value=0.125)`); any other constant a tensor the layer holds
(`Mul(shape=(1, 1, 197))`), named by the initializer when its name is a path (its state_dict key stays).
The constant on the left of Sub / Div is reverse=true. Importers.binary keeps Scale and PositionalEmbedding
for the constants that are exactly those.
"""

from __future__ import annotations

import numpy as np

from ..importing import Layer, Unsupported

_FLOATS = ("f16", "bf16", "f32", "f64")


def _number(c: np.ndarray):
    """The element as the Python number .nns writes: an int for an integer tensor, else the shortest decimal
    that is the same float of c's dtype (0.1, not 0.10000000149)."""
    v = c.reshape(-1)[0]
    if np.issubdtype(c.dtype, np.integer):
        return int(v)
    if np.issubdtype(c.dtype, np.bool_):
        raise Unsupported("a bool constant operand")
    f = float(v)
    if not np.isfinite(f):
        raise Unsupported(f"a constant operand of {f}")
    return float(str(v)) if float(np.asarray(float(str(v)), c.dtype)) == f else f


def constant_operand(op, layer_op: str, x: str, c_name: str, reverse: bool) -> Layer:
    """The layer `x <layer_op> c` (c <layer_op> x when reverse) for the constant value c_name."""
    from .importers import tensor_path

    c = op.const(c_name)
    shape, dtype = op.shape(x), op.dtype(x)
    if layer_op == "Div" and dtype is not None and dtype not in _FLOATS:
        raise Unsupported("Div of integers (ONNX truncates the quotient; the Div layer divides exactly)")
    params = {"reverse": True} if reverse and layer_op in ("Sub", "Div") else {}
    if c.size == 1 and (c.ndim == 0 or (shape is not None and c.ndim <= len(shape))):
        return Layer(layer_op, {"value": _number(c), **params}, inputs=[x])
    if c.dtype != np.float32 or dtype not in ("f32", None):
        raise Unsupported(f"{op.node.op_type} with a {c.dtype} constant tensor on a {dtype or 'tensor'} input (a "
                          "layer's constant tensor is f32)")
    if c.size == 0:
        raise Unsupported(f"{op.node.op_type} with an empty constant")
    return Layer(layer_op, {"shape": tuple(int(d) for d in c.shape), **params}, inputs=[x], weights={"": c},
                 path=tensor_path(c_name, op.initializers, op.node))


def constant_chain(op, layer_op: str, names: list):
    """Max / Min (Sum) of tensors and one constant: the tensors' layer, then the constant's; None without a
    constant."""
    consts = [n for n in names if op.const(n) is not None]
    if not consts:
        return None
    if len(consts) > 1 or len(consts) == len(names):
        raise Unsupported(f"{op.node.op_type} of {len(consts)} constants (fold them first)")
    tensors = [n for n in names if n not in consts]
    if len(tensors) == 1:
        return constant_operand(op, layer_op, tensors[0], consts[0], False)
    last = constant_operand(op, layer_op, op.node.output[0], consts[0], False)  # the result's shape decides
    last.inputs = None  # it reads the tensors' layer before it in the chain
    return [Layer(layer_op, {}, inputs=tensors), last]
