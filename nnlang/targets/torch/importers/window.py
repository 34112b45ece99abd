"""Swin's ShiftedWindowAttention and PatchMerging (torchvision's V1 classes and nnlang's own) as the registry
layers of the same names: one module, one layer, the state_dict names kept (qkv, proj, the bias table and its
index buffer; reduction, norm). torchvision's V2 classes compute otherwise and are other classes: not mapped.
nnlang's RelativePositionBias module is its layer; the same bias written out in a forward (MaxViT's) is found
by importers/learned.py."""

from __future__ import annotations

from .registry import Layer, Unsupported, module_importer


def _pair(v, what: str) -> tuple:
    v = tuple(int(x) for x in v)
    if len(v) != 2:
        raise Unsupported(f"ShiftedWindowAttention with a {what} of {len(v)} entries (2 expected)")
    return v


@module_importer("ShiftedWindowAttention")
def shifted_window_attention(m, ins):
    window, shift = _pair(m.window_size, "window_size"), _pair(m.shift_size, "shift_size")
    heads = int(m.num_heads)
    table = tuple(m.relative_position_bias_table.shape)
    if table != ((2 * window[0] - 1) * (2 * window[1] - 1), heads):
        raise Unsupported(f"ShiftedWindowAttention with a relative_position_bias_table of shape {table}")
    return Layer("ShiftedWindowAttention", {
        "num_heads": heads, "window_size": window, "shift_size": shift, "qkv_bias": m.qkv.bias is not None,
        "proj_bias": m.proj.bias is not None, "attention_dropout": float(m.attention_dropout),
        "dropout": float(m.dropout)})


@module_importer("PatchMerging")
def patch_merging(m, ins):
    norm = m.norm
    if type(norm).__name__ != "LayerNorm" or not norm.elementwise_affine or norm.bias is None:
        raise Unsupported(f"PatchMerging with norm {type(norm).__name__} (LayerNorm with weight and bias expected)")
    if m.reduction.bias is not None:
        raise Unsupported("PatchMerging whose reduction Linear has a bias")
    return Layer("PatchMerging", {"eps": float(norm.eps)})


@module_importer("RelativePositionBias")
def relative_position_bias(m, ins):
    return Layer("RelativePositionBias", {"window": tuple(int(v) for v in m.window)})
