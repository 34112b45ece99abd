"""Shape layers: reshaping, reordering, joining, splitting, indexing, padding and the reductions."""

from __future__ import annotations

import math

from torch import fx

from .registry import Call, Layer, Unsupported, call_importer, module_importer, t_

# ---- flatten, reshape, reorder -------------------------------------------------------------------


@module_importer("Flatten")
def flatten_module(m, ins):
    return Layer("Flatten", {"start_dim": m.start_dim, "end_dim": m.end_dim})


@call_importer("function:torch.flatten", "method:flatten")
def flatten(call: Call):
    return Layer("Flatten", {"start_dim": call.arg(1, "start_dim", 0), "end_dim": call.arg(2, "end_dim", -1)},
                 [call.args[0]])


@call_importer("method:view", "method:reshape", "function:torch.reshape")
def reshape(call: Call):
    """By shapes: [N, ...] -> [N, prod] is Flatten; anything else keeping the batch dim is Reshape. One that
    changes the batch dim (windows folded into it and back) is Reshape((-1, *rest), batch=true): the new batch is
    what the rest leaves, so it follows the example's batch size."""
    x = call.args[0]
    src, dst = call.shape(x), call.out_shape
    if src is None or dst is None or not src or not dst:
        raise Unsupported("a reshape of a tensor of unknown shape")
    if src[0] != dst[0]:
        if not all(isinstance(d, int) for d in dst[1:]):
            raise Unsupported("a reshape that changes the batch dim to symbolic dims")
        return Layer("Reshape", {"shape": (-1, *dst[1:]), "batch": True}, [x])
    if len(dst) == 2 and len(src) >= 2:
        return Layer("Flatten", {"start_dim": 1, "end_dim": -1}, [x])
    return Layer("Reshape", {"shape": tuple(dst[1:])}, [x])


@module_importer("Unflatten")
def unflatten(m, ins):
    shape = ins[0]
    dim = m.dim % len(shape)
    if dim == 0:
        raise Unsupported("Unflatten of the batch dim")
    return Layer("Reshape", {"shape": (*shape[1:dim], *t_(m.unflattened_size), *shape[dim + 1:])})


@call_importer("method:roll", "function:torch.roll")
def roll(call: Call):
    shifts, dims = call.arg(1, "shifts"), call.arg(2, "dims")
    if dims is None:
        raise Unsupported("torch.roll without dims (it rolls the flattened tensor)")
    shifts, dims = (v if isinstance(v, tuple) else (v,) for v in (t_(shifts), t_(dims)))
    if any(isinstance(v, fx.Node) for v in (*shifts, *dims)):
        raise Unsupported("torch.roll by a computed shift")
    return Layer("Roll", {"shifts": shifts, "dims": dims}, [call.args[0]])


@call_importer("method:permute", "function:torch.permute")
def permute(call: Call):
    dims = call.args[1:] if len(call.args) > 2 else call.arg(1, "dims")
    return Layer("Permute", {"dims": t_(dims) if not isinstance(dims, int) else (dims,)}, [call.args[0]])


@call_importer("method:transpose", "function:torch.transpose", "method:swapaxes", "function:torch.swapaxes",
               "method:swapdims", "function:torch.swapdims")
def transpose(call: Call):
    return Layer("Transpose", {"dim0": call.args[1] if len(call.args) > 1 else call.kwargs.get("dim0"),
                               "dim1": call.args[2] if len(call.args) > 2 else call.kwargs.get("dim1")},
                 [call.args[0]])


@call_importer("method:t", "function:torch.t")
def t(call: Call):
    if len(call.shape(call.args[0])) != 2:
        raise Unsupported(".t() of a tensor that is not 2-D (it returns it unchanged)")
    return Layer("Transpose", {"dim0": 0, "dim1": 1}, [call.args[0]])


@call_importer("method:unsqueeze", "function:torch.unsqueeze")
def unsqueeze(call: Call):
    return Layer("Unsqueeze", {"dim": call.arg(1, "dim")}, [call.args[0]])


@call_importer("method:squeeze", "function:torch.squeeze")
def squeeze(call: Call):
    dim = call.arg(1, "dim")
    if dim is None:
        raise Unsupported("squeeze without a dim (which dims go depends on the data)")
    return Layer("Squeeze", {"dim": t_(dim)}, [call.args[0]])


@call_importer("method:contiguous", "method:clone")
def identity(call: Call):
    """No layer: the value passes through."""
    return Layer("Identity", {}, [call.args[0]])


# ---- joining and splitting -----------------------------------------------------------------------

@call_importer("function:torch.cat", "function:torch.concat", "function:torch.concatenate")
def cat(call: Call):
    tensors = call.arg(0, "tensors")
    if not isinstance(tensors, (list, tuple)):
        raise Unsupported("torch.cat of something that is not a list of tensors")
    return Layer("Concat", {"axis": call.arg(1, "dim", 0)}, list(tensors))


def _split(x, sizes: list, dim: int) -> Layer:
    sections = len(sizes) if len(set(sizes)) == 1 else tuple(sizes)  # equal pieces: their number
    return Layer("Split", {"sections": sections, "axis": dim}, [x])


@call_importer("function:torch.chunk", "method:chunk")
def chunk(call: Call):
    """torch.chunk's pieces: ceil(size / chunks) each, the last one smaller, maybe fewer pieces."""
    x, n, dim = call.args[0], call.arg(1, "chunks"), call.arg(2, "dim", 0)
    shape = call.shape(x)
    size = shape[dim]
    step = math.ceil(size / n)
    return _split(x, [min(step, size - i) for i in range(0, size, step)], dim)


@call_importer("function:torch.split", "method:split")
def split(call: Call):
    x, how, dim = call.args[0], call.arg(1, "split_size_or_sections"), call.arg(2, "dim", 0)
    if call.kwargs.get("split_size") is not None:  # Tensor.split's own keyword
        how = call.kwargs["split_size"]
    shape = call.shape(x)
    size = shape[dim]
    if isinstance(how, int):
        sizes = [min(how, size - i) for i in range(0, size, how)]
    else:
        sizes = list(t_(how))
    return _split(x, sizes, dim)


# ---- indexing ------------------------------------------------------------------------------------

@call_importer("method:select", "function:torch.select")
def select(call: Call):
    return Layer("Select", {"axis": call.arg(1, "dim"), "index": call.arg(2, "index")}, [call.args[0]])


@call_importer("method:narrow", "function:torch.narrow")
def narrow(call: Call):
    start, length = call.arg(2, "start"), call.arg(3, "length")
    if isinstance(start, fx.Node) or isinstance(length, fx.Node):
        raise Unsupported("narrow with a computed start or length")
    end = start + length
    return Layer("Slice", {"axis": call.arg(1, "dim"), "start": start, "end": None if end == 0 else end},
                 [call.args[0]])


def index_steps(index, rank: int) -> list:
    """x[index] as single-axis steps [(op, params)], applied one after the other: ints select, slices
    slice, None inserts a dim. Axes after an Ellipsis count from the end, as the source does."""
    items = index if isinstance(index, tuple) else (index,)
    for item in items:
        if not (item is None or item is Ellipsis or isinstance(item, slice)
                or isinstance(item, int) and not isinstance(item, bool)):
            raise Unsupported("indexing with a tensor, a list or a computed value")
        if isinstance(item, slice) and any(isinstance(v, fx.Node) for v in (item.start, item.stop, item.step)):
            raise Unsupported("slicing with computed bounds")
    if sum(item is Ellipsis for item in items) > 1:
        raise Unsupported("an index with two Ellipses")
    steps, axis, current, from_end = [], 0, rank, False
    for k, item in enumerate(items):
        if item is Ellipsis:
            later = sum(1 for i in items[k + 1:] if i is not None and i is not Ellipsis)
            axis, from_end = current - later, True
            continue
        at = axis - current if from_end else axis  # (negative: counted from the end)
        if item is None:
            steps.append(("Unsqueeze", {"dim": at - 1 if from_end else at}))
            axis, current = axis + 1, current + 1
        elif isinstance(item, int):
            steps.append(("Select", {"axis": at, "index": item}))
            current -= 1
        else:
            if (item.start or 0, item.stop, item.step or 1) != (0, None, 1):
                steps.append(("Slice", {"axis": at, "start": item.start or 0, "end": item.stop,
                                        "step": item.step or 1}))
            axis += 1
    return steps


@call_importer("function:_operator.getitem")
def getitem(call: Call):
    """A tensor indexed along one axis (the rewrites split an index over several axes into a chain)."""
    x = call.args[0]
    steps = index_steps(call.args[1], len(call.shape(x)))
    if not steps:
        return Layer("Identity", {}, [x])
    if len(steps) > 1:
        raise Unsupported("an index over several axes")
    op, params = steps[0]
    return Layer(op, params, [x])


# ---- padding -------------------------------------------------------------------------------------

def _pad(pads, mode: str, value) -> Layer:
    value = 0.0 if value is None else float(value)
    if mode != "constant":
        value = 0.0  # torch ignores it
    elif not math.isfinite(value):
        raise Unsupported(f"a pad value of {value} (.nns has no literal for it; F.pad with -inf before a "
                          'max pool imports as padding="same" when its pads are those)')
    return Layer("Pad", {"pads": t_(pads), "mode": mode, "value": value})


@call_importer("function:torch.nn.functional.pad")
def pad(call: Call):
    layer = _pad(call.arg(1, "pad"), call.arg(2, "mode", "constant") or "constant", call.arg(3, "value"))
    layer.inputs = [call.args[0]]
    return layer


_PAD_MODES = {"Zero": "constant", "Constant": "constant", "Reflection": "reflect", "Replication": "replicate",
              "Circular": "circular"}


@module_importer(*(f"{kind}Pad{n}d" for kind in _PAD_MODES for n in (1, 2, 3)))
def pad_module(m, ins):
    mode = _PAD_MODES[type(m).__name__.split("Pad")[0]]
    return _pad(m.padding, mode, getattr(m, "value", 0.0))


# ---- reductions ----------------------------------------------------------------------------------

@call_importer("method:mean", "function:torch.mean")
def mean(call: Call):
    return _reduce(call, "Mean")


@call_importer("method:sum", "function:torch.sum")
def sum_(call: Call):
    return _reduce(call, "Sum")


def _reduce(call: Call, op: str) -> Layer:
    dim = call.arg(1, "dim")
    if dim is None:
        raise Unsupported(f"{op.lower()} over all dims")
    if not _own_dtype(call.args[0], call.kwargs.get("dtype")):
        raise Unsupported(f"{op.lower()} with a dtype other than its input's")
    return Layer(op, {"axis": t_(dim), "keepdims": bool(call.arg(2, "keepdim", False))}, [call.args[0]])


def _own_dtype(x, dtype) -> bool:
    """No dtype, or the input's own (the PyTorch target writes x.sum(..., dtype=x.dtype) for integers)."""
    if dtype is None:
        return True
    if isinstance(dtype, fx.Node):
        return dtype.op == "call_function" and dtype.args == (x, "dtype") and getattr(dtype.target, "__name__", "") \
            == "getattr"
    meta = x.meta.get("tensor_meta") if isinstance(x, fx.Node) else None
    return getattr(meta, "dtype", None) == dtype
