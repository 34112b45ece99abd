"""Elementwise math: Abs, Neg, Sign, Floor, Ceil, Round, Sqrt, Exp, Log, Reciprocal, Erf, Sin, Cos, Pow with a
constant exponent, Cast to another dtype; comparisons (Equal, Greater, Less, GreaterEqual, LessEqual) and logic
(LogicalAnd, LogicalOr, LogicalXor, LogicalNot), which give bool tensors; Einsum.

Each takes one tensor and keeps its shape; 0 MACs, no weights. The float functions (Sqrt, Exp, Log, Reciprocal,
Erf, Sin, Cos, Pow, Floor, Ceil, Round) need a floating-point input, as ONNX and Keras do (torch would promote
or refuse case by case); Abs, Neg and Sign take integers too and keep the dtype. Round rounds half to even
(torch.round, ONNX Round, numpy).
"""

from __future__ import annotations

from .base import (BOOL, FLOAT, STR, Choice, LayerSpec, Optional_, ParamRangeError, Param, ShapeError, TensorType,
                   broadcast_shapes, count, format_dim, same_dims)
from .shape import FLOAT8_DTYPES, INTEGER_DTYPES

DTYPES = ("bool", "u8", "i8", "i16", "i32", "i64", "f16", "bf16", "f32", "f64") + FLOAT8_DTYPES


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


def _pow_infer(a, inputs):
    x = inputs[0]
    if len(inputs) == 1:
        if a.get("exponent") is None:
            raise ShapeError("Pow of one tensor needs the exponent: x -> Pow(2.0), or (x, y) -> Pow", "E305", 0)
        if x.dtype in INTEGER_DTYPES:
            raise ShapeError(f"Pow needs a floating-point input, got {x.dtype} {x} (Cast it first)", "E301", 0)
        return [x]
    if a.get("exponent") is not None:
        raise ShapeError("Pow of two tensors takes no exponent (the second tensor is the exponent)", "E305", 1)
    for i, t in enumerate(inputs):
        if t.dtype == "bool":
            raise ShapeError(f"Pow takes numbers, input {i} is a bool tensor {t}", "E301", i)
    return [TensorType(broadcast_shapes([t.shape for t in inputs], "Pow"), x.dtype, x.layout)]


def _where_infer(a, inputs):
    from .merge import result_dtype  # merge imports this module's neighbours; late to keep the import order free

    cond, x, y = inputs
    if cond.dtype != "bool":
        raise ShapeError(f"Where: the condition must be a bool tensor, got {cond.dtype} {cond} (compare first)",
                         "E301", 0)
    shape = broadcast_shapes([t.shape for t in inputs], "Where")
    return [TensorType(shape, result_dtype([x.dtype, y.dtype]), x.layout)]


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


# ---- Einsum --------------------------------------------------------------------------------------

class _Equation(type(STR)):
    """An einsum equation: letters per operand, commas between operands, optionally '->' and the output's
    letters; '...' stands for broadcast dims. Spaces are dropped."""

    def check(self, value):
        eq = super().check(value).replace(" ", "")
        if not eq or any(c not in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ,->." for c in eq):
            raise ParamRangeError(f"an einsum equation has letters, ',', '->' and '...' only, got {value!r}")
        if eq.count("->") > 1 or eq.replace("...", "").count(".") or eq.replace("->", "").count("-") \
                or eq.replace("->", "").count(">"):
            raise ParamRangeError(f"not an einsum equation: {value!r}")
        return eq

    def describe(self):
        return 'str (an einsum equation, "ij,jk->ik")'


def _einsum_parts(eq: str):
    """([operand subscripts], output subscripts) with '...' as the one character '.'."""
    eq = eq.replace("...", ".")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if not arrow:  # implicit output: the letters that appear once, in alphabetical order (after '...')
        letters = "".join(terms)
        rhs = ("." if "." in letters else "") + "".join(sorted(c for c in set(letters) if c != "." and
                                                              letters.count(c) == 1))
    return terms, rhs


def _einsum_dims(a, inputs):
    """({letter: size}, ellipsis dims, output subscripts) of the equation over these inputs."""
    terms, rhs = _einsum_parts(a["equation"])
    if len(terms) != len(inputs):
        raise ShapeError(f"Einsum: the equation {a['equation']!r} names {len(terms)} operand(s), got {len(inputs)}",
                         "E301", 0)
    sizes: dict = {}
    ellipses = []
    for i, (term, t) in enumerate(zip(terms, inputs)):
        if term.count(".") > 1:
            raise ShapeError(f"Einsum: '...' twice in operand {i}", "E105", i)
        fixed = len(term) - term.count(".")
        if (t.rank != fixed) if "." not in term else (t.rank < fixed):
            raise ShapeError(f"Einsum: operand {i} ({term.replace('.', '...')!r}) has rank {t.rank} {t}", "E302", i)
        k = term.find(".")
        if k >= 0:
            n = t.rank - fixed
            ellipses.append(t.shape[k:k + n])
            dims = t.shape[:k] + t.shape[k + n:]
            term = term.replace(".", "")
        else:
            dims = t.shape
        for c, d in zip(term, dims):
            if c in sizes and not same_dims(sizes[c], d):
                raise ShapeError(f"Einsum: {c!r} is {format_dim(sizes[c])} in one place and {format_dim(d)} in "
                                 f"operand {i} {t}", "E301", i)
            sizes.setdefault(c, d)
    if any(c != "." and c not in sizes for c in rhs) or len(set(rhs)) != len(rhs):
        raise ShapeError(f"Einsum: the output {rhs.replace('.', '...')!r} names a letter no operand has, or one "
                         "twice", "E105", 0)
    batch = broadcast_shapes(ellipses, "Einsum") if ellipses else ()
    return sizes, batch, rhs


def _einsum_infer(a, inputs):
    from .merge import result_dtype

    sizes, batch, rhs = _einsum_dims(a, inputs)
    shape = []
    for c in rhs:
        shape += list(batch) if c == "." else [sizes[c]]
    return [TensorType(tuple(shape), result_dtype([t.dtype for t in inputs]), inputs[0].layout)]


def _einsum_macs(a, inputs, outputs):
    if len(inputs) < 2:
        return 0
    sizes, batch, _ = _einsum_dims(a, inputs)
    return count((*batch, *sizes.values()))


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
    LayerSpec(
        name="Pow", family="math",
        doc="x to a power: x ** exponent for a constant exponent (`x -> Pow(2.0)`, x a float tensor), or of two "
            "tensors `(x, y) -> Pow`, x ** y elementwise with NumPy broadcasting, as ONNX Pow: the result has x's "
            "dtype (an integer x to a float y is computed in floating point and truncated). NaN for a negative "
            "x and a fractional exponent.",
        params=(Param("exponent", Optional_(FLOAT), None, "the power x is raised to (the one-tensor form)",
                      lead=True),),
        infer=_pow_infer, inputs=(1, 2), input_names=("x", "y"), positional=1, example="Pow(2.0)"),
    LayerSpec(
        name="Cast", family="math",
        doc="Convert to another dtype, as torch's x.to(dtype) and ONNX Cast: floats to integers truncate "
            "toward zero, any nonzero value is true as bool. Shape unchanged. The 8-bit floats (f8e4m3fn, "
            "f8e4m3fnuz, f8e5m2, f8e5m2fnuz, f8e8m0) are storage types only Cast takes or gives; a value rounds "
            "to the nearest (halves to even; f8e8m0: up to a power of 2, ONNX's default round_mode) and, "
            "saturating, one beyond the largest finite value or infinite becomes that value (NaN stays NaN).",
        params=(Param("dtype", Choice(DTYPES), doc="the dtype of the result"),
                Param("saturate", BOOL, True, "to an 8-bit float: clamp to its largest finite value (ONNX Cast's "
                      "saturate, its default); false: NaN where the type has no infinity (fn, fnuz, e8m0), "
                      "else infinity")),
        infer=_cast_infer, example='Cast("f64")',
    ),
    LayerSpec(
        name="Where", family="math",
        doc="Elementwise choice: x where the bool condition holds, else y, as torch.where and ONNX Where; the three "
            "broadcast with NumPy's rules and x and y's dtypes promote as torch promotes them.",
        params=(), infer=_where_infer, inputs=(3, 3), input_names=("condition", "x", "y"), example="Where"),
    _binary("Equal", "a == b"),
    _binary("Greater", "a > b"),
    _binary("Less", "a < b"),
    _binary("GreaterEqual", "a >= b"),
    _binary("LessEqual", "a <= b"),
    _binary("LogicalAnd", "a and b", logical=True),
    _binary("LogicalOr", "a or b", logical=True),
    _binary("LogicalXor", "a xor b (true where exactly one is)", logical=True),
    _binary("LogicalNot", "not x", logical=True),
    LayerSpec(
        name="Einsum", family="math",
        doc="Einstein summation over 1 or more tensors, as torch.einsum and ONNX Einsum: \"bij,bjk->bik\" is a "
            "batched matrix product, \"ij->ji\" a transpose, \"ii->i\" a diagonal; letters missing from the "
            "output are summed; '...' stands for broadcast dims; without '->' the output has the letters that "
            "appear once, in alphabetical order.",
        params=(Param("equation", _Equation(), doc="the subscripts of each operand, ',' between them, '->' and the "
                      "output's"),),
        infer=_einsum_infer, macs=_einsum_macs, inputs=(1, None), example='Einsum("bij,bjk->bik")',
    ),
]
