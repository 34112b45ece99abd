"""Reductions beside Mean and Sum (shape.py): Amax, Amin, Prod, LogSumExp over one or more axes, and ArgMax /
ArgMin along one axis.

Like Mean and Sum they take `axis` (one axis or several, negatives from the end; the batch is axis 0) and
`keepdims`. The names are torch's (torch.amax, torch.amin, torch.prod, torch.logsumexp, torch.argmax): `Max`
and `Min` are the elementwise Maximum / Minimum of several tensors. 0 MACs, no weights.
"""

from __future__ import annotations

from .base import BOOL, INT, LayerSpec, Param, ShapeError, TensorType
from .shape import INTEGER_DTYPES, _Axes, _axes_of, axis_of


def _reduce(name: str, doc: str, floats_only: bool = False) -> LayerSpec:
    def infer(a, inputs):
        (x,) = inputs
        if floats_only and x.dtype in INTEGER_DTYPES:
            raise ShapeError(f"{name} needs a floating-point input, got {x.dtype} {x}", "E301", 0)
        if x.dtype == "bool" and name not in ("Amax", "Amin"):  # over bools: any / all
            raise ShapeError(f"{name} takes numbers, got a bool tensor {x}", "E301", 0)
        axes = _axes_of(a["axis"], x, name)
        if a["keepdims"]:
            return [x.with_shape(tuple(1 if i in axes else d for i, d in enumerate(x.shape)))]
        return [x.with_shape(tuple(d for i, d in enumerate(x.shape) if i not in axes))]

    return LayerSpec(
        name=name, family="reduction",
        doc=f"{doc} over one or more axes; the reduced dims are removed (kept as 1 with keepdims=true).",
        params=(Param("axis", _Axes(), doc="axis or axes to reduce (negatives count from the end)"),
                Param("keepdims", BOOL, False, "keep the reduced dims as size 1")),
        infer=infer, example=f"{name}(axis=1)")


def _arg(name: str, what: str) -> LayerSpec:
    def infer(a, inputs):
        (x,) = inputs
        if x.dtype == "bool":
            raise ShapeError(f"{name} takes numbers, got a bool tensor {x}", "E301", 0)
        axis = axis_of(a["axis"], x, name)
        if a["keepdims"]:
            shape = tuple(1 if i == axis else d for i, d in enumerate(x.shape))
        else:
            shape = tuple(d for i, d in enumerate(x.shape) if i != axis)
        return [TensorType(shape, "i64", x.layout)]

    return LayerSpec(
        name=name, family="reduction",
        doc=f"The index (i64) of the {what} value along one axis; of the first such value, or of the last with "
            "last=true. The axis is removed (kept as 1 with keepdims=true).",
        params=(Param("axis", INT, doc="the axis searched (negatives count from the end)"),
                Param("keepdims", BOOL, False, "keep the axis as size 1"),
                Param("last", BOOL, False, "on ties, the last index instead of the first")),
        infer=infer, example=f"{name}(axis=1)")


LAYERS = [
    _reduce("Amax", "Maximum (for bools: any)"),
    _reduce("Amin", "Minimum (for bools: all)"),
    _reduce("Prod", "Product"),
    _reduce("LogSumExp", "log(sum(exp(x))), computed stably,", floats_only=True),
    _arg("ArgMax", "largest"),
    _arg("ArgMin", "smallest"),
]
