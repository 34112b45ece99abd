"""Convolution and pooling. Explicit and asymmetric pads are a pad then a "valid" Keras layer (max pooling
pads with -inf as torch does); ceil mode is extra end padding sized from the IR's output shape."""

from __future__ import annotations

import numpy as np

from ...conversion import standardized_kernel
from ..mapping import NotExpressible, keras_layer, keras_weights

_CONV = {1: "Conv1D", 2: "Conv2D", 3: "Conv3D"}
_TCONV = {1: "Conv1DTranspose", 2: "Conv2DTranspose", 3: "Conv3DTranspose"}


def _spatial_axes(b, n: int) -> list:
    return list(range(1, n + 1)) if b.channels_last else list(range(2, n + 2))


def _pad(b, x, begin, end, value: float = 0.0, suffix: str = "pad"):
    """x (read with b.cl) padded on its spatial axes."""
    if not any(begin) and not any(end):
        return x
    n = len(begin)
    widths = [[0, 0] for _ in range(n + 2)]
    for ax, lo, hi in zip(_spatial_axes(b, n), begin, end):
        widths[ax] = [int(lo), int(hi)]
    if value == 0.0 and n in (2, 3):
        cls = getattr(b.L, f"ZeroPadding{n}D")
        return b.layer(cls, suffix, padding=tuple(tuple(widths[a]) for a in _spatial_axes(b, n)),
                       data_format=b.data_format)(x)
    return b.ops.pad(x, widths, constant_values=value)


def _split_pads(a, n: int):
    pads = a["pads"]
    return list(pads[:n]), list(pads[n:])


@keras_layer("Conv1d", "Conv2d", "Conv3d", "DepthwiseConv2d", "StdConv2d", "ScaledStdConv2d")
def conv(b):
    a = b.a
    n = len(a["kernel"])
    b.need_batched(n)
    groups = b.known(b.t.shape[1], "input channels") if b.node.op == "DepthwiseConv2d" else a["groups"]
    if max(a["stride"]) > 1 and max(a["dilation"]) > 1:
        raise NotExpressible("Keras convolutions take a stride or a dilation above 1, not both")
    begin, end = _split_pads(a, n)
    x = _pad(b, b.cl(), begin, end)
    filters = groups * a["multiplier"] if b.node.op == "DepthwiseConv2d" else a["out_channels"]
    layer = b.layer(getattr(b.L, _CONV[n]), filters=filters, kernel_size=tuple(a["kernel"]),
                    strides=tuple(a["stride"]), padding="valid", dilation_rate=tuple(a["dilation"]), groups=groups,
                    use_bias=bool(a["bias"]), data_format=b.data_format)
    y = layer(x)
    b.weighted(layer, ["kernel", "bias"] if a["bias"] else ["kernel"])
    return b.spatial_out(y)


@keras_weights("Conv1d", "Conv2d", "Conv3d", "DepthwiseConv2d", "StdConv2d", "ScaledStdConv2d")
def conv_weights(node, w):
    # a weight-standardised kernel is written as the convolution applies it (Keras's Conv2D takes it plain)
    k = standardized_kernel(node, w) if node.op in ("StdConv2d", "ScaledStdConv2d") else w["weight"]
    # [out, in / groups, *kernel] -> [*kernel, in / groups, out]
    out = {"kernel": np.transpose(k, (*range(2, k.ndim), 1, 0))}
    if "bias" in w:
        out["bias"] = w["bias"]
    return out


@keras_layer("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
def conv_transpose(b):
    a = b.a
    n = len(a["kernel"])
    b.need_batched(n)
    if a["groups"] != 1:
        raise NotExpressible("Keras transposed convolutions have no groups")
    if max(a["stride"]) > 1 and max(a["dilation"]) > 1:
        raise NotExpressible("Keras transposed convolutions take a stride or a dilation above 1, not both")
    layer = b.layer(getattr(b.L, _TCONV[n]), filters=a["out_channels"], kernel_size=tuple(a["kernel"]),
                    strides=tuple(a["stride"]), padding="valid", output_padding=tuple(a["output_padding"]),
                    dilation_rate=tuple(a["dilation"]), use_bias=bool(a["bias"]), data_format=b.data_format)
    y = layer(b.cl())
    b.weighted(layer, ["kernel", "bias"] if a["bias"] else ["kernel"])
    p = list(a["padding"])
    if any(p):  # torch removes `padding` from both ends of the full output
        index = [slice(None)] * (n + 2)
        for ax, c in zip(_spatial_axes(b, n), p):
            index[ax] = slice(c, -c if c else None)
        y = y[tuple(index)]
    return b.spatial_out(y)


@keras_weights("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
def conv_transpose_weights(node, w):
    k = w["weight"]  # [in, out, *kernel] -> [*kernel, out, in]
    out = {"kernel": np.transpose(k, (*range(2, k.ndim), 1, 0))}
    if "bias" in w:
        out["bias"] = w["bias"]
    return out


def _extra_end(b, n: int, begin, end) -> list:
    """Padding after the explicit pads so that "valid" pooling gives the IR's (ceil-mode) output size."""
    a = b.a
    out = []
    for d in range(n):
        size = b.known(b.t.shape[2 + d], "the pooled size")
        o = b.known(b.out_types[0].shape[2 + d], "the pooled size")
        k = (a["kernel"][d] - 1) * (a.get("dilation") or (1,) * n)[d] + 1
        need = (o - 1) * a["stride"][d] + k - (size + begin[d] + end[d])
        out.append(max(0, need))
    return out


@keras_layer("MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d")
def pool(b):
    a = b.a
    n = len(a["kernel"])
    b.need_batched(n)
    if max(a.get("dilation") or (1,)) > 1:
        raise NotExpressible("Keras pooling has no dilation")
    begin, end = _split_pads(a, n)
    extra = _extra_end(b, n, begin, end) if a["ceil_mode"] else [0] * n
    x = b.cl()
    is_max = b.node.op.startswith("Max")
    cls = getattr(b.L, f"{'Max' if is_max else 'Average'}Pooling{n}D")
    kw = {"pool_size": tuple(a["kernel"]), "strides": tuple(a["stride"]), "padding": "valid",
          "data_format": b.data_format}
    if is_max:
        y = b.layer(cls, **kw)(_pad(b, x, begin, [e + c for e, c in zip(end, extra)], -np.inf))
        return b.spatial_out(y)
    y = b.layer(cls, **kw)(_pad(b, x, begin, [e + c for e, c in zip(end, extra)], suffix="pad"))
    if (any(begin) or any(end)) and not a["count_include_pad"] or any(extra):
        # torch divides by the cells it counts: the padded input (count_include_pad) or the input alone
        ones = b.ops.ones_like(x)
        if a["count_include_pad"]:
            ones = _pad(b, ones, begin, end, 1.0)
            ones = _pad(b, ones, [0] * n, extra, suffix="count_pad")
        else:
            ones = _pad(b, ones, begin, [e + c for e, c in zip(end, extra)], suffix="count_pad")
        count = b.layer(cls, "count", **kw)(ones)
        y = b.ops.divide(y, count)
    return b.spatial_out(y)


@keras_layer("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
             "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d")
def adaptive_pool(b):
    out = b.a["output_size"]
    n = len(out)
    b.need_batched(n)
    is_avg = "Avg" in b.node.op
    x = b.cl()
    if all(o == 1 for o in out):
        cls = getattr(b.L, f"Global{'Average' if is_avg else 'Max'}Pooling{n}D")
        return b.spatial_out(b.layer(cls, keepdims=True, data_format=b.data_format)(x))
    sizes = [b.known(s, "the pooled size") for s in b.t.shape[2:]]
    if any(s % o for s, o in zip(sizes, out)):
        raise NotExpressible(f"{b.node.op}: pooled sizes {tuple(sizes)} that {tuple(out)} does not divide "
                             "(windows of different sizes have no Keras pooling)")
    kernel = tuple(s // o for s, o in zip(sizes, out))
    if all(k == 1 for k in kernel):
        return b.spatial_out(x)
    cls = getattr(b.L, f"{'Average' if is_avg else 'Max'}Pooling{n}D")
    return b.spatial_out(b.layer(cls, pool_size=kernel, strides=kernel, padding="valid",
                                 data_format=b.data_format)(x))


@keras_layer("GlobalAvgPool", "GlobalMaxPool")
def global_pool(b):
    n = b.t.rank - 2
    if n not in (1, 2, 3):
        raise NotExpressible(f"{b.node.op} over {n} spatial axes: Keras pools over 1 to 3")
    cls = getattr(b.L, f"Global{'Average' if 'Avg' in b.node.op else 'Max'}Pooling{n}D")
    y = b.layer(cls, keepdims=bool(b.a["keepdims"]), data_format=b.data_format)(b.cl())
    if b.a["keepdims"]:
        return b.spatial_out(y)
    from ..emit import Val

    return Val(y)
