"""Weight-standardised convolutions read back from the ops nnlang's ONNX target writes for them
(targets/onnx/layers/conv.py): a Conv whose weight is Div(Sub(w, ReduceMean(w)), Sqrt(Add(ReduceMean((w - mean)^2),
eps))) over the fan-in axes of a stored w -- times Mul(gain, gamma / sqrt(fan-in)) for ScaledStdConv2d -- is
StdConv2d / ScaledStdConv2d with w (and gain) as its weights, not a Conv2d of the folded kernel."""

from __future__ import annotations

import math

from .fusions import Fused, View, _near, onnx_fusion
from .importers import Op

_FAN_IN = [1, 2, 3]


def _producer_among(view: View, node, op_type: str):
    return next((view.producer(i, op_type) for i in node.input if view.producer(i, op_type) is not None), None)


def _standardized(view: View, value: str):
    """(w, eps, nodes) when value = (w - mean) / sqrt(variance + eps) per output channel of a stored 4-D w."""
    div = view.producer(value, "Div")
    sub = view.producer(div.input[0], "Sub") if div is not None else None
    sqrt = view.producer(div.input[1], "Sqrt") if div is not None else None
    add = view.producer(sqrt.input[0], "Add") if sqrt is not None else None
    if sub is None or add is None:
        return None
    w, mean = view.const(sub.input[0]), view.producer(sub.input[1], "ReduceMean")
    variance = _producer_among(view, add, "ReduceMean")
    square = view.producer(variance.input[0], "Mul") if variance is not None else None
    # (every value here is a constant once folded: eps is the one of size 1)
    eps = next((view.scalar(i) for i in add.input if view.scalar(i) is not None), None)
    if w is None or w.ndim != 4 or mean is None or mean.input[0] != sub.input[0] or square is None \
            or list(square.input) != [sub.output[0]] * 2 or eps is None:
        return None
    if view.ints(mean, "axes", 1) != _FAN_IN or view.ints(variance, "axes", 1) != _FAN_IN:
        return None
    return w, eps, [div, sub, sqrt, add, mean, variance, square]


@onnx_fusion("Conv")
def standardized_conv(view: View, conv):
    if len(conv.input) < 2:
        return None
    gain, nodes = None, []
    weight_value = conv.input[1]
    times = view.producer(weight_value, "Mul")
    if times is not None:  # ScaledStdConv2d: the standardised kernel times Mul(gain, gamma / sqrt(fan-in))
        div = _producer_among(view, times, "Div")
        factor = view.producer(view.other_input(times, div.output[0]), "Mul") if div is not None else None
        consts = [view.const(i) for i in factor.input] if factor is not None else []
        if len(consts) != 2 or any(c is None for c in consts):
            return None
        gain = next((c for c in consts if c.ndim == 4), None)
        scale = next((float(c.reshape(-1)[0]) for c in consts if c.size == 1 and c.ndim == 0), None)
        if gain is None or scale is None:
            return None
        weight_value, nodes = div.output[0], [times, factor]
    found = _standardized(view, weight_value)
    if found is None:
        return None
    w, eps, more = found
    from .import_conv import conv as conv_layer
    from .load import _attributes

    op = Op(conv, _attributes(conv), view.const, lambda v: view.shapes.get(v), lambda v: view.consumers.get(v, []),
            view.opset)
    layer = conv_layer(op)
    if layer.op != "Conv2d" or layer.pad_first is not None or (
            gain is not None and gain.shape != (w.shape[0], 1, 1, 1)):
        return None
    layer.op = "StdConv2d" if gain is None else "ScaledStdConv2d"
    layer.params["eps"] = 1e-6 if _near(eps, 1e-6) else float(f"{eps:.7g}")  # the decimal it was written as
    layer.params["bias"] = "bias" in layer.weights
    layer.weights["weight"] = w
    if gain is not None:
        layer.params["gamma"] = float(f"{scale * math.sqrt(math.prod(w.shape[1:])):.9g}")
        layer.weights["gain"] = gain
    layer.inputs, layer.outputs = [conv.input[0]], [conv.output[0]]
    return Fused(layer, [conv, *nodes, *more])
