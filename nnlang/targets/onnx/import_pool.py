"""MaxPool / AveragePool at every opset (and the padding rules Conv / ConvTranspose share: auto_pad SAME,
output_shape) -> MaxPoolNd / AvgPoolNd, with a Pad layer in front where needed.

ONNX pads each side on its own and sizes a ceil-mode output by its own rule; torch pads both sides alike
by at most half the window and drops a ceil-mode window that starts in the end padding. So the layer is
chosen by the output size onnxruntime computes: the first of these forms whose torch size equals
it, and which computes the same windows, is taken --
  1. the node's own padding and ceil_mode;
  2. the same padding with ceil_mode the other way (equal sizes, equal windows);
  3. average pooling that leaves padding out of the mean: the begin padding and ceil_mode on, so the end
     padding (or the ceil overhang) is torch's partial last window, which leaves it out alike;
  4. a Pad layer in front (-inf for max, 0 for a mean that counts padding) and no padding in the layer.
None fits: a clear refusal naming both sizes.
"""

from __future__ import annotations

import math

import numpy as np

from ..importing import Layer, Unsupported


def _ints(v) -> tuple:
    return tuple(int(x) for x in v)


def _one(v):
    v = tuple(v)
    return v[0] if v and all(x == v[0] for x in v) else v


def torch_size(size: int, begin: int, end: int, kernel: int, stride: int, dilation: int, ceil: bool):
    """torch's pooling output size for padding (begin, end); None where the window is larger than the input."""
    span = size + begin + end - dilation * (kernel - 1) - 1
    if span < 0:
        return None
    if not ceil:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + begin:  # torch: the last window must start inside the input or begin pad
        out -= 1
    return out


def runtime_size(size, begin, end, kernel, stride, dilation, ceil):
    """The output size onnxruntime computes: ONNX's formula, and in ceil mode no window starting in the end pad."""
    span = size + begin + end - dilation * (kernel - 1) - 1
    if span < 0:
        raise Unsupported(f"pooling window {kernel} (dilation {dilation}) larger than the padded input {size}")
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= size + begin:
        out -= 1
    return out


def same_pads(op, kernel, stride, dilation) -> tuple:
    """auto_pad SAME_UPPER / SAME_LOWER as explicit pads (ONNX's rule: output ceil(size / stride), the odd
    pixel of padding at the end / the beginning); the input's spatial sizes must be known."""
    n = len(kernel)
    auto_pad = op.attrs.get("auto_pad")
    sizes = (op.shape(op.input(0)) or ())[2:]
    if len(sizes) != n or any(not isinstance(d, int) for d in sizes):
        raise Unsupported(f"{op.node.op_type} with auto_pad={auto_pad} on an input of unknown size")
    begin, end = [], []
    for size, k, s, d in zip(sizes, kernel, stride, dilation):
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        small = total // 2
        begin.append(small if auto_pad == "SAME_UPPER" else total - small)
        end.append(total - begin[-1])
    return tuple(begin) + tuple(end)


def pool_layer(op) -> Layer:
    n = op.rank(0) - 2
    kind = "Max" if op.node.op_type == "MaxPool" else "Avg"
    if len(op.node.output) > 1 and op.node.output[1]:
        raise Unsupported("MaxPool with indices")
    auto_pad = op.attrs.get("auto_pad", "NOTSET")
    if "kernel_shape" not in op.attrs:
        raise Unsupported(f"{op.node.op_type} without kernel_shape")
    kernel = _ints(op.attrs["kernel_shape"])
    stride = _ints(op.attrs.get("strides", (1,) * n))
    dilation = _ints(op.attrs.get("dilations", (1,) * n))
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = same_pads(op, kernel, stride, dilation)
    elif auto_pad in ("NOTSET", "VALID"):
        pads = _ints(op.attrs.get("pads") or (0,) * (2 * n)) if auto_pad == "NOTSET" else (0,) * (2 * n)
    else:
        raise Unsupported(f"{op.node.op_type} with auto_pad={auto_pad}")
    if len(kernel) != n or len(stride) != n or len(dilation) != n or len(pads) != 2 * n:
        raise Unsupported(f"{op.node.op_type}: kernel_shape/strides/dilations/pads do not match {n} spatial dims")
    ceil = bool(op.attrs.get("ceil_mode", 0))
    count_pad = bool(op.attrs.get("count_include_pad", 0))
    begin, end = pads[:n], pads[n:]
    sizes = (op.shape(op.input(0)) or ())[2:]
    if kind == "Avg" and any(d != 1 for d in dilation):
        return _dilated_mean(op, n, kernel, stride, dilation, begin, end, ceil, count_pad)
    if any(not isinstance(d, int) for d in sizes) or len(sizes) != n:
        return _symbolic(kind, n, kernel, stride, dilation, begin, end, ceil, count_pad)
    # Not the size shape inference states: onnxruntime drops a ceil-mode window that starts in the end
    # padding (as torch does), and inference does not (pads 1, kernel 2, stride 2 on 5: it says 4, runs 3).
    want = tuple(runtime_size(sizes[k], begin[k], end[k], kernel[k], stride[k], dilation[k], ceil) for k in range(n))

    def fits(pad_begin, pad_end, ceil_mode) -> bool:
        return all(torch_size(sizes[k], pad_begin[k], pad_end[k], kernel[k], stride[k], dilation[k], ceil_mode)
                   == want[k] for k in range(n))

    half = all(b <= k // 2 for b, k in zip(begin, kernel))
    if begin == end and half:
        for c in (ceil, not ceil):
            if fits(begin, begin, c):
                return _layer(kind, n, kernel, stride, dilation, begin, c, count_pad)
    if kind == "Avg" and not count_pad and half and all(b <= e for b, e in zip(begin, end)) \
            and fits(begin, begin, True):
        return _layer(kind, n, kernel, stride, dilation, begin, True, False)
    if kind == "Max" or count_pad:
        # The Pad layer's end padding reaches as far as ONNX's last window (a ceil-mode overhang included).
        extra = tuple(max(end[k], (want[k] - 1) * stride[k] + dilation[k] * (kernel[k] - 1) + 1 - sizes[k] - begin[k])
                      for k in range(n))
        exact = kind == "Max" or not ceil or extra == end  # a mean over an overhang ONNX does not count
        if exact and fits(begin, extra, False):
            return _layer(kind, n, kernel, stride, dilation, (0,) * n, False, True, _pad(begin, extra, kind))
    if kind == "Avg" and not count_pad:
        return _mean_over_input(op, n, sizes, want, kernel, stride, begin, end)
    raise Unsupported(f"{op.node.op_type} (kernel {kernel}, strides {stride}, pads {pads}, ceil_mode {int(ceil)}"
                      f"{'' if kind == 'Max' else f', count_include_pad {int(count_pad)}'}) on {tuple(sizes)}: "
                      f"ONNX's output {want} is no size torch's pooling gives for these windows")


def _dilated_mean(op, n, kernel, stride, dilation, begin, end, ceil, count_pad) -> list:
    """AveragePool with dilations (torch's average pooling has none): the window's sum as a depthwise Conv of
    ones with the dilation (zero padding in front, to ONNX's last window), divided by the window's size or, with
    count_include_pad=0, by its input elements -- a constant the Mul layer holds."""
    shape = op.shape(op.input(0))
    if shape is None or any(not isinstance(d, int) for d in shape[1:]):
        raise Unsupported("AveragePool with dilations on an input whose channels and sizes are not known")
    channels, sizes = shape[1], shape[2:]
    want = tuple(runtime_size(sizes[k], begin[k], end[k], kernel[k], stride[k], dilation[k], ceil) for k in range(n))
    span = [dilation[k] * (kernel[k] - 1) + 1 for k in range(n)]
    extra = tuple(max(end[k], (want[k] - 1) * stride[k] + span[k] - sizes[k] - begin[k]) for k in range(n))
    counts = np.ones((1, 1), np.float64)
    for k in range(n):
        taps = np.arange(want[k])[:, None] * stride[k] - begin[k] + np.arange(kernel[k])[None, :] * dilation[k]
        inside = ((taps >= 0) & (taps < sizes[k])).sum(axis=1)
        if not count_pad and (inside == 0).any():
            raise Unsupported(f"{op.node.op_type}: a window of padding only (ONNX's mean of nothing)")
        # counting the padding: ONNX counts the taps inside the padded input (not a ceil overhang past it)
        padded = ((taps >= -begin[k]) & (taps < sizes[k] + end[k])).sum(axis=1)
        counts = counts[..., None] * (padded if count_pad else inside)
    out = op.node.output[0]
    weight = np.ones((channels, 1, *kernel), np.float32)
    conv = Layer(f"Conv{n}d", {"out_channels": channels, "kernel": _one(kernel), "stride": _one(stride),
                               "padding": 0, "groups": channels, "dilation": _one(dilation), "bias": False},
                 outputs=[f"{out}#window_sum"], weights={"weight": weight},
                 pad_first=_pad(begin, extra, "Avg") if any(begin) or any(extra) else None)
    factor = (1.0 / counts).astype(np.float32)
    return [conv, Layer("Mul", {"shape": tuple(int(d) for d in factor.shape)}, inputs=[f"{out}#window_sum"],
                        outputs=[out], weights={"": factor})]


def _mean_over_input(op, n, sizes, want, kernel, stride, begin, end) -> list:
    """A mean over the input's elements in each window only (count_include_pad=0) that no torch padding gives:
    zero padding in front (a Pad layer, to ONNX's last window), a mean counting it, times window size / the
    count of input elements in that window -- a constant [1, 1, *out] the Mul layer holds."""
    extra = tuple(max(end[k], (want[k] - 1) * stride[k] + kernel[k] - sizes[k] - begin[k]) for k in range(n))
    counts = np.ones((1, 1), np.float64)
    for k in range(n):
        starts = np.arange(want[k]) * stride[k] - begin[k]
        inside = np.minimum(starts + kernel[k], sizes[k]) - np.maximum(starts, 0)
        if (inside <= 0).any():
            raise Unsupported(f"{op.node.op_type}: a window of padding only (ONNX's mean of nothing)")
        counts = counts[..., None] * inside
    factor = (math.prod(kernel) / counts).astype(np.float32)
    out = op.node.output[0]
    pool = _layer("Avg", n, kernel, stride, (1,) * n, (0,) * n, False, True, _pad(begin, extra, "Avg"))
    pool.outputs = [f"{out}#with_padding"]
    return [pool, Layer("Mul", {"shape": tuple(int(d) for d in factor.shape)}, inputs=[f"{out}#with_padding"],
                        outputs=[out], weights={"": factor})]


def _symbolic(kind, n, kernel, stride, dilation, begin, end, ceil, count_pad) -> Layer:
    """Sizes unknown: the node's form as it is, where torch can take it."""
    half = all(b <= k // 2 for b, k in zip(begin, kernel))
    if begin == end and half:
        return _layer(kind, n, kernel, stride, dilation, begin, ceil, count_pad)
    if (kind == "Max" or count_pad) and not ceil:
        return _layer(kind, n, kernel, stride, dilation, (0,) * n, False, True, _pad(begin, end, kind))
    raise Unsupported("pooling with padding torch cannot take, on an input of unknown size")


def _pad(begin, end, kind: str) -> dict:
    order = []
    for k in reversed(range(len(begin))):  # the Pad layer's pads: last dim first, (before, after) each
        order += [begin[k], end[k]]
    return {"pads": tuple(order), "mode": "constant", "value": -math.inf if kind == "Max" else 0.0}


def _layer(kind, n, kernel, stride, dilation, padding, ceil, count_pad, pad_first=None) -> Layer:
    params = {"kernel": _one(kernel), "stride": None if stride == kernel else _one(stride), "padding": _one(padding),
              "ceil_mode": bool(ceil)}
    if kind == "Max":
        params["dilation"] = _one(dilation)
    else:
        params["count_include_pad"] = bool(count_pad)
    return Layer(f"{kind}Pool{n}d", params, pad_first=pad_first)


def lp_pool(op) -> list:
    """LpPool: (sum over the window of |x|^p)^(1/p) -- Abs and Pow (x * x for p = 2), the average pooling of the
    node's windows counting the padding (pool_layer: its padding rules), Mul by the window's size k, Pow(1 / p)
    (Sqrt for 2)."""
    import dataclasses

    p = int(op.attrs.get("p", 2))
    if p < 1:
        raise Unsupported(f"LpPool with p={p}")
    if (op.dtype(op.input(0)) or "f32") != "f32":
        raise Unsupported("LpPool of other than float32")
    x, out = op.input(0), op.node.output[0]
    kernel = _ints(op.attrs.get("kernel_shape", ()))
    if not kernel:
        raise Unsupported("LpPool without kernel_shape")
    powered = [Layer("Mul", {}, inputs=[x, x], outputs=[f"{out}#pow"])] if p == 2 else \
        [Layer("Abs", inputs=[x], outputs=[f"{out}#abs"]),
         *([] if p == 1 else [Layer("Pow", {"exponent": float(p)}, inputs=[f"{out}#abs"], outputs=[f"{out}#pow"])])]
    # the sum over the window: zero padding adds nothing, so an average counting the padding, times k -- or
    # with dilations the depthwise Conv of ones that sums the window (_dilated_mean's first layer)
    attrs = {**{k: v for k, v in op.attrs.items() if k != "p"}, "count_include_pad": 1}
    pool = pool_layer(dataclasses.replace(op, attrs=attrs))
    dilated = isinstance(pool, list)
    pool = pool[0] if dilated else pool
    pool.inputs, pool.outputs = [powered[-1].outputs[0]], [f"{out}#sum" if dilated else f"{out}#mean"]
    size = math.prod(kernel)
    root = [Layer("Sqrt", inputs=[f"{out}#sum"], outputs=[out])] if p == 2 else \
        [Layer("Identity", inputs=[f"{out}#sum"], outputs=[out])] if p == 1 else \
        [Layer("Pow", {"exponent": 1.0 / p}, inputs=[f"{out}#sum"], outputs=[out])]
    scaled = [] if dilated else [Layer("Mul", {"value": size}, inputs=[f"{out}#mean"], outputs=[f"{out}#sum"])]
    return [*powered, pool, *scaled, *root]


def transpose_padding(op, n: int, kernel: tuple) -> tuple:
    """(padding, output_padding) for ONNX's output_shape / auto_pad SAME: its total padding split as ONNX does
    (the odd pixel at the beginning, SAME_UPPER's at the end), as torch's padding p = the beginning's on both
    sides with output_padding giving back what the end has less (and ONNX's own output_padding)."""
    sizes = (op.shape(op.input(0)) or ())[2:]
    if len(sizes) != n or any(not isinstance(d, int) for d in sizes):
        raise Unsupported("ConvTranspose with output_shape or auto_pad SAME on an input of unknown size")
    stride = _ints(op.attrs.get("strides", (1,) * n))
    dilation = _ints(op.attrs.get("dilations", (1,) * n))
    extra = _ints(op.attrs.get("output_padding", (0,) * n))
    wanted = _ints(op.attrs["output_shape"])[-n:] if "output_shape" in op.attrs else \
        tuple(d * s for d, s in zip(sizes, stride))
    upper = op.attrs.get("auto_pad", "NOTSET") == "SAME_UPPER"
    padding, output_padding = [], []
    for size, k, s, d, e, out in zip(sizes, kernel, stride, dilation, extra, wanted):
        total = s * (size - 1) + e + (k - 1) * d + 1 - out
        begin = total // 2 if upper else total - total // 2
        extra_end = e + begin - (total - begin)  # torch: padding p both sides, output_padding adds at the end
        if begin < 0 or not 0 <= extra_end < max(s, d):
            raise Unsupported(f"ConvTranspose to {tuple(wanted)}: pads ({begin}, {total - begin}) with output_padding "
                              f"{e} are no torch padding / output_padding")
        padding.append(begin)
        output_padding.append(extra_end)
    return _one(padding), tuple(output_padding)
