"""Swin's ShiftedWindowAttention and PatchMerging (V1 and V2) written out in standard ops, as torchvision computes
them in eval mode: Pad to window multiples, the cyclic shift as two Slices joined by Concat, windows by Reshape /
Transpose, qkv and proj as MatMul + Add, the relative position bias as Gather of the learned table by the
index buffer (both initializers, named as in the state_dict), the shifted-window mask as a constant added to
the scores, Softmax; PatchMerging as four strided Slices, Concat, LayerNorm and a MatMul. V2: q and k divided
by their L2 norms, the scores times Exp(Min(logit_scale, log 100)), the bias table computed from the stored
coordinates by cpb_mlp's two MatMuls and squashed by 16 Sigmoid, the key bias masked out by a Mul; its patch
merging normalises after the MatMul. RelativePositionBias: the Gather, Reshape, Transpose and Add alone."""

from __future__ import annotations

import math

from ....layers.window import effective_shift, padded, shift_mask
from ..builder import INT64_MAX
from ..mapping import onnx_layer
from .dense import linear_of
from .norm import _normalize
from .shape import roll as _roll


@onnx_layer("ShiftedWindowAttention")
def shifted_window_attention(b):
    return _window_attention(b, v2=False)


@onnx_layer("ShiftedWindowAttentionV2")
def shifted_window_attention_v2(b):
    return _window_attention(b, v2=True)


def _window_attention(b, v2: bool):
    a = b.a
    _, h, w, c = b.t.shape
    h, w, c = b.known(h, "height"), b.known(w, "width"), b.known(c, "channels")
    (wh, ww), heads = a["window_size"], a["num_heads"]
    ph, pw = padded(h, wh), padded(w, ww)
    sh, sw = effective_shift(a, h, w)
    n, hd, windows = wh * ww, c // heads, (ph // wh) * (pw // ww)
    dtype = b.t.dtype
    x = b.x
    if (ph, pw) != (h, w):
        x = b.pad(x, [0, 0, 0, 0], [0, ph - h, pw - w, 0])
    x = _roll(b, _roll(b, x, -sh, 1, ph), -sw, 2, pw)
    # The batch stays its own dim (Reshape's 0 copies it), so ONNX's shape inference keeps a symbolic N.
    x = b.op("Reshape", x, b.ints([0, ph // wh, wh, pw // ww, ww, c]))
    x = b.op("Reshape", b.transpose(x, [0, 1, 3, 2, 4, 5]), b.ints([0, windows, n, c]))  # [N, windows, n, C]
    qkv_bias = b.weight("qkv.bias") if a["qkv_bias"] else None
    if qkv_bias is not None and v2:  # V2 leaves the key third of the bias out (torchvision zeroes it per forward)
        qkv_bias = b.op("Mul", qkv_bias, b.const([1.0] * c + [0.0] * c + [1.0] * c, dtype))
    qkv = linear_of(b, x, 4, b.weight("qkv.weight"), qkv_bias)
    qkv = b.op("Reshape", qkv, b.ints([0, 0, 0, 3, heads, hd]))
    qkv = b.transpose(qkv, [3, 0, 1, 4, 2, 5])  # [3, N, windows, heads, n, d]
    q, k, v = (b.op("Gather", qkv, b.const(i, "i64"), axis=0) for i in range(3))
    if v2:
        scores = b.op("MatMul", _l2_normalized(b, q, dtype), b.transpose(_l2_normalized(b, k, dtype), [0, 1, 2, 4, 3]))
        scale = b.op("Exp", b.op("Min", b.weight("logit_scale"), b.scalar(math.log(100.0), dtype)))
        scores = b.op("Mul", scores, scale)  # [heads, 1, 1] per head
        table = linear_of(b, b.weight("relative_coords_table"), 4, b.weight("cpb_mlp.0.weight"),
                          b.weight("cpb_mlp.0.bias"))
        table = linear_of(b, b.op("Relu", table), 4, b.weight("cpb_mlp.2.weight"), None)
        table = b.op("Reshape", table, b.ints([-1, heads]))
    else:
        scores = b.op("MatMul", b.op("Mul", q, b.scalar(hd ** -0.5, dtype)), b.transpose(k, [0, 1, 2, 4, 3]))
        table = b.weight("relative_position_bias_table")
    bias = b.op("Gather", table, b.weight("relative_position_index"), axis=0)
    bias = b.transpose(b.op("Reshape", bias, b.ints([n, n, heads])), [2, 0, 1])
    if v2:
        bias = b.op("Mul", b.op("Sigmoid", bias), b.scalar(16.0, dtype))
    scores = b.op("Add", scores, bias)
    if sh or sw:
        scores = b.op("Add", scores, b.const(shift_mask(ph, pw, (wh, ww), (sh, sw)), dtype, [windows, 1, n, n]))
    y = b.op("MatMul", b.softmax("Softmax", scores, 4, 5), v)  # [N, windows, heads, n, d]
    y = b.op("Reshape", b.transpose(y, [0, 1, 3, 2, 4]), b.ints([0, 0, 0, c]))
    y = linear_of(b, y, 4, b.weight("proj.weight"), b.weight("proj.bias") if a["proj_bias"] else None)
    y = b.op("Reshape", y, b.ints([0, ph // wh, pw // ww, wh, ww, c]))
    y = b.op("Reshape", b.transpose(y, [0, 1, 3, 2, 4, 5]), b.ints([0, ph, pw, c]))
    y = _roll(b, _roll(b, y, sh, 1, ph), sw, 2, pw)
    if (ph, pw) != (h, w):
        y = b.slice(y, [0, 0], [h, w], [1, 2])
    return y


def _l2_normalized(b, x: str, dtype: str) -> str:
    """F.normalize(x, dim=-1): x / max(||x||_2, 1e-12) over the last of 5 dims."""
    return b.op("Div", x, b.op("Max", b.reduce("ReduceL2", x, [4]), b.scalar(1e-12, dtype)))


@onnx_layer("RelativePositionBias")
def relative_position_bias(b):
    wh, ww = b.a["window"]
    n, heads = wh * ww, b.known(b.t.shape[-3], "heads")
    bias = b.op("Gather", b.weight("relative_position_bias_table"), b.weight("relative_position_index"), axis=0)
    return b.op("Add", b.x, b.transpose(b.op("Reshape", bias, b.ints([n, n, heads])), [2, 0, 1]))


@onnx_layer("PatchMerging")
def patch_merging(b):
    return _patch_merging(b, v2=False)


@onnx_layer("PatchMergingV2")
def patch_merging_v2(b):
    return _patch_merging(b, v2=True)


def _layer_norm_last(b, x: str, rank: int) -> str:
    eps = b.a["eps"]
    if b.opset >= 17:
        return b.op("LayerNormalization", x, b.weight("norm.weight"), b.weight("norm.bias"), axis=-1, epsilon=eps)
    return b.op("Add", b.op("Mul", _normalize(b, x, [rank - 1], eps, b.t.dtype), b.weight("norm.weight")),
                b.weight("norm.bias"))


def _patch_merging(b, v2: bool):
    rank = b.t.rank
    hx, wx = rank - 3, rank - 2
    h, w = b.known(b.t.shape[hx], "height"), b.known(b.t.shape[wx], "width")
    x = b.x
    if h % 2 or w % 2:
        x = b.pad(x, [0] * rank, [0] * hx + [h % 2, w % 2, 0])
    parts = [b.slice(x, [i, j], [INT64_MAX, INT64_MAX], [hx, wx], [2, 2]) for i, j in ((0, 0), (1, 0), (0, 1), (1, 1))]
    x = b.op("Concat", *parts, axis=rank - 1)
    if v2:  # V2 normalises after the reduction
        return _layer_norm_last(b, linear_of(b, x, rank, b.weight("reduction.weight"), None), rank)
    return linear_of(b, _layer_norm_last(b, x, rank), rank, b.weight("reduction.weight"), None)
