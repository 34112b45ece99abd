"""Elementwise and merge layers: the operators and torch functions on two tensors, MatMul, Scale.
(Average, and Add / Mul over several tensors, are idioms several calls long: see patterns.py.)
A number operand (`x * 0.5`, `1 - x`) is the layer's constant (`Mul(0.5)`, `Sub(1, reverse=true)`); a
tensor attribute operand (`x + self.bias_table`) is rewritten first (constants.py)."""

from __future__ import annotations

from .registry import Call, Layer, Unsupported, call_importer, is_tensor, module_importer


def _binary(call: Call, op: str) -> Layer:
    a, b = call.args[0], call.arg(1, "other")
    if call.kwargs.get("alpha", 1) != 1 or call.kwargs.get("rounding_mode") is not None:
        raise Unsupported(f"{op} with {'alpha' if 'alpha' in call.kwargs else 'rounding_mode'}")
    if is_tensor(call, a) and is_tensor(call, b):
        return Layer(op, {}, [a, b])
    x, c = (a, b) if is_tensor(call, a) else (b, a)
    if not is_tensor(call, x):
        raise Unsupported(f"{op} of two numbers that forward computes")
    if isinstance(c, bool) or not isinstance(c, (int, float)) or c != c:
        # a size computed in forward (x.shape[-1] ** -0.5) is no constant the text can hold
        what = "a value computed in forward" if hasattr(c, "op") else repr(c)
        raise Unsupported(f"{op} of a tensor and {what} (a constant operand must be a number)")
    params = {"value": c}
    if x is b and op in ("Sub", "Div"):
        params["reverse"] = True  # the number first: 1 - x, 1 / x
    return Layer(op, params, [x])


@call_importer("function:_operator.add", "function:torch.add", "method:add", "function:_operator.iadd",
               "method:add_")
def add(call: Call):
    return _binary(call, "Add")


@call_importer("function:_operator.sub", "function:torch.sub", "method:sub", "function:_operator.isub",
               "function:torch.subtract")
def sub(call: Call):
    return _binary(call, "Sub")


@call_importer("function:_operator.mul", "function:torch.mul", "method:mul", "function:_operator.imul",
               "method:mul_", "function:torch.multiply")
def mul(call: Call):
    return _binary(call, "Mul")


@call_importer("function:_operator.truediv", "function:torch.div", "method:div", "function:torch.true_divide",
               "function:torch.divide", "function:_operator.itruediv")
def div(call: Call):
    return _binary(call, "Div")


@call_importer("function:_operator.matmul", "function:torch.matmul", "method:matmul", "function:torch.bmm",
               "method:bmm", "function:torch.mm", "method:mm")
def matmul(call: Call):
    return Layer("MatMul", {}, [call.args[0], call.args[1]])


@call_importer("function:torch.maximum", "method:maximum", "function:torch.max", "method:max")
def maximum(call: Call):
    return _extremum(call, "Maximum")


@call_importer("function:torch.minimum", "method:minimum", "function:torch.min", "method:min")
def minimum(call: Call):
    return _extremum(call, "Minimum")


def _extremum(call: Call, op: str) -> Layer:
    """torch.max(a, b) of two tensors; torch.max(x, dim) is a reduction (values and indices): no layer."""
    other = call.arg(1, "other")
    if other is None or not is_tensor(call, other):
        raise Unsupported(f"{op.lower()[:3]} over a dim (values and indices) or with a constant")
    return _binary(call, op)


@module_importer("Scale")
def scale(m, ins):
    """nnlang's own module for Scale (what emitted code constructs)."""
    return Layer("Scale", {"bias": m.bias is not None, "axis": m.axis})
