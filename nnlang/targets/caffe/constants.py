"""Caffe form of the elementwise layers' constant operand (layers/constants.py).

A number is Power, y = (shift + scale * x) ^ power: x * c, x / c, x + c, x - c, c - x, and c / x as
(x / c) ^ -1; Maximum / Minimum by a number are ReLU between two Powers (max(x, c) = ReLU(x - c) + c,
min(x, c) = c - ReLU(c - x)). A tensor is a one-input Scale layer whose blobs hold it (Mul, Div: its
reciprocal; Add, Sub: weight 1 or -1 and the tensor or its negation as bias -- OpenCV has no Bias layer), over
the span of axes where it is not 1 -- which must equal x's dims there, past the batch axis (Caffe's blobs do
not broadcast inside). Anything else (c / x and Maximum / Minimum of a tensor, a constant that widens x) is
refused by name.
"""

from __future__ import annotations

from .plan import NotExpressible


def _power(b, x: str, what: str = "", power: float = 1.0, scale: float = 1.0, shift: float = 0.0) -> str:
    p = {k: float(v) for k, v, d in (("power", power, 1.0), ("scale", scale, 1.0), ("shift", shift, 0.0)) if v != d}
    return b.one("Power", [x], {"power_param": p}, what=what)


def _number(b, op: str, c: float, reverse: bool) -> list:
    x = b.bottoms[0]
    if op == "Mul":
        return [_power(b, x, scale=c)]
    if op == "Add":
        return [_power(b, x, shift=c)]
    if op == "Sub":
        return [_power(b, x, scale=-1.0, shift=c) if reverse else _power(b, x, shift=-c)]
    if op == "Div":
        if c == 0:
            raise NotExpressible(f"{op} by the number 0 (Power's scale would be infinite)")
        if not reverse:
            return [_power(b, x, scale=1.0 / c)]
        # OpenCV folds a following scale / shift into a Power whose power is not 1 as if it were 1 (its
        # PowerFunctor::tryFuse): a Reshape keeping every dim stands between, which nothing folds into.
        reciprocal = _power(b, x, "reciprocal", power=-1.0, scale=1.0 / c)
        return [b.one("Reshape", [reciprocal], {"reshape_param": {"shape": {"dim": [0] * b.t.rank}}})]
    if op == "Maximum":
        relu = b.one("ReLU", [_power(b, x, "shifted", shift=-c)], what="relu")
        return [_power(b, relu, shift=c)]
    flipped = b.one("ReLU", [_power(b, x, "flipped", scale=-1.0, shift=c)], what="relu")
    return [_power(b, flipped, scale=-1.0, shift=c)]


def _span(b, shape: tuple) -> tuple:
    """(first axis, number of axes) of x a tensor constant varies along; NotExpressible if Caffe cannot hold it."""
    x = b.t.shape
    dims = (1,) * (len(x) - len(shape)) + tuple(shape)
    if len(shape) > len(x) or b.out_types[0].shape != x:
        raise NotExpressible(f"{b.node.op} with a constant {tuple(shape)} that widens its input {list(x)}")
    varying = [k for k, d in enumerate(dims) if d != 1]
    if not varying:
        raise NotExpressible(f"{b.node.op} with a constant tensor of one element: write it as a number")
    first, last = varying[0], varying[-1]
    if first == 0 or any(dims[k] != x[k] for k in range(first, last + 1)):
        raise NotExpressible(f"{b.node.op} with a constant {tuple(shape)} that broadcasts inside the axes it "
                             f"spans of {list(x)} (a Caffe Scale / Bias blob must match them)")
    return first, last - first + 1


def _tensor(b, op: str, shape: tuple, reverse: bool) -> list:
    if op in ("Maximum", "Minimum") or (op == "Div" and reverse):
        raise NotExpressible(f"{op} with a constant tensor{' first' if reverse else ''}: no Caffe layer holds it")
    axis, n = _span(b, shape)
    key, span = b.key(""), tuple(b.t.shape[axis:axis + n])

    def blobs(weight, bias):
        """fn(state) -> the Scale's blobs: weight (a number, None: the tensor itself, "reciprocal": 1 / it) and
        bias (None, or the tensor times this sign)."""
        def make(state):
            import numpy as np  # only when blobs are made: the capability check (plan_net) stays framework-free

            c = np.asarray(state[key], np.float32).reshape(span)
            w = c if weight is None else (1.0 / c if weight == "reciprocal" else np.full(span, weight, np.float32))
            return [np.asarray(w, np.float32)] + ([] if bias is None else [np.asarray(bias * c, np.float32)])
        return make

    if op in ("Mul", "Div"):
        made = blobs(None if op == "Mul" else "reciprocal", None)
        return [b.one("Scale", b.bottoms, {"scale_param": {"axis": axis, "num_axes": n}}, made)]
    # OpenCV has no Bias layer: a Scale with the tensor (or its negation) as bias; c - x = x * -1 + c
    made = blobs(-1.0, 1.0) if reverse else blobs(1.0, 1.0 if op == "Add" else -1.0)
    return [b.one("Scale", b.bottoms, {"scale_param": {"axis": axis, "num_axes": n, "bias_term": True}}, made)]


def constant_layers(b):
    """The Caffe layers of the one-tensor form, or None for the form over tensors."""
    a = b.a
    value, shape = a.get("value"), a.get("shape")
    if value is None and shape is None:
        return None
    if value is not None:
        return _number(b, b.node.op, float(value), a.get("reverse", False))
    return _tensor(b, b.node.op, tuple(shape), a.get("reverse", False))
