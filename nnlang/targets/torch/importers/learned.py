"""StochasticDepth and LayerNorm2d: the modules nnlang's emitted code constructs (nnlang_modules).

The learned-tensor layers (PositionalEmbedding, ClassToken, LayerScale) are bare parameters that forward
reads directly (fx `get_attr`): they are not recovered yet.
"""

from __future__ import annotations

from .registry import Layer, module_importer


@module_importer("StochasticDepth")
def stochastic_depth(m, ins):
    return Layer("StochasticDepth", {"p": float(m.p), "mode": m.mode})


@module_importer("LayerNorm2d")
def layer_norm_2d(m, ins):
    return Layer("LayerNorm2d", {"eps": float(m.eps), "elementwise_affine": m.elementwise_affine})
