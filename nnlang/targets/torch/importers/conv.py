"""Convolution, pooling and resizing: the modules, and the functional pools a forward may call."""

from __future__ import annotations

from .registry import Call, Layer, Unsupported, call_importer, int_or_tuple, module_importer, t_

# ---- convolution ---------------------------------------------------------------------------------


@module_importer("Conv1d", "Conv2d", "Conv3d")
def conv(m, ins):
    if m.padding_mode != "zeros":
        raise Unsupported(f"{type(m).__name__} with padding_mode={m.padding_mode!r}")
    padding = m.padding if isinstance(m.padding, str) else int_or_tuple(m.padding)
    return Layer(type(m).__name__, {
        "out_channels": m.out_channels, "kernel": int_or_tuple(m.kernel_size), "stride": int_or_tuple(m.stride),
        "dilation": int_or_tuple(m.dilation), "bias": m.bias is not None, "padding": padding, "groups": m.groups})


@module_importer("StdConv2d", "ScaledStdConv2d", "StdConv2dSame", "ScaledStdConv2dSame")
def standardized_conv(m, ins):
    """timm's weight-standardised convolutions (and nnlang's own): StdConv2d, ScaledStdConv2d. Their `...Same`
    variants pad at run time (pad_same: TensorFlow's SAME, the odd pixel at the end) where the padding is
    dynamic: the layer's padding="same", which is that rule."""
    layer = conv(m, ins)
    op = "ScaledStdConv2d" if hasattr(m, "gain") else "StdConv2d"
    layer = Layer(op, dict(layer.params, eps=float(m.eps)))
    if getattr(m, "same_pad", False):
        layer.params["padding"] = "same"
    if op == "ScaledStdConv2d":
        fan_in = m.weight[0].numel()
        layer.params["gamma"] = _shortest_gamma(float(m.scale), fan_in)
        if tuple(m.gain.shape) != (m.out_channels, 1, 1, 1):
            raise Unsupported(f"{type(m).__name__} with a gain of shape {tuple(m.gain.shape)}")
    return layer


def _shortest_gamma(scale: float, fan_in: int) -> float:
    """timm keeps only gamma / sqrt(fan-in): the shortest decimal gamma that gives the same scale back."""
    raw = scale * fan_in ** 0.5
    for digits in range(1, 18):
        gamma = float(f"{raw:.{digits}g}")
        if gamma * fan_in ** -0.5 == scale:
            return gamma
    return raw


@module_importer("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
def conv_transpose(m, ins):
    if m.padding_mode != "zeros":
        raise Unsupported(f"{type(m).__name__} with padding_mode={m.padding_mode!r}")
    return Layer(type(m).__name__, {
        "out_channels": m.out_channels, "kernel": int_or_tuple(m.kernel_size), "stride": int_or_tuple(m.stride),
        "padding": int_or_tuple(m.padding), "output_padding": int_or_tuple(m.output_padding),
        "groups": m.groups, "dilation": int_or_tuple(m.dilation), "bias": m.bias is not None})


# ---- pooling -------------------------------------------------------------------------------------

def _stride(stride, kernel):
    """None (the registry's "same as the window") where the stride is the window size or not given."""
    stride, kernel = int_or_tuple(stride), int_or_tuple(kernel)
    return None if stride is None or stride == kernel or stride == () else stride


@module_importer("MaxPool1d", "MaxPool2d", "MaxPool3d")
def max_pool(m, ins):
    if m.return_indices:
        raise Unsupported(f"{type(m).__name__} with return_indices=True")
    return Layer(type(m).__name__, {"kernel": int_or_tuple(m.kernel_size), "stride": _stride(m.stride, m.kernel_size),
                                    "padding": int_or_tuple(m.padding), "dilation": int_or_tuple(m.dilation),
                                    "ceil_mode": bool(m.ceil_mode)})


@module_importer("AvgPool1d", "AvgPool2d", "AvgPool3d")
def avg_pool(m, ins):
    if getattr(m, "divisor_override", None) is not None:
        raise Unsupported(f"{type(m).__name__} with divisor_override")
    return Layer(type(m).__name__, {"kernel": int_or_tuple(m.kernel_size), "stride": _stride(m.stride, m.kernel_size),
                                    "padding": int_or_tuple(m.padding), "ceil_mode": bool(m.ceil_mode),
                                    "count_include_pad": bool(m.count_include_pad)})


def _adaptive(op: str, size, in_shape):
    size = t_(size)
    if isinstance(size, tuple) and any(s is None for s in size):  # None keeps that input size
        spatial = in_shape[len(in_shape) - len(size):]
        size = tuple(spatial[i] if s is None else s for i, s in enumerate(size))
    return Layer(op, {"output_size": int_or_tuple(size)})


@module_importer("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
                 "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d")
def adaptive_pool(m, ins):
    if getattr(m, "return_indices", False):
        raise Unsupported(f"{type(m).__name__} with return_indices=True")
    return _adaptive(type(m).__name__, m.output_size, ins[0])


def _functional_pool(kind: str, n: int):
    """F.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode) and the avg_pool order
    (x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)."""
    op = f"{kind}Pool{n}d"

    def importer(call: Call):
        kernel = call.arg(1, "kernel_size")
        params = {"kernel": int_or_tuple(kernel), "stride": _stride(call.arg(2, "stride"), kernel),
                  "padding": int_or_tuple(call.arg(3, "padding", 0))}
        if kind == "Max":
            if call.arg(6, "return_indices", False):
                raise Unsupported(f"max_pool{n}d with return_indices=True")
            params["dilation"] = int_or_tuple(call.arg(4, "dilation", 1))
            params["ceil_mode"] = bool(call.arg(5, "ceil_mode", False))
        else:
            if call.arg(6, "divisor_override") is not None:
                raise Unsupported(f"avg_pool{n}d with divisor_override")
            params["ceil_mode"] = bool(call.arg(4, "ceil_mode", False))
            params["count_include_pad"] = bool(call.arg(5, "count_include_pad", True))
        return Layer(op, params, [call.args[0]])

    return importer


def _functional_adaptive(kind: str, n: int):
    op = f"Adaptive{kind}Pool{n}d"

    def importer(call: Call):
        if call.arg(2, "return_indices", False):
            raise Unsupported(f"adaptive_max_pool{n}d with return_indices=True")
        layer = _adaptive(op, call.arg(1, "output_size"), call.shape(call.args[0]))
        layer.inputs = [call.args[0]]
        return layer

    return importer


for _n in (1, 2, 3):
    for _kind, _fn in (("Max", "max"), ("Avg", "avg")):
        call_importer(f"function:torch.nn.functional.{_fn}_pool{_n}d")(_functional_pool(_kind, _n))
        call_importer(f"function:torch.nn.functional.adaptive_{_fn}_pool{_n}d")(_functional_adaptive(_kind, _n))


@call_importer("method:amax", "function:torch.amax")
def amax(call: Call):
    """A max over every spatial dim is the emitter's GlobalMaxPool; over other dims Amax."""
    x = call.args[0]
    rank = len(call.shape(x))
    dims = t_(call.arg(1, "dim", ()))
    dims = (dims,) if isinstance(dims, int) else dims
    keep = bool(call.arg(2, "keepdim", False))
    if dims == ():
        raise Unsupported("amax over all dims")
    if rank < 3 or sorted(d % rank for d in dims) != list(range(2, rank)):
        return Layer("Amax", {"axis": dims[0] if len(dims) == 1 else dims, "keepdims": keep}, [x])
    return Layer("GlobalMaxPool", {"keepdims": keep}, [x])


# ---- resizing ------------------------------------------------------------------------------------

def _upsample(what: str, size, scale, mode: str, align_corners, recompute, out_shape) -> Layer:
    if recompute:
        raise Unsupported(f"{what} with recompute_scale_factor=True")
    if size is not None:  # sizes are often read off another tensor (x.shape[2:]): the traced result has them
        size = tuple(out_shape[2:]) if out_shape is not None else t_(size)
        return Layer("Upsample", {"size": int_or_tuple(size), "mode": mode, "align_corners": align_corners})
    scale = t_(scale)
    scale = tuple(float(s) for s in scale) if isinstance(scale, tuple) else float(scale)
    return Layer("Upsample", {"scale_factor": int_or_tuple(scale), "mode": mode, "align_corners": align_corners})


@module_importer("Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d")
def upsample(m, ins):
    return _upsample(type(m).__name__, m.size, m.scale_factor, m.mode, m.align_corners,
                     getattr(m, "recompute_scale_factor", None), None)


@call_importer("function:torch.nn.functional.interpolate", "function:torch.nn.functional.upsample")
def interpolate(call: Call):
    if call.arg(6, "antialias", False):
        raise Unsupported("interpolate with antialias=True")
    layer = _upsample("interpolate", call.arg(1, "size"), call.arg(2, "scale_factor"), call.arg(3, "mode", "nearest"),
                      call.arg(4, "align_corners"), call.arg(5, "recompute_scale_factor"), call.out_shape)
    layer.inputs = [call.args[0]]
    return layer
