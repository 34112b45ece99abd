"""Activations against torch.nn."""

import pytest
from torch import nn

from _torch_oracle import T, bind, check_layer, check_metadata, run
from nnlang.layers import activation
from nnlang.layers.base import ParamTypeError, ShapeError


def test_metadata():
    check_metadata(activation)


SHAPES = [("N", 16), ("N", 3, "H", "W"), (7,), ()]

# (layer, torch class, args, kwargs): every activation with its parameters; each runs on SHAPES.
CASES = [
    ("ReLU", nn.ReLU, (), {}),
    ("LeakyReLU", nn.LeakyReLU, (0.2,), {}),
    ("LeakyReLU", nn.LeakyReLU, (), {}),
    ("ELU", nn.ELU, (), {"alpha": 0.5}),
    ("SELU", nn.SELU, (), {}),
    ("CELU", nn.CELU, (2.0,), {}),
    ("GELU", nn.GELU, (), {}),
    ("GELU", nn.GELU, (), {"approximate": "tanh"}),
    ("SiLU", nn.SiLU, (), {}),
    ("Swish", nn.SiLU, (), {}),
    ("Mish", nn.Mish, (), {}),
    ("Sigmoid", nn.Sigmoid, (), {}),
    ("Tanh", nn.Tanh, (), {}),
    ("Hardswish", nn.Hardswish, (), {}),
    ("Hardsigmoid", nn.Hardsigmoid, (), {}),
    ("Hardtanh", nn.Hardtanh, (), {}),
    ("Hardtanh", nn.Hardtanh, (-2, 3.5), {}),
    ("ReLU6", nn.ReLU6, (), {}),
    ("Softplus", nn.Softplus, (), {"beta": 2.0, "threshold": 10}),
    ("Softsign", nn.Softsign, (), {}),
    ("Threshold", nn.Threshold, (0.1, 20.0), {}),
]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name, cls, args, kwargs", CASES)
def test_elementwise(name, cls, args, kwargs, shape):
    # Every attr of these layers is a torch keyword argument of the same name.
    _, (y,) = check_layer(name, [T(*shape)], lambda a, ins: cls(**a), *args, **kwargs)
    assert y.shape == shape


def test_shape_and_dtype_pass_through():
    x = T("N", None, "T", dtype="f16")
    _, (y,), ws, macs = run("GELU", [x])
    assert y == x and ws == [] and macs == 0


@pytest.mark.parametrize("name, cls", [("Softmax", nn.Softmax), ("LogSoftmax", nn.LogSoftmax)])
@pytest.mark.parametrize("shape, kwargs", [
    (("N", 10), {}),  # default: the last dim
    (("N", 5, "H", "W"), {"dim": 1}),
    (("N", "T", 4), {"dim": -2}),
    ((), {}),
])
def test_softmax(name, cls, shape, kwargs):
    attrs, (y,) = check_layer(name, [T(*shape)], lambda a, ins: cls(dim=a["dim"]), **kwargs)
    assert y.shape == shape and attrs["dim"] == kwargs.get("dim", -1)


def _prelu(a, ins):
    return nn.PReLU(a["num_parameters"], init=a["init"])


@pytest.mark.parametrize("shape, kwargs", [
    (("N", 16), {}),
    (("N", 8, "H", "W"), {"num_parameters": "channels"}),
    (("N", 8, "L"), {"num_parameters": 8, "init": 0.1}),
    ((5,), {"num_parameters": "channels"}),  # below rank 2 there is no channel dim: one slope
])
def test_prelu(shape, kwargs):
    attrs, (y,) = check_layer("PReLU", [T(*shape)], _prelu, **kwargs)
    assert y.shape == shape and isinstance(attrs["num_parameters"], int)  # resolved for the emitters


def test_prelu_trusts_symbolic_channels():
    _, _, ws, _ = run("PReLU", [T("N", "C", 4)], 6)
    assert [w.shape for w in ws] == [(6,)]


def test_errors():
    with pytest.raises(ShapeError) as e:
        run("Softmax", [T("N", 10)], dim=2)
    assert e.value.code == "E302" and "[N, 10]" in str(e.value)
    with pytest.raises(ShapeError) as e:
        run("LogSoftmax", [T("N", 10)], dim=-3)
    assert e.value.code == "E302"
    with pytest.raises(ShapeError) as e:
        run("PReLU", [T("N", "C", 4, 4)], num_parameters="channels")
    assert e.value.code == "E303" and "[N, C, 4, 4]" in str(e.value)
    with pytest.raises(ShapeError) as e:
        run("PReLU", [T("N", 3, 4, 4)], num_parameters=4)
    assert e.value.code == "E301"
    with pytest.raises(ShapeError) as e:
        run("PReLU", [T(3)], num_parameters=3)
    assert e.value.code == "E302"
    with pytest.raises(ShapeError) as e:
        run("Hardtanh", [T("N", 3)], 1.0, 0.0)
    assert e.value.code == "E105"
    with pytest.raises(ShapeError) as e:
        run("CELU", [T("N", 3)], 0.0)
    assert e.value.code == "E105"
    with pytest.raises(ParamTypeError):
        bind("GELU", approximate="erf")
    with pytest.raises(ParamTypeError):
        bind("PReLU", num_parameters="all")
    with pytest.raises(ParamTypeError):
        bind("PReLU", num_parameters=0)
    with pytest.raises(ParamTypeError):
        bind("Softmax", dim=1.0)
    with pytest.raises(ParamTypeError):
        bind("LeakyReLU", "0.1")
    with pytest.raises(TypeError):
        bind("Threshold", 0.1)  # value is required
