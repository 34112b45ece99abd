"""Linear / Embedding / Bilinear against torch.nn."""

import pytest
import torch
from torch import nn

from _torch_oracle import SIZES, T, bind, check_layer, check_metadata, run, sample
from nnlang.layers import dense
from nnlang.layers.base import ParamRangeError, ParamTypeError, ShapeError


def test_metadata():
    check_metadata(dense)


# ---- Linear ------------------------------------------------------------------------------------

def _linear(a, ins):
    return nn.Linear(ins[0].shape[-1], a["out_features"], bias=a["bias"])


@pytest.mark.parametrize("shape, args, kwargs", [
    (("N", 64), (10,), {}),
    (("N", "T", 32), (16,), {"bias": False}),
    ((12,), (3,), {}),  # unbatched vector
    ((2, "S", 3, 8), (), {"units": 5}),  # Keras spelling of out_features
])
def test_linear(shape, args, kwargs):
    _, (y,) = check_layer("Linear", [T(*shape)], _linear, *args, **kwargs)
    assert y.shape[:-1] == shape[:-1]  # symbols pass through


def test_dense_is_linear():
    _, (y,), ws, macs = run("Dense", [T("N", 20)], 7)
    assert y.shape == ("N", 7) and [w.shape for w in ws] == [(7, 20), (7,)] and macs == 140


def test_linear_errors():
    with pytest.raises(ShapeError) as e:
        run("Linear", [T("N", "T")], 8)
    assert e.value.code == "E303"
    assert str(e.value) == ("Linear: in_features must be known, but the last dim of its input [N, T] is T, which "
                            "depends on the input size T; give it a value (`--set T=...`)")
    with pytest.raises(ShapeError) as e:
        run("Linear", [T()], 8)
    assert e.value.code == "E302" and "[]" in str(e.value)
    with pytest.raises(ShapeError) as e:
        run("Linear", [T("N", "T", dtype="i64")], 8)
    assert e.value.code == "E303"  # the unknown dim is reported first
    with pytest.raises(ShapeError) as e:
        run("Linear", [T("N", 4, dtype="i64")], 8)
    assert e.value.code == "E305" and "Embedding" in str(e.value)
    with pytest.raises(ParamRangeError):
        bind("Linear", 0)
    with pytest.raises(ParamTypeError):
        bind("Linear", 2.5)
    with pytest.raises(ParamTypeError):
        bind("Linear", 4, bias=1)


# ---- Embedding ---------------------------------------------------------------------------------

def _embedding(a, ins):
    return nn.Embedding(a["num_embeddings"], a["embedding_dim"], padding_idx=a["padding_idx"],
                        max_norm=a["max_norm"], norm_type=a["norm_type"],
                        scale_grad_by_freq=a["scale_grad_by_freq"], sparse=a["sparse"])


@pytest.mark.parametrize("shape, dtype, kwargs", [
    (("N", "T"), "i64", {}),
    (("N",), "i32", {"padding_idx": 0}),
    ((3, "T", 2), "i64", {"padding_idx": -1, "max_norm": 1.0}),
    ((), "i64", {}),  # a single index
])
def test_embedding(shape, dtype, kwargs):
    _, (y,) = check_layer("Embedding", [T(*shape, dtype=dtype)], _embedding, 50, 16,
                          make_inputs=lambda ins: [sample(ins[0], high=50)], **kwargs)
    assert y.shape == (*shape, 16) and y.dtype == "f32"


def test_embedding_errors():
    with pytest.raises(ShapeError) as e:
        run("Embedding", [T("N", "T")], 100, 8)
    assert e.value.code == "E305" and "f32" in str(e.value)
    with pytest.raises(ShapeError) as e:
        run("Embedding", [T("N", dtype="u8")], 100, 8)
    assert e.value.code == "E305"
    with pytest.raises(ShapeError) as e:
        run("Embedding", [T("N", dtype="i64")], 10, 8, padding_idx=10)
    assert e.value.code == "E105"
    with pytest.raises(ParamRangeError):
        bind("Embedding", 0, 8)
    with pytest.raises(ParamTypeError):
        bind("Embedding", 10, (8, 8))
    with pytest.raises(TypeError):
        bind("Embedding", 10)  # embedding_dim is required


# ---- Bilinear ----------------------------------------------------------------------------------

def _bilinear(a, ins):
    return nn.Bilinear(ins[0].shape[-1], ins[1].shape[-1], a["out_features"], bias=a["bias"])


@pytest.mark.parametrize("s1, s2, args, kwargs", [
    (("N", 6), ("N", 4), (5,), {}),
    (("N", "T", 3), ("N", "T", 7), (2,), {"bias": False}),
    ((6,), (4,), (3,), {}),
])
def test_bilinear(s1, s2, args, kwargs):
    # FlopCounterMode does not count aten._trilinear; the spec reports the real MACs: out * in1 * in2.
    out = [SIZES.get(d, d) for d in s1[:-1]] + [args[0]]
    real = torch.tensor(out).prod().item() * s1[-1] * s2[-1]
    _, (y,) = check_layer("Bilinear", [T(*s1), T(*s2)], _bilinear, *args, real_macs=real, **kwargs)
    assert y.shape == (*s1[:-1], args[0])


def test_bilinear_unknown_leading_dim_is_filled():
    _, (y,), _, _ = run("Bilinear", [T(None, 3), T("N", 4)], 2)
    assert y.shape == ("N", 2)


def test_bilinear_errors():
    with pytest.raises(ShapeError) as e:
        run("Bilinear", [T("N", 3), T("N", "T")], 2)
    assert e.value.code == "E303" and e.value.input == 1 and "in2_features" in str(e.value)
    with pytest.raises(ShapeError) as e:
        run("Bilinear", [T("N", 5, 3), T("N", 4)], 2)
    assert e.value.code == "E302"
    with pytest.raises(ShapeError) as e:
        run("Bilinear", [T("N", 5, 3), T("N", 6, 4)], 2)
    assert e.value.code == "E301" and "[N, 5, 3]" in str(e.value) and "[N, 6, 4]" in str(e.value)
    with pytest.raises(ParamTypeError):
        bind("Bilinear", "8")
