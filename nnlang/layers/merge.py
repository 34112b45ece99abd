"""Merge and elementwise layers: Add, Sub, Mul, Div, Maximum, Minimum, Average, MatMul, Scale.

Elementwise layers broadcast as NumPy does (trailing dims aligned, 1 stretches) and count 0 MACs.
Mixed dtypes promote as torch does (bool < integers < floats, the wider one wins); Div and Average of
integers give f32 (true division).

Add, Sub, Mul, Div, Maximum and Minimum also take one tensor and a constant operand (constants.py):
a number written in the text (`Mul(0.125)`) or a tensor held in the weights file (`Mul(shape=(1, 1, 197))`).

MatMul follows torch.matmul: 1-D operands get a dim prepended (left) or appended (right) that is
removed again, and the batch dims broadcast. Its MACs are batch * M * K * P, what FlopCounterMode
counts for mm / bmm; a 1-D right operand is counted the same way, although FlopCounterMode has no
formula for the aten.mv / aten.dot kernels torch runs then (it counts 0 for them).
"""

from __future__ import annotations

from .base import (BOOL, INT, LayerSpec, Param, ShapeError, TensorType, Weight, broadcast_shapes, count,
                   format_dim, no_weights, require_known, same_dims)
from .constants import constant_infer, constant_params, constant_weights
from .shape import INTEGER_DTYPES, axis_of

_ORDER = ("bool", "u8", "i8", "i16", "i32", "i64", "f16", "bf16", "f32", "f64")  # promotion order


def result_dtype(dtypes, true_div: bool = False) -> str:
    """torch's type promotion over the language's dtypes."""
    kinds = set(dtypes)
    if len(kinds) == 1:
        out = dtypes[0]
    elif not kinds <= set(_ORDER):
        out = dtypes[0]  # a dtype this table does not know: keep the first input's
    else:
        out = max(kinds, key=_ORDER.index)
        if out in ("f16", "bf16") and {"f16", "bf16"} <= kinds:
            out = "f32"  # neither half type holds the other
        elif out in ("u8", "i8") and {"u8", "i8"} <= kinds:
            out = "i16"
    if true_div and out in INTEGER_DTYPES:
        out = "f32"
    return out


def _elementwise(name: str, doc: str, max_inputs, aliases=(), true_div=False, constant=None) -> LayerSpec:
    """constant: the example of the one-tensor form (`Mul(0.125)`), None for a layer without it."""

    def infer(a, inputs):
        if constant:
            out = constant_infer(name, a, inputs, true_div)
            if out is not None:  # the one-tensor form with a constant operand
                return out
        shape = broadcast_shapes([t.shape for t in inputs], name)
        if name == "Sub" and any(t.dtype == "bool" for t in inputs):
            raise ShapeError("Sub: bool tensors cannot be subtracted (use a logical layer or cast first)", "E305", 0)
        dtype = result_dtype([t.dtype for t in inputs], true_div)
        return [TensorType(shape, dtype, inputs[0].layout)]

    two = max_inputs == 2
    doc = (f"{doc} of {'2' if two else '2 or more'} tensors, elementwise with NumPy broadcasting: "
           "[N, C, H, W] with [N, C, 1, 1] gives [N, C, H, W].")
    if constant:
        doc += (f" Or of one tensor x and a constant: the number `value`, or with `shape` a tensor held in the "
                "weights file (a buffer, not learned, unless learned=true; its state_dict key is the layer's path), "
                f"broadcast with x: `(a, b) -> {name}` and `x -> {constant}` are both {name}.")
        if name in ("Sub", "Div"):
            sign = "-" if name == "Sub" else "/"
            doc += f" reverse=true puts the constant first: `{name}(1.0, reverse=true)` is 1 {sign} x."
    return LayerSpec(
        name=name, family="merge", doc=doc,
        params=constant_params(reversible=name in ("Sub", "Div")) if constant else (),
        infer=infer, weights=constant_weights if constant else no_weights,
        inputs=(1 if constant else 2, max_inputs), aliases=aliases,
        input_names=("a", "b") if two else (), positional=1 if constant else None,
        example=constant or name,
    )


# ---- MatMul --------------------------------------------------------------------------------------

def _matmul_dims(inputs):
    """(batch, M, K, P, a is 1-D, b is 1-D) of a @ b."""
    a, b = inputs
    for i, t in enumerate(inputs):
        if t.rank == 0:
            raise ShapeError(f"MatMul expects inputs of rank 1 or more, input {i} is a scalar {t}", "E302", i)
    sa = a.shape if a.rank >= 2 else (1, *a.shape)
    sb = b.shape if b.rank >= 2 else (*b.shape, 1)
    ka, kb = sa[-1], sb[-2]
    if not same_dims(ka, kb, f"MatMul: the inner dims of {a} @ {b}"):
        raise ShapeError(f"MatMul: {a} @ {b}: the last dim of the first ({format_dim(ka)}) must equal the "
                         f"{'only' if b.rank == 1 else 'second-to-last'} dim of the second ({format_dim(kb)})",
                         "E301", 1)
    try:
        batch = broadcast_shapes([sa[:-2], sb[:-2]], "MatMul")
    except ShapeError as e:
        raise ShapeError(f"MatMul: the batch dims of {a} and {b} do not broadcast ({e})", "E301", 1) from None
    return batch, sa[-2], ka if ka is not None else kb, sb[-1], a.rank == 1, b.rank == 1


def _matmul_infer(attrs, inputs):
    a, b = inputs
    if a.dtype != b.dtype:  # torch.matmul does not promote
        raise ShapeError(f"MatMul: both inputs must have one dtype, got {a.dtype} and {b.dtype}", "E305", 1)
    batch, m, _, p, a_vec, b_vec = _matmul_dims(inputs)
    shape = (*batch, *(() if a_vec else (m,)), *(() if b_vec else (p,)))
    return [TensorType(shape, result_dtype([t.dtype for t in inputs]), inputs[0].layout)]


def _matmul_macs(attrs, inputs, outputs):
    batch, m, k, p, _, _ = _matmul_dims(inputs)
    return count((*batch, m, k, p))


# ---- Scale ---------------------------------------------------------------------------------------

def _scale_channels(a, x) -> int:
    axis = axis_of(a["axis"], x, "Scale")
    return require_known(x.shape[axis], f"Scale: the scaled dim {axis} of {x}")


def _scale_infer(a, inputs):
    (x,) = inputs
    _scale_channels(a, x)
    return [TensorType(x.shape, "f32" if x.dtype in INTEGER_DTYPES else x.dtype, x.layout)]


def _scale_weights(a, inputs):
    c = _scale_channels(a, inputs[0])
    return [Weight("weight", (c,))] + ([Weight("bias", (c,))] if a["bias"] else [])


LAYERS = [
    _elementwise("Add", "Sum", None, constant="Add(3.0)"),
    _elementwise("Sub", "Difference a - b", 2, constant="Sub(1.0)"),
    _elementwise("Mul", "Product", None, constant="Mul(0.125)"),
    _elementwise("Div", "Quotient a / b (true division)", 2, true_div=True, constant="Div(6.0)"),
    _elementwise("Maximum", "Maximum", None, aliases=("Max",), constant="Maximum(0.0)"),
    _elementwise("Minimum", "Minimum", None, aliases=("Min",), constant="Minimum(6.0)"),
    _elementwise("Average", "Mean", None, true_div=True),
    LayerSpec(
        name="MatMul", family="merge",
        doc="Matrix product a @ b as torch.matmul: [..., M, K] @ [..., K, P] -> [..., M, P], batch dims "
            "broadcast; a 1-D operand is a vector (its dim is removed from the result).",
        params=(), infer=_matmul_infer, macs=_matmul_macs, inputs=(2, 2), input_names=("a", "b"),
        example="MatMul",
    ),
    LayerSpec(
        name="Scale", family="merge",
        doc="Learned per-channel scale and bias along one axis (Caffe's Scale layer): y = x * weight + bias, "
            "weight and bias [C] with C = the size of that axis. Shape unchanged.",
        params=(
            Param("bias", BOOL, True, "add a learned bias per channel"),
            Param("axis", INT, 1, "axis of the channels (1: [N, C, ...])"),
        ),
        infer=_scale_infer, weights=_scale_weights, example="Scale",
    ),
]
