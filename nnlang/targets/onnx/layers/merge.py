"""Merge and elementwise layers, and the regularisation layers (identities in inference)."""

from __future__ import annotations

from ....layers.merge import result_dtype
from ..mapping import NotExpressible, onnx_layer

_BINARY = {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div"}


def _promoted(b, dtype: str) -> list:
    """The inputs cast to the result dtype: ONNX never promotes (the IR follows torch's promotion)."""
    return [b.cast(x, t.dtype, dtype) for x, t in zip(b.xs, b.ins)]


def _with_constant(b, op_type: str):
    """The one-tensor form (layers/constants.py): the number as a Constant of the result's dtype, or the
    tensor as the initializer named by the layer's path (f32, cast to the result's dtype); None without one."""
    a = b.node.attrs
    if a.get("value") is None and a.get("shape") is None:
        return None
    dtype = b.outs[0].dtype
    x = b.cast(b.x, b.t.dtype, dtype)
    c = b.scalar(a["value"], dtype) if a.get("value") is not None else b.cast(b.weight(""), "f32", dtype)
    return b.op(op_type, *((c, x) if a.get("reverse") else (x, c)))


@onnx_layer(*_BINARY)
def arithmetic(b):
    with_constant = _with_constant(b, _BINARY[b.node.op])
    if with_constant is not None:
        return with_constant
    xs = _promoted(b, b.outs[0].dtype)  # Div of integers: both cast to float first (true division)
    y = xs[0]
    for x in xs[1:]:
        y = b.op(_BINARY[b.node.op], y, x)
    return y


@onnx_layer("Maximum", "Minimum")
def extremum(b):
    dtype = b.outs[0].dtype
    if b.opset < 12 and dtype not in ("f32", "f64", "f16"):
        raise NotExpressible(f"{b.node.op} of {dtype} tensors (Max / Min take integers from opset 12)", 12)
    op_type = "Max" if b.node.op == "Maximum" else "Min"
    return _with_constant(b, op_type) or b.op(op_type, *_promoted(b, dtype))


@onnx_layer("Average")
def average(b):
    """(a + b + ...) / n as torch: an integer sum, then true division."""
    dtypes = [t.dtype for t in b.ins]
    out = b.outs[0].dtype
    total_type = result_dtype(dtypes)
    xs = [b.cast(x, t, total_type) for x, t in zip(b.xs, dtypes)]
    total = xs[0]
    for x in xs[1:]:
        total = b.op("Add", total, x)
    return b.op("Div", b.cast(total, total_type, out), b.scalar(float(len(xs)), out))


@onnx_layer("MatMul")
def matmul(b):
    return b.op("MatMul", b.xs[0], b.xs[1])  # numpy semantics, 1-D operands included, as torch.matmul


@onnx_layer("Scale")
def scale(b):
    axis = b.a["axis"] % b.t.rank
    x = b.cast(b.x, b.t.dtype, b.outs[0].dtype)
    y = b.op("Mul", x, b.channel_view(b.weight("weight"), b.t.rank, axis))
    if b.a["bias"]:
        y = b.op("Add", y, b.channel_view(b.weight("bias"), b.t.rank, axis))
    return y


@onnx_layer("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout")
def dropout(b):
    # The model is written for inference, where every dropout is the identity (torch's eval mode).
    return b.op("Identity", b.x)
