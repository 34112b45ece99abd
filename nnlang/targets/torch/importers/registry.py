"""The importer tables and the small helpers the families share.

A module importer takes the module and its input shapes and returns `Layer(op, params)`: the
registry layer and the .nns parameters that rebuild the same module (only what the language cannot
infer: in_channels, in_features ... are left out). A call importer takes a traced function / method
call (`torch.cat`, `x + y`, `x.view(...)`) and returns the layer plus which arguments are its
tensor inputs. Raising `Unsupported` says the thing has no registry layer, and why.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass

from ...importing import Layer, Unsupported  # noqa: F401  (the shared importer types, re-exported)
from ...registry import Registry


@dataclass
class Call:
    """A traced call: target, args and kwargs as fx gives them, plus shapes of every tensor value."""

    target: object
    args: tuple
    kwargs: dict
    shape: Callable  # fx value -> tuple of ints (a tensor) or None
    out_shape: tuple | None  # the result's shape, when a tensor

    def arg(self, index: int, name: str, default=None):
        if len(self.args) > index:
            return self.args[index]
        return self.kwargs.get(name, default)


# Calls that compute sizes, not tensors: their results only feed other calls' arguments.
SIZE_CALLS = frozenset(("method:size", "method:dim", "function:builtins.getattr", "function:_operator.getitem"))
MODULES = Registry("PyTorch module importer")  # class name (torch.nn, nnlang's own) -> fn(module, in_shapes) -> Layer
CALLS = Registry("PyTorch call importer")  # key (see call_keys) -> function(Call) -> Layer
# Where mapped module classes live: torch.nn, and the modules nnlang's emitted code uses (Scale).
MODULE_NAMESPACES = ("torch.nn.", "nnlang.targets.torch.modules")
# Classes elsewhere that are exactly a registry layer, by their full name (ConvNeXt's, EfficientNet's, Swin's).
FOREIGN_MODULES = frozenset(("torchvision.ops.stochastic_depth.StochasticDepth",
                             "torchvision.models.convnext.LayerNorm2d",
                             "torchvision.models.swin_transformer.ShiftedWindowAttention",
                             "torchvision.models.swin_transformer.PatchMerging",
                             "torchvision.models.swin_transformer.ShiftedWindowAttentionV2",
                             "torchvision.models.swin_transformer.PatchMergingV2",
                             "timm.layers.std_conv.StdConv2d", "timm.layers.std_conv.ScaledStdConv2d",
                             "timm.layers.std_conv.StdConv2dSame", "timm.layers.std_conv.ScaledStdConv2dSame"))
# fx node meta key: parameters a rewrite (patterns.py) decided, overriding the module importer's.
PARAMS_META = "nnlang_params"


def module_importer(*class_names: str):
    return MODULES.decorator(*class_names)


def call_importer(*keys: str):
    """Keys: "function:torch.cat", "function:_operator.add", "method:view" ..."""
    return CALLS.decorator(*keys)


def function_key(fn) -> str:
    """The key of a plain Python function (the marker functions rewrites insert)."""
    return f"function:{fn.__module__}.{fn.__name__}"


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


def module_importer_for(module):
    """The importer of a module's class, or None (a class outside torch.nn and nnlang's own modules is
    never mapped by its short name: a user's class called Conv2d is the user's; FOREIGN_MODULES by full name)."""
    cls = type(module)
    if not cls.__module__.startswith(MODULE_NAMESPACES) and f"{cls.__module__}.{cls.__name__}" not in FOREIGN_MODULES:
        return None
    return MODULES.get(cls.__name__)


def is_mapped_module(module) -> bool:
    return module_importer_for(module) is not None


# ---- helpers -------------------------------------------------------------------------------------

def t_(v):
    """A list (as torch stores some sizes) as a tuple; anything else unchanged."""
    return tuple(v) if isinstance(v, (list, tuple)) else v


def int_or_tuple(v):
    """(k, k, k) -> k: one int for all dims, as a person writes it."""
    v = t_(v)
    if isinstance(v, tuple) and v and all(x == v[0] for x in v):
        return v[0]
    return v


def f32(v: float) -> float:
    """The shortest decimal that is the same float32: a tensor's 0.1 prints as 0.1, not 0.10000000149."""
    v = float(v)
    if not math.isfinite(v):
        return v
    bits = struct.pack("<f", v)
    for digits in range(1, 10):
        short = float(f"{v:.{digits}g}")
        if struct.pack("<f", short) == bits:
            return short
    return v


def floats(tensor) -> tuple:
    """A small constant tensor (class weights) as a tuple of plain floats."""
    return tuple(f32(x) for x in tensor.detach().flatten().tolist())


def is_tensor(call: Call, v) -> bool:
    return call.shape(v) is not None


def no_tensor_args(call: Call, what: str, *names_at: tuple) -> None:
    """Refuse a functional call given tensors (weights, running statistics) at these (index, name)s: .nns
    layers own their weights, so only the module form of such a layer imports."""
    from torch import fx

    for index, name in names_at:
        if isinstance(call.arg(index, name), fx.Node):
            raise Unsupported(f"{what} with a {name} tensor: .nns layers own their weights; use the module form")
