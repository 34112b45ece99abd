"""Elementwise math (Abs ... Cos, Pow, Cast) and the reductions beside Mean / Sum (Amax, Amin, Prod, LogSumExp,
ArgMax, ArgMin), as keras.ops on the tensor as stored (reduced axes remapped, no transpose written)."""

from __future__ import annotations

from ..emit import Val
from ..mapping import NotExpressible, keras_layer
from .shape import DTYPES, _stored, _stored_axis

_UNARY = {"Abs": "absolute", "Neg": "negative", "Sign": "sign", "Floor": "floor", "Ceil": "ceil", "Round": "round",
          "Sqrt": "sqrt", "Exp": "exp", "Log": "log", "Erf": "erf", "Sin": "sin", "Cos": "cos"}


def _as_ir_dtype(b, y):
    """Keras promotes some integer results (int32 for small types, argmax's int32): the IR's dtype back."""
    want = DTYPES.get(b.out_types[0].dtype)
    if want is not None and str(y.dtype).rsplit(".", 1)[-1] != want:
        y = b.ops.cast(y, want)
    return y


@keras_layer(*_UNARY)
def unary(b):
    return b.same_as(_as_ir_dtype(b, getattr(b.ops, _UNARY[b.node.op])(b.val().t)))


@keras_layer("Reciprocal")
def reciprocal(b):
    return b.same_as(b.ops.divide(1.0, b.val().t))


@keras_layer("Pow")
def power(b):
    if len(b.types) == 2:  # x ** y in x's dtype (ONNX Pow): computed where both are floats
        x, y = (b.ops.cast(b.ir(i), "float64" if b.types[0].dtype == "f64" else "float32") for i in (0, 1))
        return Val(_as_ir_dtype(b, b.ops.power(x, y)))
    return b.same_as(_as_ir_dtype(b, b.ops.power(b.val().t, float(b.a["exponent"]))))


@keras_layer("Where")
def where(b):
    out = DTYPES.get(b.out_types[0].dtype)
    if out is None:
        raise NotExpressible(f"Where of {b.out_types[0].dtype}: the Keras target has no such dtype")
    x, y = (b.ops.cast(b.ir(k), out) for k in (1, 2))
    return Val(b.ops.where(b.ir(0), x, y))


@keras_layer("Cast")
def cast(b):
    for dtype in (b.types[0].dtype, b.a["dtype"]):
        if dtype not in DTYPES:  # bf16, the 8-bit floats: Keras 3's backends do not all have them
            raise NotExpressible(f"Cast with {dtype}: the Keras target has no {dtype} dtype")
    return b.same_as(b.ops.cast(b.val().t, DTYPES[b.a["dtype"]]))


def _reduced(b, fn, axes, keep: bool):
    """fn(tensor, stored axes) over IR `axes` of input 0; the result's permutation follows."""
    t, perm = _stored(b)
    if 0 in axes and not keep and perm is not None:  # the rest could not keep a permutation that fixes axis 0
        t, perm = b.ir(), None
    y = _as_ir_dtype(b, fn(t, tuple(_stored_axis(perm, x) for x in axes)))
    if keep or perm is None:
        return Val(y, perm)
    rest = tuple(p - sum(x < p for x in axes) for p in perm if p not in axes)
    return Val(y, None if list(rest) == list(range(len(rest))) else rest)


_REDUCE = {"Amax": "max", "Amin": "min", "Prod": "prod", "LogSumExp": "logsumexp"}


@keras_layer(*_REDUCE)
def reduce(b):
    a = b.a
    rank = b.t.rank
    axes = a["axis"] if isinstance(a["axis"], (tuple, list)) else (a["axis"],)
    axes = sorted({int(x) % rank for x in axes})
    keep = bool(a["keepdims"])
    fn = getattr(b.ops, _REDUCE[b.node.op])
    return _reduced(b, lambda t, stored: fn(t, axis=stored, keepdims=keep), axes, keep)


@keras_layer("ArgMax", "ArgMin")
def arg_reduce(b):
    a = b.a
    axis = a["axis"] % b.t.rank
    keep = bool(a["keepdims"])
    fn = b.ops.argmax if b.node.op == "ArgMax" else b.ops.argmin

    def search(t, stored):
        (k,) = stored
        if not a["last"]:
            return fn(t, axis=k, keepdims=keep)
        size = b.t.shape[axis]  # the last of equal values: the first in the flipped tensor, from the end
        return b.ops.subtract(size - 1, fn(b.ops.flip(t, axis=k), axis=k, keepdims=keep))

    return _reduced(b, search, [axis], keep)


_COMPARE = {"Equal": "equal", "Greater": "greater", "Less": "less", "GreaterEqual": "greater_equal",
            "LessEqual": "less_equal", "LogicalAnd": "logical_and", "LogicalOr": "logical_or",
            "LogicalXor": "logical_xor", "LogicalNot": "logical_not"}


@keras_layer(*_COMPARE)
def comparison(b):
    from .basic import _aligned

    ts, out = _aligned(b)
    return out(getattr(b.ops, _COMPARE[b.node.op])(*ts))


@keras_layer("Einsum")
def einsum(b):
    """keras.ops.einsum on the IR's axis order."""
    ys = [b.ir(i) for i in range(len(b.types))]
    return Val(_as_ir_dtype(b, b.ops.einsum(b.a["equation"], *ys)))


@keras_layer("Hardmax")
def hardmax(b):
    """one_hot(argmax(x)) along the dim, on the IR's axis order."""
    x = b.ir()
    axis = b.a["dim"] % b.t.rank
    n = b.known(b.t.shape[axis], "the size of the dim")
    where = -1 if axis == b.t.rank - 1 else axis  # Keras's one_hot takes the last position only as -1
    return Val(b.ops.one_hot(b.ops.argmax(x, axis=axis), n, axis=where, dtype=DTYPES[b.t.dtype]))
