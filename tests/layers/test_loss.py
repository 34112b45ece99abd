"""Losses against torch.nn."""

import pytest
import torch
from torch import nn

from _torch_oracle import T, bind, check_layer, check_metadata, run, sample
from nnlang.layers import loss
from nnlang.layers.base import ParamRangeError, ParamTypeError, ShapeError


def test_metadata():
    check_metadata(loss)
    assert all(spec.loss and spec.inputs == (2, 2) and spec.input_names == ("input", "target") for spec in loss.LAYERS)


def _module(cls):
    """cls built from the attrs, which are its torch keyword arguments; tuples of weights become tensors."""
    def build(a, ins):
        return cls(**{k: torch.tensor(v) if isinstance(v, tuple) else v for k, v in a.items()})
    return build


def _probabilities(ins):
    # BCELoss needs both prediction and target in [0, 1].
    return [torch.rand(ins[0].shape), torch.rand(ins[1].shape)]


ELEMENTWISE = [
    ("MSELoss", nn.MSELoss, {}, None),
    ("L1Loss", nn.L1Loss, {}, None),
    ("BCELoss", nn.BCELoss, {}, _probabilities),
    ("BCEWithLogitsLoss", nn.BCEWithLogitsLoss, {}, None),
    ("SmoothL1Loss", nn.SmoothL1Loss, {"beta": 0.5}, None),
    ("HuberLoss", nn.HuberLoss, {"delta": 2.0}, None),
    ("KLDivLoss", nn.KLDivLoss, {"log_target": True}, None),
]


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss")  # KLDivLoss's default
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [("N", 10), ("N", 3, "H", "W"), (5,)])
@pytest.mark.parametrize("name, cls, kwargs, make_inputs", ELEMENTWISE)
def test_elementwise(name, cls, kwargs, make_inputs, shape, reduction):
    _, (y,) = check_layer(name, [T(*shape), T(*shape)], _module(cls), make_inputs=make_inputs,
                          reduction=reduction, **kwargs)
    assert y.shape == (shape if reduction == "none" else ())


def test_kldiv_batchmean_and_unknown_dims():
    _, (y,) = check_layer("KLDivLoss", [T("N", 4), T("N", 4)], _module(nn.KLDivLoss), reduction="batchmean")
    assert y.shape == ()
    _, (y,), _, _ = run("MSELoss", [T("N", None), T(None, 7)], reduction="none")
    assert y.shape == ("N", 7)  # unknown dims taken from the other side


@pytest.mark.parametrize("shape, pos_weight", [(("N", 4), (1.0, 2.0, 3.0, 4.0)), (("N", 3, 5), (2.0,))])
def test_bce_with_logits_pos_weight(shape, pos_weight):
    check_layer("BCEWithLogitsLoss", [T(*shape), T(*shape)], _module(nn.BCEWithLogitsLoss), pos_weight=pos_weight,
                make_inputs=_probabilities)


def _indices(classes):
    return lambda ins: [sample(ins[0]), sample(ins[1], high=classes)]


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name, cls", [("CrossEntropyLoss", nn.CrossEntropyLoss), ("NLLLoss", nn.NLLLoss)])
@pytest.mark.parametrize("x, t, kwargs", [
    (("N", 10), ("N",), {}),
    (("N", 4, "H", "W"), ("N", "H", "W"), {"weight": (1.0, 2.0, 0.5, 1.0)}),
    ((6,), (), {"ignore_index": 2}),  # unbatched: [C] with a single index
    (("N", 3), ("N",), {"t_dtype": "u8"}),
])
def test_class_index_targets(name, cls, x, t, kwargs, reduction):
    kwargs = dict(kwargs)
    dtype = kwargs.pop("t_dtype", "i64")
    classes = x[0] if len(x) == 1 else x[1]
    _, (y,) = check_layer(name, [T(*x), T(*t, dtype=dtype)], _module(cls), make_inputs=_indices(classes),
                          reduction=reduction, **kwargs)
    assert y.shape == (t if reduction == "none" else ())


@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize("x", [("N", 5), ("N", 3, "L"), (4,)])
def test_cross_entropy_probability_targets(x, reduction):
    attrs, (y,) = check_layer("CrossEntropyLoss", [T(*x), T(*x)], _module(nn.CrossEntropyLoss),
                              make_inputs=lambda ins: [sample(ins[0]), torch.rand(ins[1].shape).softmax(-1)],
                              reduction=reduction, label_smoothing=0.1)
    per_element = x[1:] if len(x) == 1 else (x[0], *x[2:])
    assert y.shape == (per_element if reduction == "none" else ())


def test_class_weight_is_a_buffer():
    _, _, ws, _ = run("CrossEntropyLoss", [T("N", 3), T("N", dtype="i64")], weight=(1.0, 2.0, 3.0))
    assert [(w.name, w.shape, w.trainable) for w in ws] == [("weight", (3,), False)]


def test_errors():
    def code(name, inputs, *args, **kwargs):
        with pytest.raises(ShapeError) as e:
            run(name, inputs, *args, **kwargs)
        return e.value.code, e.value.input, str(e.value)

    # elementwise: the target must have the input's shape (torch would broadcast [N, 1] against [N])
    assert code("MSELoss", [T("N", 1), T("N")])[:2] == ("E302", 1)
    c, i, msg = code("L1Loss", [T("N", 3), T("N", 4)])
    assert (c, i) == ("E301", 1) and "[N, 3]" in msg and "[N, 4]" in msg
    assert code("BCELoss", [T("N", 3), T("N", 3, dtype="i64")])[0] == "E305"
    assert code("HuberLoss", [T("N"), T("N")], delta=0.0)[0] == "E105"
    assert code("BCEWithLogitsLoss", [T("N", 4), T("N", 4)], pos_weight=(1.0, 2.0))[0] == "E301"
    # classification
    assert code("CrossEntropyLoss", [T(), T(dtype="i64")])[0] == "E302"
    assert code("CrossEntropyLoss", [T("N", 10), T("N", 1, dtype="i64")])[0] == "E302"
    assert code("NLLLoss", [T("N", 10, 4), T("N", 5, dtype="i64")])[0] == "E301"
    assert code("CrossEntropyLoss", [T("N", 10), T("N", dtype="i32")])[0] == "E305"
    assert code("NLLLoss", [T("N", 10), T("N", 10)])[0] == "E305"  # no probability targets for NLLLoss
    assert code("CrossEntropyLoss", [T("N", 10), T("N")])[0] == "E305"  # float indices
    assert code("CrossEntropyLoss", [T("N", "C"), T("N", dtype="i64")], weight=(1.0, 2.0))[0] == "E303"
    assert code("CrossEntropyLoss", [T("N", 3), T("N", dtype="i64")], weight=(1.0, 2.0))[0] == "E301"
    # parameters
    with pytest.raises(ParamTypeError):
        bind("MSELoss", reduction="batchmean")
    with pytest.raises(ParamRangeError):
        bind("CrossEntropyLoss", label_smoothing=1.5)
    with pytest.raises(ParamRangeError):
        bind("SmoothL1Loss", beta=-1.0)
    with pytest.raises(ParamTypeError):
        bind("NLLLoss", ignore_index=0.5)
