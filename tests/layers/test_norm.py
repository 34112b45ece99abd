"""BatchNorm / InstanceNorm / LayerNorm / GroupNorm / LocalResponseNorm against torch.nn."""

import pytest
from torch import nn

from _torch_oracle import T, bind, check_layer, check_metadata, run
from nnlang.layers import norm
from nnlang.layers.base import ParamRangeError, ParamTypeError, ShapeError


def test_metadata():
    check_metadata(norm)


def _stats_module(cls, channel_axis):
    """torch BatchNorm / InstanceNorm with num_features taken from the input, as an emitter would."""
    def build(a, ins):
        return cls(ins[0].shape[channel_axis(ins[0])], eps=a["eps"], momentum=a["momentum"], affine=a["affine"],
                   track_running_stats=a["track_running_stats"])
    return build


# ---- BatchNorm ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, cls, shape, kwargs", [
    ("BatchNorm1d", nn.BatchNorm1d, ("N", 8), {}),
    ("BatchNorm1d", nn.BatchNorm1d, ("N", 8, "L"), {"momentum": None}),
    ("BatchNorm2d", nn.BatchNorm2d, ("N", 3, "H", "W"), {}),
    ("BatchNorm2d", nn.BatchNorm2d, (4, 16, 5, 5), {"affine": False}),
    ("BatchNorm2d", nn.BatchNorm2d, ("N", 16, 5, 5), {"track_running_stats": False, "eps": 1e-3}),
    ("BatchNorm3d", nn.BatchNorm3d, ("N", 4, "D", 3, 3), {"affine": False, "track_running_stats": False}),
])
def test_batchnorm(name, cls, shape, kwargs):
    _, (y,) = check_layer(name, [T(*shape)], _stats_module(cls, lambda x: 1), **kwargs)
    assert y.shape == shape


def test_batchnorm_buffers():
    _, _, ws, macs = run("BatchNorm2d", [T("N", 64, 8, 8)])
    assert [(w.name, w.trainable, w.dtype) for w in ws] == [
        ("weight", True, "f32"), ("bias", True, "f32"), ("running_mean", False, "f32"),
        ("running_var", False, "f32"), ("num_batches_tracked", False, "i64")]
    assert ws[-1].shape == () and ws[-1].size == 1 and macs == 0


def test_batchnorm_errors():
    with pytest.raises(ShapeError) as e:
        run("BatchNorm2d", [T("N", 3, 8)])
    assert e.value.code == "E302" and "rank-4" in str(e.value) and "[N, 3, 8]" in str(e.value)
    with pytest.raises(ShapeError) as e:
        run("BatchNorm1d", [T("N", 3, 8, 8)])
    assert e.value.code == "E302" and "rank-2 or 3" in str(e.value)
    with pytest.raises(ShapeError) as e:
        run("BatchNorm2d", [T("N", "C", 8, 8)])
    assert e.value.code == "E303"
    assert str(e.value) == "BatchNorm2d: channels (dim 1 of [N, C, 8, 8]) must be known, got C"
    with pytest.raises(ParamRangeError):
        bind("BatchNorm2d", eps=-1.0)
    with pytest.raises(ParamTypeError):
        bind("BatchNorm2d", affine="yes")


# ---- InstanceNorm ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, cls, shape, kwargs", [
    ("InstanceNorm1d", nn.InstanceNorm1d, ("N", 6, "L"), {}),
    ("InstanceNorm1d", nn.InstanceNorm1d, (6, "L"), {"affine": True}),  # unbatched [C, L]
    ("InstanceNorm2d", nn.InstanceNorm2d, ("N", 3, "H", "W"), {"affine": True, "track_running_stats": True}),
    ("InstanceNorm3d", nn.InstanceNorm3d, (2, 3, 4, 4, 4), {"track_running_stats": True}),
])
def test_instancenorm(name, cls, shape, kwargs):
    n = int(name[-2])  # channels are dim 1, or dim 0 of an unbatched input
    _, (y,) = check_layer(name, [T(*shape)], _stats_module(cls, lambda x: x.rank - n - 1), **kwargs)
    assert y.shape == shape


def test_instancenorm_errors():
    with pytest.raises(ShapeError) as e:
        run("InstanceNorm2d", [T("N", 3)])
    assert e.value.code == "E302" and "rank-3 or 4" in str(e.value)
    with pytest.raises(ShapeError) as e:
        run("InstanceNorm2d", [T("N", None, 4, 4)])
    assert e.value.code == "E303"
    with pytest.raises(ParamTypeError):
        bind("InstanceNorm2d", momentum="fast")


# ---- LayerNorm ---------------------------------------------------------------------------------

def _layernorm(a, ins):
    return nn.LayerNorm(a["normalized_shape"], eps=a["eps"], elementwise_affine=a["elementwise_affine"],
                        bias=a["bias"])


@pytest.mark.parametrize("shape, kwargs", [
    (("N", "T", 512), {}),
    (("N", 3, 4, 5), {"normalized_shape": (4, 5)}),
    ((10,), {"bias": False}),
    (("N", "T", 8), {"elementwise_affine": False}),
])
def test_layernorm(shape, kwargs):
    attrs, (y,) = check_layer("LayerNorm", [T(*shape)], _layernorm, **kwargs)
    assert y.shape == shape
    assert attrs["normalized_shape"] == kwargs.get("normalized_shape", (shape[-1],))  # resolved for emitters


def test_layernorm_fills_unknown_normalized_dims():
    _, (y,), ws, _ = run("LayerNorm", [T("N", None, "T")], normalized_shape=(6, 8))
    assert y.shape == ("N", 6, "T") and [w.shape for w in ws] == [(6, 8), (6, 8)]


def test_layernorm_errors():
    with pytest.raises(ShapeError) as e:
        run("LayerNorm", [T("N", "T")])
    assert e.value.code == "E303" and "LayerNorm: normalized_shape (last dim of [N, T]) must be known" in str(e.value)
    with pytest.raises(ShapeError) as e:
        run("LayerNorm", [T("N", 4, 6)], normalized_shape=(4, 5))
    assert e.value.code == "E301" and "[4, 5]" in str(e.value) and "[N, 4, 6]" in str(e.value)
    with pytest.raises(ShapeError) as e:
        run("LayerNorm", [T(8)], normalized_shape=(2, 8))
    assert e.value.code == "E302"
    with pytest.raises(ShapeError) as e:
        run("LayerNorm", [T()])
    assert e.value.code == "E302"
    with pytest.raises(ParamRangeError):
        bind("LayerNorm", normalized_shape=(0, 3))
    with pytest.raises(ParamTypeError):
        bind("LayerNorm", normalized_shape=(2.0,))


# ---- GroupNorm ---------------------------------------------------------------------------------

def _groupnorm(a, ins):
    return nn.GroupNorm(a["num_groups"], ins[0].shape[1], eps=a["eps"], affine=a["affine"])


@pytest.mark.parametrize("shape, args, kwargs", [
    (("N", 32, "H", "W"), (8,), {}),
    (("N", 6), (3,), {"affine": False}),
    (("N", 12, "L"), (12,), {"eps": 1e-6}),
])
def test_groupnorm(shape, args, kwargs):
    _, (y,) = check_layer("GroupNorm", [T(*shape)], _groupnorm, *args, **kwargs)
    assert y.shape == shape


def test_groupnorm_errors():
    with pytest.raises(ShapeError) as e:
        run("GroupNorm", [T(8)], 2)
    assert e.value.code == "E302"
    with pytest.raises(ShapeError) as e:
        run("GroupNorm", [T("N", "C", 4, 4)], 2)
    assert e.value.code == "E303"
    with pytest.raises(ShapeError) as e:
        run("GroupNorm", [T("N", 10, 4, 4)], 4)
    assert e.value.code == "E301" and "num_groups=4" in str(e.value) and "10" in str(e.value)
    with pytest.raises(ParamRangeError):
        bind("GroupNorm", 0)
    with pytest.raises(TypeError):
        bind("GroupNorm")  # num_groups is required


# ---- LocalResponseNorm -------------------------------------------------------------------------

def _lrn(a, ins):
    return nn.LocalResponseNorm(a["size"], alpha=a["alpha"], beta=a["beta"], k=a["k"])


@pytest.mark.parametrize("name, shape, args, kwargs", [
    ("LocalResponseNorm", ("N", 96, "H", "W"), (5,), {}),
    ("LRN", ("N", 8, "L"), (3,), {"alpha": 2e-4, "beta": 0.5, "k": 2.0}),
    ("LRN", (2, 4, 3, 3, 3), (2,), {}),
])
def test_lrn(name, shape, args, kwargs):
    _, (y,) = check_layer(name, [T(*shape)], _lrn, *args, **kwargs)
    assert y.shape == shape


def test_lrn_errors():
    with pytest.raises(ShapeError) as e:
        run("LRN", [T("N", 8)], 5)
    assert e.value.code == "E302" and "[N, 8]" in str(e.value)
    with pytest.raises(ParamRangeError):
        bind("LRN", 0)
    with pytest.raises(ParamTypeError):
        bind("LRN", 5, beta="high")
