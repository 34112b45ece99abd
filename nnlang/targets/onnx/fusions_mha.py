"""MultiheadAttention as nnlang's emitter writes it: per-head projections, softmax(q k^T / sqrt(d)) v, the heads
merged and projected out; batch-first or sequence-first, self- or cross-attention, with or without the
averaged weights. (torch.onnx's form: fusions_mha_torch.py.)"""

from __future__ import annotations

import math

import numpy as np

from .fusions import Fused, View, _linear, _near, onnx_fusion
from .importers import Layer


def _heads(view: View, value: str, perm: list):
    """value = Transpose(Reshape(linear, [0, 0, h, d]), perm): (linear value, h, d, nodes)."""
    t = view.producer(value, "Transpose")
    if t is None or list(view.attr(t, "perm", [])) != perm:
        return None
    r = view.producer(t.input[0], "Reshape")
    shape = view.const(r.input[1]) if r is not None else None
    if shape is None or shape.size != 4 or list(shape.reshape(-1)[:2]) != [0, 0]:
        return None
    return r.input[0], int(shape.reshape(-1)[2]), int(shape.reshape(-1)[3]), [t, r]


@onnx_fusion("Softmax")
def multihead_attention(view: View, softmax):
    """softmax(q k^T / sqrt(d)) v between per-head projections: torch's MultiheadAttention as our
    emitter writes it (batch-first or sequence-first, self- or cross-attention)."""
    if view.attr(softmax, "axis", -1) not in (-1, 3):
        return None
    scores = view.producer(softmax.input[0], "MatMul")
    if scores is None:
        return None
    scaled = view.producer(scores.input[0])
    if scaled is None or scaled.op_type not in ("Mul", "Div"):
        return None
    q_heads, scale = scaled.input[0], view.scalar(scaled.input[1])
    q = _heads(view, q_heads, [0, 2, 1, 3])
    k = _heads(view, scores.input[1], [0, 2, 3, 1])
    users = view.consumers.get(softmax.output[0], [])
    mixed = next((u for u in users if u.op_type == "MatMul" and u.input[0] == softmax.output[0]), None)
    if q is None or k is None or mixed is None:
        return None
    v = _heads(view, mixed.input[1], [0, 2, 1, 3])
    if v is None:
        return None
    heads, d = q[1], q[2]
    if scale is None or not _near(scale if scaled.op_type == "Mul" else 1.0 / scale, 1.0 / math.sqrt(d)):
        return None
    projections = [_linear(view, part[0]) for part in (q, k, v)]
    if any(p is None for p in projections):
        return None
    t = view.only_consumer(mixed.output[0], "Transpose")
    merged = view.only_consumer(t.output[0], "Reshape") if t is not None else None
    if t is None or list(view.attr(t, "perm", [])) != [0, 2, 1, 3] or merged is None:
        return None
    out_mm = view.only_consumer(merged.output[0], "MatMul")
    out_add = view.only_consumer(out_mm.output[0], "Add") if out_mm is not None else None
    last = out_add if out_add is not None and view.const(view.other_input(out_add, out_mm.output[0])) is not None \
        else out_mm
    out = _linear(view, last.output[0]) if last is not None else None
    if out is None or out[0] != merged.output[0]:
        return None
    nodes = [scaled, scores, softmax, mixed, t, merged, *out[3]]
    for part, proj in zip((q, k, v), projections):
        nodes += part[3] + proj[3]
    need_weights, outputs = False, [last.output[0]]
    averaged = next((u for u in users if u.op_type == "ReduceMean"), None)
    if averaged is not None:
        if view.ints(averaged, "axes", 1) != [1] or view.attr(averaged, "keepdims", 1) != 0:
            return None
        need_weights, outputs = True, [last.output[0], averaged.output[0]]
        nodes.append(averaged)
    sources = [p[0] for p in projections]
    batch_first = True
    flipped = [view.producer(s, "Transpose") for s in sources]
    back = view.only_consumer(outputs[0], "Transpose")
    if all(f is not None and list(view.attr(f, "perm", [])) == [1, 0, 2] for f in flipped) and back is not None \
            and list(view.attr(back, "perm", [])) == [1, 0, 2] and not need_weights:
        batch_first = False  # sequence-first: transposed in, transposed back out
        sources = [f.input[0] for f in flipped]
        nodes += list({id(f): f for f in flipped}.values()) + [back]
        outputs = [back.output[0]]
    (wq, bq), (wk, bk), (wv, bv), (wo, bo) = ((p[1], p[2]) for p in (*projections, out))
    e = wo.shape[0]
    if heads * d != e or any(w.shape[0] != e for w in (wq, wk, wv)):
        return None
    has_bias = all(b is not None for b in (bq, bk, bv, bo))
    if not has_bias and any(b is not None for b in (bq, bk, bv, bo)):
        return None
    if wk.shape[1] == e and wv.shape[1] == e:
        weights = {"in_proj_weight": np.concatenate([wq, wk, wv], axis=0)}
    else:
        weights = {"q_proj_weight": wq, "k_proj_weight": wk, "v_proj_weight": wv}
    if has_bias:
        weights["in_proj_bias"] = np.concatenate([bq, bk, bv])
    weights["out_proj.weight"] = wo
    if has_bias:
        weights["out_proj.bias"] = bo
    inputs = [sources[0]] if sources[0] == sources[1] == sources[2] else sources
    params = {"num_heads": heads, "bias": has_bias, "batch_first": batch_first, "need_weights": need_weights}
    return Fused(Layer("MultiheadAttention", params, inputs=inputs, outputs=outputs, weights=weights),
                 list({id(n): n for n in nodes}.values()))
