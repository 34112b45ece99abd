"""Dropout family against torch.nn."""

import pytest
from torch import nn

from _torch_oracle import T, bind, check_layer, check_metadata, run
from nnlang.layers import regularization
from nnlang.layers.base import ParamRangeError, ParamTypeError, ShapeError


def test_metadata():
    check_metadata(regularization)


@pytest.mark.parametrize("name, cls, shape, args", [
    ("Dropout", nn.Dropout, ("N", "T", 64), ()),
    ("Dropout", nn.Dropout, (), (0.0,)),
    ("Dropout1d", nn.Dropout1d, ("N", 8, "L"), (0.2,)),
    ("Dropout1d", nn.Dropout1d, (8, "L"), ()),  # unbatched [C, L]
    ("Dropout2d", nn.Dropout2d, ("N", 3, "H", "W"), (1,)),
    ("Dropout3d", nn.Dropout3d, ("N", 2, "D", 4, 4), (0.25,)),
    ("Dropout3d", nn.Dropout3d, (2, "D", 4, 4), ()),  # unbatched [C, D, H, W]
    ("AlphaDropout", nn.AlphaDropout, ("N", 10), (0.1,)),
])
def test_dropout(name, cls, shape, args):
    attrs, (y,) = check_layer(name, [T(*shape)], lambda a, ins: cls(a["p"]), *args)
    assert y.shape == shape and isinstance(attrs["p"], float)


@pytest.mark.filterwarnings("ignore:dropout2d. Received a 3D input")
def test_dropout2d_rank3_as_torch():
    # torch accepts a rank-3 input (with a warning: it is treated as [N, C, L]); the shape is kept.
    _, (y,) = check_layer("Dropout2d", [T("N", 4, "L")], lambda a, ins: nn.Dropout2d(a["p"]))
    assert y.shape == ("N", 4, "L")


def test_errors():
    for name, shape, rank in [("Dropout1d", ("N", 3, 4, 4), "rank-2 or 3"), ("Dropout2d", ("N", 3), "rank-3 or 4"),
                              ("Dropout3d", ("N", 3, 4), "rank-4 or 5")]:
        with pytest.raises(ShapeError) as e:
            run(name, [T(*shape)])
        assert e.value.code == "E302" and rank in str(e.value) and name in str(e.value)
    with pytest.raises(ParamRangeError, match="between 0 and 1"):
        bind("Dropout", 1.5)
    with pytest.raises(ParamRangeError):
        bind("Dropout2d", p=-0.1)
    with pytest.raises(ParamTypeError):
        bind("AlphaDropout", "0.5")
