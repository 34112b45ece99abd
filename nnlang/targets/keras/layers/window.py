"""Swin's ShiftedWindowAttention and PatchMerging in keras.ops, as torchvision computes them in eval mode (IR
axis order [N, H, W, C]): qkv and proj are Dense layers, the relative position bias table an Embedding read at
the (constant) index of every token pair, so every learned tensor is a Keras weight that loads with safe_mode;
the shifted-window mask is built from the constant region of each token."""

from __future__ import annotations

import numpy as np

from ....layers.window import effective_shift, padded, relative_position_index, shift_mask
from ..emit import Val
from ..mapping import NotExpressible, keras_layer, keras_weights


@keras_layer("ShiftedWindowAttention")
def shifted_window_attention(b):
    a, ops = b.a, b.ops
    if b.t.rank != 4:
        raise NotExpressible("ShiftedWindowAttention needs [N, H, W, C]")
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


@keras_weights("ShiftedWindowAttention")
def shifted_window_attention_weights(node, w):
    out = {"qkv.kernel": w["qkv.weight"].T, "proj.kernel": w["proj.weight"].T,
           "table": w["relative_position_bias_table"]}  # the index buffer is a constant of the graph
    for part in ("qkv", "proj"):
        if f"{part}.bias" in w:
            out[f"{part}.bias"] = w[f"{part}.bias"]
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


@keras_layer("PatchMerging")
def patch_merging(b):
    ops = b.ops
    rank = b.t.rank
    if rank < 4:
        raise NotExpressible("PatchMerging on an unbatched map: Keras layers need a batch axis")
    h, w = b.known(b.t.shape[-3], "the height"), b.known(b.t.shape[-2], "the width")
    x = b.ir()
    if h % 2 or w % 2:
        x = ops.pad(x, [[0, 0]] * (rank - 3) + [[0, h % 2], [0, w % 2], [0, 0]])
    lead = (slice(None),) * (rank - 3)
    parts = [x[lead + (slice(i, None, 2), slice(j, None, 2))] for i, j in ((0, 0), (1, 0), (0, 1), (1, 1))]
    norm = b.layer(b.L.LayerNormalization, "norm", axis=-1, epsilon=float(b.a["eps"]))
    y = norm(ops.concatenate(parts, axis=-1))
    b.weighted(norm, ["norm.gamma", "norm.beta"])
    reduction = b.layer(b.L.Dense, "reduction", units=2 * b.known(b.t.shape[-1], "the channels"), use_bias=False)
    b.weighted(reduction, ["reduction.kernel"])
    return Val(reduction(y))


@keras_weights("PatchMerging")
def patch_merging_weights(node, w):
    return {"norm.gamma": w["norm.weight"], "norm.beta": w["norm.bias"], "reduction.kernel": w["reduction.weight"].T}
