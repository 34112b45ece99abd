"""The symbolic-dim algebra (nnlang/layers/symdim.py) and the shape rules that use it: every symbolic
result, evaluated at H = 7..40, equals the rule run on the concrete size."""

from __future__ import annotations

import pytest

from nnlang.layers import registry, symdim
from nnlang.layers.base import ShapeError, TensorType, same_dims, start_warnings, take_warnings
from nnlang.layers.symdim import (CONDITIONAL, DIFFERENT, EQUAL, SymExpr, add, ceildiv, compare, evaluate, floordiv,
                                  mul, product, sub, substitute)

H, W = "H", "W"


def test_the_examples_print_canonically():
    assert str(floordiv(H, 2)) == "H // 2"
    assert str(ceildiv(H, 2)) == "(H + 1) // 2"
    assert str(add(floordiv(sub(H, 3), 2), 1)) == "(H - 3) // 2 + 1"
    assert str(mul(floordiv(H, 2), 2)) == "(H // 2) * 2"
    assert str(product([64, H, W])) == "64 * H * W"
    assert str(product(["W", 64, "H"])) == "64 * H * W"  # deterministic order


def test_normal_forms():
    assert add(H, 0) == H and type(add(H, 0)) is str  # a lone symbol stays a str
    assert sub(H, H) == 0 and type(sub(H, H)) is int
    assert floordiv(add(mul(2, H), 1), 2) == H  # (2H + 1) // 2
    assert str(floordiv(add(H, 5), 2)) == "(H + 1) // 2 + 2"  # multiples of k pulled out
    assert str(floordiv(floordiv(H, 2), 3)) == "H // 6"  # nested floors
    assert str(floordiv(add(floordiv(H, 2), W), 2)) == "(H + 2 * W) // 4"
    assert str(floordiv(add(mul(2, H), 2), 4)) == "(H + 1) // 2"  # a common factor
    assert str(sub(0, floordiv(H, 2))) == "-(H // 2)"  # not -H // 2, which is (-H) // 2
    # Equal expressions built differently compare and hash equal.
    a, b = add(floordiv(sub(H, 3), 2), 1), floordiv(sub(H, 1), 2)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert floordiv(H, 2) != floordiv(W, 2) and floordiv(H, 2) != H and floordiv(H, 2) != 3


def test_arithmetic_matches_python_on_ints():
    exprs = {
        "conv": lambda h: add(floordiv(sub(h, 3), 2), 1),
        "ceil": lambda h: ceildiv(h, 3),
        "poly": lambda h: sub(mul(add(h, 1), add(h, 2)), floordiv(mul(h, 7), 4)),
        "nested": lambda h: floordiv(add(floordiv(add(h, 5), 3), h), 2),
    }
    for name, f in exprs.items():
        sym = f(H)
        assert isinstance(sym, SymExpr), name
        for h in range(-10, 60):
            assert evaluate(sym, {"H": h}) == f(h), (name, h, str(sym))


def test_compare_verdicts_and_conditions():
    assert compare(H, H) == (EQUAL, None)
    assert compare(add(H, 1), H)[0] == DIFFERENT
    assert compare(3, 4)[0] == DIFFERENT
    assert compare(H, mul(floordiv(H, 2), 2)) == (CONDITIONAL, "H is even")
    assert compare(H, add(mul(floordiv(H, 2), 2), 1)) == (CONDITIONAL, "H is odd")
    assert compare(H, mul(floordiv(H, 3), 3)) == (CONDITIONAL, "H is a multiple of 3")
    assert compare(floordiv(H, 2), mul(floordiv(H, 4), 2)) == (CONDITIONAL, "H // 2 is even")
    assert compare(H, add(mul(floordiv(H, 2), 2), 5))[0] == DIFFERENT  # a remainder is never -5
    assert compare(mul(4, H), 6)[0] == DIFFERENT  # 4 * H is never 6
    assert compare(floordiv(H, 2), 64) == (CONDITIONAL, "H // 2 == 64")  # the general fallback
    assert compare(None, H)[0] == symdim.UNKNOWN


def test_substitute_and_evaluate():
    e = add(floordiv(H, 2), mul(W, 3))
    assert evaluate(e, {"H": 9, "W": 2}) == 10
    assert str(evaluate(e, {"H": 9})) == "3 * W + 4"  # partially evaluated
    assert substitute(e, {"W": floordiv(H, 2)}) == mul(floordiv(H, 2), 4)


def test_caps_keep_expressions_small():
    x = H
    for _ in range(100):  # a deep chain of layers that each add a symbol: the size stays bounded
        x = add(floordiv(add(x, "W"), 3), "H") if x is not None else None
    assert x is None
    y = H
    for _ in range(50):  # strided layers merge into one floor: no growth
        y = floordiv(add(y, 1), 2)
    assert str(y) == f"(H + {2 ** 50 - 1}) // {2 ** 50}"
    for _ in range(1000):  # until the divisor passes the cap
        y = floordiv(add(y, 1), 2)
    assert y is None
    z = H
    for _ in range(200):
        z = mul(z, 2) if z is not None else None
    assert z is None  # coefficients are capped too


def test_same_dims_policy_and_warnings():
    assert not same_dims(H, W) and not same_dims(H, 5)  # named symbols are independent sizes (as before)
    start_warnings()
    assert same_dims(H, mul(floordiv(H, 2), 2), "Concat: dim 2 of A and B")
    assert take_warnings() == ["Concat: dim 2 of A and B are equal only when H is even"]
    assert take_warnings() == []  # outside lowering, warnings are dropped


# ---- rules, checked against the concrete result for many sizes ---------------------------------

def _infer(name, in_shape, **kwargs):
    spec = registry.get(name)
    attrs = {p.name: p.default_value() for p in spec.params if not p.required}
    attrs.update({k: spec.param_index[k].validate(v) for k, v in kwargs.items()})
    return spec.infer(attrs, [TensorType(tuple(in_shape))])[0].shape


CASES = [
    ("Conv2d", dict(out_channels=4, kernel=3)),
    ("Conv2d", dict(out_channels=4, kernel=3, padding=1)),
    ("Conv2d", dict(out_channels=4, kernel=3, stride=2)),
    ("Conv2d", dict(out_channels=4, kernel=7, stride=2, padding=3)),
    ("Conv2d", dict(out_channels=4, kernel=3, stride=3, dilation=2, padding=1)),
    ("Conv2d", dict(out_channels=4, kernel=3, padding="same")),
    ("Conv2d", dict(out_channels=4, kernel=4, stride=2, padding="same")),
    ("Conv2d", dict(out_channels=4, kernel=3, padding="valid")),
    ("ConvTranspose2d", dict(out_channels=4, kernel=2, stride=2)),
    ("ConvTranspose2d", dict(out_channels=4, kernel=3, stride=2, padding=1, output_padding=1)),
    ("DepthwiseConv2d", dict(kernel=3, stride=2, padding=1)),
    ("MaxPool2d", dict(kernel=2)),
    ("MaxPool2d", dict(kernel=3, stride=2, padding=1)),
    ("MaxPool2d", dict(kernel=3, stride=2, ceil_mode=True)),
    ("MaxPool2d", dict(kernel=2, ceil_mode=True)),
    ("AvgPool2d", dict(kernel=3, stride=2, padding=1, ceil_mode=True)),
    ("MaxPool2d", dict(kernel=3, stride=2, dilation=2, ceil_mode=True)),
    ("AdaptiveAvgPool2d", dict(output_size=(5, 3))),
    ("Upsample", dict(scale_factor=2)),
    ("Upsample", dict(size=(8, 9))),
    ("Pad", dict(pads=(1, 2, 3, 0))),
    ("Flatten", dict()),
    ("Flatten", dict(start_dim=2)),
    ("Reshape", dict(shape=(-1,))),
    ("Reshape", dict(shape=(3, -1))),
    ("Slice", dict(axis=2, start=1, end=-1)),
    ("Slice", dict(axis=3, start=2, step=3)),
    ("Slice", dict(axis=3, start=-4)),
]


@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_symbolic_rule_equals_concrete_rule(name, kwargs):
    sym = _infer(name, ("N", 3, H, W), **kwargs)
    assert all(d is not None for d in sym) or name == "MaxPool2d", sym
    for h in range(7, 41):
        for w in (9, 16, 23):
            try:
                concrete = _infer(name, (2, 3, h, w), **dict(kwargs))
            except ShapeError:
                continue
            got = tuple(evaluate(d, {"N": 2, "H": h, "W": w}) for d in sym)
            assert got == tuple(d if d is not None else None for d in concrete) or None in sym, (h, w, sym)


def test_ceil_mode_correction_falls_back_to_unknown():
    # kernel 1, stride 2, ceil mode: PyTorch drops a last window starting in the padding for some sizes only.
    assert _infer("MaxPool2d", ("N", 3, H, W), kernel=1, stride=2, ceil_mode=True)[2] is None
    assert _infer("MaxPool2d", ("N", 3, 9, 9), kernel=1, stride=2, ceil_mode=True)[2] == 5


def test_concat_sums_along_the_axis_and_split_divides():
    spec = registry.get("Concat")
    out = spec.infer({"axis": 2}, [TensorType(("N", 3, H)), TensorType(("N", 3, floordiv(H, 2)))])[0]
    assert str(out.shape[2]) == "H + H // 2"
    assert str(_infer("Flatten", ("N", 64, H, W))[1]) == "64 * H * W"
    assert str(_infer("Reshape", ("N", 64, H, W), shape=(64, -1))[2]) == "H * W"
    assert str(_infer("Upsample", ("N", 3, floordiv(H, 2), W), scale_factor=2)[2]) == "(H // 2) * 2"


def test_products_print_factored_and_stay_equal_to_their_expansion():
    flat = symdim.product([16, symdim.sub("H", 2), symdim.sub("W", 2)])  # Flatten after a 3x3 conv without padding
    assert str(flat) == "16 * (H - 2) * (W - 2)"
    hw = symdim.product([16, "H", "W"])
    expanded = symdim.add(symdim.sub(symdim.sub(hw, symdim.mul(32, "H")), symdim.mul(32, "W")), 64)
    assert expanded == flat and hash(expanded) == hash(flat) and str(expanded) == str(flat)
    assert str(symdim.product([3, symdim.add("H", 1), symdim.floordiv("W", 2)])) == "3 * (H + 1) * (W // 2)"
    assert str(symdim.add(symdim.product(["H", "W"]), 1)) == "H * W + 1"  # not a product: written out
    assert symdim.evaluate(flat, {"H": 10, "W": 7}) == 16 * 8 * 5
