"""Loss layers: training heads taking (prediction, target).

The output is a scalar [] for reduction "mean" / "sum" (and KLDivLoss's "batchmean"), and the per-element
loss for "none": the input's shape for the elementwise losses, the target's shape (the input without its
class dim) for CrossEntropyLoss / NLLLoss -- as PyTorch computes them.
"""

from __future__ import annotations

from .base import (BOOL, FLOAT, INT, Choice, FloatTuple, LayerSpec, Optional_, Param, ShapeError, TensorType, Weight,
                   format_dim, format_shape, no_weights, require_known, same_dims)
from .dense import FLOAT_DTYPES
from .regularization import Probability

REDUCTIONS = ("none", "mean", "sum")
INPUTS = ("input", "target")
CLASS_TARGET_DTYPES = ("i64", "u8")  # what torch's nll_loss accepts for class indices


def _reduction(options=REDUCTIONS, default="mean"):
    return Param("reduction", Choice(options), default,
                 '"none": per-element loss; "mean" / "sum": reduced to a scalar' +
                 ('; "batchmean": sum / batch size' if "batchmean" in options else ""))


def _merge(a, b):
    """Two dims already known to agree (same_dims): keep the more informative one."""
    return b if a is None else a


def _same_shape(layer: str, x: TensorType, t: TensorType, what: str = "the input's shape") -> tuple:
    """The target must have the input's shape (torch would broadcast, with a warning or an error)."""
    if t.rank != x.rank:
        raise ShapeError(f"{layer}: the target must have {what}, got target {t} (rank {t.rank}) for input {x} "
                         f"(rank {x.rank})", "E302", 1)
    for k, (d, e) in enumerate(zip(x.shape, t.shape)):
        if not same_dims(d, e):
            raise ShapeError(f"{layer}: the target must have {what}, got target {t} for input {x} "
                             f"(dim {k}: {format_dim(e)} vs {format_dim(d)})", "E301", 1)
    return tuple(_merge(d, e) for d, e in zip(x.shape, t.shape))


def _reduced(a, x: TensorType, per_element: tuple) -> list:
    return [x.with_shape(per_element if a["reduction"] == "none" else ())]


def _require_float_target(layer: str, t: TensorType):
    if t.dtype not in FLOAT_DTYPES:
        raise ShapeError(f"{layer} expects a float target (e.g. 0/1 labels as f32), got {t.dtype} {t}", "E305", 1)


def _param_error(layer: str, message: str):
    return ShapeError(f"{layer}: {message}", "E105")  # a value the parameter's type cannot exclude


# ---- elementwise losses --------------------------------------------------------------------------

def _elementwise(name, doc, params=(), example=None, float_target=False, check=None, weights=no_weights,
                 reductions=REDUCTIONS):
    def infer(a, inputs):
        x, t = inputs
        if check is not None:
            check(a, x)
        if float_target:
            _require_float_target(name, t)
        return _reduced(a, x, _same_shape(name, x, t))

    return LayerSpec(
        name=name, family="loss",
        doc=doc + " Input and target have the same shape; the output is [] (or that shape for reduction=\"none\").",
        params=(_reduction(reductions), *params),  # torch's order: reduction before the others
        infer=infer, weights=weights, inputs=(2, 2), loss=True, input_names=INPUTS, example=example or name)


def _huber_check(a, x):
    if a["delta"] <= 0:
        raise _param_error("HuberLoss", f"delta must be positive, got {a['delta']}")


def _pos_weight(a, x) -> list:
    pw = a["pos_weight"]
    if pw is None:
        return []
    last = x.shape[-1] if x.rank else 1
    # pos_weight broadcasts against the target's last dim (the classes).
    if len(pw) != 1 and isinstance(last, int) and len(pw) != last:
        raise ShapeError(f"BCEWithLogitsLoss: pos_weight has {len(pw)} values, expected 1 or the classes "
                         f"(last dim of {x}) {last}", "E301", 0)
    return [Weight("pos_weight", (len(pw),), trainable=False)]


def _bce_logits():
    return _elementwise(
        "BCEWithLogitsLoss", "Binary cross-entropy on logits (a sigmoid folded in, numerically stable).",
        (Param("pos_weight", Optional_(FloatTuple()), None,
               "weight of positive examples, one per class (last dim) or one for all", min=0),),
        float_target=True, check=_pos_weight, weights=lambda a, inputs: _pos_weight(a, inputs[0]))


# ---- classification losses -----------------------------------------------------------------------

def _without_classes(shape) -> tuple:
    """[C] -> [], [N, C, d1, ...] -> [N, d1, ...]."""
    return tuple(shape[1:]) if len(shape) == 1 else (shape[0], *shape[2:])


def _classification(name: str, doc: str, probabilities: bool, extra_params=(), example=None):
    """CrossEntropyLoss / NLLLoss: input [C], [N, C] or [N, C, d1, ...]; target the same without the class dim,
    of class indices -- or, for CrossEntropyLoss, class probabilities of the input's own shape."""

    def classes(x: TensorType):
        if x.rank < 1:
            raise ShapeError(f"{name} expects an input [N, C] (or [C], [N, C, d1, ...]), got rank 0 {x}", "E302", 0)
        return x.shape[0 if x.rank == 1 else 1]

    def class_weight(a, x) -> list:
        if a["weight"] is None:
            return []
        c = require_known(classes(x), f"{name}: the classes (dim {0 if x.rank == 1 else 1} of {x}), "
                                      "needed to check weight,", 0)
        if len(a["weight"]) != c:
            raise ShapeError(f"{name}: weight has {len(a['weight'])} values, expected one per class ({c}, from {x})",
                             "E301", 0)
        return [Weight("weight", (c,), trainable=False)]

    def infer(a, inputs):
        x, t = inputs
        classes(x)
        class_weight(a, x)
        per_element = _without_classes(x.shape)
        if probabilities and t.dtype in FLOAT_DTYPES and t.rank == x.rank:
            merged = _same_shape(name, x, t, "the input's shape (class probabilities)")
            return _reduced(a, x, _without_classes(merged))
        if t.dtype not in CLASS_TARGET_DTYPES:
            alt = " or float class probabilities of the input's shape" if probabilities else ""
            raise ShapeError(f"{name} expects class-index targets of dtype i64{alt}, got {t.dtype} {t}", "E305", 1)
        if t.rank != x.rank - 1:
            raise ShapeError(f"{name}: class-index targets must have the input's shape without the class dim "
                             f"{format_shape(per_element)}, got rank {t.rank} {t} for input {x}", "E302", 1)
        for k, (d, e) in enumerate(zip(per_element, t.shape)):
            if not same_dims(d, e):
                raise ShapeError(f"{name}: target {t} does not match the input {x} without its class dim "
                                 f"{format_shape(per_element)} (dim {k}: {format_dim(e)} vs {format_dim(d)})",
                                 "E301", 1)
        return _reduced(a, x, tuple(_merge(d, e) for d, e in zip(per_element, t.shape)))

    params = (
        Param("weight", Optional_(FloatTuple()), None, "a rescaling weight per class", min=0),
        Param("ignore_index", INT, -100, "a target value that is ignored (class-index targets)"),
        _reduction(),
        *extra_params,
    )
    return LayerSpec(
        name=name, family="loss", doc=doc, params=params, infer=infer,
        weights=lambda a, inputs: class_weight(a, inputs[0]),
        inputs=(2, 2), loss=True, input_names=INPUTS, example=example or name)


LAYERS = [
    _elementwise("MSELoss", "Mean squared error (x - y)^2."),
    _elementwise("L1Loss", "Mean absolute error |x - y|."),
    _classification(
        "CrossEntropyLoss",
        "Cross-entropy of logits [N, C] (or [C], [N, C, d1, ...]) against class indices [N] (i64) or class "
        "probabilities of the input's shape; the output is [] (or [N, d1, ...] for reduction=\"none\").",
        probabilities=True,
        extra_params=(Param("label_smoothing", Probability(), 0.0, "amount of smoothing of the targets, in [0, 1]"),),
        example="CrossEntropyLoss(label_smoothing=0.1)"),
    _elementwise("BCELoss", "Binary cross-entropy of probabilities in (0, 1) against float targets.",
                 float_target=True),
    _bce_logits(),
    _classification(
        "NLLLoss",
        "Negative log-likelihood of log-probabilities [N, C] (or [C], [N, C, d1, ...], e.g. from LogSoftmax(dim=1)) "
        "against class indices [N] (i64); the output is [] (or [N, d1, ...] for reduction=\"none\").",
        probabilities=False),
    _elementwise("SmoothL1Loss", "L1 loss, quadratic below beta (beta = 0 is L1Loss).",
                 (Param("beta", FLOAT, 1.0, "where the loss changes from quadratic to linear", min=0),),
                 "SmoothL1Loss(beta=0.5)"),
    _elementwise("HuberLoss", "Huber loss: quadratic below delta, linear (slope delta) above.",
                 (Param("delta", FLOAT, 1.0, "where the loss changes from quadratic to linear (positive)", min=0),),
                 "HuberLoss(delta=0.5)", check=_huber_check),
    _elementwise("KLDivLoss", "Kullback-Leibler divergence of the target distribution from the input "
                              "log-probabilities.",
                 (Param("log_target", BOOL, False, "the target holds log-probabilities too"),),
                 'KLDivLoss(reduction="batchmean")', float_target=True,
                 reductions=("none", "batchmean", "mean", "sum")),
]
