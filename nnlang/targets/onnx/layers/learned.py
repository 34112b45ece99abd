"""The learned-tensor layers (PositionalEmbedding, ClassToken, LayerScale), StochasticDepth and LayerNorm2d,
in inference form. Each learned tensor is the initializer named by the layer's path."""

from __future__ import annotations

from ..mapping import onnx_layer
from .norm import _normalize, _scale_shift


@onnx_layer("PositionalEmbedding")
def positional_embedding(b):
    return b.op("Add", b.x, b.weight(""))


@onnx_layer("ClassToken")
def class_token(b):
    """The [1, 1, D] token broadcast to [N, 1, D], in front of the sequence. A symbolic batch is taken by
    broadcasting against an [N, 1, 1] slice of x in Where(c, token, token), whose value is the token
    whatever c holds: unlike Expand to a Shape-computed size, ONNX's shape inference follows it."""
    b.known(b.t.shape[2], "features")
    token = b.weight("")
    if isinstance(b.t.shape[0], int):
        expanded = b.op("Expand", token, b.ints([b.t.shape[0], 1, 1]))
    else:
        cond = b.op("Cast", b.slice(b.x, [0, 0], [1, 1], [1, 2]), to=9)  # 9: BOOL
        expanded = b.op("Where", cond, token, token)
    return b.op("Concat", expanded, b.x, axis=1)


@onnx_layer("LayerScale")
def layer_scale(b):
    return b.op("Mul", b.weight(""), b.x)


@onnx_layer("StochasticDepth")
def stochastic_depth(b):
    # The model is written for inference, where stochastic depth is the identity (torch's eval mode).
    return b.op("Identity", b.x)


@onnx_layer("LayerNorm2d")
def layer_norm_2d_decomposed(b):
    """Normalised over the channel axis in place (no transposes), then the per-channel affine."""
    a = b.a
    y = _normalize(b, b.x, [1], a["eps"], b.t.dtype)
    if a["elementwise_affine"]:
        y = _scale_shift(b, y, 4, 1, b.weight("weight"), b.weight("bias"))
    return y


@onnx_layer("LayerNorm2d", since=17)
def layer_norm_2d(b):
    """As torchvision computes it: channels last, LayerNormalization over the last axis, channels first."""
    a = b.a
    c = b.known(b.t.shape[1], "channels")
    if a["elementwise_affine"]:
        scale, shift = b.weight("weight"), b.weight("bias")
    else:
        scale, shift = b.const([1.0] * c, b.t.dtype, [c]), None
    y = b.op("LayerNormalization", b.transpose(b.x, [0, 2, 3, 1]), scale, shift, axis=-1, epsilon=a["eps"])
    return b.transpose(y, [0, 3, 1, 2])
