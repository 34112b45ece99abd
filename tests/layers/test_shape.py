"""Shape layers against the torch functions they mirror: shapes, dtypes, no weights, 0 MACs."""

import pytest
import torch
import torch.nn.functional as F
from _oracle_graph import Ref, T, assert_documented, bind, infer, oracle, raises

from nnlang.layers.base import ParamRangeError, ParamTypeError


def _slice(a, x):
    index = [slice(None)] * x.dim()
    index[a["axis"]] = slice(a["start"], a["end"], a["step"])
    return x[tuple(index)]


def _split(a, x):
    s = a["sections"]
    return torch.chunk(x, s, a["axis"]) if isinstance(s, int) else torch.split(x, list(s), a["axis"])


def _pad(a, x):
    if a["mode"] == "constant":
        return F.pad(x, a["pads"], value=a["value"])
    return F.pad(x, a["pads"], mode=a["mode"])


TORCH = {
    "Flatten": lambda a, x: torch.flatten(x, a["start_dim"], a["end_dim"]),
    "Reshape": lambda a, x: x.reshape(*a["shape"]) if a["batch"] else x.reshape(x.shape[0], *a["shape"]),
    "Roll": lambda a, x: torch.roll(x, a["shifts"], a["dims"]),
    "Permute": lambda a, x: x.permute(*a["dims"]),
    "Transpose": lambda a, x: x.transpose(a["dim0"], a["dim1"]),
    "Squeeze": lambda a, x: x.squeeze(a["dim"]),
    "Unsqueeze": lambda a, x: x.unsqueeze(a["dim"]),
    "Concat": lambda a, *xs: torch.cat(xs, a["axis"]),
    "Cat": lambda a, *xs: torch.cat(xs, a["axis"]),
    "Split": _split,
    "Slice": _slice,
    "Select": lambda a, x: x.select(a["axis"], a["index"]),
    "GatherElements": lambda a, x, index: torch.gather(x, a["axis"], index),  # indices drawn in 1..3: in range
    "Pad": _pad,
    "Identity": lambda a, x: x,
    "Mean": lambda a, x: x.mean(a["axis"], keepdim=a["keepdims"]),
    "Sum": lambda a, x: x.sum(a["axis"], keepdim=a["keepdims"]),
}

I64 = "i64"

CASES = [
    # (layer, inputs, args, kwargs)
    ("Flatten", [T("N", 3, 4, 5)], (), {}),
    ("Flatten", [T("N", 3, 4, 5)], (), dict(start_dim=2)),
    ("Flatten", [T("N", 3, 4, 5)], (), dict(start_dim=-3, end_dim=-2)),
    ("Flatten", [T("N", "T", dtype=I64)], (), {}),  # one dim alone: the symbol survives
    ("Flatten", [T("N", 3)], (), dict(start_dim=0)),  # merges the batch: unknown
    ("Reshape", [T("N", 16, 4)], ((4, 16),), {}),
    ("Reshape", [T("N", 8, 8, dtype=I64)], ((-1, 4),), {}),
    ("Reshape", [T("N", 1)], ((),), {}),
    ("Reshape", [T("N", "T", 4)], ((5, 4),), {}),  # size unknown: accepted as written
    ("Reshape", [T("N", 8, 8, 3)], ((-1, 4, 4, 3),), dict(batch=True)),  # windows folded into the batch
    ("Reshape", [T(8, 2, 2, 3)], ((-1, 4, 2, 2, 3),), dict(batch=True)),  # and back
    ("Roll", [T("N", 5, 6)], ((-2, 1), (1, 2)), {}),
    ("Roll", [T("N", 4, dtype=I64)], (1, 0), {}),
    ("Permute", [T("N", 3, 4, 5)], ((0, 2, 3, 1),), {}),
    ("Permute", [T("N", "T", 6, dtype=I64)], ((1, -1, 0),), {}),
    ("Transpose", [T("N", "T", 6)], (1, 2), {}),
    ("Transpose", [T("N", 3, 4, 5)], (-1, 0), {}),
    ("Squeeze", [T("N", 3, 1)], (2,), {}),
    ("Squeeze", [T("N", 1, 4, 1, dtype=I64)], ((1, -1),), {}),
    ("Unsqueeze", [T("N", 3)], (1,), {}),
    ("Unsqueeze", [T("N", 3)], (-1,), {}),
    ("Unsqueeze", [T("N", 3)], (2,), {}),
    ("Concat", [T("N", 3, 8), T("N", 5, 8)], (), {}),
    ("Concat", [T("N", 3, 2), T("N", 3, 4), T("N", 3, 1)], (), dict(axis=-1)),
    ("Cat", [T("N", "T", 4, dtype=I64), T("N", "T", 4, dtype=I64)], (), dict(dim=2)),
    ("Concat", [T("N", "T", 4), T("N", "T", 4)], (), dict(axis=1)),  # T + T: unknown
    ("Split", [T("N", 6, 4)], (2,), {}),
    ("Split", [T("N", 6, 4)], ((2, 4),), dict(axis=1)),
    ("Split", [T("N", 4, 9, dtype=I64)], (3,), dict(axis=-1)),
    ("Split", [T("N", 4, 9)], ((9,),), dict(axis=2)),
    ("Slice", [T("N", 6, 4)], (1,), dict(start=1, end=-1)),
    ("Slice", [T("N", 7, 4)], (1,), dict(start=-5, step=2)),
    ("Slice", [T("N", 7, 4, dtype=I64)], (-1,), dict(end=100)),
    ("Slice", [T("N", "T", 4)], (1,), {}),  # the whole axis: the symbol survives
    ("Slice", [T("N", "T", 4)], (1,), dict(end=2)),
    ("Select", [T("N", 3, 4)], (1, 0), {}),
    ("Select", [T("N", 3, 4, dtype=I64)], (-1, -1), {}),
    ("Select", [T("N", "T", 4)], (1, 2), {}),
    ("GatherElements", [T("N", 5, 6), T("N", 2, 6, dtype=I64)], (), dict(axis=1)),
    ("GatherElements", [T("N", 4, 5, dtype=I64), T("N", 4, 3, dtype=I64)], (), dict(axis=-1)),
    ("Pad", [T("N", 3, 4, 5)], ((1, 1, 2, 2),), {}),
    ("Pad", [T("N", 3, 4, 5)], ((-1, -1),), dict(value=2.0)),
    ("Pad", [T("N", 3, "T", dtype=I64)], ((1, 2),), {}),
    ("Pad", [T("N", 3, 6)], ((2, 2),), dict(mode="reflect")),
    ("Pad", [T("N", 2, 3, 4, 5)], ((1, 1, 1, 1, 1, 1),), dict(mode="replicate")),
    ("Pad", [T("N", 3, 4)], ((1, 2),), dict(mode="circular")),
    ("Pad", [T(3, 4)], ((4, 4),), dict(mode="circular")),  # unbatched: 1 extra dim
    ("Identity", [T("N", "T", dtype=I64)], (), {}),
    ("Mean", [T("N", 3, 4, 5)], (1,), {}),
    ("Mean", [T("N", 3, 4, 5)], ((2, 3),), dict(keepdims=True)),
    ("Sum", [T("N", 3, 4, 5)], ((-1, 1),), {}),
    ("Sum", [T("N", "T", 4, dtype=I64)], (2,), dict(keepdims=True)),
]


@pytest.mark.parametrize("name, inputs, args, kwargs", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_matches_torch(name, inputs, args, kwargs):
    def build(a, ins):
        return Ref(lambda *xs: TORCH[name](a, *xs))

    oracle(name, inputs, build, *args, **kwargs)


def test_every_shape_layer_is_covered():
    from nnlang.layers.shape import LAYERS
    assert {s.name for s in LAYERS} <= {c[0] for c in CASES}


def test_symbolic_results():
    def shape(name, x, *args, **kwargs):
        return [o.shape for o in infer(name, [x] if isinstance(x, type(T())) else x, *args, **kwargs)[2]]

    assert shape("Flatten", T("N", 3, 4, 5)) == [("N", 60)]
    assert [tuple(map(str, s)) for s in shape("Flatten", T("N", "T", 4))] == [("N", "4 * T")]
    assert shape("Reshape", T("N", 16, 4), (-1, 8)) == [("N", 8, 8)]
    assert [tuple(map(str, s)) for s in shape("Concat", [T("N", "T", 4), T("N", 2, 4)])] == [("N", "T + 2", "4")]
    assert shape("Concat", [T("N", None, 4), T("N", 3, 4)], axis=2) == [("N", 3, 8)]  # unknown learns 3
    assert [tuple(map(str, s)) for s in shape("Split", T("N", "T", 4), 2)] == [("N", "T // 2", "4")] * 2
    assert shape("Split", T("N", "T", 4), (1, 3), axis=-1) == [("N", "T", 1), ("N", "T", 3)]
    assert [tuple(map(str, s)) for s in shape("Slice", T("N", "T", 4), 1, start=1)] == [("N", "T - 1", "4")]
    assert shape("Pad", T("N", 3, "T"), (0, 0)) == [("N", 3, "T")]
    assert shape("Permute", T("N", "T", 4), (0, 2, 1)) == [("N", 4, "T")]


def test_split_outputs():
    for sections, n in ((2, 2), ((1, 2, 3), 3), (1, 1)):
        spec, attrs = bind("Split", sections)
        assert spec.num_outputs(attrs) == n


def test_flatten_errors():
    raises("Flatten", [T("N")], "E302", match=("start_dim 1", "rank-1", "[N]"))
    raises("Flatten", [T("N", 3, 4)], "E304", start_dim=2, end_dim=1, match="start_dim")


def test_reshape_errors():
    for bad in ((0, 3), (-1, -1), (-2,)):
        with pytest.raises(ParamRangeError):
            bind("Reshape", bad)
    with pytest.raises(ParamTypeError):
        bind("Reshape", (2.5,))
    raises("Reshape", [T("N", 3, 5)], "E301", (4, 4), match=("[N, 3, 5]", "[N, 4, 4]", "15", "16"))
    raises("Reshape", [T("N", 3, 5)], "E301", (4, -1), match=("[N, 3, 5]", "[N, 4, -1]"))
    raises("Reshape", [T("N", None, 4)], "E303", (-1,), match=("Reshape", "[N, ?, 4]"))
    raises("Reshape", [T("N", "T", 4)], "E301", (2, 3), match=("4 * T", "[N, 2, 3]"))


def test_permute_transpose_errors():
    raises("Permute", [T("N", 3, 4)], "E302", (0, 2, 1, 3), match=("4 entries", "rank 3"))
    raises("Permute", [T("N", 3, 4)], "E304", (0, 1, 1), match="twice")
    raises("Permute", [T("N", 3, 4)], "E302", (0, 1, 3), match=("dims 3", "rank-3"))
    raises("Transpose", [T("N", 3, 4)], "E302", 1, 3, match=("dim1 3", "rank-3", "[N, 3, 4]"))


def test_squeeze_unsqueeze_errors():
    raises("Squeeze", [T("N", 3, 4)], "E301", 1, match=("size 3", "expected 1"))
    raises("Squeeze", [T("N", 3, 4)], "E303", 0, match=("Squeeze", "[N, 3, 4]"))
    raises("Unsqueeze", [T("N", 3)], "E302", 3, match=("dim 3", "-3 .. 2"))


def test_concat_errors():
    err = raises("Concat", [T("N", 3, 8), T("N", 5, 8), T("N", 2, 7)], "E301",
                 match=("input 0 [N, 3, 8]", "input 2 [N, 2, 7]", "dim 2"), input=2)
    assert "8 vs 7" in str(err)
    raises("Concat", [T("N", 3, 8), T("N", 5)], "E302", match=("input 1", "rank 2", "rank 3"), input=1)
    raises("Concat", [T("N", 3), T("N", 5, dtype="i64")], "E301", match=("i64", "f32"), input=1)
    raises("Concat", [T("N", 3), T("N", 5)], "E302", axis=2, match="axis 2")
    raises("Cat", [T("N", "T", 8), T("M", "T", 8)], "E301", axis=1, match=("[N, T, 8]", "[M, T, 8]"))


def test_split_slice_select_errors():
    raises("Split", [T("N", 5, 4)], "E304", 2, match=("2 sections", "[N, 5, 4]"))
    raises("Split", [T("N", 5, 4)], "E301", (2, 2), match=("sum to 4", "size 5"))
    with pytest.raises(ParamRangeError):
        bind("Split", 0)
    with pytest.raises(ParamTypeError):
        bind("Split", "two")
    raises("Slice", [T("N", 5, 4)], "E304", 1, start=3, end=2, match="empty")
    raises("Slice", [T("N", 5, 4)], "E302", 3, match=("axis 3", "rank-3"))
    with pytest.raises(ParamRangeError):
        bind("Slice", 1, step=0)
    raises("Select", [T("N", 5, 4)], "E304", 1, 5, match=("index 5", "size 5"))
    raises("Select", [T("N", 5, 4)], "E302", -4, 0, match="axis -4")


def test_pad_errors():
    with pytest.raises(ParamRangeError):
        bind("Pad", (1, 1, 1))
    with pytest.raises(ParamTypeError):
        bind("Pad", (1, 1), mode="edge")
    raises("Pad", [T("N", 3)], "E302", (1, 1, 1, 1, 1, 1), match=("3 dims", "rank 2"))
    raises("Pad", [T("N", 3, 4)], "E304", (3, 4), mode="reflect", match=("at most 3", "[N, 3, 4]"))
    raises("Pad", [T("N", 3, "T")], "E303", (1, 1), mode="reflect", match=("reflect", "[N, 3, T]"))
    raises("Pad", [T("N", 3, 4, 4)], "E302", (1, 1), mode="replicate", match="replicate")
    raises("Pad", [T("N", 3, 4)], "E304", (1, 1), mode="circular", value=1.0, match="constant")
    raises("Pad", [T("N", 3, 4)], "E304", (-2, -2), match="size 0")


def test_reduce_errors():
    raises("Mean", [T("N", 3, dtype="i64")], "E301", 1, match=("floating", "i64"))
    raises("Sum", [T("N", 3, 4)], "E304", (1, -2), match="twice")
    raises("Mean", [T("N", 3)], "E302", 2, match=("axis 2", "rank-2"))


def test_documented():
    from nnlang.layers.shape import LAYERS
    assert_documented(LAYERS)
