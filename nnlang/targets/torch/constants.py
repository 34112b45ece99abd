"""PyTorch mapping of the elementwise layers' constant operand (nnlang/layers/constants.py).

A number is written into forward as hand-written code has it (`x * 0.125`, `1.0 - x`, `x.clamp(min=0.0)`);
a tensor constant is a bare nn.Buffer (or nn.Parameter, learned=true) on the parent module under the
layer's name, so its state_dict key is the layer's path: `self.scale = nn.Buffer(torch.ones(1, 1, 197))`
and `x * self.scale` in forward. Nothing here imports torch.
"""

from __future__ import annotations

from typing import Optional

from .mapping import ParameterCall, TorchLayer, lit

_OPERATORS = {"Add": " + ", "Sub": " - ", "Mul": " * ", "Div": " / "}
_CLAMP = {"Maximum": "min", "Minimum": "max"}
# A fresh constant tensor is the operation's identity where it has one: a built network computes x.
_IDENTITY = {"Mul": 1.0, "Div": 1.0}


def constant_layer(node) -> Optional[TorchLayer]:
    """The layer of the one-tensor form, or None for the form over tensors."""
    a = node.attrs
    value, shape = a.get("value"), a.get("shape")
    if value is None and shape is None:
        return None
    reverse = a.get("reverse", False)
    if shape is None:
        c = lit(value)
        if node.op in _CLAMP:
            return TorchLayer(None, "{0}.clamp(" + _CLAMP[node.op] + "=" + c + ")")
        operands = (c, "{0}") if reverse else ("{0}", c)
        return TorchLayer(None, _OPERATORS[node.op].join(operands))
    if node.op in _CLAMP:
        forward = "torch.maximum({0}, {m})" if node.op == "Maximum" else "torch.minimum({0}, {m})"
    else:
        forward = _OPERATORS[node.op].join(("{m}", "{0}") if reverse else ("{0}", "{m}"))
    value = _IDENTITY.get(node.op, 0.0)
    call = ParameterCall(tuple(shape), "full" if value else "zeros", value, buffer=not a["learned"])
    return TorchLayer(call, forward)
