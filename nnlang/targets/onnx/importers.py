"""ONNX ops -> registry layers: one small function per op, registered by (op_type, since_version).

The newest entry whose `since` is <= the model's opset is used (as onnx2torch does): ops whose
inputs/attributes moved between opsets (Squeeze's axes, Split's sizes, Clip's bounds, Pad's pads)
get one entry per form. A function receives an `Op` (the node, its attributes, constant inputs,
inferred shapes) and returns a `Layer` -- or `Alias` for ops that are no layer at inference
(Identity, Dropout). Weights come back as numpy arrays under PyTorch's names ("weight", "bias",
"running_mean" ...), which is how the registry names them.
"""

from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Callable, Collection, Optional

import numpy as np

from ..importing import Layer, Unsupported
from ..registry import Registry


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
    initializers: Collection = frozenset()  # the names of the model's stored tensors
    dtype: Callable = lambda name: None  # value name -> .nns dtype ("f32", "i64" ...) or None (unknown)
    dims: Callable = lambda name: None  # value name -> dims computed from Shape with symbols ("N") or None
    graph_outputs: Collection = frozenset()  # the names of the model's outputs

    def affine(self, scale_index: int, shift_index: int) -> bool:
        """Whether a normalisation's scale and shift are learned: values other than 1 and 0, or tensors
        stored under a parameter's name (a fresh model's are exactly 1 and 0). Exporters write the
        constant 1 and 0 of a layer without them as unnamed constants."""
        scale, shift = self.const(self.input(scale_index)), self.const(self.input(shift_index))
        if (scale is not None and np.any(scale != 1)) or (shift is not None and np.any(shift != 0)):
            return True
        name = self.input(scale_index) or ""
        return name in self.initializers and name.rsplit(".", 1)[-1] in ("weight", "scale", "gamma")

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


_REGISTRY = Registry("ONNX importer", versioned=True)  # (op_type, since) -> fn(Op) -> Layer | Alias


def onnx_op(*op_types: str, since: int = 1):
    return _REGISTRY.decorator(*op_types, since=since)


def lookup(op_type: str, opset: int) -> Optional[Callable]:
    return _REGISTRY.lookup(op_type, opset)


def _ints(v):
    return tuple(int(x) for x in v)


def _one(v):
    v = tuple(v)
    return v[0] if v and all(x == v[0] for x in v) else v


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


# ---- dense ------------------------------------------------------------------------------------

@onnx_op("Gemm")
def gemm(op: Op):
    """alpha * A' @ B' + beta * C as Linear: alpha folded into the weight, beta into the bias. C may be a
    scalar, [N], [1, N] (one bias for every row) -- a C that differs between rows is no bias."""
    if op.attrs.get("transA", 0):  # the data [K, M] transposed first
        if op.rank(0) != 2:
            raise Unsupported(f"Gemm with transA of a rank-{op.rank(0)} input")
        out = op.node.output[0]
        rest = gemm(_replace_attrs(op, transA=0))
        rest = rest if isinstance(rest, list) else [rest]
        rest[0].inputs = [f"{out}#t"]
        return [Layer("Permute", {"dims": (1, 0)}, inputs=[op.input(0)], outputs=[f"{out}#t"]), *rest]
    alpha, beta = float(op.attrs.get("alpha", 1.0)), float(op.attrs.get("beta", 1.0))
    b = op.const_input(1, "B (the weight)")
    if b.ndim != 2:
        raise Unsupported(f"Gemm whose B is not a matrix (shape {tuple(b.shape)})")
    weight = (b if op.attrs.get("transB", 0) else b.T) * np.asarray(alpha, dtype=b.dtype)
    weights = {"weight": np.ascontiguousarray(weight)}
    c = op.const_input(2, "C (the bias)")
    if c is not None:
        out = weight.shape[0]
        rows = c.reshape(-1, c.shape[-1]) if c.ndim else c.reshape(1, 1)
        if c.ndim > 2 or rows.shape[-1] not in (1, out):
            raise Unsupported(f"Gemm whose C (shape {tuple(c.shape)}) does not broadcast to its rows")
        if np.any(rows != rows[:1]):  # a bias per row: Linear without one, then Add of the constant beta * C
            bias = np.ascontiguousarray(c * np.asarray(beta, dtype=c.dtype), dtype=np.float32)
            y = op.node.output[0]
            return [Layer("Linear", {"out_features": int(weight.shape[0]), "bias": False}, weights=weights,
                          outputs=[f"{y}#product"]),
                    Layer("Add", {"shape": tuple(int(d) for d in bias.shape)}, inputs=[f"{y}#product"], outputs=[y],
                          weights={"": bias})]
        weights["bias"] = np.broadcast_to(rows[0] * np.asarray(beta, dtype=c.dtype), (out,)).copy()
    return Layer("Linear", {"out_features": int(weight.shape[0]), "bias": c is not None}, weights=weights)


def _replace_attrs(op: Op, **attrs) -> Op:
    import dataclasses

    return dataclasses.replace(op, attrs={**op.attrs, **attrs})


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

@onnx_op("BatchNormalization", since=9)
def batch_norm(op: Op):
    n = op.rank(0)
    # Before opset 14 listing the running statistics outputs means training mode (batch statistics).
    if any(op.node.output[1:]) or int(op.attrs.get("training_mode", 0)):
        raise Unsupported("BatchNormalization in training mode (statistics of the batch, outputs the running ones)")
    scale, bias, mean, var = (op.const_input(i, what) for i, what in
                              ((1, "scale"), (2, "B"), (3, "mean"), (4, "var")))
    dim = {2: 1, 3: 1, 4: 2, 5: 3}.get(n)
    if dim is None:
        raise Unsupported(f"BatchNormalization of a rank-{n} input")
    affine = op.affine(1, 2)
    weights = {"weight": scale, "bias": bias} if affine else {}
    return Layer(f"BatchNorm{dim}d", {"eps": float(op.attrs.get("epsilon", 1e-5)), "affine": affine,
                                      "momentum": round(1.0 - float(op.attrs.get("momentum", 0.9)), 6)},
                 weights={**weights, "running_mean": mean, "running_var": var,
                          "num_batches_tracked": np.array(0, dtype=np.int64)}, outputs=[op.node.output[0]])


@onnx_op("LayerNormalization", since=17)
def layer_norm(op: Op):
    scale = op.const_input(1, "scale")
    axis = int(op.attrs.get("axis", -1))
    rank = op.rank(0)
    if axis % rank != rank - scale.ndim:
        raise Unsupported("LayerNormalization whose axis does not match its scale")
    only_y = [op.node.output[0]]  # the Mean / InvStdDev outputs, unread, are no tensors of the layer
    b = op.const_input(2, "B")
    shape = tuple(int(d) for d in scale.shape)
    params = {"normalized_shape": shape[0] if len(shape) == 1 else shape, "eps": float(op.attrs.get("epsilon", 1e-5))}
    if not op.affine(1, 2):
        layer = Layer("LayerNorm", {**params, "elementwise_affine": False}, outputs=only_y)
    else:
        weights = {"weight": scale} if b is None else {"weight": scale, "bias": b}
        layer = Layer("LayerNorm", {**params, "bias": b is not None}, weights=weights, outputs=only_y)
    return _layer_norm_statistics(op, layer, tuple(range(axis % rank, rank)), params["eps"])


def _layer_norm_statistics(op: Op, layer: Layer, axes: tuple, eps: float):
    """LayerNormalization's Mean and InvStdDev outputs, where read, as layers beside the LayerNorm: the mean over
    the normalised axes (kept), and 1 / sqrt(mean((x - mean)^2) + eps), the + eps a Scale of weight 1."""
    outs = list(op.node.output) + ["", ""]
    read = [bool(o) and (bool(op.consumers(o)) or o in op.graph_outputs) for o in outs[1:3]]
    if not any(read):
        return layer
    if (op.dtype(op.input(0)) or "f32") != "f32":
        raise Unsupported("LayerNormalization's Mean / InvStdDev outputs of other than float32 (ONNX computes them "
                          "in its stash type)")
    x, y = op.input(0), outs[0]
    over = {"axis": axes if len(axes) > 1 else axes[0], "keepdims": True}
    mean = outs[1] if read[0] else f"{y}#mean"
    chain = [layer, Layer("Mean", over, inputs=[x], outputs=[mean])]
    if read[1]:
        one = np.ones(1, np.float32)
        chain += [Layer("Sub", {}, inputs=[x, mean], outputs=[f"{y}#centred"]),
                  Layer("Mul", {}, inputs=[f"{y}#centred", f"{y}#centred"], outputs=[f"{y}#square"]),
                  Layer("Mean", over, outputs=[f"{y}#var"]),
                  Layer("Scale", {"bias": True, "axis": -1}, weights={"weight": one, "bias": one * np.float32(eps)},
                        outputs=[f"{y}#var_eps"]),
                  Layer("Sqrt", outputs=[f"{y}#std"]), Layer("Reciprocal", outputs=[outs[2]])]
    return chain


@onnx_op("RMSNormalization", since=23)
def rms_norm(op: Op):
    """Y = X / sqrt(mean(X^2 over axis..) + epsilon) * scale; scale broadcast to the normalised dims."""
    scale = op.const_input(1, "scale")
    rank = op.rank(0)
    axis = int(op.attrs.get("axis", -1)) % rank
    dims = op.shape(op.input(0))[axis:]
    if any(not isinstance(d, int) for d in dims):
        raise Unsupported(f"RMSNormalization over dims of unknown size {dims}")
    if scale.ndim > len(dims):
        raise Unsupported("RMSNormalization whose scale has more dims than the normalised ones")
    shape = tuple(int(d) for d in dims)
    params = {"normalized_shape": shape[0] if len(shape) == 1 else shape, "eps": float(op.attrs.get("epsilon", 1e-5))}
    if np.all(scale == 1) and not (op.input(1) in op.initializers and op.input(1).rsplit(".", 1)[-1] in
                                   ("weight", "scale", "gamma")):
        return Layer("RMSNorm", {**params, "elementwise_affine": False})
    weight = np.ascontiguousarray(np.broadcast_to(scale, shape))
    return Layer("RMSNorm", params, weights={"weight": weight})


@onnx_op("GroupNormalization", since=21)
def group_norm(op: Op):
    """From opset 21 scale and bias are per channel, as torch's (18 took one per group)."""
    scale, bias = op.const_input(1, "scale"), op.const_input(2, "bias")
    affine = op.affine(1, 2)
    return Layer("GroupNorm", {"num_groups": int(op.attrs["num_groups"]), "eps": float(op.attrs.get("epsilon", 1e-5)),
                               "affine": bool(affine)}, weights={"weight": scale, "bias": bias} if affine else {})


@onnx_op("LRN")
def lrn(op: Op):
    return Layer("LocalResponseNorm", {"size": int(op.attrs["size"]), "alpha": float(op.attrs.get("alpha", 1e-4)),
                                       "beta": float(op.attrs.get("beta", 0.75)),
                                       "k": float(op.attrs.get("bias", 1.0))})


# ---- activations ------------------------------------------------------------------------------

@onnx_op("InstanceNormalization")
def instance_norm(op: Op):
    n = op.rank(0) - 2
    scale, bias = op.const_input(1, "scale"), op.const_input(2, "B")
    affine = op.affine(1, 2)
    return Layer(f"InstanceNorm{n}d", {"eps": float(op.attrs.get("epsilon", 1e-5)), "affine": bool(affine)},
                 weights={"weight": scale, "bias": bias} if affine else {})


_PLAIN = {"Relu": "ReLU", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Selu": "SELU", "Softsign": "Softsign",
          "HardSwish": "Hardswish", "Mish": "Mish"}


@onnx_op(*_PLAIN)
def plain(op: Op):
    if op.node.op_type == "Selu":
        return _selu(op)
    return Layer(_PLAIN[op.node.op_type])


_SELU_ALPHA, _SELU_GAMMA = 1.67326319217681884765625, 1.05070102214813232421875  # ONNX's defaults (float32)


def _selu(op: Op):
    """torch's SELU at ONNX's default constants; other ones are gamma * ELU(alpha), the gamma as a Scale."""
    alpha, gamma = float(op.attrs.get("alpha", _SELU_ALPHA)), float(op.attrs.get("gamma", _SELU_GAMMA))
    if abs(alpha - _SELU_ALPHA) < 1e-6 and abs(gamma - _SELU_GAMMA) < 1e-6:
        return Layer("SELU")
    shape = op.shape(op.input(0))
    if not shape or not isinstance(shape[-1], int):
        raise Unsupported("Selu with other than the standard alpha / gamma on an input whose last dim is unknown")
    dtype = np.float64 if op.dtype(op.input(0)) == "f64" else np.float32
    return [Layer("ELU", {"alpha": alpha}),
            Layer("Scale", {"bias": False, "axis": -1}, weights={"weight": np.full(shape[-1], gamma, dtype)})]


@onnx_op("LeakyRelu")
def leaky_relu(op: Op):
    return Layer("LeakyReLU", {"negative_slope": float(op.attrs.get("alpha", 0.01))})


@onnx_op("Elu")
def elu(op: Op):
    return Layer("ELU", {"alpha": float(op.attrs.get("alpha", 1.0))})


@onnx_op("Gelu", since=20)
def gelu(op: Op):
    return Layer("GELU", {"approximate": op.attrs.get("approximate", "none")})


@onnx_op("Celu", since=12)
def celu(op: Op):
    return Layer("CELU", {"alpha": float(op.attrs.get("alpha", 1.0))})


@onnx_op("PRelu")
def prelu(op: Op):
    slope = op.const_input(1, "the slope")
    if slope.size > 1 and _channel_axis(op, op.input(0), slope) != 1:
        raise Unsupported("PRelu whose slopes are not one per channel (dim 1)")
    return Layer("PReLU", {"num_parameters": int(slope.size)}, weights={"weight": slope.reshape(-1).copy()})


@onnx_op("HardSigmoid")
def hard_sigmoid(op: Op):
    alpha, beta = float(op.attrs.get("alpha", 0.2)), float(op.attrs.get("beta", 0.5))
    if abs(alpha - 1 / 6) <= 1e-6 and beta == 0.5:
        return Layer("Hardsigmoid")
    # max(0, min(1, alpha * x + beta)): the affine part as a Scale along the last axis (every channel alike)
    shape = op.shape(op.input(0))
    if not shape or not isinstance(shape[-1], int):
        raise Unsupported("HardSigmoid with other than PyTorch's alpha=1/6, beta=0.5 on an input whose last dim "
                          "is unknown")
    c = shape[-1]
    dtype = np.float64 if op.dtype(op.input(0)) == "f64" else np.float32
    scale = Layer("Scale", {"bias": True, "axis": -1}, weights={"weight": np.full(c, alpha, dtype),
                                                               "bias": np.full(c, beta, dtype)})
    return [scale, Layer("Hardtanh", {"min_val": 0.0, "max_val": 1.0})]


@onnx_op("Softplus")
def softplus(op: Op):
    return Layer("Softplus")  # log(1 + exp(x)); torch's linear tail above 20 differs by < 3e-9


@onnx_op("ThresholdedRelu")
def thresholded_relu(op: Op):
    alpha = float(op.attrs.get("alpha", 1.0))
    return Layer("Threshold", {"threshold": alpha, "value": 0.0})  # x > alpha ? x : 0


@onnx_op("Swish", since=24)
def swish(op: Op):
    if float(op.attrs.get("alpha", 1.0)) != 1.0:
        raise Unsupported("Swish with alpha other than 1 (SiLU)")
    return Layer("SiLU")


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
    if lo is not None and hi is not None and lo >= hi:  # ONNX: min(max(x, lo), hi), hi everywhere but NaN
        return [Layer("Maximum", {"value": lo}), Layer("Minimum", {"value": hi})]
    if lo is not None and hi is not None:
        return Layer("Hardtanh", {"min_val": lo, "max_val": hi})
    if lo == 0.0 and hi is None:
        return Layer("ReLU")
    return _one_bound(op, lo, hi)


def _one_bound(op: Op, lo, hi):
    """max(x, lo) is Threshold(lo, lo) (x > lo ? x : lo); min(x, hi) = -max(-x, -hi); no bound: x itself."""
    if lo is None and hi is None:
        return Alias(op.input(0))
    if hi is None:
        return Layer("Threshold", {"threshold": lo, "value": lo})
    return [Layer("Neg"), Layer("Threshold", {"threshold": -hi, "value": -hi}), Layer("Neg")]


@onnx_op("Clip", since=6)
def clip_6(op: Op):
    lo, hi = float(op.attrs.get("min", -3.4e38)), float(op.attrs.get("max", 3.4e38))
    if lo == 0.0 and hi == 6.0:
        return Layer("ReLU6")
    return Layer("Hardtanh", {"min_val": lo, "max_val": hi})


@onnx_op("Identity")
def passthrough(op: Op):
    return Alias(op.node.input[0])


# ---- merge ------------------------------------------------------------------------------------

def _channel_axis(op: Op, x: str, c) -> Optional[int]:
    """The one axis of x a constant varies along (right-aligned broadcasting), or None."""
    shape = op.shape(x)
    if shape is None or c.ndim > len(shape) or c.ndim == 0:
        return None
    axes = [len(shape) - c.ndim + k for k, d in enumerate(c.shape) if d != 1]
    if len(axes) != 1 or shape[axes[0]] != c.size:
        return None
    return axes[0]


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
    """By shapes: [N, ...] -> [N, rest] is Flatten; anything else keeping dim 0 is Reshape. The output shape
    is inference's, or worked out from the shape operand (constant, or computed from Shape with the batch
    a symbol) and the input's shape."""
    src, dst = op.shape(op.input(0)), op.shape(op.node.output[0])
    const = op.const(op.input(1)) if op.input(1) else None
    if const is not None and src and all(isinstance(d, int) for d in src[1:]):
        target = [int(v) for v in np.asarray(const).reshape(-1)]
        # [-1, ...] whose other dims are not one example's: the batch changes (windows folded into it)
        if target and target[0] == -1 and target.count(-1) == 1 and min(target) >= -1 and 0 not in target \
                and math.prod(target[1:]) != math.prod(src[1:]):
            return Layer("Reshape", {"shape": tuple(target), "batch": True})
    if src is not None and (dst is None or any(not isinstance(d, int) for d in dst[1:])):
        dst = _reshape_target(src, op.const(op.input(1)) if op.input(1) else None, op.dims(op.input(1)),
                              bool(op.attrs.get("allowzero", 0))) or dst
    if src is None or dst is None or not dst:
        raise Unsupported("a Reshape whose output shape is unknown")
    fixed = all(isinstance(d, int) for d in (*src[1:], *dst[1:]))
    if src[0] != dst[0] and not (fixed and math.prod(src[1:]) == math.prod(dst[1:])):  # (equal: two names of N)
        # The batch changes (windows folded into it and back): the new batch is what the other dims leave.
        if any(not isinstance(d, int) for d in dst[1:]):
            raise Unsupported("a Reshape that changes the batch dim to symbolic dims")
        return Layer("Reshape", {"shape": (-1, *dst[1:]), "batch": True})
    if len(dst) == 2 and len(src) > 2:
        return Layer("Flatten")
    if any(not isinstance(d, int) for d in dst[1:]):
        raise Unsupported("a Reshape to symbolic dims")
    return Layer("Reshape", {"shape": tuple(dst[1:])})


def _reshape_target(src, const, dims, allowzero: bool):
    """ONNX's Reshape rule (0 copies the input's dim, -1 takes the rest) on dims that may be symbols."""
    target = list(np.asarray(const).reshape(-1)) if const is not None else (list(dims) if dims is not None else None)
    if target is None:
        return None
    out = []
    for k, t in enumerate(target):
        if isinstance(t, str):
            if t == "?" and (k or not all(not isinstance(v, str) and int(v) > 0 for v in target[1:])):
                return None  # '?' first, the rest given: the batch times a size (windows folded into it), kept
            out.append(t)
        elif int(t) == 0 and not allowzero:
            if k >= len(src):
                return None
            out.append(src[k])
        else:
            out.append(int(t))
    if out.count(-1) > 1:
        return None
    if -1 in out:
        known = [d for d in out if d != -1]
        total = list(src)
        for d in known:  # cancel the dims both sides share (the batch symbol)
            if d in total and not isinstance(d, int):
                total.remove(d)
        rest = [d for d in known if isinstance(d, int)]
        if any(not isinstance(d, int) for d in total) or any(not isinstance(d, int) for d in known if d not in src):
            return None
        size, part = int(np.prod(total)), int(np.prod(rest)) if rest else 1
        if part == 0 or size % part:
            return None
        out[out.index(-1)] = size // part
    return tuple(out)


@onnx_op("Transpose")
def transpose(op: Op):
    """Without `perm` ONNX reverses the dims."""
    perm = op.attrs.get("perm")
    return Layer("Permute", {"dims": _ints(perm) if perm is not None else tuple(reversed(range(op.rank(0))))})


@onnx_op("Squeeze", "Unsqueeze")
def squeeze_1(op: Op):
    return _squeeze(op, op.attrs.get("axes"))


@onnx_op("Squeeze", "Unsqueeze", since=13)
def squeeze_13(op: Op):
    return _squeeze(op, op.const_input(1, "axes"))


def _squeeze(op: Op, axes):
    if axes is None or len(axes) == 0:
        raise Unsupported(f"{op.node.op_type} without axes")
    dims = tuple(int(a) for a in np.asarray(axes).reshape(-1))
    if op.node.op_type == "Squeeze":
        return Layer("Squeeze", {"dim": dims[0] if len(dims) == 1 else dims})
    if len(dims) == 1:
        return Layer("Unsqueeze", {"dim": dims[0]})
    # several axes (of the output's rank): one Unsqueeze each, lowest first, so each lands where ONNX puts it
    rank = op.rank(0) + len(dims)
    dims = sorted(d % rank for d in dims)
    out = op.node.output[0]
    names = [f"{out}#unsqueeze{k}" for k in range(len(dims) - 1)] + [out]
    return [Layer("Unsqueeze", {"dim": d}, inputs=[src], outputs=[name])
            for d, src, name in zip(dims, [op.input(0)] + names[:-1], names)]


@onnx_op("Slice", since=10)
def slice_10(op: Op):
    starts, ends = op.const_input(1, "starts"), op.const_input(2, "ends")
    return slice_layer(op, starts, ends, op.const_input(3, "axes"), op.const_input(4, "steps"))


def slice_layer(op: Op, starts, ends, axes, steps):
    """One Slice layer per sliced axis (the registry's Slice takes one); a full-range axis is none."""
    shape = op.shape(op.node.output[0])
    if shape is not None and any(d == 0 for d in shape):
        raise Unsupported(f"Slice to an empty tensor {tuple(shape)} (.nns sizes are positive)")
    starts, ends = np.asarray(starts).reshape(-1), np.asarray(ends).reshape(-1)
    count = starts.size
    axes = np.arange(count) if axes is None else np.asarray(axes).reshape(-1)
    steps = np.ones(count, dtype=np.int64) if steps is None else np.asarray(steps).reshape(-1)
    if not (ends.size == axes.size == steps.size == count) or count == 0:
        raise Unsupported("Slice whose starts, ends, axes and steps differ in length")
    layers = []
    for start, end, axis, step in zip(starts, ends, axes, steps):
        start, end, axis, step = int(start), int(end), int(axis), int(step)
        if step < 1:
            raise Unsupported("Slice with a negative step")
        if start == 0 and end >= 2 ** 31 - 1 and step == 1:
            continue
        layers.append(Layer("Slice", {"axis": axis, "start": start, "end": None if end >= 2 ** 31 - 1 else end,
                                      "step": step}))
    if not layers:
        return Alias(op.input(0))
    return layers[0] if len(layers) == 1 else layers


@onnx_op("Pad", since=11)
def pad(op: Op):
    pads = op.const_input(1, "pads")
    mode = op.attrs.get("mode", "constant")
    value = op.const_input(2, "the constant value")
    axes = op.const_input(3, "axes")
    if axes is not None:  # pads of the listed axes only: spread over all axes, 0 elsewhere
        rank, axes = op.rank(0), [int(a) % op.rank(0) for a in np.asarray(axes).reshape(-1)]
        given, full = _ints(np.asarray(pads).reshape(-1)), [0] * (2 * op.rank(0))
        for i, a in enumerate(axes):
            full[a], full[rank + a] = given[i], given[len(axes) + i]
        pads = full
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
    shape = op.shape(op.input(0))
    dim = shape[axis] if shape is not None else None
    if sizes is None and isinstance(dim, int) and dim % n:  # num_outputs (18): ceil(dim / n) each, the last less
        step = -(-dim // n)
        sizes = (step,) * (n - 1) + (dim - step * (n - 1),)
    sections = n if sizes is None or len(set(sizes)) == 1 else sizes
    return Layer("Split", {"sections": sections, "axis": axis})


from . import import_legacy  # noqa: E402,F401 -- registers the opset 1-12 forms
from . import import_elementwise  # noqa: E402,F401 -- registers Add / Sub / Mul / Div, Where
from .import_elementwise import tensor_path  # noqa: E402,F401 -- fusions and import_constants name tensors by it
from . import import_math  # noqa: E402,F401 -- registers the reductions and elementwise math
from . import import_attention  # noqa: E402,F401 -- registers Attention (opset 23+)
from . import import_resize  # noqa: E402,F401 -- registers Resize (opset 11+)
from . import import_rnn  # noqa: E402,F401 -- registers the bare LSTM / GRU / RNN node
from . import import_layout  # noqa: E402,F401 -- registers DepthToSpace, SpaceToDepth, Tile, Expand
from . import import_rotary  # noqa: E402,F401 -- registers RotaryEmbedding (opset 23)
