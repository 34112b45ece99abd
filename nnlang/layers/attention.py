"""Attention layers: MultiheadAttention, as torch.nn.MultiheadAttention defines it, and ScaledDotProductAttention
(torch's F.scaled_dot_product_attention, ONNX's Attention op on [N, H, L, E] heads: no weights).

The embedding size E is the query's last dim and kdim / vdim are the key's and value's last dims
(inferred, never written). Default layout batch_first=true: query [N, L, E], key [N, S, kdim],
value [N, S, vdim]; unbatched [L, E] inputs are accepted as in torch. The attention weights
(need_weights=true) are averaged over the heads: [N, L, S] (torch's average_attn_weights=true),
[N, L, S + 1] with add_bias_kv.

MACs per example: the projections (L*E*E for the query, S*kdim*E and S*vdim*E for key and value,
L*E*E for the output) plus QK^T and AV (L*S*E each; S + 1 with add_bias_kv). FlopCounterMode counts
exactly this on torch's decomposed path (training mode, need_weights=true or the MATH
scaled-dot-product backend); the fused CPU kernels (flash attention for CPU, the
_native_multi_head_attention fast path in eval mode) are invisible to it.
"""

from __future__ import annotations

from .base import (BOOL, FLOAT, INT, Inferred, LayerSpec, Optional_, Param, ShapeError, TensorType, Weight,
                   broadcast_shapes, count, dim_arith, format_dim, require_known, require_rank, same_dims)
from .regularization import Probability

_NAME = "MultiheadAttention"
_ROLE = ("query", "key", "value")


def _qkv(inputs):
    """(query, key, value) for 1 input (self-attention) or 3; 2 is an error."""
    if len(inputs) == 2:
        raise ShapeError(f"{_NAME} takes 1 input (self-attention: query = key = value) or 3 (query, key, value), "
                         f"got 2", "E301", 1)
    return (inputs[0],) * 3 if len(inputs) == 1 else tuple(inputs)


def _dims(a, inputs):
    """E, kdim, vdim, and the (batch, L, S) dims, checked against each other."""
    q, k, v = _qkv(inputs)
    require_rank(q, (2, 3), _NAME)
    for i, t in ((1, k), (2, v)):
        if t.rank != q.rank:
            raise ShapeError(f"{_NAME}: query {q} and {_ROLE[i]} {t} must have the same rank", "E302", i)
    e = require_known(q.shape[-1], f"{_NAME}: embed size (last dim of query {q})")
    kdim = require_known(k.shape[-1], f"{_NAME}: key size (last dim of key {k})", 1)
    vdim = require_known(v.shape[-1], f"{_NAME}: value size (last dim of value {v})", 2)
    if e % a["num_heads"]:
        raise ShapeError(f"{_NAME}: embed size {e} (last dim of query {q}) is not divisible by "
                         f"num_heads={a['num_heads']}", "E301", 0)
    if q.rank == 2:  # unbatched [L, E]
        n, seq = None, 0
    else:
        b, seq = (0, 1) if a["batch_first"] else (1, 0)
        for i, t in ((1, k), (2, v)):
            if not same_dims(q.shape[b], t.shape[b]):
                raise ShapeError(f"{_NAME}: the batch sizes of query {q} and {_ROLE[i]} {t} differ", "E301", i)
        n = q.shape[b]
    if not same_dims(k.shape[seq], v.shape[seq]):
        raise ShapeError(f"{_NAME}: key {k} and value {v} must have the same sequence length S", "E301", 2)
    return e, kdim, vdim, n, q.shape[seq], k.shape[seq]


def _infer(a, inputs):
    *_, n, tq, tk = _dims(a, inputs)
    q = inputs[0]
    out = [q.with_shape(q.shape)]
    if a["need_weights"]:
        if a["add_bias_kv"]:  # the bias position is one more key
            tk = dim_arith(lambda d: d + 1, tk)
        out.append(q.with_shape((tq, tk) if q.rank == 2 else (n, tq, tk)))
    return out


def _weights(a, inputs):
    e, kdim, vdim, *_ = _dims(a, inputs)
    if kdim == e and vdim == e:  # torch packs the three projections into one matrix
        ws = [Weight("in_proj_weight", (3 * e, e))]
    else:
        ws = [Weight("q_proj_weight", (e, e)), Weight("k_proj_weight", (e, kdim)), Weight("v_proj_weight", (e, vdim))]
    if a["bias"]:
        ws.append(Weight("in_proj_bias", (3 * e,)))
    if a["add_bias_kv"]:
        ws += [Weight("bias_k", (1, 1, e)), Weight("bias_v", (1, 1, e))]
    ws.append(Weight("out_proj.weight", (e, e)))
    if a["bias"]:
        ws.append(Weight("out_proj.bias", (e,)))
    return ws


def _macs(a, inputs, outputs):
    e, kdim, vdim, n, tq, tk = _dims(a, inputs)
    n, tq, tk = count((n,)), count((tq,)), count((tk,))  # symbols (N, T) count as 1
    keys = tk + 1 if a["add_bias_kv"] else tk  # bias_k / bias_v add one key position
    projections = tq * e * e + tk * kdim * e + tk * vdim * e + tq * e * e
    return n * (projections + 2 * tq * keys * e)


# ---- ScaledDotProductAttention --------------------------------------------------------------------

_SDPA = "ScaledDotProductAttention"


def _sdpa_dims(inputs):
    """(batch dims, Hq, Hkv, L, S, E, Ev) of query [..., Hq, L, E], key [..., Hkv, S, E], value [..., Hkv, S, Ev]."""
    q, k, v = inputs[:3]
    for i, t in enumerate((q, k, v)):
        if t.rank < 3:
            raise ShapeError(f"{_SDPA}: {_ROLE[i]} must be [..., heads, length, size] (rank 3 or more), got {t}",
                             "E302", i)
        if t.rank != q.rank:
            raise ShapeError(f"{_SDPA}: query {q} and {_ROLE[i]} {t} must have the same rank", "E302", i)
        if t.dtype != q.dtype or t.dtype not in ("f16", "bf16", "f32", "f64"):
            raise ShapeError(f"{_SDPA}: query, key and value must have one floating-point dtype, {_ROLE[i]} is "
                             f"{t.dtype}", "E305", i)
    if not same_dims(q.shape[-1], k.shape[-1]):
        raise ShapeError(f"{_SDPA}: query {q} and key {k} must have the same size (last dim)", "E301", 1)
    if not same_dims(k.shape[-2], v.shape[-2]):
        raise ShapeError(f"{_SDPA}: key {k} and value {v} must have the same length S", "E301", 2)
    if not same_dims(k.shape[-3], v.shape[-3]):
        raise ShapeError(f"{_SDPA}: key {k} and value {v} must have the same number of heads", "E301", 2)
    hq, hkv = q.shape[-3], k.shape[-3]
    if isinstance(hq, int) and isinstance(hkv, int) and hq % hkv:
        raise ShapeError(f"{_SDPA}: the query's heads ({hq}) must be a multiple of the key's ({hkv})", "E301", 1)
    try:
        batch = broadcast_shapes([t.shape[:-3] for t in (q, k, v)], _SDPA)
    except ShapeError as e:
        raise ShapeError(f"{_SDPA}: the batch dims of query, key and value do not broadcast ({e})", "E301", 1) from None
    return batch, hq, hkv, q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]


def _sdpa_infer(a, inputs):
    batch, hq, hkv, length, s, e, ev = _sdpa_dims(inputs)
    q = inputs[0]
    if len(inputs) == 4:
        m = inputs[3]
        if a["is_causal"]:
            raise ShapeError(f"{_SDPA}: is_causal=true with an attn_mask (torch refuses both: put the causal "
                             "mask into attn_mask)", "E301", 3)
        if m.dtype != "bool" and m.dtype != q.dtype:
            raise ShapeError(f"{_SDPA}: attn_mask must be bool (true: attend) or the query's dtype {q.dtype}, got "
                             f"{m.dtype}", "E305", 3)
        try:
            broadcast_shapes([m.shape, (*batch, hq, length, s)], _SDPA)
        except ShapeError:
            raise ShapeError(f"{_SDPA}: attn_mask {m} does not broadcast to the scores [..., {format_dim(hq)}, "
                             f"{format_dim(length)}, {format_dim(s)}]", "E301", 3) from None
    return [TensorType((*batch, hq, length, ev), q.dtype, q.layout)]


def _sdpa_macs(a, inputs, outputs):
    batch, hq, _, length, s, e, ev = _sdpa_dims(inputs)
    return count((*batch, hq, length, s)) * (count((e,)) + count((ev,)))


LAYERS = [
    LayerSpec(
        name=_NAME, family="attention",
        doc="Multi-head scaled dot-product attention with learned input and output projections. "
            "1 input: self-attention over x [N, L, E]; 3 inputs: query [N, L, E], key [N, S, kdim], "
            "value [N, S, vdim]. Output [N, L, E]; with need_weights=true also the head-averaged "
            "attention weights [N, L, S]. E, kdim and vdim are inferred.",
        params=(
            Param("num_heads", INT, doc="number of parallel heads (must divide E)", min=1),
            Param("dropout", Probability(), 0.0, "dropout on the attention weights (training only)"),
            Param("bias", BOOL, True, "add learned biases to the input and output projections"),
            Param("add_bias_kv", BOOL, False, "append a learned bias position to the keys and values"),
            Param("batch_first", BOOL, True, "inputs and output are [N, L, E] (false: [L, N, E], torch's default)"),
            Param("need_weights", BOOL, False, "also output the attention weights [N, L, S]"),
        ),
        infer=_infer, weights=_weights, macs=_macs, inputs=(1, 3),
        outputs=lambda a: 2 if a["need_weights"] else 1,
        input_names=("query", "key", "value"),
        torch_signature=(Inferred("embed_dim", "embedding size", axis=-1), "num_heads", "dropout", "bias",
                         "add_bias_kv", None, None, None, "batch_first"),
        example="MultiheadAttention(8)",
    ),
    LayerSpec(
        name=_SDPA, family="attention",
        doc="softmax(query @ key^T * scale + mask) @ value over heads that are already split, as torch's "
            "F.scaled_dot_product_attention and ONNX's Attention: query [..., Hq, L, E], key [..., Hkv, S, E], "
            "value [..., Hkv, S, Ev] -> [..., Hq, L, Ev]. Hq may be a multiple of Hkv (grouped-query attention: "
            "each key / value head serves Hq / Hkv query heads in turn). An optional 4th input attn_mask broadcasts "
            "to [..., Hq, L, S]: bool (true: attend) or added to the scores. No weights.",
        params=(
            Param("is_causal", BOOL, False, "query i attends to keys 0..i only (upper-left aligned, as torch)"),
            Param("scale", Optional_(FLOAT), None, "the scores' factor (none: 1 / sqrt(E))"),
        ),
        infer=_sdpa_infer, macs=_sdpa_macs, inputs=(3, 4), input_names=("query", "key", "value", "attn_mask"),
        example="ScaledDotProductAttention(is_causal=true)", positional=0,
    ),
]
