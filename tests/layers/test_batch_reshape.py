"""Reshape(batch=true) -- the whole shape, the batch included, as x.reshape(*shape) -- and Roll: symbolic
inference of a batch that changes (window attention folds windows into it and back), the located E301 for a
shape that does not fit, and the shapes torch gives for the same calls."""

import pytest
import torch
from _oracle_graph import T, infer, raises

from nnlang.analyze import analyze
from nnlang.layers.base import ParamRangeError
from nnlang.layers.registry import get


def _shape(name, x, *args, **kwargs):
    return [tuple(map(str, o.shape)) for o in infer(name, [x], *args, **kwargs)[2]]


def test_windows_fold_into_a_symbolic_batch_and_back():
    windows = _shape("Reshape", T("N", 56, 56, 96), (-1, 7, 7, 96), batch=True)
    assert windows == [("64 * N", "7", "7", "96")]  # N * 56 * 56 * 96 / (7 * 7 * 96)
    (back,) = infer("Reshape", [T("N", 56, 56, 96)], (-1, 7, 7, 96), batch=True)[2]
    assert _shape("Reshape", back, (-1, 8, 8, 7, 7, 96), batch=True) == [("N", "8", "8", "7", "7", "96")]
    assert _shape("Reshape", T("N", 3, "H", "W"), (-1, 3), batch=True) == [("H * N * W", "3")]
    assert _shape("Reshape", T(2, 8, 8), (4, -1), batch=True) == [("4", "32")]
    assert _shape("Reshape", T(2, 8, 8), (128,), batch=True) == [("128",)]  # no -1: the count matches


def test_without_batch_the_batch_is_kept_and_not_written():
    assert _shape("Reshape", T("N", 16, 4), (-1, 8)) == [("N", "8", "8")]
    assert get("Reshape").param_index["batch"].default is False


def test_shapes_that_do_not_fit_are_e301_with_both_sides():
    raises("Reshape", [T("N", 56, 56, 96)], "E301", (-1, 5, 96), batch=True,
           match=("[N, 56, 56, 96]", "[-1, 5, 96]", "every batch size", "N is a multiple of 5"))
    raises("Reshape", [T(2, 3, 5)], "E301", (-1, 4), batch=True, match=("[2, 3, 5]", "30 elements", "4 does not"))
    raises("Reshape", [T(2, 3, 5)], "E301", (4, 8), batch=True, match=("30 elements", "[4, 8] has 32"))
    raises("Reshape", [T("N", 3, 5)], "E301", (2, 15), batch=True, match=("15 * N", "write the batch's entry"))
    with pytest.raises(ParamRangeError):
        get("Reshape").param_index["shape"].validate((-1, -1, 4))


def test_roll_keeps_the_shape_and_needs_a_shift_per_dim():
    assert _shape("Roll", T("N", 5, 6), (-3, -3), (1, 2)) == [("N", "5", "6")]
    assert _shape("Roll", T("N", 5, 6), 2, 0) == [("N", "5", "6")]  # the batch rolls too
    raises("Roll", [T("N", 5, 6)], "E304", (1, 2), 1, match="one shift per dim")
    raises("Roll", [T("N", 5, 6)], "E302", 1, 3)
    raises("Roll", [T("N", 5, 6)], "E304", (1, 1), (1, -2), match="twice")


def test_in_a_file_the_error_is_located_on_the_step():
    text = ("network W {\n    input x: [N, 56, 56, 96]\n"
            "    y = x -> Reshape((-1, 5, 96), batch=true)\n    output y\n}\n")
    (d,) = [d for d in analyze(text).diagnostics if d.is_error]
    assert d.code == "E301" and (d.span.line, d.span.column) == (3, 14)
    assert "for every batch size" in d.message


def test_symbolic_batch_agrees_with_torch_for_several_sizes():
    x = T("N", 8, 8, 4)
    (w,) = infer("Reshape", [x], (-1, 4, 4, 4), batch=True)[2]
    for n in (1, 2, 3):
        got = torch.zeros(n, 8, 8, 4).reshape(-1, 4, 4, 4).shape
        assert got[0] == 4 * n and str(w.shape[0]) == "4 * N"
