"""Swin Transformer's two layers, as torchvision.models.swin_transformer defines them (V1):
ShiftedWindowAttention and PatchMerging, and the relative-position bias that MaxViT (and other window
attentions written out by hand) add to their attention logits: RelativePositionBias. Each is one torchvision
module or one term of its forward, so each is one layer here, with torchvision's parameter and buffer names
(state_dicts load strictly both ways).

Both work on channels-last maps [N, H, W, C] (Swin keeps its features as [..., H, W, C] between the
stem's Permute and the head's). ShiftedWindowAttention pads H and W up to multiples of the window, rolls
the map by -shift (a shift is dropped along a dim whose padded size the window covers whole, as torchvision
does), attends within each window with a learned relative-position bias (and, when shifted, the mask that
keeps the rolled-in regions apart), rolls back and crops. MACs per example: the qkv and proj projections
(3 C^2 + C^2 per padded position) and q k^T, attn v (window area * C each per padded position); this is
what FlopCounterMode counts for torchvision's module.
"""

from __future__ import annotations

from .base import BOOL, FLOAT, INT, Inferred, Ints, LayerSpec, Param, ShapeError, Weight, count, dim_arith, \
    require_known
from .regularization import Probability

_SWA = "ShiftedWindowAttention"
_PM = "PatchMerging"
_RPB = "RelativePositionBias"
_SWA2 = "ShiftedWindowAttentionV2"
_PM2 = "PatchMergingV2"


def _channels_last(x, layer: str, ranks=(4,)) -> int:
    if x.rank not in ranks:
        want = "[N, H, W, C]" if ranks == (4,) else "[..., H, W, C]"
        raise ShapeError(f"{layer} expects a channels-last map {want}, got rank {x.rank} {x}", "E302", 0)
    return require_known(x.shape[-1], f"{layer}: channels (last dim of {x})")


def padded(size, window: int):
    """The size rounded up to a multiple of the window (torchvision pads the map so)."""
    return dim_arith(lambda d: (d + window - 1) // window * window, size)


def effective_shift(a, h, w) -> tuple:
    """torchvision's shift per dim: 0 where the window covers the whole padded size (needs known sizes;
    an unknown size keeps the shift)."""
    out = []
    for size, win, shift in zip((h, w), a["window_size"], a["shift_size"]):
        p = padded(size, win)
        out.append(0 if isinstance(p, int) and win >= p else shift)
    return tuple(out)


def relative_position_index(window: tuple) -> list:
    """torchvision's relative_position_index buffer, flattened: for tokens i, j of one window (row-major),
    (dh + wh - 1) * (2 ww - 1) + (dw + ww - 1) with (dh, dw) = position(i) - position(j)."""
    wh, ww = window
    coords = [(r, c) for r in range(wh) for c in range(ww)]
    return [(ri - rj + wh - 1) * (2 * ww - 1) + (ci - cj + ww - 1) for ri, ci in coords for rj, cj in coords]


def coords_table(wh: int, ww: int) -> list:
    """Swin V2's relative_coords_table [1, 2 wh - 1, 2 ww - 1, 2] as nested lists: each relative offset
    (dh, dw) scaled to [-8, 8] by the window (a 1-wide window's offsets stay 0) and log-spaced,
    sign(t) log2(|t| + 1) / 3 (torchvision's)."""
    import math

    def spaced(d: int, size: int) -> float:
        t = d / (size - 1) * 8 if size > 1 else 0.0
        return math.copysign(math.log2(abs(t) + 1.0), t) / 3.0 if t else 0.0

    return [[[[spaced(dh, wh), spaced(dw, ww)] for dw in range(-(ww - 1), ww)] for dh in range(-(wh - 1), wh)]]


def window_of(rows: int, index: list, n: int):
    """The window (wh, ww) of n tokens with a relative-position table of `rows` rows and this (flattened) index,
    or None: how an importer knows a hand-written bias for RelativePositionBias."""
    for wh in (d for d in range(1, n + 1) if n % d == 0):
        ww = n // wh
        if rows == (2 * wh - 1) * (2 * ww - 1) and len(index) == n * n and index == relative_position_index((wh, ww)):
            return wh, ww
    return None


def shift_mask(ph: int, pw: int, window: tuple, shift: tuple) -> list:
    """torchvision's attention mask [windows, n, n]: 0 between tokens of one region of the rolled map, -100
    between regions (computed as torchvision does, with its slices)."""
    wh, ww = window
    sh, sw = shift
    region = [[0] * pw for _ in range(ph)]
    count = 0
    for h0, h1 in ((0, -wh), (-wh, -sh), (-sh, None)):
        for w0, w1 in ((0, -ww), (-ww, -sw), (-sw, None)):
            for r in range(ph)[h0:h1]:
                for c in range(pw)[w0:w1]:
                    region[r][c] = count
            count += 1
    out = []
    for r0 in range(0, ph, wh):
        for c0 in range(0, pw, ww):
            ids = [region[r0 + i][c0 + j] for i in range(wh) for j in range(ww)]
            out.append([[0.0 if a == c else -100.0 for a in ids] for c in ids])
    return out


# Swin V2's continuous position bias: an MLP of this width from the 2 log-spaced coordinates to the heads.
CPB_HIDDEN = 512


def _swa_check(a, inputs, layer: str = _SWA):
    x = inputs[0]
    c = _channels_last(x, layer)
    if c % a["num_heads"]:
        raise ShapeError(f"{layer}: channels {c} (last dim of {x}) are not divisible by num_heads={a['num_heads']}",
                         "E301", 0)
    return c


def _swa_infer(a, inputs):
    _swa_check(a, inputs)
    return [inputs[0]]


def _index_and_projections(a, c: int) -> list:
    """The window's index buffer, then qkv's and proj's weights (both versions, in torchvision's order)."""
    wh, ww = a["window_size"]
    ws = [Weight("relative_position_index", (wh * ww * wh * ww,), trainable=False, dtype="i64", derived=True),
          Weight("qkv.weight", (3 * c, c))]
    if a["qkv_bias"]:
        ws.append(Weight("qkv.bias", (3 * c,)))
    ws.append(Weight("proj.weight", (c, c)))
    if a["proj_bias"]:
        ws.append(Weight("proj.bias", (c,)))
    return ws


def _swa_weights(a, inputs):
    c = _swa_check(a, inputs)
    wh, ww = a["window_size"]
    # torch's state_dict order: the module's own table and index buffer, then qkv's and proj's
    return [Weight("relative_position_bias_table", ((2 * wh - 1) * (2 * ww - 1), a["num_heads"])),
            *_index_and_projections(a, c)]


def _swa2_weights(a, inputs):
    c = _swa_check(a, inputs, _SWA2)
    wh, ww = a["window_size"]
    heads = a["num_heads"]
    # torchvision's state_dict order: the module's own logit scale and buffers, then qkv, proj and cpb_mlp
    return [Weight("logit_scale", (heads, 1, 1)),
            Weight("relative_coords_table", (1, 2 * wh - 1, 2 * ww - 1, 2), trainable=False),
            *_index_and_projections(a, c),
            Weight("cpb_mlp.0.weight", (CPB_HIDDEN, 2)), Weight("cpb_mlp.0.bias", (CPB_HIDDEN,)),
            Weight("cpb_mlp.2.weight", (heads, CPB_HIDDEN))]


def _swa2_infer(a, inputs):
    _swa_check(a, inputs, _SWA2)
    return [inputs[0]]


def _swa_macs(a, inputs, outputs):
    x = inputs[0]
    c = require_known(x.shape[-1], "channels")
    wh, ww = a["window_size"]
    positions = count((x.shape[0], padded(x.shape[1], wh), padded(x.shape[2], ww)))
    return positions * (4 * c * c + 2 * wh * ww * c)


def _pm_infer(a, inputs, layer: str = _PM):
    x = inputs[0]
    c = _channels_last(x, layer, ranks=(3, 4, 5, 6))
    half = [dim_arith(lambda d: (d + 1) // 2, d) for d in x.shape[-3:-1]]
    return [x.with_shape((*x.shape[:-3], *half, 2 * c))]


def _pm_weights(a, inputs, layer: str = _PM):
    c = _channels_last(inputs[0], layer, ranks=(3, 4, 5, 6))
    norm = 2 * c if layer == _PM2 else 4 * c  # V2 normalises after the reduction
    # torchvision constructs reduction before norm: the state_dict's order
    return [Weight("reduction.weight", (2 * c, 4 * c)), Weight("norm.weight", (norm,)), Weight("norm.bias", (norm,))]


def _pm_macs(a, inputs, outputs):
    (y,) = outputs
    c = require_known(y.shape[-1], f"{_PM}: output channels")
    return count(y.shape[:-1]) * 2 * c * c  # the reduction Linear, 4C -> 2C per output position


def _rpb_check(a, inputs):
    """(heads, tokens per window) of the logits [..., heads, n, n] with n = the window's area."""
    x = inputs[0]
    wh, ww = a["window"]
    n = wh * ww
    if x.rank < 3:
        raise ShapeError(f"{_RPB} expects attention logits [..., heads, {n}, {n}], got rank {x.rank} {x}", "E302", 0)
    heads = require_known(x.shape[-3], f"{_RPB}: heads (dim -3 of {x})")
    if x.shape[-2:] != (n, n):
        raise ShapeError(f"{_RPB}: a {wh}x{ww} window has {n} tokens, so the logits' last two dims must be "
                         f"({n}, {n}); got {x}", "E301", 0)
    return heads, n


def _rpb_infer(a, inputs):
    _rpb_check(a, inputs)
    return [inputs[0]]


def _rpb_weights(a, inputs):
    heads, n = _rpb_check(a, inputs)
    wh, ww = a["window"]
    return [Weight("relative_position_bias_table", ((2 * wh - 1) * (2 * ww - 1), heads)),
            Weight("relative_position_index", (n * n,), trainable=False, dtype="i64", derived=True)]


def _window_attention_params(shift_doc: str, qkv_bias_doc: str) -> tuple:
    return (
        Param("num_heads", INT, doc="number of heads (must divide C)", min=1),
        Param("window_size", Ints(2), doc="window height and width", min=1),
        Param("shift_size", Ints(2), 0, shift_doc, min=0),
        Param("qkv_bias", BOOL, True, qkv_bias_doc),
        Param("proj_bias", BOOL, True, "a learned bias in the output projection"),
        Param("attention_dropout", Probability(), 0.0, "dropout on the attention weights (training only)"),
        Param("dropout", Probability(), 0.0, "dropout on the output (training only)"),
    )


_WINDOW_ATTENTION_SIGNATURE = (Inferred("dim", "channels", axis=-1), "window_size", "shift_size", "num_heads",
                               "qkv_bias", "proj_bias", "attention_dropout", "dropout")
_PATCH_MERGING_EPS = (Param("eps", FLOAT, 1e-5, "the LayerNorm's epsilon", min=0),)

LAYERS = [
    LayerSpec(
        name=_RPB, family="attention",
        doc="A learned relative-position bias added to attention logits [..., heads, n, n] of n tokens in a "
            "window (row-major): logits + table[index] as [heads, n, n], where `relative_position_bias_table` "
            "holds one row of heads per relative offset ((2 wh - 1)(2 ww - 1) rows) and the buffer "
            "`relative_position_index` is Swin's table row of each token pair. MaxViT's attention, and other "
            "window attentions written out by hand, add it before the softmax.",
        params=(Param("window", Ints(2), doc="window height and width (n = their product)", min=1),),
        infer=_rpb_infer, weights=_rpb_weights, macs=lambda a, inputs, outputs: 0,
        torch_signature=("window", Inferred("heads", "heads", axis=-3)),
        example="RelativePositionBias(2)",
    ),
    LayerSpec(
        name=_SWA, family="attention",
        doc="Swin Transformer's (shifted) window multi-head self-attention, as torchvision's ShiftedWindowAttention: "
            "on a channels-last map [N, H, W, C], pad H and W to multiples of window_size, roll by -shift_size, "
            "attend within each window (qkv Linear, heads of C / num_heads, a learned relative position bias "
            "`relative_position_bias_table` indexed by the buffer `relative_position_index`, and when shifted the "
            "mask of -100 between regions the roll brought together), proj Linear, roll back and crop. Output "
            "[N, H, W, C]. A shift is dropped along a dim whose padded size the window covers.",
        params=_window_attention_params("cyclic shift of the windows (0: regular windows; Swin uses half the "
                                        "window in every other block)", "a learned bias in the qkv projection"),
        infer=_swa_infer, weights=_swa_weights, macs=_swa_macs, torch_signature=_WINDOW_ATTENTION_SIGNATURE,
        example="ShiftedWindowAttention(3, window_size=7, shift_size=3)",
    ),
    LayerSpec(
        name=_PM, family="attention",
        doc="Swin Transformer's patch merging, as torchvision's PatchMerging (V1): on a channels-last map "
            "[..., H, W, C], pad H and W to even sizes, concatenate the four 2x2 neighbours (rows/cols (0, 0), "
            "(1, 0), (0, 1), (1, 1)) along the channels, LayerNorm over the 4C channels (`norm`) and a bias-free "
            "Linear to 2C (`reduction`). Output [..., ceil(H/2), ceil(W/2), 2C].",
        params=_PATCH_MERGING_EPS, infer=_pm_infer, weights=_pm_weights, macs=_pm_macs,
        torch_signature=(Inferred("dim", "channels", axis=-1), None),
        example="PatchMerging",
    ),
    LayerSpec(
        name=_SWA2, family="attention",
        doc="Swin Transformer V2's (shifted) window attention, as torchvision's ShiftedWindowAttentionV2: windows, "
            "shift, padding and mask as ShiftedWindowAttention, but cosine attention (queries and keys L2-normalised, "
            "their products times exp(min(`logit_scale`, log 100)) per head), the key third of the qkv bias left "
            "out, and the position bias made by a small MLP (`cpb_mlp`: Linear(2, 512), ReLU, Linear(512, heads) "
            "without bias) from log-spaced relative coordinates (the buffer `relative_coords_table`), read at "
            "`relative_position_index` and squashed to 16 sigmoid(.). Output [N, H, W, C]. MACs count qkv, proj "
            "and the two attention products per position (the MLP runs once per forward on its table).",
        params=_window_attention_params("cyclic shift of the windows (0: regular windows)",
                                        "learned query and value biases in the qkv projection"),
        infer=_swa2_infer, weights=_swa2_weights, macs=_swa_macs, torch_signature=_WINDOW_ATTENTION_SIGNATURE,
        example="ShiftedWindowAttentionV2(3, window_size=8, shift_size=4)",
    ),
    LayerSpec(
        name=_PM2, family="attention",
        doc="Swin Transformer V2's patch merging, as torchvision's PatchMergingV2: the 2x2 neighbours concatenated "
            "as PatchMerging, then the bias-free Linear to 2C (`reduction`) and LayerNorm over the 2C channels "
            "(`norm`): normalised after the reduction, not before. Output [..., ceil(H/2), ceil(W/2), 2C].",
        params=_PATCH_MERGING_EPS, infer=lambda a, inputs: _pm_infer(a, inputs, _PM2),
        weights=lambda a, inputs: _pm_weights(a, inputs, _PM2), macs=_pm_macs,
        torch_signature=(Inferred("dim", "channels", axis=-1), None),
        example="PatchMergingV2",
    ),
]
