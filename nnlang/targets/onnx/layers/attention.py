"""MultiheadAttention, written out as torch.nn.MultiheadAttention computes it in eval mode:
input projections, heads, softmax(q k^T / sqrt(d)) v, output projection, and the head-averaged
weights. (ONNX's own Attention op, opset 23, packs its inputs differently and is not needed.)"""

from __future__ import annotations

import math

from ..mapping import onnx_layer
from .dense import linear_of


@onnx_layer("MultiheadAttention")
def multihead_attention(b):
    a = b.a
    heads = a["num_heads"]
    q, k, v = (b.xs * 3)[:3] if len(b.xs) == 1 else b.xs
    e = b.known(b.t.shape[-1], "embed size")
    hd = e // heads
    unbatched = b.t.rank == 2
    if unbatched:  # [L, E] -> [1, L, E]
        q, k, v = _each((q, k, v), lambda t: b.unsqueeze(t, [0]))
    elif not a["batch_first"]:  # [L, N, E] -> [N, L, E]
        q, k, v = _each((q, k, v), lambda t: b.op("Transpose", t, perm=[1, 0, 2]))
    if b.has_weight("in_proj_weight"):
        wq, wk, wv = b.split(b.weight("in_proj_weight"), [e, e, e], 0)
    else:
        wq, wk, wv = (b.weight(f"{n}_proj_weight") for n in "qkv")
    bq = bk = bv = None
    if a["bias"]:
        bq, bk, bv = b.split(b.weight("in_proj_bias"), [e, e, e], 0)
    q = linear_of(b, q, 3, wq, None) if bq is None else b.op("Add", linear_of(b, q, 3, wq, None), bq)
    k = linear_of(b, k, 3, wk, None) if bk is None else b.op("Add", linear_of(b, k, 3, wk, None), bk)
    v = linear_of(b, v, 3, wv, None) if bv is None else b.op("Add", linear_of(b, v, 3, wv, None), bv)
    if a["add_bias_kv"]:  # one more key / value position: the learned bias_k / bias_v, for every example
        batch_shape = b.op("Concat", b.shape_of(k, 0, 1), b.ints([1, e]), axis=0)
        k = b.op("Concat", k, b.op("Expand", b.weight("bias_k"), batch_shape), axis=1)
        v = b.op("Concat", v, b.op("Expand", b.weight("bias_v"), batch_shape), axis=1)
    split_heads = b.ints([0, 0, heads, hd])
    qh = b.op("Transpose", b.op("Reshape", q, split_heads), perm=[0, 2, 1, 3])  # [N, h, L, d]
    kt = b.op("Transpose", b.op("Reshape", k, split_heads), perm=[0, 2, 3, 1])  # [N, h, d, S]
    vh = b.op("Transpose", b.op("Reshape", v, split_heads), perm=[0, 2, 1, 3])  # [N, h, S, d]
    scores = b.op("MatMul", b.op("Mul", qh, b.scalar(1.0 / math.sqrt(hd))), kt)
    weights = b.softmax("Softmax", scores, 3, 4)
    merged = b.op("Reshape", b.op("Transpose", b.op("MatMul", weights, vh), perm=[0, 2, 1, 3]), b.ints([0, 0, e]))
    bias = b.weight("out_proj.bias") if a["bias"] else None
    out = linear_of(b, merged, 3, b.weight("out_proj.weight"), bias)
    if unbatched:
        out = b.squeeze(out, [0])
    elif not a["batch_first"]:
        out = b.op("Transpose", out, perm=[1, 0, 2])
    if not a["need_weights"]:
        return out
    avg = b.reduce("ReduceMean", weights, [1], keepdims=False)  # [N, L, S], averaged over the heads
    return [out, b.squeeze(avg, [0]) if unbatched else avg]


def _each(names, fn):
    """Apply fn once per distinct input (self-attention passes one tensor three times)."""
    done: dict = {}
    for n in names:
        if n not in done:
            done[n] = fn(n)
    return tuple(done[n] for n in names)
