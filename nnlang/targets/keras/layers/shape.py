"""Pad, Slice, Split, Mean and Sum on the tensor as stored (its IR axes remapped, no transpose written):
slices of the Keras tensor, keras.ops (pad, flip, mean, sum) and Concatenate, which Keras saves as op nodes."""

from __future__ import annotations

from ..emit import Val
from ..mapping import NotExpressible, keras_layer

DTYPES = {"f32": "float32", "f64": "float64", "f16": "float16", "i64": "int64", "i32": "int32", "i16": "int16",
          "i8": "int8", "u8": "uint8", "bool": "bool"}


def _stored(b, i: int = 0):
    """(tensor, perm) of input i as stored; a flattened channels-last map is restored to the IR's order."""
    v = b.val(i)
    if v.flat is not None:
        return b.ir(i), None
    return v.t, v.perm


def _stored_axis(perm, axis: int) -> int:
    return axis if perm is None else perm.index(axis)


def _take(t, rank: int, axis: int, part: slice):
    index = [slice(None)] * rank
    index[axis] = part
    return t[tuple(index)]


def _size(b, axis: int, i: int = 0):
    d = b.types[i].shape[axis]
    return d if isinstance(d, int) else None


@keras_layer("Slice")
def slice_(b):
    a = b.a
    rank = b.t.rank
    axis = a["axis"] % rank
    t, perm = _stored(b)
    part = slice(a["start"], a["end"], a["step"])
    size = _size(b, axis)
    if size is not None:  # explicit bounds: torch's clamping, whatever the backend's slicing does
        part = slice(*part.indices(size))
    return Val(_take(t, rank, _stored_axis(perm, axis), part), perm)


@keras_layer("Split")
def split(b):
    a = b.a
    rank = b.t.rank
    axis = a["axis"] % rank
    size = b.known(b.t.shape[axis], "the split size")
    s = a["sections"]
    sizes = [size // s] * s if isinstance(s, int) else list(s)
    t, perm = _stored(b)
    k = _stored_axis(perm, axis)
    if len(sizes) == 1:
        return Val(b.layer(b.L.Identity)(t), perm)
    outs, start = [], 0
    for n in sizes[:len(b.node.outputs)]:
        outs.append(Val(_take(t, rank, k, slice(start, start + n)), perm))
        start += n
    return outs


def _edge_parts(b, t, rank: int, k: int, size: int, lo: int, hi: int, mode: str) -> list:
    """[before, t, after] along stored axis k for torch's reflect / replicate / circular padding."""
    if mode == "reflect":  # mirrored without the edge element
        before = [b.ops.flip(_take(t, rank, k, slice(1, lo + 1)), axis=k)] if lo else []
        after = [b.ops.flip(_take(t, rank, k, slice(size - 1 - hi, size - 1)), axis=k)] if hi else []
    elif mode == "replicate":  # the edge element repeated
        before = [_take(t, rank, k, slice(0, 1))] * lo
        after = [_take(t, rank, k, slice(size - 1, size))] * hi
    else:  # circular: the other end's elements
        before = [_take(t, rank, k, slice(size - lo, size))] if lo else []
        after = [_take(t, rank, k, slice(0, hi))] if hi else []
    return [*before, t, *after]


@keras_layer("Pad")
def pad(b):
    """torch's pads run from the last axis backwards: (last_lo, last_hi, previous_lo, ...). Negative pads crop.
    Constant: a crop (slices) then keras.ops.pad; other modes: slices (flipped for reflect) concatenated."""
    a = b.a
    rank = b.t.rank
    pads, mode = list(a["pads"]), a["mode"]
    t, perm = _stored(b)
    widths = [[0, 0] for _ in range(rank)]
    crops = []
    for j in range(len(pads) // 2):
        axis = rank - 1 - j
        lo, hi = int(pads[2 * j]), int(pads[2 * j + 1])
        if lo < 0 or hi < 0:
            if mode != "constant":
                raise NotExpressible(f'Pad with negative pads in mode "{mode}"')
            size = b.known(b.t.shape[axis], "a cropped size")
            crops.append((axis, slice(max(0, -lo), size - max(0, -hi))))
        widths[_stored_axis(perm, axis)] = [max(0, lo), max(0, hi)]
        if mode != "constant" and (lo or hi):
            b.known(b.t.shape[axis], "a padded size")
    for axis, part in crops:
        t = _take(t, rank, _stored_axis(perm, axis), part)
    if mode == "constant":
        if any(lo or hi for lo, hi in widths):
            t = b.ops.pad(t, widths, constant_values=float(a["value"]) if b.t.dtype[0] == "f" else a["value"])
        return Val(t, perm)
    for j in range(len(pads) // 2):
        axis = rank - 1 - j
        k = _stored_axis(perm, axis)
        lo, hi = widths[k]
        if lo or hi:
            parts = _edge_parts(b, t, rank, k, b.t.shape[axis], lo, hi, mode)
            t = b.layer(b.L.Concatenate, f"pad{axis}", axis=k)(parts)
    return Val(t, perm)


@keras_layer("Mean", "Sum")
def reduce(b):
    a = b.a
    rank = b.t.rank
    axes = a["axis"] if isinstance(a["axis"], (tuple, list)) else (a["axis"],)
    axes = sorted({int(x) % rank for x in axes})
    keep = bool(a["keepdims"])
    t, perm = _stored(b)
    if 0 in axes and not keep and perm is not None:  # the rest could not keep a permutation that fixes axis 0
        t, perm = b.ir(), None
    stored = tuple(_stored_axis(perm, x) for x in axes)
    fn = b.ops.mean if b.node.op == "Mean" else b.ops.sum
    y = fn(t, axis=stored, keepdims=keep)
    want = DTYPES.get(b.out_types[0].dtype)
    if want is not None and str(y.dtype) != want:  # Keras sums small integers as int32; the IR keeps the dtype
        y = b.ops.cast(y, want)
    if keep or perm is None:
        return Val(y, perm)
    rest = tuple(p - sum(x < p for x in axes) for p in perm if p not in axes)
    return Val(y, None if list(rest) == list(range(len(rest))) else rest)
