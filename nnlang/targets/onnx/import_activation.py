"""ONNX activations (Relu ... Mish, Selu, LeakyRelu, Elu, Gelu, Celu, PRelu, HardSigmoid, Softplus,
ThresholdedRelu, Swish), Softmax / LogSoftmax (opset 13+), Clip at every opset, and Identity (no layer)."""

from __future__ import annotations

import numpy as np

from .importers import Alias, Layer, Op, Unsupported, _channel_axis, onnx_op


_PLAIN = {"Relu": "ReLU", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Selu": "SELU", "Softsign": "Softsign",
          "HardSwish": "Hardswish", "Mish": "Mish"}


@onnx_op(*_PLAIN)
def plain(op: Op):
    if op.node.op_type == "Selu":
        return _selu(op)
    return Layer(_PLAIN[op.node.op_type])


_SELU_ALPHA, _SELU_GAMMA = 1.67326319217681884765625, 1.05070102214813232421875  # ONNX's defaults (float32)


def _selu(op: Op):
    """torch's SELU at ONNX's default constants; other ones are gamma * ELU(alpha), the gamma as a Scale."""
    alpha, gamma = float(op.attrs.get("alpha", _SELU_ALPHA)), float(op.attrs.get("gamma", _SELU_GAMMA))
    if abs(alpha - _SELU_ALPHA) < 1e-6 and abs(gamma - _SELU_GAMMA) < 1e-6:
        return Layer("SELU")
    shape = op.shape(op.input(0))
    if not shape or not isinstance(shape[-1], int):
        raise Unsupported("Selu with other than the standard alpha / gamma on an input whose last dim is unknown")
    dtype = np.float64 if op.dtype(op.input(0)) == "f64" else np.float32
    return [Layer("ELU", {"alpha": alpha}),
            Layer("Scale", {"bias": False, "axis": -1}, weights={"weight": np.full(shape[-1], gamma, dtype)})]


@onnx_op("LeakyRelu")
def leaky_relu(op: Op):
    return Layer("LeakyReLU", {"negative_slope": float(op.attrs.get("alpha", 0.01))})


@onnx_op("Elu")
def elu(op: Op):
    return Layer("ELU", {"alpha": float(op.attrs.get("alpha", 1.0))})


@onnx_op("Gelu", since=20)
def gelu(op: Op):
    return Layer("GELU", {"approximate": op.attrs.get("approximate", "none")})


@onnx_op("Celu", since=12)
def celu(op: Op):
    return Layer("CELU", {"alpha": float(op.attrs.get("alpha", 1.0))})


@onnx_op("PRelu")
def prelu(op: Op):
    slope = op.const_input(1, "the slope")
    if slope.size > 1 and _channel_axis(op, op.input(0), slope) != 1:
        raise Unsupported("PRelu whose slopes are not one per channel (dim 1)")
    return Layer("PReLU", {"num_parameters": int(slope.size)}, weights={"weight": slope.reshape(-1).copy()})


@onnx_op("HardSigmoid")
def hard_sigmoid(op: Op):
    alpha, beta = float(op.attrs.get("alpha", 0.2)), float(op.attrs.get("beta", 0.5))
    if abs(alpha - 1 / 6) <= 1e-6 and beta == 0.5:
        return Layer("Hardsigmoid")
    # max(0, min(1, alpha * x + beta)): the affine part as a Scale along the last axis (every channel alike)
    shape = op.shape(op.input(0))
    if not shape or not isinstance(shape[-1], int):
        raise Unsupported("HardSigmoid with other than PyTorch's alpha=1/6, beta=0.5 on an input whose last dim "
                          "is unknown")
    c = shape[-1]
    dtype = np.float64 if op.dtype(op.input(0)) == "f64" else np.float32
    scale = Layer("Scale", {"bias": True, "axis": -1}, weights={"weight": np.full(c, alpha, dtype),
                                                               "bias": np.full(c, beta, dtype)})
    return [scale, Layer("Hardtanh", {"min_val": 0.0, "max_val": 1.0})]


@onnx_op("Softplus")
def softplus(op: Op):
    return Layer("Softplus")  # log(1 + exp(x)); torch's linear tail above 20 differs by < 3e-9


@onnx_op("ThresholdedRelu")
def thresholded_relu(op: Op):
    alpha = float(op.attrs.get("alpha", 1.0))
    return Layer("Threshold", {"threshold": alpha, "value": 0.0})  # x > alpha ? x : 0


@onnx_op("Swish", since=24)
def swish(op: Op):
    if float(op.attrs.get("alpha", 1.0)) != 1.0:
        raise Unsupported("Swish with alpha other than 1 (SiLU)")
    return Layer("SiLU")


@onnx_op("Softmax", "LogSoftmax", since=13)
def softmax(op: Op):
    return Layer("Softmax" if op.node.op_type == "Softmax" else "LogSoftmax", {"dim": int(op.attrs.get("axis", -1))})


@onnx_op("Clip", since=11)
def clip(op: Op):
    lo, hi = op.const_input(1, "min"), op.const_input(2, "max")
    lo = None if lo is None else float(lo)
    hi = None if hi is None else float(hi)
    if lo == 0.0 and hi == 6.0:
        return Layer("ReLU6")
    if lo is not None and hi is not None and lo >= hi:  # ONNX: min(max(x, lo), hi), hi everywhere but NaN
        return [Layer("Maximum", {"value": lo}), Layer("Minimum", {"value": hi})]
    if lo is not None and hi is not None:
        return Layer("Hardtanh", {"min_val": lo, "max_val": hi})
    if lo == 0.0 and hi is None:
        return Layer("ReLU")
    return _one_bound(op, lo, hi)


def _one_bound(op: Op, lo, hi):
    """max(x, lo) is Threshold(lo, lo) (x > lo ? x : lo); min(x, hi) = -max(-x, -hi); no bound: x itself."""
    if lo is None and hi is None:
        return Alias(op.input(0))
    if hi is None:
        return Layer("Threshold", {"threshold": lo, "value": lo})
    return [Layer("Neg"), Layer("Threshold", {"threshold": -hi, "value": -hi}), Layer("Neg")]


@onnx_op("Clip", since=6)
def clip_6(op: Op):
    lo, hi = float(op.attrs.get("min", -3.4e38)), float(op.attrs.get("max", 3.4e38))
    if lo == 0.0 and hi == 6.0:
        return Layer("ReLU6")
    return Layer("Hardtanh", {"min_val": lo, "max_val": hi})


@onnx_op("Identity")
def passthrough(op: Op):
    return Alias(op.node.input[0])
