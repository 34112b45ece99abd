"""ONNX's Attention (opset 23+) as registry layers.

3-D [N, L, H * E] inputs are viewed as [N, H, L, E] heads (Reshape, Permute) and packed back after. A KV
cache (past_key / past_value) is a Concat along the sequence before the attention, whose results are the
present_key / present_value outputs. The plain form is one ScaledDotProductAttention; softcap or a read
qk_matmul_output is the attention written out as layers (MatMul, Scale, Tanh, Add, Softmax, MatMul) so each
intermediate ONNX exposes is a value; so are ONNX's causal mask where torch's is_causal differs (bottom-right
with a cache, combined with attn_mask) and local windows, whose [L, S] bias is a constant the Add layer holds,
and grouped-query heads there (each key / value head repeated in turn); constant key lengths
(nonpad_kv_seqlen) are such a mask too. Lengths given as a tensor and queries left no key are refused by name.
"""

from __future__ import annotations

import numpy as np

from .importers import Layer, Op, Unsupported, onnx_op


def _read(op: Op, name: str) -> bool:
    return bool(name) and (bool(op.consumers(name)) or name in op.graph_outputs)


@onnx_op("Attention", since=23)
def attention(op: Op):
    ins = list(op.node.input) + [""] * 7
    outs = list(op.node.output) + [""] * 4
    rank = op.rank(0)
    if rank not in (3, 4):
        raise Unsupported(f"Attention on rank-{rank} inputs")
    lengths = op.const(ins[6]) if ins[6] else None
    if ins[6] and lengths is None:
        raise Unsupported("Attention with nonpad_kv_seqlen given as a tensor (per-example key lengths: no layer "
                          "masks by a length tensor; a constant one is a constant mask)")
    if ins[6] and ins[4]:
        raise Unsupported("Attention with nonpad_kv_seqlen and a KV cache (ONNX allows one of them)")
    if bool(ins[4]) != bool(ins[5]):
        raise Unsupported("Attention with only one of past_key / past_value")
    causal, past, mask = bool(op.attrs.get("is_causal", 0)), bool(ins[4]), ins[3] or None
    window = (int(op.attrs.get("left_window_size", -1)), int(op.attrs.get("right_window_size", -1)))
    # ONNX's causal mask is aligned bottom-right (offset by the cache's length) and combines with attn_mask;
    # torch's is_causal is top-left and alone: those forms get the mask as a constant tensor (written out)
    banded = window != (-1, -1) or (causal and (mask or past)) or lengths is not None
    stored = op.const(mask) if mask else None  # a constant mask joins the constant bias
    if stored is not None:
        mask, banded = None, True
    softcap = float(op.attrs.get("softcap", 0.0) or 0.0)
    mode = int(op.attrs.get("qk_matmul_output_mode", 0))
    qk_read = _read(op, outs[3])
    if qk_read and mode not in (0, 1, 2, 3):
        raise Unsupported(f"Attention with qk_matmul_output_mode={mode}")
    if softcap < 0:
        raise Unsupported(f"Attention with a negative softcap {softcap}")

    y = outs[0]
    q, k, v = ins[:3]
    layers: list = []
    if rank == 3:
        heads = [int(op.attrs.get("q_num_heads", 0)), int(op.attrs.get("kv_num_heads", 0))]
        if not all(heads):
            raise Unsupported("Attention on 3-D inputs without q_num_heads / kv_num_heads")
        split = []
        for role, name, h in (("q", q, heads[0]), ("k", k, heads[1]), ("v", v, heads[1])):
            shape = op.shape(name)
            if shape is None or len(shape) != 3 or not isinstance(shape[-1], int) or shape[-1] % h:
                raise Unsupported(f"3-D Attention whose {role} size is unknown or not divisible by its heads {h}")
            layers += [Layer("Reshape", {"shape": (-1, h, shape[-1] // h)}, inputs=[name], outputs=[f"{y}#{role}0"]),
                       Layer("Permute", {"dims": (0, 2, 1, 3)}, inputs=[f"{y}#{role}0"], outputs=[f"{y}#{role}"])]
            split.append(f"{y}#{role}")
        q, k, v = split
    if past:
        # present = concat(past, new) on the sequence axis: the cache's update, and the keys attended to
        for role, cached, new, out in (("k", ins[4], k, outs[1]), ("v", ins[5], v, outs[2])):
            name = out or f"{y}#{role}_all"
            layers.append(Layer("Concat", {"axis": 2}, inputs=[cached, new], outputs=[name]))
            if role == "k":
                k = name
            else:
                v = name
    elif _read(op, outs[1]) or _read(op, outs[2]):
        raise Unsupported("Attention whose present_key / present_value is read without a cache (the inputs "
                          "themselves: no layer copies a value)")
    if mask:
        _check_mask(op, mask, ins[4], k if rank == 4 and not past else None)
    scale = op.attrs.get("scale")
    heads_out = y if rank == 4 else f"{y}#heads"
    inputs = [q, k, v] + ([mask] if mask else [])
    if softcap or qk_read or banded:
        bias = _bias(op, causal, window, stored, lengths) if banded else None
        layers += _written_out(op, q, k, v, mask, bias, scale, softcap, mode, outs[3] if qk_read else "",
                               heads_out)
    else:
        params = {"is_causal": causal, "scale": None if scale is None else float(scale)}
        layers.append(Layer("ScaledDotProductAttention", params, inputs=inputs, outputs=[heads_out]))
    if rank == 3:
        ev = op.shape(ins[2])[-1] // int(op.attrs.get("kv_num_heads"))
        layers += [Layer("Permute", {"dims": (0, 2, 1, 3)}, inputs=[heads_out], outputs=[f"{y}#packed"]),
                   Layer("Reshape", {"shape": (-1, int(op.attrs.get("q_num_heads")) * ev)},
                         inputs=[f"{y}#packed"], outputs=[y])]
    return layers


def _check_mask(op: Op, mask: str, past: str, key4: str):
    """ONNX pads a mask shorter than the keys with -inf (false); no layer does: refuse it."""
    shape = op.shape(mask)
    total = None
    kshape = op.shape(op.input(1))
    if kshape is not None:
        total = kshape[-2] if len(kshape) == 4 else kshape[1]
        pshape = op.shape(past) if past else None
        if past and (pshape is None or not isinstance(pshape[-2], int)):
            total = None
        elif past and isinstance(total, int):
            total += pshape[-2]
    if shape is None or not isinstance(total, int) or shape[-1] != total:
        raise Unsupported(f"Attention whose attn_mask {shape} does not cover all {total} keys (ONNX pads it with "
                          "-inf)")


# onnxruntime's masked score: the lowest float, not -inf (its qk_matmul_output shows it)
_LOWEST = np.finfo(np.float32).min


def _bias(op: Op, causal: bool, window: tuple, stored=None, lengths=None) -> np.ndarray:
    """ONNX's additive bias of is_causal and the window: 0 where query i may attend key j, masked elsewhere,
    offset-aligned by the cache's length -- or per example by nonpad_kv_seqlen - L, whose keys past the length
    are masked too (the reference's _apply_causal / _apply_sliding_window / padding mask) -- plus a constant
    attn_mask (bool: -inf where false; shorter than the keys: padded with -inf as ONNX does)."""
    qshape = op.shape(op.input(0))
    length, keys = (qshape[-2] if len(qshape) == 4 else qshape[1]) if qshape else None, _keys(op)
    if not isinstance(length, int) or not isinstance(keys, int):
        raise Unsupported("Attention with a causal / window mask whose lengths are not known")
    past = op.shape(op.input(4))[-2] if op.input(4) else 0
    offset = np.asarray(past).reshape(1, 1, 1) if lengths is None else \
        (np.asarray(lengths, np.int64).reshape(-1) - length).reshape(-1, 1, 1)  # [B or 1, 1, 1]
    diff = (np.arange(length)[None, :, None] + offset) - np.arange(keys)[None, None, :]  # query - key position
    allowed = np.ones(diff.shape, bool)
    if causal:
        allowed &= diff >= 0
    if window[0] >= 0:
        allowed &= diff <= window[0]
    if window[1] >= 0:
        allowed &= -diff <= window[1]
    if lengths is not None:
        allowed &= np.arange(keys)[None, None, :] < np.asarray(lengths, np.int64).reshape(-1, 1, 1)
    allowed = allowed[:, None] if lengths is not None else allowed[0]  # [B, 1, L, S] or [L, S]
    if not allowed.any(axis=-1).all():
        raise Unsupported("Attention whose causal / window / length mask leaves a query no key (ONNX gives 0 "
                          "there, softmax NaN)")
    bias = np.where(allowed, np.float32(0), _LOWEST).astype(np.float32)
    if stored is not None:
        m = np.asarray(stored)
        m = np.where(m, np.float32(0), np.float32(-np.inf)) if m.dtype == np.bool_ else m.astype(np.float32)
        if m.shape[-1] < keys:
            m = np.concatenate([m, np.full((*m.shape[:-1], keys - m.shape[-1]), -np.inf, np.float32)], axis=-1)
        if m.shape[-1] != keys:
            raise Unsupported(f"Attention whose attn_mask {m.shape} is longer than the {keys} keys")
        with np.errstate(invalid="ignore"):
            bias = (bias + m).astype(np.float32)
    if np.isnan(bias).any() or (bias.max(axis=-1) <= _LOWEST).any():
        raise Unsupported("Attention whose mask leaves a query no key (ONNX gives 0 there, softmax NaN)")
    return bias


def _repeated(op: Op, name: str, groups: int, y: str, role: str) -> list:
    """[N, Hkv, S, E] -> [N, Hkv * groups, S, E], each head repeated in turn (h0, h0, h1, h1 ...): grouped-query
    attention's key / value heads, as Unsqueeze, a Concat of copies and a Reshape."""
    out = f"{y}#{role}_rep"
    return [Layer("Unsqueeze", {"dim": 2}, inputs=[name], outputs=[f"{out}0"]),
            Layer("Concat", {"axis": 2}, inputs=[f"{out}0"] * groups, outputs=[f"{out}1"]),
            Layer("Flatten", {"start_dim": 1, "end_dim": 2}, inputs=[f"{out}1"], outputs=[out])]


def _written_out(op: Op, q: str, k: str, v: str, mask, bias, scale, softcap: float, mode: int, qk: str,
                 y: str) -> list:
    """softmax(cap(q k^T * scale) + mask + bias) v as layers, with the qk_matmul_output of `mode` named `qk`;
    bias: the constant causal / window mask or None."""
    qshape, kshape = op.shape(op.input(0)), op.shape(op.input(1))
    if qshape is None or kshape is None:
        raise Unsupported("Attention with softcap or its qk_matmul_output read whose input shapes are unknown")
    if (op.dtype(op.input(0)) or "f32") != "f32":
        raise Unsupported("Attention with softcap or its qk_matmul_output read, other than float32 (written out as "
                          "layers whose constants are float32)")
    heads = (int(op.attrs.get("q_num_heads", 0)), int(op.attrs.get("kv_num_heads", 0))) if op.rank(0) == 3 else \
        (qshape[1], kshape[1])
    if not all(isinstance(h, int) for h in heads) or heads[0] % heads[1]:
        raise Unsupported(f"Attention with heads {heads} (query heads a multiple of the key heads)")
    layers = []
    if mask and op.dtype(mask) == "bool":  # true: 0, false: the lowest float (cast, - 1, * max)
        layers += [Layer("Cast", {"dtype": "f32"}, inputs=[mask], outputs=[f"{y}#mask_f"]),
                   Layer("Sub", {"value": 1.0}, inputs=[f"{y}#mask_f"], outputs=[f"{y}#mask_0"]),
                   Layer("Mul", {"value": float(-_LOWEST)}, inputs=[f"{y}#mask_0"], outputs=[f"{y}#mask_bias"])]
        mask = f"{y}#mask_bias"
    if heads[0] != heads[1]:
        groups = heads[0] // heads[1]
        layers += _repeated(op, k, groups, y, "k") + _repeated(op, v, groups, y, "v")
        k, v = f"{y}#k_rep", f"{y}#v_rep"
    e = qshape[-1] if op.rank(0) == 4 else qshape[-1] // heads[0]
    s = _keys(op)
    if not isinstance(e, int) or not isinstance(s, int):
        raise Unsupported("Attention with softcap or its qk_matmul_output read whose sizes are not known")
    factor = float(scale) if scale is not None else 1.0 / float(np.sqrt(e))

    def scale_by(x, f, out):  # a Scale of weight f along the keys: a constant factor as a layer holds it
        return Layer("Scale", {"bias": False, "axis": -1}, inputs=[x], outputs=[out],
                     weights={"weight": np.full(s, f, np.float32)})

    # the stages ONNX can expose (qk_matmul_output_mode 0..3): scaled scores, softcapped, + mask, softmax
    stage = [f"{y}#scores", f"{y}#capped" if softcap else None, f"{y}#biased" if mask or bias is not None else None,
             f"{y}#probs"]
    for i in (1, 2):
        stage[i] = stage[i] or stage[i - 1]
    if qk:
        stage = [qk if name == stage[mode] else name for name in stage]
    layers += [Layer("Permute", {"dims": (0, 1, 3, 2)}, inputs=[k], outputs=[f"{y}#kt"]),
              Layer("MatMul", {}, inputs=[q, f"{y}#kt"], outputs=[f"{y}#qk"]),
              scale_by(f"{y}#qk", factor, stage[0])]
    if softcap:  # softcap * tanh(scores / softcap)
        layers += [scale_by(stage[0], 1.0 / softcap, f"{y}#over_cap"),
                   Layer("Tanh", inputs=[f"{y}#over_cap"], outputs=[f"{y}#tanh"]),
                   scale_by(f"{y}#tanh", softcap, stage[1])]
    if mask:
        layers.append(Layer("Add", {}, inputs=[stage[1], mask],
                            outputs=[stage[2] if bias is None else f"{y}#masked"]))
    if bias is not None:  # a constant tensor the Add layer holds (its one-tensor form)
        layers.append(Layer("Add", {"shape": bias.shape}, inputs=[f"{y}#masked" if mask else stage[1]],
                            outputs=[stage[2]], weights={"": bias}))
    return layers + [Layer("Softmax", {"dim": -1}, inputs=[stage[2]], outputs=[stage[3]]),
                     Layer("MatMul", {}, inputs=[stage[3], v], outputs=[y])]


def _keys(op: Op):
    """The number of keys attended to: the cache's length plus the new keys'."""
    kshape = op.shape(op.input(1))
    if kshape is None:
        return None
    s = kshape[-2] if len(kshape) == 4 else kshape[1]
    past = op.input(4)
    if past:
        p = op.shape(past)
        if p is None or not isinstance(p[-2], int) or not isinstance(s, int):
            return None
        s += p[-2]
    return s
