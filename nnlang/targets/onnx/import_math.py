"""ONNX reductions (ReduceX at every opset: axes an attribute before 13 / 18, an input after; all axes when
none are given unless noop_with_empty_axes), ArgMax / ArgMin, and elementwise math (Abs ... Cos, Pow by a
constant, Cast). ReduceL1 / L2 / SumSquare / LogSum are chains of registry layers (Abs + Sum, x * x + Sum
+ Sqrt ...)."""

from __future__ import annotations

import numpy as np

from .mapping import NNS_DTYPES
from .importers import Alias, Layer, Op, Unsupported, onnx_op

_FLOAT = ("f16", "bf16", "f32", "f64")


def _axes(op: Op, axes):
    """The reduced axes, normalised and sorted; None: the input itself (noop_with_empty_axes)."""
    rank = op.rank(0)
    axes = () if axes is None else tuple(int(a) for a in np.asarray(axes).reshape(-1))
    if not axes:
        if op.attrs.get("noop_with_empty_axes", 0):
            return None
        axes = tuple(range(rank))
    if rank == 0:
        raise Unsupported(f"{op.node.op_type} of a scalar")
    return tuple(sorted(a % rank for a in axes))


def _all_spatial(op: Op, axes) -> bool:
    rank = op.rank(0)
    return rank >= 3 and list(axes) == list(range(2, rank))


def _global_pool(op: Op, kind: str) -> Layer:
    """Over all spatial dims: AdaptiveAvgPool2d(1) as torch models write it when the dims stay, else
    GlobalAvgPool (GlobalMaxPool)."""
    if op.attrs.get("keepdims", 1):
        return Layer(f"Adaptive{kind}Pool{op.rank(0) - 2}d", {"output_size": 1})
    return Layer(f"Global{kind}Pool", {"keepdims": False})


def _float_input(op: Op) -> bool:
    return (op.dtype(op.input(0)) or "f32") in _FLOAT


def _reduce(op: Op, axes):
    axes = _axes(op, axes)
    if axes is None:
        return Alias(op.input(0))
    kind = op.node.op_type
    params = {"axis": axes if len(axes) > 1 else axes[0], "keepdims": bool(op.attrs.get("keepdims", 1))}
    if kind in ("ReduceMean", "ReduceMax") and _all_spatial(op, axes) and _float_input(op):
        return _global_pool(op, "Avg" if kind == "ReduceMean" else "Max")
    simple = {"ReduceMean": "Mean", "ReduceSum": "Sum", "ReduceMax": "Amax", "ReduceMin": "Amin",
              "ReduceProd": "Prod", "ReduceLogSumExp": "LogSumExp"}
    if kind in simple:
        return Layer(simple[kind], params)
    x = op.input(0)
    if kind == "ReduceL1":
        return [Layer("Abs"), Layer("Sum", params)]
    if kind == "ReduceLogSum":
        return [Layer("Sum", params), Layer("Log")]
    square = Layer("Mul", {}, inputs=[x, x])
    if kind == "ReduceSumSquare":
        return [square, Layer("Sum", params)]
    if not _float_input(op):
        raise Unsupported("ReduceL2 of integers (the square root of an integer sum)")
    return [square, Layer("Sum", params), Layer("Sqrt")]


_ATTRIBUTE_AXES = ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceLogSumExp", "ReduceL1", "ReduceL2",
                   "ReduceSumSquare", "ReduceLogSum")


@onnx_op("ReduceSum", *_ATTRIBUTE_AXES)
def reduce_attribute(op: Op):
    return _reduce(op, op.attrs.get("axes"))


@onnx_op("ReduceSum", since=13)
def reduce_sum_13(op: Op):
    return _reduce(op, op.const_input(1, "axes"))


@onnx_op(*_ATTRIBUTE_AXES, since=18)
def reduce_18(op: Op):
    return _reduce(op, op.const_input(1, "axes"))


@onnx_op("ArgMax", "ArgMin")
def arg_reduce(op: Op):
    return Layer(op.node.op_type, {"axis": int(op.attrs.get("axis", 0)), "keepdims": bool(op.attrs.get("keepdims", 1)),
                                   "last": bool(op.attrs.get("select_last_index", 0))})


_UNARY = ("Abs", "Neg", "Sign", "Floor", "Ceil", "Round", "Sqrt", "Exp", "Log", "Reciprocal", "Erf", "Sin", "Cos")


@onnx_op(*_UNARY)
def unary(op: Op):
    return Layer(op.node.op_type)


@onnx_op("Pow")
def power(op: Op):
    base, exponent = op.const(op.input(0)), op.const(op.input(1))
    if base is not None:
        raise Unsupported("Pow of a constant base (fold it, or give the base as a tensor)")
    if exponent is None:  # x ** y of two tensors, in x's dtype
        return Layer("Pow", {}, inputs=[op.input(0), op.input(1)])
    if exponent.size != 1 or (op.shape(op.input(0)) is not None and exponent.ndim > len(op.shape(op.input(0)))):
        raise Unsupported("Pow by a constant that is not one number")
    if not _float_input(op):
        raise Unsupported("Pow of integers (the Pow layer computes in floating point)")
    value = float(exponent.reshape(-1)[0])
    if not np.isfinite(value):
        raise Unsupported(f"Pow by {value}")
    return Layer("Pow", {"exponent": value}, inputs=[op.input(0)])


@onnx_op("Cast")
def cast(op: Op):
    to = int(op.attrs.get("to", 0))
    dtype = NNS_DTYPES.get(to)
    if dtype is None:
        raise Unsupported(f"Cast to element type {to}, which has no .nns dtype")
    attrs = {"dtype": dtype}
    if dtype.startswith("f8") and not int(op.attrs.get("saturate", 1)):
        attrs["saturate"] = False
    mode = op.attrs.get("round_mode", "up")
    mode = mode.decode() if isinstance(mode, bytes) else str(mode)
    if dtype == "f8e8m0" and mode != "up":
        raise Unsupported(f"Cast to FLOAT8E8M0 with round_mode={mode!r} (the Cast layer rounds up, ONNX's default)")
    return Layer("Cast", attrs)


_COMPARE = {"Equal": "Equal", "Greater": "Greater", "Less": "Less", "GreaterOrEqual": "GreaterEqual",
            "LessOrEqual": "LessEqual", "And": "LogicalAnd", "Or": "LogicalOr", "Xor": "LogicalXor",
            "Not": "LogicalNot"}


@onnx_op(*_COMPARE)
def comparison(op: Op):
    if any(op.const(name) is not None for name in op.inputs):
        raise Unsupported(f"{op.node.op_type} with a constant operand")
    return Layer(_COMPARE[op.node.op_type], {}, inputs=op.inputs)


@onnx_op("Einsum", since=12)
def einsum(op: Op):
    if any(op.const(name) is not None for name in op.inputs):
        raise Unsupported("Einsum with a constant operand (no layer holds it)")
    return Layer("Einsum", {"equation": str(op.attrs.get("equation", "")).replace(" ", "")}, inputs=op.inputs)


@onnx_op("Hardmax", since=13)
def hardmax(op: Op):
    return Layer("Hardmax", {"dim": int(op.attrs.get("axis", -1))})


@onnx_op("Hardmax", since=1)
def hardmax_2d(op: Op):
    """Before opset 13 the input is coerced to 2-D at `axis` (default 1): one hardmax over all dims from axis
    on, which is one dim's only when axis is the last."""
    rank = op.rank(0)
    axis = int(op.attrs.get("axis", 1)) % max(rank, 1)
    if axis != rank - 1:
        raise Unsupported(f"Hardmax at axis {axis} of a rank-{rank} input before opset 13 (over the flattened dims "
                          f"{axis}..{rank - 1})")
    return Layer("Hardmax", {"dim": -1})


@onnx_op("LpNormalization")
def lp_normalization(op: Op):
    """x / ||x||_p along one axis: the norm as a chain (|x| or x * x, Sum keeping the axis, Sqrt), then Div. An
    all-zero vector gives NaN here where onnxruntime gives 0: the verification reports it when the example has one."""
    p = int(op.attrs.get("p", 2))
    if p not in (1, 2):
        raise Unsupported(f"LpNormalization with p={p} (ONNX allows 1 and 2)")
    if not _float_input(op):
        raise Unsupported("LpNormalization of integers")
    x, out = op.input(0), op.node.output[0]
    total = {"axis": int(op.attrs.get("axis", -1)), "keepdims": True}
    if p == 1:
        norm = [Layer("Abs", outputs=[f"{out}#abs"]), Layer("Sum", total, outputs=[f"{out}#norm"])]
    else:
        norm = [Layer("Mul", {}, inputs=[x, x], outputs=[f"{out}#square"]), Layer("Sum", total),
                Layer("Sqrt", outputs=[f"{out}#norm"])]
    return norm + [Layer("Div", {}, inputs=[x, f"{out}#norm"], outputs=[out])]


@onnx_op("MeanVarianceNormalization", since=9)
def mean_variance_normalization(op: Op):
    """(x - mean) / (sqrt(var) + 1e-9) over `axes` (default 0, 2, 3), as ONNX's function body: layers for the
    mean, the centred square's mean, its root, + 1e-9 (a Scale of weight 1 on the kept size-1 last dim), Div."""
    if (op.dtype(op.input(0)) or "f32") != "f32":
        raise Unsupported("MeanVarianceNormalization of other than float32")
    rank = op.rank(0)
    axes = tuple(sorted(int(a) % rank for a in op.attrs.get("axes", (0, 2, 3))))
    if rank - 1 not in axes:
        raise Unsupported("MeanVarianceNormalization that keeps the last axis (the + epsilon is a Scale on it)")
    x, out = op.input(0), op.node.output[0]
    over = {"axis": axes if len(axes) > 1 else axes[0], "keepdims": True}
    one = np.ones(1, np.float32)
    return [Layer("Mean", over, inputs=[x], outputs=[f"{out}#mean"]),
            Layer("Sub", {}, inputs=[x, f"{out}#mean"], outputs=[f"{out}#centred"]),
            Layer("Mul", {}, inputs=[f"{out}#centred", f"{out}#centred"], outputs=[f"{out}#square"]),
            Layer("Mean", over), Layer("Sqrt"),
            Layer("Scale", {"bias": True, "axis": -1}, weights={"weight": one, "bias": one * np.float32(1e-9)},
                  outputs=[f"{out}#std_eps"]),
            Layer("Div", {}, inputs=[f"{out}#centred", f"{out}#std_eps"], outputs=[out])]
