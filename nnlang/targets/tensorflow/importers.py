"""TensorFlow ops -> registry layers: one small function per op type, registered by op name.

A function receives an `Op` (load.py: the node, its attributes, its inputs as IR values `V`, constants
or learned tensors `W`) and returns the op's outputs: IR values it emitted through `op.emit`, or numpy
arrays for shape arithmetic computed at import time. Layouts: TensorFlow's NHWC tensors are held NCHW in
the IR ("moved", as the Keras importer does); `op.x(i, moved)` brings an input to the layout a layer
needs, inserting a Permute only where a tensor is in the other one. A layer's bias that TensorFlow adds
with a separate BiasAdd is folded into it (`op.fold_bias`). Kernels are converted here to PyTorch's
layout (HWIO -> OIHW, MatMul's [in, out] -> Linear's [out, in]).
"""

from __future__ import annotations

import math

import numpy as np

from ..importing import Unsupported
from .values import V
from ..keras.importers import _same_pads
from ..registry import Registry

_REGISTRY = Registry("TensorFlow importer")
tf_op = _REGISTRY.decorator

# ops that only pass their input on at inference (Keras's Dropout at test time is an Identity)
PASS_THROUGH = frozenset(("Identity", "StopGradient", "Snapshot", "PreventGradient", "PlaceholderWithDefault"))
SPATIAL = frozenset(("Conv2D", "Conv3D", "DepthwiseConv2dNative", "MaxPool", "AvgPool", "MaxPool3D", "AvgPool3D",
                     "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "LRN", "Conv2DBackpropInput"))


def lookup(op_type: str):
    return _REGISTRY.get(op_type)


def names() -> list:
    return _REGISTRY.names()


def _nhwc(op) -> bool:
    fmt = op.attr("data_format", "NHWC")
    if fmt not in ("NHWC", "NDHWC", "NCHW", "NCDHW"):
        raise Unsupported(f"data_format {fmt!r}")
    return fmt in ("NHWC", "NDHWC")


def _spatial_attr(op, key: str, rank: int, default=1) -> tuple:
    """strides / ksize / dilations [1, h, w, 1] (NHWC) or [1, 1, h, w] (NCHW) -> (h, w)."""
    v = op.attr(key, [default] * rank)
    if len(v) != rank:
        raise Unsupported(f"{key}={v} for a rank-{rank} input")
    inner = v[1:-1] if _nhwc(op) else v[2:]
    outer = (v[0], v[-1]) if _nhwc(op) else (v[0], v[1])
    if outer != (1, 1):
        raise Unsupported(f"{key}={v}: a window or step across the batch or channel axis")
    return tuple(int(x) for x in inner)


def _f32(x) -> float:
    """A float32 attribute as the short decimal it was written as (0.001, not 0.0010000000474974513)."""
    return float(str(np.float32(x)))


def _one(v: tuple):
    return v[0] if v and all(x == v[0] for x in v) else tuple(v)


def _geometry(x_shape: tuple, nhwc: bool) -> tuple:
    return (tuple(x_shape[1:-1]), x_shape[-1]) if nhwc else (tuple(x_shape[2:]), x_shape[1])


def _with(shape: tuple, nhwc: bool, spatial: tuple, c) -> tuple:
    return (shape[0],) + tuple(spatial) + (c,) if nhwc else (shape[0], c) + tuple(spatial)


def _padding(op, spatial, kernel, stride, dilation, fill: float = 0.0):
    """(the layer's padding, params of a Pad in front or None, output spatial size) for TF's SAME / VALID."""
    mode = op.attr("padding", "VALID")
    if mode == "VALID":
        pads = [(0, 0)] * len(kernel)
    elif mode == "SAME":
        pads = [_same_pads(s, k, st, d) for s, k, st, d in zip(spatial, kernel, stride, dilation)]
        if any(p is None for p in pads):
            raise Unsupported("padding SAME on an input of unknown spatial size")
    else:
        raise Unsupported(f"padding {mode!r}")
    out = tuple((s + a + b - (k - 1) * d - 1) // st + 1
                for s, (a, b), k, st, d in zip(spatial, pads, kernel, stride, dilation))
    if all(a == b for a, b in pads):
        return _one(tuple(a for a, _ in pads)), None, out
    order = []
    for a, b in reversed(pads):
        order += [a, b]
    return 0, {"pads": tuple(order), "mode": "constant", "value": fill}, out


# ---- convolution --------------------------------------------------------------------------------

@tf_op("Conv2D", "Conv3D")
def conv(op):
    nhwc = _nhwc(op)
    x = op.x(0, nhwc)
    w = op.weight(1)
    n = len(x.shape) - 2
    if len(w.shape) != n + 2:
        raise Unsupported(f"a rank-{len(w.shape)} filter for a rank-{len(x.shape)} input")
    kernel, cin, cout = tuple(w.shape[:n]), w.shape[n], w.shape[n + 1]
    spatial, c = _geometry(x.shape, nhwc)
    if c is None or c % cin:
        raise Unsupported(f"{c} input channels for a filter taking {cin}")
    stride, dilation = _spatial_attr(op, "strides", n + 2), _spatial_attr(op, "dilations", n + 2)
    padding, pad_first, out = _padding(op, spatial, kernel, stride, dilation)
    bias = op.fold_bias(cout)
    weights = {}
    if w.value is not None:
        weights["weight"] = np.ascontiguousarray(np.moveaxis(w.value, (-1, -2), (0, 1)))
    if bias is not None and bias.value is not None:
        weights["bias"] = bias.value
    params = {"out_channels": int(cout), "kernel": _one(kernel), "stride": _one(stride), "padding": padding,
              "groups": c // cin, "dilation": _one(dilation), "bias": bias is not None}
    if pad_first:
        x = op.layer("Pad", pad_first, [x], _with(x.shape, nhwc, [s + p for s, p in _grown(spatial, pad_first)], c))
    return [op.layer(f"Conv{n}d", params, [x], _with(x.shape, nhwc, out, cout), weights, named=w)]


def _grown(spatial, pad) -> list:
    pairs = list(zip(pad["pads"][0::2], pad["pads"][1::2]))[::-1]
    return [(s, a + b) for s, (a, b) in zip(spatial, pairs)]


@tf_op("DepthwiseConv2dNative")
def depthwise(op):
    nhwc = _nhwc(op)
    x = op.x(0, nhwc)
    w = op.weight(1)  # (kh, kw, in, multiplier)
    if len(x.shape) != 4 or len(w.shape) != 4:
        raise Unsupported("a depthwise convolution of a rank-4 input by a rank-4 filter only")
    spatial, c = _geometry(x.shape, nhwc)
    kernel, cin, mult = tuple(w.shape[:2]), w.shape[2], w.shape[3]
    if c != cin:
        raise Unsupported(f"{c} input channels for a depthwise filter taking {cin}")
    stride, dilation = _spatial_attr(op, "strides", 4), _spatial_attr(op, "dilations", 4)
    padding, pad_first, out = _padding(op, spatial, kernel, stride, dilation)
    bias = op.fold_bias(cin * mult)
    weights = {}
    if w.value is not None:  # (kh, kw, in, mult) -> (in * mult, 1, kh, kw): output channel i * mult + m
        weights["weight"] = np.ascontiguousarray(w.value.reshape(kernel + (cin * mult,)).transpose(2, 0, 1)[:, None])
    if bias is not None and bias.value is not None:
        weights["bias"] = bias.value
    params = {"out_channels": int(cin * mult), "kernel": _one(kernel), "stride": _one(stride), "padding": padding,
              "groups": int(cin), "dilation": _one(dilation), "bias": bias is not None}
    if pad_first:
        x = op.layer("Pad", pad_first, [x], _with(x.shape, nhwc, [s + p for s, p in _grown(spatial, pad_first)], c))
    return [op.layer("Conv2d", params, [x], _with(x.shape, nhwc, out, cin * mult), weights, named=w)]


@tf_op("Conv2DBackpropInput")
def conv_transpose(op):
    """A transposed convolution: inputs (output shape, filter [kh, kw, out, in], x)."""
    nhwc = _nhwc(op)
    x = op.x(2, nhwc)
    w = op.weight(1)
    target = op.const(0)
    if target is None or target.shape != (4,):
        raise Unsupported("an output shape that is not known when importing")
    spatial, c = _geometry(x.shape, nhwc)
    kernel, cout, cin = tuple(w.shape[:2]), w.shape[2], w.shape[3]
    if c != cin:
        raise Unsupported(f"{c} input channels for a filter taking {cin}")
    want = tuple(int(d) for d in (target[1:3] if nhwc else target[2:]))
    stride, dilation = _spatial_attr(op, "strides", 4), _spatial_attr(op, "dilations", 4)
    if dilation != (1, 1):
        raise Unsupported("a dilated transposed convolution")
    same = op.attr("padding", "VALID") == "SAME"
    padding, output_padding, crops = [], [], []
    for i, o, k, s in zip(spatial, want, kernel, stride):
        if i != (-(-o // s) if same else (o - k) // s + 1):
            raise Unsupported(f"output size {o} for input size {i}, kernel {k}, stride {s}")
        full = (i - 1) * s + k  # TF computes the full transposed result, then keeps [before, before + o)
        before = max(full - o, 0) // 2 if same else 0
        extra = max(o - (full - 2 * before), 0)  # rows past the full result (zeros + bias): output_padding
        padding.append(before)
        output_padding.append(extra)
        crops.append(full - 2 * before + extra - o)  # torch keeps [before, full - before): one more if odd
    bias = op.fold_bias(cout)
    weights = {}
    if w.value is not None:  # (kh, kw, out, in) -> torch (in, out, kh, kw)
        weights["weight"] = np.ascontiguousarray(w.value.transpose(3, 2, 0, 1))
    if bias is not None and bias.value is not None:
        weights["bias"] = bias.value
    params = {"out_channels": int(cout), "kernel": _one(kernel), "stride": _one(stride), "padding": _one(padding),
              "output_padding": _one(output_padding), "bias": bias is not None}
    big = tuple(o + c for o, c in zip(want, crops))
    y = op.layer("ConvTranspose2d", params, [x], _with(x.shape, nhwc, big, cout), weights, named=w)
    for axis, (o, c) in enumerate(zip(want, crops)):
        if c:  # TF's odd SAME padding crops the last row: a Slice of what torch's symmetric padding leaves
            shape = y.shape[:1 + axis] + (o,) + y.shape[2 + axis:] if nhwc else y.shape[:2 + axis] + (o,) + \
                y.shape[3 + axis:]
            y = op.layer("Slice", {"axis": axis + 2, "start": 0, "end": o}, [y], shape)
    return [y]


# ---- pooling, normalisation ---------------------------------------------------------------------

@tf_op("MaxPool", "AvgPool", "MaxPool3D", "AvgPool3D")
def pool(op):
    nhwc = _nhwc(op)
    x = op.x(0, nhwc)
    n = len(x.shape) - 2
    kind = "Max" if op.type.startswith("Max") else "Avg"
    size, stride = _spatial_attr(op, "ksize", n + 2), _spatial_attr(op, "strides", n + 2)
    spatial, c = _geometry(x.shape, nhwc)
    padding, pad_first, out = _padding(op, spatial, size, stride, (1,) * n, -math.inf if kind == "Max" else 0.0)
    params = {"kernel": _one(size), "stride": None if stride == size else _one(stride), "padding": padding}
    if kind == "Avg":
        if pad_first is not None:
            raise Unsupported("average pooling with padding SAME that pads one side more than the other")
        params["count_include_pad"] = False  # TF averages over the window's real elements only
    if any(2 * p > k for p, k in zip(padding if isinstance(padding, tuple) else (padding,) * n, size)):
        raise Unsupported("pooling with padding SAME wider than half the window")
    if pad_first:
        x = op.layer("Pad", pad_first, [x], _with(x.shape, nhwc, [s + p for s, p in _grown(spatial, pad_first)], c))
    return [op.layer(f"{kind}Pool{n}d", params, [x], _with(x.shape, nhwc, out, c))]


@tf_op("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def fused_batch_norm(op):
    nhwc = _nhwc(op)
    x = op.x(0, nhwc)
    _, c = _geometry(x.shape, nhwc)
    scale, offset = op.weight(1), op.weight(2)
    mean, var = op.weight(3), op.weight(4)
    if op.attr("is_training", False) or not mean.shape or mean.shape == (0,):
        # a training graph normalises by the batch's statistics; inference uses the moving ones
        mean, var = op.moving("moving_mean"), op.moving("moving_variance")
        op.note("batch statistics of training replaced by the moving averages (inference)")
    return [_batch_norm(op, x, c, scale, offset, mean, var, float(op.attr("epsilon", 1e-4)))]


def _batch_norm(op, x, c, scale, offset, mean, var, eps):
    if any(t is not None and t.shape != (c,) for t in (scale, offset, mean, var)):
        raise Unsupported(f"batch-norm parameters that are not {c} values (one per channel)")
    weights = {}
    for key, t, fill in (("weight", scale, 1.0), ("bias", offset, 0.0), ("running_mean", mean, 0.0),
                         ("running_var", var, 1.0)):
        if t is not None and t.value is not None:
            weights[key] = t.value
        elif t is None:
            weights[key] = np.full(c, fill, np.float32)
    rank = len(x.shape)
    if rank > 5:
        raise Unsupported("batch norm of a rank > 5 input")
    name = next((t for t in (offset, scale, mean) if t is not None), None)
    return op.layer(f"BatchNorm{max(rank - 2, 1)}d", {"eps": _f32(eps)}, [x], x.shape, weights, named=name)


@tf_op("LRN")
def lrn(op):
    x = op.x(0, True)
    r = int(op.attr("depth_radius", 5))
    size = 2 * r + 1  # torch divides alpha by the window size; TF does not
    params = {"size": size, "alpha": _f32(op.attr("alpha", 1.0)) * size, "beta": _f32(op.attr("beta", 0.5)),
              "k": _f32(op.attr("bias", 1.0))}
    return [op.layer("LocalResponseNorm", params, [x], x.shape)]


# ---- dense ----------------------------------------------------------------------------------------

@tf_op("MatMul")
def matmul(op):
    x = op.x(0, False)
    w = op.weight(1)
    if len(x.shape) != 2 or len(w.shape) != 2 or op.attr("transpose_a", False):
        raise Unsupported("MatMul of a [batch, features] input by a [in, out] weight only")
    cin, cout = w.shape[::-1] if op.attr("transpose_b", False) else w.shape
    if x.shape[1] != cin:
        raise Unsupported(f"{x.shape[1]} features for a weight taking {cin}")
    bias = op.fold_bias(cout)
    weights = {}
    if w.value is not None:
        weights["weight"] = np.ascontiguousarray(w.value if op.attr("transpose_b", False) else w.value.T)
        if x.rows is not None:  # a flatten of a moved tensor: the transpose folded into the weights
            weights["weight"] = np.ascontiguousarray(weights["weight"][:, x.rows])
    if bias is not None and bias.value is not None:
        weights["bias"] = bias.value
    params = {"out_features": int(cout), "bias": bias is not None}
    return [op.layer("Linear", params, [x], (x.shape[0], cout), weights, named=w)]


# ---- activations and element-wise ------------------------------------------------------------------

_ACTIVATIONS = {"Relu": "ReLU", "Relu6": "ReLU6", "Elu": "ELU", "Sigmoid": "Sigmoid", "Tanh": "Tanh",
                "Selu": "SELU", "Softplus": "Softplus", "Softsign": "Softsign"}


@tf_op(*_ACTIVATIONS)
def activation(op):
    x = op.x(0)
    return [op.layer(_ACTIVATIONS[op.type], {}, [x], x.shape)]


@tf_op("LeakyRelu")
def leaky_relu(op):
    x = op.x(0)
    return [op.layer("LeakyReLU", {"negative_slope": _f32(op.attr("alpha", 0.2))}, [x], x.shape)]


@tf_op("Softmax")
def softmax(op):
    x = op.x(0)
    return [op.layer("Softmax", {"dim": 1 if x.moved else -1}, [x], x.shape)]


@tf_op("Maximum")
def maximum(op):
    return _binary(op, "Maximum")  # max(a * x, x) is a leaky ReLU: load.py's patterns see to that one


def _binary(op, layer: str):
    a, b = op.x(0), op.x(1)
    if a.shape != b.shape:
        raise Unsupported(f"{op.type} of tensors of different shapes {a.shape} and {b.shape} (broadcasting)")
    b = op.ensure(b, a.moved)
    return [op.layer(layer, {}, [a, b], a.shape)]


@tf_op("BiasAdd", "BiasAddV1")
def bias_add(op):
    """A BiasAdd no Conv / MatMul could take in (those fold theirs): a constant bias is a Scale by 1."""
    if op.const(1) is None:
        raise Unsupported("a BiasAdd of a learned bias that follows no convolution or MatMul to fold it into "
                          "(.nns has no bias-only layer)")
    x = op.x(0)
    if len(x.shape) > 2 and not _nhwc(op):
        raise Unsupported("a BiasAdd NCHW of a constant")
    return arithmetic(op)


@tf_op("Add", "AddV2", "Sub", "Mul")
def arithmetic(op):
    consts = [op.const(i) for i in (0, 1)]
    if consts[0] is None and consts[1] is None:
        return _binary(op, {"Add": "Add", "AddV2": "Add", "Sub": "Sub", "Mul": "Mul"}[op.type])
    k = 0 if consts[0] is None else 1  # the tensor operand; the other is the constant
    x, c = op.x(k), consts[1 - k].astype(np.float32)
    channels = x.shape[-1]
    if c.size not in (1, channels) or (c.size > 1 and c.shape[-1] != channels):
        raise Unsupported(f"{op.type} by a constant of shape {list(c.shape)}: one value, or one per channel "
                          f"(last axis, {channels}) only")
    c = np.broadcast_to(c.reshape(-1), (channels,)).astype(np.float32)
    if op.type == "Mul":
        scale, shift = c, np.zeros_like(c)
    elif op.type.startswith("BiasAdd"):
        scale, shift = np.ones_like(c), c
    elif op.type == "Sub":
        scale, shift = (np.ones_like(c), -c) if k == 0 else (-np.ones_like(c), c)
    else:
        scale, shift = np.ones_like(c), c
    if op.type == "Mul":  # x * a + b: one Scale
        follow = op.fold_constant_add(channels)
        if follow is not None:
            shift = follow
    axis = 1 if x.moved or len(x.shape) == 2 else -1
    return [op.layer("Scale", {"bias": True, "axis": axis}, [x], x.shape, {"weight": scale, "bias": shift})]


# ---- shape --------------------------------------------------------------------------------------------

@tf_op("Concat", "ConcatV2")
def concat(op):
    axis_at = 0 if op.type == "Concat" else len(op.inputs) - 1
    axis = op.const(axis_at)
    if axis is None or axis.size != 1:
        raise Unsupported("a concatenation axis that is not a constant")
    parts = [op.x(i) for i in range(len(op.inputs)) if i != axis_at]
    rank = len(parts[0].shape)
    axis = int(axis.ravel()[0]) % rank
    moved = parts[0].moved
    parts = [op.ensure(p, moved) for p in parts]
    if any(len(p.shape) != rank for p in parts):
        raise Unsupported("a concatenation of tensors of different ranks")
    size = None if any(p.shape[axis] is None for p in parts) else sum(p.shape[axis] for p in parts)
    shape = parts[0].shape[:axis] + (size,) + parts[0].shape[axis + 1:]
    ir_axis = (1 if axis == rank - 1 else axis + 1) if moved and axis else axis
    if len(parts) == 1:
        return [parts[0]]
    return [op.layer("Concat", {"axis": ir_axis}, parts, shape)]


@tf_op("Reshape")
def reshape(op):
    x = op.x(0)
    target = op.const(1)
    if target is None:
        raise Unsupported("a target shape that is not known when importing")
    target = [int(d) for d in target.ravel()]
    known = x.shape[1:]
    if None in known:
        raise Unsupported(f"a reshape of a tensor of unknown size {x.shape}")
    total = int(np.prod(known)) if known else 1
    if not target or target[0] not in op.batch_sizes:
        raise Unsupported(f"a reshape to {target} that does not keep the batch axis first")
    rest = target[1:]
    if any(d < -1 or d == op.batch for d in rest) or rest.count(-1) > 1:
        raise Unsupported(f"a reshape to {target}")
    if -1 in rest:
        fixed = int(np.prod([d for d in rest if d != -1])) if len(rest) > 1 else 1
        if not fixed or total % fixed:
            raise Unsupported(f"a reshape of {x.shape} to {target}")
        rest[rest.index(-1)] = total // fixed
    if int(np.prod(rest)) != total:
        raise Unsupported(f"a reshape of {x.shape} to {target}: {total} elements per sample, not {int(np.prod(rest))}")
    shape = (x.shape[0],) + tuple(rest)
    if tuple(rest) == tuple(known):
        return [x]
    if len(rest) == 1 and x.moved and all(d == 1 for d in x.shape[1:-1]):
        return [op.layer("Flatten", {}, [x], shape)]  # 1 x 1 maps: (C, 1, 1) and (1, 1, C) flatten alike
    if len(rest) == 1 and x.moved and op.only_matmul():
        return [op.flatten_into_linear(x, shape)]
    if len(x.shape) == 2 and len(rest) in (3, 4) and all(d == 1 for d in rest[:-1]):
        # [N, C] -> [N, 1, 1, C] (tf.contrib's batch norm of features): the same order as [N, C, 1, 1], so
        # the result is taken moved, as the NHWC layers reading it need, with no Permute
        y = op.layer("Reshape", {"shape": (rest[-1],) + tuple(rest[:-1])}, [x], shape)
        return [V(y.tid, shape, True)]
    x = op.ensure(x, False)
    if len(rest) == 1:
        return [op.layer("Flatten", {}, [x], shape)]
    return [op.layer("Reshape", {"shape": tuple(rest)}, [x], shape)]


@tf_op("Squeeze")
def squeeze(op):
    x = op.x(0)
    rank = len(x.shape)
    dims = op.attr("squeeze_dims", []) or [i for i, d in enumerate(x.shape) if d == 1]
    dims = sorted({int(d) % rank for d in dims})
    if not dims or 0 in dims or any(x.shape[d] != 1 for d in dims):
        raise Unsupported(f"a squeeze of dims {dims} of {x.shape}")
    shape = tuple(d for i, d in enumerate(x.shape) if i not in dims)
    if x.moved and set(dims) == set(range(1, rank - 1)):  # spatial 1s of a moved tensor: [N, C] either way
        return [op.layer("Squeeze", {"dim": tuple(range(2, rank))}, [x], shape)]
    x = op.ensure(x, False)
    return [op.layer("Squeeze", {"dim": tuple(dims) if len(dims) > 1 else dims[0]}, [x], shape)]


@tf_op("Mean")
def mean(op):
    x = op.x(0)
    axes = op.const(1)
    if axes is None:
        raise Unsupported("reduction axes that are not known when importing")
    rank = len(x.shape)
    axes = sorted({int(a) % rank for a in axes.ravel()})
    if 0 in axes:
        raise Unsupported("a mean over the batch axis")
    keep = bool(op.attr("keep_dims", False))
    shape = tuple((1 if i in axes else d) for i, d in enumerate(x.shape)) if keep else \
        tuple(d for i, d in enumerate(x.shape) if i not in axes)
    if x.moved:
        ir = sorted(1 if a == rank - 1 else a + 1 for a in axes)
        if keep or axes == list(range(1, rank - 1)):  # global pooling: [N, C] in both layouts
            out = op.layer("Mean", {"axis": tuple(ir), "keepdims": keep}, [x], shape)
            return [out]  # rank 2 when not kept: plain
        x = op.ensure(x, False)
    return [op.layer("Mean", {"axis": tuple(axes), "keepdims": keep}, [x], shape)]


@tf_op("Pad", "PadV2", "MirrorPad")
def pad(op):
    x = op.x(0)
    pads = op.const(1)
    rank = len(x.shape)
    if pads is None or pads.shape != (rank, 2):
        raise Unsupported("paddings that are not a constant [rank, 2] table")
    value = 0.0
    if op.type == "PadV2":
        v = op.const(2)
        value = float(v.ravel()[0]) if v is not None and v.size == 1 else None
        if value is None:
            raise Unsupported("a padding value that is not one constant")
    mode = {"Pad": "constant", "PadV2": "constant", "MirrorPad": {"REFLECT": "reflect"}.get(op.attr("mode"))}
    if mode[op.type] is None:
        raise Unsupported(f"MirrorPad mode {op.attr('mode')!r}")
    pads = [(int(a), int(b)) for a, b in pads]
    if pads[0] != (0, 0):
        raise Unsupported("padding along the batch axis")
    if x.moved and pads[-1] == (0, 0):
        spatial = pads[1:-1]
    else:
        x = op.ensure(x, False)
        spatial = pads[1:]
    order = []
    for a, b in reversed(spatial):
        order += [a, b]
    shape = tuple(None if d is None else d + a + b for d, (a, b) in zip(x.shape, pads))
    return [op.layer("Pad", {"pads": tuple(order), "mode": mode[op.type], "value": value}, [x], shape)]


@tf_op("_BatchNormMoments")
def batch_norm_moments(op):
    """tf.layers' batch norm written out (`S/batchnorm/add_1`): y = x * gamma * rsqrt(var + eps) + beta - ...;
    load.py hands over its data input. Inference uses the moving statistics."""
    x = op.x(0)
    c = x.shape[-1]
    if len(x.shape) > 2:
        x = op.ensure(x, True)
    eps = op.variable(op.node.name.rpartition("/")[0] + "/add/y")
    scope = op.node.name[:-len("/batchnorm/add_1")]
    gamma, beta = op.variable(f"{scope}/gamma"), op.variable(f"{scope}/beta")
    mean, var = op.variable(f"{scope}/moving_mean"), op.variable(f"{scope}/moving_variance")
    if mean is None or var is None:
        raise Unsupported(f"batch norm without {scope}/moving_mean and moving_variance")
    if op.node.name and op.c.nodes.get(f"{scope}/moments/mean") is not None:
        op.note("batch statistics of training replaced by the moving averages (inference)")
    eps = float(eps.value.ravel()[0]) if eps is not None and eps.value is not None else 1e-3
    return [_batch_norm(op, x, c, gamma, beta, mean, var, eps)]
