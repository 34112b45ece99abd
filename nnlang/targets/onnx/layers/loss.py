"""Losses: the loss value as torch computes it in the forward pass, as an ordinary graph output.

The classification losses use NegativeLogLikelihoodLoss (opset 12, added to ONNX for training
graphs); the others are elementwise arithmetic and a reduction. Gradients are not part of the export:
an ONNX model is an inference graph, and the loss is one more output of it.
"""

from __future__ import annotations

from ..builder import FLOATS
from ..mapping import onnx_layer


def _reduced(b, per: str, reduction: str) -> str:
    if reduction == "none":
        return per
    return b.reduce("ReduceMean" if reduction == "mean" else "ReduceSum", per, None, keepdims=False)


def _pair(b):
    return b.xs[0], b.xs[1]


@onnx_layer("MSELoss")
def mse_loss(b):
    x, t = _pair(b)
    d = b.op("Sub", x, t)
    return _reduced(b, b.op("Mul", d, d), b.a["reduction"])


@onnx_layer("L1Loss")
def l1_loss(b):
    x, t = _pair(b)
    return _reduced(b, b.op("Abs", b.op("Sub", x, t)), b.a["reduction"])


@onnx_layer("SmoothL1Loss", "HuberLoss")
def smooth_l1_loss(b):
    """SmoothL1: 0.5 d^2 / beta below beta, d - 0.5 beta above; Huber: 0.5 d^2 below delta, delta (d - 0.5 delta)
    above (d = |x - t|). SmoothL1 with beta 0 is L1."""
    x, t = _pair(b)
    d = b.op("Abs", b.op("Sub", x, t))
    huber = b.node.op == "HuberLoss"
    edge = b.a["delta"] if huber else b.a["beta"]
    if edge == 0.0:
        return _reduced(b, d, b.a["reduction"])
    square = b.op("Mul", b.op("Mul", d, d), b.scalar(0.5 if huber else 0.5 / edge))
    linear = b.op("Sub", d, b.scalar(0.5 * edge))
    if huber:
        linear = b.op("Mul", linear, b.scalar(edge))
    return _reduced(b, b.op("Where", b.op("Less", d, b.scalar(edge)), square, linear), b.a["reduction"])


@onnx_layer("BCELoss")
def bce_loss(b):
    """-(t log x + (1 - t) log(1 - x)), each log clamped at -100 as torch does."""
    x, t = _pair(b)
    floor = b.scalar(-100.0)
    one = b.scalar(1.0)
    log_x = b.op("Max", b.op("Log", x), floor)
    log_1mx = b.op("Max", b.op("Log", b.op("Sub", one, x)), floor)
    per = b.op("Sub", b.op("Mul", b.op("Sub", t, one), log_1mx), b.op("Mul", t, log_x))
    return _reduced(b, per, b.a["reduction"])


@onnx_layer("BCEWithLogitsLoss")
def bce_with_logits_loss(b):
    """(1 - t) x + (1 + (pos_weight - 1) t) softplus(-x), softplus(-x) = max(-x, 0) + log(1 + exp(-|x|))."""
    x, t = _pair(b)
    one = b.scalar(1.0)
    softplus = b.op("Add", b.op("Relu", b.op("Neg", x)),
                    b.op("Log", b.op("Add", one, b.op("Exp", b.op("Neg", b.op("Abs", x))))))
    if b.a["pos_weight"] is not None:
        log_weight = b.op("Add", b.op("Mul", b.op("Sub", b.weight("pos_weight"), one), t), one)
        softplus = b.op("Mul", log_weight, softplus)
    per = b.op("Add", b.op("Mul", b.op("Sub", one, t), x), softplus)
    return _reduced(b, per, b.a["reduction"])


@onnx_layer("KLDivLoss")
def kl_div_loss(b):
    """t (log t - x), 0 where t = 0 (torch's xlogy); with log_target exp(t) (t - x). batchmean: sum / batch."""
    x, t = _pair(b)
    if b.a["log_target"]:
        per = b.op("Mul", b.op("Exp", t), b.op("Sub", t, x))
    else:
        zero = b.scalar(0.0)
        xlogy = b.op("Where", b.op("Equal", t, zero), zero, b.op("Mul", t, b.op("Log", t)))
        per = b.op("Sub", xlogy, b.op("Mul", t, x))
    reduction = b.a["reduction"]
    if reduction != "batchmean":
        return _reduced(b, per, reduction)
    total = b.reduce("ReduceSum", per, None, keepdims=False)
    if b.t.rank == 0:
        return total
    n = b.t.shape[0]
    batch = b.scalar(float(n)) if isinstance(n, int) else b.op(
        "Cast", b.squeeze(b.shape_of(x, 0, 1), [0]), to=1)  # 1: FLOAT
    return b.op("Div", total, batch)


def _class_inputs(b):
    """(input, target, class axis, whether a batch dim was added): NegativeLogLikelihoodLoss needs
    [N, C, ...] and int64 class indices; a [C] input becomes [1, C]."""
    x, t = _pair(b)
    target = b.ins[1]
    if target.dtype not in FLOATS:
        t = b.cast(t, target.dtype, "i64")
    if b.t.rank == 1:
        return b.unsqueeze(x, [0]), b.unsqueeze(t, [0]), 1, True
    return x, t, 1, False


def _nll(b, logp: str, t: str, added: bool) -> str:
    a = b.a
    weight = b.weight("weight") if a["weight"] is not None else None
    y = b.op("NegativeLogLikelihoodLoss", logp, t, weight, reduction=a["reduction"], ignore_index=a["ignore_index"])
    return b.squeeze(y, [0]) if added and a["reduction"] == "none" else y


@onnx_layer("NLLLoss", since=12)
def nll_loss(b):
    x, t, _, added = _class_inputs(b)
    return _nll(b, x, t, added)


@onnx_layer("CrossEntropyLoss", since=12)
def cross_entropy_loss(b):
    """log_softmax over the classes, then NLL. Label smoothing adds eps / C times the (weighted) sum of
    -log p over the classes, as torch: ignored targets contribute 0 and "mean" divides by the same weight
    sum as the NLL term. Probability targets: -sum_c w_c t_c log p_c per element."""
    a = b.a
    x, t, axis, added = _class_inputs(b)
    rank = b.t.rank + (1 if added else 0)
    classes = b.known(b.t.shape[0 if b.t.rank == 1 else 1], "the number of classes")
    logp = b.softmax("LogSoftmax", x, axis, rank)
    eps = a["label_smoothing"]
    weight = b.weight("weight") if a["weight"] is not None else None
    w_view = None if weight is None else b.channel_view(weight, rank, axis)
    if b.ins[1].dtype in FLOATS:  # class probabilities
        if eps:
            t = b.op("Add", b.op("Mul", t, b.scalar(1.0 - eps)), b.scalar(eps / classes))
        prod = b.op("Mul", logp, t)
        if w_view is not None:
            prod = b.op("Mul", prod, w_view)
        per = b.op("Neg", b.reduce("ReduceSum", prod, [axis], keepdims=False))
        if added:
            per = b.squeeze(per, [0])
        return _reduced(b, per, a["reduction"])
    nll = _nll(b, logp, t, added)
    if not eps:
        return nll
    weighted = logp if w_view is None else b.op("Mul", logp, w_view)
    smooth = b.op("Neg", b.reduce("ReduceSum", weighted, [axis], keepdims=False))
    ignored = b.op("Equal", t, b.const(a["ignore_index"], "i64"))
    zero = b.scalar(0.0)
    smooth = b.op("Where", ignored, zero, smooth)
    reduction = a["reduction"]
    if reduction == "none":
        ret = b.squeeze(smooth, [0]) if added else smooth
    elif reduction == "sum":
        ret = b.reduce("ReduceSum", smooth, None, keepdims=False)
    else:
        if weight is None:
            counted = b.op("Cast", b.op("Not", ignored), to=1)  # 1: FLOAT
        else:
            safe = b.op("Where", ignored, b.const(0, "i64"), t)  # any valid index; masked out below
            counted = b.op("Where", ignored, zero, b.op("Gather", weight, safe, axis=0))
        ret = b.op("Div", b.reduce("ReduceSum", smooth, None, keepdims=False),
                   b.reduce("ReduceSum", counted, None, keepdims=False))
    return b.op("Add", b.op("Mul", nll, b.scalar(1.0 - eps)), b.op("Mul", ret, b.scalar(eps / classes)))
