"""Keras layers -> registry layers: one small function per Keras class, registered by class name.

A function receives a `KLayer` (class, config, the Keras shapes of its inputs, its weights in Keras's
`get_weights()` order) and returns an `Out`: the registry layers it becomes (a chain: the first reads
the layer's inputs, each next one the previous result), the Keras shape of its output, and the layout
it needs its inputs in. Layouts are the layout pass's business (load.py): "cl" means the tensor is
channels_last in Keras and channels_first in the IR (N, C, spatial...); "plain" means the IR holds it in
Keras's own order; "any" means the layer works in either (element-wise, or an axis load.py remaps).
Weights are converted here to PyTorch's layout (conv kernels HWIO -> OIHW, Dense kernels transposed).
No function reads code, imports a class by name or evaluates anything from the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..importing import Layer, Unsupported
from ..registry import Registry


@dataclass
class KLayer:
    cls: str
    name: str
    config: dict
    shapes: list  # Keras shapes of the inputs, batch dim None
    weights: Optional[list]  # numpy arrays in get_weights() order, or None (a JSON config without weights)
    keras3: bool = True  # written by Keras 3 (its hard_sigmoid differs from Keras 2's)

    def get(self, key, default=None):
        return self.config.get(key, default)

    @property
    def channels_last(self) -> bool:
        return self.config.get("data_format", "channels_last") != "channels_first"

    def weight(self, i: int):
        return None if self.weights is None else np.asarray(self.weights[i], dtype=np.float32)


@dataclass
class Out:
    layers: list  # [Layer]: a chain
    shape: tuple  # Keras shape of the output
    needs: str = "any"  # "cl" | "plain" | "any"
    axis: Optional[int] = None  # "any" layers with an axis (Keras's, normalised): load.py remaps it
    extra: dict = field(default_factory=dict)


_REGISTRY = Registry("Keras importer")
keras_layer = _REGISTRY.decorator
PASS_THROUGH = frozenset(("Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
                          "GaussianDropout", "AlphaDropout", "ActivityRegularization", "InputLayer", "Masking"))


def lookup(cls: str):
    return _REGISTRY.get(cls)


def names() -> list:
    return _REGISTRY.names()


def _tuple(v, n: int) -> tuple:
    if isinstance(v, (list, tuple)):
        return tuple(int(x) for x in v)
    return (int(v),) * n


def _one(v: tuple):
    return v[0] if v and all(x == v[0] for x in v) else tuple(v)


def _spatial(k: KLayer, shape) -> tuple:
    return tuple(shape[1:-1]) if k.channels_last else tuple(shape[2:])


def _channels(k: KLayer, shape):
    return shape[-1] if k.channels_last else shape[1]


def _with_channels(k: KLayer, shape, spatial, c) -> tuple:
    return (shape[0],) + tuple(spatial) + (c,) if k.channels_last else (shape[0], c) + tuple(spatial)


def _needs(k: KLayer) -> str:
    return "cl" if k.channels_last else "plain"


_ACTIVATIONS = {"relu": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "elu": "ELU", "selu": "SELU",
                "softplus": "Softplus", "softsign": "Softsign", "swish": "SiLU", "silu": "SiLU", "relu6": "ReLU6",
                "hard_swish": "Hardswish", "hard_silu": "Hardswish", "mish": "Mish", "gelu": "GELU",
                "leaky_relu": "LeakyReLU"}


def activation(name, rank: int, channels_last_softmax_axis: Optional[int] = None, keras3: bool = True) -> list:
    """The layers of a Keras activation given by name (config "activation"); [] for linear."""
    if isinstance(name, dict):  # Keras 3 may serialise a builtin activation as an object
        if name.get("module") not in (None, "keras.activations", "builtins") or name.get("registered_name"):
            raise Unsupported(f"activation {name.get('class_name', name)!r} is not a Keras builtin")
        name = name.get("config", name.get("class_name"))
    if name in (None, "linear"):
        return []
    if name == "softmax":
        return [Layer("Softmax", {"dim": -1 if channels_last_softmax_axis is None else channels_last_softmax_axis})]
    if name == "hard_sigmoid":
        if keras3:  # Keras 3: relu6(x + 3) / 6, torch's Hardsigmoid
            return [Layer("Hardsigmoid")]
        raise Unsupported("activation 'hard_sigmoid' of Keras 2 (clip(0.2 x + 0.5, 0, 1)) has no registry layer "
                          "(Hardsigmoid is Keras 3's relu6(x + 3) / 6)")
    if name == "gelu":
        return [Layer("GELU", {"approximate": "none"})]
    if name == "leaky_relu":
        return [Layer("LeakyReLU", {"negative_slope": 0.2})]
    op = _ACTIVATIONS.get(name)
    if op is None:
        raise Unsupported(f"activation {name!r} has no registry layer")
    return [Layer(op)]


def _act(k: KLayer, rank: int) -> list:
    return activation(k.get("activation"), rank, 1 if (k.channels_last and rank > 2) else None, k.keras3)


def _same_pads(size, kernel, stride, dilation):
    """TensorFlow's 'same' padding of one dim: (before, after); None for an unknown size with a stride
    (with stride 1 the padding does not depend on the size)."""
    if size is None:
        if stride != 1:
            return None
        total = (kernel - 1) * dilation
        return total // 2, total - total // 2
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _padding(k: KLayer, spatial, kernel, stride, dilation, fill: float = 0.0):
    """(the layer's padding, Pad params for a Pad layer in front or None, output spatial size)."""
    n = len(kernel)
    mode = k.get("padding", "valid")
    if mode == "valid":
        pads = [(0, 0)] * n
    elif mode == "same":
        pads = [_same_pads(s, kk, st, d) for s, kk, st, d in zip(spatial, kernel, stride, dilation)]
        if any(p is None for p in pads):
            raise Unsupported("padding='same' on an input of unknown spatial size")
    else:
        raise Unsupported(f"padding={mode!r}")
    out = tuple(None if s is None else (s + a + b - (kk - 1) * d - 1) // st + 1
                for s, (a, b), kk, st, d in zip(spatial, pads, kernel, stride, dilation))
    if all(a == b for a, b in pads):
        return _one(tuple(a for a, _ in pads)), None, out
    order = []
    for a, b in reversed(pads):
        order += [a, b]
    return 0, {"pads": tuple(order), "mode": "constant", "value": fill}, out


class _Valid:
    """A layer's config seen with padding='valid' (for the output size after an explicit Pad)."""

    def __init__(self, k: KLayer):
        self.k = k

    def get(self, key, default=None):
        return "valid" if key == "padding" else self.k.get(key, default)


def _chain(k, pad_first, layer) -> list:
    return ([Layer("Pad", pad_first)] if pad_first else []) + [layer]


# ---- convolution ----------------------------------------------------------------------------------

@keras_layer("Conv1D", "Conv2D", "Conv3D", "Convolution1D", "Convolution2D", "Convolution3D")
def conv(k: KLayer) -> Out:
    shape = k.shapes[0]
    n = len(shape) - 2
    kernel = _tuple(k.get("kernel_size"), n)
    stride, dilation = _tuple(k.get("strides", 1), n), _tuple(k.get("dilation_rate", 1), n)
    groups = int(k.get("groups", 1) or 1)
    if k.get("padding") == "causal":  # Conv1D: (kernel - 1) * dilation zeros before the sequence, none after
        if n != 1:
            raise Unsupported(f"padding='causal' on a {n}-D convolution")
        padding, pad_first = 0, {"pads": ((kernel[0] - 1) * dilation[0], 0)}
        _, _, out = _padding(_Valid(k), tuple(None if s is None else s + pad_first["pads"][0]
                                              for s in _spatial(k, shape)), kernel, stride, dilation)
    else:
        padding, pad_first, out = _padding(k, _spatial(k, shape), kernel, stride, dilation)
    bias = bool(k.get("use_bias", True))
    weights = {}
    if k.weights is not None:
        w = k.weight(0)  # (*kernel, in / groups, out)
        weights["weight"] = np.ascontiguousarray(np.moveaxis(w, (-1, -2), (0, 1)))
        if bias:
            weights["bias"] = k.weight(1)
    filters = int(k.get("filters"))
    layer = Layer(f"Conv{n}d", {"out_channels": filters, "kernel": _one(kernel), "stride": _one(stride),
                                "padding": padding, "groups": groups, "dilation": _one(dilation), "bias": bias},
                  weights=weights)
    rank = len(shape)
    return Out(_chain(k, pad_first, layer) + _act(k, rank), _with_channels(k, shape, out, filters), _needs(k))


@keras_layer("DepthwiseConv2D", "DepthwiseConv1D")
def depthwise(k: KLayer) -> Out:
    shape = k.shapes[0]
    if len(shape) != 4:
        raise Unsupported("DepthwiseConv1D: only the 2-D form has a registry layer")
    kernel = _tuple(k.get("kernel_size"), 2)
    stride, dilation = _tuple(k.get("strides", 1), 2), _tuple(k.get("dilation_rate", 1), 2)
    mult = int(k.get("depth_multiplier", 1))
    padding, pad_first, out = _padding(k, _spatial(k, shape), kernel, stride, dilation)
    bias = bool(k.get("use_bias", True))
    weights = {}
    if k.weights is not None:
        w = k.weight(0)  # (kh, kw, in, mult) -> (in * mult, 1, kh, kw)
        kh, kw, cin, m = w.shape
        weights["weight"] = np.ascontiguousarray(w.transpose(2, 3, 0, 1).reshape(cin * m, 1, kh, kw))
        if bias:
            weights["bias"] = k.weight(1)
    layer = Layer("DepthwiseConv2d", {"kernel": _one(kernel), "stride": _one(stride), "padding": padding,
                                      "multiplier": mult, "dilation": _one(dilation), "bias": bias}, weights=weights)
    c = _channels(k, shape)
    return Out(_chain(k, pad_first, layer) + _act(k, 4), _with_channels(k, shape, out, None if c is None else c * mult),
               _needs(k))


@keras_layer("SeparableConv2D", "SeparableConvolution2D")
def separable(k: KLayer) -> Out:
    """Depthwise then pointwise (1x1): two registry layers, the bias on the second."""
    shape = k.shapes[0]
    kernel = _tuple(k.get("kernel_size"), 2)
    stride, dilation = _tuple(k.get("strides", 1), 2), _tuple(k.get("dilation_rate", 1), 2)
    mult = int(k.get("depth_multiplier", 1))
    padding, pad_first, out = _padding(k, _spatial(k, shape), kernel, stride, dilation)
    bias = bool(k.get("use_bias", True))
    dw, pw = {}, {}
    if k.weights is not None:
        w = k.weight(0)
        kh, kw, cin, m = w.shape
        dw["weight"] = np.ascontiguousarray(w.transpose(2, 3, 0, 1).reshape(cin * m, 1, kh, kw))
        pw["weight"] = np.ascontiguousarray(k.weight(1).transpose(3, 2, 0, 1))
        if bias:
            pw["bias"] = k.weight(2)
    filters = int(k.get("filters"))
    layers = _chain(k, pad_first, Layer("DepthwiseConv2d", {
        "kernel": _one(kernel), "stride": _one(stride), "padding": padding, "multiplier": mult,
        "dilation": _one(dilation), "bias": False}, weights=dw))
    layers.append(Layer("Conv2d", {"out_channels": filters, "kernel": 1, "bias": bias}, weights=pw))
    return Out(layers + _act(k, 4), _with_channels(k, shape, out, filters), _needs(k))


@keras_layer("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "Deconvolution2D")
def conv_transpose(k: KLayer) -> Out:
    shape = k.shapes[0]
    n = len(shape) - 2
    kernel = _tuple(k.get("kernel_size"), n)
    stride, dilation = _tuple(k.get("strides", 1), n), _tuple(k.get("dilation_rate", 1), n)
    if any(d != 1 for d in dilation):
        raise Unsupported("a transposed convolution with dilation")
    if k.get("output_padding") not in (None, [None] * n):
        raise Unsupported("a transposed convolution with output_padding")
    spatial = _spatial(k, shape)
    mode = k.get("padding", "valid")
    if mode == "valid":
        padding, outpad = (0,) * n, (0,) * n
        out = tuple(None if s is None else (s - 1) * st + kk for s, st, kk in zip(spatial, stride, kernel))
    elif mode == "same":
        # Keras: out = in * stride; torch: (in - 1) * stride - 2 p + k + op
        padding, outpad = [], []
        for kk, st in zip(kernel, stride):
            total = kk - st
            if total < 0 or total % 2 and total + 1 > 2 * kk:
                raise Unsupported("padding='same' with a stride larger than the kernel")
            p = (total + 1) // 2
            padding.append(p)
            outpad.append(2 * p - total)
        out = tuple(None if s is None else s * st for s, st in zip(spatial, stride))
    else:
        raise Unsupported(f"padding={mode!r}")
    bias = bool(k.get("use_bias", True))
    weights = {}
    if k.weights is not None:
        w = k.weight(0)  # (*kernel, out, in) -> (in, out, *kernel)
        weights["weight"] = np.ascontiguousarray(np.moveaxis(w, (-1, -2), (0, 1)))
        if bias:
            weights["bias"] = k.weight(1)
    filters = int(k.get("filters"))
    layer = Layer(f"ConvTranspose{n}d", {"out_channels": filters, "kernel": _one(kernel), "stride": _one(stride),
                                         "padding": _one(tuple(padding)), "output_padding": _one(tuple(outpad)),
                                         "bias": bias}, weights=weights)
    return Out([layer] + _act(k, len(shape)), _with_channels(k, shape, out, filters), _needs(k))


# ---- pooling, padding, resizing ------------------------------------------------------------------

@keras_layer("MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
             "AveragePooling3D", "MaxPool1D", "MaxPool2D", "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D")
def pool(k: KLayer) -> Out:
    shape = k.shapes[0]
    n = len(shape) - 2
    kind = "Max" if k.cls.startswith("Max") else "Avg"
    size = _tuple(k.get("pool_size", 2), n)
    stride = _tuple(k.get("strides") or size, n)
    fill = -math.inf if kind == "Max" else 0.0
    padding, pad_first, out = _padding(k, _spatial(k, shape), size, stride, (1,) * n, fill)
    params = {"kernel": _one(size), "stride": None if stride == size else _one(stride), "padding": padding}
    if kind == "Avg":
        if pad_first is not None:
            raise Unsupported("AveragePooling with padding='same' that pads one side more than the other")
        params["count_include_pad"] = False
    if any(2 * p > kk for p, kk in zip(_tuple(padding, n), size)):
        raise Unsupported("pooling with padding='same' wider than half the window")
    return Out(_chain(k, pad_first, Layer(f"{kind}Pool{n}d", params)),
               _with_channels(k, shape, out, _channels(k, shape)), _needs(k))


@keras_layer("GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D", "GlobalMaxPooling1D",
             "GlobalMaxPooling2D", "GlobalMaxPooling3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalMaxPool1D",
             "GlobalMaxPool2D")
def global_pool(k: KLayer) -> Out:
    shape = k.shapes[0]
    op = "GlobalMaxPool" if "Max" in k.cls else "GlobalAvgPool"
    keep = bool(k.get("keepdims", False))
    c = _channels(k, shape)
    out = _with_channels(k, shape, (1,) * (len(shape) - 2), c) if keep else (shape[0], c)
    return Out([Layer(op, {"keepdims": keep})], out, _needs(k))


@keras_layer("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D")
def zero_padding(k: KLayer) -> Out:
    shape = k.shapes[0]
    n = len(shape) - 2
    p = k.get("padding", 1)
    if isinstance(p, int):
        pads = [(p, p)] * n
    elif n == 1 and len(p) == 2 and all(isinstance(x, int) for x in p):
        pads = [tuple(p)]
    else:
        pads = [tuple(x) if isinstance(x, (list, tuple)) else (x, x) for x in p]
    order = []
    for a, b in reversed(pads):
        order += [int(a), int(b)]
    spatial = tuple(None if s is None else s + a + b for s, (a, b) in zip(_spatial(k, shape), pads))
    return Out([Layer("Pad", {"pads": tuple(order)})], _with_channels(k, shape, spatial, _channels(k, shape)),
               _needs(k))


@keras_layer("UpSampling1D", "UpSampling2D", "UpSampling3D")
def upsampling(k: KLayer) -> Out:
    shape = k.shapes[0]
    n = len(shape) - 2
    size = _tuple(k.get("size", 2), n)
    interp = k.get("interpolation", "nearest")
    if interp != "nearest":
        raise Unsupported(f"UpSampling with interpolation={interp!r}")
    spatial = tuple(None if s is None else s * f for s, f in zip(_spatial(k, shape), size))
    return Out([Layer("Upsample", {"scale_factor": _one(tuple(float(f) for f in size))})],
               _with_channels(k, shape, spatial, _channels(k, shape)), "cl" if n == 1 or k.channels_last else "plain")


# ---- dense, embedding, normalisation -------------------------------------------------------------

@keras_layer("Dense")
def dense(k: KLayer) -> Out:
    shape = k.shapes[0]
    if shape[-1] is None:
        raise Unsupported(f"Dense on an input whose last size is unknown ({list(shape)})")
    units = int(k.get("units", k.get("output_dim", 0)))
    bias = bool(k.get("use_bias", True))
    weights = {}
    if k.weights is not None:
        weights["weight"] = np.ascontiguousarray(k.weight(0).T)
        if bias:
            weights["bias"] = k.weight(1)
    act = activation(k.get("activation"), len(shape), keras3=k.keras3)
    return Out([Layer("Linear", {"out_features": units, "bias": bias}, weights=weights)] + act,
               tuple(shape[:-1]) + (units,), "plain")


@keras_layer("Embedding")
def embedding(k: KLayer) -> Out:
    shape = k.shapes[0]
    weights = {} if k.weights is None else {"weight": k.weight(0)}
    dim = int(k.get("output_dim"))
    return Out([Layer("Embedding", {"num_embeddings": int(k.get("input_dim")), "embedding_dim": dim},
                      weights=weights)], tuple(shape) + (dim,), "plain")


@keras_layer("BatchNormalization")
def batch_norm(k: KLayer) -> Out:
    shape = k.shapes[0]
    rank = len(shape)
    axis = k.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    if not isinstance(axis, int):
        raise Unsupported(f"BatchNormalization over axes {axis}")
    axis %= rank
    if rank == 2 and axis == 1:
        needs, op = "plain", "BatchNorm1d"
    elif rank > 2 and axis == rank - 1:
        needs, op = "cl", f"BatchNorm{rank - 2}d"
    elif rank > 2 and axis == 1:
        needs, op = "plain", f"BatchNorm{rank - 2}d"
    else:
        raise Unsupported(f"BatchNormalization on axis {axis} of a rank-{rank} input")
    if rank > 5:
        raise Unsupported("BatchNormalization of a rank > 5 input")
    scale, center = bool(k.get("scale", True)), bool(k.get("center", True))
    weights = {}
    if k.weights is not None:
        ws = [np.asarray(w, dtype=np.float32) for w in k.weights]
        c = ws[-1].shape[0]
        gamma = ws.pop(0) if scale else np.ones(c, np.float32)
        beta = ws.pop(0) if center else np.zeros(c, np.float32)
        weights = {"weight": gamma, "bias": beta, "running_mean": ws[0], "running_var": ws[1]}
    # affine always on: a missing scale / shift is written as 1 / 0 (torch has no scale-only BatchNorm)
    return Out([Layer(op, {"eps": float(k.get("epsilon", 1e-3)), "momentum": 0.1}, weights=weights)], tuple(shape),
               needs)


@keras_layer("LayerNormalization")
def layer_norm(k: KLayer) -> Out:
    shape = k.shapes[0]
    axis = k.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    if axis not in (-1, len(shape) - 1):
        raise Unsupported(f"LayerNormalization over axis {axis} (only the last axis has a registry layer)")
    if k.get("rms_scaling"):
        raise Unsupported("LayerNormalization with rms_scaling")
    scale, center = bool(k.get("scale", True)), bool(k.get("center", True))
    weights = {}
    if k.weights is not None:
        ws = list(k.weights)
        c = shape[-1]
        weights["weight"] = np.asarray(ws.pop(0), np.float32) if scale else np.ones(c, np.float32)
        weights["bias"] = np.asarray(ws.pop(0), np.float32) if center else np.zeros(c, np.float32)
    if len(shape) == 4:  # ConvNeXt: LayerNorm over the channels of an NHWC map = LayerNorm2d on NCHW
        return Out([Layer("LayerNorm2d", {"eps": float(k.get("epsilon", 1e-3))}, weights=weights)], tuple(shape), "cl")
    return Out([Layer("LayerNorm", {"eps": float(k.get("epsilon", 1e-3))}, weights=weights)], tuple(shape), "plain")


def _scale_layer(shape, weight, bias) -> Out:
    """x * weight + bias, one value per channel (the last Keras axis)."""
    rank = len(shape)
    return Out([Layer("Scale", {"axis": 1 if rank > 2 else -1, "bias": True},
                      weights={"weight": np.asarray(weight, np.float32), "bias": np.asarray(bias, np.float32)})],
               tuple(shape), "cl")


@keras_layer("Rescaling")
def rescaling(k: KLayer) -> Out:
    shape = k.shapes[0]
    c = shape[-1]
    if c is None:
        raise Unsupported("Rescaling of an input whose channel count is unknown")
    scale, offset = k.get("scale", 1.0), k.get("offset", 0.0)
    if isinstance(scale, dict) or isinstance(offset, dict):
        raise Unsupported("Rescaling by a stored tensor")
    w = np.broadcast_to(np.asarray(scale, np.float32), (c,)).copy()
    b = np.broadcast_to(np.asarray(offset, np.float32), (c,)).copy()
    return _scale_layer(shape, w, b)


@keras_layer("Normalization")
def normalization(k: KLayer) -> Out:
    """(x - mean) / max(sqrt(var), eps): a Scale with weight 1 / std and bias -mean / std."""
    shape = k.shapes[0]
    axis = k.get("axis", -1)
    axis = axis[0] if isinstance(axis, (list, tuple)) and len(axis) == 1 else axis
    if axis not in (-1, len(shape) - 1) or k.get("invert"):
        raise Unsupported(f"Normalization over axis {axis} (or inverted)")
    if k.get("mean") is not None:
        mean, var = np.asarray(k.get("mean"), np.float32).ravel(), np.asarray(k.get("variance"), np.float32).ravel()
    elif k.weights is not None:
        mean, var = np.asarray(k.weights[0], np.float32).ravel(), np.asarray(k.weights[1], np.float32).ravel()
    else:
        mean, var = np.zeros(shape[-1], np.float32), np.ones(shape[-1], np.float32)
    c = shape[-1]
    mean, var = np.broadcast_to(mean, (c,)), np.broadcast_to(var, (c,))
    std = np.maximum(np.sqrt(var), np.float32(1e-7))  # keras.backend.epsilon()
    return _scale_layer(shape, 1.0 / std, -mean / std)


@keras_layer("LayerScale")
def layer_scale(k: KLayer) -> Out:
    shape = k.shapes[0]
    weights = {} if k.weights is None else {"": k.weight(0)}
    rank = len(shape)
    return Out([Layer("LayerScale", {"init": float(k.get("init_values", 1e-6)), "axis": 1 if rank > 2 else -1},
                      weights=weights)], tuple(shape), "cl")


# ---- recurrent --------------------------------------------------------------------------------------

@keras_layer("LSTM", "GRU", "SimpleRNN")
def recurrent(k: KLayer) -> Out:
    shape = k.shapes[0]
    units = int(k.get("units"))
    if k.get("activation", "tanh") != "tanh":
        raise Unsupported(f"{k.cls} activation={k.get('activation')!r} (the registry's is tanh)")
    gate = k.get("recurrent_activation", "sigmoid") if k.cls != "SimpleRNN" else "sigmoid"
    if gate == "hard_sigmoid" and not k.keras3:
        gate = "hard_sigmoid"  # Keras 2's clip(0.2 x + 0.5, 0, 1): the registry's gate_activation
    elif gate != "sigmoid":
        what = " (Keras 3's hard_sigmoid is relu6(x + 3) / 6)" if gate == "hard_sigmoid" else ""
        raise Unsupported(f"{k.cls} recurrent_activation={gate!r}{what}: the registry's LSTM / GRU gate with "
                          "sigmoid or Keras 2's hard_sigmoid")
    if k.get("go_backwards") or k.get("stateful"):
        raise Unsupported(f"{k.cls} with go_backwards / stateful")
    if len(k.shapes) > 1:
        raise Unsupported(f"{k.cls} given initial states as inputs (the registry's {k.cls} starts from zeros)")
    if k.cls == "GRU" and not k.get("reset_after", True):
        raise Unsupported("GRU with reset_after=False (PyTorch's GRU resets after the matrix product)")
    op = {"LSTM": "LSTM", "GRU": "GRU", "SimpleRNN": "RNN"}[k.cls]
    bias = bool(k.get("use_bias", True))
    weights = {}
    if k.weights is not None:
        kern, rec = k.weight(0), k.weight(1)
        if k.cls == "GRU":  # Keras z, r, h -> torch r, z, n
            def order(m):
                z, r, h = np.split(m, 3, axis=-1)
                return np.concatenate([r, z, h], axis=-1)
            kern, rec = order(kern), order(rec)
        weights["weight_ih_l0"] = np.ascontiguousarray(kern.T)
        weights["weight_hh_l0"] = np.ascontiguousarray(rec.T)
        if bias:
            b = k.weight(2)
            if k.cls == "GRU":
                b = b.reshape(2, -1) if b.ndim == 1 else b
                weights["bias_ih_l0"], weights["bias_hh_l0"] = order(b[0]), order(b[1])
            else:
                weights["bias_ih_l0"], weights["bias_hh_l0"] = b, np.zeros_like(b)
    layers = [Layer(op, {"hidden_size": units, "bias": bias, "batch_first": True}, weights=weights)]
    if gate != "sigmoid":
        layers[0].params["gate_activation"] = gate
    if k.cls == "SimpleRNN":
        layers[0].params["nonlinearity"] = "tanh"
    seq = bool(k.get("return_sequences", False))
    if not seq:
        layers.append(Layer("Select", {"axis": 1, "index": -1}))
    extra = {}
    if k.get("return_state"):  # Keras: [output, h, c] (N, units) each; the registry's: seq, h_n, c_n [1, N, H]
        layers[0].params["return_state"] = True
        extra["states"] = 2 if k.cls == "LSTM" else 1
    return Out(layers, (shape[0], shape[1], units) if seq else (shape[0], units), "plain", extra=extra)


# ---- activations -------------------------------------------------------------------------------------

@keras_layer("Activation")
def activation_layer(k: KLayer) -> Out:
    rank = len(k.shapes[0])
    layers = activation(k.get("activation"), rank, keras3=k.keras3)
    if layers and layers[0].op == "Softmax":
        return Out(layers, tuple(k.shapes[0]), "any", axis=rank - 1)
    return Out(layers, tuple(k.shapes[0]))


@keras_layer("ReLU")
def relu(k: KLayer) -> Out:
    mx, slope, th = k.get("max_value"), float(k.get("negative_slope", 0.0) or 0.0), float(k.get("threshold", 0.0))
    if slope == 0.0 and th == 0.0 and mx is None:
        return Out([Layer("ReLU")], tuple(k.shapes[0]))
    if slope == 0.0 and th == 0.0 and float(mx) == 6.0:
        return Out([Layer("ReLU6")], tuple(k.shapes[0]))
    raise Unsupported(f"ReLU with max_value={mx}, negative_slope={slope}, threshold={th}")


@keras_layer("LeakyReLU")
def leaky(k: KLayer) -> Out:
    slope = k.get("negative_slope", k.get("alpha", 0.3))
    return Out([Layer("LeakyReLU", {"negative_slope": float(slope)})], tuple(k.shapes[0]))


@keras_layer("ELU")
def elu(k: KLayer) -> Out:
    return Out([Layer("ELU", {"alpha": float(k.get("alpha", 1.0))})], tuple(k.shapes[0]))


@keras_layer("Softmax")
def softmax(k: KLayer) -> Out:
    rank = len(k.shapes[0])
    axis = k.get("axis", -1)
    if not isinstance(axis, int):
        raise Unsupported(f"Softmax over axes {axis}")
    return Out([Layer("Softmax", {"dim": -1})], tuple(k.shapes[0]), "any", axis=axis % rank)


# ---- merging and shape -------------------------------------------------------------------------------

def _broadcast(shapes) -> tuple:
    rank = max(len(s) for s in shapes)
    out = []
    for dims in zip(*[(1,) * (rank - len(s)) + tuple(s) for s in shapes]):
        known = [d for d in dims if d not in (None, 1)]
        out.append(known[0] if known else (None if None in dims else 1))
    return tuple(out)


@keras_layer("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
def merge(k: KLayer) -> Out:
    shapes = k.shapes
    if len({len(s) for s in shapes}) != 1:
        raise Unsupported(f"{k.cls} of inputs of different ranks")
    op = {"Add": "Add", "Subtract": "Sub", "Multiply": "Mul", "Average": "Average", "Maximum": "Maximum",
          "Minimum": "Minimum"}[k.cls]
    if len(shapes) > 2 and op not in ("Add", "Mul", "Maximum", "Minimum"):
        raise Unsupported(f"{k.cls} of {len(shapes)} inputs")
    return Out([Layer(op)], _broadcast(shapes), extra={"chain": len(shapes) > 2})


@keras_layer("Concatenate")
def concatenate(k: KLayer) -> Out:
    rank = len(k.shapes[0])
    axis = int(k.get("axis", -1)) % rank
    out = list(k.shapes[0])
    sizes = [s[axis] for s in k.shapes]
    out[axis] = None if None in sizes else sum(sizes)
    return Out([Layer("Concat", {"axis": 0})], tuple(out), "any", axis=axis)


@keras_layer("Flatten")
def flatten(k: KLayer) -> Out:
    shape = k.shapes[0]
    rest = shape[1:]
    size = None if None in rest else int(np.prod(rest))
    return Out([Layer("Flatten")], (shape[0], size), "plain")


@keras_layer("Reshape")
def reshape(k: KLayer) -> Out:
    shape = k.shapes[0]
    target = [int(d) for d in k.get("target_shape")]
    if -1 in target:
        known = None if None in shape[1:] else int(np.prod(shape[1:]))
        if known is None:
            raise Unsupported("Reshape with -1 of an input of unknown size")
        rest = int(np.prod([d for d in target if d != -1]))
        target[target.index(-1)] = known // rest
    return Out([Layer("Reshape", {"shape": tuple(target)})], (shape[0],) + tuple(target), "plain")


@keras_layer("RepeatVector")
def repeat_vector(k: KLayer) -> Out:
    """(N, F) -> (N, n, F): held channels_first as (N, F, n), a nearest Upsample of (N, F, 1) by n."""
    shape = k.shapes[0]
    n = int(k.get("n"))
    if len(shape) != 2:
        raise Unsupported(f"RepeatVector of a rank-{len(shape)} input")
    return Out([Layer("Unsqueeze", {"dim": 2}), Layer("Upsample", {"scale_factor": float(n)})],
               (shape[0], n, shape[1]), "cl")


@keras_layer("Permute")
def permute(k: KLayer) -> Out:
    shape = k.shapes[0]
    dims = [int(d) for d in k.get("dims")]
    return Out([Layer("Permute", {"dims": (0,) + tuple(dims)})], (shape[0],) + tuple(shape[d] for d in dims), "plain")
