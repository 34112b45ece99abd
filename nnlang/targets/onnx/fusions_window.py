"""Swin's layers read back from the ops nnlang's ONNX target writes for them (targets/onnx/layers/window.py):
ShiftedWindowAttention (V1, or V2 with cosine attention and the cpb_mlp bias) anchored on its Softmax, PatchMerging
(V1, or V2 normalising after the reduction) on its Concat of four strided Slices, RelativePositionBias on its Add.
Every size, the shift, the relative position index and the mask are checked against what the layer computes, so
a graph that only looks alike imports op by op."""

from __future__ import annotations

import math

from typing import Optional

import numpy as np

from ...layers.window import CPB_HIDDEN, relative_position_index, shift_mask, window_of
from .fusions import Fused, View, _linear, _near, onnx_fusion
from .importers import Layer


def _const_list(view: View, value: str) -> Optional[list]:
    c = view.const(value)
    return None if c is None else [int(v) for v in c.reshape(-1)]


def _reshape(view: View, value: str, shape: list, producer: bool = True):
    """The Reshape producing (or, producer=False, reading as its only consumer) `value` to `shape` (None entries:
    any), or None."""
    r = view.producer(value, "Reshape") if producer else view.only_consumer(value, "Reshape")
    got = _const_list(view, r.input[1]) if r is not None else None
    if got is None or len(got) != len(shape) or any(w is not None and w != g for w, g in zip(shape, got)):
        return None
    return r, got


def _transpose(view: View, value: str, perm: list, producer: bool = True):
    t = view.producer(value, "Transpose") if producer else view.only_consumer(value, "Transpose")
    if t is None or list(view.attr(t, "perm", [])) != perm:
        return None
    return t


def _roll_parts(view: View, concat, axis: int, size: int):
    """Concat(Slice(a, [k], [size]), Slice(a, [0], [k])) along `axis`: (a, k, slices) or None."""
    if concat is None or concat.op_type != "Concat" or len(concat.input) != 2 or view.attr(concat, "axis") != axis:
        return None
    first, second = (view.producer(v, "Slice") for v in concat.input)
    if first is None or second is None or first.input[0] != second.input[0]:
        return None
    spans = []
    for s in (first, second):
        starts, ends, axes = (_const_list(view, s.input[i]) if len(s.input) > i else None for i in (1, 2, 3))
        steps = _const_list(view, s.input[4]) if len(s.input) > 4 and s.input[4] else [1]
        if axes != [axis] or steps != [1] or starts is None or ends is None:
            return None
        spans.append((starts[0], ends[0]))
    k = spans[0][0]
    if not 0 < k < size or spans[0][1] < size or spans[1] != (0, k):
        return None
    return first.input[0], k, [first, second, concat]


def _unroll_back(view: View, value: str, axis: int, size: int):
    """Walking back from `value`: (source, k, nodes) of a roll along axis, or (value, 0, [])."""
    found = _roll_parts(view, view.producer(value), axis, size)
    return found if found is not None else (value, 0, [])


def _unroll_forward(view: View, value: str, axis: int, size: int):
    """Walking on from `value` (read by the two Slices of one roll only): (result, k, nodes) or (value, 0, [])."""
    users = view.consumers.get(value, [])
    if len(users) == 2 and value not in view.graph_outputs and all(u.op_type == "Slice" for u in users):
        concat = view.only_consumer(users[0].output[0], "Concat")
        found = _roll_parts(view, concat, axis, size)
        if found is not None and found[0] == value and set(map(id, found[2][:2])) == set(map(id, users)):
            return concat.output[0], found[1], found[2]
    return value, 0, []


_V1, _V2 = "ShiftedWindowAttention", "ShiftedWindowAttentionV2"


def _gathered_bias(view: View, value: str):
    """value = Transpose[2, 0, 1](Reshape[n, n, heads](Gather(table, index, axis 0))), the relative position bias
    of every window attention here: (table value, index value, n, heads, nodes) or None."""
    t = _transpose(view, value, [2, 0, 1])
    found = _reshape(view, t.input[0], [None, None, None]) if t is not None else None
    gather = view.producer(found[0].input[0], "Gather") if found is not None else None
    if gather is None or view.attr(gather, "axis", 0) != 0 or found[1][0] != found[1][1]:
        return None
    n, _, heads = found[1]
    return gather.input[0], gather.input[1], n, heads, [t, found[0], gather]


def _scores_v1(view: View, bias_add):
    """scaled q @ k^T + Transpose(Reshape(Gather(table, index))): (op, q, k, n, heads, weights, nodes) or None."""
    scores, bias_t = bias_add.input
    found = _gathered_bias(view, bias_t)
    if found is None:
        return None
    table_value, index_value, n, heads, bias_nodes = found
    table, index = view.const(table_value), view.const(index_value)
    mm = view.producer(scores, "MatMul")
    scaled = view.producer(mm.input[0], "Mul") if mm is not None else None
    k_t = _transpose(view, mm.input[1], [0, 1, 2, 4, 3]) if mm is not None else None
    if scaled is None or k_t is None or table is None or index is None:
        return None
    own = {"relative_position_bias_table": table, "relative_position_index": index,
           "scale": view.scalar(scaled.input[1])}
    return _V1, scaled.input[0], k_t.input[0], n, heads, own, [*bias_nodes, mm, scaled, k_t]


def _l2_normalized(view: View, value: str):
    """value = x / Max(ReduceL2(x, last axis), eps): (x, nodes) or None."""
    div = view.producer(value, "Div")
    mx = view.producer(div.input[1], "Max") if div is not None else None
    norm = next((view.producer(i, "ReduceL2") for i in mx.input if view.producer(i, "ReduceL2")), None) \
        if mx is not None else None
    if norm is None or norm.input[0] != div.input[0] or view.attr(norm, "keepdims", 1) != 1:
        return None
    return div.input[0], [div, mx, norm]


def _scores_v2(view: View, bias_add):
    """Swin V2's: (normalised q @ normalised k^T) * Exp(Min(logit_scale, c)) + 16 Sigmoid(the cpb_mlp table read
    at the index): (op, q, k, n, heads, weights, nodes) or None."""
    scaled, bias = bias_add.input
    times16 = view.producer(bias, "Mul")
    sig = next((view.producer(i, "Sigmoid") for i in times16.input if view.producer(i, "Sigmoid")), None) \
        if times16 is not None else None
    if sig is None or not _near(view.scalar(view.other_input(times16, sig.output[0])), 16.0):
        return None
    found = _gathered_bias(view, sig.input[0])
    if found is None:
        return None
    table_value, index_value, n, heads, bias_nodes = found
    index = view.const(index_value)
    flat = _reshape(view, table_value, [-1, heads])
    second = _linear(view, flat[0].input[0]) if flat is not None else None
    relu = view.producer(second[0], "Relu") if second is not None else None
    first = _linear(view, relu.input[0]) if relu is not None else None
    coords = view.const(first[0]) if first is not None else None
    mul = view.producer(scaled, "Mul")
    if coords is None or index is None or second[2] is not None or first[2] is None or mul is None:
        return None
    exp = next((view.producer(i, "Exp") for i in mul.input if view.producer(i, "Exp")), None)
    clamp = view.producer(exp.input[0], "Min") if exp is not None else None
    mm = view.producer(view.other_input(mul, exp.output[0]), "MatMul") if exp is not None else None
    if clamp is None or mm is None:
        return None
    consts = [view.const(i) for i in clamp.input]
    if any(c is None for c in consts):
        return None
    limit = next((float(c.reshape(-1)[0]) for c in consts if c.ndim == 0), None)  # the scale: [heads, 1, 1]
    logit_scale = next((c for c in consts if c.shape == (heads, 1, 1)), None)
    k_t = _transpose(view, mm.input[1], [0, 1, 2, 4, 3])
    q = _l2_normalized(view, mm.input[0])
    k = _l2_normalized(view, k_t.input[0]) if k_t is not None else None
    if logit_scale is None or not _near(limit, math.log(100.0)) or q is None or k is None \
            or first[1].shape != (CPB_HIDDEN, 2) or second[1].shape != (heads, CPB_HIDDEN):
        return None
    own = {"logit_scale": logit_scale, "relative_coords_table": coords, "relative_position_index": index,
           "cpb_mlp.0.weight": first[1], "cpb_mlp.0.bias": first[2], "cpb_mlp.2.weight": second[1]}
    nodes = [times16, sig, *bias_nodes, flat[0], *second[3], relu, *first[3], mul, exp, clamp, mm, k_t, *q[1], *k[1]]
    return _V2, q[0], k[0], n, heads, own, nodes


@onnx_fusion("Softmax")
def shifted_window_attention(view: View, softmax):
    if view.attr(softmax, "axis", -1) not in (-1, 4):
        return None
    nodes = [softmax]
    value = softmax.input[0]
    mask_add = view.producer(value, "Add")
    if mask_add is None:
        return None
    mask = None
    # the position bias (a constant once folded, as the mask is): V1's Transpose, V2's 16 Sigmoid(.)
    times = view.producer(mask_add.input[1], "Mul")
    bias_made = _transpose(view, mask_add.input[1], [2, 0, 1]) or (
        times if times is not None and any(view.producer(i, "Sigmoid") for i in times.input) else None)
    if bias_made is None and view.const(mask_add.input[1]) is not None:  # the shifted windows' mask, added last
        mask = view.const(mask_add.input[1])
        nodes.append(mask_add)
        value = mask_add.input[0]
    bias_add = view.producer(value, "Add")
    if bias_add is None:
        return None
    nodes.append(bias_add)
    found = _scores_v1(view, bias_add) or _scores_v2(view, bias_add)
    if found is None:
        return None
    op, q_value, k_value, n, heads, own, more = found
    nodes += more
    mixed = next((u for u in view.consumers.get(softmax.output[0], []) if u.op_type == "MatMul"), None)
    gathers = [view.producer(v, "Gather") for v in (q_value, k_value, mixed.input[1] if mixed else "")]
    if mixed is None or any(g is None for g in gathers) or len({g.input[0] for g in gathers}) != 1 \
            or [view.scalar(g.input[1]) for g in gathers] != [0.0, 1.0, 2.0]:
        return None
    nodes += [mixed, *gathers]
    qkv_t = _transpose(view, gathers[0].input[0], [3, 0, 1, 4, 2, 5])
    found = _reshape(view, qkv_t.input[0], [0, 0, 0, 3, heads, None]) if qkv_t is not None else None
    qkv = _linear(view, found[0].input[0]) if found is not None else None
    if qkv is None:
        return None
    hd = found[1][5]
    c = heads * hd
    nodes += [qkv_t, found[0], *qkv[3]]
    if (op == _V1 and not _near(own.pop("scale"), hd ** -0.5)) or qkv[1].shape != (3 * c, c):
        return None
    # the window partition in front: Reshape [0, nh, wh, nw, ww, C], Transpose, Reshape [0, windows, n, C]
    windows_r = _reshape(view, qkv[0], [0, None, n, c])
    part_t = _transpose(view, windows_r[0].input[0], [0, 1, 3, 2, 4, 5]) if windows_r is not None else None
    split = _reshape(view, part_t.input[0], [0, None, None, None, None, c]) if part_t is not None else None
    if split is None:
        return None
    _, nh, wh, nw, ww, _ = split[1]
    windows, ph, pw = nh * nw, nh * wh, nw * ww
    if windows_r[1][1] != windows or wh * ww != n:
        return None
    nodes += [windows_r[0], part_t, split[0]]
    rolled, kw, parts_w = _unroll_back(view, split[0].input[0], 2, pw)
    source, kh, parts_h = _unroll_back(view, rolled, 1, ph)
    nodes += parts_w + parts_h
    sh, sw = kh, kw  # rolled by -shift: the first slice starts at the shift
    x, pad_b, pad_r = source, 0, 0
    pad = view.producer(source, "Pad")
    if pad is not None:
        pads = _const_list(view, pad.input[1])
        if pads is None or len(pads) != 8 or pads[:6] != [0, 0, 0, 0, 0, pads[5]] or pads[7] != 0 \
                or view.attr(pad, "mode", b"constant") not in (b"constant", "constant") \
                or (len(pad.input) > 2 and pad.input[2]):
            return None
        x, pad_b, pad_r = pad.input[0], pads[5], pads[6]
        nodes.append(pad)
    # the merge after the attention: heads joined, proj, windows reversed, rolled back, cropped
    joined_t = _transpose(view, mixed.output[0], [0, 1, 3, 2, 4], producer=False)
    joined = _reshape(view, joined_t.output[0], [0, 0, 0, c], producer=False) if joined_t is not None else None
    if joined is None:
        return None
    nodes += [joined_t, joined[0]]
    after = view.only_consumer(joined[0].output[0], "MatMul")
    last = after
    if after is not None:
        add = view.only_consumer(after.output[0], "Add")
        if add is not None and view.const(view.other_input(add, after.output[0])) is not None:
            last = add
    proj = _linear(view, last.output[0]) if last is not None else None
    if proj is None or proj[0] != joined[0].output[0] or proj[1].shape != (c, c):
        return None
    nodes += proj[3]
    back = _reshape(view, last.output[0], [0, nh, nw, wh, ww, c], producer=False)
    back_t = _transpose(view, back[0].output[0], [0, 1, 3, 2, 4, 5], producer=False) if back is not None else None
    merged = _reshape(view, back_t.output[0], [0, ph, pw, c], producer=False) if back_t is not None else None
    if merged is None:
        return None
    nodes += [back[0], back_t, merged[0]]
    out, kh2, parts = _unroll_forward(view, merged[0].output[0], 1, ph)
    nodes += parts
    out, kw2, parts = _unroll_forward(view, out, 2, pw)
    nodes += parts
    if (kh2 and ph - kh2 != sh) or (kw2 and pw - kw2 != sw) or bool(kh2) != bool(sh) or bool(kw2) != bool(sw):
        return None
    h, w = ph - pad_b, pw - pad_r
    if pad_b or pad_r:
        crop = view.only_consumer(out, "Slice")
        spans = [_const_list(view, crop.input[i]) for i in (1, 2, 3)] if crop is not None else None
        if spans is None or spans != [[0, 0], [h, w], [1, 2]] or (len(crop.input) > 4 and crop.input[4]):
            return None
        nodes.append(crop)
        out = crop.output[0]
    if own["relative_position_index"].reshape(-1).tolist() != relative_position_index((wh, ww)):
        return None
    if op == _V1 and own["relative_position_bias_table"].shape != ((2 * wh - 1) * (2 * ww - 1), heads):
        return None
    if op == _V2 and own["relative_coords_table"].shape != (1, 2 * wh - 1, 2 * ww - 1, 2):
        return None
    if bool(sh or sw) != (mask is not None):
        return None
    if mask is not None and not np.array_equal(mask.reshape(windows, n, n),
                                               np.asarray(shift_mask(ph, pw, (wh, ww), (sh, sw)), mask.dtype)):
        return None
    own["relative_position_index"] = own["relative_position_index"].astype(np.int64).reshape(-1)
    weights = dict(own, **{"qkv.weight": qkv[1]})
    if qkv[2] is not None:
        weights["qkv.bias"] = qkv[2]
    weights["proj.weight"] = proj[1]
    if proj[2] is not None:
        weights["proj.bias"] = proj[2]
    params = {"num_heads": heads, "window_size": (wh, ww), "shift_size": (sh, sw), "qkv_bias": qkv[2] is not None,
              "proj_bias": proj[2] is not None}
    return Fused(Layer(op, params, inputs=[x], outputs=[out], weights=weights),
                 list({id(node): node for node in nodes}.values()))


@onnx_fusion("Concat")
def patch_merging(view: View, concat):
    """Concat of x[..., i::2, j::2, :] for (i, j) = (0, 0), (1, 0), (0, 1), (1, 1) on the last axis,
    LayerNormalization, a bias-free MatMul: PatchMerging (x padded to even sizes first, or not); the MatMul
    first, then LayerNormalization: PatchMergingV2."""
    if len(concat.input) != 4:
        return None
    slices = [view.producer(v, "Slice") for v in concat.input]
    if any(s is None for s in slices) or len({s.input[0] for s in slices}) != 1:
        return None
    source = slices[0].input[0]
    shape = view.shapes.get(source)
    if shape is None or len(shape) < 4 or view.attr(concat, "axis") not in (-1, len(shape) - 1) \
            or not all(isinstance(d, int) for d in shape[-3:]):
        return None
    rank = len(shape)
    for s, (i, j) in zip(slices, ((0, 0), (1, 0), (0, 1), (1, 1))):
        args = [_const_list(view, s.input[k]) if len(s.input) > k and s.input[k] else None for k in (1, 2, 3, 4)]
        if args[0] != [i, j] or args[2] not in ([rank - 3, rank - 2], [-3, -2]) or args[3] != [2, 2] \
                or args[1] is None or min(args[1]) < max(shape[-3:-1]):
            return None
    nodes = [concat, *slices]
    x = source
    pad = view.producer(source, "Pad")
    if pad is not None:
        pads = _const_list(view, pad.input[1])
        if pads is None or len(pads) != 2 * rank or any(pads[:rank]) or any(pads[rank:rank * 2 - 3]) \
                or pads[-1] or pads[-3] > 1 or pads[-2] > 1 or (len(pad.input) > 2 and pad.input[2]):
            return None
        nodes.append(pad)
        x = pad.input[0]
    c4 = 4 * shape[-1]
    norm = _layer_norm(view, concat.output[0], rank)
    if norm is not None:  # V1: LayerNorm over 4C, then the reduction
        op, (gamma, beta, eps, normed, norm_nodes) = "PatchMerging", norm
        mm = view.only_consumer(normed, "MatMul")
        reduction = _linear(view, mm.output[0]) if mm is not None and view.only_consumer(mm.output[0], "Add") is None \
            else None
        out, norm_size = (mm.output[0] if mm is not None else None), c4
    else:  # V2: the reduction to 2C, then LayerNorm over 2C
        op, mm = "PatchMergingV2", view.only_consumer(concat.output[0], "MatMul")
        reduction = _linear(view, mm.output[0]) if mm is not None and view.only_consumer(mm.output[0], "Add") is None \
            else None
        norm = _layer_norm(view, mm.output[0], rank) if reduction is not None else None
        if norm is None:
            return None
        gamma, beta, eps, out, norm_nodes = norm
        norm_size = c4 // 2
    if gamma is None or beta is None or reduction is None or reduction[2] is not None:
        return None
    if reduction[1].shape != (c4 // 2, c4) or gamma.size != norm_size or beta.size != norm_size:
        return None
    nodes += [*norm_nodes, *reduction[3]]
    weights = {"reduction.weight": reduction[1], "norm.weight": gamma.reshape(-1), "norm.bias": beta.reshape(-1)}
    params = {"eps": 1e-5 if _near(eps, 1e-5) else float(str(np.float32(eps)))}  # the decimal it was written as
    return Fused(Layer(op, params, inputs=[x], outputs=[out], weights=weights), nodes)


def _layer_norm(view: View, value: str, rank: int):
    """LayerNorm over the last axis reading `value`: one LayerNormalization (opset 17 on), or the primitive form
    our emitter writes before (x - mean, mean of its square, + eps, Sqrt, Div, * weight, + bias).
    (weight, bias, eps, result, nodes) or None."""
    last = (-1, rank - 1)
    users = list({id(u): u for u in view.consumers.get(value, [])}.values())
    if value in view.graph_outputs:
        return None
    if len(users) == 1 and users[0].op_type == "LayerNormalization":
        norm = users[0]
        if view.attr(norm, "axis", -1) not in last or len(norm.input) != 3:
            return None
        return (view.const(norm.input[1]), view.const(norm.input[2]), float(view.attr(norm, "epsilon", 1e-5)),
                norm.output[0], [norm])
    mean = next((u for u in users if u.op_type == "ReduceMean"), None)
    sub = next((u for u in users if u.op_type == "Sub"), None)
    if len(users) != 2 or mean is None or sub is None or list(sub.input) != [value, mean.output[0]]:
        return None
    d = sub.output[0]
    d_users = list({id(u): u for u in view.consumers.get(d, [])}.values())
    square = next((u for u in d_users if u.op_type == "Mul" and list(u.input) == [d, d]), None)
    div = next((u for u in d_users if u.op_type == "Div" and u.input[0] == d), None)
    var = view.only_consumer(square.output[0], "ReduceMean") if square is not None else None
    add = view.only_consumer(var.output[0], "Add") if var is not None else None
    sqrt = view.only_consumer(add.output[0], "Sqrt") if add is not None else None
    if len(d_users) != 2 or div is None or sqrt is None or div.input[1] != sqrt.output[0] \
            or any(not set(view.ints(m, "axes", 1) or ()) <= set(last) or not view.ints(m, "axes", 1)
                   for m in (mean, var)):
        return None
    eps = view.scalar(view.other_input(add, var.output[0]))
    scale = view.only_consumer(div.output[0], "Mul")
    shift = view.only_consumer(scale.output[0], "Add") if scale is not None else None
    if eps is None or shift is None:
        return None
    return (view.const(view.other_input(scale, div.output[0])), view.const(view.other_input(shift, scale.output[0])),
            eps, shift.output[0], [mean, sub, square, var, add, sqrt, div, scale, shift])



@onnx_fusion("Add", late=True)
def relative_position_bias(view: View, add):
    """x + Transpose[2, 0, 1](Reshape[n, n, heads](Gather(table, index))), both stored: RelativePositionBias
    (what ShiftedWindowAttention's fusion has not taken: MaxViT's attention, written out op by op)."""
    for bias in add.input:
        x = view.other_input(add, bias)
        found = _gathered_bias(view, bias) if x is not None else None
        if found is None:
            continue
        table_value, index_value, n, heads, bias_nodes = found
        table, index = view.const(table_value), view.const(index_value)
        shape = view.shapes.get(x)
        if table is None or index is None or table.ndim != 2 or table.shape[1] != heads \
                or shape is None or len(shape) < 3 or tuple(shape[-3:]) != (heads, n, n):
            continue
        window = window_of(table.shape[0], index.reshape(-1).tolist(), n)
        if window is None:
            continue
        weights = {"relative_position_bias_table": table, "relative_position_index": index.astype(np.int64).reshape(-1)}
        return Fused(Layer("RelativePositionBias", {"window": window}, inputs=[x], outputs=[add.output[0]],
                           weights=weights), [add, *bias_nodes])
    return None
