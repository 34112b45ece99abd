"""Swin's ShiftedWindowAttention and PatchMerging written out in standard ops, as torchvision computes them in
eval mode: Pad to window multiples, the cyclic shift as two Slices joined by Concat, windows by Reshape /
Transpose, qkv and proj as MatMul + Add, the relative position bias as Gather of the learned table by the
index buffer (both initializers, named as in the state_dict), the shifted-window mask as a constant added to
the scores, Softmax; PatchMerging as four strided Slices, Concat, LayerNorm and a MatMul."""

from __future__ import annotations

from ....layers.window import effective_shift, padded, shift_mask
from ..builder import INT64_MAX
from ..mapping import onnx_layer
from .dense import linear_of
from .norm import _normalize
from .shape import roll as _roll


@onnx_layer("ShiftedWindowAttention")
def shifted_window_attention(b):
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
    qkv = linear_of(b, x, 4, b.weight("qkv.weight"), qkv_bias)
    qkv = b.op("Reshape", qkv, b.ints([0, 0, 0, 3, heads, hd]))
    qkv = b.transpose(qkv, [3, 0, 1, 4, 2, 5])  # [3, N, windows, heads, n, d]
    q, k, v = (b.op("Gather", qkv, b.const(i, "i64"), axis=0) for i in range(3))
    scores = b.op("MatMul", b.op("Mul", q, b.scalar(hd ** -0.5, dtype)), b.transpose(k, [0, 1, 2, 4, 3]))
    bias = b.op("Gather", b.weight("relative_position_bias_table"), b.weight("relative_position_index"), axis=0)
    scores = b.op("Add", scores, b.transpose(b.op("Reshape", bias, b.ints([n, n, heads])), [2, 0, 1]))
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


@onnx_layer("RelativePositionBias")
def relative_position_bias(b):
    wh, ww = b.a["window"]
    n, heads = wh * ww, b.known(b.t.shape[-3], "heads")
    bias = b.op("Gather", b.weight("relative_position_bias_table"), b.weight("relative_position_index"), axis=0)
    return b.op("Add", b.x, b.transpose(b.op("Reshape", bias, b.ints([n, n, heads])), [2, 0, 1]))


@onnx_layer("PatchMerging")
def patch_merging(b):
    rank = b.t.rank
    hx, wx = rank - 3, rank - 2
    h, w = b.known(b.t.shape[hx], "height"), b.known(b.t.shape[wx], "width")
    x = b.x
    if h % 2 or w % 2:
        x = b.pad(x, [0] * rank, [0] * hx + [h % 2, w % 2, 0])
    parts = [b.slice(x, [i, j], [INT64_MAX, INT64_MAX], [hx, wx], [2, 2]) for i, j in ((0, 0), (1, 0), (0, 1), (1, 1))]
    x = b.op("Concat", *parts, axis=rank - 1)
    eps = b.a["eps"]
    if b.opset >= 17:
        x = b.op("LayerNormalization", x, b.weight("norm.weight"), b.weight("norm.bias"), axis=-1, epsilon=eps)
    else:
        x = b.op("Add", b.op("Mul", _normalize(b, x, [rank - 1], eps, b.t.dtype), b.weight("norm.weight")),
                 b.weight("norm.bias"))
    return linear_of(b, x, rank, b.weight("reduction.weight"), None)
