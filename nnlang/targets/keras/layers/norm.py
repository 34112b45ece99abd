"""GroupNorm and InstanceNorm: Keras's GroupNormalization (an instance is a group of one channel), or, for an
InstanceNorm with running statistics, Keras's BatchNormalization (what torch computes in inference)."""

from __future__ import annotations

from ..emit import Val
from ..mapping import NotExpressible, keras_layer, keras_weights
from .basic import keras_momentum


def _channel_input(b):
    """(input, channel axis, result factory): channels-last maps in that layout, [N, C] as is."""
    if b.t.rank > 2:
        return b.cl(), (-1 if b.channels_last else 1), b.spatial_out
    return b.ir(), -1, (lambda t: Val(t))


@keras_layer("GroupNorm")
def group_norm(b):
    a = b.a
    if b.t.rank < 2:
        raise NotExpressible("GroupNorm on an unbatched input: Keras layers need a batch axis")
    x, axis, out = _channel_input(b)
    affine = bool(a["affine"])
    layer = b.layer(b.L.GroupNormalization, groups=int(a["num_groups"]), axis=axis, epsilon=float(a["eps"]),
                    center=affine, scale=affine)
    y = layer(x)
    b.weighted(layer, ["gamma", "beta"] if affine else [])
    return out(y)


@keras_layer("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
def instance_norm(b):
    """Without running statistics: each channel of each example normalised over its spatial axes, i.e.
    GroupNormalization with one channel per group. With them, torch's inference normalises by the running
    statistics: BatchNormalization, whose inference is the same formula (Keras's training step would update
    them from batch statistics, torch's from each instance's: the saved model is exact for inference)."""
    a = b.a
    n = int(b.node.op[-2])
    if b.t.rank != n + 2:
        raise NotExpressible(f"{b.node.op} on an unbatched input: Keras layers need a batch axis")
    channels = b.known(b.t.shape[1], "the channel count")
    x, axis, out = _channel_input(b)
    affine = bool(a["affine"])
    if a["track_running_stats"]:
        layer = b.layer(b.L.BatchNormalization, axis=axis, epsilon=float(a["eps"]),
                        momentum=keras_momentum(a["momentum"]), center=affine, scale=affine)
        keys = (["gamma", "beta"] if affine else []) + ["moving_mean", "moving_variance"]
    else:
        layer = b.layer(b.L.GroupNormalization, groups=channels, axis=axis, epsilon=float(a["eps"]),
                        center=affine, scale=affine)
        keys = ["gamma", "beta"] if affine else []
    y = layer(x)
    b.weighted(layer, keys)
    return out(y)


@keras_weights("GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")
def norm_weights(node, w):
    out = {}
    if "weight" in w:
        out["gamma"], out["beta"] = w["weight"], w["bias"]
    if "running_mean" in w:
        out["moving_mean"], out["moving_variance"] = w["running_mean"], w["running_var"]
    return out
