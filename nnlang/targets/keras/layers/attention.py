"""Attention and learned tensors. A learned tensor has no Keras layer of its own: it is an Embedding read at
indices made from the input (ClassToken: row 0 for every sample; PositionalEmbedding: rows 0..T-1), so it
stays a trainable weight of exactly its size and loads with safe_mode."""

from __future__ import annotations

import math

import numpy as np

from ..emit import Val
from ..mapping import NotExpressible, keras_layer, keras_weights


@keras_layer("ClassToken")
def class_token(b):
    if b.t.rank != 3:
        raise NotExpressible("ClassToken needs [N, T, D]")
    x = b.ir()
    dim = b.known(b.t.shape[2], "the token width")
    k = b.a["tokens"]
    index = b.ops.cast(b.ops.zeros_like(x[:, :1, 0]), "int32")  # [N, 1] zeros
    if k > 1:
        index = b.ops.add(index, b.ops.arange(k, dtype="int32"))  # [N, K]: rows 0 .. K-1
    layer = b.layer(b.L.Embedding, "token", input_dim=k, output_dim=dim)
    token = layer(index)
    b.weighted(layer, ["embeddings"])
    return Val(b.layer(b.L.Concatenate, axis=1)([token, x]))


@keras_layer("PositionalEmbedding")
def positional_embedding(b):
    if b.t.rank != 3:
        raise NotExpressible("PositionalEmbedding over more than [N, T, D]: not mapped to Keras yet")
    x = b.ir()
    steps, dim = b.known(b.t.shape[1], "the sequence length"), b.known(b.t.shape[2], "the width")
    ones = b.ops.ones_like(x[:, :, 0])
    index = b.ops.cast(b.ops.subtract(b.ops.cumsum(ones, axis=1), 1.0), "int32")  # [N, T]: 0 .. T-1
    layer = b.layer(b.L.Embedding, "table", input_dim=steps, output_dim=dim)
    table = layer(index)
    b.weighted(layer, ["embeddings"])
    return Val(b.ops.add(x, table))


@keras_weights("ClassToken", "PositionalEmbedding")
def token_weights(node, w):
    (value,) = w.values()
    return {"embeddings": value.reshape(-1, value.shape[-1])}


@keras_layer("MultiheadAttention")
def attention(b):
    a = b.a
    if a["add_bias_kv"]:
        raise NotExpressible("MultiheadAttention add_bias_kv (learned key/value rows appended): "
                             "not mapped to Keras yet")
    if a["need_weights"]:
        raise NotExpressible("MultiheadAttention need_weights (torch's head-averaged scores): not mapped to Keras yet")
    if not a["batch_first"] or b.t.rank != 3:
        raise NotExpressible("MultiheadAttention on sequence-first or unbatched inputs: not mapped to Keras yet")
    if any(w.name.endswith("proj_weight") and w.name != "in_proj_weight" for w in b.node.weights):
        raise NotExpressible("MultiheadAttention with key / value widths other than the query's: "
                             "not mapped to Keras yet")
    dim = b.known(b.t.shape[2], "the width")
    heads = a["num_heads"]
    q = b.ir(0)
    k = b.ir(1) if len(b.vals) > 1 else q
    v = b.ir(2) if len(b.vals) > 2 else k
    layer = b.layer(b.L.MultiHeadAttention, num_heads=heads, key_dim=dim // heads, use_bias=bool(a["bias"]))
    y = layer(q, v, key=k)
    keys = ["q.kernel", "q.bias", "k.kernel", "k.bias", "v.kernel", "v.bias", "o.kernel", "o.bias"]
    b.weighted(layer, keys if a["bias"] else [k for k in keys if k.endswith("kernel")])
    return Val(y)


@keras_weights("MultiheadAttention")
def attention_weights(node, w):
    if "in_proj_weight" not in w:
        return w
    heads = node.attrs["num_heads"]
    dim = w["out_proj.weight"].shape[0]
    hd = dim // heads
    out = {}
    for part, m in zip("qkv", np.split(w["in_proj_weight"], 3, axis=0)):
        out[f"{part}.kernel"] = m.T.reshape(dim, heads, hd)
    out["o.kernel"] = w["out_proj.weight"].T.reshape(heads, hd, dim)
    if "in_proj_bias" in w:
        for part, v in zip("qkv", np.split(w["in_proj_bias"], 3)):
            out[f"{part}.bias"] = v.reshape(heads, hd)
        out["o.bias"] = w["out_proj.bias"]
    return out


@keras_layer("ScaledDotProductAttention")
def scaled_dot_product_attention(b):
    """softmax(q k^T * scale + mask) v in keras.ops on the IR's [..., H, L, E]; grouped-query heads by repeating
    each key / value head over its query heads (torch's enable_gqa order)."""
    a = b.a
    ops = b.ops
    q, k, v = b.ir(0), b.ir(1), b.ir(2)
    tq, tk = b.types[0], b.types[1]
    e = b.known(tq.shape[-1], "the query's size")
    hq, hkv = tq.shape[-3], tk.shape[-3]
    if hq != hkv:
        groups = b.known(hq, "the query's heads") // b.known(hkv, "the key's heads")
        k, v = ops.repeat(k, groups, axis=-3), ops.repeat(v, groups, axis=-3)
    scale = a["scale"] if a["scale"] is not None else 1.0 / math.sqrt(e)
    scores = ops.multiply(ops.matmul(q, ops.swapaxes(k, -1, -2)), scale)
    if a["is_causal"]:
        n, s = b.known(tq.shape[-2], "the query's length"), b.known(tk.shape[-2], "the key's length")
        lower = ops.greater(ops.tril(ops.ones((n, s))), 0.5)
        scores = ops.where(lower, scores, float("-inf"))
    if len(b.types) == 4:
        m = b.ir(3)
        scores = ops.where(m, scores, float("-inf")) if b.types[3].dtype == "bool" else ops.add(scores, m)
    return Val(ops.matmul(ops.softmax(scores, axis=-1), v))
