"""Normalisation layers: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm, RMSNorm, GroupNorm, LocalResponseNorm
(LRN)."""

from __future__ import annotations

import math

from .base import (BOOL, FLOAT, INT, Choice, NUM_FEATURES, Inferred, IntTuple, LayerSpec, Optional_, Param, ShapeError,
                   TensorType, Weight, format_dim, format_shape, require_known)

_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


def require_form(x: TensorType, ranks, layer: str, forms: str, input: int = 0):
    """E302 naming the accepted layouts: 'BatchNorm2d expects a rank-4 input [N, C, H, W], got rank 3 [N, 3, 8]'."""
    ranks = (ranks,) if isinstance(ranks, int) else tuple(ranks)
    if x.rank not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise ShapeError(f"{layer} expects a rank-{want} input {forms}, got rank {x.rank} {x}", "E302", input)


def channel_dim(x: TensorType, layer: str, axis: int = 1) -> int:
    return require_known(x.shape[axis], f"{layer}: channels (dim {axis} of {x})")


def norm_weights(c: int, affine: bool, track: bool) -> list:
    """The state of torch's _NormBase, in state_dict order."""
    ws = []
    if affine:
        ws += [Weight("weight", (c,)), Weight("bias", (c,))]
    if track:
        ws += [Weight("running_mean", (c,), trainable=False), Weight("running_var", (c,), trainable=False),
               Weight("num_batches_tracked", (), trainable=False, dtype="i64")]
    return ws


def _stat_params(affine: bool, track: bool) -> tuple:
    return (
        Param("eps", FLOAT, 1e-5, "added to the variance for numerical stability", min=0),
        Param("momentum", Optional_(FLOAT), 0.1, "update rate of the running statistics (none: cumulative average)",
              min=0),
        Param("affine", BOOL, affine, "learn a per-channel scale (weight) and shift (bias)"),
        Param("track_running_stats", BOOL, track, "keep running mean/variance, used in eval mode"),
    )


# ---- BatchNorm / InstanceNorm ------------------------------------------------------------------

_STAT_SIGNATURE = (NUM_FEATURES, "eps", "momentum", "affine", "track_running_stats")

def _make_batchnorm(n: int):
    name = f"BatchNorm{n}d"
    ranks = (2, 3) if n == 1 else (n + 2,)
    forms = "[N, C] or [N, C, L]" if n == 1 else f"[N, C, {_SPATIAL[n]}]"

    def channels(x):
        require_form(x, ranks, name, forms)
        return channel_dim(x, name)

    def infer(a, inputs):
        (x,) = inputs
        channels(x)
        return [x]

    def weights(a, inputs):
        return norm_weights(channels(inputs[0]), a["affine"], a["track_running_stats"])

    return LayerSpec(
        name=name, family="normalization",
        doc=f"Batch normalisation per channel over a {forms} input (shape unchanged). Channels are inferred.",
        params=_stat_params(affine=True, track=True), infer=infer, weights=weights, example=name,
        flat_input=n == 1, torch_signature=_STAT_SIGNATURE,
    )


def _make_instancenorm(n: int):
    name = f"InstanceNorm{n}d"
    forms = f"[N, C, {_SPATIAL[n]}] or unbatched [C, {_SPATIAL[n]}]"

    def channels(x):
        require_form(x, (n + 1, n + 2), name, forms)
        # torch.nn.InstanceNorm takes num_features even when affine=false, so it must be known.
        return channel_dim(x, name, x.rank - n - 1)

    def infer(a, inputs):
        (x,) = inputs
        channels(x)
        spatial = x.shape[-n:]
        if not a["track_running_stats"] and all(isinstance(d, int) for d in spatial) and math.prod(spatial) == 1:
            # Statistics of a single value are undefined; PyTorch refuses at run time.
            raise ShapeError(f"{name}: normalising over one spatial element per channel is undefined, got {x}",
                             "E304", 0)
        return [x]

    def weights(a, inputs):
        return norm_weights(channels(inputs[0]), a["affine"], a["track_running_stats"])

    return LayerSpec(
        name=name, family="normalization",
        doc=f"Instance normalisation: each channel of each example normalised over its spatial dims; "
            f"{forms} (shape unchanged). Channels are inferred.",
        params=_stat_params(affine=False, track=False), infer=infer, weights=weights, example=name,
        torch_signature=_STAT_SIGNATURE,
    )


# ---- LayerNorm ---------------------------------------------------------------------------------

def _layernorm():
    def normalized(a, x) -> tuple:
        if x.rank < 1:
            raise ShapeError(f"LayerNorm expects an input of rank 1 or more, got rank 0 {x}", "E302", 0)
        if a["normalized_shape"] is not None:
            return a["normalized_shape"]
        return (require_known(x.shape[-1], f"LayerNorm: normalized_shape (last dim of {x})"),)

    def infer(a, inputs):
        (x,) = inputs
        shape = normalized(a, x)
        k = len(shape)
        if x.rank < k:
            raise ShapeError(f"LayerNorm: normalized_shape {format_shape(shape)} needs an input of rank {k} or more, "
                             f"got rank {x.rank} {x}", "E302", 0)
        tail = x.shape[x.rank - k:]
        for d, want in zip(tail, shape):
            # A known dim must match; a symbol or unknown dim is trusted (normalized_shape fixes it at run time).
            if isinstance(d, int) and d != want:
                raise ShapeError(f"LayerNorm: normalized_shape {format_shape(shape)} does not match the last {k} "
                                 f"dim{'s' if k > 1 else ''} of the input {x} ({format_dim(d)} vs {want})",
                                 "E301", 0)
        a["normalized_shape"] = shape  # resolved, for the emitters
        out = (*x.shape[:x.rank - k], *(want if d is None else d for d, want in zip(tail, shape)))
        return [x.with_shape(out)]

    def weights(a, inputs):
        shape = normalized(a, inputs[0])
        ws = []
        if a["elementwise_affine"]:
            ws.append(Weight("weight", shape))
            if a["bias"]:
                ws.append(Weight("bias", shape))
        return ws

    return LayerSpec(
        name="LayerNorm", family="normalization",
        doc="Layer normalisation over the last dims of each example (by default the last one); shape unchanged.",
        params=(
            Param("normalized_shape", Optional_(IntTuple()), None,
                  "the trailing dims to normalise over (default: the input's last dim)", min=1),
            Param("eps", FLOAT, 1e-5, "added to the variance for numerical stability", min=0),
            Param("elementwise_affine", BOOL, True, "learn a per-element scale (weight) and shift (bias)"),
            Param("bias", BOOL, True, "learn the shift as well (only with elementwise_affine)"),
        ),
        infer=infer, weights=weights, example="LayerNorm",
        torch_signature=(Inferred("normalized_shape", "normalised size", axis=-1), "eps", "elementwise_affine",
                         "bias"),
    )


# ---- GroupNorm ---------------------------------------------------------------------------------

def _groupnorm():
    def channels(a, x):
        if x.rank < 2:
            raise ShapeError(f"GroupNorm expects an input [N, C, ...] of rank 2 or more, got rank {x.rank} {x}",
                             "E302", 0)
        c = channel_dim(x, "GroupNorm")
        if c % a["num_groups"]:
            raise ShapeError(f"GroupNorm: num_groups={a['num_groups']} must divide the input channels {c} "
                             f"(input {x})", "E301", 0)
        return c

    def infer(a, inputs):
        (x,) = inputs
        channels(a, x)
        return [x]

    def weights(a, inputs):
        c = channels(a, inputs[0])
        return [Weight("weight", (c,)), Weight("bias", (c,))] if a["affine"] else []

    return LayerSpec(
        name="GroupNorm", family="normalization",
        doc="Group normalisation: channels split into num_groups groups, each normalised per example; "
            "[N, C, ...] (shape unchanged). Channels are inferred.",
        params=(
            Param("num_groups", INT, doc="number of channel groups (must divide the channels)", min=1),
            Param("eps", FLOAT, 1e-5, "added to the variance for numerical stability", min=0),
            Param("affine", BOOL, True, "learn a per-channel scale (weight) and shift (bias)"),
        ),
        infer=infer, weights=weights, example="GroupNorm(32)",
        torch_signature=("num_groups", Inferred("num_channels", "input channels"), "eps", "affine"),
    )


# ---- LocalResponseNorm -------------------------------------------------------------------------

def _lrn():
    def infer(a, inputs):
        (x,) = inputs
        if a["region"] == "within":
            # Caffe's WITHIN_CHANNEL: a size x size window over H, W, centred, so the size must be odd.
            require_form(x, 4, "LocalResponseNorm(region=\"within\")", "[N, C, H, W]")
            if a["size"] % 2 == 0:
                raise ShapeError(f"LocalResponseNorm(region=\"within\"): size must be odd (a centred window), "
                                 f"got {a['size']}", "E105")
        elif x.rank < 3:
            raise ShapeError(f"LocalResponseNorm expects an input [N, C, ...] of rank 3 or more, got rank {x.rank} {x}",
                             "E302", 0)
        return [x]

    return LayerSpec(
        name="LocalResponseNorm", family="normalization",
        doc="Local response normalisation (AlexNet): x / (k + alpha / n * sum of x^2 over the window)^beta, where the "
            "window is `size` neighbouring channels (n = size; [N, C, ...] of rank 3 or more) or, with "
            "region=\"within\", a size x size spatial window in each channel (n = size^2, zero padded; "
            "[N, C, H, W], Caffe's WITHIN_CHANNEL). Shape unchanged.",
        params=(
            Param("size", INT, doc="window: neighbouring channels (across) or the side of the square (within)", min=1),
            Param("alpha", FLOAT, 1e-4, "multiplicative factor"),
            Param("beta", FLOAT, 0.75, "exponent"),
            Param("k", FLOAT, 1.0, "additive factor"),
            Param("region", Choice(("across", "within")), "across",
                  "\"across\" neighbouring channels, or \"within\" each channel over a size x size window"),
        ),
        infer=infer, aliases=("LRN",), example="LocalResponseNorm(5)",
    )


# ---- RMSNorm ------------------------------------------------------------------------------------

def _rmsnorm():
    def normalized(a, x) -> tuple:
        if x.rank < 1:
            raise ShapeError(f"RMSNorm expects an input of rank 1 or more, got rank 0 {x}", "E302", 0)
        if a["normalized_shape"] is not None:
            return a["normalized_shape"]
        return (require_known(x.shape[-1], f"RMSNorm: normalized_shape (last dim of {x})"),)

    def infer(a, inputs):
        (x,) = inputs
        if x.dtype not in ("f16", "bf16", "f32", "f64"):
            raise ShapeError(f"RMSNorm needs a floating-point input, got {x.dtype} {x}", "E301", 0)
        shape = normalized(a, x)
        k = len(shape)
        if x.rank < k:
            raise ShapeError(f"RMSNorm: normalized_shape {format_shape(shape)} needs an input of rank {k} or more, "
                             f"got rank {x.rank} {x}", "E302", 0)
        tail = x.shape[x.rank - k:]
        for d, want in zip(tail, shape):
            if isinstance(d, int) and d != want:
                raise ShapeError(f"RMSNorm: normalized_shape {format_shape(shape)} does not match the last {k} "
                                 f"dim{'s' if k > 1 else ''} of the input {x} ({format_dim(d)} vs {want})",
                                 "E301", 0)
        a["normalized_shape"] = shape  # resolved, for the emitters
        return [x.with_shape((*x.shape[:x.rank - k], *(want if d is None else d for d, want in zip(tail, shape))))]

    def weights(a, inputs):
        return [Weight("weight", normalized(a, inputs[0]))] if a["elementwise_affine"] else []

    return LayerSpec(
        name="RMSNorm", family="normalization",
        doc="Root-mean-square normalisation over the last dims of each example (by default the last one), as "
            "torch.nn.RMSNorm: x / sqrt(mean(x^2) + eps) * weight; no centring, no bias. Shape unchanged.",
        params=(
            Param("normalized_shape", Optional_(IntTuple()), None,
                  "the trailing dims to normalise over (default: the input's last dim)", min=1),
            Param("eps", Optional_(FLOAT), None, "added to the mean square (none: the dtype's machine epsilon, "
                  "as torch)", min=0),
            Param("elementwise_affine", BOOL, True, "learn a per-element scale (weight)"),
        ),
        infer=infer, weights=weights, example="RMSNorm(eps=1e-6)",
        torch_signature=(Inferred("normalized_shape", "normalised size", axis=-1), "eps", "elementwise_affine"),
    )


LAYERS = [
    *(_make_batchnorm(n) for n in (1, 2, 3)),
    _layernorm(),
    _rmsnorm(),
    _groupnorm(),
    *(_make_instancenorm(n) for n in (1, 2, 3)),
    _lrn(),
]
