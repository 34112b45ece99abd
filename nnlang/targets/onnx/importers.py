"""ONNX ops -> registry layers: one small function per op, registered by (op_type, since_version).

The newest entry whose `since` is <= the model's opset is used (as onnx2torch does): ops whose
inputs/attributes moved between opsets (Squeeze's axes, Split's sizes, Clip's bounds, Pad's pads)
get one entry per form. A function receives an `Op` (the node, its attributes, constant inputs,
inferred shapes) and returns a `Layer` -- or `Alias` for ops that are no layer at inference
(Identity, Dropout). Weights come back as numpy arrays under PyTorch's names ("weight", "bias",
"running_mean" ...), which is how the registry names them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np


class Unsupported(Exception):
    """This node has no registry layer (the message says what is missing)."""


@dataclass
class Layer:
    op: str
    params: dict = field(default_factory=dict)
    inputs: Optional[list] = None  # value names that are the layer's data inputs (default: the first input)
    weights: dict = field(default_factory=dict)  # weight name -> np.ndarray
    consumes: list = field(default_factory=list)  # later nodes this layer absorbed (MatMul + Add -> Linear)
    outputs: Optional[list] = None  # value names it produces (default: the node's outputs)


@dataclass
class Alias:
    """The node passes a value through unchanged: its output is its input."""

    source: str


@dataclass
class Op:
    node: object  # onnx NodeProto
    attrs: dict  # attribute name -> Python value
    const: Callable  # value name -> np.ndarray or None (not a constant)
    shape: Callable  # value name -> tuple (dims: int or str) or None
    consumers: Callable  # value name -> [NodeProto]
    opset: int

    @property
    def inputs(self) -> list:
        return list(self.node.input)

    def input(self, i: int) -> Optional[str]:
        ins = self.node.input
        return ins[i] if len(ins) > i and ins[i] else None

    def const_input(self, i: int, what: str):
        name = self.input(i)
        if name is None:
            return None
        value = self.const(name)
        if value is None:
            raise Unsupported(f"{self.node.op_type}: {what} must be a constant")
        return value

    def rank(self, i: int = 0) -> int:
        s = self.shape(self.input(i))
        if s is None:
            raise Unsupported(f"{self.node.op_type}: the rank of its input is unknown (no shape inferred)")
        return len(s)


_REGISTRY: dict = {}  # op_type -> [(since, fn)]


def onnx_op(*op_types: str, since: int = 1):
    def register(fn):
        for op_type in op_types:
            entries = _REGISTRY.setdefault(op_type, [])
            entries.append((since, fn))
            entries.sort(key=lambda e: e[0])
        return fn

    return register


def lookup(op_type: str, opset: int) -> Optional[Callable]:
    chosen = None
    for since, fn in _REGISTRY.get(op_type, ()):
        if since <= opset:
            chosen = fn
    return chosen


def _ints(v):
    return tuple(int(x) for x in v)


def _one(v):
    v = tuple(v)
    return v[0] if v and all(x == v[0] for x in v) else v


def _spatial(op: Op) -> int:
    return op.rank(0) - 2


def _symmetric_pads(pads, n: int, what: str):
    pads = _ints(pads) if pads else (0,) * (2 * n)
    begin, end = pads[:n], pads[n:]
    if begin != end:
        raise Unsupported(f"{what}: asymmetric pads {pads} (write a Pad before it)")
    return _one(begin)


def _weight_and_bias(op: Op, w) -> tuple:
    """({"weight": w, "bias": b if the node has one}, b): a convolution's inputs 1 and 2."""
    b = op.const_input(2, "the bias")
    return ({"weight": w} if b is None else {"weight": w, "bias": b}), b


# ---- convolution and pooling -----------------------------------------------------------------

@onnx_op("Conv")
def conv(op: Op):
    w = op.const_input(1, "the weight")
    n = w.ndim - 2
    if op.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise Unsupported(f"Conv with auto_pad={op.attrs['auto_pad']}")
    group = int(op.attrs.get("group", 1))
    weights, b = _weight_and_bias(op, w)
    return Layer(f"Conv{n}d", {
        "out_channels": int(w.shape[0]), "kernel": _one(w.shape[2:]), "stride": _one(op.attrs.get("strides", (1,) * n)),
        "padding": _symmetric_pads(op.attrs.get("pads"), n, "Conv"), "groups": group,
        "dilation": _one(op.attrs.get("dilations", (1,) * n)), "bias": b is not None}, weights=weights)


@onnx_op("ConvTranspose")
def conv_transpose(op: Op):
    w = op.const_input(1, "the weight")
    n = w.ndim - 2
    if "output_shape" in op.attrs:
        raise Unsupported("ConvTranspose with output_shape")
    group = int(op.attrs.get("group", 1))
    weights, b = _weight_and_bias(op, w)
    return Layer(f"ConvTranspose{n}d", {
        "out_channels": int(w.shape[1]) * group, "kernel": _one(w.shape[2:]),
        "stride": _one(op.attrs.get("strides", (1,) * n)),
        "padding": _symmetric_pads(op.attrs.get("pads"), n, "ConvTranspose"),
        "output_padding": _one(op.attrs.get("output_padding", (0,) * n)), "groups": group,
        "dilation": _one(op.attrs.get("dilations", (1,) * n)), "bias": b is not None}, weights=weights)


@onnx_op("MaxPool", "AveragePool")
def pool(op: Op):
    n = _spatial(op)
    kind = "Max" if op.node.op_type == "MaxPool" else "Avg"
    if len(op.node.output) > 1 and op.node.output[1]:
        raise Unsupported("MaxPool with indices")
    if op.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        raise Unsupported(f"{op.node.op_type} with auto_pad={op.attrs['auto_pad']}")
    kernel = _one(op.attrs["kernel_shape"])
    stride = _one(op.attrs.get("strides", (1,) * n))
    params = {"kernel": kernel, "stride": None if stride == kernel else stride,
              "padding": _symmetric_pads(op.attrs.get("pads"), n, op.node.op_type),
              "ceil_mode": bool(op.attrs.get("ceil_mode", 0))}
    if kind == "Max":
        params["dilation"] = _one(op.attrs.get("dilations", (1,) * n))
    else:
        params["count_include_pad"] = bool(op.attrs.get("count_include_pad", 0))
    return Layer(f"{kind}Pool{n}d", params)


@onnx_op("GlobalAveragePool", "GlobalMaxPool")
def global_pool(op: Op):
    n = _spatial(op)
    kind = "Avg" if op.node.op_type == "GlobalAveragePool" else "Max"
    return Layer(f"Adaptive{kind}Pool{n}d", {"output_size": 1})


# ---- dense ------------------------------------------------------------------------------------

@onnx_op("Gemm")
def gemm(op: Op):
    if op.attrs.get("alpha", 1.0) != 1.0 or op.attrs.get("beta", 1.0) != 1.0 or op.attrs.get("transA", 0):
        raise Unsupported("Gemm with alpha/beta != 1 or transA")
    b = op.const_input(1, "B (the weight)")
    weight = b if op.attrs.get("transB", 0) else b.T
    weights = {"weight": np.ascontiguousarray(weight)}
    c = op.const_input(2, "C (the bias)")
    if c is not None:
        weights["bias"] = np.broadcast_to(c, (weight.shape[0],)).copy()
    return Layer("Linear", {"out_features": int(weight.shape[0]), "bias": c is not None}, weights=weights)


@onnx_op("MatMul")
def matmul(op: Op):
    b = op.const(op.input(1))
    if b is None:
        return Layer("MatMul", {}, inputs=op.inputs[:2])
    if b.ndim != 2:
        raise Unsupported("MatMul by a constant that is not a matrix")
    weights = {"weight": np.ascontiguousarray(b.T)}
    consumes, outputs = [], None
    users = op.consumers(op.node.output[0])
    if len(users) == 1 and users[0].op_type == "Add":
        add = users[0]
        other = [i for i in add.input if i != op.node.output[0]]
        c = op.const(other[0]) if len(other) == 1 else None
        if c is not None and c.size == b.shape[1]:
            weights["bias"] = c.reshape(-1).copy()
            consumes, outputs = [add], list(add.output)
    return Layer("Linear", {"out_features": int(b.shape[1]), "bias": "bias" in weights}, weights=weights,
                 consumes=consumes, outputs=outputs)


# ---- normalisation ----------------------------------------------------------------------------

@onnx_op("BatchNormalization")
def batch_norm(op: Op):
    n = op.rank(0)
    if len(op.node.output) > 1 and any(op.node.output[1:]):
        raise Unsupported("BatchNormalization in training mode")
    scale, bias, mean, var = (op.const_input(i, what) for i, what in
                              ((1, "scale"), (2, "B"), (3, "mean"), (4, "var")))
    dim = {2: 1, 3: 1, 4: 2, 5: 3}.get(n)
    if dim is None:
        raise Unsupported(f"BatchNormalization of a rank-{n} input")
    return Layer(f"BatchNorm{dim}d", {"eps": float(op.attrs.get("epsilon", 1e-5)),
                                      "momentum": round(1.0 - float(op.attrs.get("momentum", 0.9)), 6)},
                 weights={"weight": scale, "bias": bias, "running_mean": mean, "running_var": var,
                          "num_batches_tracked": np.array(0, dtype=np.int64)})


@onnx_op("LayerNormalization", since=17)
def layer_norm(op: Op):
    scale = op.const_input(1, "scale")
    axis = int(op.attrs.get("axis", -1))
    rank = op.rank(0)
    if axis % rank != rank - scale.ndim:
        raise Unsupported("LayerNormalization whose axis does not match its scale")
    weights = {"weight": scale}
    b = op.const_input(2, "B")
    if b is not None:
        weights["bias"] = b
    return Layer("LayerNorm", {"normalized_shape": tuple(int(d) for d in scale.shape),
                               "eps": float(op.attrs.get("epsilon", 1e-5)), "bias": b is not None}, weights=weights)


@onnx_op("LRN")
def lrn(op: Op):
    return Layer("LocalResponseNorm", {"size": int(op.attrs["size"]), "alpha": float(op.attrs.get("alpha", 1e-4)),
                                       "beta": float(op.attrs.get("beta", 0.75)), "k": float(op.attrs.get("bias", 1.0))})


# ---- activations ------------------------------------------------------------------------------

_PLAIN = {"Relu": "ReLU", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Selu": "SELU", "Softsign": "Softsign",
          "HardSwish": "Hardswish", "Mish": "Mish"}


@onnx_op(*_PLAIN)
def plain(op: Op):
    return Layer(_PLAIN[op.node.op_type])


@onnx_op("LeakyRelu")
def leaky_relu(op: Op):
    return Layer("LeakyReLU", {"negative_slope": float(op.attrs.get("alpha", 0.01))})


@onnx_op("Elu")
def elu(op: Op):
    return Layer("ELU", {"alpha": float(op.attrs.get("alpha", 1.0))})


@onnx_op("Gelu", since=20)
def gelu(op: Op):
    return Layer("GELU", {"approximate": op.attrs.get("approximate", "none")})


@onnx_op("HardSigmoid")
def hard_sigmoid(op: Op):
    if abs(op.attrs.get("alpha", 0.2) - 1 / 6) > 1e-6 or op.attrs.get("beta", 0.5) != 0.5:
        raise Unsupported("HardSigmoid with other than PyTorch's alpha=1/6, beta=0.5")
    return Layer("Hardsigmoid")


@onnx_op("Softmax", "LogSoftmax", since=13)
def softmax(op: Op):
    return Layer("Softmax" if op.node.op_type == "Softmax" else "LogSoftmax", {"dim": int(op.attrs.get("axis", -1))})


@onnx_op("Clip", since=11)
def clip(op: Op):
    lo, hi = op.const_input(1, "min"), op.const_input(2, "max")
    lo = None if lo is None else float(lo)
    hi = None if hi is None else float(hi)
    if lo == 0.0 and hi == 6.0:
        return Layer("ReLU6")
    if lo is not None and hi is not None:
        return Layer("Hardtanh", {"min_val": lo, "max_val": hi})
    if lo == 0.0 and hi is None:
        return Layer("ReLU")
    raise Unsupported("Clip with a single bound")


@onnx_op("Clip", since=6)
def clip_6(op: Op):
    lo, hi = float(op.attrs.get("min", -3.4e38)), float(op.attrs.get("max", 3.4e38))
    if lo == 0.0 and hi == 6.0:
        return Layer("ReLU6")
    return Layer("Hardtanh", {"min_val": lo, "max_val": hi})


@onnx_op("Dropout", "Identity")
def passthrough(op: Op):
    return Alias(op.node.input[0])


# ---- elementwise and merge --------------------------------------------------------------------

_BINARY = {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Max": "Maximum", "Min": "Minimum"}


@onnx_op(*_BINARY)
def binary(op: Op):
    if any(op.const(name) is not None for name in op.inputs):
        raise Unsupported(f"{op.node.op_type} with a constant operand")
    return Layer(_BINARY[op.node.op_type], {}, inputs=op.inputs)


@onnx_op("Concat")
def concat(op: Op):
    if any(op.const(name) is not None for name in op.inputs):
        raise Unsupported("Concat with a constant operand")
    if len(op.inputs) == 1:
        return Alias(op.inputs[0])
    return Layer("Concat", {"axis": int(op.attrs["axis"])}, inputs=op.inputs)


# ---- shape ------------------------------------------------------------------------------------

@onnx_op("Flatten")
def flatten(op: Op):
    axis = int(op.attrs.get("axis", 1))
    rank = op.rank(0)
    if axis % rank != 1:
        raise Unsupported(f"Flatten at axis {axis} (only the batch dim may stay separate)")
    return Layer("Flatten")


@onnx_op("Reshape")
def reshape(op: Op):
    """By shapes: [N, ...] -> [N, rest] is Flatten; anything else keeping dim 0 is Reshape."""
    src, dst = op.shape(op.input(0)), op.shape(op.node.output[0])
    if src is None or dst is None or not dst or src[0] != dst[0]:
        raise Unsupported("a Reshape whose output shape is unknown or changes the batch dim")
    if len(dst) == 2 and len(src) > 2:
        return Layer("Flatten")
    if any(not isinstance(d, int) for d in dst[1:]):
        raise Unsupported("a Reshape to symbolic dims")
    return Layer("Reshape", {"shape": tuple(dst[1:])})


@onnx_op("Transpose")
def transpose(op: Op):
    return Layer("Permute", {"dims": _ints(op.attrs["perm"])})


@onnx_op("Squeeze", "Unsqueeze")
def squeeze_1(op: Op):
    return _squeeze(op, op.attrs.get("axes"))


@onnx_op("Squeeze", "Unsqueeze", since=13)
def squeeze_13(op: Op):
    return _squeeze(op, op.const_input(1, "axes"))


def _squeeze(op: Op, axes):
    if axes is None or len(axes) != 1:
        raise Unsupported(f"{op.node.op_type} of other than one axis")
    axis = int(np.asarray(axes).reshape(-1)[0])
    if op.node.op_type == "Squeeze":
        return Layer("Squeeze", {"dim": axis})
    return Layer("Unsqueeze", {"dim": axis})


@onnx_op("ReduceMean", "ReduceSum")
def reduce_1(op: Op):
    return _reduce(op, op.attrs.get("axes"))


@onnx_op("ReduceSum", since=13)
def reduce_sum_13(op: Op):
    return _reduce(op, op.const_input(1, "axes"))


@onnx_op("ReduceMean", since=18)
def reduce_mean_18(op: Op):
    return _reduce(op, op.const_input(1, "axes"))


def _reduce(op: Op, axes):
    if axes is None or len(axes) == 0:
        raise Unsupported(f"{op.node.op_type} over all axes")
    axes = tuple(int(a) for a in np.asarray(axes).reshape(-1))
    kind = "Mean" if op.node.op_type == "ReduceMean" else "Sum"
    return Layer(kind, {"axis": axes if len(axes) > 1 else axes[0], "keepdims": bool(op.attrs.get("keepdims", 1))})


@onnx_op("Pad", since=11)
def pad(op: Op):
    pads = op.const_input(1, "pads")
    mode = op.attrs.get("mode", "constant")
    value = op.const_input(2, "the constant value")
    if op.input(3) is not None:
        raise Unsupported("Pad with axes")
    return _pad(op, pads, mode, 0.0 if value is None else float(value))


@onnx_op("Pad", since=2)
def pad_2(op: Op):
    return _pad(op, op.attrs["pads"], op.attrs.get("mode", "constant"), float(op.attrs.get("value", 0.0)))


def _pad(op: Op, pads, mode: str, value: float):
    pads = _ints(np.asarray(pads).reshape(-1))
    rank = len(pads) // 2
    begin, end = pads[:rank], pads[rank:]
    if any(begin[:2]) or any(end[:2]):
        raise Unsupported("Pad of the batch or channel dim")
    order = []
    for k in reversed(range(2, rank)):  # the registry's pads: last dim first, (before, after) each
        order += [begin[k], end[k]]
    modes = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}
    if mode not in modes:
        raise Unsupported(f"Pad mode {mode!r}")
    return Layer("Pad", {"pads": tuple(order), "mode": modes[mode], "value": value})


@onnx_op("Split", since=13)
def split_13(op: Op):
    sizes = op.const_input(1, "split")
    return _split(op, None if sizes is None else _ints(sizes))


@onnx_op("Split", since=2)
def split_2(op: Op):
    sizes = op.attrs.get("split")
    return _split(op, None if sizes is None else _ints(sizes))


def _split(op: Op, sizes):
    n = len(op.node.output)
    axis = int(op.attrs.get("axis", 0))
    sections = n if sizes is None or len(set(sizes)) == 1 else sizes
    return Layer("Split", {"sections": sections, "axis": axis})
