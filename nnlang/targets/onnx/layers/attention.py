"""MultiheadAttention, written out as torch.nn.MultiheadAttention computes it in eval mode:
input projections, heads, softmax(q k^T / sqrt(d)) v, output projection, and the head-averaged
weights. (ONNX's own Attention op, opset 23, packs its inputs differently and is not needed.)
ScaledDotProductAttention (heads already split) is that op from opset 23, primitive ops before."""

from __future__ import annotations

import math

from ..mapping import NotExpressible, onnx_layer
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


# ---- ScaledDotProductAttention -------------------------------------------------------------------

@onnx_layer("ScaledDotProductAttention")
def scaled_dot_product_attention_decomposed(b):
    """softmax(q k^T * scale + mask) v from primitive ops. Grouped-query heads: the query is viewed as
    [..., Hkv, g, L, E] and key / value get a dim of 1 there, so MatMul broadcasts each key / value head over
    its g query heads (torch's enable_gqa order) without copying it."""
    a = b.a
    q, k, v = b.xs[:3]
    tq, tk, tv = b.ins[:3]
    rank, dtype = tq.rank, tq.dtype
    e = b.known(tq.shape[-1], "the query's size")
    length, keys = tq.shape[-2], tk.shape[-2]
    scale = a["scale"] if a["scale"] is not None else 1.0 / math.sqrt(e)
    hq, hkv = tq.shape[-3], tk.shape[-3]
    groups = 1 if hq == hkv else b.known(hq, "the query's heads") // b.known(hkv, "the key's heads")
    lead = [0] * (rank - 3)  # Reshape's 0: the input's dim
    if groups > 1:
        q = b.op("Reshape", q, b.ints(lead + [hkv, groups, -1, e]))
        k, v = b.unsqueeze(k, [rank - 2]), b.unsqueeze(v, [rank - 2])
        rank += 1
    scores = b.op("Mul", b.op("MatMul", q, b.transpose(k, list(range(rank - 2)) + [rank - 1, rank - 2])),
                  b.scalar(scale, dtype))
    minus_inf = None
    if a["is_causal"]:
        n, s = b.known(length, "the query's length (is_causal)"), b.known(keys, "the key's length (is_causal)")
        lower = [[j <= i for j in range(s)] for i in range(n)]
        minus_inf = b.scalar(float("-inf"), dtype)
        scores = b.op("Where", b.const(lower, "bool", [n, s]), scores, minus_inf)
    if len(b.xs) == 4:
        m, tm = b.xs[3], b.ins[3]
        if groups > 1 and tm.rank >= 3:
            if tm.shape[-3] != 1:
                raise NotExpressible("ScaledDotProductAttention: a mask per query head with grouped-query heads "
                                     "(the Attention op of opset 23 takes it)", since=23)
            m = b.unsqueeze(m, [tm.rank - 2])
        if tm.dtype == "bool":
            scores = b.op("Where", m, scores, minus_inf or b.scalar(float("-inf"), dtype))
        else:
            scores = b.op("Add", scores, m)
    weights = b.softmax("Softmax", scores, rank - 1, rank)
    y = b.op("MatMul", weights, v)
    if groups > 1:
        y = b.op("Reshape", y, b.ints(lead + [hq, -1, b.known(tv.shape[-1], "the value's size")]))
    return y


@onnx_layer("ScaledDotProductAttention", since=23)
def scaled_dot_product_attention(b):
    a = b.a
    return b.op("Attention", *b.xs, is_causal=1 if a["is_causal"] else None, scale=a["scale"])
