"""Shape layers and the reductions Mean / Sum."""

from __future__ import annotations

from ..builder import INT64_MAX
from ..mapping import onnx_layer


@onnx_layer("Flatten")
def flatten(b):
    rank = b.t.rank
    s, e = b.a["start_dim"] % rank, b.a["end_dim"] % rank
    if s == e:
        return b.op("Identity", b.x)
    if s == 1 and e == rank - 1:  # ONNX's Flatten makes exactly [d0, rest]
        return b.op("Flatten", b.x, axis=1)
    tail = b.t.shape[e + 1:]
    if all(isinstance(d, int) for d in tail):
        # A constant shape (0 copies a leading dim): ONNX's shape inference then knows the result's dims.
        return b.op("Reshape", b.x, b.ints([0] * s + [-1, *tail]))
    parts = [("dim", i) for i in range(s)] + [-1] + [("dim", i) for i in range(e + 1, rank)]
    return b.reshape(b.x, b.t, parts)


@onnx_layer("Reshape")
def reshape(b):
    if b.a["batch"]:  # the whole shape as written (-1 may be the batch, as when windows fold into it)
        return b.op("Reshape", b.x, b.ints(b.a["shape"]))
    # 0 copies the input's dim 0 (the batch); the IR's shape has no 0 (positive or -1 only).
    return b.op("Reshape", b.x, b.ints([0, *b.a["shape"]]))


def roll(b, x: str, shift: int, axis: int, size) -> str:
    """torch.roll(x, shift, axis): the last `shift` entries moved to the front, as Slice + Concat. A size
    unknown until run time (the batch) gives the split point as (-shift) mod size, read from x's shape."""
    if isinstance(size, int):
        shift %= size
        if shift == 0:
            return x
        return b.op("Concat", b.slice(x, [size - shift], [size], [axis]), b.slice(x, [0], [size - shift], [axis]),
                    axis=axis)
    cut = b.op("Mod", b.ints([-shift]), b.shape_of(x, axis, axis + 1))  # integer Mod: the divisor's sign
    head = b.op("Slice", x, cut, b.ints([INT64_MAX]), b.ints([axis]))
    return b.op("Concat", head, b.op("Slice", x, b.ints([0]), cut, b.ints([axis])), axis=axis)


@onnx_layer("Roll")
def roll_layer(b):
    x = b.x
    for shift, dim in zip(b.a["shifts"], b.a["dims"]):
        axis = dim % b.t.rank
        x = roll(b, x, shift, axis, b.t.shape[axis])
    return x if x != b.x else b.op("Identity", x)


@onnx_layer("Permute")
def permute(b):
    rank = b.t.rank
    return b.op("Transpose", b.x, perm=[d % rank for d in b.a["dims"]])


@onnx_layer("Transpose")
def transpose(b):
    rank = b.t.rank
    perm = list(range(rank))
    i, j = b.a["dim0"] % rank, b.a["dim1"] % rank
    perm[i], perm[j] = perm[j], perm[i]
    return b.op("Transpose", b.x, perm=perm) if i != j else b.op("Identity", b.x)


@onnx_layer("Squeeze")
def squeeze(b):
    dims = b.a["dim"]
    dims = dims if isinstance(dims, tuple) else (dims,)
    return b.squeeze(b.x, sorted(d % b.t.rank for d in dims))


@onnx_layer("Unsqueeze")
def unsqueeze(b):
    return b.unsqueeze(b.x, [b.a["dim"] % (b.t.rank + 1)])


@onnx_layer("Concat")
def concat(b):
    return b.op("Concat", *b.xs, axis=b.a["axis"] % b.t.rank)


@onnx_layer("Split")
def split(b):
    axis = b.a["axis"] % b.t.rank
    sizes = [o.shape[axis] for o in b.outs]
    if all(isinstance(s, int) for s in sizes):
        return b.split(b.x, sizes, axis)
    return b.split(b.x, None, axis, count=len(b.outs))  # equal pieces of a size known only at run time


@onnx_layer("Slice")
def slice_(b):
    a = b.a
    end = INT64_MAX if a["end"] is None else a["end"]
    steps = None if a["step"] == 1 else [a["step"]]
    return b.slice(b.x, [a["start"]], [end], [a["axis"] % b.t.rank], steps)


@onnx_layer("Select")
def select(b):
    # A 0-d index removes the axis, as x[:, i] does; Gather takes negative indices as Python does.
    return b.op("Gather", b.x, b.const(b.a["index"], "i64"), axis=b.a["axis"] % b.t.rank)


@onnx_layer("GatherElements")
def gather_elements(b):  # ONNX takes negative indices as the layer does
    return b.op("GatherElements", b.x, b.xs[1], axis=b.a["axis"] % b.t.rank)


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _begin_end(b) -> tuple:
    """torch's (before, after) pairs, last dim first -> ONNX's begins and ends, one per dim."""
    rank = b.t.rank
    begin, end = [0] * rank, [0] * rank
    pads = b.a["pads"]
    for j in range(len(pads) // 2):
        begin[rank - 1 - j], end[rank - 1 - j] = pads[2 * j], pads[2 * j + 1]
    return begin, end


@onnx_layer("Pad")
def pad_before_wrap(b):
    """Negative (constant) pads crop, in ONNX as in torch. Circular padding ("wrap") came in opset 19;
    before it the wrapped-around slices are concatenated."""
    begin, end = _begin_end(b)
    if b.a["mode"] == "circular":
        return _wrap(b, b.x, begin, end)
    return b.pad(b.x, begin, end, _PAD_MODES[b.a["mode"]], b.a["value"])


def _wrap(b, x: str, begin, end) -> str:
    """The last `before` entries in front, the first `after` behind, dim by dim."""
    for axis, (before, after) in enumerate(zip(begin, end)):
        if not before and not after:
            continue
        parts = []
        if before:
            parts.append(b.slice(x, [-before], [INT64_MAX], [axis]))
        parts.append(x)
        if after:
            parts.append(b.slice(x, [0], [after], [axis]))
        x = b.op("Concat", *parts, axis=axis)
    return x


@onnx_layer("Pad", since=19)
def pad(b):
    begin, end = _begin_end(b)
    return b.pad(b.x, begin, end, _PAD_MODES[b.a["mode"]], b.a["value"])


@onnx_layer("Identity")
def identity(b):
    return b.op("Identity", b.x)


# What onnxruntime reduces natively; other dtypes are summed as int64 / f32 and cast back (torch keeps
# the dtype and wraps around on overflow, as the cast back does).
_SUMMABLE = ("f32", "f64", "i32", "i64")


@onnx_layer("Mean", "Sum")
def reduce(b):
    a = b.a
    axes = a["axis"] if isinstance(a["axis"], tuple) else (a["axis"],)
    axes = sorted(x % b.t.rank for x in axes)
    dtype = b.t.dtype
    if b.node.op == "Mean":
        return b.reduce("ReduceMean", b.x, axes, keepdims=a["keepdims"])
    wide = dtype if dtype in _SUMMABLE else ("f32" if dtype in ("f16", "bf16") else "i64")
    y = b.reduce("ReduceSum", b.cast(b.x, dtype, wide), axes, keepdims=a["keepdims"])
    return b.cast(y, wide, dtype)
