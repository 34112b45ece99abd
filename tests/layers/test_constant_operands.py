"""The one-tensor form of Add, Sub, Mul, Div, Maximum, Minimum: a constant operand (nnlang/layers/constants.py).

Shapes and dtypes are compared with what torch computes for `x <op> number` and `x <op> buffer`; misuse is a
located diagnostic with its code.
"""

import pytest
import torch

from _torch_oracle import DTYPE_NAMES, TORCH_DTYPES, T, run
from nnlang.analyze import analyze
from nnlang.layers.base import ShapeError

OPS = {
    "Add": lambda x, c: x + c, "Sub": lambda x, c: x - c, "Mul": lambda x, c: x * c, "Div": lambda x, c: x / c,
    "Maximum": lambda x, c: x.clamp(min=c) if not isinstance(c, torch.Tensor) else torch.maximum(x, c),
    "Minimum": lambda x, c: x.clamp(max=c) if not isinstance(c, torch.Tensor) else torch.minimum(x, c),
}
REVERSED = {"Sub": lambda x, c: c - x, "Div": lambda x, c: c / x}


def _sample(shape, dtype):
    if dtype.is_floating_point:
        return torch.randn(shape, dtype=dtype)
    return torch.randint(1, 3, shape).to(dtype)


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("dtype", ["f32", "f16", "f64", "i64", "i32", "u8", "bool"])
@pytest.mark.parametrize("value", [2, 0.5])
def test_number_operand_gives_torch_dtype(op, dtype, value):
    if op == "Sub" and dtype == "bool":
        with pytest.raises(ShapeError) as e:
            run(op, [T("N", 3, dtype=dtype)], value)
        assert e.value.code == "E305"
        return
    x = _sample((2, 3), TORCH_DTYPES[dtype])
    for reverse in (False, True) if op in REVERSED else (False,):
        kwargs = {"reverse": True} if reverse else {}
        attrs, (y,), weights, macs = run(op, [T("N", 3, dtype=dtype)], value, **kwargs)
        want = (REVERSED if reverse else OPS)[op](x, value)
        assert y.shape == ("N", 3) and y.dtype == DTYPE_NAMES[want.dtype], (op, dtype, value, reverse)
        assert weights == [] and macs == 0 and attrs["value"] == value and type(attrs["value"]) is type(value)


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("x_shape, c_shape, out", [
    (("N", 197, 768), (1, 197, 768), ("N", 197, 768)),
    (("N", 8, 4, 4), (8, 1, 1), ("N", 8, 4, 4)),
    (("N", 8), (3, 1, 8), (3, "N", 8)),  # the constant may widen the result, as broadcasting does
    (("N", 8), (), ("N", 8)),
])
@pytest.mark.parametrize("dtype", ["f32", "f16", "i64"])
def test_tensor_operand_is_a_buffer_broadcast_with_x(op, x_shape, c_shape, out, dtype):
    attrs, (y,), weights, macs = run(op, [T(*x_shape, dtype=dtype)], shape=c_shape)
    assert y.shape == out and macs == 0
    (w,) = weights
    assert w.name == "" and w.shape == c_shape and not w.trainable and w.dtype == "f32"
    sizes = {"N": 2}
    x = _sample(tuple(sizes.get(d, d) for d in x_shape), TORCH_DTYPES[dtype])
    c = torch.randn(c_shape)  # the buffer, f32
    for reverse in (False, True) if op in REVERSED else (False,):
        kwargs = {"reverse": True} if reverse else {}
        _, (y,), _, _ = run(op, [T(*x_shape, dtype=dtype)], shape=c_shape, **kwargs)
        want = (REVERSED if reverse else OPS)[op](x, c)
        assert tuple(sizes.get(d, d) for d in y.shape) == tuple(want.shape)
        assert y.dtype == DTYPE_NAMES[want.dtype], (op, dtype, c_shape, reverse)


def test_learned_tensor_is_counted_as_a_parameter():
    _, _, (w,), _ = run("Mul", [T("N", 4)], shape=(4,), learned=True)
    assert w.trainable and w.size == 4


def test_the_form_over_tensors_is_unchanged():
    _, (y,), weights, _ = run("Sub", [T("N", 3, 1), T(1, 4)])
    assert y.shape == ("N", 3, 4) and weights == []


def _diagnostics(line: str):
    src = f"network Net {{\n    input x: [N, 3, 8, 8]\n    input y: [N, 3, 8, 8]\n{line}\n    output z\n}}\n"
    return [d for d in analyze(src).diagnostics if d.severity.name == "ERROR"], line


@pytest.mark.parametrize("line, code", [
    ("    z = (x, y) -> Add(2.0)", "E209"),  # a constant and a second tensor
    ("    z = x -> Mul", "E209"),  # one tensor and no constant
    ("    z = x -> Add(2.0, shape=(3, 1, 1))", "E105"),  # both kinds of constant
    ("    z = (x, y) -> Sub(reverse=true)", "E105"),  # reverse without a constant
    ("    z = x -> Mul(2.0, learned=true)", "E105"),  # learned is for a tensor
    ("    z = x -> Add(shape=(4, 1, 1))", "E301"),  # does not broadcast with x
    ("    z = x -> Add(shape=(0, 1))", "E105"),  # a dim below 1
    ('    z = x -> Add("two")', "E104"),  # not a number
    ("    z = x -> Maximum(0.0, reverse=true)", "E102"),  # only Sub and Div have reverse
])
def test_misuse_is_a_located_diagnostic(line, code):
    errors, line = _diagnostics(line)
    assert [d.code for d in errors] == [code], [(d.code, d.message) for d in errors]
    d = errors[0]
    call = line.index("->") + 3
    assert d.span.line == 4
    assert call + 1 <= d.span.column < len(line) + 1 and d.span.end_column <= len(line) + 1, d.span


def test_constants_check_and_count_no_parameters():
    src = ("network Net {\n    input x: [N, 3, 8, 8]\n"
           "    z = x -> Mul(0.125) -> Sub(1.0, reverse=true) -> Div(6) -> Add(shape=(1, 3, 1, 1))"
           " -> Maximum(0.0) -> Minimum(6.0) -> Mul(shape=(8,), learned=true)\n    output z\n}\n")
    a = analyze(src)
    assert not a.errors, [(d.code, d.message) for d in a.errors]
    nodes = a.graph.nodes
    assert [n.params for n in nodes] == [0, 0, 0, 0, 0, 0, 8]
    assert [w.size for n in nodes for w in n.weights if not w.trainable] == [3]
