"""Swin's ShiftedWindowAttention and PatchMerging (torchvision's V1 classes and nnlang's own) as the registry
layers of the same names: one module, one layer, the state_dict names kept (qkv, proj, the bias table and its
index buffer; reduction, norm), and their V2 forms (cosine attention with cpb_mlp, norm after the reduction).
nnlang's RelativePositionBias module is its layer; the same bias written out in a forward (MaxViT's) is found
by importers/learned.py."""

from __future__ import annotations

from .registry import Layer, Unsupported, module_importer


def _pair(v, what: str) -> tuple:
    v = tuple(int(x) for x in v)
    if len(v) != 2:
        raise Unsupported(f"ShiftedWindowAttention with a {what} of {len(v)} entries (2 expected)")
    return v


@module_importer("ShiftedWindowAttention", "ShiftedWindowAttentionV2")
def shifted_window_attention(m, ins):
    window, shift = _pair(m.window_size, "window_size"), _pair(m.shift_size, "shift_size")
    heads = int(m.num_heads)
    op = type(m).__name__
    if op == "ShiftedWindowAttention":
        table = tuple(m.relative_position_bias_table.shape)
        if table != ((2 * window[0] - 1) * (2 * window[1] - 1), heads):
            raise Unsupported(f"ShiftedWindowAttention with a relative_position_bias_table of shape {table}")
    else:  # V2: the continuous position bias MLP of torchvision's width
        from ....layers.window import CPB_HIDDEN

        mlp = m.cpb_mlp
        if len(mlp) != 3 or tuple(mlp[0].weight.shape) != (CPB_HIDDEN, 2) or mlp[2].bias is not None \
                or type(mlp[1]).__name__ != "ReLU":
            raise Unsupported(f"{op} with a cpb_mlp other than Linear(2, {CPB_HIDDEN}), ReLU, Linear(bias=False)")
    return Layer(op, {
        "num_heads": heads, "window_size": window, "shift_size": shift, "qkv_bias": m.qkv.bias is not None,
        "proj_bias": m.proj.bias is not None, "attention_dropout": float(m.attention_dropout),
        "dropout": float(m.dropout)})


@module_importer("PatchMerging", "PatchMergingV2")
def patch_merging(m, ins):
    norm = m.norm
    if type(norm).__name__ != "LayerNorm" or not norm.elementwise_affine or norm.bias is None:
        raise Unsupported(f"PatchMerging with norm {type(norm).__name__} (LayerNorm with weight and bias expected)")
    if m.reduction.bias is not None:
        raise Unsupported("PatchMerging whose reduction Linear has a bias")
    return Layer(type(m).__name__, {"eps": float(norm.eps)})


@module_importer("RelativePositionBias")
def relative_position_bias(m, ins):
    return Layer("RelativePositionBias", {"window": tuple(int(v) for v in m.window)})
