"""Convolution, pooling and resizing layers."""

from __future__ import annotations

import math

from ..mapping import NotExpressible, onnx_layer


def _batched(b, n: int):
    """(input name, whether it was unbatched): ONNX's conv and pool ops need [N, C, spatial...]."""
    if b.t.rank == n + 1:
        return b.unsqueeze(b.x, [0]), True
    return b.x, False


def _unbatch(b, y: str, was: bool) -> str:
    return b.squeeze(y, [0]) if was else y


@onnx_layer("Conv1d", "Conv2d", "Conv3d", "DepthwiseConv2d", "StdConv2d", "ScaledStdConv2d")
def conv(b):
    a = b.a
    groups = b.known(b.t.shape[1], "input channels") if b.node.op == "DepthwiseConv2d" else a["groups"]
    bias = b.weight("bias") if a["bias"] else None
    weight = _standardized(b) if b.node.op in ("StdConv2d", "ScaledStdConv2d") else b.weight("weight")
    return b.op("Conv", b.x, weight, bias, kernel_shape=list(a["kernel"]), strides=list(a["stride"]),
                pads=_pads(b), dilations=list(a["dilation"]), group=groups)


def _standardized(b) -> str:
    """The kernel standardised per output channel over its fan-in (biased variance + eps), from the stored
    weight (the runtime folds it once); ScaledStdConv2d's times gain x gamma / sqrt(fan-in)."""
    w, dtype = b.weight("weight"), b.t.dtype
    fan_in = [1, 2, 3]
    centred = b.op("Sub", w, b.reduce("ReduceMean", w, fan_in))
    variance = b.reduce("ReduceMean", b.op("Mul", centred, centred), fan_in)
    y = b.op("Div", centred, b.op("Sqrt", b.op("Add", variance, b.scalar(b.a["eps"], dtype))))
    if b.node.op == "ScaledStdConv2d":
        shape = [w_.shape for w_ in b.node.weights if w_.name == "weight"][0]
        scale = b.a["gamma"] * math.prod(shape[1:]) ** -0.5
        y = b.op("Mul", y, b.op("Mul", b.weight("gain"), b.scalar(scale, dtype)))
    return y


@onnx_layer("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
def conv_transpose(b):
    a = b.a
    bias = b.weight("bias") if a["bias"] else None
    return b.op("ConvTranspose", b.x, b.weight("weight"), bias, kernel_shape=list(a["kernel"]),
                strides=list(a["stride"]), pads=_pads(b), output_padding=list(a["output_padding"]),
                dilations=list(a["dilation"]), group=a["groups"])


@onnx_layer("MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d")
def pool(b):
    # ONNX's pads may be asymmetric and larger than half the window; max pooling never reads them and
    # count_include_pad says whether average pooling counts them: exactly the IR's explicit pads.
    # onnxruntime sizes ceil_mode outputs as torch does (a window starting in the end padding is dropped).
    a = b.a
    n = len(a["kernel"])
    x, was = _batched(b, n)
    common = {"kernel_shape": list(a["kernel"]), "strides": list(a["stride"]), "pads": _pads(b),
              "ceil_mode": int(a["ceil_mode"])}
    if b.node.op.startswith("Max"):
        y = b.op("MaxPool", x, dilations=list(a["dilation"]), **common)
    else:
        y = b.op("AveragePool", x, count_include_pad=int(a["count_include_pad"]), **common)
    return _unbatch(b, y, was)


@onnx_layer("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
            "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d")
def adaptive_pool(b):
    """Output cell i of a dim of size `size` pools [floor(i * size / out), ceil((i + 1) * size / out)) as torch
    does. Sizes that divide evenly are one pooling op; others are pooled per cell (slices) and concatenated,
    dim by dim (the windows are products of intervals, so the dims separate)."""
    out = b.a["output_size"]
    n = len(out)
    rank = b.t.rank
    axes = list(range(rank - n, rank))
    is_avg = "Avg" in b.node.op
    reduce_op = "ReduceMean" if is_avg else "ReduceMax"
    sizes = b.t.shape[rank - n:]
    if all(o == 1 for o in out):
        return b.reduce(reduce_op, b.x, axes, keepdims=True)
    known = []
    for s, o in zip(sizes, out):
        if o != 1 and not isinstance(s, int):
            raise NotExpressible(f"{b.node.op}: the pooled size {s!r} must be known (ONNX has no adaptive pooling; "
                                 "the windows are computed from it)")
        known.append(s)
    if rank == n + 2 and all(isinstance(s, int) and s % o == 0 for s, o in zip(known, out)):
        kernel = [s // o for s, o in zip(known, out)]
        return b.op("AveragePool" if is_avg else "MaxPool", b.x, kernel_shape=kernel, strides=kernel)
    y = b.x
    whole = [ax for ax, o in zip(axes, out) if o == 1]
    if whole:
        y = b.reduce(reduce_op, y, whole, keepdims=True)
    for ax, s, o in zip(axes, known, out):
        if o == 1:
            continue
        cells = []
        for i in range(o):
            start, end = (i * s) // o, -(-((i + 1) * s) // o)
            cells.append(b.reduce(reduce_op, b.slice(y, [start], [end], [ax]), [ax], keepdims=True))
        y = b.op("Concat", *cells, axis=ax)
    return y


@onnx_layer("GlobalAvgPool", "GlobalMaxPool")
def global_pool(b):
    op = "ReduceMean" if b.node.op == "GlobalAvgPool" else "ReduceMax"
    return b.reduce(op, b.x, list(range(2, b.t.rank)), keepdims=b.a["keepdims"])


_RESIZE_MODE = {"nearest": "nearest", "nearest-exact": "nearest", "linear": "linear", "bilinear": "linear",
                "trilinear": "linear", "bicubic": "cubic"}


@onnx_layer("Upsample")
def upsample(b):
    """Resize. torch's coordinate rules: nearest is floor(dst / scale) ("asymmetric", "floor"); the linear
    and cubic modes are "half_pixel" (or "align_corners"), cubic with a = -0.75. A scale_factor is passed as
    scales (torch maps coordinates with the factor itself), a size as sizes."""
    a = b.a
    n = b.t.rank - 2
    mode = a["mode"]
    attrs = {"mode": _RESIZE_MODE[mode]}
    if mode == "nearest":
        attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    elif mode == "nearest-exact":  # floor((dst + 0.5) / scale)
        attrs.update(coordinate_transformation_mode="half_pixel", nearest_mode="round_prefer_ceil")
    else:
        attrs["coordinate_transformation_mode"] = "align_corners" if a["align_corners"] else "half_pixel"
        if mode == "bicubic":
            attrs["cubic_coeff_a"] = -0.75
    # Before opset 13 roi and scales had to be given, empty when unused.
    empty = (lambda: b.const([], "f32")) if b.opset < 13 else (lambda: None)
    if a["scale_factor"] is not None:
        sf = tuple(a["scale_factor"])
        sf = sf * n if len(sf) == 1 else sf
        channels = b.t.shape[1]
        if mode == "nearest" and isinstance(channels, int) and all(float(f).is_integer() and f >= 1 for f in sf):
            # Nearest by whole factors is each pixel repeated: a per-channel ConvTranspose of ones with kernel =
            # stride = the factor (one product by 1.0 per output: exact). ONNX's shape inference keeps a
            # symbolic batch through it, which it loses through Resize (scales times an unknown dim).
            k = [int(f) for f in sf]
            ones = b.const([1.0] * (channels * math.prod(k)), "f32", [channels, 1, *k])
            return b.op("ConvTranspose", b.x, ones, kernel_shape=k, strides=k, group=channels)
        return b.op("Resize", b.x, empty(), b.const([1.0, 1.0, *sf], "f32"), **attrs)
    size = tuple(a["size"])
    size = size * n if len(size) == 1 else size
    sizes = b.shape_vector(b.x, b.t, [("dim", 0), ("dim", 1), *size])
    return b.op("Resize", b.x, empty(), empty(), sizes, **attrs)


def _pads(b) -> list:
    if b.a["pads"] is None:  # padding="same" with a stride over a symbolic size: the pads depend on it
        raise NotExpressible(f'{b.node.op}: padding="same" with a stride needs a known input size')
    return list(b.a["pads"])
