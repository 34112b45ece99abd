"""Elementwise math (x.abs(), torch.exp(x), x.pow(2.0), x.to(torch.float64) ...) and the reductions beside
mean / sum (amax, amin, prod, logsumexp, argmax, argmin)."""

from __future__ import annotations

import torch

from .registry import Call, Layer, Unsupported, call_importer, t_
from .shape import _own_dtype

_UNARY = {"abs": "Abs", "neg": "Neg", "negative": "Neg", "sign": "Sign", "floor": "Floor", "ceil": "Ceil",
          "round": "Round", "sqrt": "Sqrt", "exp": "Exp", "log": "Log", "reciprocal": "Reciprocal", "erf": "Erf",
          "sin": "Sin", "cos": "Cos"}


def _unary(op: str):
    def importer(call: Call):
        if op == "Round" and call.arg(1, "decimals", 0):
            raise Unsupported("round with decimals")
        return Layer(op, {}, [call.args[0]])

    return importer


for _name, _op in _UNARY.items():
    call_importer(f"method:{_name}", f"function:torch.{_name}", f"method:{_name}_")(_unary(_op))
call_importer("function:_operator.neg")(_unary("Neg"))
call_importer("function:torch.special.erf")(_unary("Erf"))


@call_importer("function:torch.where")
def where(call: Call):
    if call.kwargs or len(call.args) != 3 or not all(hasattr(a, "op") for a in call.args):
        raise Unsupported("where other than torch.where(condition, x, y) of three tensors")
    return Layer("Where", {}, list(call.args))


@call_importer("function:torch.gather", "method:gather")
def gather(call: Call):
    dim, index = call.arg(1, "dim"), call.arg(2, "index")
    if not isinstance(dim, int) or not hasattr(index, "op") or call.kwargs.get("sparse_grad"):
        raise Unsupported("gather other than gather(x, dim, index) of a tensor of indices")
    return Layer("GatherElements", {"axis": dim}, [call.args[0], index])


@call_importer("method:pow", "function:torch.pow", "function:_operator.pow")
def power(call: Call):
    exponent = call.arg(1, "exponent")
    if isinstance(exponent, bool) or not isinstance(exponent, (int, float)) or not isinstance(call.args[0], object):
        raise Unsupported("pow with a tensor exponent")
    if not hasattr(call.args[0], "op"):
        raise Unsupported("pow of a number by a tensor")
    return Layer("Pow", {"exponent": float(exponent)}, [call.args[0]])


_DTYPES = {torch.bool: "bool", torch.uint8: "u8", torch.int8: "i8", torch.int16: "i16", torch.int32: "i32",
           torch.int64: "i64", torch.float16: "f16", torch.bfloat16: "bf16", torch.float32: "f32",
           torch.float64: "f64"}
_METHOD_DTYPES = {"float": torch.float32, "double": torch.float64, "half": torch.float16, "long": torch.int64,
                  "int": torch.int32, "bool": torch.bool, "bfloat16": torch.bfloat16}


@call_importer("method:to", "method:type")
def to(call: Call):
    dtype = call.arg(1, "dtype")
    if call.kwargs.get("dtype") is not None:
        dtype = call.kwargs["dtype"]
    if dtype not in _DTYPES or len(call.args) > 2:
        raise Unsupported("to() other than to(dtype) (devices are not part of a .nns network)")
    return Layer("Cast", {"dtype": _DTYPES[dtype]}, [call.args[0]])


for _name, _dt in _METHOD_DTYPES.items():
    call_importer(f"method:{_name}")(lambda call, _dt=_dt: Layer("Cast", {"dtype": _DTYPES[_dt]}, [call.args[0]]))


def _reduce(op: str):
    def importer(call: Call):
        dim = call.arg(1, "dim")
        if dim is None:
            raise Unsupported(f"{op.lower()} over all dims")
        return Layer(op, {"axis": t_(dim), "keepdims": bool(call.arg(2, "keepdim", False))}, [call.args[0]])

    return importer


call_importer("method:amin", "function:torch.amin")(_reduce("Amin"))
call_importer("method:logsumexp", "function:torch.logsumexp")(_reduce("LogSumExp"))


@call_importer("method:prod", "function:torch.prod")
def prod(call: Call):
    if not _own_dtype(call.args[0], call.kwargs.get("dtype")):
        raise Unsupported("prod with a dtype other than its input's")
    dim = call.arg(1, "dim")
    if dim is None:
        raise Unsupported("prod over all dims")
    return Layer("Prod", {"axis": t_(dim), "keepdims": bool(call.arg(2, "keepdim", False))}, [call.args[0]])


def _arg(op: str):
    def importer(call: Call):
        dim = call.arg(1, "dim")
        if dim is None:
            raise Unsupported(f"{op.lower()} over the flattened tensor (no dim)")
        return Layer(op, {"axis": int(dim), "keepdims": bool(call.arg(2, "keepdim", False))}, [call.args[0]])

    return importer


call_importer("method:argmax", "function:torch.argmax")(_arg("ArgMax"))
call_importer("method:argmin", "function:torch.argmin")(_arg("ArgMin"))


_COMPARISONS = {"eq": "Equal", "gt": "Greater", "lt": "Less", "ge": "GreaterEqual", "le": "LessEqual"}
_COMPARISON_NAMES = {"eq": ("eq",), "gt": ("gt", "greater"), "lt": ("lt", "less"), "ge": ("ge", "greater_equal"),
                     "le": ("le", "less_equal")}


def _comparison(op: str):
    def importer(call: Call):
        a, b = call.args[0], call.arg(1, "other")
        if not (hasattr(a, "op") and hasattr(b, "op")):
            raise Unsupported(f"{op} of a tensor and a constant (no layer holds the constant)")
        return Layer(op, {}, [a, b])

    return importer


for _key, _op in _COMPARISONS.items():
    _keys = [f"function:_operator.{_key}"]
    for _n in _COMPARISON_NAMES[_key]:
        _keys += [f"function:torch.{_n}", f"method:{_n}"]
    call_importer(*_keys)(_comparison(_op))


def _logical(op: str, arity: int):
    def importer(call: Call):
        args = list(call.args[:arity])
        if not all(hasattr(x, "op") for x in args):
            raise Unsupported(f"{op} of a constant")
        return Layer(op, {}, args)

    return importer


for _n, _arity in (("and", 2), ("or", 2), ("xor", 2), ("not", 1)):
    call_importer(f"function:torch.logical_{_n}", f"method:logical_{_n}")(_logical(f"Logical{_n.title()}", _arity))


@call_importer("function:torch.nn.functional.scaled_dot_product_attention",
               "function:torch._C._nn.scaled_dot_product_attention")
def scaled_dot_product_attention(call: Call):
    q, k, v = (call.arg(i, name) for i, name in enumerate(("query", "key", "value")))
    mask = call.arg(3, "attn_mask")
    if call.arg(4, "dropout_p", 0.0):
        raise Unsupported("scaled_dot_product_attention with dropout_p (training-time dropout on the weights)")
    scale = call.arg(6, "scale")
    if scale is not None and not isinstance(scale, (int, float)):
        raise Unsupported("scaled_dot_product_attention with a computed scale")
    params = {"is_causal": bool(call.arg(5, "is_causal", False)), "scale": None if scale is None else float(scale)}
    return Layer("ScaledDotProductAttention", params, [q, k, v] + ([mask] if mask is not None else []))


@call_importer("function:torch.einsum", "function:torch.functional.einsum")
def einsum(call: Call):
    equation, *operands = call.args
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = list(operands[0])
    if not isinstance(equation, str) or not all(hasattr(x, "op") for x in operands):
        raise Unsupported("einsum with a computed equation or a constant operand")
    return Layer("Einsum", {"equation": equation}, operands)
