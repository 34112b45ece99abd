"""Elementwise math (Abs ... Cos, Pow, Cast) and the reductions beside Mean / Sum (Amax, Amin, Prod, LogSumExp,
ArgMax, ArgMin). A dtype onnxruntime's CPU kernels lack for an op is computed in a wider one and cast back
(exact for these ops: the wide type holds every value of the narrow one)."""

from __future__ import annotations

from ..builder import INT64_MAX, elem_type
from ..mapping import NotExpressible, onnx_layer

_FLOATS = ("f32", "f64")
_INTS = ("i32", "i64")


def _wide(dtype: str, native) -> str:
    if dtype in native:
        return dtype
    if dtype[0] == "f":  # f16 / bf16; f64 where only f32 is native (Erf: float32 precision then)
        return "f32" if dtype in ("f16", "bf16") or "f64" not in native else "f64"
    return "i64" if "i64" in native else "f64"


def _through(b, op_type: str, native, *extra, **attrs) -> str:
    dtype = b.t.dtype
    wide = _wide(dtype, native)
    y = b.op(op_type, b.cast(b.x, dtype, wide), *extra, **attrs)
    return b.cast(y, wide, dtype)


# op -> the input dtypes computed natively (onnxruntime CPU)
_UNARY = {"Abs": _FLOATS + _INTS + ("i8", "i16", "u8"), "Neg": _FLOATS + _INTS + ("i8",),
          "Sign": _FLOATS + _INTS + ("i8", "i16", "u8"), "Floor": _FLOATS, "Ceil": _FLOATS, "Round": _FLOATS,
          "Sqrt": _FLOATS, "Exp": _FLOATS, "Log": _FLOATS, "Reciprocal": _FLOATS, "Erf": ("f32",),
          "Sin": _FLOATS, "Cos": _FLOATS}


@onnx_layer(*_UNARY)
def unary(b):
    return _through(b, b.node.op, _UNARY[b.node.op])


@onnx_layer("Pow")
def power(b):
    dtype = b.t.dtype
    if len(b.ins) == 2:  # onnxruntime's Pow: base and exponent each f32 / f64 / i32 / i64
        e = b.ins[1].dtype
        wide = _wide(dtype, _FLOATS + _INTS)
        y = b.op("Pow", b.cast(b.x, dtype, wide), b.cast(b.xs[1], e, _wide(e, _FLOATS + _INTS)))
        return b.cast(y, wide, dtype)
    wide = _wide(dtype, _FLOATS)
    y = b.op("Pow", b.cast(b.x, dtype, wide), b.scalar(float(b.a["exponent"]), wide))
    return b.cast(y, wide, dtype)


@onnx_layer("Cast")
def cast(b):
    dtype, source = b.a["dtype"], b.t.dtype
    f8 = [d for d in (source, dtype) if d.startswith("f8")]
    if any(d == "f8e8m0" for d in f8) and b.opset < 24:
        raise NotExpressible("Cast with f8e8m0 (ONNX FLOAT8E8M0 came in opset 24)", since=24)
    if f8 and b.opset < 19:
        raise NotExpressible(f"Cast with {f8[0]} (ONNX's 8-bit floats came in opset 19)", since=19)
    if dtype.startswith("f8") and not b.a.get("saturate", True):
        return b.op("Cast", b.x, to=elem_type(dtype), saturate=0)
    return b.op("Cast", b.x, to=elem_type(dtype))


@onnx_layer("Where")
def where(b):
    out = b.outs[0].dtype  # ONNX Where wants x and y of one type: torch's promotion, then onnxruntime's kernels
    wide = _wide(out, _FLOATS + _INTS + ("u8",))  # bool: no kernel at opset 9-15
    x, y = (b.cast(b.xs[k], b.ins[k].dtype, wide) for k in (1, 2))
    return b.cast(b.op("Where", b.x, x, y), wide, out)


_REDUCE = {"Amax": ("ReduceMax", _FLOATS + _INTS + ("i8", "u8")), "Amin": ("ReduceMin", _FLOATS + _INTS + ("i8", "u8")),
           "Prod": ("ReduceProd", _FLOATS + _INTS), "LogSumExp": ("ReduceLogSumExp", _FLOATS)}


@onnx_layer(*_REDUCE)
def reduce(b):
    a = b.a
    axes = a["axis"] if isinstance(a["axis"], tuple) else (a["axis"],)
    axes = sorted(x % b.t.rank for x in axes)
    op_type, native = _REDUCE[b.node.op]
    dtype = b.t.dtype
    wide = _wide(dtype, native)
    y = b.reduce(op_type, b.cast(b.x, dtype, wide), axes, keepdims=a["keepdims"])
    return b.cast(y, wide, dtype)


@onnx_layer("ArgMax", "ArgMin")
def arg_reduce(b):
    a = b.a
    dtype = b.t.dtype
    axis = a["axis"] % b.t.rank
    keep = 1 if a["keepdims"] else 0
    x = b.cast(b.x, dtype, _wide(dtype, _FLOATS + ("i32", "i8", "u8")))
    if not a["last"]:
        return b.op(b.node.op, x, axis=axis, keepdims=keep)
    if b.opset >= 12:
        return b.op(b.node.op, x, axis=axis, keepdims=keep, select_last_index=1)
    # opset 11 has no select_last_index: the first index in the reversed tensor, counted from the end
    size = b.known(b.t.shape[axis], "the searched dim")
    flipped = b.slice(x, [-1], [-INT64_MAX], [axis], [-1])
    return b.op("Sub", b.const(size - 1, "i64"), b.op(b.node.op, flipped, axis=axis, keepdims=keep))


_COMPARE = {"Equal": "Equal", "Greater": "Greater", "Less": "Less", "GreaterEqual": "GreaterOrEqual",
            "LessEqual": "LessOrEqual"}


@onnx_layer(*_COMPARE)
def comparison(b):
    """Both operands in their promoted dtype (ONNX compares one type), widened where onnxruntime lacks it."""
    from ....layers.merge import result_dtype

    dtype = result_dtype([t.dtype for t in b.ins])
    native = ("bool",) + _FLOATS + _INTS if b.node.op == "Equal" else _FLOATS + _INTS
    wide = "i64" if dtype in ("bool", "u8", "i8", "i16") and dtype not in native else _wide(dtype, native)
    x, y = (b.cast(v, t.dtype, wide) for v, t in zip(b.xs, b.ins))
    op_type = _COMPARE[b.node.op]
    if b.opset < 12 and op_type.endswith("OrEqual"):  # a >= b is not (a < b)
        return b.op("Not", b.op("Less" if op_type == "GreaterOrEqual" else "Greater", x, y))
    return b.op(op_type, x, y)


@onnx_layer("LogicalAnd", "LogicalOr", "LogicalXor", "LogicalNot")
def logical(b):
    return b.op(b.node.op[len("Logical"):], *b.xs)


@onnx_layer("Einsum")
def einsum_11(b):
    raise NotExpressible("Einsum needs opset 12", since=12)


@onnx_layer("Einsum", since=12)
def einsum(b):
    """Operands in their promoted dtype (ONNX's Einsum takes one type), computed in f32 / f64 / i32 / i64."""
    from ....layers.merge import result_dtype

    dtype = result_dtype([t.dtype for t in b.ins])
    wide = _wide(dtype, _FLOATS + _INTS)
    y = b.op("Einsum", *(b.cast(v, t.dtype, wide) for v, t in zip(b.xs, b.ins)), equation=b.a["equation"])
    return b.cast(y, wide, dtype)


@onnx_layer("Hardmax")
def hardmax(b):
    dtype = b.t.dtype
    wide = _wide(dtype, ("f32",))  # onnxruntime's Hardmax: float32 only
    y = b.softmax("Hardmax", b.cast(b.x, dtype, wide), b.a["dim"], b.t.rank)  # one axis (moved last before 13)
    return b.cast(y, wide, dtype)
