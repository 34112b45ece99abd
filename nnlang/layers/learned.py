"""Learned tensors used as layers (PositionalEmbedding, ClassToken, LayerScale), StochasticDepth and
LayerNorm2d: what ViT, ConvNeXt and EfficientNet need beyond the classic layers.

The first three own one tensor each and no submodule: PyTorch models keep such a tensor as a bare
parameter (torchvision's `class_token`, `encoder.pos_embedding`, ConvNeXt's `layer_scale`; timm's
`cls_token`, `pos_embed`, `gamma`). Their Weight has the empty name, so its state_dict key is the
layer's own path (`features.1.0.layer_scale`, see `base.weight_key`).
"""

from __future__ import annotations

from .base import BOOL, FLOAT, INT, Choice, LayerSpec, Param, ShapeError, TensorType, Weight, dim_arith, require_known
from .norm import channel_dim, require_form
from .regularization import Probability


def _known_tail(x: TensorType, layer: str, start: int) -> tuple:
    return tuple(require_known(d, f"{layer}: dim {k} of {x}") for k, d in enumerate(x.shape) if k >= start)


# ---- PositionalEmbedding -----------------------------------------------------------------------

def _positional_embedding():
    def shape(x):
        if x.rank < 2:
            raise ShapeError(f"PositionalEmbedding expects an input [N, T, D] (rank 2 or more), got rank {x.rank} {x}",
                             "E302", 0)
        return (1, *_known_tail(x, "PositionalEmbedding", 1))

    def infer(a, inputs):
        (x,) = inputs
        shape(x)
        return [x]

    return LayerSpec(
        name="PositionalEmbedding", family="learned",
        doc="A learned positional embedding added to its input: y = x + weight, weight [1, T, D] for an input "
            "[N, T, D] (every dim but the batch must be known). The weight is the layer itself: its state_dict "
            "key is the layer's path (torchvision's `encoder.pos_embedding`, timm's `pos_embed`).",
        params=(Param("std", FLOAT, 0.02, "initialised from a normal distribution with this standard deviation",
                      min=0, positional=False),),
        infer=infer, weights=lambda a, inputs: [Weight("", shape(inputs[0]))],
        example="PositionalEmbedding",
    )


# ---- ClassToken --------------------------------------------------------------------------------

def _class_token():
    def infer(a, inputs):
        (x,) = inputs
        require_form(x, 3, "ClassToken", "[N, T, D]")
        require_known(x.shape[2], f"ClassToken: features (dim 2 of {x})")
        k = a["tokens"]
        return [x.with_shape((x.shape[0], dim_arith(lambda t: t + k, x.shape[1]), x.shape[2]))]

    def weights(a, inputs):
        x = inputs[0]
        require_form(x, 3, "ClassToken", "[N, T, D]")
        return [Weight("", (1, a["tokens"], require_known(x.shape[2], f"ClassToken: features (dim 2 of {x})")))]

    return LayerSpec(
        name="ClassToken", family="learned",
        doc="A learned token prepended along the sequence axis: [N, T, D] -> [N, T + K, D], the weight [1, K, D] "
            "expanded over the batch (ViT's class token, K = 1; timm's register tokens, K = tokens). The weight is "
            "the layer itself: its state_dict key is the layer's path (torchvision's `class_token`, timm's "
            "`cls_token`, `reg_token`).",
        params=(Param("std", FLOAT, 0.0, "initialised from a normal distribution with this standard deviation "
                                         "(0: zeros, as torchvision)", min=0, positional=False),
                Param("tokens", INT, 1, "how many learned tokens are prepended (K)", min=1, positional=False)),
        infer=infer, weights=weights, example="ClassToken",
    )


# ---- LayerScale --------------------------------------------------------------------------------

def _layer_scale():
    def shape(a, x):
        if x.rank < 1:
            raise ShapeError(f"LayerScale expects an input of rank 1 or more, got rank 0 {x}", "E302", 0)
        axis = a["axis"]
        if not -x.rank <= axis < x.rank:
            raise ShapeError(f"LayerScale: axis {axis} is out of range for a rank-{x.rank} input {x}", "E302", 0)
        axis %= x.rank
        c = require_known(x.shape[axis], f"LayerScale: channels (dim {axis} of {x})")
        return (c,) + (1,) * (x.rank - axis - 1)  # broadcasts against the dims after the axis

    def infer(a, inputs):
        (x,) = inputs
        shape(a, x)
        return [x]

    return LayerSpec(
        name="LayerScale", family="learned",
        doc="A learned per-channel multiplier: y = x * weight. With axis=1 (channels first, [N, C, H, W]) the weight "
            "is [C, 1, 1], as torchvision's ConvNeXt `layer_scale`; with axis=-1 (channels last) it is [D], as "
            "timm's `gamma`. The weight is the layer itself: its state_dict key is the layer's path.",
        params=(
            Param("init", FLOAT, 1e-6, "the initial value of every entry (ConvNeXt: 1e-6)"),
            Param("axis", INT, 1, "the channel axis: 1 for [N, C, ...], -1 for [..., D]", positional=False),
        ),
        infer=infer, weights=lambda a, inputs: [Weight("", shape(a, inputs[0]))],
        example="LayerScale(init=1e-6)",
    )


# ---- StochasticDepth ---------------------------------------------------------------------------

def _stochastic_depth():
    def infer(a, inputs):
        (x,) = inputs
        if x.rank < 1:
            raise ShapeError(f"StochasticDepth expects an input [N, ...] of rank 1 or more, got rank 0 {x}", "E302", 0)
        return [x]

    return LayerSpec(
        name="StochasticDepth", family="regularization",
        doc="Stochastic depth (Huang et al., 2016) on a residual branch, as torchvision.ops.stochastic_depth: in "
            "training, zeroes the whole input of each example (mode \"row\") or of the batch (\"batch\") with "
            "probability p and scales the rest by 1/(1-p). Shape unchanged; identity in eval mode.",
        params=(
            Param("p", Probability(), doc="probability of dropping the branch"),
            Param("mode", Choice(("row", "batch")), "row", "\"row\": per example; \"batch\": the whole batch",
                  positional=False),
        ),
        infer=infer, aliases=("DropPath",), example="StochasticDepth(0.1)",
    )


# ---- LayerNorm2d -------------------------------------------------------------------------------

def _layernorm2d():
    forms = "[N, C, H, W]"

    def infer(a, inputs):
        (x,) = inputs
        require_form(x, 4, "LayerNorm2d", forms)
        channel_dim(x, "LayerNorm2d")
        return [x]

    def weights(a, inputs):
        x = inputs[0]
        require_form(x, 4, "LayerNorm2d", forms)
        c = channel_dim(x, "LayerNorm2d")
        return [Weight("weight", (c,)), Weight("bias", (c,))] if a["elementwise_affine"] else []

    return LayerSpec(
        name="LayerNorm2d", family="normalization",
        doc=f"Layer normalisation over the channels of each position of a {forms} input (torchvision's "
            "LayerNorm2d in ConvNeXt: LayerNorm of the channels-last view); weight and bias [C]. Shape unchanged.",
        params=(
            Param("eps", FLOAT, 1e-5, "added to the variance for numerical stability", min=0, positional=False),
            Param("elementwise_affine", BOOL, True, "learn a per-channel scale (weight) and shift (bias)",
                  positional=False),
        ),
        infer=infer, weights=weights, example="LayerNorm2d(eps=1e-6)",
    )


LAYERS = [
    _positional_embedding(),
    _class_token(),
    _layer_scale(),
    _stochastic_depth(),
    _layernorm2d(),
]
