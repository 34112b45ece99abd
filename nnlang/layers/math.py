"""Elementwise math: Abs, Neg, Sign, Floor, Ceil, Round, Sqrt, Exp, Log, Reciprocal, Erf, Sin, Cos, Pow with a
constant exponent, Cast to another dtype; comparisons (Equal, Greater, Less, GreaterEqual, LessEqual) and logic
(LogicalAnd, LogicalOr, LogicalXor, LogicalNot), which give bool tensors.

Each takes one tensor and keeps its shape; 0 MACs, no weights. The float functions (Sqrt, Exp, Log, Reciprocal,
Erf, Sin, Cos, Pow, Floor, Ceil, Round) need a floating-point input, as ONNX and Keras do (torch would promote
or refuse case by case); Abs, Neg and Sign take integers too and keep the dtype. Round rounds half to even
(torch.round, ONNX Round, numpy).
"""

from __future__ import annotations

from .base import FLOAT, Choice, LayerSpec, Param, ShapeError, TensorType, broadcast_shapes
from .shape import INTEGER_DTYPES

DTYPES = ("bool", "u8", "i8", "i16", "i32", "i64", "f16", "bf16", "f32", "f64")


def _unary(name: str, doc: str, floats_only: bool = True, params=(), example=None) -> LayerSpec:
    def infer(a, inputs):
        (x,) = inputs
        if floats_only and x.dtype in INTEGER_DTYPES:
            raise ShapeError(f"{name} needs a floating-point input, got {x.dtype} {x} (Cast it first)", "E301", 0)
        if not floats_only and x.dtype == "bool":
            raise ShapeError(f"{name} takes numbers, got a bool tensor {x}", "E301", 0)
        return [x]

    return LayerSpec(name=name, family="math", doc=doc + " Elementwise; shape and dtype unchanged.",
                     params=tuple(params), infer=infer, example=example or name)


def _cast_infer(a, inputs):
    (x,) = inputs
    return [TensorType(x.shape, a["dtype"], x.layout)]


def _binary(name: str, doc: str, logical: bool = False) -> LayerSpec:
    def infer(a, inputs):
        shape = broadcast_shapes([t.shape for t in inputs], name)
        for i, t in enumerate(inputs):
            if logical and t.dtype != "bool":
                raise ShapeError(f"{name} takes bool tensors, input {i} is {t.dtype} {t} (compare or Cast first)",
                                 "E301", i)
        return [TensorType(shape, "bool", inputs[0].layout)]

    two = name != "LogicalNot"
    promotion = "" if logical else " Mixed dtypes are compared as torch promotes them."
    return LayerSpec(name=name, family="math",
                     doc=doc + (" of 2 tensors, elementwise with NumPy broadcasting" if two else ", elementwise")
                     + "; the result is bool." + promotion,
                     params=(), infer=infer, inputs=(2, 2) if two else (1, 1),
                     input_names=("a", "b") if two else (), example=name)


LAYERS = [
    _unary("Abs", "|x|.", floats_only=False),
    _unary("Neg", "-x.", floats_only=False),
    _unary("Sign", "-1, 0 or 1 by the sign of x.", floats_only=False),
    _unary("Floor", "The largest integer <= x."),
    _unary("Ceil", "The smallest integer >= x."),
    _unary("Round", "The nearest integer, halves to even (torch.round, ONNX Round)."),
    _unary("Sqrt", "Square root (NaN below 0)."),
    _unary("Exp", "e to the power x."),
    _unary("Log", "Natural logarithm (NaN below 0, -inf at 0)."),
    _unary("Reciprocal", "1 / x."),
    _unary("Erf", "The Gauss error function."),
    _unary("Sin", "Sine (radians)."),
    _unary("Cos", "Cosine (radians)."),
    _unary("Pow", "x to a constant power: x ** exponent (NaN for a negative x and a fractional exponent).",
           params=(Param("exponent", FLOAT, doc="the power x is raised to"),), example="Pow(2.0)"),
    LayerSpec(
        name="Cast", family="math",
        doc="Convert to another dtype, as torch's x.to(dtype) and ONNX Cast: floats to integers truncate "
            "toward zero, any nonzero value is true as bool. Shape unchanged.",
        params=(Param("dtype", Choice(DTYPES), doc="the dtype of the result"),),
        infer=_cast_infer, example='Cast("f64")',
    ),
    _binary("Equal", "a == b"),
    _binary("Greater", "a > b"),
    _binary("Less", "a < b"),
    _binary("GreaterEqual", "a >= b"),
    _binary("LessEqual", "a <= b"),
    _binary("LogicalAnd", "a and b", logical=True),
    _binary("LogicalOr", "a or b", logical=True),
    _binary("LogicalXor", "a xor b (true where exactly one is)", logical=True),
    _binary("LogicalNot", "not x", logical=True),
]
