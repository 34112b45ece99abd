"""Rules where PyTorch would fail at run time: reported by the checker instead (found by the torch target)."""

import pytest

from nnlang.analyze import analyze


@pytest.mark.parametrize("body, code, needle", [
    ("input a: [N, 4, 8] f32, b: [N, 8, 3] f16\n y = (a, b) -> MatMul", "E305", "one dtype"),
    ("input a: [N, 4] bool, b: [N, 4] bool\n y = (a, b) -> Sub", "E305", "bool"),
    ("input a: [N, 4, 8, 8] i64\n y = a -> GlobalAvgPool", "E305", "float input"),
    ("input a: [N, 4, 8]\n y = a -> Upsample(scale_factor=2, mode=\"bilinear\")", "E302", "2 spatial dims"),
])
def test_checked_at_compile_time(body, code, needle):
    a = analyze(f"network T {{\n {body}\n output y\n}}\n")
    assert [d.code for d in a.errors] == [code]
    assert needle in a.errors[0].message


@pytest.mark.parametrize("body", [
    "input a: [N, 4, 8], b: [N, 8, 3]\n y = (a, b) -> MatMul",
    "input a: [N, 4] i64, b: [N, 4] i64\n y = (a, b) -> Sub",
    "input a: [N, 4, 8, 8] i64\n y = a -> GlobalMaxPool",
    "input a: [N, 4, 8, 8]\n y = a -> Upsample(scale_factor=2, mode=\"bilinear\")",
    "input a: [N, 4, 8]\n y = a -> Upsample(scale_factor=2, mode=\"nearest\")",
])
def test_still_accepted(body):
    assert analyze(f"network T {{\n {body}\n output y\n}}\n").errors == []
