"""Merge / elementwise layers against torch: broadcasting, dtype promotion, MatMul MACs, Scale weights."""

import functools
import itertools

import pytest
import torch
from _oracle_graph import DTYPES, DTYPE_NAMES, Ref, T, assert_documented, bind, infer, oracle, raises

from nnlang.layers import get
from nnlang.layers.base import ParamTypeError
from nnlang.layers.merge import result_dtype

ELEMENTWISE = {
    "Add": lambda *xs: functools.reduce(torch.add, xs),
    "Sub": torch.sub,
    "Mul": lambda *xs: functools.reduce(torch.mul, xs),
    "Div": torch.div,
    "Maximum": lambda *xs: functools.reduce(torch.maximum, xs),
    "Max": lambda *xs: functools.reduce(torch.maximum, xs),
    "Minimum": lambda *xs: functools.reduce(torch.minimum, xs),
    "Min": lambda *xs: functools.reduce(torch.minimum, xs),
    "Average": lambda *xs: functools.reduce(torch.add, xs) / len(xs),
}

CASES = [
    ("Add", [T("N", 3, 4, 4), T("N", 3, 1, 1)]),
    ("Add", [T("N", 3), T(3), T(1, 3)]),
    ("Add", [T("N", 3, dtype="i64"), T("N", 3)]),  # i64 + f32 -> f32
    ("Sub", [T("N", 4), T("N", 4)]),
    ("Sub", [T("N", 1, 5), T(4, 1)]),
    ("Mul", [T("N", 3, 4, 4), T("N", 3, 1, 1), T(1)]),
    ("Mul", [T("N", "T", 8), T("N", "T", 1, dtype="bool")]),  # a mask
    ("Div", [T("N", 4), T(4)]),
    ("Div", [T("N", 4, dtype="i64"), T("N", 4, dtype="i64")]),  # true division -> f32
    ("Maximum", [T("N", 4), T("N", 4), T("N", 4)]),
    ("Max", [T("N", 1), T(1, 6)]),
    ("Minimum", [T("N", "T", 4), T(4)]),
    ("Min", [T(2, 3, dtype="i32"), T(2, 3, dtype="i64")]),
    ("Average", [T("N", 3, 8, 8), T("N", 3, 8, 8), T("N", 3, 1, 8)]),
    ("Average", [T("N", 4, dtype="i64"), T("N", 4, dtype="i64")]),
]


@pytest.mark.parametrize("name, inputs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_elementwise_matches_torch(name, inputs):
    oracle(name, inputs, lambda a, ins: Ref(ELEMENTWISE[name]))


def test_input_counts():
    # One tensor is the form with a constant operand (tests/layers/test_constant_operands.py)
    for name in ("Add", "Mul", "Maximum", "Minimum"):
        assert get(name).inputs == (1, None)
    assert get("Average").inputs == (2, None)
    for name in ("Sub", "Div"):
        assert get(name).inputs == (1, 2)
    assert get("MatMul").inputs == (2, 2)
    assert get("Max") is get("Maximum") and get("Min") is get("Minimum")


def test_broadcast_keeps_symbols():
    _, _, outs = infer("Add", [T("N", "T", 8), T(1, 1, 8)])
    assert outs[0].shape == ("N", "T", 8)
    _, _, outs = infer("Mul", [T("N", 3, 1, 1), T(None, 3, 5, 5)])
    assert outs[0].shape == ("N", 3, 5, 5)


@pytest.mark.parametrize("a, b", list(itertools.product(DTYPES, repeat=2)))
def test_dtype_promotion_is_torchs(a, b):
    x, y = torch.ones(1, dtype=DTYPES[a]), torch.ones(1, dtype=DTYPES[b])
    assert result_dtype([a, b]) == DTYPE_NAMES[torch.result_type(x, y)]
    assert result_dtype([a, b], true_div=True) == DTYPE_NAMES[torch.true_divide(x, y).dtype]


def test_elementwise_errors():
    err = raises("Add", [T("N", 3, 4), T("N", 5, 4)], "E301", match=("Add", "[N, 3, 4]", "[N, 5, 4]"), input=1)
    assert "3 vs 5" in str(err)
    raises("Average", [T("N", 3), T("N", 3), T(2)], "E301", match=("[N, 3]", "[2]"), input=2)
    raises("Sub", [T("N", "T"), T("N", "S")], "E301", match=("[N, T]", "[N, S]"))


# ---- MatMul ---------------------------------------------------------------------------------------

def _vector_flops(a, b):
    # FlopCounterMode has no formula for aten.mv / aten.dot (a 1-D right operand): count the same
    # product written as matrices, which it does count.
    return torch.matmul(a.unsqueeze(0) if a.dim() == 1 else a, b.unsqueeze(-1))


MATMUL = [
    [T("N", 3, 4), T(4, 5)],
    [T("N", 1, 3, 4), T(2, 4, 5)],  # batch dims broadcast: [N, 2]
    [T("N", "T", 8), T("N", 8, "T")],  # attention scores
    [T(4), T("N", 4, 5)],  # vector @ batch of matrices
    [T(3, 4, dtype="i64"), T(4, 2, dtype="i64")],
    [T("N", 3, 4), T(4)],  # matrix @ vector
    [T(4), T(4)],  # dot product: a scalar
]


@pytest.mark.parametrize("inputs", MATMUL, ids=[str(i) for i in range(len(MATMUL))])
def test_matmul_matches_torch(inputs):
    flops = _vector_flops if inputs[1].rank == 1 else None
    oracle("MatMul", inputs, lambda a, ins: Ref(torch.matmul, flops=flops))


def test_matmul_shapes():
    def out(*ins):
        return infer("MatMul", list(ins))[2][0].shape

    assert out(T("N", 1, 3, 4), T(2, 4, 5)) == ("N", 2, 3, 5)
    assert out(T(4), T(4)) == ()
    assert out(T("N", "T", 8), T("N", 8, "S")) == ("N", "T", "S")
    assert out(T("N", 3, None), T(7, 5)) == ("N", 3, 5)


def test_matmul_errors():
    err = raises("MatMul", [T("N", 3, 4), T(5, 6)], "E301", match=("[N, 3, 4]", "[5, 6]"), input=1)
    assert "(4)" in str(err) and "(5)" in str(err)
    raises("MatMul", [T(2, 3, 4), T(3, 4, 5)], "E301", match=("batch", "[2, 3, 4]", "[3, 4, 5]"))
    raises("MatMul", [T(), T(3)], "E302", match="scalar", input=0)


# ---- Scale ----------------------------------------------------------------------------------------

class ScaleRef(torch.nn.Module):
    """Caffe's Scale layer: y = x * weight + bias along one axis."""

    def __init__(self, channels, bias, axis, rank):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(channels))
        self.register_parameter("bias", torch.nn.Parameter(torch.randn(channels)) if bias else None)
        self.view = [channels if i == axis % rank else 1 for i in range(rank)]

    def forward(self, x):
        y = x * self.weight.view(self.view)
        return y if self.bias is None else y + self.bias.view(self.view)


@pytest.mark.parametrize("x, kwargs", [
    (T("N", 3, 4, 4), {}),
    (T("N", 3, 4, 4), dict(bias=False)),
    (T("N", "T", 8), dict(axis=-1)),
    (T("N", 6, dtype="i64"), {}),  # learned float weights: f32 out
])
def test_scale_matches_reference(x, kwargs):
    def build(a, ins):
        m = ScaleRef(ins[0].shape[a["axis"]], a["bias"], a["axis"], ins[0].rank)
        return Ref(m, m)

    oracle("Scale", [x], build, **kwargs)


def test_scale_errors():
    raises("Scale", [T("N", "C", 4)], "E303", match=("Scale", "[N, C, 4]"))
    raises("Scale", [T("N", 3)], "E302", axis=2, match=("axis 2", "rank-2"))
    with pytest.raises(ParamTypeError):
        bind("Scale", bias="yes")


def test_documented():
    from nnlang.layers.merge import LAYERS
    assert_documented(LAYERS)
