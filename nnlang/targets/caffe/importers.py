"""Caffe layer types -> registry layers: one small function per type, registered by Caffe's type string.

A function receives a `CLayer` (the LayerParameter, the shapes of its bottoms, its weight blobs when a
caffemodel is given) and returns a list of steps (`importing.Layer`), run in order: a step's `inputs`
name bottoms ("b0", "b1" ...) or earlier steps' outputs ("s0", "s0.1" for a second output); by default
the first step reads bottom 0 and each later step the step before it. The last step's outputs are the
layer's tops. An empty list means the tops are the bottom (Dropout, Split). BatchNorm followed by its
Scale is fused by the converter (load.py), which hands the Scale's blobs over as `partner`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from ..importing import ImportError_, Layer, Unsupported
from ..registry import Registry


@dataclass
class CLayer:
    msg: object  # caffe LayerParameter
    shapes: list  # bottom shapes (batch dim "N")
    blobs: Optional[list]  # np arrays from the caffemodel, None without --weights
    partner: Optional[object] = None  # the Scale fused into a BatchNorm (its LayerParameter)
    partner_blobs: Optional[list] = None
    extra: dict = field(default_factory=dict)  # fields outside BVLC's schema ("pooling_param.ceil_mode")

    @property
    def name(self) -> str:
        return self.msg.name

    def blob(self, k: int, shape: tuple, what: str, blobs: Optional[list] = None):
        """Blob k as an array of `shape` (Caffe's old 4-D blobs [1, 1, O, I] are accepted by size)."""
        blobs = self.blobs if blobs is None else blobs
        if blobs is None:
            return None
        if k >= len(blobs):
            raise Unsupported(f"the caffemodel has {len(blobs)} blob(s) for it, the {what} is blob {k}")
        a = blobs[k]
        if a.size != math.prod(shape):
            raise Unsupported(f"its {what} blob has shape {list(a.shape)}, the prototxt makes it {list(shape)}")
        return a.reshape(shape)


_REGISTRY = Registry("Caffe importer")  # Caffe type -> fn(CLayer) -> [Layer]


def caffe_layer(*types: str):
    return _REGISTRY.decorator(*types)


def lookup(type_name: str) -> Optional[Callable]:
    return _REGISTRY.get(type_name)


def _f(v) -> float:
    """A float32 field as the decimal it was written as (1e-05, not 9.999999747378752e-06)."""
    return float(str(np.float32(v)))


def _known(shape: tuple, what: str) -> tuple:
    if any(not isinstance(d, int) for d in shape[1:]):
        raise Unsupported(f"{what}: the input size {list(shape)} must be known")
    return shape


def _pair(repeated, h: int, w: int, default: int, what: str) -> tuple:
    """Caffe's spatial parameter: `x: a` (both), `x: a x: b` (h, w), or x_h / x_w; default if none."""
    values = list(repeated)
    if h or w:
        if values:
            raise Unsupported(f"both {what} and {what}_h/{what}_w are given")
        return int(h), int(w)
    if not values:
        return default, default
    if len(values) == 1:
        return int(values[0]), int(values[0])
    if len(values) == 2:
        return int(values[0]), int(values[1])
    raise Unsupported(f"{len(values)} values of {what}: only 2-D layers are read")


def _one(v: tuple):
    return v[0] if v[0] == v[1] else tuple(v)


def _rank_check(cl: CLayer, rank: int = 4) -> None:
    if len(cl.shapes[0]) != rank:
        raise Unsupported(f"its input {list(cl.shapes[0])} is not [N, C, H, W]")


# ---- convolution ------------------------------------------------------------------------------

def _conv_params(cl: CLayer) -> tuple:
    p = cl.msg.convolution_param
    _rank_check(cl)
    if p.axis != 1:
        raise Unsupported(f"axis {p.axis}: only channels at axis 1")
    kernel = _pair(p.kernel_size, p.kernel_h, p.kernel_w, 0, "kernel_size")
    if 0 in kernel:
        raise Unsupported("no kernel size")
    stride = _pair(p.stride, p.stride_h, p.stride_w, 1, "stride")
    pad = _pair(p.pad, p.pad_h, p.pad_w, 0, "pad")
    dilation = _pair(p.dilation, 0, 0, 1, "dilation")
    group = int(p.group or 1)
    cin = cl.shapes[0][1]
    if not isinstance(cin, int) or cin % group or p.num_output % group or p.num_output < 1:
        raise Unsupported(f"{cin} input and {p.num_output} output channels do not divide into {group} groups")
    params = {"out_channels": int(p.num_output), "kernel": _one(kernel), "stride": _one(stride),
              "padding": _one(pad), "groups": group, "dilation": _one(dilation), "bias": bool(p.bias_term)}
    return params, kernel, cin, group


@caffe_layer("Convolution")
def convolution(cl: CLayer):
    params, (kh, kw), cin, group = _conv_params(cl)
    out = params["out_channels"]
    return [Layer("Conv2d", params, weights=_weights(cl, (out, cin // group, kh, kw), out, params["bias"]))]


@caffe_layer("Deconvolution")
def deconvolution(cl: CLayer):
    params, (kh, kw), cin, group = _conv_params(cl)
    out = params["out_channels"]
    if _repeats(cl, params, (kh, kw), cin, group):
        return [Layer("Upsample", {"scale_factor": _one((float(kh), float(kw))), "mode": "nearest"})]
    return [Layer("ConvTranspose2d", params, weights=_weights(cl, (cin, out // group, kh, kw), out, params["bias"]))]


def _repeats(cl: CLayer, params: dict, kernel: tuple, cin, group: int) -> bool:
    """A fixed (lr_mult 0) per-channel Deconvolution of ones with kernel = stride and no bias or padding repeats
    each pixel: nearest upsampling by whole factors (as the Caffe target writes Upsample)."""
    if cl.blobs is None or not cl.msg.param or any(ps.lr_mult != 0 for ps in cl.msg.param):
        return False
    if params["bias"] or group != cin or params["out_channels"] != cin or params["dilation"] != 1:
        return False
    if params["padding"] != 0 or _one(kernel) != params["stride"] or not isinstance(cin, int):
        return False
    w = cl.blob(0, (cin, 1, *kernel), "weight")
    return bool(np.all(w == 1.0))


def _weights(cl: CLayer, shape: tuple, out: int, bias: bool) -> dict:
    if cl.blobs is None:
        return {}
    w = {"weight": cl.blob(0, shape, "weight")}
    if bias:
        w["bias"] = cl.blob(1, (out,), "bias")
    return w


@caffe_layer("InnerProduct")
def inner_product(cl: CLayer):
    p = cl.msg.inner_product_param
    shape = cl.shapes[0]
    axis = p.axis % len(shape) if -len(shape) <= p.axis < len(shape) else None
    if axis is None or axis == 0:
        raise Unsupported(f"axis {p.axis} of an input {list(shape)}")
    tail = _known(shape, "InnerProduct")[axis:]
    features = math.prod(tail)
    steps = []
    if len(tail) > 1:  # Caffe flattens everything from `axis` on, implicitly
        steps.append(Layer("Flatten", {"start_dim": axis}))
    out = int(p.num_output)
    weights = {}
    if cl.blobs is not None:
        w = cl.blob(0, (features, out) if p.transpose else (out, features), "weight")
        weights["weight"] = np.ascontiguousarray(w.T) if p.transpose else w
        if p.bias_term:
            weights["bias"] = cl.blob(1, (out,), "bias")
    steps.append(Layer("Linear", {"out_features": out, "bias": bool(p.bias_term)}, weights=weights))
    return steps


@caffe_layer("Embed")
def embed(cl: CLayer):
    """Caffe's Embed: a row lookup (its weight is [input_dim, num_output], torch's layout), indices given as
    floats; a bias term adds one learned vector, which no registry layer holds alone."""
    p = cl.msg.embed_param
    if p.bias_term:
        raise Unsupported("Embed with bias_term: the added learned vector has no registry layer (Embedding has "
                          "no bias)")
    rows, dim = int(p.input_dim), int(p.num_output)
    weights = {"weight": cl.blob(0, (rows, dim), "weight")} if cl.blobs is not None else {}
    return [Layer("Embedding", {"num_embeddings": rows, "embedding_dim": dim}, weights=weights)]


@caffe_layer("LSTM", "RNN")
def recurrent(cl: CLayer):
    raise Unsupported("Caffe's recurrent layers restart their state wherever the second input (cont) is 0, at "
                      "any step, on a time-major [T, N, ...] input; a .nns LSTM / RNN starts each batch-first "
                      "sequence once from zeros, so there is no exact form")


# ---- pooling ----------------------------------------------------------------------------------

def _pooled(size: int, k: int, s: int, p: int, ceil: bool) -> int:
    if ceil:
        out = -(-(size + 2 * p - k) // s) + 1
        if p and (out - 1) * s >= size + p:  # Caffe: the last window must start inside the image
            out -= 1
        return out
    return (size + 2 * p - k) // s + 1


def _torch_pooled(size: int, k: int, s: int, p: int, ceil: bool) -> int:
    if ceil:
        out = -(-(size + 2 * p - k) // s) + 1
        if (out - 1) * s >= size + p:
            out -= 1
        return out
    return (size + 2 * p - k) // s + 1


def _check_pixel_ratio(cl: CLayer, outs: list, size, kernel, stride, pad) -> None:
    """The fixed Scale after a padded AVE pooling must hold the padded window's size over its pixel count per
    output position (the Caffe target's AvgPool2d(count_include_pad=false)); else it is a Scale over two axes,
    which no registry layer holds."""
    from .layers import window_ratio

    if cl.blobs is None:
        return  # no weights: the structure (a fixed Scale over H, W after the padded pooling) is the idiom's
    rh, rw = window_ratio(size, kernel, stride, pad, outs)
    got = cl.blob(0, tuple(outs), "window ratio")
    if not np.allclose(got, np.outer(rh, rw), rtol=1e-6, atol=0):
        raise Unsupported("the fixed Scale after its AVE pooling is not the padded window's size over its pixel "
                          "count (count_include_pad=false); a Scale over two axes has no registry layer")


@caffe_layer("Pooling")
def pooling(cl: CLayer):
    p = cl.msg.pooling_param
    _rank_check(cl)
    kinds = {0: "MAX", 1: "AVE", 2: "STOCHASTIC"}
    kind = kinds.get(p.pool, str(p.pool))
    if kind == "STOCHASTIC":
        raise Unsupported("STOCHASTIC pooling (a probability-weighted average at test time) has no registry layer")
    if p.global_pooling:
        return [Layer("GlobalMaxPool" if kind == "MAX" else "GlobalAvgPool", {"keepdims": True})]
    kernel = _pair([p.kernel_size] if p.HasField("kernel_size") else [], p.kernel_h, p.kernel_w, 0, "kernel_size")
    stride = _pair([p.stride] if p.HasField("stride") else [], p.stride_h, p.stride_w, 1, "stride")
    pad = _pair([p.pad] if p.HasField("pad") else [], p.pad_h, p.pad_w, 0, "pad")
    if 0 in kernel:
        raise Unsupported("no kernel size")
    ceil = p.round_mode == 0  # CEIL, Caffe's default
    fork = cl.extra.get("pooling_param.ceil_mode")
    if fork is not None:
        ceil = bool(fork)
    if any(pd > k // 2 for pd, k in zip(pad, kernel)):
        raise Unsupported(f"pad {list(pad)} is more than half the kernel {list(kernel)}")
    if any(s < 1 for s in stride) or any(k < 1 for k in kernel):  # found by fuzzing: a ZeroDivisionError below
        raise Unsupported(f"kernel {list(kernel)}, stride {list(stride)}: each must be at least 1")
    size = _known(cl.shapes[0], "Pooling")[2:]
    for d, k, s, pd in zip(size, kernel, stride, pad):
        if _pooled(d, k, s, pd, ceil) != _torch_pooled(d, k, s, pd, ceil):
            raise Unsupported(f"kernel {k}, stride {s}, pad 0 on size {d}: Caffe's ceil rounding gives a window "
                              "that starts outside the input, which torch's rule drops")
    crop = cl.extra.get("crop", {})  # import_fusions: a ceil pooling whose extra rows / columns are cut off
    steps = []
    if crop and ceil:
        sizes = [(_pooled(d, k, s, pd, True), _pooled(d, k, s, pd, False)) for d, k, s, pd in zip(size, kernel, stride,
                                                                                                 pad)]
        if all(crop.get(axis, sizes[axis - 2][0]) == sizes[axis - 2][1] for axis in (2, 3)):
            ceil = False  # the windows kept are exactly floor pooling's
        else:
            steps = [Layer("Slice", {"axis": axis, "start": 0, "end": end}) for axis, end in sorted(crop.items())]
    params = {"kernel": _one(kernel), "stride": _one(stride), "padding": _one(pad), "ceil_mode": ceil}
    if kind == "AVE" and cl.extra.get("count_include_pad") is False:  # import_fusions: rescaled by a fixed Scale
        _check_pixel_ratio(cl, [crop.get(axis, _pooled(d, k, s, pd, ceil)) for axis, d, k, s, pd in
                                zip((2, 3), size, kernel, stride, pad)], size, kernel, stride, pad)
        return [Layer("AvgPool2d", {**params, "count_include_pad": False})] + steps
    if kind == "AVE":
        params["count_include_pad"] = True  # Caffe divides by the window clipped to the padded input
        return [Layer("AvgPool2d", params)] + steps
    return [Layer("MaxPool2d", params)] + steps


# ---- activations ------------------------------------------------------------------------------

@caffe_layer("ReLU")
def relu(cl: CLayer):
    slope = cl.msg.relu_param.negative_slope
    return [Layer("LeakyReLU", {"negative_slope": _f((slope))})] if slope else [Layer("ReLU")]


@caffe_layer("Sigmoid")
def sigmoid(cl: CLayer):
    return [Layer("Sigmoid")]


@caffe_layer("TanH")
def tanh(cl: CLayer):
    return [Layer("Tanh")]


@caffe_layer("ELU")
def elu(cl: CLayer):
    return [Layer("ELU", {"alpha": _f((cl.msg.elu_param.alpha))})]


@caffe_layer("BNLL")
def bnll(cl: CLayer):
    return [Layer("Softplus")]  # log(1 + exp(x)); torch's linear tail above 20 differs by < 3e-9


@caffe_layer("AbsVal")
def absval(cl: CLayer):
    # No Abs layer in the registry: |x| = r + (r - x) with r = ReLU(x), exact in floating point.
    return [Layer("ReLU"), Layer("Sub", inputs=["s0", "b0"]), Layer("Add", inputs=["s0", "s1"])]


@caffe_layer("PReLU")
def prelu(cl: CLayer):
    shape = cl.shapes[0]
    shared = cl.msg.prelu_param.channel_shared
    n = 1 if shared else shape[1] if len(shape) > 1 else 1
    if not isinstance(n, int):
        raise Unsupported("the channel count must be known")
    weights = {} if cl.blobs is None else {"weight": cl.blob(0, (n,), "slope")}
    return [Layer("PReLU", {"num_parameters": n}, weights=weights)]


@caffe_layer("Power")
def power(cl: CLayer):
    """(shift + scale * x) ^ power: Mul by the scale, Add the shift, Pow (each left out when it is the identity;
    the idioms a Caffe writer builds from Power were found first, import_fusions)."""
    p = cl.msg.power_param
    scale, shift, power = _f(p.scale), _f(p.shift), _f(p.power)
    return ([Layer("Mul", {"value": scale})] if scale != 1.0 else []) + \
        ([Layer("Add", {"value": shift})] if shift != 0.0 else []) + \
        ([Layer("Pow", {"exponent": power})] if power != 1.0 else [])


@caffe_layer("Clip")
def clip(cl: CLayer):
    lo, hi = _f(cl.msg.clip_param.min), _f(cl.msg.clip_param.max)
    if (lo, hi) == (0.0, 6.0):
        return [Layer("ReLU6")]
    return [Layer("Hardtanh", {"min_val": lo, "max_val": hi})]


@caffe_layer("_Hardsigmoid", "_SELU", "_SiLU", "_Hardswish", "_Mish", "_Softsign")
def fused_activation(cl: CLayer):
    """Idioms import_fusions found (Power / Clip / ELU / Eltwise chains a Caffe writer builds)."""
    return [Layer(cl.msg.type[1:])]


@caffe_layer("_Softplus")
def fused_softplus(cl: CLayer):
    return [Layer("Softplus", {"beta": cl.extra["beta"]})]


@caffe_layer("_LogSoftmax")
def fused_log_softmax(cl: CLayer):
    return [Layer("LogSoftmax", {"dim": int(cl.msg.softmax_param.axis)})]


@caffe_layer("_Crop")
def fused_crop(cl: CLayer):
    e = cl.extra
    return [Layer("Slice", {"axis": e["axis"], "start": e["start"], "end": e["end"]})]


@caffe_layer("_Threshold")
def fused_threshold(cl: CLayer):
    return [Layer("Threshold", {"threshold": cl.extra["threshold"], "value": cl.extra["value"]})]


@caffe_layer("Exp", "Log")
def exp_log(cl: CLayer):
    raise Unsupported("the registry has no exp / log layer")


@caffe_layer("Dropout", "Split")
def identity(cl: CLayer):
    return []


# ---- normalisation ------------------------------------------------------------------------------

@caffe_layer("BatchNorm")
def batch_norm(cl: CLayer):
    shape = cl.shapes[0]
    if len(shape) not in (2, 3, 4, 5):
        raise Unsupported(f"an input of rank {len(shape)}")
    c = shape[1]
    if not isinstance(c, int):
        raise Unsupported("the channel count must be known")
    op = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d", 5: "BatchNorm3d"}[len(shape)]
    eps = _f((cl.msg.batch_norm_param.eps))
    scale = cl.partner  # the Scale (with a bias) fused into this BatchNorm by the converter
    params = {"eps": eps, "affine": scale is not None}
    weights = {}
    if cl.blobs is not None:
        factor = cl.blob(2, (1,), "scale factor")[0]
        factor = 0.0 if factor == 0 else 1.0 / float(factor)  # Caffe: a zero factor gives zero statistics
        weights["running_mean"] = (cl.blob(0, (c,), "mean").astype(np.float64) * factor).astype(np.float32)
        weights["running_var"] = (cl.blob(1, (c,), "variance").astype(np.float64) * factor).astype(np.float32)
        if scale is not None:
            weights["weight"] = cl.blob(0, (c,), "Scale weight", cl.partner_blobs)
            weights["bias"] = cl.blob(1, (c,), "Scale bias", cl.partner_blobs)
    return [Layer(op, params, weights=weights)]


@caffe_layer("Scale")
def scale(cl: CLayer):
    p = cl.msg.scale_param
    x = cl.shapes[0]
    axis = p.axis % len(x) if -len(x) <= p.axis < len(x) else None
    if axis is None:
        raise Unsupported(f"axis {p.axis} of an input {list(x)}")
    if len(cl.shapes) == 2:  # y = x * s, s covering x's dims from `axis` on: a broadcast product
        s = cl.shapes[1]
        if p.bias_term:
            raise Unsupported("a two-input Scale with a learned bias")
        if tuple(x[axis:axis + len(s)]) != tuple(s):
            raise Unsupported(f"its scale {list(s)} does not match {list(x)} at axis {axis}")
        steps, ref = [], "b1"
        for _ in range(len(x) - axis - len(s)):
            steps.append(Layer("Unsqueeze", {"dim": -1}, inputs=[ref]))
            ref = f"s{len(steps) - 1}"
        steps.append(Layer("Mul", inputs=["b0", ref]))
        return steps
    if p.num_axes != 1:
        raise Unsupported(f"num_axes {p.num_axes}: a Scale over one axis only")
    c = x[axis]
    if not isinstance(c, int):
        raise Unsupported("the channel count must be known")
    weights = {}
    if cl.blobs is not None:
        weights["weight"] = cl.blob(0, (c,), "scale")
        if p.bias_term:
            weights["bias"] = cl.blob(1, (c,), "bias")
    return [Layer("Scale", {"bias": bool(p.bias_term), "axis": axis if axis != len(x) - 1 or axis == 1 else -1},
                  weights=weights)]


@caffe_layer("Bias")
def bias(cl: CLayer):
    """y = x + b with b the second input over x's dims from `axis` on: a broadcast sum. (A Bias with a learned
    blob has no registry layer of its own: Scale would add a weight.)"""
    p = cl.msg.bias_param
    x = cl.shapes[0]
    if len(cl.shapes) != 2:
        raise Unsupported("a learned bias alone has no registry layer (only with its bias given as a second input)")
    b = cl.shapes[1]
    axis = p.axis % len(x) if -len(x) <= p.axis < len(x) else None
    if axis is None or tuple(x[axis:axis + len(b)]) != tuple(b):
        raise Unsupported(f"its bias {list(b)} does not match {list(x)} at axis {p.axis}")
    steps, ref = [], "b1"
    for _ in range(len(x) - axis - len(b)):
        steps.append(Layer("Unsqueeze", {"dim": -1}, inputs=[ref]))
        ref = f"s{len(steps) - 1}"
    steps.append(Layer("Add", inputs=["b0", ref]))
    return steps


@caffe_layer("LRN")
def lrn(cl: CLayer):
    p = cl.msg.lrn_param
    if p.norm_region != 0:
        # WITHIN_CHANNEL: Caffe computes 1 + alpha * mean(x^2) over the window; its `k` is not read.
        return [Layer("LocalResponseNorm", {"size": int(p.local_size), "alpha": _f(p.alpha), "beta": _f(p.beta),
                                            "k": 1.0, "region": "within"})]
    return [Layer("LocalResponseNorm", {"size": int(p.local_size), "alpha": _f((p.alpha)),
                                        "beta": _f((p.beta)), "k": _f((p.k))})]


@caffe_layer("Softmax")
def softmax(cl: CLayer):
    return [Layer("Softmax", {"dim": int(cl.msg.softmax_param.axis)})]


# ---- merge and shape --------------------------------------------------------------------------

@caffe_layer("Eltwise")
def eltwise(cl: CLayer):
    p = cl.msg.eltwise_param
    ins = [f"b{k}" for k in range(len(cl.shapes))]
    if len(ins) < 2:
        return []
    if p.operation == 0:
        return [Layer("Mul", inputs=ins)]
    if p.operation == 2:
        return [Layer("Maximum", inputs=ins)]
    coeff = [float(c) for c in p.coeff]
    if coeff and len(coeff) != len(ins):
        raise ImportError_(f"layer {cl.name!r} (Eltwise): {len(coeff)} coefficients for {len(ins)} inputs")
    if not coeff or all(c == 1 for c in coeff):
        return [Layer("Add", inputs=ins)]
    if coeff == [1.0, -1.0]:
        return [Layer("Sub", inputs=ins)]
    if all(abs(c - 1 / len(ins)) <= 1e-7 for c in coeff):  # float32 coefficients: 1/3 is 0.33333334
        return [Layer("Average", inputs=ins)]
    raise Unsupported(f"SUM with coefficients {coeff}: only 1s, (1, -1) or equal 1/n have a registry layer")


@caffe_layer("Concat")
def concat(cl: CLayer):
    p = cl.msg.concat_param
    axis = p.concat_dim if p.HasField("concat_dim") else p.axis
    if len(cl.shapes) == 1:
        return []
    return [Layer("Concat", {"axis": int(axis)}, inputs=[f"b{k}" for k in range(len(cl.shapes))])]


@caffe_layer("Slice")
def slice_(cl: CLayer):
    p = cl.msg.slice_param
    axis = int(p.slice_dim if p.HasField("slice_dim") else p.axis)
    x = cl.shapes[0]
    n = len(cl.msg.top)
    d = x[axis] if -len(x) <= axis < len(x) else None
    if not isinstance(d, int):
        raise Unsupported(f"axis {axis} of {list(x)} must be a known size")
    points = [int(v) for v in p.slice_point]
    if points:
        if len(points) != n - 1 or points != sorted(points) or points[0] <= 0 or points[-1] >= d:
            raise Unsupported(f"slice points {points} do not cut dim {axis} (size {d}) into {n} parts")
        bounds = [0] + points + [d]
        sections = tuple(b - a for a, b in zip(bounds, bounds[1:]))
    else:
        if d % n:
            raise Unsupported(f"dim {axis} (size {d}) does not split into {n} equal parts")
        sections = n
    if n == 1:
        return []
    return [Layer("Split", {"sections": sections, "axis": axis})]


@caffe_layer("Crop")
def crop(cl: CLayer):
    if len(cl.shapes) != 2:
        raise Unsupported("Crop takes 2 inputs (the blob and the reference)")
    p = cl.msg.crop_param
    x, ref = cl.shapes
    axis = p.axis % len(x)
    offsets = [int(o) for o in p.offset]
    steps = []
    for k, ax in enumerate(range(axis, len(x))):
        off = offsets[0] if len(offsets) == 1 else offsets[k] if offsets else 0
        if len(offsets) > 1 and len(offsets) != len(x) - axis:
            raise Unsupported(f"{len(offsets)} offsets for {len(x) - axis} axes")
        size, have = ref[ax], x[ax]
        if not isinstance(size, int) or not isinstance(have, int):
            raise Unsupported("the cropped sizes must be known")
        if off + size > have:
            raise Unsupported(f"crop {off}..{off + size} of dim {ax} (size {have})")
        if off == 0 and size == have:
            continue
        steps.append(Layer("Slice", {"axis": ax, "start": off, "end": off + size},
                           inputs=[f"s{len(steps) - 1}" if steps else "b0"]))
    return steps


@caffe_layer("Flatten")
def flatten(cl: CLayer):
    p = cl.msg.flatten_param
    return [Layer("Flatten", {"start_dim": int(p.axis), "end_dim": int(p.end_axis)})]


@caffe_layer("Reshape")
def reshape(cl: CLayer):
    p = cl.msg.reshape_param
    x = cl.shapes[0]
    axis = p.axis if p.axis >= 0 else len(x) + 1 + p.axis
    end = len(x) if p.num_axes == -1 else axis + p.num_axes
    if not 0 <= axis <= end <= len(x):
        raise Unsupported(f"axis {p.axis}, num_axes {p.num_axes} of an input {list(x)}")
    dims = [int(d) for d in p.shape.dim]
    new = []
    for k, d in enumerate(dims):
        if d == 0:
            if axis + k >= len(x):
                raise Unsupported(f"dim {k} copies dim {axis + k}, which {list(x)} does not have")
            new.append(x[axis + k])
        elif d == -1 or d > 0:
            new.append(d)
        else:
            raise Unsupported(f"dim {d}")
    full = list(x[:axis]) + new + list(x[end:])
    if not full or full[0] != x[0]:
        per_example = math.prod(x[1:]) if all(isinstance(d, int) for d in x[1:]) else None
        if full and full[0] == -1 and all(isinstance(d, int) and d > 0 for d in full[1:]) and \
                per_example in (None, math.prod(full[1:])):
            full[0] = x[0]  # -1 is the batch
        elif full.count(-1) == 1 and all(isinstance(d, int) for d in full):
            # the batch changes (windows folded into it): the whole shape, the -1 inferred
            return [Layer("Reshape", {"shape": tuple(full), "batch": True})]
        else:
            raise Unsupported(f"reshaping {list(x)} to {full} changes the batch dim")
    rest = full[1:]
    if rest.count(-1) > 1 or any(not isinstance(d, int) for d in rest):
        raise Unsupported(f"the new shape {full} must be known")
    return [Layer("Reshape", {"shape": tuple(rest)})]
