"""Losses: layers of two inputs (prediction, target) in the IR, written as torch's formulas in keras.ops on the
IR's axis order. reduction "none" keeps the elementwise loss, "mean" / "sum" (KLDivLoss also "batchmean") give a
scalar, as torch does (Keras keeps ops' scalar results as model outputs)."""

from __future__ import annotations

from ..emit import Val
from ..mapping import NotExpressible, keras_layer


def _reduce(b, loss, reduction: str, batch=None):
    if reduction == "none":
        return Val(loss)
    if reduction == "sum":
        return Val(b.ops.sum(loss))
    if reduction == "batchmean":
        return Val(b.ops.divide(b.ops.sum(loss), float(b.known(batch, "the batch size"))))
    return Val(b.ops.mean(loss))


def _operands(b):
    p, t = b.ir(0), b.ir(1)
    if str(t.dtype) != str(p.dtype):
        t = b.ops.cast(t, p.dtype)
    return p, t


@keras_layer("MSELoss", "L1Loss")
def pointwise_loss(b):
    p, t = _operands(b)
    d = b.ops.subtract(p, t)
    return _reduce(b, b.ops.square(d) if b.node.op == "MSELoss" else b.ops.abs(d), b.a["reduction"])


@keras_layer("SmoothL1Loss", "HuberLoss")
def smooth_loss(b):
    """SmoothL1: 0.5 d^2 / beta where d < beta, else d - 0.5 beta (beta 0: |d|). Huber: 0.5 d^2 where d < delta,
    else delta (d - 0.5 delta)."""
    p, t = _operands(b)
    d = b.ops.abs(b.ops.subtract(p, t))
    half_sq = b.ops.multiply(b.ops.square(d), 0.5)
    if b.node.op == "SmoothL1Loss":
        beta = float(b.a["beta"])
        loss = d if beta == 0.0 else b.ops.where(b.ops.less(d, beta), b.ops.divide(half_sq, beta),
                                                 b.ops.subtract(d, 0.5 * beta))
    else:
        delta = float(b.a["delta"])
        loss = b.ops.where(b.ops.less(d, delta), half_sq, b.ops.multiply(b.ops.subtract(d, 0.5 * delta), delta))
    return _reduce(b, loss, b.a["reduction"])


@keras_layer("BCELoss")
def bce_loss(b):
    """-(t log p + (1 - t) log(1 - p)), each log clamped at -100 as torch does."""
    p, t = _operands(b)
    log_p = b.ops.maximum(b.ops.log(p), -100.0)
    log_q = b.ops.maximum(b.ops.log(b.ops.subtract(1.0, p)), -100.0)
    loss = b.ops.negative(b.ops.add(b.ops.multiply(t, log_p), b.ops.multiply(b.ops.subtract(1.0, t), log_q)))
    return _reduce(b, loss, b.a["reduction"])


@keras_layer("BCEWithLogitsLoss")
def bce_with_logits_loss(b):
    """torch: (1 - t) x + (1 + (pos_weight - 1) t) (log1p(exp(-|x|)) + max(-x, 0)); pos_weight along the last
    axis."""
    x, t = _operands(b)
    soft = b.ops.add(b.ops.log1p(b.ops.exp(b.ops.negative(b.ops.abs(x)))), b.ops.relu(b.ops.negative(x)))
    if b.a["pos_weight"] is not None:
        pw = _state_vector(b, "pos_weight", x)  # [N, C]: broadcast along the last axis
        for _ in range(b.types[0].rank - 2):
            pw = b.ops.expand_dims(pw, 1)
        soft = b.ops.multiply(b.ops.add(1.0, b.ops.multiply(t, b.ops.subtract(pw, 1.0))), soft)
    loss = b.ops.add(b.ops.multiply(b.ops.subtract(1.0, t), x), soft)
    return _reduce(b, loss, b.a["reduction"])


@keras_layer("KLDivLoss")
def kl_div_loss(b):
    """Input: log-probabilities. torch: t (log t - x), 0 where t = 0; log_target: exp(t) (t - x)."""
    x, t = _operands(b)
    if b.a["log_target"]:
        loss = b.ops.multiply(b.ops.exp(t), b.ops.subtract(t, x))
    else:
        safe = b.ops.where(b.ops.greater(t, 0.0), t, 1.0)
        loss = b.ops.where(b.ops.greater(t, 0.0), b.ops.multiply(t, b.ops.subtract(b.ops.log(safe), x)), 0.0)
    return _reduce(b, loss, b.a["reduction"], b.types[0].shape[0] if b.types[0].rank else 1)


def _state_vector(b, key: str, ref):
    """The node's buffer `key` (torch's pos_weight / class weight: a weights file may set it, so it is read from
    the state like any weight) as [N, C]: a frozen bias-free Dense read on a ones column of `ref` (rank >= 2)."""
    if b.t.rank < 2:
        raise NotExpressible(f"{b.node.op} on an unbatched input: Keras layers need a batch axis")
    (spec,) = [w for w in b.node.weights if w.name == key]
    ones = b.ops.ones_like(b.ops.reshape(ref[(slice(None),) + (slice(0, 1),) * (b.t.rank - 1)], (-1, 1)))
    layer = b.layer(b.L.Dense, key, units=int(spec.shape[0]), use_bias=False, trainable=False)
    y = layer(ones)
    b.weighted(layer, [key], lambda values: [values[0].reshape(1, -1)])
    return y


@keras_layer("NLLLoss", "CrossEntropyLoss")
def classification_loss(b):
    """Class indices: -w[y] logp[y] per element (0 where y is ignore_index); "mean" divides the sum by the
    weights of the counted targets. CrossEntropy takes log_softmax over axis 1 first; label smoothing eps adds
    eps / C * (-sum_c w_c logp_c) to (1 - eps) times that (torch's formula, with the same denominator). Class
    probabilities as target: -sum_c w_c t'_c logp_c with t' = t (1 - eps) + eps / C, "mean" over elements."""
    a = b.a
    x = b.ir(0)
    rank = b.types[0].rank
    if rank < 2:
        raise NotExpressible(f"{b.node.op} on an unbatched input: Keras layers need a batch axis")
    classes = b.known(b.types[0].shape[1], "the class count")
    is_ce = b.node.op == "CrossEntropyLoss"
    logp = b.ops.log_softmax(x, axis=1) if is_ce else x
    eps = float(a.get("label_smoothing") or 0.0) if is_ce else 0.0
    weight = None
    if a["weight"] is not None:  # [N, C] -> [N, C, 1, ...]: along the class axis
        weight = _state_vector(b, "weight", x)
        for _ in range(rank - 2):
            weight = b.ops.expand_dims(weight, -1)
    reduction = a["reduction"]
    weighted = logp if weight is None else b.ops.multiply(logp, weight)
    if b.types[1].dtype[0] == "f":  # class probabilities
        t = b.ir(1)
        if eps:
            t = b.ops.add(b.ops.multiply(t, 1.0 - eps), eps / classes)
        loss = b.ops.negative(b.ops.sum(b.ops.multiply(weighted, t), axis=1))
        return _reduce(b, loss, reduction)
    y = b.ir(1)
    keep = b.ops.not_equal(y, int(a["ignore_index"]))
    hot = b.ops.one_hot(b.ops.where(keep, y, 0), classes, axis=1 if b.types[1].rank > 1 else -1)
    mask = b.ops.cast(keep, logp.dtype)
    picked = b.ops.sum(b.ops.multiply(hot, weighted), axis=1)
    w_y = mask if weight is None else b.ops.multiply(b.ops.sum(b.ops.multiply(hot, weight), axis=1), mask)
    loss = b.ops.negative(b.ops.multiply(picked, mask))
    if eps:
        smooth = b.ops.negative(b.ops.multiply(b.ops.sum(weighted, axis=1), mask))
        loss = b.ops.add(b.ops.multiply(loss, 1.0 - eps), b.ops.multiply(smooth, eps / classes))
    if reduction == "mean":
        return Val(b.ops.divide(b.ops.sum(loss), b.ops.sum(w_y)))
    return _reduce(b, loss, reduction)
