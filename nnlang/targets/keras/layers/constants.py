"""Keras form of the elementwise layers' constant operand (layers/constants.py).

A number: Rescaling (y = x * scale + offset) for Mul / Div / Add / Sub of a float32 input, as Keras's own
models write it; keras.ops otherwise (Maximum, Minimum, c / x, other dtypes). A tensor: Keras has no layer
holding a fixed tensor, so it is an Embedding of one row (output_dim = its size, trainable only when
learned=true) read at index 0 for every sample and reshaped to [N, *its shape] -- the way this target holds
the class token -- then combined with x; it loads with safe_mode.
"""

from __future__ import annotations

import math

from ..emit import Val
from ..mapping import NotExpressible, keras_weights

_OPS = {"Add": "add", "Sub": "subtract", "Mul": "multiply", "Div": "divide", "Maximum": "maximum",
        "Minimum": "minimum"}


def _rescaling(op: str, c: float, reverse: bool):
    """(scale, offset) with x * scale + offset = x <op> c (c <op> x when reverse), or None."""
    if op == "Mul":
        return c, 0.0
    if op == "Add":
        return 1.0, c
    if op == "Sub":
        return (-1.0, c) if reverse else (1.0, -c)
    if op == "Div" and not reverse and c != 0:
        return 1.0 / c, 0.0
    return None


def constant_layer(b):
    """The layer of the one-tensor form, or None for the form over tensors."""
    a = b.a
    value, shape = a.get("value"), a.get("shape")
    if value is None and shape is None:
        return None
    op, reverse = b.node.op, a.get("reverse", False)
    fn = getattr(b.ops, _OPS[op])
    if shape is None:
        x = b.val().t
        affine = _rescaling(op, float(value), reverse) if b.t.dtype == "f32" == b.out_types[0].dtype else None
        if affine is not None:
            return b.same_as(b.layer(b.L.Rescaling, scale=affine[0], offset=affine[1])(x))
        return b.same_as(fn(value, x) if reverse else fn(x, value))
    rank = b.t.rank
    if len(shape) > rank or rank < 1:
        raise NotExpressible(f"{op} with a constant of more dims than its input (a batch of constants)")
    dims = (1,) * (rank - len(shape)) + tuple(shape)
    if dims[0] != 1:
        raise NotExpressible(f"{op} with a constant tensor that varies along the batch axis")
    x = b.ir()
    first = x[(slice(None),) + (0,) * (rank - 1)]  # [N]
    index = b.ops.cast(b.ops.expand_dims(b.ops.zeros_like(first), 1), "int32")  # [N, 1] zeros
    layer = b.layer(b.L.Embedding, "constant", input_dim=1, output_dim=math.prod(shape), trainable=a["learned"])
    c = b.ops.reshape(layer(index), (-1, *dims[1:]))  # [N, *shape]: one copy per sample, broadcast like x
    b.weighted(layer, ["embeddings"])
    return Val(fn(c, x) if reverse else fn(x, c))


@keras_weights("Add", "Sub", "Mul", "Div", "Maximum", "Minimum")
def constant_weights(node, w):
    (value,) = w.values()  # only the tensor form has a weight
    return {"embeddings": value.reshape(1, -1)}
