"""The learned-tensor layers, StochasticDepth and LayerNorm2d against torch (torchvision's formulas)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from _torch_oracle import T, bind, check_layer, check_metadata, concrete, run
from nnlang.layers import learned
from nnlang.layers.base import ParamRangeError, ParamTypeError, ShapeError


def test_metadata():
    check_metadata(learned)


def _bare(name, shape, *args, **kwargs):
    """(attrs, output type, the one weight) of a bare-parameter layer; its weight is the layer's path (name "")."""
    attrs, (y,), weights, macs = run(name, [T(*shape)], *args, **kwargs)
    (w,) = weights
    assert w.name == "" and w.trainable and macs == 0
    return attrs, y, w


@pytest.mark.parametrize("shape", [("N", 197, 768), ("N", 3, 4, 5)])
def test_positional_embedding_is_x_plus_a_1_T_D_weight(shape):
    _, y, w = _bare("PositionalEmbedding", shape)
    assert y.shape == shape and w.shape == (1, *shape[1:])
    x, p = torch.randn(concrete(shape)), torch.randn(w.shape)
    assert tuple((x + p).shape) == concrete(y.shape)


def test_class_token_prepends_one_position():
    _, y, w = _bare("ClassToken", ("N", 196, 768))
    assert y.shape == ("N", 197, 768) and w.shape == (1, 1, 768)
    x, token = torch.randn(2, 196, 768), torch.randn(w.shape)
    out = torch.cat([token.expand(2, -1, -1), x], dim=1)  # torchvision's VisionTransformer.forward
    assert tuple(out.shape) == (2, 197, 768)


@pytest.mark.parametrize("shape, axis, wshape", [
    (("N", 96, 56, 56), 1, (96, 1, 1)),  # torchvision's ConvNeXt: layer_scale [C, 1, 1]
    (("N", 197, 768), -1, (768,)),  # timm's gamma [D]
    (("N", 8, "L"), 1, (8, 1)),
])
def test_layer_scale_weight_broadcasts_over_the_channel_axis(shape, axis, wshape):
    attrs, y, w = _bare("LayerScale", shape, axis=axis)
    assert y.shape == shape and w.shape == wshape and attrs["init"] == 1e-6
    x = torch.randn(concrete(shape))
    assert tuple((torch.full(w.shape, 0.5) * x).shape) == tuple(x.shape)


def test_stochastic_depth_shape_and_params():
    attrs, (y,), weights, _ = run("DropPath", [T("N", 8, 4, 4)], 0.2)
    assert y.shape == ("N", 8, 4, 4) and weights == [] and attrs == {"p": 0.2, "mode": "row"}


class _LayerNorm2d(nn.LayerNorm):  # torchvision.models.convnext.LayerNorm2d
    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps).permute(0, 3, 1, 2)


@pytest.mark.parametrize("kwargs", [{}, {"eps": 1e-6}, {"elementwise_affine": False}])
def test_layer_norm_2d_as_torchvision(kwargs):
    check_layer("LayerNorm2d", [T("N", 6, 5, 4)],
                lambda a, ins: _LayerNorm2d(ins[0].shape[1], eps=a["eps"], elementwise_affine=a["elementwise_affine"]),
                **kwargs)


def test_errors():
    for name, shape, code in [("ClassToken", ("N", 4), "E302"), ("ClassToken", ("N", "T", "D"), "E303"),
                              ("PositionalEmbedding", ("N", "T", 8), "E303"), ("LayerNorm2d", ("N", 3, 4), "E302"),
                              ("LayerScale", ("N", "C", 4), "E303")]:
        with pytest.raises(ShapeError) as e:
            run(name, [T(*shape)])
        assert e.value.code == code and name in str(e.value)
    with pytest.raises(ShapeError, match="out of range"):
        run("LayerScale", [T("N", 4)], axis=2)
    with pytest.raises(ParamRangeError):
        bind("StochasticDepth", 1.5)
    with pytest.raises(ParamTypeError):
        bind("StochasticDepth", 0.1, mode="column")
    with pytest.raises(ParamRangeError):
        bind("PositionalEmbedding", std=-1.0)
