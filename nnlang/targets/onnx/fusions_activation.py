"""Activations exporters write as several nodes: GELU with Erf or in the tanh form (0.5 x (1 + ...), in any of
the ways exporters associate the product), SiLU as x * sigmoid(x), Hardswish as x * HardSigmoid(x)."""

from __future__ import annotations

import math

from .fusions import Fused, View, _near, onnx_fusion
from .importers import Layer


def _half_product(view: View, x: str, one_plus: str):
    """0.5 * x * one_plus, in any of the three ways exporters associate it: (final node, nodes)."""
    m = view.only_consumer(one_plus, "Mul")
    if m is None:
        return None
    other = view.other_input(m, one_plus)
    if other == x:  # (x * one_plus) * 0.5 -- torch
        last = view.only_consumer(m.output[0], "Mul")
        if last is not None and _near(view.scalar(view.other_input(last, m.output[0])), 0.5):
            return last, [m, last]
        return None
    if _near(view.scalar(other), 0.5):  # (one_plus * 0.5) * x
        last = view.only_consumer(m.output[0], "Mul")
        if last is not None and view.other_input(last, m.output[0]) == x:
            return last, [m, last]
        return None
    half = view.producer(other, "Mul")  # (x * 0.5) * one_plus -- nnlang
    if half is not None and view.only_consumer(other) is m:
        h_other = view.other_input(half, x)
        if h_other is not None and _near(view.scalar(h_other), 0.5):
            return m, [half, m]
    return None


@onnx_fusion("Erf")
def gelu_erf(view: View, erf):
    """0.5 x (1 + erf(x / sqrt 2)): GELU."""
    scaled = view.producer(erf.input[0])
    if scaled is None or scaled.op_type not in ("Div", "Mul") or view.only_consumer(erf.input[0]) is not erf:
        return None
    x = scaled.input[0]
    want = math.sqrt(2.0) if scaled.op_type == "Div" else 1.0 / math.sqrt(2.0)
    if not _near(view.scalar(scaled.input[1]), want):
        return None
    return _gelu(view, x, erf, {}, [scaled])


@onnx_fusion("Tanh")
def gelu_tanh(view: View, tanh):
    """0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))): GELU(approximate="tanh")."""
    scaled = view.producer(tanh.input[0], "Mul")
    if scaled is None or view.only_consumer(tanh.input[0]) is not tanh:
        return None
    inner = next((i for i in scaled.input if _near(view.scalar(view.other_input(scaled, i)),
                                                   math.sqrt(2.0 / math.pi))), None)
    add = view.producer(inner, "Add") if inner else None
    if add is None:
        return None
    for x, cubic in (tuple(add.input), tuple(add.input)[::-1]):
        found = _cubic_term(view, x, cubic)
        if found is not None:
            break
    else:
        return None
    return _gelu(view, x, tanh, {"approximate": "tanh"}, [*found, add, scaled])


def _gelu(view: View, x: str, core, params: dict, nodes: list):
    """The rest of both GELU forms, after erf / tanh (`core`): 0.5 x (1 + core)."""
    one = view.only_consumer(core.output[0], "Add")
    if one is None or not _near(view.scalar(view.other_input(one, core.output[0])), 1.0):
        return None
    tail = _half_product(view, x, one.output[0])
    if tail is None:
        return None
    last, rest = tail
    return Fused(Layer("GELU", params, inputs=[x], outputs=[last.output[0]]), [*nodes, core, one, *rest])


def _cubic_term(view: View, x: str, value: str):
    """The nodes of 0.044715 * x^3 (x^3 as Pow(x, 3) or x * x * x), or None."""
    m = view.producer(value, "Mul")
    if m is None:
        return None
    cube = next((i for i in m.input if _near(view.scalar(view.other_input(m, i)), 0.044715)), None)
    if cube is None:
        return None
    p = view.producer(cube)
    if p is not None and p.op_type == "Pow" and p.input[0] == x and _near(view.scalar(p.input[1]), 3.0):
        return [p, m]
    if p is not None and p.op_type == "Mul":
        sq = view.producer(view.other_input(p, x) or "", "Mul")
        if sq is not None and list(sq.input) == [x, x]:
            return [sq, p, m]
    return None


@onnx_fusion("Sigmoid")
def silu(view: View, sigmoid):
    """x * sigmoid(x): SiLU."""
    x = sigmoid.input[0]
    m = view.only_consumer(sigmoid.output[0], "Mul")
    if m is None or view.other_input(m, sigmoid.output[0]) != x:
        return None
    return Fused(Layer("SiLU", {}, inputs=[x], outputs=[m.output[0]]), [sigmoid, m])


@onnx_fusion("HardSigmoid")
def hardswish(view: View, hard_sigmoid):
    """x * HardSigmoid(x) with alpha 1/6, beta 0.5: Hardswish (before opset 14 exporters write it so)."""
    x = hard_sigmoid.input[0]
    m = view.only_consumer(hard_sigmoid.output[0], "Mul")
    alpha, beta = view.attr(hard_sigmoid, "alpha", 0.2), view.attr(hard_sigmoid, "beta", 0.5)
    if m is None or view.other_input(m, hard_sigmoid.output[0]) != x or not _near(alpha, 1 / 6) \
            or not _near(beta, 0.5):
        return None
    return Fused(Layer("Hardswish", {}, inputs=[x], outputs=[m.output[0]]), [hard_sigmoid, m])
