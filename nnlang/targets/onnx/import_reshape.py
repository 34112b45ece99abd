"""ONNX's shape ops: Concat, Flatten, Reshape (the batch kept, or windows folded into it and back), Transpose,
Squeeze / Unsqueeze, Slice (10+), Pad and Split (both forms of each), as the registry's shape layers."""

from __future__ import annotations

import math

import numpy as np

from .importers import Alias, Layer, Op, Unsupported, _ints, onnx_op


@onnx_op("Concat")
def concat(op: Op):
    if any(op.const(name) is not None for name in op.inputs):
        raise Unsupported("Concat with a constant operand")
    if len(op.inputs) == 1:
        return Alias(op.inputs[0])
    return Layer("Concat", {"axis": int(op.attrs["axis"])}, inputs=op.inputs)


@onnx_op("Flatten")
def flatten(op: Op):
    axis = int(op.attrs.get("axis", 1))
    rank = op.rank(0)
    if axis % rank != 1:
        raise Unsupported(f"Flatten at axis {axis} (only the batch dim may stay separate)")
    return Layer("Flatten")


@onnx_op("Reshape")
def reshape(op: Op):
    """By shapes: [N, ...] -> [N, rest] is Flatten; anything else keeping dim 0 is Reshape. The output shape
    is inference's, or worked out from the shape operand (constant, or computed from Shape with the batch
    a symbol) and the input's shape."""
    src, dst = op.shape(op.input(0)), op.shape(op.node.output[0])
    const = op.const(op.input(1)) if op.input(1) else None
    if const is not None and src and all(isinstance(d, int) for d in src[1:]):
        target = [int(v) for v in np.asarray(const).reshape(-1)]
        # [-1, ...] whose other dims are not one example's: the batch changes (windows folded into it)
        if target and target[0] == -1 and target.count(-1) == 1 and min(target) >= -1 and 0 not in target \
                and math.prod(target[1:]) != math.prod(src[1:]):
            return Layer("Reshape", {"shape": tuple(target), "batch": True})
    if src is not None and (dst is None or any(not isinstance(d, int) for d in dst[1:])):
        dst = _reshape_target(src, op.const(op.input(1)) if op.input(1) else None, op.dims(op.input(1)),
                              bool(op.attrs.get("allowzero", 0))) or dst
    if src is None or dst is None or not dst:
        raise Unsupported("a Reshape whose output shape is unknown")
    fixed = all(isinstance(d, int) for d in (*src[1:], *dst[1:]))
    if src[0] != dst[0] and not (fixed and math.prod(src[1:]) == math.prod(dst[1:])):  # (equal: two names of N)
        # The batch changes (windows folded into it and back): the new batch is what the other dims leave.
        if any(not isinstance(d, int) for d in dst[1:]):
            raise Unsupported("a Reshape that changes the batch dim to symbolic dims")
        return Layer("Reshape", {"shape": (-1, *dst[1:]), "batch": True})
    if len(dst) == 2 and len(src) > 2:
        return Layer("Flatten")
    if any(not isinstance(d, int) for d in dst[1:]):
        raise Unsupported("a Reshape to symbolic dims")
    return Layer("Reshape", {"shape": tuple(dst[1:])})


def _reshape_target(src, const, dims, allowzero: bool):
    """ONNX's Reshape rule (0 copies the input's dim, -1 takes the rest) on dims that may be symbols."""
    target = list(np.asarray(const).reshape(-1)) if const is not None else (list(dims) if dims is not None else None)
    if target is None:
        return None
    out = []
    for k, t in enumerate(target):
        if isinstance(t, str):
            if t == "?" and (k or not all(not isinstance(v, str) and int(v) > 0 for v in target[1:])):
                return None  # '?' first, the rest given: the batch times a size (windows folded into it), kept
            out.append(t)
        elif int(t) == 0 and not allowzero:
            if k >= len(src):
                return None
            out.append(src[k])
        else:
            out.append(int(t))
    if out.count(-1) > 1:
        return None
    if -1 in out:
        known = [d for d in out if d != -1]
        total = list(src)
        for d in known:  # cancel the dims both sides share (the batch symbol)
            if d in total and not isinstance(d, int):
                total.remove(d)
        rest = [d for d in known if isinstance(d, int)]
        if any(not isinstance(d, int) for d in total) or any(not isinstance(d, int) for d in known if d not in src):
            return None
        size, part = int(np.prod(total)), int(np.prod(rest)) if rest else 1
        if part == 0 or size % part:
            return None
        out[out.index(-1)] = size // part
    return tuple(out)


@onnx_op("Transpose")
def transpose(op: Op):
    """Without `perm` ONNX reverses the dims."""
    perm = op.attrs.get("perm")
    return Layer("Permute", {"dims": _ints(perm) if perm is not None else tuple(reversed(range(op.rank(0))))})


@onnx_op("Squeeze", "Unsqueeze")
def squeeze_1(op: Op):
    return _squeeze(op, op.attrs.get("axes"))


@onnx_op("Squeeze", "Unsqueeze", since=13)
def squeeze_13(op: Op):
    return _squeeze(op, op.const_input(1, "axes"))


def _squeeze(op: Op, axes):
    if axes is None or len(axes) == 0:
        raise Unsupported(f"{op.node.op_type} without axes")
    dims = tuple(int(a) for a in np.asarray(axes).reshape(-1))
    if op.node.op_type == "Squeeze":
        return Layer("Squeeze", {"dim": dims[0] if len(dims) == 1 else dims})
    if len(dims) == 1:
        return Layer("Unsqueeze", {"dim": dims[0]})
    # several axes (of the output's rank): one Unsqueeze each, lowest first, so each lands where ONNX puts it
    rank = op.rank(0) + len(dims)
    dims = sorted(d % rank for d in dims)
    out = op.node.output[0]
    names = [f"{out}#unsqueeze{k}" for k in range(len(dims) - 1)] + [out]
    return [Layer("Unsqueeze", {"dim": d}, inputs=[src], outputs=[name])
            for d, src, name in zip(dims, [op.input(0)] + names[:-1], names)]


@onnx_op("Slice", since=10)
def slice_10(op: Op):
    starts, ends = op.const_input(1, "starts"), op.const_input(2, "ends")
    return slice_layer(op, starts, ends, op.const_input(3, "axes"), op.const_input(4, "steps"))


def slice_layer(op: Op, starts, ends, axes, steps):
    """One Slice layer per sliced axis (the registry's Slice takes one); a full-range axis is none."""
    shape = op.shape(op.node.output[0])
    if shape is not None and any(d == 0 for d in shape):
        raise Unsupported(f"Slice to an empty tensor {tuple(shape)} (.nns sizes are positive)")
    starts, ends = np.asarray(starts).reshape(-1), np.asarray(ends).reshape(-1)
    count = starts.size
    axes = np.arange(count) if axes is None else np.asarray(axes).reshape(-1)
    steps = np.ones(count, dtype=np.int64) if steps is None else np.asarray(steps).reshape(-1)
    if not (ends.size == axes.size == steps.size == count) or count == 0:
        raise Unsupported("Slice whose starts, ends, axes and steps differ in length")
    layers = []
    for start, end, axis, step in zip(starts, ends, axes, steps):
        start, end, axis, step = int(start), int(end), int(axis), int(step)
        if step < 1:
            raise Unsupported("Slice with a negative step")
        if start == 0 and end >= 2 ** 31 - 1 and step == 1:
            continue
        layers.append(Layer("Slice", {"axis": axis, "start": start, "end": None if end >= 2 ** 31 - 1 else end,
                                      "step": step}))
    if not layers:
        return Alias(op.input(0))
    return layers[0] if len(layers) == 1 else layers


@onnx_op("Pad", since=11)
def pad(op: Op):
    pads = op.const_input(1, "pads")
    mode = op.attrs.get("mode", "constant")
    value = op.const_input(2, "the constant value")
    axes = op.const_input(3, "axes")
    if axes is not None:  # pads of the listed axes only: spread over all axes, 0 elsewhere
        rank, axes = op.rank(0), [int(a) % op.rank(0) for a in np.asarray(axes).reshape(-1)]
        given, full = _ints(np.asarray(pads).reshape(-1)), [0] * (2 * op.rank(0))
        for i, a in enumerate(axes):
            full[a], full[rank + a] = given[i], given[len(axes) + i]
        pads = full
    return _pad(op, pads, mode, 0.0 if value is None else float(value))


@onnx_op("Pad", since=2)
def pad_2(op: Op):
    return _pad(op, op.attrs["pads"], op.attrs.get("mode", "constant"), float(op.attrs.get("value", 0.0)))


def _pad(op: Op, pads, mode: str, value: float):
    pads = _ints(np.asarray(pads).reshape(-1))
    rank = len(pads) // 2
    begin, end = pads[:rank], pads[rank:]
    if any(begin[:2]) or any(end[:2]):
        raise Unsupported("Pad of the batch or channel dim")
    order = []
    for k in reversed(range(2, rank)):  # the registry's pads: last dim first, (before, after) each
        order += [begin[k], end[k]]
    modes = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}
    if mode not in modes:
        raise Unsupported(f"Pad mode {mode!r}")
    return Layer("Pad", {"pads": tuple(order), "mode": modes[mode], "value": value})


@onnx_op("Split", since=13)
def split_13(op: Op):
    sizes = op.const_input(1, "split")
    return _split(op, None if sizes is None else _ints(sizes))


@onnx_op("Split", since=2)
def split_2(op: Op):
    sizes = op.attrs.get("split")
    return _split(op, None if sizes is None else _ints(sizes))


def _split(op: Op, sizes):
    n = len(op.node.output)
    axis = int(op.attrs.get("axis", 0))
    shape = op.shape(op.input(0))
    dim = shape[axis] if shape is not None else None
    if sizes is None and isinstance(dim, int) and dim % n:  # num_outputs (18): ceil(dim / n) each, the last less
        step = -(-dim // n)
        sizes = (step,) * (n - 1) + (dim - step * (n - 1),)
    sections = n if sizes is None or len(set(sizes)) == 1 else sizes
    return Layer("Split", {"sections": sections, "axis": axis})
