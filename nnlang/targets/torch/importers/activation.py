"""Activations: the modules, the functional forms (F.relu, torch.sigmoid, x.relu() ...) and clamp."""

from __future__ import annotations

from .registry import Call, Layer, Unsupported, call_importer, module_importer

_PLAIN = ("ReLU", "ReLU6", "SELU", "SiLU", "Sigmoid", "Tanh", "Hardswish", "Hardsigmoid", "Mish", "Softsign",
          "Identity")


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
    if m.dim is None:
        raise Unsupported(f"{type(m).__name__} without dim (deprecated implicit dim)")
    return Layer(type(m).__name__, {"dim": m.dim})


@module_importer("Softmax2d")
def softmax2d(m, ins):
    return Layer("Softmax", {"dim": -3})  # torch: softmax over the channels of [N, C, H, W] or [C, H, W]


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
    return Layer("PReLU", {"num_parameters": m.num_parameters, "init": float(getattr(m, "init", 0.25))})


# ---- functional forms ----------------------------------------------------------------------------

# F.<name> -> (layer, ((param, position after the input, torch default), ...)).
_FUNCTIONAL = {
    "relu": ("ReLU", ()), "relu6": ("ReLU6", ()), "selu": ("SELU", ()), "silu": ("SiLU", ()),
    "sigmoid": ("Sigmoid", ()), "tanh": ("Tanh", ()), "hardswish": ("Hardswish", ()),
    "hardsigmoid": ("Hardsigmoid", ()), "mish": ("Mish", ()), "softsign": ("Softsign", ()),
    "gelu": ("GELU", (("approximate", None, "none"),)),  # keyword-only in torch
    "leaky_relu": ("LeakyReLU", (("negative_slope", 1, 0.01),)),
    "elu": ("ELU", (("alpha", 1, 1.0),)),
    "celu": ("CELU", (("alpha", 1, 1.0),)),
    "hardtanh": ("Hardtanh", (("min_val", 1, -1.0), ("max_val", 2, 1.0))),
    "softplus": ("Softplus", (("beta", 1, 1.0), ("threshold", 2, 20.0))),
    "threshold": ("Threshold", (("threshold", 1, None), ("value", 2, None))),
}
# Also torch.<name> and x.<name>() (and the in-place x.<name>_()) where torch has them.
_TORCH_TOO = {"relu", "selu", "sigmoid", "tanh", "threshold"}
_METHOD_TOO = {"relu", "sigmoid", "tanh"}
_INPLACE_F = {"relu", "relu6", "selu", "silu", "hardswish", "hardsigmoid", "mish", "leaky_relu", "elu", "celu",
              "hardtanh", "threshold"}


def _functional(op: str, params: tuple):
    def importer(call: Call):
        values = {}
        for name, index, default in params:
            value = call.kwargs.get(name, default) if index is None else call.arg(index, name, default)
            values[name] = value
        return Layer(op, values, [call.args[0]])

    return importer


def _keys(name: str) -> list:
    keys = [f"function:torch.nn.functional.{name}"]
    if name in _INPLACE_F:
        keys.append(f"function:torch.nn.functional.{name}_")
    if name in _TORCH_TOO:
        keys += [f"function:torch.{name}", f"function:torch.{name}_"]
    if name in _METHOD_TOO:
        keys += [f"method:{name}", f"method:{name}_"]
    return keys


for _name, (_op, _params) in _FUNCTIONAL.items():
    call_importer(*dict.fromkeys(_keys(_name)))(_functional(_op, _params))


@call_importer("function:torch.nn.functional.softmax", "method:softmax", "function:torch.softmax")
def softmax_call(call: Call):
    return Layer("Softmax", {"dim": call.arg(1, "dim")}, [call.args[0]])


@call_importer("function:torch.nn.functional.log_softmax", "method:log_softmax", "function:torch.log_softmax")
def log_softmax_call(call: Call):
    return Layer("LogSoftmax", {"dim": call.arg(1, "dim")}, [call.args[0]])


@call_importer("function:torch.clamp", "function:torch.clip", "method:clamp", "method:clip", "method:clamp_",
               "method:clip_")
def clamp(call: Call):
    """clamp(min=0) is ReLU, (0, 6) ReLU6, (a, b) Hardtanh(a, b), one bound alone Maximum(a) / Minimum(b)."""
    low, high = call.arg(1, "min"), call.arg(2, "max")
    if not all(v is None or isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)):
        raise Unsupported("clamp to tensor bounds")
    x = call.args[0]
    if low is None and high is None:
        raise Unsupported("clamp without a bound")
    if low is None:
        return Layer("Minimum", {"value": high}, [x])
    if high is None:
        return Layer("ReLU", {}, [x]) if low == 0 else Layer("Maximum", {"value": low}, [x])
    if (low, high) == (0, 6):
        return Layer("ReLU6", {}, [x])
    return Layer("Hardtanh", {"min_val": low, "max_val": high}, [x])
