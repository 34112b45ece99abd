"""Normalisations exporters write below their native opset: LayerNorm (ReduceMean, Sub, Pow / Mul, Sqrt, Div,
weight, bias; below 17), the within-channel LocalResponseNorm (x / (k + alpha * AveragePool(x * x))^beta),
GroupNorm (Reshape, InstanceNormalization, Reshape, affine; below 21)."""

from __future__ import annotations

import numpy as np

from .fusions import Fused, View, _near, onnx_fusion
from .importers import Layer


@onnx_fusion("Sqrt")
def layer_norm(view: View, sqrt):
    """(x - mean) / sqrt(var + eps) over the last dims, then * weight + bias: LayerNorm as exporters
    write it below opset 17 (torch.onnx with Pow(d, 2), nnlang with d * d)."""
    eps_add = view.producer(sqrt.input[0], "Add")
    if eps_add is None:
        return None
    var_value = next((i for i in eps_add.input if view.scalar(view.other_input(eps_add, i)) is not None), None)
    var = view.producer(var_value, "ReduceMean") if var_value else None
    if var is None:
        return None
    eps = view.scalar(view.other_input(eps_add, var_value))
    square = view.producer(var.input[0])
    if square is None or not (square.op_type == "Pow" and _near(view.scalar(square.input[1]), 2.0)
                              or square.op_type == "Mul" and square.input[0] == square.input[1]):
        return None
    sub = view.producer(square.input[0], "Sub")
    mean = view.producer(sub.input[1], "ReduceMean") if sub is not None else None
    div = view.only_consumer(sqrt.output[0], "Div")
    if mean is None or mean.input[0] != sub.input[0] or div is None or list(div.input) != [sub.output[0],
                                                                                           sqrt.output[0]]:
        return None
    x = sub.input[0]
    shape = view.shapes.get(x)
    axes = view.ints(mean, "axes", 1)
    if shape is None or axes is None or view.ints(var, "axes", 1) != axes \
            or view.attr(mean, "keepdims", 1) != 1 or view.attr(var, "keepdims", 1) != 1:
        return None
    rank = len(shape)
    axes = sorted(a % rank for a in axes)
    if axes != list(range(rank - len(axes), rank)) or any(not isinstance(shape[a], int) for a in axes):
        return None
    normalized = tuple(int(shape[a]) for a in axes)
    nodes, last, weights = [mean, sub, square, var, eps_add, sqrt, div], div, {}
    mul = view.only_consumer(div.output[0], "Mul")
    w = view.const(view.other_input(mul, div.output[0])) if mul is not None else None
    if w is not None and w.shape == normalized:
        weights["weight"], last = w, mul
        nodes.append(mul)
        add = view.only_consumer(mul.output[0], "Add")
        b = view.const(view.other_input(add, mul.output[0])) if add is not None else None
        if b is not None and b.shape == normalized:
            weights["bias"], last = b, add
            nodes.append(add)
    params = {"normalized_shape": normalized if len(normalized) > 1 else normalized[0],
              "eps": float(str(np.float32(eps))),
              "elementwise_affine": bool(weights), "bias": "bias" in weights or not weights}
    return Fused(Layer("LayerNorm", params, inputs=[x], outputs=[last.output[0]], weights=weights), nodes)


@onnx_fusion("AveragePool")
def within_channel_lrn(view: View, pool):
    """x / (k + alpha * AveragePool(x * x))^beta, the pool odd, square, stride 1, centred and counting its
    padding: LocalResponseNorm(region="within") (Caffe's WITHIN_CHANNEL LRN, as nnlang writes it)."""
    square = view.producer(pool.input[0])
    if square is None or square.op_type != "Mul" or square.input[0] != square.input[1] \
            or view.only_consumer(pool.input[0]) is not pool:
        return None
    x = square.input[0]
    kernel = view.attr(pool, "kernel_shape")
    if kernel is None or len(kernel) != 2 or kernel[0] != kernel[1] or kernel[0] % 2 == 0:
        return None
    size = int(kernel[0])
    if list(view.attr(pool, "strides", [1, 1])) != [1, 1] or view.attr(pool, "count_include_pad", 0) != 1 \
            or list(view.attr(pool, "pads", [0] * 4)) != [(size - 1) // 2] * 4 \
            or view.attr(pool, "auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET") \
            or view.attr(pool, "ceil_mode", 0) or any(d != 1 for d in view.attr(pool, "dilations", [1, 1])):
        return None
    scaled = view.only_consumer(pool.output[0], "Mul")
    alpha = view.scalar(view.other_input(scaled, pool.output[0])) if scaled is not None else None
    shifted = view.only_consumer(scaled.output[0], "Add") if alpha is not None else None
    k = view.scalar(view.other_input(shifted, scaled.output[0])) if shifted is not None else None
    power = view.only_consumer(shifted.output[0], "Pow") if k is not None else None
    if power is None or power.input[0] != shifted.output[0]:
        return None
    beta = view.scalar(power.input[1])
    div = view.only_consumer(power.output[0], "Div")
    if beta is None or div is None or list(div.input) != [x, power.output[0]]:
        return None
    params = {"size": size, "alpha": float(str(np.float32(alpha))), "beta": float(str(np.float32(beta))),
              "k": float(str(np.float32(k))), "region": "within"}
    return Fused(Layer("LocalResponseNorm", params, inputs=[x], outputs=[div.output[0]]),
                 [square, pool, scaled, shifted, power, div])


@onnx_fusion("InstanceNormalization")
def group_norm(view: View, inorm):
    """[N, C, ...] -> [N, G, -1], InstanceNormalization without affine, back to x's shape, then a
    per-channel weight and bias: GroupNorm as exporters write it below opset 21."""
    into = view.producer(inorm.input[0], "Reshape")
    scale, shift = view.const(inorm.input[1]), view.const(inorm.input[2])
    back = view.only_consumer(inorm.output[0], "Reshape")
    if into is None or scale is None or shift is None or back is None or np.any(scale != 1) or np.any(shift != 0):
        return None
    x = into.input[0]
    shape, grouped = view.shapes.get(x), view.shapes.get(inorm.input[0])
    size_of_x = view.producer(back.input[1], "Shape")
    restored = view.shapes.get(back.output[0]) == shape or (size_of_x is not None and size_of_x.input[0] == x)
    if shape is None or grouped is None or len(grouped) != 3 or not restored or not isinstance(shape[1], int):
        return None

    nodes, last, weights = [into, inorm, back], back, {}
    c = shape[1]
    mul = view.only_consumer(back.output[0], "Mul")
    w = view.const(view.other_input(mul, back.output[0])) if mul is not None else None
    if w is not None and w.size == c and w.shape[0] == c and w.ndim == len(shape) - 1:
        add = view.only_consumer(mul.output[0], "Add")
        b = view.const(view.other_input(add, mul.output[0])) if add is not None else None
        if b is not None and b.shape == w.shape:
            weights = {"weight": w.reshape(-1).copy(), "bias": b.reshape(-1).copy()}
            nodes, last = nodes + [mul, add], add
    params = {"num_groups": int(scale.size), "eps": float(str(np.float32(view.attr(inorm, "epsilon", 1e-5)))),
              "affine": bool(weights)}
    return Fused(Layer("GroupNorm", params, inputs=[x], outputs=[last.output[0]], weights=weights), nodes)
