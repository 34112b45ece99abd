"""Shape arithmetic done while importing: ops whose inputs are all known arrays (Const, the Shape of a
tensor of known size) are evaluated with numpy, as TensorFlow's own constant folding would. Only small,
side-effect-free ops; anything else returns None and is left to the layer importers."""

from __future__ import annotations

from typing import Optional

import numpy as np

from ..importing import Unsupported
from .graphdef import _DTYPES, attr

MAX_RESULT = 1 << 24  # elements one evaluated op may produce


def _strided_slice(node, x, begin, end, strides) -> np.ndarray:
    if any(attr(node, k, 0) for k in ("ellipsis_mask", "new_axis_mask")) or x.ndim != 1 or begin.size != 1:
        raise Unsupported("a strided slice other than one range of a 1-D constant")
    b, e, s = int(begin[0]), int(end[0]), int(strides[0])
    if s == 0:
        raise Unsupported("a strided slice with step 0")
    if attr(node, "shrink_axis_mask", 0) & 1:
        return x[b]
    b = None if attr(node, "begin_mask", 0) & 1 else b
    e = None if attr(node, "end_mask", 0) & 1 else e
    return x[b:e:s]


def _reduce(fn, node, x, axes):
    axes = tuple(int(a) for a in np.ravel(axes))
    return fn(x, axis=axes or None, keepdims=bool(attr(node, "keep_dims", False)))


_EVAL = {
    "Add": lambda n, a, b: a + b, "AddV2": lambda n, a, b: a + b, "Sub": lambda n, a, b: a - b,
    "Mul": lambda n, a, b: a * b, "Maximum": lambda n, a, b: np.maximum(a, b),
    "Minimum": lambda n, a, b: np.minimum(a, b), "FloorDiv": lambda n, a, b: a // b,
    "Pack": lambda n, *xs: np.stack(xs, axis=int(attr(n, "axis", 0))),
    "ConcatV2": lambda n, *xs: np.concatenate(xs[:-1], axis=int(xs[-1])),
    "Concat": lambda n, *xs: np.concatenate(xs[1:], axis=int(xs[0])),
    "StridedSlice": _strided_slice,
    "Prod": lambda n, x, axes: _reduce(np.prod, n, x, axes),
    "Sum": lambda n, x, axes: _reduce(np.sum, n, x, axes),
    "Reshape": lambda n, x, shape: x.reshape(tuple(int(d) for d in shape)),
    "Squeeze": lambda n, x: np.squeeze(x, axis=tuple(attr(n, "squeeze_dims", [])) or None),
    "ExpandDims": lambda n, x, axis: np.expand_dims(x, int(axis)),
    "Cast": lambda n, x: x.astype(_DTYPES.get(attr(n, "DstT", 1), np.float32)),
    "Identity": lambda n, x: x,
}


def evaluate(node, args: list) -> Optional[np.ndarray]:
    """The value of `node` given the values of its inputs, or None if it is no shape-arithmetic op."""
    fn = _EVAL.get(node.op)
    if fn is None:
        return None
    if any(a.size > MAX_RESULT for a in args):
        raise Unsupported("arithmetic on constants too large to evaluate while importing")
    try:
        with np.errstate(all="ignore"):
            out = np.asarray(fn(node, *args))
    except (ValueError, TypeError, IndexError, ZeroDivisionError) as e:
        raise Unsupported(f"cannot be evaluated on its constant inputs ({e})") from None
    if out.size > MAX_RESULT:
        raise Unsupported("a constant result too large to evaluate while importing")
    return out
