"""Activations. Where an ONNX op exists it is used for f32; other float types get the same function
from primitive ops (see LayerBuilder.elementwise_native)."""

from __future__ import annotations

import math

from ..mapping import onnx_layer

# torch's SELU constants (ONNX's defaults are their float32 roundings)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _exp_minus_one(b, x: str, dtype: str) -> str:
    return b.op("Sub", b.op("Exp", x), b.scalar(1.0, dtype))


def _elu(b, x: str, alpha: float, dtype: str) -> str:
    """x if x > 0 else alpha * (exp(x) - 1)."""
    neg = b.op("Mul", b.scalar(alpha, dtype), _exp_minus_one(b, x, dtype))
    return b.op("Where", b.op("Greater", x, b.scalar(0.0, dtype)), x, neg)


def _hardsigmoid(b, x: str, dtype: str) -> str:
    """relu6(x + 3) / 6 = clip(x / 6 + 1 / 2, 0, 1)."""
    if b.elementwise_native(dtype):
        return b.op("HardSigmoid", x, alpha=1.0 / 6, beta=0.5)
    y = b.op("Add", b.op("Mul", x, b.scalar(1.0 / 6, dtype)), b.scalar(0.5, dtype))
    return b.clip(y, 0.0, 1.0, dtype)


def _softplus(b, x: str, dtype: str) -> str:
    if b.elementwise_native(dtype):
        return b.op("Softplus", x)
    return b.op("Log", b.op("Add", b.op("Exp", x), b.scalar(1.0, dtype)))


@onnx_layer("ReLU")
def relu(b):
    return b.op("Relu", b.x)


@onnx_layer("LeakyReLU")
def leaky_relu(b):
    return b.op("LeakyRelu", b.x, alpha=b.a["negative_slope"])


@onnx_layer("PReLU")
def prelu(b):
    # torch's slopes [C] apply along dim 1; ONNX broadcasts from the right, so they become [C, 1, ...].
    w = b.weight("weight")
    if b.a["num_parameters"] != 1:
        w = b.channel_view(w, b.t.rank, 1)
    return b.op("PRelu", b.x, w)


@onnx_layer("ELU")
def elu(b):
    if b.elementwise_native(b.t.dtype):
        return b.op("Elu", b.x, alpha=b.a["alpha"])
    return _elu(b, b.x, b.a["alpha"], b.t.dtype)


@onnx_layer("SELU")
def selu(b):
    if b.elementwise_native(b.t.dtype):
        return b.op("Selu", b.x)
    return b.op("Mul", b.scalar(SELU_SCALE), _elu(b, b.x, SELU_ALPHA, b.t.dtype))


@onnx_layer("CELU")
def celu_decomposed(b):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    dtype, alpha = b.t.dtype, b.a["alpha"]
    inner = b.op("Mul", b.scalar(alpha), _exp_minus_one(b, b.op("Div", b.x, b.scalar(alpha)), dtype))
    return b.op("Add", b.op("Relu", b.x), b.op("Min", inner, b.scalar(0.0)))


@onnx_layer("CELU", since=12)
def celu(b):
    if b.t.dtype != "f32":  # Celu is defined for float only
        return celu_decomposed(b)
    return b.op("Celu", b.x, alpha=b.a["alpha"])


@onnx_layer("GELU")
def gelu_decomposed(b):
    """0.5 x (1 + erf(x / sqrt 2)), or with approximate="tanh" 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))."""
    x, dtype = b.x, b.t.dtype
    if b.a["approximate"] == "tanh":
        cube = b.op("Mul", b.op("Mul", x, x), x)
        inner = b.op("Add", x, b.op("Mul", cube, b.scalar(0.044715)))
        core = b.op("Tanh", b.op("Mul", inner, b.scalar(math.sqrt(2.0 / math.pi))))
    else:
        core = b.op("Erf", b.op("Div", x, b.scalar(math.sqrt(2.0))))
    half = b.op("Mul", x, b.scalar(0.5, dtype))
    return b.op("Mul", half, b.op("Add", core, b.scalar(1.0)))


@onnx_layer("GELU", since=20)
def gelu(b):
    return b.op("Gelu", b.x, approximate=b.a["approximate"])


@onnx_layer("SiLU")
def silu(b):
    return b.op("Mul", b.x, b.op("Sigmoid", b.x))


@onnx_layer("Mish")
def mish_decomposed(b):
    return b.op("Mul", b.x, b.op("Tanh", _softplus(b, b.x, b.t.dtype)))


@onnx_layer("Mish", since=18)
def mish(b):
    if not b.elementwise_native(b.t.dtype):
        return mish_decomposed(b)
    return b.op("Mish", b.x)


@onnx_layer("Sigmoid")
def sigmoid(b):
    return b.op("Sigmoid", b.x)


@onnx_layer("Tanh")
def tanh(b):
    return b.op("Tanh", b.x)


@onnx_layer("Softmax")
def softmax(b):
    return b.softmax("Softmax", b.x, b.a["dim"], b.t.rank)


@onnx_layer("LogSoftmax")
def log_softmax(b):
    return b.softmax("LogSoftmax", b.x, b.a["dim"], b.t.rank)


@onnx_layer("Hardswish")
def hardswish_decomposed(b):
    return b.op("Mul", b.x, _hardsigmoid(b, b.x, b.t.dtype))


@onnx_layer("Hardswish", since=14)
def hardswish(b):
    if not b.elementwise_native(b.t.dtype):
        return hardswish_decomposed(b)
    return b.op("HardSwish", b.x)


@onnx_layer("Hardsigmoid")
def hardsigmoid(b):
    return _hardsigmoid(b, b.x, b.t.dtype)


@onnx_layer("Hardtanh")
def hardtanh(b):
    return b.clip(b.x, b.a["min_val"], b.a["max_val"])


@onnx_layer("ReLU6")
def relu6(b):
    return b.clip(b.x, 0.0, 6.0)


@onnx_layer("Softplus")
def softplus(b):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as torch)."""
    a, dtype = b.a, b.t.dtype
    bx = b.x if a["beta"] == 1.0 else b.op("Mul", b.x, b.scalar(a["beta"]))
    soft = _softplus(b, bx, dtype)
    if a["beta"] != 1.0:
        soft = b.op("Div", soft, b.scalar(a["beta"]))
    return b.op("Where", b.op("Greater", bx, b.scalar(a["threshold"])), b.x, soft)


@onnx_layer("Softsign")
def softsign(b):
    if b.elementwise_native(b.t.dtype):
        return b.op("Softsign", b.x)
    return b.op("Div", b.x, b.op("Add", b.op("Abs", b.x), b.scalar(1.0)))


@onnx_layer("Threshold")
def threshold(b):
    return b.op("Where", b.op("Greater", b.x, b.scalar(b.a["threshold"])), b.x, b.scalar(b.a["value"]))
