"""Normalisation layers, in inference (eval) form, as the PyTorch target runs them."""

from __future__ import annotations

from ..mapping import onnx_layer


def _affine_inputs(b, c, affine: bool, dtype: str):
    """(scale, bias) for ops that require both: the learned ones, or constants 1 and 0."""
    if affine:
        return b.weight("weight"), b.weight("bias")
    shape = list(c) if isinstance(c, tuple) else [c]
    size = 1
    for d in shape:
        size *= d
    return b.const([1.0] * size, dtype, shape), b.const([0.0] * size, dtype, shape)


def _normalize(b, x: str, axes, eps: float, dtype: str) -> str:
    """(x - mean) / sqrt(var + eps) over `axes` (biased variance), from primitive ops."""
    d = b.op("Sub", x, b.reduce("ReduceMean", x, axes))
    var = b.reduce("ReduceMean", b.op("Mul", d, d), axes)
    return b.op("Div", d, b.op("Sqrt", b.op("Add", var, b.scalar(eps, dtype))))


def _scale_shift(b, y: str, rank: int, axis: int, weight, bias) -> str:
    if weight is not None:
        y = b.op("Mul", y, b.channel_view(weight, rank, axis))
    if bias is not None:
        y = b.op("Add", y, b.channel_view(bias, rank, axis))
    return y


@onnx_layer("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
def batch_norm(b):
    """Running statistics: BatchNormalization. Without them torch normalises with the batch's own
    statistics even in eval mode, which is written out (mean and biased variance over all dims but 1)."""
    a = b.a
    c = b.known(b.t.shape[1], "channels")
    if a["track_running_stats"]:
        scale, shift = _affine_inputs(b, c, a["affine"], b.t.dtype)
        return b.op("BatchNormalization", b.x, scale, shift, b.weight("running_mean"), b.weight("running_var"),
                    epsilon=a["eps"])
    rank = b.t.rank
    y = _normalize(b, b.x, [0, *range(2, rank)], a["eps"], b.t.dtype)
    if a["affine"]:
        y = _scale_shift(b, y, rank, 1, b.weight("weight"), b.weight("bias"))
    return y


@onnx_layer("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
def instance_norm(b):
    """InstanceNormalization; with track_running_stats torch uses the running statistics in eval mode,
    which is BatchNormalization. An unbatched input gets a batch dim of 1 and loses it again."""
    a = b.a
    n = int(b.node.op[-2])
    x = b.x
    unbatched = b.t.rank == n + 1
    if unbatched:
        x = b.unsqueeze(x, [0])
    c = b.known(b.t.shape[b.t.rank - n - 1], "channels")
    scale, shift = _affine_inputs(b, c, a["affine"], b.t.dtype)
    if a["track_running_stats"]:
        y = b.op("BatchNormalization", x, scale, shift, b.weight("running_mean"), b.weight("running_var"),
                 epsilon=a["eps"])
    else:
        y = b.op("InstanceNormalization", x, scale, shift, epsilon=a["eps"])
    return b.squeeze(y, [0]) if unbatched else y


@onnx_layer("LayerNorm")
def layer_norm_decomposed(b):
    a = b.a
    k = len(a["normalized_shape"])
    rank = b.t.rank
    y = _normalize(b, b.x, list(range(rank - k, rank)), a["eps"], b.t.dtype)
    if a["elementwise_affine"]:
        y = b.op("Mul", y, b.weight("weight"))
        if a["bias"]:
            y = b.op("Add", y, b.weight("bias"))
    return y


@onnx_layer("LayerNorm", since=17)
def layer_norm(b):
    a = b.a
    shape = tuple(a["normalized_shape"])
    if a["elementwise_affine"]:
        scale = b.weight("weight")
        shift = b.weight("bias") if a["bias"] else None
    else:
        scale, shift = _affine_inputs(b, shape, False, b.t.dtype)
    return b.op("LayerNormalization", b.x, scale, shift, axis=-len(shape), epsilon=a["eps"])


# torch.nn.RMSNorm's eps=None: the machine epsilon of the input's dtype
MACHINE_EPS = {"f16": 2.0 ** -10, "bf16": 2.0 ** -7, "f32": 2.0 ** -23, "f64": 2.0 ** -52}


def _rms_eps(b) -> float:
    eps = b.a["eps"]
    return MACHINE_EPS[b.t.dtype] if eps is None else float(eps)


@onnx_layer("RMSNorm")
def rms_norm_decomposed(b):
    """x / sqrt(mean(x * x) + eps) * weight over the trailing dims."""
    a = b.a
    k = len(a["normalized_shape"])
    rank = b.t.rank
    dtype = b.t.dtype
    mean_square = b.reduce("ReduceMean", b.op("Mul", b.x, b.x), list(range(rank - k, rank)))
    y = b.op("Div", b.x, b.op("Sqrt", b.op("Add", mean_square, b.scalar(_rms_eps(b), dtype))))
    return b.op("Mul", y, b.weight("weight")) if a["elementwise_affine"] else y


@onnx_layer("RMSNorm", since=23)
def rms_norm(b):
    a = b.a
    shape = tuple(a["normalized_shape"])
    if a["elementwise_affine"]:
        scale = b.weight("weight")
    else:
        size = 1
        for d in shape:
            size *= d
        scale = b.const([1.0] * size, b.t.dtype, list(shape))
    return b.op("RMSNormalization", b.x, scale, axis=-len(shape), epsilon=_rms_eps(b))


@onnx_layer("GroupNorm")
def group_norm_decomposed(b):
    """[N, C, ...] -> [N, G, C/G * ...], InstanceNormalization per group, back, then the per-channel affine."""
    a = b.a
    g = a["num_groups"]
    grouped = b.reshape(b.x, b.t, [("dim", 0), g, -1])
    ones, zeros = _affine_inputs(b, g, False, b.t.dtype)
    y = b.op("InstanceNormalization", grouped, ones, zeros, epsilon=a["eps"])
    y = b.op("Reshape", y, b.op("Shape", b.x))
    if a["affine"]:
        y = _scale_shift(b, y, b.t.rank, 1, b.weight("weight"), b.weight("bias"))
    return y


@onnx_layer("GroupNorm", since=21)
def group_norm(b):
    # GroupNormalization-18 took one scale per group; from 21 on it is per channel, as torch's.
    a = b.a
    c = b.known(b.t.shape[1], "channels")
    scale, shift = _affine_inputs(b, c, a["affine"], b.t.dtype)
    return b.op("GroupNormalization", b.x, scale, shift, num_groups=a["num_groups"], epsilon=a["eps"])


@onnx_layer("LocalResponseNorm")
def local_response_norm(b):
    """torch sums the squares over channels [c - size // 2, c + (size - 1) // 2]; ONNX's LRN over
    [c - (size - 1) // 2, c + size // 2]: the same window for odd sizes only. LRN is used for odd sizes
    (on a 4-D view, the rank runtimes implement), an explicit window sum for even ones."""
    a = b.a
    size = a["size"]
    rank = b.t.rank
    dtype = b.t.dtype
    if a.get("region") == "within":
        # Caffe's WITHIN_CHANNEL: the mean of x^2 over a centred size x size window, the padding counted.
        pad = (size - 1) // 2
        mean_sq = b.op("AveragePool", b.op("Mul", b.x, b.x), kernel_shape=[size, size], strides=[1, 1],
                       pads=[pad] * 4, count_include_pad=1)
        div = b.op("Add", b.scalar(a["k"], dtype), b.op("Mul", mean_sq, b.scalar(a["alpha"], dtype)))
        return b.op("Div", b.x, b.op("Pow", div, b.scalar(a["beta"], dtype)))
    if size % 2:
        x = b.x if rank == 4 else b.reshape(b.x, b.t, [("dim", 0), ("dim", 1), -1, 1])
        y = b.op("LRN", x, size=size, alpha=a["alpha"], beta=a["beta"], bias=a["k"])
        return y if rank == 4 else b.op("Reshape", y, b.op("Shape", b.x))
    c = b.known(b.t.shape[1], "channels")
    sq = b.op("Mul", b.x, b.x)
    zeros = [0] * rank
    before, after = list(zeros), list(zeros)
    before[1], after[1] = size // 2, (size - 1) // 2
    padded = b.pad(sq, before, after)
    total = None
    for i in range(size):
        part = b.slice(padded, [i], [i + c], [1])
        total = part if total is None else b.op("Add", total, part)
    div = b.op("Add", b.scalar(a["k"], dtype), b.op("Mul", total, b.scalar(a["alpha"] / size, dtype)))
    return b.op("Div", b.x, b.op("Pow", div, b.scalar(a["beta"], dtype)))
