"""Shape layers: Flatten, Reshape, Permute, Transpose, Squeeze, Unsqueeze, Concat, Split, Slice,
Select, GatherElements, Pad, Roll, Identity, and the reductions Mean and Sum. (Upsample / Resize lives in conv.py.)

Axes count over all dims including the batch (axis 0), negatives as in Python; an axis out of
range is a rank error (E302). These layers move data but compute nothing: 0 MACs, no weights, and
the dtype passes through (integer tensors included).
Stricter than torch, so that a silent no-op or an odd shape is reported where it is written:
Squeeze requires the dim to be 1 (torch leaves other sizes alone), Split(n) requires n to divide the
dim (torch.chunk may return fewer pieces), an empty Slice is an error, Concat requires one dtype
(torch promotes; ONNX, Keras and Caffe do not).
"""

from __future__ import annotations

import math

from . import symdim
from .base import (BOOL, FLOAT, INT, Choice, IntTuple, LayerSpec, OneOf, Optional_, Param, ParamRangeError,
                   ShapeError, TensorType, format_dim, format_shape, numel, require_known, same_dims)

INTEGER_DTYPES = ("bool", "u8", "i8", "i16", "i32", "i64")
# 8-bit floats (ONNX FLOAT8*, torch float8_*): storage types; only Cast takes or gives them (no arithmetic runs on
# them in torch's CPU kernels). fn: no infinities; fnuz: no infinities or -0, one NaN; e8m0: powers of 2 only.
FLOAT8_DTYPES = ("f8e4m3fn", "f8e4m3fnuz", "f8e5m2", "f8e5m2fnuz", "f8e8m0")


def check_float8(layer: str, inputs) -> None:
    """ShapeError (E301) when a layer other than Cast is given an 8-bit float tensor."""
    if layer == "Cast":
        return
    for i, t in enumerate(inputs):
        if t.dtype in FLOAT8_DTYPES:
            raise ShapeError(f"{layer}: input {i} is {t.dtype} {t}, an 8-bit float storage type only Cast takes "
                             "(Cast it to f16 / f32 first)", "E301", i)


def axis_of(axis: int, t: TensorType, layer: str, what: str = "axis", extra: int = 0, input: int = 0) -> int:
    """Normalise a possibly negative axis of t (extra=1: one past the end is allowed, for insertion)."""
    rank = t.rank + extra
    if not -rank <= axis < rank:
        raise ShapeError(f"{layer}: {what} {axis} is out of range for the rank-{t.rank} input {t} "
                         f"(expected {-rank} .. {rank - 1})", "E302", input)
    return axis % rank


def _axes_of(axes, t, layer, what="axis") -> list:
    """Normalise several axes; a repeated axis is an error."""
    out = [axis_of(a, t, layer, what) for a in axes]
    if len(set(out)) != len(out):
        raise ShapeError(f"{layer}: {what} {axes} names the same dim of {t} twice", "E304", 0)
    return out


class _Axes(IntTuple):
    """One axis or several; normalised to a tuple."""

    def describe(self):
        return "int | (int, ...)"


def _simple(name, doc, params, infer, example, **kw) -> LayerSpec:
    return LayerSpec(name=name, family="shape", doc=doc, params=tuple(params), infer=infer, example=example, **kw)


# ---- Flatten, Reshape, Permute, Transpose, Squeeze, Unsqueeze -----------------------------------

def _flatten(a, inputs):
    (x,) = inputs
    s = axis_of(a["start_dim"], x, "Flatten", "start_dim")
    e = axis_of(a["end_dim"], x, "Flatten", "end_dim")
    if s > e:
        raise ShapeError(f"Flatten: start_dim {a['start_dim']} comes after end_dim {a['end_dim']} for {x}", "E304", 0)
    merged = x.shape[s] if s == e else numel(x.shape[s:e + 1])  # one dim alone keeps its symbol
    return [x.with_shape((*x.shape[:s], merged, *x.shape[e + 1:]))]


class _ReshapeDims(IntTuple):
    """Target dims after the batch: positive ints, at most one -1 (inferred)."""

    def check(self, value):
        dims = super().check(value)
        if any(d == 0 or d < -1 for d in dims):
            raise ParamRangeError(f"dims must be positive or -1 (inferred), got {dims}")
        if dims.count(-1) > 1:
            raise ParamRangeError(f"at most one dim can be -1, got {dims}")
        return dims


def _reshape(a, inputs):
    (x,) = inputs
    whole = a["batch"]  # the shape includes the batch dim, as x.reshape(*shape)
    if x.rank < 1 and not whole:
        raise ShapeError(f"Reshape expects a batch dim, got a rank-0 input {x}", "E302", 0)
    shape = a["shape"]
    total = numel(x.shape if whole else x.shape[1:])
    per = "elements" if whole else "elements per example"
    given = math.prod(d for d in shape if d != -1)
    target = format_shape(shape if whole else (x.shape[0], *shape))
    if -1 in shape and total is not None and type(total) is not int:
        inferred = symdim.floordiv(total, given)  # 64 * H * W / 64 -> H * W; N * 56 * 56 * 96 / 4704 -> N * 64
        verdict, condition = symdim.compare(symdim.mul(inferred, given), total)
        if whole and verdict == symdim.CONDITIONAL:  # a batch that divides only for some N is a wrong shape
            raise ShapeError(f"Reshape: {x} ({format_dim(total)} {per}) cannot be reshaped to {target} for every "
                             f"batch size: {given} divides {format_dim(total)} only when {condition}", "E301", 0)
        if not same_dims(symdim.mul(inferred, given), total, f"Reshape to {target}: {format_dim(total)} and "
                                                                   f"{given} * ({format_dim(inferred)})"):
            raise ShapeError(f"Reshape: {x} ({format_dim(total)} {per}) cannot be reshaped to {target}", "E301", 0)
        shape = tuple(inferred if d == -1 else d for d in shape)
    elif -1 in shape:
        require_known(total, f"Reshape to {target}: the size of {x}{'' if whole else ' after the batch dim'} "
                             "(to infer -1)")
        if total % given:
            raise ShapeError(f"Reshape: {x} ({total} {per}) cannot be reshaped to {target}: {given} does not "
                             f"divide {total}", "E301", 0)
        shape = tuple(total // given if d == -1 else d for d in shape)
    elif total is not None and total != given and (
            whole and type(total) is not int or  # fixed sizes fit one batch size at most
            not same_dims(total, given, f"Reshape to {target}: {format_dim(total)} and {given} {per}")):
        hint = " (write the batch's entry as -1)" if whole and type(total) is not int else ""
        raise ShapeError(f"Reshape: {x} has {format_dim(total)} {per}, {target} has {given}{hint}", "E301", 0)
    return [x.with_shape(shape if whole else (x.shape[0], *shape))]


def _permute(a, inputs):
    (x,) = inputs
    dims = a["dims"]
    if len(dims) != x.rank:
        raise ShapeError(f"Permute: dims {dims} has {len(dims)} entries, the input {x} has rank {x.rank}", "E302", 0)
    order = _axes_of(dims, x, "Permute", "dims")
    return [x.with_shape(tuple(x.shape[i] for i in order))]


def _transpose(a, inputs):
    (x,) = inputs
    i = axis_of(a["dim0"], x, "Transpose", "dim0")
    j = axis_of(a["dim1"], x, "Transpose", "dim1")
    shape = list(x.shape)
    shape[i], shape[j] = shape[j], shape[i]
    return [x.with_shape(shape)]


def _squeeze(a, inputs):
    (x,) = inputs
    axes = _axes_of(a["dim"], x, "Squeeze", "dim")
    for i in axes:
        d = require_known(x.shape[i], f"Squeeze: dim {i} of {x} (it must be 1)")
        if d != 1:
            raise ShapeError(f"Squeeze: dim {i} of {x} has size {d}, expected 1", "E301", 0)
    return [x.with_shape(tuple(d for i, d in enumerate(x.shape) if i not in axes))]


def _unsqueeze(a, inputs):
    (x,) = inputs
    i = axis_of(a["dim"], x, "Unsqueeze", "dim", extra=1)
    return [x.with_shape((*x.shape[:i], 1, *x.shape[i:]))]


# ---- Concat, Split -------------------------------------------------------------------------------

def _concat(a, inputs):
    first = inputs[0]
    for i, t in enumerate(inputs[1:], 1):
        if t.rank != first.rank:
            raise ShapeError(f"Concat: input {i} {t} has rank {t.rank}, input 0 {first} has rank {first.rank}",
                             "E302", i)
        if t.dtype != first.dtype:
            raise ShapeError(f"Concat: input {i} is {t.dtype} {t}, input 0 is {first.dtype} {first}", "E301", i)
    axis = axis_of(a["axis"], first, "Concat")
    out = list(first.shape)
    for i, t in enumerate(inputs[1:], 1):
        for k, (d0, d) in enumerate(zip(first.shape, t.shape)):
            if k == axis:
                continue
            if not same_dims(d0, d, f"Concat: dim {k} of {first} and {t}"):
                raise ShapeError(
                    f"Concat(axis={a['axis']}): input 0 {first} and input {i} {t} differ at dim {k} "
                    f"({format_dim(d0)} vs {format_dim(d)}); all dims but {axis} must match", "E301", i)
            if out[k] is None:  # an unknown dim learns its size from another input
                out[k] = d
    sizes = [t.shape[axis] for t in inputs]
    out[axis] = symdim.total(sizes)
    return [first.with_shape(out)]


MAX_PIECES = 4096


def _split_outputs(a) -> int:
    s = a["sections"]
    return s if isinstance(s, int) else len(s)


def _split(a, inputs):
    (x,) = inputs
    axis = axis_of(a["axis"], x, "Split")
    d = x.shape[axis]
    s = a["sections"]
    pieces = s if isinstance(s, int) else len(s)
    if pieces > MAX_PIECES:  # one output tensor per piece: keep a typo like 3000000 cheap
        raise ShapeError(f"Split: {pieces:,} pieces; at most {MAX_PIECES:,} are supported", "E304", 0)
    if isinstance(s, int):
        if isinstance(d, int) and d % s:
            raise ShapeError(f"Split: {s} sections do not divide dim {axis} of {x} (size {d}); "
                             f"give the sizes as a tuple instead", "E304", 0)
        size = symdim.floordiv(d, s)
        if type(d) is not int and d is not None and not same_dims(
                symdim.mul(size, s), d, f"Split: {s} equal pieces of dim {axis} of {x}: {format_dim(d)} and "
                                        f"{s} * ({format_dim(size)})"):
            raise ShapeError(f"Split: {s} sections do not divide dim {axis} of {x}", "E304", 0)
        sizes = [size] * s
    else:
        if isinstance(d, int) and sum(s) != d:
            raise ShapeError(f"Split: sizes {s} sum to {sum(s)}, dim {axis} of {x} has size {d}", "E301", 0)
        if type(d) is not int and d is not None and not same_dims(
                sum(s), d, f"Split: sizes {s} (sum {sum(s)}) of dim {axis} of {x}: {sum(s)} and {format_dim(d)}"):
            raise ShapeError(f"Split: sizes {s} sum to {sum(s)}, dim {axis} of {x} has size {format_dim(d)}",
                             "E301", 0)
        sizes = list(s)
    return [x.with_shape((*x.shape[:axis], size, *x.shape[axis + 1:])) for size in sizes]


def _gather_elements(a, inputs):
    x, index = inputs
    if index.dtype not in ("i32", "i64"):
        raise ShapeError(f"GatherElements: the indices must be i64 or i32, got {index.dtype} {index}", "E301", 1)
    if index.rank != x.rank:
        raise ShapeError(f"GatherElements: the indices {index} must have the rank of {x} ({x.rank})", "E302", 1)
    axis = axis_of(a["axis"], x, "GatherElements")
    for k, (d, i) in enumerate(zip(x.shape, index.shape)):
        if k != axis and isinstance(d, int) and isinstance(i, int) and i > d:
            raise ShapeError(f"GatherElements: dim {k} of the indices {index} is larger than that of {x}", "E301", 1)
    return [TensorType(index.shape, x.dtype, x.layout)]


# ---- Slice, Select, Pad --------------------------------------------------------------------------

def _slice(a, inputs):
    (x,) = inputs
    axis = axis_of(a["axis"], x, "Slice")
    d = x.shape[axis]
    start, end, step = a["start"], a["end"], a["step"]
    if isinstance(d, int):
        size = len(range(d)[start:end:step])  # Python's own slice rules, negatives included
        if size == 0:
            raise ShapeError(f"Slice: [{start}:{'' if end is None else end}:{step}] of dim {axis} of {x} is empty",
                             "E304", 0)
    elif d is not None and (end is None or end < 0):
        # A symbolic dim is taken to be long enough for the slice to be non-empty.
        lo = start if start >= 0 else symdim.add(d, start)
        hi = d if end is None else symdim.add(d, end)
        size = symdim.ceildiv(symdim.sub(hi, lo), step)
    else:
        size = None  # x[a:b] with b >= 0: min(b, size) - a
    return [x.with_shape((*x.shape[:axis], size, *x.shape[axis + 1:]))]


def _select(a, inputs):
    (x,) = inputs
    axis = axis_of(a["axis"], x, "Select")
    d = x.shape[axis]
    if isinstance(d, int) and not -d <= a["index"] < d:
        raise ShapeError(f"Select: index {a['index']} is out of range for dim {axis} of {x} (size {d})", "E304", 0)
    return [x.with_shape(x.shape[:axis] + x.shape[axis + 1:])]


class _Pads(IntTuple):
    """(before, after) pairs, last dim first, as torch.nn.functional.pad."""

    def check(self, value):
        pads = super().check(value)
        if len(pads) % 2:
            raise ParamRangeError(f"needs a (before, after) pair per padded dim, got {len(pads)} values")
        return pads


def _pad(a, inputs):
    (x,) = inputs
    pads, mode = a["pads"], a["mode"]
    k = len(pads) // 2
    if k > x.rank:
        raise ShapeError(f"Pad: pads {pads} cover {k} dims, the input {x} has rank {x.rank}", "E302", 0)
    if mode != "constant":
        if k > 3 or x.rank not in (k + 1, k + 2):
            raise ShapeError(f'Pad(mode="{mode}") pads the last 1 to 3 dims of an input with 1 or 2 more dims '
                             f"(batch, channels); got {k} padded dims of {x}", "E302", 0)
        if min(pads) < 0:
            raise ShapeError(f'Pad(mode="{mode}"): negative pads {pads} are only allowed with mode="constant"',
                             "E304", 0)
        if a["value"] != 0.0:
            raise ShapeError(f'Pad: value applies to mode="constant" only, not "{mode}"', "E304", 0)
    out = list(x.shape)
    for j in range(k):
        axis = x.rank - 1 - j  # torch order: the last dim first
        before, after = pads[2 * j], pads[2 * j + 1]
        d = x.shape[axis]
        if mode in ("reflect", "circular") and max(before, after) > 0:
            d = require_known(d, f'Pad(mode="{mode}"): dim {axis} of {x}')
            limit = d - 1 if mode == "reflect" else d
            if max(before, after) > limit:
                raise ShapeError(f'Pad(mode="{mode}"): pads {before}, {after} of dim {axis} must be at most '
                                 f"{limit} for size {d} in {x}", "E304", 0)
        if isinstance(d, int):
            out[axis] = d + before + after
            if out[axis] <= 0:
                raise ShapeError(f"Pad: pads {before}, {after} leave dim {axis} of {x} with size {out[axis]}",
                                 "E304", 0)
        elif before + after != 0:
            out[axis] = symdim.add(d, before + after)
    return [x.with_shape(out)]


def _roll(a, inputs):
    (x,) = inputs
    shifts, dims = a["shifts"], a["dims"]
    if len(shifts) != len(dims):
        raise ShapeError(f"Roll: {len(shifts)} shifts {shifts} for {len(dims)} dims {dims}; give one shift per dim",
                         "E304", 0)
    _axes_of(dims, x, "Roll", "dims")
    return [x]


# ---- Identity, Mean, Sum -------------------------------------------------------------------------

def _identity(a, inputs):
    return [inputs[0]]


def _make_reduce(name: str, verb: str) -> LayerSpec:
    def infer(a, inputs):
        (x,) = inputs
        if name == "Mean" and x.dtype in INTEGER_DTYPES:
            raise ShapeError(f"Mean needs a floating-point input, got {x.dtype} {x}", "E301", 0)
        axes = _axes_of(a["axis"], x, name)
        if a["keepdims"]:
            return [x.with_shape(tuple(1 if i in axes else d for i, d in enumerate(x.shape)))]
        return [x.with_shape(tuple(d for i, d in enumerate(x.shape) if i not in axes))]

    return _simple(
        name, f"{verb} over one or more axes; the reduced dims are removed (kept as 1 with keepdims=true).",
        [Param("axis", _Axes(), doc="axis or axes to reduce (negatives count from the end)"),
         Param("keepdims", BOOL, False, "keep the reduced dims as size 1")],
        infer, f"{name}(axis=1)")


LAYERS = [
    _simple("Flatten", "Merge dims start_dim..end_dim into one: [N, C, H, W] -> [N, C*H*W] by default.",
            [Param("start_dim", INT, 1, "first dim to merge"), Param("end_dim", INT, -1, "last dim to merge")],
            _flatten, "Flatten", positional=1),
    _simple("Reshape", "Reshape every example: [N, ...] -> [N, *shape], as x.reshape(N, *shape). The batch dim is "
                       "kept and not written; one entry of shape may be -1 (inferred). With batch=true the shape is "
                       "the whole shape, batch included, as x.reshape(*shape): the batch may change, as when "
                       "windows fold into it (Reshape((-1, 7, 7, 96), batch=true) gives [N * 64, 7, 7, 96] from "
                       "[N, 56, 56, 96], and Reshape((-1, 8, 8, 7, 7, 96), batch=true) gives N back).",
            [Param("shape", _ReshapeDims(), doc="new dims after the batch dim (one may be -1); with batch=true, "
                                                "all the dims"),
             Param("batch", BOOL, False, "shape includes the batch dim (x.reshape(*shape)); the batch may change")],
            _reshape, "Reshape((16, 7, 7))"),
    _simple("Permute", "Reorder all dims, the batch included: output dim i is input dim dims[i].",
            [Param("dims", IntTuple(), doc="a permutation of all the input's dims")],
            _permute, "Permute((0, 2, 3, 1))"),
    _simple("Transpose", "Swap two dims (the batch is dim 0).",
            [Param("dim0", INT, doc="first dim to swap"), Param("dim1", INT, doc="second dim to swap")],
            _transpose, "Transpose(1, 2)"),
    _simple("Squeeze", "Remove dims of size 1: [N, C, 1] -> [N, C] with dim=2.",
            [Param("dim", _Axes(), doc="dim or dims to remove; each must have size 1")],
            _squeeze, "Squeeze(2)"),
    _simple("Unsqueeze", "Insert a dim of size 1 at position dim: [N, C] -> [N, C, 1] with dim=2.",
            [Param("dim", INT, doc="position of the new dim in the output (-1: last)")],
            _unsqueeze, "Unsqueeze(2)"),
    _simple("Concat", "Concatenate 2 or more tensors along an axis; all other dims and the dtype must match.",
            [Param("axis", INT, 1, "axis to concatenate along (1: channels)", aliases=("dim",))],
            _concat, "Concat(axis=1)", inputs=(2, None), aliases=("Cat",), positional=1),
    _simple("Split", "Split a tensor along an axis into `sections` equal pieces, or into pieces of the given sizes; "
                     "one output per piece.",
            [Param("sections", OneOf((INT, IntTuple())), doc="number of equal pieces, or the size of each piece",
                   min=1),
             Param("axis", INT, 1, "axis to split", aliases=("dim",))],
            _split, "Split(2, axis=1)", outputs=_split_outputs),
    _simple("Slice", "Take x[start:end:step] along one axis, with Python's rules (negatives count from the end).",
            [Param("axis", INT, doc="axis to slice", aliases=("dim",)),
             Param("start", INT, 0, "first index"),
             Param("end", Optional_(INT), None, "index to stop before (none: the end)"),
             Param("step", INT, 1, "stride between taken indices", min=1)],
            _slice, "Slice(axis=2, start=1, end=-1)"),
    _simple("Select", "Take index `index` along an axis and remove the axis, like x[:, i] for axis=1.",
            [Param("axis", INT, doc="axis to select from", aliases=("dim",)),
             Param("index", INT, doc="position along the axis (negatives count from the end)")],
            _select, "Select(1, 0)"),
    _simple("GatherElements", "Pick elements of x along an axis by a tensor of indices of x's rank, as ONNX "
                              "GatherElements and torch.gather: y[i][j] = x[i][index[i][j]] for axis=1. The result "
                              "has the indices' shape and x's dtype; negative indices count from the end.",
            [Param("axis", INT, 0, "axis the indices pick along", aliases=("dim",))],
            _gather_elements, "GatherElements(axis=1)", inputs=(2, 2), input_names=("x", "index"), positional=1),
    _simple("Pad", "Pad the last dims, in torch.nn.functional.pad order: (left, right) of the last dim first, "
                   "then (top, bottom) of the one before, ...",
            [Param("pads", _Pads(), doc="(before, after) per padded dim, last dim first"),
             Param("mode", Choice(("constant", "reflect", "replicate", "circular")), "constant", "how to fill"),
             Param("value", FLOAT, 0.0, 'fill value for mode="constant"')],
            _pad, "Pad((1, 1, 2, 2))"),
    _simple("Roll", "Shift elements cyclically along dims, as torch.roll(x, shifts, dims): along each dim, the "
                    "element at i moves to (i + shift) mod size, so the last `shift` entries come first. Any dims, "
                    "the batch included; Swin's shifted windows roll H and W by minus half a window.",
            [Param("shifts", _Axes(), doc="shift per dim (negative: towards the start)"),
             Param("dims", _Axes(), doc="dim or dims to roll, one per shift")],
            _roll, "Roll((-3, -3), (1, 2))"),
    _simple("Identity", "Pass the input through unchanged.", [], _identity, "Identity"),
    _make_reduce("Mean", "Average"),
    _make_reduce("Sum", "Sum"),
]
