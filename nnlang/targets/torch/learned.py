"""PyTorch mappings of the learned-tensor layers (nnlang/layers/learned.py), StochasticDepth and LayerNorm2d.

PositionalEmbedding, ClassToken and LayerScale are bare parameters on the parent module, as
torchvision writes them (`self.class_token = nn.Parameter(torch.zeros(1, 1, 768))`); the forward
template's `{m}` is the tensor. Nothing here imports torch.
"""

from __future__ import annotations

from .mapping import ModuleCall, ParameterCall, TorchLayer, torch_layer

_MODULES = frozenset({"nnlang_modules"})


def _parameter(node, forward: str, init: str, value: float) -> TorchLayer:
    (w,) = node.weights
    return TorchLayer(ParameterCall(tuple(w.shape), init, value), forward)


@torch_layer("PositionalEmbedding")
def positional_embedding(node, ins, outs):
    return _parameter(node, "{0} + {m}", "normal", node.attrs["std"])


@torch_layer("ClassToken")
def class_token(node, ins, outs):
    std = node.attrs["std"]
    return _parameter(node, "torch.cat(({m}.expand({0}.shape[0], -1, -1), {0}), dim=1)",
                      "normal" if std else "zeros", std)


@torch_layer("LayerScale")
def layer_scale(node, ins, outs):
    return _parameter(node, "{m} * {0}", "full", node.attrs["init"])


@torch_layer("StochasticDepth")
def stochastic_depth(node, ins, outs):
    # torchvision's StochasticDepth takes both arguments; written out so the module reads the same.
    return TorchLayer(ModuleCall("nnlang_modules.StochasticDepth", (node.attrs["p"], node.attrs["mode"])), "{m}({0})",
                      needs=_MODULES)


@torch_layer("LayerNorm2d")
def layer_norm_2d(node, ins, outs):
    a = node.attrs
    c = ins[0].shape[1]
    given = (("eps", a["eps"], 1e-5), ("elementwise_affine", a["elementwise_affine"], True))
    kwargs = tuple((k, v) for k, v, default in given if v != default)
    return TorchLayer(ModuleCall("nnlang_modules.LayerNorm2d", (c,), kwargs), "{m}({0})", needs=_MODULES)


def _one(pair):
    return pair[0] if pair[0] == pair[1] else pair


@torch_layer("ShiftedWindowAttention", "ShiftedWindowAttentionV2")
def shifted_window_attention(node, ins, outs):
    # torchvision's constructor order; one int for a square window / shift, as the .nns call writes it
    a = node.attrs
    given = (("qkv_bias", a["qkv_bias"], True), ("proj_bias", a["proj_bias"], True),
             ("attention_dropout", a["attention_dropout"], 0.0), ("dropout", a["dropout"], 0.0))
    kwargs = tuple((k, v) for k, v, default in given if v != default)
    args = (ins[0].shape[-1], _one(a["window_size"]), _one(a["shift_size"]), a["num_heads"])
    return TorchLayer(ModuleCall(f"nnlang_modules.{node.op}", args, kwargs), "{m}({0})", needs=_MODULES)


@torch_layer("RelativePositionBias")
def relative_position_bias(node, ins, outs):
    return TorchLayer(ModuleCall("nnlang_modules.RelativePositionBias", (_one(node.attrs["window"]), ins[0].shape[-3])),
                      "{m}({0})", needs=_MODULES)


@torch_layer("PatchMerging", "PatchMergingV2")
def patch_merging(node, ins, outs):
    eps = node.attrs["eps"]
    kwargs = (("eps", eps),) if eps != 1e-5 else ()
    return TorchLayer(ModuleCall(f"nnlang_modules.{node.op}", (ins[0].shape[-1],), kwargs), "{m}({0})",
                      needs=_MODULES)
