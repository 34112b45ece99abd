"""torch.roll as exporters write it: Concat(Slice(x, k:), Slice(x, :k)) along one axis, one such pair per rolled
axis (torch.onnx's TorchScript exporter; nnlang's own ONNX target for a known size). The chain of pairs reads
back as one Roll. A late fusion: tried after every other, so the rolls inside a ShiftedWindowAttention stay
that layer's."""

from __future__ import annotations

from typing import Optional

from .fusions import Fused, View, onnx_fusion
from .importers import Layer

INT64_MAX = 2 ** 63 - 1


def _span(view: View, s, size: int) -> Optional[tuple]:
    """(start, end, axis) of a one-axis, step-1 Slice on a dim of known size, both normalised to 0..size."""
    consts = [view.const(s.input[i]) if len(s.input) > i and s.input[i] else None for i in range(5)]
    starts, ends, axes, steps = consts[1], consts[2], consts[3], consts[4]
    if starts is None or ends is None or axes is None or starts.size != 1 or ends.size != 1 or axes.size != 1:
        return None
    if steps is not None and int(steps.reshape(-1)[0]) != 1:
        return None
    start, end = (int(v.reshape(-1)[0]) for v in (starts, ends))
    start, end = (min(max(v + size if v < 0 else v, 0), size) for v in (start, end))
    return start, end, int(axes.reshape(-1)[0])


def _one(view: View, concat) -> Optional[tuple]:
    """(source, shift, axis, nodes) of Concat(x[k:], x[:k]) along its axis, or None."""
    if concat is None or concat.op_type != "Concat" or len(concat.input) != 2:
        return None
    first, second = (view.producer(v, "Slice") for v in concat.input)
    if first is None or second is None or first.input[0] != second.input[0]:
        return None
    shape = view.shapes.get(first.input[0])
    if not shape:
        return None
    axis = int(view.attr(concat, "axis")) % len(shape)
    size = shape[axis]
    if not isinstance(size, int):
        return _symbolic(view, concat, first, second, axis, len(shape))
    a, b = _span(view, first, size), _span(view, second, size)
    if a is None or b is None or a[2] % len(shape) != axis or b[2] % len(shape) != axis:
        return None
    k = a[0]
    if not 0 < k < size or a[1] != size or b[:2] != (0, k):
        return None
    if any([id(u) for u in view.consumers.get(s.output[0], [])] != [id(concat)] for s in (first, second)):
        return None
    shift = -k if k <= size // 2 else size - k  # torch.roll(x, -2) or (x, 2), as a person writes it
    return first.input[0], shift, axis, [first, second, concat]


def _symbolic(view: View, concat, first, second, axis: int, rank: int) -> Optional[tuple]:
    """The form nnlang's ONNX target writes for a size known at run time only (the batch): both Slices cut at
    Mod([-shift], Shape(x)[axis])."""
    cut = first.input[1] if len(first.input) > 3 else None
    mod = view.producer(cut, "Mod") if cut else None
    if mod is None or second.input[2] != cut or view.const(mod.input[0]) is None:
        return None
    shift = view.const(mod.input[0]).reshape(-1)
    size_of = view.producer(mod.input[1])
    nodes = [first, second, concat, mod]
    if size_of is not None and size_of.op_type == "Slice":  # below opset 15: a Slice of the whole Shape
        nodes.append(size_of)
        size_of = view.producer(size_of.input[0])
    if shift.size != 1 or size_of is None or size_of.op_type != "Shape" or size_of.input[0] != first.input[0]:
        return None
    for s in (first, second):
        axes = view.const(s.input[3])
        if axes is None or axes.size != 1 or int(axes.reshape(-1)[0]) % rank != axis or len(s.input) > 4 and \
                s.input[4]:
            return None
    end, start = view.const(first.input[2]), view.const(second.input[1])  # x[cut:] and x[:cut]
    if end is None or start is None or int(end.reshape(-1)[0]) < INT64_MAX or int(start.reshape(-1)[0]) != 0:
        return None
    return first.input[0], -int(shift[0]), axis, nodes + [size_of]


@onnx_fusion("Concat", late=True)
def roll(view: View, concat):
    found = _one(view, concat)
    if found is None:
        return None
    source, shift, axis, nodes = found
    shifts, dims, out = [shift], [axis], concat.output[0]
    while True:  # the next axis's pair reading this one's result alone
        users = view.consumers.get(out, [])
        if len(users) != 2 or out in view.graph_outputs or any(u.op_type != "Slice" for u in users):
            break
        nxt = view.only_consumer(users[0].output[0], "Concat")
        more = _one(view, nxt)
        if more is None or more[0] != out or more[2] in dims or {id(n) for n in more[3][:2]} != set(map(id, users)):
            break
        shifts.append(more[1])
        dims.append(more[2])
        nodes += more[3]
        out = nxt.output[0]
    return Fused(Layer("Roll", {"shifts": tuple(shifts), "dims": tuple(dims)}, inputs=[source], outputs=[out]),
                 nodes)
