"""Convolution and pooling layers (1d/2d/3d, transposed, depthwise, adaptive, global)."""

from __future__ import annotations

import math

from . import symdim
from .base import (BOOL, FLOAT, IN_CHANNELS, INT, Choice, FloatTuple, IntTuple, Ints, LayerSpec, Optional_, Padding,
                   Param, ShapeError, Weight, channels_of, count, require_rank)

_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


def resolve_pads(kind: str, padding, sizes, kernel, stride, dilation):
    """Explicit (begin..., end...) pads for padding "same" / "valid" / ints.

    "same" follows TensorFlow: output = ceil(size / stride), the odd pixel going to the end.
    """
    n = len(kernel)
    if padding == "valid":
        return (0,) * (2 * n)
    if padding == "same":
        begin, end = [], []
        for k in range(n):
            size = sizes[k]
            eff = dilation[k] * (kernel[k] - 1) + 1
            if type(size) is not int:
                if stride[k] != 1:  # the pads depend on the size's remainder: unknown (None)
                    begin.append(None)
                    end.append(None)
                    continue
                total = eff - 1
            else:
                out = -(-size // stride[k])
                total = max((out - 1) * stride[k] + eff - size, 0)
            begin.append(total // 2)
            end.append(total - total // 2)
        return tuple(begin) + tuple(end)
    return tuple(padding) + tuple(padding)


def _out_size(size, pad_total, kernel, stride, dilation, ceil_mode=False, what="", axis=0):
    if type(size) is not int:
        return _symbolic_out_size(size, pad_total, kernel, stride, dilation, ceil_mode)
    span = size + pad_total - dilation * (kernel - 1) - 1
    if span < 0:
        raise ShapeError(
            f"{what}: kernel {kernel} (dilation {dilation}) is larger than the padded input "
            f"({size} + {pad_total}) along spatial axis {axis}: the input has shrunk to {size} here (a "
            f"downsampling stage too many for this input size?); remove a stage, pad, or pool to a fixed "
            f"size with an adaptive pooling (AdaptiveAvgPool2d / AdaptiveMaxPool2d)", "E304", 0)
    if ceil_mode:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + pad_total // 2:  # PyTorch: last window must start inside
            out -= 1
        return out
    return span // stride + 1


def _pad_total(pads, k: int, n: int):
    return None if pads[k] is None else pads[k] + pads[k + n]


def _symbolic_out_size(size, pad_total, kernel, stride, dilation, ceil_mode):
    """The output size of a window over a symbolic size, exactly; None when it is not expressible."""
    if size is None:
        return None
    if pad_total is None:  # padding="same" with a stride: ceil(size / stride), TensorFlow's rule
        return symdim.ceildiv(size, stride)
    eff = dilation * (kernel - 1) + 1
    # span // stride + 1 is built as (span + stride) // stride: one floor, H // 2 for a 2x2 pool.
    if not ceil_mode:
        return symdim.floordiv(symdim.add(size, pad_total - eff + stride), stride)
    # PyTorch's ceil mode drops a last window that starts in the end padding: the output is
    # min(ceil(span / stride) + 1, ceil((size + pad_total // 2) / stride)). The first term is the
    # smaller for every size when eff - pad_total // 2 >= stride; otherwise which one wins depends
    # on the size: unknown.
    if eff - pad_total // 2 < stride:
        return None
    return symdim.floordiv(symdim.add(size, pad_total - eff + 2 * stride - 1), stride)


def _conv_params(n: int, transposed=False, depthwise=False):
    params = []
    if not depthwise:
        params.append(Param("out_channels", INT, doc="number of output channels", min=1))
    params += [
        Param("kernel", Ints(n), doc="kernel size", min=1, aliases=("kernel_size",)),
        Param("stride", Ints(n), 1, "step between windows", min=1),
        Param("padding", Ints(n) if transposed else Padding(n), 0,
              "zero padding on each side" + ("" if transposed else '; "same" keeps size/stride, "valid" is 0'),
              min=0),
    ]
    if transposed:
        params.append(Param("output_padding", Ints(n), 0, "extra size added to one side of the output", min=0))
    if depthwise:
        params.append(Param("multiplier", INT, 1, "output channels per input channel", min=1))
    else:
        params.append(Param("groups", INT, 1, "split channels into groups convolved separately", min=1))
    params += [
        Param("dilation", Ints(n), 1, "spacing between kernel taps", min=1),
        Param("bias", BOOL, True, "add a learned bias per output channel"),
    ]
    return tuple(params)


def _make_conv(n: int):
    name = f"Conv{n}d"

    def infer(a, inputs):
        (x,) = inputs
        require_rank(x, n + 2, name)
        cin = channels_of(x, name)
        if cin % a["groups"] or a["out_channels"] % a["groups"]:
            raise ShapeError(
                f"{name}: groups={a['groups']} must divide both input channels {cin} and "
                f"out_channels {a['out_channels']}", "E301", 0)
        sizes = x.shape[2:]
        pads = resolve_pads(name, a["padding"], sizes, a["kernel"], a["stride"], a["dilation"])
        a["pads"] = None if None in pads else pads  # None: "same" with a stride over a symbolic size
        out = [_out_size(sizes[k], _pad_total(pads, k, n), a["kernel"][k], a["stride"][k], a["dilation"][k],
                         what=name, axis=k) for k in range(n)]
        return [x.with_shape((x.shape[0], a["out_channels"], *out))]

    def weights(a, inputs):
        cin = channels_of(inputs[0], name)
        ws = [Weight("weight", (a["out_channels"], cin // a["groups"], *a["kernel"]))]
        if a["bias"]:
            ws.append(Weight("bias", (a["out_channels"],)))
        return ws

    def macs(a, inputs, outputs):
        cin = channels_of(inputs[0], name)
        return count(outputs[0].shape) * (cin // a["groups"]) * math.prod(a["kernel"])

    return LayerSpec(
        name=name, family="convolution",
        doc=f"{n}-D convolution over a [N, C, {_SPATIAL[n]}] input. Input channels are inferred.",
        params=_conv_params(n), infer=infer, weights=weights, macs=macs,
        example=f"Conv{n}d(64, 3, stride=1, padding=1)",
        torch_signature=(IN_CHANNELS, "out_channels", "kernel", "stride", "padding", "dilation", "groups", "bias"),
    )


def _make_conv_transpose(n: int):
    name = f"ConvTranspose{n}d"

    def infer(a, inputs):
        (x,) = inputs
        require_rank(x, n + 2, name)
        cin = channels_of(x, name)
        if cin % a["groups"] or a["out_channels"] % a["groups"]:
            raise ShapeError(f"{name}: groups={a['groups']} must divide input channels {cin} and "
                             f"out_channels {a['out_channels']}", "E301", 0)
        for k in range(n):
            if a["output_padding"][k] >= max(a["stride"][k], a["dilation"][k]):
                raise ShapeError(f"{name}: output_padding must be smaller than stride or dilation", "E304", 0)
        a["pads"] = tuple(a["padding"]) * 2
        out = []
        for k, size in enumerate(x.shape[2:]):
            if type(size) is not int:
                out.append(symdim.add(symdim.mul(symdim.sub(size, 1), a["stride"][k]),
                                      a["dilation"][k] * (a["kernel"][k] - 1) + a["output_padding"][k] + 1
                                      - 2 * a["padding"][k]))
                continue
            o = ((size - 1) * a["stride"][k] - 2 * a["padding"][k] + a["dilation"][k] * (a["kernel"][k] - 1)
                 + a["output_padding"][k] + 1)
            if o <= 0:
                raise ShapeError(f"{name}: output size {o} along spatial axis {k} is not positive", "E304", 0)
            out.append(o)
        return [x.with_shape((x.shape[0], a["out_channels"], *out))]

    def weights(a, inputs):
        cin = channels_of(inputs[0], name)
        ws = [Weight("weight", (cin, a["out_channels"] // a["groups"], *a["kernel"]))]
        if a["bias"]:
            ws.append(Weight("bias", (a["out_channels"],)))
        return ws

    def macs(a, inputs, outputs):
        # Every input element meets every kernel tap of its group's output channels.
        return count(inputs[0].shape) * (a["out_channels"] // a["groups"]) * math.prod(a["kernel"])

    return LayerSpec(
        name=name, family="convolution",
        doc=f"{n}-D transposed convolution (learned upsampling) over a [N, C, {_SPATIAL[n]}] input.",
        params=_conv_params(n, transposed=True), infer=infer, weights=weights, macs=macs,
        example=f"ConvTranspose{n}d(64, 2, stride=2)",
        torch_signature=(IN_CHANNELS, "out_channels", "kernel", "stride", "padding", "output_padding", "groups",
                         "bias", "dilation"),
    )


def _depthwise():
    base = _make_conv(2)

    def attrs_for_conv(a, cin):
        b = dict(a)
        b["out_channels"] = cin * a["multiplier"]
        b["groups"] = cin
        return b

    def infer(a, inputs):
        x = inputs[0]
        require_rank(x, 4, "DepthwiseConv2d")
        cin = channels_of(x, "DepthwiseConv2d")
        b = attrs_for_conv(a, cin)
        out = base.infer(b, inputs)
        a["pads"] = b["pads"]
        return out

    def weights(a, inputs):
        return base.weights(attrs_for_conv(a, channels_of(inputs[0], "DepthwiseConv2d")), inputs)

    def macs(a, inputs, outputs):
        return base.macs(attrs_for_conv(a, channels_of(inputs[0], "DepthwiseConv2d")), inputs, outputs)

    return LayerSpec(
        name="DepthwiseConv2d", family="convolution",
        doc="Depthwise 2-D convolution: each input channel convolved with its own `multiplier` filters "
            "(a Conv2d with groups = input channels).",
        params=_conv_params(2, depthwise=True), infer=infer, weights=weights, macs=macs,
        example="DepthwiseConv2d(3, padding=1)",
    )


# ---- pooling -----------------------------------------------------------------------------------

def _make_pool(kind: str, n: int):
    name = f"{kind}Pool{n}d"
    params = [
        Param("kernel", Ints(n), doc="window size", min=1, aliases=("kernel_size",)),
        Param("stride", Optional_(Ints(n)), None, "step between windows (default: the window size)", min=1),
        Param("padding", Padding(n), 0, "implicit padding on each side", min=0),
        Param("ceil_mode", BOOL, False, "round the output size up instead of down"),
    ]
    if kind == "Max":
        params.insert(3, Param("dilation", Ints(n), 1, "spacing between window taps", min=1))
    else:
        params.append(Param("count_include_pad", BOOL, True, "count padded zeros in the average"))

    def infer(a, inputs):
        (x,) = inputs
        require_rank(x, (n + 1, n + 2), name)
        if a["stride"] is None:
            a["stride"] = a["kernel"]
        dil = a.get("dilation", (1,) * n)
        sizes = x.shape[-n:]
        pads = resolve_pads(name, a["padding"], sizes, a["kernel"], a["stride"], dil)
        a["pads"] = None if None in pads else pads  # None: "same" with a stride over a symbolic size
        for k in range(n):
            if a["padding"] != "same" and max(pads[k], pads[k + n]) * 2 > a["kernel"][k]:
                raise ShapeError(f"{name}: padding {pads[k]} must be at most half the window {a['kernel'][k]}",
                                 "E304", 0)
        out = [_out_size(sizes[k], _pad_total(pads, k, n), a["kernel"][k], a["stride"][k], dil[k],
                         a["ceil_mode"], name, k) for k in range(n)]
        return [x.with_shape((*x.shape[:-n], *out))]

    return LayerSpec(
        name=name, family="pooling",
        doc=f"{n}-D {'max' if kind == 'Max' else 'average'} pooling over the last {n} dims.",
        params=tuple(params), infer=infer, example=f"{name}(2)",
        # MaxPool: torch's return_indices sits between dilation and ceil_mode.
        torch_signature=(("kernel", "stride", "padding", "dilation", None, "ceil_mode") if kind == "Max" else ()),
    )


def _make_adaptive(kind: str, n: int):
    name = f"Adaptive{kind}Pool{n}d"

    def infer(a, inputs):
        (x,) = inputs
        require_rank(x, (n + 1, n + 2), name)
        return [x.with_shape((*x.shape[:-n], *a["output_size"]))]

    return LayerSpec(
        name=name, family="pooling",
        doc=f"{n}-D adaptive {'average' if kind == 'Avg' else 'max'} pooling to a fixed output size "
            "(1 = global pooling that keeps the dims).",
        params=(Param("output_size", Ints(n), doc="output size of the pooled dims", min=1),),
        infer=infer, example=f"{name}(1)",
    )


def _make_global(kind: str):
    name = f"Global{kind}Pool"

    def infer(a, inputs):
        (x,) = inputs
        if x.rank < 3:
            raise ShapeError(f"{name} expects a [N, C, spatial...] input, got rank {x.rank} {x}", "E302", 0)
        if kind == "Avg" and x.dtype not in ("f32", "f16", "bf16", "f64"):
            raise ShapeError(f"{name}: averaging needs a float input, got {x.dtype}", "E305", 0)
        if a["keepdims"]:
            return [x.with_shape((*x.shape[:2], *([1] * (x.rank - 2))))]
        return [x.with_shape(x.shape[:2])]

    return LayerSpec(
        name=name, family="pooling",
        doc=f"Global {'average' if kind == 'Avg' else 'max'} over all spatial dims: [N, C, ...] -> [N, C] "
            "(or [N, C, 1, ...] with keepdims=true).",
        params=(Param("keepdims", BOOL, False, "keep the pooled dims as size 1"),),
        infer=infer, example=f"{name}",
    )


def _scaled(d, f: float):
    """A symbolic size times a scale factor: exact for an integral factor (H * 2), else unknown."""
    return symdim.mul(d, int(f)) if float(f).is_integer() else None


_MODE_SPATIAL = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}  # "nearest" takes any


def _upsample():
    def infer(a, inputs):
        (x,) = inputs
        if x.rank < 3:
            raise ShapeError(f"Upsample expects a [N, C, spatial...] input, got {x}", "E302", 0)
        n = x.rank - 2
        needs = _MODE_SPATIAL.get(a["mode"])
        if needs is not None and n != needs:
            raise ShapeError(f'Upsample: mode "{a["mode"]}" works on {needs} spatial dim{"s" if needs > 1 else ""}, '
                             f"got {n} in {x}", "E302", 0)
        if (a["size"] is None) == (a["scale_factor"] is None):
            raise ShapeError("Upsample: give exactly one of size or scale_factor", "E304", 0)
        if a["size"] is not None:
            size = a["size"]
            if len(size) == 1:
                size = size * n
            if len(size) != n:
                raise ShapeError(f"Upsample: size has {len(size)} dims, input has {n} spatial dims {x}", "E302", 0)
            return [x.with_shape((*x.shape[:2], *size))]
        sf = a["scale_factor"]
        if len(sf) == 1:
            sf = sf * n
        if len(sf) != n:
            raise ShapeError(f"Upsample: scale_factor has {len(sf)} values, input has {n} spatial dims {x}",
                             "E302", 0)
        out = [int(math.floor(d * f)) if type(d) is int else _scaled(d, f) for d, f in zip(x.shape[2:], sf)]
        for k, o in enumerate(out):
            if type(o) is int and o < 1:
                raise ShapeError(f"Upsample: scale_factor {sf[k]} shrinks spatial dim {k} of {x} to {o}", "E304", 0)
        return [x.with_shape((*x.shape[:2], *out))]

    return LayerSpec(
        name="Upsample", family="shape",
        doc="Resize the spatial dims by a scale factor or to a size (nearest, nearest-exact, linear, bilinear, "
            "bicubic, trilinear), with torch's coordinate rules: nearest takes source floor(dst / scale), "
            "nearest-exact floor((dst + 0.5) / scale) (ONNX's half_pixel with round_prefer_ceil).",
        params=(
            Param("scale_factor", Optional_(FloatTuple()), None, "multiplier per spatial dim", min=0,
                  min_exclusive=True),
            Param("size", Optional_(IntTuple()), None, "output spatial size", min=1),
            Param("mode", Choice(("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "trilinear")), "nearest",
                  "interpolation"),
            Param("align_corners", Optional_(BOOL), None, "align corner pixels (linear modes only)"),
        ),
        infer=infer, aliases=("Resize",), example="Upsample(scale_factor=2)",
        # No positional argument: torch's first is `size`, so `Upsample(2)` would mean two things.
        positional=0, torch_signature=("size", "scale_factor", "mode", "align_corners"),
    )


def _standardized(scaled: bool):
    """Weight-standardised convolutions, as timm's StdConv2d (BiT) and ScaledStdConv2d (NFNet) define them: each
    output channel's kernel is standardised over its fan-in (mean 0, biased variance 1, + eps) before the
    convolution; the scaled form then multiplies it by `gain` [out, 1, 1, 1] and gamma / sqrt(fan-in)."""
    base = _make_conv(2)
    name = "ScaledStdConv2d" if scaled else "StdConv2d"
    params = tuple(Param("bias", BOOL, scaled, p.doc) if p.name == "bias" else p for p in _conv_params(2))
    params += (Param("eps", FLOAT, 1e-6, "added to each kernel's variance", min=0),)
    if scaled:
        params += (Param("gamma", FLOAT, 1.0, "the scale's numerator: gain x gamma / sqrt(fan-in)"),)

    def weights(a, inputs):
        ws = base.weights(a, inputs)
        return ws + [Weight("gain", (a["out_channels"], 1, 1, 1))] if scaled else ws

    what = ("then scaled by `gain` (per output channel) x gamma / sqrt(fan-in), as timm's ScaledStdConv2d (NFNet)"
            if scaled else "as timm's StdConv2d (BiT)")
    return LayerSpec(
        name=name, family="convolution",
        doc=f"2-D convolution with weight standardisation over a [N, C, H, W] input: each output channel's kernel "
            f"is made mean 0 and variance 1 over its fan-in (variance + eps) before it is applied, {what}. Input "
            f"channels are inferred.",
        params=params, infer=base.infer, weights=weights, macs=base.macs,
        example=f"{name}(64, 3, padding=1)",
        torch_signature=(IN_CHANNELS, "out_channels", "kernel", "stride", "padding", "dilation", "groups", "bias",
                         *(("gamma",) if scaled else ()), "eps"),
    )


LAYERS = [
    *(_make_conv(n) for n in (1, 2, 3)),
    *(_make_conv_transpose(n) for n in (1, 2, 3)),
    _depthwise(),
    _standardized(scaled=False),
    _standardized(scaled=True),
    *(_make_pool(k, n) for k in ("Max", "Avg") for n in (1, 2, 3)),
    *(_make_adaptive(k, n) for k in ("Avg", "Max") for n in (1, 2, 3)),
    _make_global("Avg"),
    _make_global("Max"),
    _upsample(),
]
