"""The PyTorch mapping of every registry layer: one small function per layer type.

Each function takes (node, ins, outs) -- the IR node and its input / output TensorTypes -- and
returns a TorchLayer: the module to construct as plain data (only the constructor arguments that
differ from torch's defaults, in torch's own order) and the forward expression template. Sizes
that the language infers (in_channels, in_features, num_features, embed_dim ...) come from `ins`.

Every constant written into a forward template goes through `lit` (a Python literal, braces
doubled for str.format); constructor arguments stay plain data and are rendered by
`render_module_call`. Nothing here imports torch.
"""

from __future__ import annotations

from .constants import constant_layer
from .mapping import ModuleCall, TensorLiteral, TorchLayer, lit, torch_layer

F = frozenset({"F"})
_ALWAYS = object()  # a "default" no value equals: the argument is always written


# ---- helpers -------------------------------------------------------------------------------------

def _one(v):
    """(k, k, k) -> k: torch takes one int for all spatial dims, as hand-written code does."""
    if isinstance(v, tuple) and v and all(x == v[0] and type(x) is type(v[0]) for x in v):
        return v[0]
    return v


def _same(value, default) -> bool:
    return default is not _ALWAYS and type(value) is type(default) and value == default


def _kw(*triples) -> tuple:
    """((name, value), ...) for the (name, value, torch_default) triples whose value differs."""
    return tuple((name, value) for name, value, default in triples if not _same(value, default))


def _module(cls: str, *args, kwargs=(), forward="{m}({0})", outputs=None, needs=frozenset()) -> TorchLayer:
    return TorchLayer(ModuleCall(cls, tuple(args), tuple(kwargs)), forward, outputs, needs)


def _func(forward: str, outputs=None, needs=frozenset()) -> TorchLayer:
    return TorchLayer(None, forward, outputs, needs)


def _dim(t, axis: int, what: str) -> int:
    d = t.shape[axis]
    if not isinstance(d, int):
        raise ValueError(f"{what} must be known for the PyTorch target, got {d!r}")
    return d


def _axis(axis: int, rank: int) -> int:
    return axis % rank if rank else axis


def _args(*values) -> str:
    """Template text for call arguments: each value a literal."""
    return ", ".join(lit(v) for v in values)


def _names(k: int) -> str:
    return ", ".join(f"{{{i}}}" for i in range(k))


def _fpad(begin, end, value=None) -> str:
    """F.pad of input {0} with explicit (begin..., end...) pads over the last len(begin) dims."""
    order = []
    for k in reversed(range(len(begin))):  # F.pad: the last dim first
        order += [begin[k], end[k]]
    fill = "" if value is None else ", value=" + lit(value)
    return "F.pad({0}, " + lit(tuple(order)) + fill + ")"


def _split_pads(pads) -> tuple:
    if pads is None:  # padding="same" with a stride over a symbolic size: the pads depend on it
        raise ValueError('padding="same" with a stride needs a known input size for the PyTorch target')
    n = len(pads) // 2
    return tuple(pads[:n]), tuple(pads[n:])


# ---- convolution ---------------------------------------------------------------------------------

def _conv(node, cls: str, cin: int, cout: int, groups: int, extra=(), needs_more=frozenset()) -> TorchLayer:
    a = node.attrs
    begin, end = _split_pads(a["pads"])
    kwargs = [("stride", _one(a["stride"]), 1)]
    forward, needs = "{m}({0})", frozenset()
    if begin == end:
        kwargs.append(("padding", _one(begin), 0))
    else:  # asymmetric ("same" with an odd total): pad explicitly, the odd pixel at the end
        forward, needs = "{m}(" + _fpad(begin, end) + ")", F
    kwargs += [("dilation", _one(a["dilation"]), 1), ("groups", groups, 1), *extra]
    if not any(k == "bias" for k, _, _ in extra):
        kwargs.append(("bias", a["bias"], True))
    return _module(cls, cin, cout, _one(a["kernel"]), kwargs=_kw(*kwargs), forward=forward, needs=needs | needs_more)


@torch_layer("Conv1d", "Conv2d", "Conv3d")
def conv(node, ins, outs):
    cin = _dim(ins[0], 1, f"{node.op}: input channels")
    return _conv(node, f"nn.{node.op}", cin, node.attrs["out_channels"], node.attrs["groups"])


@torch_layer("StdConv2d", "ScaledStdConv2d")
def standardized_conv(node, ins, outs):
    a = node.attrs
    cin = _dim(ins[0], 1, f"{node.op}: input channels")
    scaled = node.op == "ScaledStdConv2d"
    extra = [("bias", a["bias"], scaled), *((("gamma", a["gamma"], 1.0),) if scaled else ()), ("eps", a["eps"], 1e-6)]
    return _conv(node, f"nnlang_modules.{node.op}", cin, a["out_channels"], a["groups"], extra,
                 frozenset({"nnlang_modules"}))


@torch_layer("DepthwiseConv2d")
def depthwise_conv(node, ins, outs):
    cin = _dim(ins[0], 1, "DepthwiseConv2d: input channels")
    return _conv(node, "nn.Conv2d", cin, cin * node.attrs["multiplier"], cin)


@torch_layer("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
def conv_transpose(node, ins, outs):
    a = node.attrs
    cin = _dim(ins[0], 1, f"{node.op}: input channels")
    return _module(f"nn.{node.op}", cin, a["out_channels"], _one(a["kernel"]), kwargs=_kw(
        ("stride", _one(a["stride"]), 1),
        ("padding", _one(a["padding"]), 0),
        ("output_padding", _one(a["output_padding"]), 0),
        ("groups", a["groups"], 1),
        ("bias", a["bias"], True),
        ("dilation", _one(a["dilation"]), 1),
    ))


# ---- pooling -------------------------------------------------------------------------------------

@torch_layer("MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d")
def pool(node, ins, outs):
    a = node.attrs
    is_max = node.op.startswith("Max")
    kernel = a["kernel"]
    n = len(kernel)
    stride = a["stride"] if a["stride"] is not None else kernel
    begin, end = _split_pads(a["pads"])
    # torch's pooling takes symmetric padding of at most half the window (not the dilated one).
    native = begin == end and all(p <= k // 2 for p, k in zip(begin, kernel))
    kwargs = [("stride", _one(stride), _one(kernel))]  # torch's stride=None means the window
    if native:
        kwargs.append(("padding", _one(begin), 0))
    if is_max:
        kwargs += [("dilation", _one(a["dilation"]), 1), ("ceil_mode", a["ceil_mode"], False)]
    else:
        kwargs.append(("ceil_mode", a["ceil_mode"], False))
        if native:
            kwargs.append(("count_include_pad", a["count_include_pad"], True))
    cls = f"nn.{node.op}"
    if native:
        return _module(cls, _one(kernel), kwargs=_kw(*kwargs))
    if is_max:  # implicit max-pool padding is -inf: padded positions never win
        forward = "{m}(" + _fpad(begin, end, float("-inf")) + ")"
    elif a["count_include_pad"]:  # padded zeros count in the average
        forward = "{m}(" + _fpad(begin, end) + ")"
    else:  # average over the real positions only: pooled sum / pooled count of ones
        ones = "{0}.new_ones({0}.shape[" + lit(-n) + ":]).unsqueeze(0)"
        pad = _fpad(begin, end)
        forward = "{m}(" + pad + ") / {m}(" + pad.replace("{0}", ones, 1) + ")"
    return _module(cls, _one(kernel), kwargs=_kw(*kwargs), forward=forward, needs=F)


@torch_layer("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
             "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d")
def adaptive_pool(node, ins, outs):
    return _module(f"nn.{node.op}", _one(node.attrs["output_size"]))


@torch_layer("GlobalAvgPool", "GlobalMaxPool")
def global_pool(node, ins, outs):
    dims = tuple(range(2, ins[0].rank))
    fn = "mean" if node.op == "GlobalAvgPool" else "amax"
    keep = ", keepdim=True" if node.attrs["keepdims"] else ""
    return _func("{0}." + fn + "(" + lit(dims) + keep + ")")


@torch_layer("Upsample")
def upsample(node, ins, outs):
    a = node.attrs
    size = None if a["size"] is None else _one(a["size"])
    scale = None if a["scale_factor"] is None else _one(a["scale_factor"])
    return _module("nn.Upsample", kwargs=_kw(
        ("size", size, None),
        ("scale_factor", scale, None),
        ("mode", a["mode"], "nearest"),
        ("align_corners", a["align_corners"], None),
    ))


# ---- dense ---------------------------------------------------------------------------------------

@torch_layer("Linear")
def linear(node, ins, outs):
    a = node.attrs
    fin = _dim(ins[0], -1, "Linear: in_features")
    return _module("nn.Linear", fin, a["out_features"], kwargs=_kw(("bias", a["bias"], True)))


@torch_layer("Embedding")
def embedding(node, ins, outs):
    a = node.attrs
    return _module("nn.Embedding", a["num_embeddings"], a["embedding_dim"], kwargs=_kw(
        ("padding_idx", a["padding_idx"], None),
        ("max_norm", a["max_norm"], None),
        ("norm_type", a["norm_type"], 2.0),
        ("scale_grad_by_freq", a["scale_grad_by_freq"], False),
        ("sparse", a["sparse"], False),
    ))


@torch_layer("Bilinear")
def bilinear(node, ins, outs):
    a = node.attrs
    in1 = _dim(ins[0], -1, "Bilinear: in1_features")
    in2 = _dim(ins[1], -1, "Bilinear: in2_features")
    return _module("nn.Bilinear", in1, in2, a["out_features"], kwargs=_kw(("bias", a["bias"], True)),
                   forward="{m}({0}, {1})")


# ---- normalisation -------------------------------------------------------------------------------

@torch_layer("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
def batch_instance_norm(node, ins, outs):
    a = node.attrs
    if node.op.startswith("Batch"):
        c = _dim(ins[0], 1, f"{node.op}: channels")
        affine, track = True, True
    else:
        n = int(node.op[-2])
        c = _dim(ins[0], ins[0].rank - n - 1, f"{node.op}: channels")
        affine, track = False, False
    return _module(f"nn.{node.op}", c, kwargs=_kw(
        ("eps", a["eps"], 1e-5),
        ("momentum", a["momentum"], 0.1),
        ("affine", a["affine"], affine),
        ("track_running_stats", a["track_running_stats"], track),
    ))


@torch_layer("LayerNorm")
def layer_norm(node, ins, outs):
    a = node.attrs
    shape = tuple(a["normalized_shape"])  # resolved by the shape rule
    return _module("nn.LayerNorm", shape[0] if len(shape) == 1 else shape, kwargs=_kw(
        ("eps", a["eps"], 1e-5),
        ("elementwise_affine", a["elementwise_affine"], True),
        ("bias", a["bias"], True),
    ))


@torch_layer("RMSNorm")
def rms_norm(node, ins, outs):
    a = node.attrs
    shape = tuple(a["normalized_shape"])  # resolved by the shape rule
    return _module("nn.RMSNorm", shape[0] if len(shape) == 1 else shape, kwargs=_kw(
        ("eps", a["eps"], None),
        ("elementwise_affine", a["elementwise_affine"], True),
    ))


@torch_layer("GroupNorm")
def group_norm(node, ins, outs):
    a = node.attrs
    c = _dim(ins[0], 1, "GroupNorm: channels")
    return _module("nn.GroupNorm", a["num_groups"], c, kwargs=_kw(("eps", a["eps"], 1e-5),
                                                                  ("affine", a["affine"], True)))


@torch_layer("LocalResponseNorm")
def local_response_norm(node, ins, outs):
    a = node.attrs
    kwargs = _kw(("alpha", a["alpha"], 1e-4), ("beta", a["beta"], 0.75), ("k", a["k"], 1.0))
    if a.get("region") == "within":
        return _module("nnlang_modules.WithinChannelLRN", a["size"], kwargs=kwargs, needs=frozenset({"nnlang_modules"}))
    return _module("nn.LocalResponseNorm", a["size"], kwargs=kwargs)


# ---- activations ---------------------------------------------------------------------------------

_PLAIN = ("ReLU", "SELU", "SiLU", "Mish", "Sigmoid", "Tanh", "Hardswish", "Hardsigmoid", "ReLU6", "Softsign")


@torch_layer(*_PLAIN)
def plain_activation(node, ins, outs):
    return _module(f"nn.{node.op}")


# (parameter, torch default) per activation, in torch's order; required ones are positional.
_ACTIVATION_PARAMS = {
    "LeakyReLU": (("negative_slope", 0.01),),
    "PReLU": (("num_parameters", 1), ("init", 0.25)),
    "ELU": (("alpha", 1.0),),
    "CELU": (("alpha", 1.0),),
    "GELU": (("approximate", "none"),),
    "Softmax": (("dim", _ALWAYS),),  # torch's implicit dim is deprecated: always write it
    "LogSoftmax": (("dim", _ALWAYS),),
    "Hardtanh": (("min_val", -1.0), ("max_val", 1.0)),
    "Softplus": (("beta", 1.0), ("threshold", 20.0)),
}


@torch_layer(*_ACTIVATION_PARAMS)
def activation(node, ins, outs):
    a = node.attrs
    return _module(f"nn.{node.op}", kwargs=_kw(*((k, a[k], d) for k, d in _ACTIVATION_PARAMS[node.op])))


@torch_layer("Threshold")
def threshold(node, ins, outs):
    return _module("nn.Threshold", node.attrs["threshold"], node.attrs["value"])


# ---- recurrent and attention ---------------------------------------------------------------------

@torch_layer("RNN", "LSTM", "GRU")
def recurrent(node, ins, outs):
    a = node.attrs
    fin = _dim(ins[0], -1, f"{node.op}: input features")
    kwargs = [("num_layers", a["num_layers"], 1)]
    if node.op == "RNN":
        kwargs.append(("nonlinearity", a["nonlinearity"], "tanh"))
    kwargs += [("bias", a["bias"], True), ("batch_first", a["batch_first"], False),
               ("dropout", a["dropout"], 0.0), ("bidirectional", a["bidirectional"], False)]
    # Keras 2's hard_sigmoid gates: nn.LSTM / nn.GRU's parameters with a step-by-step cell (modules.py)
    cls = f"nnlang_modules.HardGate{node.op}" if a.get("gate_activation") == "hard_sigmoid" else f"nn.{node.op}"
    if not a["return_state"]:
        return _module(cls, fin, a["hidden_size"], kwargs=_kw(*kwargs), forward="{m}({0})[0]")
    outputs = "{0}, ({1}, {2})" if node.op == "LSTM" else "{0}, {1}"
    return _module(cls, fin, a["hidden_size"], kwargs=_kw(*kwargs), outputs=outputs)


@torch_layer("MultiheadAttention")
def multihead_attention(node, ins, outs):
    a = node.attrs
    q, k, v = (ins[0],) * 3 if len(ins) == 1 else ins
    e = _dim(q, -1, "MultiheadAttention: embed size")
    kdim = _dim(k, -1, "MultiheadAttention: key size")
    vdim = _dim(v, -1, "MultiheadAttention: value size")
    kwargs = _kw(
        ("dropout", a["dropout"], 0.0),
        ("bias", a["bias"], True),
        ("add_bias_kv", a["add_bias_kv"], False),
        ("kdim", kdim, e),
        ("vdim", vdim, e),
        ("batch_first", a["batch_first"], False),
    )
    qkv = "{0}, {0}, {0}" if len(ins) == 1 else "{0}, {1}, {2}"
    if a["need_weights"]:  # torch's default: weights averaged over the heads
        return _module("nn.MultiheadAttention", e, a["num_heads"], kwargs=kwargs, forward="{m}(" + qkv + ")",
                       outputs="{0}, {1}")
    return _module("nn.MultiheadAttention", e, a["num_heads"], kwargs=kwargs,
                   forward="{m}(" + qkv + ", need_weights=False)[0]")


# ---- shape ---------------------------------------------------------------------------------------

@torch_layer("Flatten")
def flatten(node, ins, outs):
    a = node.attrs
    end = "" if a["end_dim"] == -1 else ", " + lit(a["end_dim"])
    return _func("torch.flatten({0}, " + lit(a["start_dim"]) + end + ")")


@torch_layer("Reshape")
def reshape(node, ins, outs):
    if node.attrs["batch"]:  # the whole shape, as written: x.reshape(-1, 7, 7, 96)
        return _func("{0}.reshape(" + _args(*node.attrs["shape"]) + ")")
    dims = "".join(", " + lit(d) for d in node.attrs["shape"])
    return _func("{0}.reshape({0}.shape[0]" + dims + ")")


@torch_layer("Roll")
def roll(node, ins, outs):
    shifts, dims = node.attrs["shifts"], node.attrs["dims"]
    if len(dims) == 1:
        return _func("torch.roll({0}, " + _args(shifts[0], dims[0]) + ")")
    return _func("torch.roll({0}, " + lit(tuple(shifts)) + ", " + lit(tuple(dims)) + ")")


@torch_layer("Permute")
def permute(node, ins, outs):
    return _func("{0}.permute(" + _args(*node.attrs["dims"]) + ")")


@torch_layer("Transpose")
def transpose(node, ins, outs):
    return _func("{0}.transpose(" + _args(node.attrs["dim0"], node.attrs["dim1"]) + ")")


@torch_layer("Squeeze")
def squeeze(node, ins, outs):
    return _func("{0}.squeeze(" + lit(_single(node.attrs["dim"])) + ")")


@torch_layer("Unsqueeze")
def unsqueeze(node, ins, outs):
    return _func("{0}.unsqueeze(" + lit(node.attrs["dim"]) + ")")


@torch_layer("Concat")
def concat(node, ins, outs):
    return _func("torch.cat((" + _names(len(ins)) + "), dim=" + lit(node.attrs["axis"]) + ")")


@torch_layer("Split")
def split(node, ins, outs):
    a = node.attrs
    s = a["sections"]
    if isinstance(s, int):  # equal pieces (the shape rule checked that s divides the dim)
        call = "torch.chunk({0}, " + lit(s) + ", dim=" + lit(a["axis"]) + ")"
    else:
        call = "torch.split({0}, " + lit(list(s)) + ", dim=" + lit(a["axis"]) + ")"
    if len(outs) == 1:
        return _func(call + "[0]")
    return _func(call, outputs=_names(len(outs)))


@torch_layer("Slice")
def slice_(node, ins, outs):
    a = node.attrs
    axis = _axis(a["axis"], ins[0].rank)
    part = ("" if a["start"] == 0 else lit(a["start"])) + ":" + ("" if a["end"] is None else lit(a["end"]))
    if a["step"] != 1:
        part += ":" + lit(a["step"])
    return _func("{0}[" + ":, " * axis + part + "]")


@torch_layer("Select")
def select(node, ins, outs):
    return _func("{0}.select(" + _args(node.attrs["axis"], node.attrs["index"]) + ")")


@torch_layer("GatherElements")
def gather_elements(node, ins, outs):
    # torch.gather takes int64 indices in range; ONNX's negative ones count from the end
    axis = node.attrs["axis"] % ins[0].rank
    index = "torch.where({1} < 0, {1} + {0}.shape[" + str(axis) + "], {1}).long()"
    return _func("torch.gather({0}, " + str(axis) + ", " + index + ")")


@torch_layer("Pad")
def pad(node, ins, outs):
    a = node.attrs
    extra = ""
    if a["mode"] != "constant":
        extra = ", mode=" + lit(a["mode"])
    elif a["value"] != 0.0:
        extra = ", value=" + lit(a["value"])
    return _func("F.pad({0}, " + lit(tuple(a["pads"])) + extra + ")", needs=F)


@torch_layer("Identity")
def identity(node, ins, outs):
    return _func("{0}")


_INTEGER = ("bool", "u8", "i8", "i16", "i32", "i64")


@torch_layer("Mean", "Sum")
def reduce(node, ins, outs):
    a = node.attrs
    args = lit(_single(a["axis"]))
    if a["keepdims"]:
        args += ", keepdim=True"
    if node.op == "Sum" and ins[0].dtype in _INTEGER:  # torch sums integers as int64; the language keeps the dtype
        args += ", dtype={0}.dtype"
    return _func("{0}." + node.op.lower() + "(" + args + ")")


def _single(axes):
    axes = tuple(axes) if isinstance(axes, (tuple, list)) else (axes,)
    return axes[0] if len(axes) == 1 else axes


# ---- merge ---------------------------------------------------------------------------------------

_OPERATORS = {"Add": " + ", "Sub": " - ", "Mul": " * ", "Div": " / "}


@torch_layer(*_OPERATORS)
def arithmetic(node, ins, outs):
    return constant_layer(node) or _func(_OPERATORS[node.op].join(f"{{{i}}}" for i in range(len(ins))))


@torch_layer("Maximum", "Minimum")
def extremum(node, ins, outs):
    with_constant = constant_layer(node)
    if with_constant is not None:
        return with_constant
    fn = "torch.maximum(" if node.op == "Maximum" else "torch.minimum("
    expr = "{0}"
    for i in range(1, len(ins)):
        expr = fn + expr + f", {{{i}}})"
    return _func(expr)


@torch_layer("Average")
def average(node, ins, outs):
    return _func("(" + " + ".join(f"{{{i}}}" for i in range(len(ins))) + ") / " + lit(len(ins)))


@torch_layer("MatMul")
def matmul(node, ins, outs):
    return _func("torch.matmul({0}, {1})")


@torch_layer("Scale")
def scale(node, ins, outs):
    a = node.attrs
    c = _dim(ins[0], a["axis"], "Scale: channels")
    return _module("nnlang_modules.Scale", c, kwargs=_kw(("axis", a["axis"], 1), ("bias", a["bias"], True)),
                   needs=frozenset({"nnlang_modules"}))


# ---- regularisation ------------------------------------------------------------------------------

@torch_layer("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout")
def dropout(node, ins, outs):
    return _module(f"nn.{node.op}", kwargs=_kw(("p", node.attrs["p"], 0.5)))


# ---- losses: (prediction, target) ----------------------------------------------------------------

def _loss(node, *extra) -> TorchLayer:
    return _module(f"nn.{node.op}", kwargs=_kw(*extra), forward="{m}({0}, {1})")


def _tensor(values):
    return None if values is None else TensorLiteral(tuple(values))


@torch_layer("MSELoss", "L1Loss", "BCELoss")
def simple_loss(node, ins, outs):
    return _loss(node, ("reduction", node.attrs["reduction"], "mean"))


@torch_layer("CrossEntropyLoss", "NLLLoss")
def classification_loss(node, ins, outs):
    a = node.attrs
    extra = [("label_smoothing", a["label_smoothing"], 0.0)] if node.op == "CrossEntropyLoss" else []
    return _loss(node, ("weight", _tensor(a["weight"]), None), ("ignore_index", a["ignore_index"], -100),
                 ("reduction", a["reduction"], "mean"), *extra)


@torch_layer("BCEWithLogitsLoss")
def bce_with_logits_loss(node, ins, outs):
    a = node.attrs
    return _loss(node, ("reduction", a["reduction"], "mean"), ("pos_weight", _tensor(a["pos_weight"]), None))


@torch_layer("SmoothL1Loss")
def smooth_l1_loss(node, ins, outs):
    return _loss(node, ("reduction", node.attrs["reduction"], "mean"), ("beta", node.attrs["beta"], 1.0))


@torch_layer("HuberLoss")
def huber_loss(node, ins, outs):
    return _loss(node, ("reduction", node.attrs["reduction"], "mean"), ("delta", node.attrs["delta"], 1.0))


@torch_layer("KLDivLoss")
def kl_div_loss(node, ins, outs):
    return _loss(node, ("reduction", node.attrs["reduction"], "mean"),
                 ("log_target", node.attrs["log_target"], False))


from . import learned  # noqa: E402,F401  (registers the mappings of the learned-tensor family)


# ---- reductions beside Mean / Sum, and elementwise math ------------------------------------------

@torch_layer("Amax", "Amin", "LogSumExp")
def reduce_over_axes(node, ins, outs):
    a = node.attrs
    args = lit(_single(a["axis"])) + (", keepdim=True" if a["keepdims"] else "")
    return _func("{0}." + node.op.lower() + "(" + args + ")")


@torch_layer("Prod")
def prod(node, ins, outs):
    """torch.prod takes one dim: one call per axis, the last first so the others keep their numbers."""
    a = node.attrs
    rank = ins[0].rank
    axes = a["axis"] if isinstance(a["axis"], tuple) else (a["axis"],)
    expr = "{0}"
    dtype = ", dtype={0}.dtype" if ins[0].dtype in _INTEGER else ""  # torch multiplies integers as int64
    for axis in sorted((_axis(x, rank) for x in axes), reverse=True):
        expr += ".prod(" + lit(axis) + (", keepdim=True" if a["keepdims"] else "") + dtype + ")"
    return _func(expr)


@torch_layer("ArgMax", "ArgMin")
def arg_reduce(node, ins, outs):
    a = node.attrs
    fn = node.op.lower()
    axis = _axis(a["axis"], ins[0].rank)
    keep = ", keepdim=True" if a["keepdims"] else ""
    if not a["last"]:
        return _func("{0}." + fn + "(" + lit(axis) + keep + ")")
    # the last of equal values: the first one in the flipped tensor, counted from the end
    size = _dim(ins[0], axis, f"{node.op}: the searched dim")
    return _func(lit(size - 1) + " - {0}.flip(" + lit(axis) + ")." + fn + "(" + lit(axis) + keep + ")")


_METHODS = {"Abs": "abs", "Neg": "neg", "Sign": "sign", "Floor": "floor", "Ceil": "ceil", "Round": "round",
            "Sqrt": "sqrt", "Exp": "exp", "Log": "log", "Reciprocal": "reciprocal", "Erf": "erf", "Sin": "sin",
            "Cos": "cos"}


@torch_layer(*_METHODS)
def elementwise_method(node, ins, outs):
    return _func("{0}." + _METHODS[node.op] + "()")


@torch_layer("Pow")
def power(node, ins, outs):
    if len(ins) == 2:  # ONNX Pow: the result in x's dtype (torch promotes an integer x to a float y)
        cast = "" if ins[0].dtype == ins[1].dtype else ".to(" + TORCH_DTYPES[ins[0].dtype] + ")"
        return _func("torch.pow({0}, {1})" + cast)
    return _func("{0}.pow(" + lit(node.attrs["exponent"]) + ")")


TORCH_DTYPES = {"bool": "torch.bool", "u8": "torch.uint8", "i8": "torch.int8", "i16": "torch.int16",
                "i32": "torch.int32", "i64": "torch.int64", "f16": "torch.float16", "bf16": "torch.bfloat16",
                "f32": "torch.float32", "f64": "torch.float64", "f8e4m3fn": "torch.float8_e4m3fn",
                "f8e4m3fnuz": "torch.float8_e4m3fnuz", "f8e5m2": "torch.float8_e5m2",
                "f8e5m2fnuz": "torch.float8_e5m2fnuz", "f8e8m0": "torch.float8_e8m0fnu"}
_F8_MAX = {"f8e4m3fn": 448.0, "f8e4m3fnuz": 240.0, "f8e5m2": 57344.0, "f8e5m2fnuz": 57344.0}


@torch_layer("Cast")
def cast(node, ins, outs):
    dtype, x = node.attrs["dtype"], "{0}"
    to = ".to(" + TORCH_DTYPES[dtype] + ")"
    if dtype in _F8_MAX or dtype == "f8e8m0":
        if ins[0].dtype[0] != "f" or ins[0].dtype.startswith("f8"):  # clamp / where want a float: exact here
            x = "{0}.to(torch.float32)"
        saturate = node.attrs.get("saturate", True)
        if dtype == "f8e8m0":  # ONNX rounds up to a power of 2 (torch's cast to nearest); f64: log2 exact enough
            up = "torch.exp2(torch.ceil(torch.log2(" + x + ".to(torch.float64))))"
            return _func(up + ".clamp(2.0 ** -127" + (", 2.0 ** 127)" if saturate else ")") + to)
        if saturate:  # torch's cast saturates only to e4m3fn
            return _func(x + f".clamp({-_F8_MAX[dtype]!r}, {_F8_MAX[dtype]!r})" + to)
        if dtype == "f8e4m3fn":  # ONNX: NaN beyond 464 (which rounds to 448), torch clamps
            return _func("torch.where(" + x + ".abs() <= 464.0, " + x + ", float('nan'))" + to)
    return _func("{0}" + to)


@torch_layer("Where")
def where(node, ins, outs):
    return _func("torch.where({0}, {1}, {2})")


_COMPARISONS = {"Equal": " == ", "Greater": " > ", "Less": " < ", "GreaterEqual": " >= ", "LessEqual": " <= "}


@torch_layer(*_COMPARISONS)
def comparison(node, ins, outs):
    return _func("{0}" + _COMPARISONS[node.op] + "{1}")


@torch_layer("LogicalAnd", "LogicalOr", "LogicalXor", "LogicalNot")
def logical(node, ins, outs):
    fn = "torch.logical_" + node.op[len("Logical"):].lower()
    return _func(fn + "(" + _names(len(ins)) + ")")


@torch_layer("ScaledDotProductAttention")
def scaled_dot_product_attention(node, ins, outs):
    a = node.attrs
    args = _names(3)
    if len(ins) == 4:
        args += ", attn_mask={3}"
    if a["is_causal"]:
        args += ", is_causal=True"
    if a["scale"] is not None:
        args += ", scale=" + lit(a["scale"])
    if ins[0].shape[-3] != ins[1].shape[-3]:  # grouped-query attention
        args += ", enable_gqa=True"
    return _func("F.scaled_dot_product_attention(" + args + ")", needs=F)


@torch_layer("Einsum")
def einsum(node, ins, outs):
    return _func("torch.einsum(" + lit(node.attrs["equation"]) + ", " + _names(len(ins)) + ")")


@torch_layer("Hardmax")
def hardmax(node, ins, outs):
    """A one at the (first) argmax along dim: zeros with ones scattered there."""
    d = lit(node.attrs["dim"])
    return _func("torch.zeros_like({0}).scatter(" + d + ", {0}.argmax(" + d + ", keepdim=True), 1.0)")
