"""Activations with no plain Keras Activation name: PReLU (Keras's PReLU), CELU, Softplus with beta and threshold,
Threshold (keras.ops inside the functional model, which Keras serialises as its own op nodes)."""

from __future__ import annotations

from ..emit import Val
from ..mapping import NotExpressible, keras_layer, keras_weights


@keras_layer("PReLU")
def prelu(b):
    """torch: one slope, or one per channel (axis 1). Keras's PReLU holds a slope per non-shared axis: share
    every axis but the stored channel axis (or all of them for one slope)."""
    v = b.val()
    rank = b.t.rank
    if rank < 2:
        raise NotExpressible("PReLU on an unbatched vector: Keras layers need a batch axis")
    per_channel = len(b.node.weights) == 1 and int(b.node.weights[0].shape[0]) > 1
    if v.flat is not None:
        x, out, channel = b.ir(), Val, 1
    else:
        x, out, channel = v.t, b.same_as, b.axis(1)
    shared = [k for k in range(1, rank) if not (per_channel and k == channel)]
    layer = b.layer(b.L.PReLU, shared_axes=shared)
    y = layer(x)

    def fix(values):  # torch's [C] (or [1]) -> Keras's alpha, 1 on the shared axes
        return [values[0].reshape(tuple(layer.weights[0].shape))]
    b.weighted(layer, ["alpha"], fix)
    return out(y)


@keras_weights("PReLU")
def prelu_weights(node, w):
    return {"alpha": w["weight"]}


@keras_layer("CELU")
def celu(b):
    """keras.ops.celu: max(0, x) + min(0, alpha * (exp(x / alpha) - 1)), torch's formula."""
    return b.same_as(b.ops.celu(b.val().t, alpha=float(b.a["alpha"])))


@keras_layer("Softplus")
def softplus(b):
    """torch: log(1 + exp(beta * x)) / beta, and x itself where beta * x > threshold."""
    x = b.val().t
    beta, threshold = float(b.a["beta"]), float(b.a["threshold"])
    bx = x if beta == 1.0 else b.ops.multiply(x, beta)
    soft = b.ops.softplus(bx)
    if beta != 1.0:
        soft = b.ops.divide(soft, beta)
    return b.same_as(b.ops.where(b.ops.greater(bx, threshold), x, soft))


@keras_layer("Threshold")
def threshold(b):
    """torch: x where x > threshold, else value."""
    x = b.val().t
    return b.same_as(b.ops.where(b.ops.greater(x, float(b.a["threshold"])), x, float(b.a["value"])))
