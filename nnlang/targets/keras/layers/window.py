"""Swin's ShiftedWindowAttention and PatchMerging in keras.ops, as torchvision computes them in eval mode (IR
axis order [N, H, W, C]): qkv and proj are Dense layers, the relative position bias table an Embedding read at
the (constant) index of every token pair, so every learned tensor is a Keras weight that loads with safe_mode;
the shifted-window mask is built from the constant region of each token."""

from __future__ import annotations

import math

import numpy as np

from ....layers.window import CPB_HIDDEN, coords_table, effective_shift, padded, relative_position_index, \
    shift_mask
from ..emit import Val
from ..mapping import NotExpressible, keras_layer, keras_weights


@keras_layer("ShiftedWindowAttention", "ShiftedWindowAttentionV2")
def shifted_window_attention(b):
    a, ops = b.a, b.ops
    v2 = b.node.op == "ShiftedWindowAttentionV2"
    if b.t.rank != 4:
        raise NotExpressible(f"{b.node.op} needs [N, H, W, C]")
    _, h, w, c = b.t.shape
    h, w, c = b.known(h, "the height"), b.known(w, "the width"), b.known(c, "the channels")
    (wh, ww), heads = a["window_size"], a["num_heads"]
    ph, pw = padded(h, wh), padded(w, ww)
    sh, sw = effective_shift(a, h, w)
    n, hd, windows = wh * ww, c // heads, (ph // wh) * (pw // ww)
    x = b.ir()
    if (ph, pw) != (h, w):
        x = ops.pad(x, [[0, 0], [0, ph - h], [0, pw - w], [0, 0]])
    if sh:
        x = ops.roll(x, -sh, axis=1)
    if sw:
        x = ops.roll(x, -sw, axis=2)
    x = ops.transpose(ops.reshape(x, (-1, ph // wh, wh, pw // ww, ww, c)), (0, 1, 3, 2, 4, 5))
    x = ops.reshape(x, (-1, windows, n, c))
    qkv_layer = b.layer(b.L.Dense, "qkv", units=3 * c, use_bias=bool(a["qkv_bias"]))
    qkv = ops.transpose(ops.reshape(qkv_layer(x), (-1, windows, n, 3, heads, hd)), (3, 0, 1, 4, 2, 5))
    b.weighted(qkv_layer, ["qkv.kernel", "qkv.bias"] if a["qkv_bias"] else ["qkv.kernel"])
    q, k, v = qkv[0], qkv[1], qkv[2]
    if v2:
        scores = _cosine_scores(b, q, k, heads)
        bias = _continuous_position_bias(b, scores, (wh, ww), heads)
    else:
        scores = ops.matmul(ops.multiply(q, hd ** -0.5), ops.swapaxes(k, -1, -2))  # [N, windows, heads, n, n]
        # The table read at every (token, token) pair; the index is made from the scores so it stays in the graph.
        zeros = ops.cast(ops.zeros_like(scores[:1, 0, 0]), "int32")  # [1, n, n]
        index = ops.add(zeros, np.asarray(relative_position_index((wh, ww)), dtype="int32").reshape(1, n, n))
        table = b.layer(b.L.Embedding, "table", input_dim=(2 * wh - 1) * (2 * ww - 1), output_dim=heads)
        b.weighted(table, ["table"])
        bias = ops.transpose(table(index), (0, 3, 1, 2))  # [1, heads, n, n]
    scores = ops.add(scores, ops.expand_dims(bias, 1))
    if sh or sw:
        mask = np.asarray(shift_mask(ph, pw, (wh, ww), (sh, sw)), dtype="float32").reshape(1, windows, 1, n, n)
        scores = ops.add(scores, mask)
    y = ops.matmul(ops.softmax(scores, axis=-1), v)  # [N, windows, heads, n, d]
    y = ops.reshape(ops.transpose(y, (0, 1, 3, 2, 4)), (-1, windows, n, c))
    proj = b.layer(b.L.Dense, "proj", units=c, use_bias=bool(a["proj_bias"]))
    y = proj(y)
    b.weighted(proj, ["proj.kernel", "proj.bias"] if a["proj_bias"] else ["proj.kernel"])
    y = ops.transpose(ops.reshape(y, (-1, ph // wh, pw // ww, wh, ww, c)), (0, 1, 3, 2, 4, 5))
    y = ops.reshape(y, (-1, ph, pw, c))
    if sh:
        y = ops.roll(y, sh, axis=1)
    if sw:
        y = ops.roll(y, sw, axis=2)
    if (ph, pw) != (h, w):
        y = y[:, :h, :w, :]
    return Val(y)


def _cosine_scores(b, q, k, heads: int):
    """Swin V2: normalised q @ normalised k^T, times exp(min(logit_scale, log 100)) per head. The logit scale is
    an Embedding of one row read at an index made from q (a Keras weight that loads with safe_mode)."""
    ops = b.ops

    def normalized(t):
        return ops.divide(t, ops.maximum(ops.sqrt(ops.sum(ops.square(t), axis=-1, keepdims=True)), 1e-12))

    scores = ops.matmul(normalized(q), ops.swapaxes(normalized(k), -1, -2))  # [N, windows, heads, n, n]
    scale_row = b.layer(b.L.Embedding, "logit_scale", input_dim=1, output_dim=heads)
    b.weighted(scale_row, ["logit_scale"])
    scale = ops.reshape(scale_row(ops.cast(ops.zeros_like(q[:1, 0, 0, 0, :1]), "int32")), (heads, 1, 1))
    return ops.multiply(scores, ops.exp(ops.minimum(scale, math.log(100.0))))


def _continuous_position_bias(b, like, window: tuple, heads: int):
    """Swin V2's bias [1, heads, n, n]: cpb_mlp (Dense 512 ReLU, Dense heads) on the log-spaced coordinates (a
    constant added to zeros made from `like`, so it stays in the graph), read at the index, 16 sigmoid(.)."""
    ops = b.ops
    (wh, ww), n = window, window[0] * window[1]
    coords = ops.add(ops.zeros_like(like[:1, 0, 0, :1, :1]), np.asarray(coords_table(wh, ww), dtype="float32"))
    hidden = b.layer(b.L.Dense, "cpb_mlp_0", units=CPB_HIDDEN, activation="relu")
    out = b.layer(b.L.Dense, "cpb_mlp_2", units=heads, use_bias=False)
    table = ops.reshape(out(hidden(coords)), (-1, heads))
    b.weighted(hidden, ["cpb_mlp.0.kernel", "cpb_mlp.0.bias"])
    b.weighted(out, ["cpb_mlp.2.kernel"])
    bias = ops.take(table, np.asarray(relative_position_index((wh, ww)), dtype="int32"), axis=0)  # [n n, heads]
    bias = ops.transpose(ops.reshape(bias, (n, n, heads)), (2, 0, 1))
    return ops.expand_dims(ops.multiply(ops.sigmoid(bias), 16.0), 0)


@keras_weights("ShiftedWindowAttention", "ShiftedWindowAttentionV2")
def shifted_window_attention_weights(node, w):
    out = {"qkv.kernel": w["qkv.weight"].T, "proj.kernel": w["proj.weight"].T}
    for part in ("qkv", "proj"):
        if f"{part}.bias" in w:
            out[f"{part}.bias"] = w[f"{part}.bias"]
    if node.op == "ShiftedWindowAttention":
        out["table"] = w["relative_position_bias_table"]  # the index buffer is a constant of the graph
        return out
    if "qkv.bias" in out:  # V2 leaves the key third out (torchvision zeroes it in every forward)
        bias = np.array(out["qkv.bias"], copy=True)
        c = bias.size // 3
        bias[c:2 * c] = 0
        out["qkv.bias"] = bias
    heads = w["logit_scale"].shape[0]
    out.update({"logit_scale": w["logit_scale"].reshape(1, heads), "cpb_mlp.0.kernel": w["cpb_mlp.0.weight"].T,
                "cpb_mlp.0.bias": w["cpb_mlp.0.bias"], "cpb_mlp.2.kernel": w["cpb_mlp.2.weight"].T})
    return out


@keras_layer("RelativePositionBias")
def relative_position_bias(b):
    ops = b.ops
    (wh, ww), rank = b.a["window"], b.t.rank
    n, heads = wh * ww, b.known(b.t.shape[-3], "the heads")
    x = b.ir()
    # The table read at every (token, token) pair, as in ShiftedWindowAttention: an index made from x.
    zeros = ops.cast(ops.zeros_like(x[(slice(0, 1),) + (0,) * (rank - 3)]), "int32")  # [1, n, n]
    index = ops.add(zeros, np.asarray(relative_position_index((wh, ww)), dtype="int32").reshape(1, n, n))
    table = b.layer(b.L.Embedding, "table", input_dim=(2 * wh - 1) * (2 * ww - 1), output_dim=heads)
    b.weighted(table, ["table"])
    bias = ops.reshape(ops.transpose(table(index), (0, 3, 1, 2)), (heads, n, n))
    return Val(ops.add(x, bias))


@keras_weights("RelativePositionBias")
def relative_position_bias_weights(node, w):
    return {"table": w["relative_position_bias_table"]}  # the index buffer is a constant of the graph


@keras_layer("PatchMerging", "PatchMergingV2")
def patch_merging(b):
    ops = b.ops
    rank = b.t.rank
    if rank < 4:
        raise NotExpressible(f"{b.node.op} on an unbatched map: Keras layers need a batch axis")
    h, w = b.known(b.t.shape[-3], "the height"), b.known(b.t.shape[-2], "the width")
    x = b.ir()
    if h % 2 or w % 2:
        x = ops.pad(x, [[0, 0]] * (rank - 3) + [[0, h % 2], [0, w % 2], [0, 0]])
    lead = (slice(None),) * (rank - 3)
    parts = [x[lead + (slice(i, None, 2), slice(j, None, 2))] for i, j in ((0, 0), (1, 0), (0, 1), (1, 1))]
    norm = b.layer(b.L.LayerNormalization, "norm", axis=-1, epsilon=float(b.a["eps"]))
    reduction = b.layer(b.L.Dense, "reduction", units=2 * b.known(b.t.shape[-1], "the channels"), use_bias=False)
    y = ops.concatenate(parts, axis=-1)
    y = norm(reduction(y)) if b.node.op == "PatchMergingV2" else reduction(norm(y))  # V2 normalises after
    b.weighted(norm, ["norm.gamma", "norm.beta"])
    b.weighted(reduction, ["reduction.kernel"])
    return Val(y)


@keras_weights("PatchMerging", "PatchMergingV2")
def patch_merging_weights(node, w):
    return {"norm.gamma": w["norm.weight"], "norm.beta": w["norm.bias"], "reduction.kernel": w["reduction.weight"].T}
