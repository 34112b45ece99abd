"""Dense, normalisation, activation, merge and shape layers."""

from __future__ import annotations

import numpy as np

from ..emit import Val, contiguous
from ..mapping import NotExpressible, keras_layer, keras_weights
from .constants import constant_layer

# ---- dense ------------------------------------------------------------------------------------------


@keras_layer("Linear")
def linear(b):
    a = b.a
    if b.t.rank < 2:
        raise NotExpressible("Linear on an unbatched vector: Keras layers need a batch axis")
    v = b.val()
    fix = None
    if v.flat is not None:  # flattened channels-last: permute the weight's input rows to the stored order
        shape, perm = v.flat
        order = np.arange(int(np.prod(shape))).reshape(shape).transpose([p - 1 for p in perm[1:]]).ravel()

        def fix(values):  # rows gathered from a contiguous kernel: on the transposed view it took 2.6 s (VGG16)
            return [contiguous(values[0])[order], *values[1:]]
        x = v.t
    else:
        x = b.ir()
    layer = b.layer(b.L.Dense, units=a["out_features"], use_bias=bool(a["bias"]))
    y = layer(x)
    b.weighted(layer, ["kernel", "bias"] if a["bias"] else ["kernel"], fix)
    return Val(y)


@keras_weights("Linear")
def linear_weights(node, w):
    out = {"kernel": w["weight"].T}
    if "bias" in w:
        out["bias"] = w["bias"]
    return out


@keras_layer("Embedding")
def embedding(b):
    a = b.a
    if a["max_norm"] is not None:
        raise NotExpressible("Embedding max_norm renormalises rows as they are read: no Keras form")
    if b.t.rank < 1:
        raise NotExpressible("Embedding of a scalar")
    layer = b.layer(b.L.Embedding, input_dim=a["num_embeddings"], output_dim=a["embedding_dim"])
    y = layer(b.ir())
    b.weighted(layer, ["embeddings"])
    return Val(y)


@keras_weights("Embedding")
def embedding_weights(node, w):
    return {"embeddings": w["weight"]}


# ---- normalisation ----------------------------------------------------------------------------------


def keras_momentum(momentum) -> float:
    """Keras's moving-average weight of the old statistic. torch's momentum none (a cumulative average) has no
    Keras form; it only changes how training updates the statistics, so Keras's default 0.99 stands in."""
    return 0.99 if momentum is None else 1.0 - float(momentum)


@keras_layer("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
def batch_norm(b):
    a = b.a
    if not a["track_running_stats"]:
        raise NotExpressible("BatchNorm without running statistics normalises by the batch's in inference: "
                             "Keras uses moving statistics")
    if b.t.rank < 2:
        raise NotExpressible("BatchNorm on an unbatched input")
    x = b.cl() if b.t.rank > 2 else b.ir()
    axis = -1 if b.channels_last and b.t.rank > 2 else 1
    affine = bool(a["affine"])
    layer = b.layer(b.L.BatchNormalization, axis=axis, epsilon=float(a["eps"]),
                    momentum=keras_momentum(a["momentum"]), center=affine, scale=affine)
    y = layer(x)
    keys = (["gamma", "beta"] if affine else []) + ["moving_mean", "moving_variance"]
    b.weighted(layer, keys)
    return b.spatial_out(y) if b.t.rank > 2 else Val(y)


@keras_weights("BatchNorm1d", "BatchNorm2d", "BatchNorm3d")
def batch_norm_weights(node, w):
    out = {}
    if "weight" in w:
        out["gamma"], out["beta"] = w["weight"], w["bias"]
    if "running_mean" in w:
        out["moving_mean"], out["moving_variance"] = w["running_mean"], w["running_var"]
    return out


@keras_layer("LayerNorm")
def layer_norm(b):
    a = b.a
    k = len(a["normalized_shape"])
    affine = bool(a["elementwise_affine"])
    center = affine and bool(a["bias"])
    layer = b.layer(b.L.LayerNormalization, axis=list(range(-k, 0)) if k > 1 else -1, epsilon=float(a["eps"]),
                    center=center, scale=affine)
    y = layer(b.ir())
    b.weighted(layer, (["gamma"] if affine else []) + (["beta"] if center else []))
    return Val(y)


@keras_layer("RMSNorm")
def rms_norm(b):
    """Keras's RMSNormalization (a scale over the normalised axes): x * rsqrt(mean(x^2) + epsilon) * scale."""
    a = b.a
    k = len(a["normalized_shape"])
    axis = list(range(b.t.rank - k, b.t.rank))
    eps = a["eps"]
    if eps is None:
        eps = {"f16": 2.0 ** -10, "bf16": 2.0 ** -7, "f32": 2.0 ** -23, "f64": 2.0 ** -52}[b.t.dtype]
    if not a["elementwise_affine"]:
        return Val(b.ops.rms_normalization(b.ir(), axis=axis, epsilon=float(eps)))
    layer = b.layer(b.L.RMSNormalization, axis=axis, epsilon=float(eps))
    y = layer(b.ir())
    b.weighted(layer, ["scale"])
    return Val(y)


@keras_weights("RMSNorm")
def rms_norm_weights(node, w):
    return {"scale": w["weight"]}


@keras_layer("LayerNorm2d")
def layer_norm_2d(b):
    a = b.a
    affine = bool(a["elementwise_affine"])
    # channels-last in both layouts: Keras's LayerNormalization over axis 1 fails on the torch backend
    perm = (0, *range(2, b.t.rank), 1)
    v = b.val()
    x = v.t if v.perm == perm and v.flat is None else b.em.permute(b.ir(), perm, b.name("to_cl"))
    layer = b.layer(b.L.LayerNormalization, axis=-1, epsilon=float(a["eps"]), center=affine, scale=affine)
    y = layer(x)
    b.weighted(layer, ["gamma", "beta"] if affine else [])
    return Val(y, perm)


@keras_weights("LayerNorm", "LayerNorm2d")
def layer_norm_weights(node, w):
    out = {}
    if "weight" in w:
        out["gamma"] = w["weight"]
    if "bias" in w:
        out["beta"] = w["bias"]
    return out


@keras_layer("LocalResponseNorm")
def local_response_norm(b):
    """torch: x / (k + alpha / size * sum of x^2 over `size` channels around)^beta, the window zero-padded
    (size // 2 before, (size - 1) // 2 after): shifted slices of the padded square, summed."""
    a = b.a
    if b.t.rank < 3:
        raise NotExpressible("LocalResponseNorm needs [N, C, ...]")
    x = b.cl()
    size = a["size"]
    if a.get("region") == "within":
        # Caffe's WITHIN_CHANNEL: the mean of x^2 over a centred size x size window, the zero padding counted
        # (Keras's "same" average pooling leaves padding out of the count: pad explicitly, then pool "valid").
        pad = (size - 1) // 2
        widths = [[0, 0]] + ([[pad, pad], [pad, pad], [0, 0]] if b.channels_last else [[0, 0], [pad, pad], [pad, pad]])
        sq = b.ops.pad(b.ops.square(x), widths)
        mean_sq = b.ops.average_pool(sq, size, strides=1, padding="valid",
                                     data_format="channels_last" if b.channels_last else "channels_first")
        div = b.ops.power(b.ops.add(b.ops.multiply(mean_sq, float(a["alpha"])), float(a["k"])), float(a["beta"]))
        return b.spatial_out(b.ops.divide(x, div))
    channels = b.known(b.t.shape[1], "the channel count")
    axis = b.t.rank - 1 if b.channels_last else 1
    widths = [[0, 0] for _ in range(b.t.rank)]
    widths[axis] = [size // 2, (size - 1) // 2]
    sq = b.ops.pad(b.ops.square(x), widths)
    total = None
    for j in range(size):
        index = [slice(None)] * b.t.rank
        index[axis] = slice(j, j + channels)
        part = sq[tuple(index)]
        total = part if total is None else b.ops.add(total, part)
    div = b.ops.power(b.ops.add(b.ops.multiply(total, float(a["alpha"]) / size), float(a["k"])), float(a["beta"]))
    return b.spatial_out(b.ops.divide(x, div))


@keras_layer("LayerScale")
def layer_scale(b):
    """x * gamma along one axis: a depthwise 1-wide convolution without bias over that axis, made the last."""
    a = b.a
    rank = b.t.rank
    axis = a["axis"] % rank
    if rank not in (3, 4) or axis not in (1, rank - 1):
        raise NotExpressible("LayerScale: Keras's per-channel scale (a 1-wide depthwise convolution) needs the "
                             "scaled axis to be the channels of a 3-D or 4-D input")
    if axis == 1:
        x, out = b.cl(), "spatial"
        fmt = b.data_format
    else:
        x, out, fmt = b.ir(), "plain", "channels_last"
    cls = b.L.DepthwiseConv1D if rank == 3 else b.L.DepthwiseConv2D
    layer = b.layer(cls, kernel_size=1, use_bias=False, data_format=fmt)
    y = layer(x)
    b.weighted(layer, ["kernel"])
    return b.spatial_out(y) if out == "spatial" else Val(y)


@keras_weights("LayerScale")
def layer_scale_weights(node, w):
    (gamma,) = w.values()
    rank = len(node.weights[0].shape) if hasattr(node.weights[0], "shape") else None
    del rank
    g = np.asarray(gamma).reshape(-1)
    spatial = 2 if node.attrs["axis"] % 4 == 1 and len(np.shape(gamma)) == 3 else 1
    return {"kernel": g.reshape((1,) * spatial + (g.size, 1))}


# ---- activations ------------------------------------------------------------------------------------

_ACTIVATIONS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "SiLU": "silu", "SELU": "selu", "Mish": "mish",
                "Softsign": "softsign", "Hardswish": "hard_swish", "Hardsigmoid": "hard_sigmoid"}


@keras_layer(*_ACTIVATIONS)
def activation(b):
    return b.same_as(b.layer(b.L.Activation, activation=_ACTIVATIONS[b.node.op])(b.val().t))


@keras_layer("ReLU", "ReLU6")
def relu(b):
    kw = {"max_value": 6.0} if b.node.op == "ReLU6" else {}
    return b.same_as(b.layer(b.L.ReLU, **kw)(b.val().t))


@keras_layer("LeakyReLU")
def leaky_relu(b):
    return b.same_as(b.layer(b.L.LeakyReLU, negative_slope=float(b.a["negative_slope"]))(b.val().t))


@keras_layer("ELU")
def elu(b):
    return b.same_as(b.layer(b.L.ELU, alpha=float(b.a["alpha"]))(b.val().t))


@keras_layer("GELU")
def gelu(b):
    approximate = b.a.get("approximate", "none") == "tanh"
    return b.same_as(b.ops.gelu(b.val().t, approximate=approximate))


@keras_layer("Hardtanh")
def hardtanh(b):
    return b.same_as(b.ops.clip(b.val().t, float(b.a["min_val"]), float(b.a["max_val"])))


@keras_layer("Softmax", "LogSoftmax")
def softmax(b):
    v = b.val()
    if v.flat is not None:
        x, axis, out = b.ir(), b.a["dim"] % b.t.rank, Val
    else:
        x, axis, out = v.t, b.axis(b.a["dim"]), b.same_as
    if b.node.op == "Softmax":
        return out(b.layer(b.L.Softmax, axis=axis)(x))
    return out(b.ops.log_softmax(x, axis=axis))


# ---- identities -------------------------------------------------------------------------------------


@keras_layer("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout")
def dropout(b):
    """Inference: identity (the PyTorch target's eval mode); Keras's Dropout keeps the training meaning for
    the elementwise forms. Channel-wise dropout is SpatialDropout (channels-last only in Keras 3)."""
    p = float(b.a["p"])
    if b.node.op == "AlphaDropout":
        return b.same_as(b.layer(b.L.AlphaDropout, rate=p)(b.val().t))
    if b.node.op == "Dropout":
        return b.same_as(b.layer(b.L.Dropout, rate=p)(b.val().t))
    return b.same_as(b.layer(b.L.Identity)(b.val().t))


@keras_layer("Identity", "StochasticDepth")
def identity(b):
    """StochasticDepth is the identity in inference (Keras has no such layer)."""
    return b.same_as(b.layer(b.L.Identity)(b.val().t))


# ---- merge ------------------------------------------------------------------------------------------

_MERGE = {"Add": "Add", "Mul": "Multiply", "Maximum": "Maximum", "Minimum": "Minimum", "Average": "Average"}


def _aligned(b) -> tuple:
    """The inputs stored alike: (tensors, Val factory). Same rank and layout: as stored; else the IR's order."""
    vals = b.vals
    ranks = {t.rank for t in b.types}
    if len(ranks) == 1 and all(v.flat is None for v in vals):
        first = vals[0].perm
        ts = [v.t if v.perm == first else b.em.permute(b.ir(i), first or tuple(range(b.types[i].rank)),
                                                          b.name(f"like{i}")) for i, v in enumerate(vals)]
        return ts, (lambda t: Val(t, first))
    return [b.ir(i) for i in range(len(vals))], Val


@keras_layer(*_MERGE, "Sub", "Div")
def merge(b):
    with_constant = constant_layer(b)  # the one-tensor form: a number or a tensor operand
    if with_constant is not None:
        return with_constant
    ts, out = _aligned(b)
    op = b.node.op
    shapes = {tuple(t.shape[1:]) for t in ts}
    if op in _MERGE and len(shapes) == 1 and len(ts) > 1:
        return out(b.layer(getattr(b.L, _MERGE[op]))(ts))
    if op == "Sub" and len(shapes) == 1:
        return out(b.layer(b.L.Subtract)(ts))
    fn = {"Add": b.ops.add, "Mul": b.ops.multiply, "Maximum": b.ops.maximum, "Minimum": b.ops.minimum,
          "Sub": b.ops.subtract, "Div": b.ops.divide, "Average": b.ops.add}[op]
    y = ts[0]
    for t in ts[1:]:
        y = fn(y, t)
    if op == "Average":
        y = b.ops.divide(y, float(len(ts)))
    return out(y)


@keras_layer("Concat")
def concat(b):
    ts, out = _aligned(b)
    if out is Val:
        axis = b.a["axis"] % b.t.rank
    else:
        axis = b.axis(b.a["axis"])
    return out(b.layer(b.L.Concatenate, axis=axis)(ts))


# ---- shape ------------------------------------------------------------------------------------------


@keras_layer("Flatten")
def flatten(b):
    a = b.a
    rank = b.t.rank
    start, end = a["start_dim"] % rank, a["end_dim"] % rank
    v = b.val()
    if start == 1 and end == rank - 1 and v.perm is not None and v.flat is None:
        shape = tuple(b.known(d, "a flattened size") for d in b.t.shape[1:])
        y = b.layer(b.L.Flatten, data_format="channels_last")(v.t)
        return Val(y, None, (shape, v.perm))
    x = b.ir()
    if start == 0:
        raise NotExpressible("Flatten into the batch axis: Keras layers keep the batch axis")
    if start == 1 and end == rank - 1:
        return Val(b.layer(b.L.Flatten, data_format="channels_last")(x))
    return Val(_reshape(b, x))


def _reshape(b, x):
    out = b.out_types[0].shape
    dims = [d if isinstance(d, int) else -1 for d in out[1:]]
    if dims.count(-1) > 1:
        raise NotExpressible("a reshape with more than one unknown size besides the batch")
    return b.layer(b.L.Reshape, target_shape=tuple(dims))(x)


@keras_layer("Reshape", "Squeeze", "Unsqueeze")
def reshape(b):
    if b.node.op == "Reshape" and b.a["batch"]:
        # keras.ops.reshape takes the whole shape: the batch may change (windows folded into it)
        return Val(b.ops.reshape(b.ir(), tuple(b.a["shape"])))
    if b.t.rank == 0 or b.out_types[0].rank == 0 or b.out_types[0].shape[0] != b.t.shape[0]:
        raise NotExpressible(f"{b.node.op} that changes the batch axis: Keras layers keep it")
    return Val(_reshape(b, b.ir()))


@keras_layer("Roll")
def roll(b):
    x = b.ir()
    for shift, dim in zip(b.a["shifts"], b.a["dims"]):
        x = b.ops.roll(x, shift, axis=dim % b.t.rank)
    return Val(x)


@keras_layer("Permute", "Transpose")
def permute(b):
    """No layer: the stored tensor is relabelled (its permutation composed); a later layer that needs another
    order gets one Permute."""
    rank = b.t.rank
    if b.node.op == "Permute":
        q = [d % rank for d in b.a["dims"]]
    else:
        q = list(range(rank))
        d0, d1 = b.a["dim0"] % rank, b.a["dim1"] % rank
        q[d0], q[d1] = q[d1], q[d0]
    v = b.val()
    t = b.ir() if v.flat is not None else v.t
    stored = list(v.perm) if v.perm is not None and v.flat is None else list(range(rank))
    qinv = list(np.argsort(q))
    perm = tuple(int(qinv[p]) for p in stored)
    if perm[0] != 0:
        raise NotExpressible(f"{b.node.op} of the batch axis: Keras layers keep it first")
    return Val(t, None if list(perm) == list(range(rank)) else perm)


@keras_layer("GatherElements")
def gather_elements(b):
    axis = b.a["axis"] % b.t.rank
    x, index = b.ir(0), b.ir(1)
    index = b.ops.where(index < 0, index + b.ops.shape(x)[axis], index)
    return Val(b.ops.take_along_axis(x, b.ops.cast(index, "int64"), axis=axis))


@keras_layer("Select")
def select(b):
    rank = b.t.rank
    axis = b.a["axis"] % rank
    if axis == 0:
        raise NotExpressible("Select on the batch axis: Keras layers keep it")
    v = b.val()
    t = b.ir() if v.flat is not None else v.t
    perm = v.perm if v.flat is None else None
    stored = axis if perm is None else perm.index(axis)
    index = [slice(None)] * rank
    index[stored] = int(b.a["index"])
    y = t[tuple(index)]
    if perm is None:
        return Val(y)
    rest = tuple(p - (p > axis) for p in perm if p != axis)
    return Val(y, None if list(rest) == list(range(rank - 1)) else rest)
