"""PyTorch -> registry layers: one small registered function per nn.Module class or traced call.

The reverse of layers.py. A module importer takes the module and its input shapes and returns
`Layer(op, params)`: the registry layer and the .nns parameters that rebuild the same module
(only what the language cannot infer: in_channels, in_features ... are left out). A call
importer takes a traced function / method call (`torch.cat`, `x + y`, `x.view(...)`) and returns
the layer plus which arguments are its tensor inputs.

Imported inside the torch target only; torch is imported by the caller.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable, Optional


class Unsupported(Exception):
    """This module or call has no registry layer (the message says what it is)."""


@dataclass
class Layer:
    op: str
    params: dict = field(default_factory=dict)
    inputs: Optional[list] = None  # for calls: the fx arguments that are the layer's inputs, in order


@dataclass
class Call:
    """A traced call: target, args and kwargs as fx gives them, plus shapes of every tensor value."""

    target: object
    args: tuple
    kwargs: dict
    shape: Callable  # fx value -> tuple of ints (a tensor) or None
    out_shape: Optional[tuple]  # the result's shape, when a tensor

    def arg(self, index: int, name: str, default=None):
        if len(self.args) > index:
            return self.args[index]
        return self.kwargs.get(name, default)


# Calls that compute sizes, not tensors: their results only feed other calls' arguments.
SIZE_CALLS = frozenset(("method:size", "method:dim", "function:builtins.getattr", "function:_operator.getitem"))
MODULES: dict = {}  # class name (torch.nn) -> function(module, in_shapes) -> Layer
CALLS: dict = {}  # key (see call_key) -> function(Call) -> Layer


def module_importer(*class_names: str):
    def register(fn):
        for name in class_names:
            if name in MODULES:
                raise RuntimeError(f"module importer for {name} defined twice")
            MODULES[name] = fn
        return fn

    return register


def call_importer(*keys: str):
    """Keys: "function:torch.cat", "function:_operator.add", "method:view" ..."""

    def register(fn):
        for key in keys:
            if key in CALLS:
                raise RuntimeError(f"call importer for {key} defined twice")
            CALLS[key] = fn
        return fn

    return register


def call_keys(kind: str, target) -> list:
    """Every name the call goes by: "method:view", or "function:torch.cat" and its aliases."""
    if kind == "call_method":
        return [f"method:{target}"]
    names = _function_names().get(id(target))
    if names:
        return [f"function:{n}" for n in names]
    module = getattr(target, "__module__", None) or ""
    return [f"function:{module}.{getattr(target, '__name__', repr(target))}"]


def find_call(kind: str, target):
    """(key, importer) for a call, importer None when no layer matches; key names it in messages."""
    keys = call_keys(kind, target)
    for key in keys:
        if key in CALLS:
            return key, CALLS[key]
    for key in keys:
        if key in SIZE_CALLS:
            return key, None
    return keys[0], None


@functools.lru_cache(maxsize=1)
def _function_names() -> dict:
    """id(function) -> its public names in operator, torch.nn.functional and torch (built once)."""
    import operator as op_module

    import torch
    import torch.nn.functional as F

    names: dict = {}
    for prefix, namespace in (("_operator", op_module), ("torch.nn.functional", F), ("torch", torch)):
        for attr in dir(namespace):
            if attr.startswith("__"):
                continue
            obj = getattr(namespace, attr, None)
            if callable(obj) and not isinstance(obj, type):
                names.setdefault(id(obj), []).append(f"{prefix}.{attr}")
    return names


def is_mapped_module(module) -> bool:
    cls = type(module)
    return cls.__module__.startswith("torch.nn.") and cls.__name__ in MODULES


# ---- helpers -------------------------------------------------------------------------------------

def _t(v):
    return tuple(v) if isinstance(v, (list, tuple)) else v


def _int_or_tuple(v):
    v = _t(v)
    if isinstance(v, tuple) and v and all(x == v[0] for x in v):
        return v[0]
    return v


# ---- convolution and pooling ---------------------------------------------------------------------

@module_importer("Conv1d", "Conv2d", "Conv3d")
def conv(m, ins):
    if m.padding_mode != "zeros":
        raise Unsupported(f"{type(m).__name__} with padding_mode={m.padding_mode!r}")
    params = {"kernel": _int_or_tuple(m.kernel_size), "stride": _int_or_tuple(m.stride),
              "dilation": _int_or_tuple(m.dilation), "bias": m.bias is not None}
    padding = m.padding if isinstance(m.padding, str) else _int_or_tuple(m.padding)
    params["padding"] = padding
    params["groups"] = m.groups
    return Layer(type(m).__name__, {"out_channels": m.out_channels, **params})


@module_importer("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
def conv_transpose(m, ins):
    if m.padding_mode != "zeros":
        raise Unsupported(f"{type(m).__name__} with padding_mode={m.padding_mode!r}")
    return Layer(type(m).__name__, {
        "out_channels": m.out_channels, "kernel": _int_or_tuple(m.kernel_size), "stride": _int_or_tuple(m.stride),
        "padding": _int_or_tuple(m.padding), "output_padding": _int_or_tuple(m.output_padding),
        "groups": m.groups, "dilation": _int_or_tuple(m.dilation), "bias": m.bias is not None})


@module_importer("MaxPool1d", "MaxPool2d", "MaxPool3d")
def max_pool(m, ins):
    if m.return_indices:
        raise Unsupported(f"{type(m).__name__} with return_indices=True")
    return Layer(type(m).__name__, {"kernel": _int_or_tuple(m.kernel_size), "stride": _stride(m),
                                    "padding": _int_or_tuple(m.padding), "dilation": _int_or_tuple(m.dilation),
                                    "ceil_mode": bool(m.ceil_mode)})


def _stride(m):
    """None (the registry's "same as the window") where torch stored the window size as the stride."""
    stride, kernel = _int_or_tuple(m.stride), _int_or_tuple(m.kernel_size)
    return None if stride == kernel or stride is None else stride


@module_importer("AvgPool1d", "AvgPool2d", "AvgPool3d")
def avg_pool(m, ins):
    if getattr(m, "divisor_override", None) is not None:
        raise Unsupported(f"{type(m).__name__} with divisor_override")
    return Layer(type(m).__name__, {"kernel": _int_or_tuple(m.kernel_size), "stride": _stride(m),
                                    "padding": _int_or_tuple(m.padding), "ceil_mode": bool(m.ceil_mode),
                                    "count_include_pad": bool(m.count_include_pad)})


@module_importer("AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
                 "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d")
def adaptive_pool(m, ins):
    size = _t(m.output_size)
    if getattr(m, "return_indices", False):
        raise Unsupported(f"{type(m).__name__} with return_indices=True")
    if isinstance(size, tuple) and any(s is None for s in size):
        spatial = ins[0][2:]
        size = tuple(spatial[i] if s is None else s for i, s in enumerate(size))
    return Layer(type(m).__name__, {"output_size": _int_or_tuple(size)})


# ---- dense ---------------------------------------------------------------------------------------

@module_importer("Linear")
def linear(m, ins):
    return Layer("Linear", {"out_features": m.out_features, "bias": m.bias is not None})


@module_importer("Embedding")
def embedding(m, ins):
    return Layer("Embedding", {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim,
                               "padding_idx": m.padding_idx, "max_norm": m.max_norm,
                               "norm_type": float(m.norm_type), "scale_grad_by_freq": m.scale_grad_by_freq,
                               "sparse": m.sparse})


# ---- normalisation -------------------------------------------------------------------------------

@module_importer("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
def batch_norm(m, ins):
    return Layer(type(m).__name__, {"eps": float(m.eps), "momentum": m.momentum, "affine": m.affine,
                                    "track_running_stats": m.track_running_stats})


@module_importer("LayerNorm")
def layer_norm(m, ins):
    return Layer("LayerNorm", {"normalized_shape": _t(m.normalized_shape), "eps": float(m.eps),
                               "elementwise_affine": m.elementwise_affine,
                               "bias": getattr(m, "bias", None) is not None or not m.elementwise_affine})


@module_importer("GroupNorm")
def group_norm(m, ins):
    return Layer("GroupNorm", {"num_groups": m.num_groups, "eps": float(m.eps), "affine": m.affine})


@module_importer("LocalResponseNorm")
def local_response_norm(m, ins):
    return Layer("LocalResponseNorm", {"size": m.size, "alpha": float(m.alpha), "beta": float(m.beta),
                                       "k": float(m.k)})


# ---- activations ---------------------------------------------------------------------------------

_PLAIN = ("ReLU", "ReLU6", "SELU", "SiLU", "Sigmoid", "Tanh", "Hardswish", "Hardsigmoid", "Mish", "Softsign",
          "Tanhshrink", "Identity")


@module_importer(*_PLAIN)
def plain(m, ins):
    return Layer(type(m).__name__)


@module_importer("LeakyReLU")
def leaky_relu(m, ins):
    return Layer("LeakyReLU", {"negative_slope": float(m.negative_slope)})


@module_importer("ELU", "CELU")
def elu(m, ins):
    return Layer(type(m).__name__, {"alpha": float(m.alpha)})


@module_importer("GELU")
def gelu(m, ins):
    return Layer("GELU", {"approximate": m.approximate})


@module_importer("Softmax", "LogSoftmax")
def softmax(m, ins):
    dim = m.dim
    if dim is None:
        raise Unsupported(f"{type(m).__name__} without dim (deprecated implicit dim)")
    return Layer(type(m).__name__, {"dim": dim})


@module_importer("Hardtanh")
def hardtanh(m, ins):
    return Layer("Hardtanh", {"min_val": float(m.min_val), "max_val": float(m.max_val)})


@module_importer("Softplus")
def softplus(m, ins):
    return Layer("Softplus", {"beta": float(m.beta), "threshold": float(m.threshold)})


@module_importer("Threshold")
def threshold(m, ins):
    return Layer("Threshold", {"threshold": float(m.threshold), "value": float(m.value)})


@module_importer("PReLU")
def prelu(m, ins):
    n = m.num_parameters
    return Layer("PReLU", {"num_parameters": n, "init": float(m.init) if hasattr(m, "init") else 0.25})


# ---- regularisation ------------------------------------------------------------------------------

@module_importer("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout")
def dropout(m, ins):
    return Layer(type(m).__name__, {"p": float(m.p)})


# ---- shape ---------------------------------------------------------------------------------------

@module_importer("Flatten")
def flatten_module(m, ins):
    return Layer("Flatten", {"start_dim": m.start_dim, "end_dim": m.end_dim})


# ---- recurrent and attention ---------------------------------------------------------------------

@module_importer("RNN", "LSTM", "GRU")
def recurrent(m, ins):
    if getattr(m, "proj_size", 0):
        raise Unsupported("LSTM with proj_size")
    params = {"hidden_size": m.hidden_size, "num_layers": m.num_layers, "bias": m.bias,
              "batch_first": m.batch_first, "dropout": float(m.dropout), "bidirectional": m.bidirectional,
              "return_state": True}
    if type(m).__name__ == "RNN":
        params["nonlinearity"] = m.nonlinearity
    return Layer(type(m).__name__, params)


@module_importer("MultiheadAttention")
def multihead_attention(m, ins):
    if m.add_zero_attn:
        raise Unsupported("MultiheadAttention with add_zero_attn=True")
    return Layer("MultiheadAttention", {"num_heads": m.num_heads, "dropout": float(m.dropout),
                                        "bias": m.in_proj_bias is not None, "add_bias_kv": m.bias_k is not None,
                                        "batch_first": m.batch_first, "need_weights": True})


# ---- calls: functions and methods ----------------------------------------------------------------

def _is_tensor(call: Call, v) -> bool:
    return call.shape(v) is not None


@call_importer("function:_operator.add", "function:torch.add", "method:add", "function:_operator.iadd",
               "method:add_")
def add(call: Call):
    return _binary(call, "Add")


@call_importer("function:_operator.sub", "function:torch.sub", "method:sub")
def sub(call: Call):
    return _binary(call, "Sub")


@call_importer("function:_operator.mul", "function:torch.mul", "method:mul", "function:_operator.imul",
               "method:mul_")
def mul(call: Call):
    return _binary(call, "Mul")


@call_importer("function:_operator.truediv", "function:torch.div", "method:div")
def div(call: Call):
    return _binary(call, "Div")


def _binary(call: Call, op: str) -> Layer:
    a, b = call.args[0], call.args[1]
    if not (_is_tensor(call, a) and _is_tensor(call, b)):
        raise Unsupported(f"{op} of a tensor and a constant (write the constant as a layer parameter)")
    if call.kwargs.get("alpha", 1) != 1:
        raise Unsupported(f"{op} with alpha")
    return Layer(op, {}, [a, b])


@call_importer("function:_operator.matmul", "function:torch.matmul", "method:matmul")
def matmul(call: Call):
    return Layer("MatMul", {}, [call.args[0], call.args[1]])


@call_importer("function:torch.maximum")
def maximum(call: Call):
    return Layer("Maximum", {}, [call.args[0], call.args[1]])


@call_importer("function:torch.minimum")
def minimum(call: Call):
    return Layer("Minimum", {}, [call.args[0], call.args[1]])


@call_importer("function:torch.cat", "function:torch.concat", "function:torch.concatenate")
def cat(call: Call):
    tensors = call.arg(0, "tensors")
    dim = call.arg(1, "dim", 0)
    if not isinstance(tensors, (list, tuple)):
        raise Unsupported("torch.cat of something that is not a list of tensors")
    return Layer("Concat", {"axis": dim}, list(tensors))


@call_importer("function:torch.flatten", "method:flatten")
def flatten(call: Call):
    return Layer("Flatten", {"start_dim": call.arg(1, "start_dim", 0), "end_dim": call.arg(2, "end_dim", -1)},
                 [call.args[0]])


@call_importer("method:view", "method:reshape", "function:torch.reshape")
def reshape(call: Call):
    """By shapes: [N, ...] -> [N, prod] is Flatten; anything else keeping the batch dim is Reshape."""
    x = call.args[0]
    src, dst = call.shape(x), call.out_shape
    if src is None or dst is None or not src or not dst or src[0] != dst[0]:
        raise Unsupported("a reshape that changes the batch dim")
    if len(dst) == 2 and len(src) >= 2:
        return Layer("Flatten", {"start_dim": 1, "end_dim": -1}, [x])
    return Layer("Reshape", {"shape": tuple(dst[1:])}, [x])


@call_importer("method:permute", "function:torch.permute")
def permute(call: Call):
    dims = call.args[1:] if len(call.args) > 2 else call.arg(1, "dims")
    if len(call.args) == 2 and isinstance(call.args[1], int):
        dims = (call.args[1],)
    return Layer("Permute", {"dims": tuple(dims)}, [call.args[0]])


@call_importer("method:transpose", "function:torch.transpose")
def transpose(call: Call):
    return Layer("Transpose", {"dim0": call.arg(1, "dim0"), "dim1": call.arg(2, "dim1")}, [call.args[0]])


@call_importer("method:contiguous", "function:torch.nn.functional.dropout", "method:clone",
               "function:torch.nn.functional.dropout2d")
def identity(call: Call):
    """No layer: the value passes through (dropout as a function is inert in the eval-mode trace)."""
    return Layer("Identity", {}, [call.args[0]])


@call_importer("method:unsqueeze", "function:torch.unsqueeze")
def unsqueeze(call: Call):
    return Layer("Unsqueeze", {"dim": call.arg(1, "dim")}, [call.args[0]])


@call_importer("method:squeeze", "function:torch.squeeze")
def squeeze(call: Call):
    dim = call.arg(1, "dim")
    if dim is None:
        raise Unsupported("squeeze without a dim (which dims go depends on the data)")
    return Layer("Squeeze", {"dim": dim}, [call.args[0]])


@call_importer("method:mean", "function:torch.mean")
def mean(call: Call):
    return _reduce(call, "Mean")


@call_importer("method:sum", "function:torch.sum")
def sum_(call: Call):
    return _reduce(call, "Sum")


def _reduce(call: Call, op: str) -> Layer:
    dim = call.arg(1, "dim")
    if dim is None:
        raise Unsupported(f"{op.lower()} over all dims")
    keep = call.arg(2, "keepdim", False)
    return Layer(op, {"axis": _t(dim), "keepdims": bool(keep)}, [call.args[0]])


_FUNCTIONAL_ACTIVATIONS = {
    "relu": "ReLU", "relu6": "ReLU6", "selu": "SELU", "silu": "SiLU", "sigmoid": "Sigmoid", "tanh": "Tanh",
    "hardswish": "Hardswish", "hardsigmoid": "Hardsigmoid", "mish": "Mish", "gelu": "GELU",
}


def _activation_call(op: str):
    def importer(call: Call):
        params = {}
        if op == "GELU":
            params["approximate"] = call.kwargs.get("approximate", "none")
        return Layer(op, params, [call.args[0]])

    return importer


for _name, _op in _FUNCTIONAL_ACTIVATIONS.items():
    keys = [f"function:torch.nn.functional.{_name}", f"method:{_name}", f"method:{_name}_"]
    if _name in ("relu", "selu", "sigmoid", "tanh"):
        keys.append(f"function:torch.{_name}")
        keys.append(f"function:torch.{_name}_")
    if _name in ("relu", "relu6", "hardswish", "hardsigmoid", "silu", "selu"):
        keys.append(f"function:torch.nn.functional.{_name}_")
    call_importer(*dict.fromkeys(keys))(_activation_call(_op))


@call_importer("function:torch.nn.functional.softmax", "method:softmax", "function:torch.softmax")
def softmax_call(call: Call):
    return Layer("Softmax", {"dim": call.arg(1, "dim")}, [call.args[0]])


@call_importer("function:torch.nn.functional.log_softmax", "method:log_softmax", "function:torch.log_softmax")
def log_softmax_call(call: Call):
    return Layer("LogSoftmax", {"dim": call.arg(1, "dim")}, [call.args[0]])


@call_importer("function:torch.nn.functional.adaptive_avg_pool2d")
def adaptive_avg_pool2d(call: Call):
    return Layer("AdaptiveAvgPool2d", {"output_size": _int_or_tuple(call.arg(1, "output_size"))}, [call.args[0]])


@call_importer("function:torch.nn.functional.max_pool2d")
def max_pool2d(call: Call):
    kernel = call.arg(1, "kernel_size")
    stride = call.arg(2, "stride") or kernel
    return Layer("MaxPool2d", {"kernel": _int_or_tuple(kernel), "stride": _int_or_tuple(stride),
                               "padding": _int_or_tuple(call.arg(3, "padding", 0)),
                               "dilation": _int_or_tuple(call.arg(4, "dilation", 1)),
                               "ceil_mode": bool(call.arg(5, "ceil_mode", False))}, [call.args[0]])


@call_importer("function:torch.nn.functional.avg_pool2d")
def avg_pool2d(call: Call):
    kernel = call.arg(1, "kernel_size")
    stride = call.arg(2, "stride") or kernel
    if call.arg(6, "divisor_override") is not None:
        raise Unsupported("avg_pool2d with divisor_override")
    return Layer("AvgPool2d", {"kernel": _int_or_tuple(kernel), "stride": _int_or_tuple(stride),
                               "padding": _int_or_tuple(call.arg(3, "padding", 0)),
                               "ceil_mode": bool(call.arg(4, "ceil_mode", False)),
                               "count_include_pad": bool(call.arg(5, "count_include_pad", True))}, [call.args[0]])


