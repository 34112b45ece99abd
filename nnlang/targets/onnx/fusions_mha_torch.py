"""nn.MultiheadAttention as PyTorch's own exporters write it (torch.onnx, TorchScript and dynamo): one packed
in-projection (MatMul by [E, 3E] + bias) on the sequence-first input, q / k / v selected from it by Gather
after a Reshape / Unsqueeze / Transpose / Squeeze, each split into heads as (L, N * H, d) -> (N, H, L, d),
the scale applied as sqrt(1 / sqrt(d)) to q and k (or 1 / sqrt(d) to one), softmax, the heads merged by
Transpose(2, 0, 1, 3) + Reshape (L * N, E), the out-projection a Gemm (or MatMul + Add), Reshape (L, N, E);
batch-first inputs transposed in and out. The head reshapes move the batch dim, which no .nns layer can
write; fused, they are one MultiheadAttention (self-attention, no mask, need_weights=false)."""

from __future__ import annotations

import math
import numpy as np

from .fusions import Fused, View, _linear, _near, onnx_fusion
from .importers import Layer

_LAYOUT = ("Reshape", "Transpose", "Squeeze", "Unsqueeze")


def _climb(view: View, value: str, limit: int = 14):
    """From q / k / v up to the packed projection: (projection value, which of q k v, scale, nodes) or None."""
    nodes, scale, index = [], 1.0, None
    for _ in range(limit):
        p = view.producer(value)
        if p is None:
            return None
        if p.op_type == "Mul" and index is None:
            c = next((view.scalar(i) for i in p.input if view.scalar(i) is not None), None)
            if c is None:
                return None
            scale *= c
            value = view.other_input(p, next(i for i in p.input if view.scalar(i) is not None))
        elif p.op_type in _LAYOUT:
            value = p.input[0]
        elif p.op_type == "Gather" and index is None and view.attr(p, "axis", 0) == 0:
            c = view.const(p.input[1])
            if c is None or c.size != 1 or c.ndim > 1:
                return None
            index, value = int(c.reshape(-1)[0]), p.input[0]
        elif p.op_type in ("Add", "MatMul") and index is not None:
            return value, index, scale, nodes
        else:
            return None
        nodes.append(p)
    return None


def _out_projection(view: View, value: str):
    """value -> Gemm (or MatMul [+ Add]) by constants: (W [out, in], bias or None, output value, nodes)."""
    node = view.only_consumer(value)
    if node is None:
        return None
    if node.op_type == "Gemm":
        w = view.const(node.input[1])
        b = view.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if w is None or w.ndim != 2 or view.attr(node, "transA", 0) or view.attr(node, "alpha", 1.0) != 1.0 \
                or view.attr(node, "beta", 1.0) != 1.0:
            return None
        w = w if view.attr(node, "transB", 0) else w.T
        if b is not None and b.size != w.shape[0]:
            return None
        return np.ascontiguousarray(w), None if b is None else b.reshape(-1), node.output[0], [node]
    if node.op_type == "MatMul":
        add = view.only_consumer(node.output[0], "Add")
        last = add if add is not None and view.const(view.other_input(add, node.output[0])) is not None else node
        found = _linear(view, last.output[0])
        if found is None or found[0] != value:
            return None
        return found[1], found[2], last.output[0], found[3]
    return None


@onnx_fusion("Softmax")
def torch_multihead_attention(view: View, softmax):
    if view.attr(softmax, "axis", -1) not in (-1, 3):
        return None
    scores = view.producer(softmax.input[0], "MatMul")
    mixed = view.only_consumer(softmax.output[0], "MatMul")
    if scores is None or mixed is None or mixed.input[0] != softmax.output[0]:
        return None
    climbs = [_climb(view, v) for v in (scores.input[0], scores.input[1], mixed.input[1])]
    if any(c is None for c in climbs) or [c[1] for c in climbs] != [0, 1, 2] \
            or len({c[0] for c in climbs}) != 1 or climbs[2][2] != 1.0:
        return None
    v_shape = view.shapes.get(mixed.input[1])
    inner = _linear(view, climbs[0][0])
    if v_shape is None or len(v_shape) != 4 or not isinstance(v_shape[1], int) or inner is None:
        return None
    src, w_in, b_in, in_nodes = inner
    heads, e = v_shape[1], w_in.shape[1]
    d = e // heads
    if w_in.shape[0] != 3 * e or heads * d != e or not _near(climbs[0][2] * climbs[1][2], 1.0 / math.sqrt(d)):
        return None
    # Heads merged back: (N, H, L, d) -> (L, N, H, d) -> (L * N, E) -> out-projection -> (L, N, E).
    t = view.only_consumer(mixed.output[0], "Transpose")
    merged = view.only_consumer(t.output[0], "Reshape") if t is not None else None
    if t is None or list(view.attr(t, "perm", [])) != [2, 0, 1, 3] or merged is None:
        return None
    out = _out_projection(view, merged.output[0])
    if out is None:
        return None
    w_out, b_out, value, out_nodes = out
    back = view.only_consumer(value, "Reshape")
    if back is None or w_out.shape != (e, e):
        return None
    nodes = [scores, softmax, mixed, t, merged, back, *in_nodes, *out_nodes]
    for c in climbs:
        nodes += c[3]
    result, x, batch_first = back.output[0], src, False
    flip_in = view.producer(src, "Transpose")
    flip_out = view.only_consumer(result, "Transpose")
    if flip_in is not None and flip_out is not None and list(view.attr(flip_in, "perm", [])) == [1, 0, 2] \
            and list(view.attr(flip_out, "perm", [])) == [1, 0, 2] and view.only_consumer(src) is not None:
        x, result, batch_first = flip_in.input[0], flip_out.output[0], True
        nodes += [flip_in, flip_out]
    x_shape = view.shapes.get(x)
    if x_shape is None or len(x_shape) != 3 or x_shape[2] != e:
        return None
    has_bias = b_in is not None or b_out is not None
    weights = {"in_proj_weight": w_in}
    if has_bias:
        weights["in_proj_bias"] = b_in if b_in is not None else np.zeros(3 * e, w_in.dtype)
    weights["out_proj.weight"] = w_out
    if has_bias:
        weights["out_proj.bias"] = b_out if b_out is not None else np.zeros(e, w_out.dtype)
    params = {"num_heads": heads, "bias": has_bias, "batch_first": batch_first, "need_weights": False}
    return Fused(Layer("MultiheadAttention", params, inputs=[x], outputs=[result], weights=weights),
                 list({id(n): n for n in nodes}.values()))
