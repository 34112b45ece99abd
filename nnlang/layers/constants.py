"""The constant operand of the elementwise layers (Add, Sub, Mul, Div, Maximum, Minimum): their one-tensor form.

`x -> Mul(0.125)` multiplies by a number written in the text; `x -> Mul(shape=(1, 1, 197))` by a tensor held
in the weights file. That tensor is data, like BatchNorm's running statistics: a buffer, not counted as a
learned parameter, unless `learned=true` (a model's `x + self.param` imported as it was). Its Weight has the
empty name, so its state_dict key is the layer's own path (`blocks.0.attn.scale`), as torch names a bare
buffer or parameter of the module doing the operation. `reverse=true` (Sub, Div) puts the constant first.

The result's dtype follows torch: a number does not widen a float tensor (f16 * 0.5 stays f16), a float
number makes an integer or bool tensor f32, an int number keeps an integer tensor's dtype (bool + 1 is i64);
a tensor constant is f32 and promotes as two tensors do (a 0-d one as a number does).
"""

from __future__ import annotations

from .base import BOOL, FLOAT, INT, OneOf, Optional_, IntTuple, Param, ShapeError, TensorType, Weight, broadcast_shapes
from .shape import INTEGER_DTYPES

_FLOATS = ("f16", "bf16", "f32", "f64")


def constant_params(reversible: bool) -> tuple:
    params = [
        Param("value", Optional_(OneOf((INT, FLOAT))), None, "a constant operand: this number", lead=True),
        Param("shape", Optional_(IntTuple()), None, "a constant operand: a tensor of this shape held in the weights "
              "file (broadcast with the input)", min=1, positional=False),
    ]
    if reversible:
        params.append(Param("reverse", BOOL, False, "the constant is the left operand (c - x, c / x)",
                            positional=False))
    params.append(Param("learned", BOOL, False, "the tensor constant is a learned parameter, not a buffer",
                        positional=False))
    return tuple(params)


def constant_weights(a, inputs) -> list:
    shape = a.get("shape")
    return [] if shape is None else [Weight("", tuple(shape), trainable=a["learned"])]


def _number_dtype(x_dtype: str, value, true_div: bool) -> str:
    """torch's promotion of a tensor with a Python number."""
    if x_dtype in _FLOATS:
        out = x_dtype
    elif isinstance(value, float):
        out = "f32"
    else:
        out = "i64" if x_dtype == "bool" else x_dtype
    return "f32" if true_div and out in INTEGER_DTYPES else out


def constant_infer(name: str, a, inputs: list, true_div: bool):
    """The result of the one-tensor form, or None when no constant is given (the tensors' form)."""
    value, shape = a.get("value"), a.get("shape")
    reverse, learned = a.get("reverse", False), a.get("learned", False)
    if value is not None and shape is not None:
        raise ShapeError(f"{name}: give the constant as a number (value) or as a tensor (shape=...), not both",
                         "E105")
    if value is None and shape is None:
        if reverse:
            raise ShapeError(f"{name}: reverse=true puts a constant first, and no constant is given "
                             f"(write {name}(1.0, reverse=true))", "E105")
        if learned:
            raise ShapeError(f"{name}: learned=true is for a tensor constant, and no shape is given", "E105")
        if len(inputs) < 2:
            raise ShapeError(f"{name} takes 2 or more tensors, or one tensor and a constant: pass (a, b) -> {name} "
                             f"or write {name}(2.0)", "E209")
        return None
    if len(inputs) > 1:
        raise ShapeError(f"{name} with a constant takes one tensor, got {len(inputs)} (drop the constant or the "
                         "second tensor)", "E209", 1)
    (x,) = inputs
    if learned and shape is None:
        raise ShapeError(f"{name}: learned=true is for a tensor constant (shape=...), not a number", "E105")
    if name == "Sub" and x.dtype == "bool":
        raise ShapeError("Sub: bool tensors cannot be subtracted (use a logical layer or cast first)", "E305", 0)
    if shape is None:
        return [TensorType(x.shape, _number_dtype(x.dtype, value, true_div), x.layout)]
    shapes = [tuple(shape), x.shape] if reverse else [x.shape, tuple(shape)]
    out = broadcast_shapes(shapes, f"{name}: the input and the constant")
    if not shape:  # a 0-d tensor promotes as a number does
        dtype = _number_dtype(x.dtype, 0.0, true_div)
    else:
        from .merge import result_dtype

        dtype = result_dtype([x.dtype, "f32"], true_div)
    return [TensorType(out, dtype, x.layout)]
