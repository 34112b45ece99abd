"""ONNX convolution and pooling: Conv, ConvTranspose (-> ConvNd / ConvTransposeNd, a Pad layer in front where
the padding is not torch's), MaxPool / AveragePool / LpPool (whose rules are import_pool's) and the global
pools (-> AdaptiveAvgPoolNd / AdaptiveMaxPoolNd of size 1)."""

from __future__ import annotations

from .importers import Layer, Op, Unsupported, _ints, _one, onnx_op


def _spatial(op: Op) -> int:
    return op.rank(0) - 2


def _padding(pads, n: int, kernel=None, fill: float = 0.0):
    """(the layer's padding, Pad params for a Pad layer in front or None). torch's layers pad both sides
    alike and (pooling) by at most half the window; other padding becomes a Pad layer before the layer."""
    pads = _ints(pads) if pads else (0,) * (2 * n)
    begin, end = pads[:n], pads[n:]
    if begin == end and (kernel is None or all(p <= k // 2 for p, k in zip(begin, kernel))):
        return _one(begin), None
    order = []
    for k in reversed(range(n)):  # the Pad layer's pads: last dim first, (before, after) each
        order += [begin[k], end[k]]
    return 0, {"pads": tuple(order), "mode": "constant", "value": fill}


def _symmetric(pads, n: int, what: str):
    pads = _ints(pads) if pads else (0,) * (2 * n)
    if pads[:n] != pads[n:]:
        raise Unsupported(f"{what}: asymmetric pads {pads}")
    return _one(pads[:n])


def _weight_and_bias(op: Op, w) -> tuple:
    """({"weight": w, "bias": b if the node has one}, b): a convolution's inputs 1 and 2."""
    b = op.const_input(2, "the bias")
    return ({"weight": w} if b is None else {"weight": w, "bias": b}), b


# ---- convolution and pooling -----------------------------------------------------------------

@onnx_op("Conv")
def conv(op: Op):
    w = op.const_input(1, "the weight")
    n = w.ndim - 2
    auto_pad = op.attrs.get("auto_pad", "NOTSET")
    pads = op.attrs.get("pads") if auto_pad == "NOTSET" else None
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        from .import_pool import same_pads

        pads = same_pads(op, tuple(w.shape[2:]), _ints(op.attrs.get("strides", (1,) * n)),
                         _ints(op.attrs.get("dilations", (1,) * n)))
    elif auto_pad not in ("NOTSET", "VALID"):
        raise Unsupported(f"Conv with auto_pad={auto_pad}")
    group = int(op.attrs.get("group", 1))
    weights, b = _weight_and_bias(op, w)
    padding, pad_first = _padding(pads, n)
    return Layer(f"Conv{n}d", {
        "out_channels": int(w.shape[0]), "kernel": _one(w.shape[2:]), "stride": _one(op.attrs.get("strides", (1,) * n)),
        "padding": padding, "groups": group,
        "dilation": _one(op.attrs.get("dilations", (1,) * n)), "bias": b is not None}, weights=weights,
        pad_first=pad_first)


@onnx_op("ConvTranspose")
def conv_transpose(op: Op):
    w = op.const_input(1, "the weight")
    n = w.ndim - 2
    group = int(op.attrs.get("group", 1))
    weights, b = _weight_and_bias(op, w)
    padding, output_padding = _symmetric(op.attrs.get("pads"), n, "ConvTranspose"), op.attrs.get("output_padding")
    if "output_shape" in op.attrs or op.attrs.get("auto_pad", "NOTSET") in ("SAME_UPPER", "SAME_LOWER"):
        from .import_pool import transpose_padding

        padding, output_padding = transpose_padding(op, n, tuple(w.shape[2:]))
    elif op.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise Unsupported(f"ConvTranspose with auto_pad={op.attrs['auto_pad']}")
    return Layer(f"ConvTranspose{n}d", {
        "out_channels": int(w.shape[1]) * group, "kernel": _one(w.shape[2:]),
        "stride": _one(op.attrs.get("strides", (1,) * n)),
        "padding": padding,
        "output_padding": _one(output_padding or (0,) * n), "groups": group,
        "dilation": _one(op.attrs.get("dilations", (1,) * n)), "bias": b is not None}, weights=weights)


@onnx_op("MaxPool", "AveragePool")
def pool(op: Op):
    from .import_pool import pool_layer

    return pool_layer(op)


@onnx_op("LpPool", since=11)
def lp_pool(op: Op):
    from .import_pool import lp_pool as decomposed

    return decomposed(op)


@onnx_op("GlobalAveragePool", "GlobalMaxPool")
def global_pool(op: Op):
    n = _spatial(op)
    kind = "Avg" if op.node.op_type == "GlobalAveragePool" else "Max"
    return Layer(f"Adaptive{kind}Pool{n}d", {"output_size": 1})
