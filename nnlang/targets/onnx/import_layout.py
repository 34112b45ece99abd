"""ONNX ops that move or repeat elements, as the registry's layout layers.

Gather (rows of a constant table: Embedding; constant indices of data: Select, or Slices joined by Concat),
DepthToSpace / SpaceToDepth (both modes) are ONNX's own definition, a Reshape to 6-D, a Permute and a Reshape
back (DepthToSpace CRD is torch's PixelShuffle). Tile and Expand by constant repeats / shapes are copies
joined by Concat along each repeated axis (and Unsqueeze for Expand's new leading axes): exact, with no
constant tensor to hold. Sizes must be known.
"""

from __future__ import annotations

import numpy as np

from .importers import Alias, Layer, Op, Unsupported, onnx_op


def _known(op: Op, what: str) -> tuple:
    shape = op.shape(op.input(0))
    if shape is None or any(not isinstance(d, int) for d in shape[1:]):
        raise Unsupported(f"{op.node.op_type} of an input whose {what} are not known")
    return tuple(shape)


def _chain(op: Op, steps: list) -> list:
    """Layers (op, params) one after another from the node's input to its output."""
    out = op.node.output[0]
    names = [f"{out}#{k}" for k in range(len(steps) - 1)] + [out]
    return [Layer(kind, params, inputs=[src], outputs=[name])
            for (kind, params), src, name in zip(steps, [op.input(0)] + names[:-1], names)]


@onnx_op("DepthToSpace", "SpaceToDepth")
def depth_space(op: Op):
    if op.rank(0) != 4:
        raise Unsupported(f"{op.node.op_type} of a rank-{op.rank(0)} input (ONNX: [N, C, H, W])")
    _, c, h, w = _known(op, "channels and spatial sizes")
    b = int(op.attrs.get("blocksize", 0))
    mode = op.attrs.get("mode", "DCR")
    if b < 1 or mode not in ("DCR", "CRD"):
        raise Unsupported(f"{op.node.op_type} with blocksize {b}, mode {mode}")
    if op.node.op_type == "DepthToSpace":
        if c % (b * b):
            raise Unsupported(f"DepthToSpace of {c} channels by blocksize {b}")
        d = c // (b * b)
        split, perm = ((b, b, d, h, w), (0, 3, 4, 1, 5, 2)) if mode == "DCR" else ((d, b, b, h, w), (0, 1, 4, 2, 5, 3))
        packed = (d, h * b, w * b)
    else:
        if h % b or w % b:
            raise Unsupported(f"SpaceToDepth of {h} x {w} by blocksize {b}")
        split = (c, h // b, b, w // b, b)
        perm = (0, 3, 5, 1, 2, 4) if mode == "DCR" else (0, 1, 3, 5, 2, 4)
        packed = (c * b * b, h // b, w // b)
    return _chain(op, [("Reshape", {"shape": split}), ("Permute", {"dims": perm}), ("Reshape", {"shape": packed})])


def _copies(op: Op, src: str, repeats: list, out: str) -> list:
    """src repeated repeats[a] times along each axis a (Concat of copies), the last layer named out."""
    axes = [a for a, r in enumerate(repeats) if r > 1]
    if not axes:
        raise Unsupported(f"{op.node.op_type} that repeats nothing (the input itself)")
    if sum(repeats[a] for a in axes) > 256:
        raise Unsupported(f"{op.node.op_type} by {tuple(repeats)}: too many copies to write as Concat")
    layers = []
    for k, a in enumerate(axes):
        name = out if k == len(axes) - 1 else f"{out}#tile{a}"
        layers.append(Layer("Concat", {"axis": a}, inputs=[src] * repeats[a], outputs=[name]))
        src = name
    return layers


@onnx_op("Tile", since=6)
def tile(op: Op):
    repeats = [int(r) for r in np.asarray(op.const_input(1, "repeats")).reshape(-1)]
    if any(r < 1 for r in repeats):
        raise Unsupported(f"Tile by {tuple(repeats)} (a repeat of 0 makes an empty tensor)")
    return _copies(op, op.input(0), repeats, op.node.output[0])


@onnx_op("Expand", since=8)
def expand(op: Op):
    # The shape operand may be computed at run time (F.normalize's `expand_as(x)`: Shape of x, its batch dim
    # symbolic): its dims as far as Shape arithmetic tells them (op.dims) or else the inferred output's. A dim of
    # the input other than 1 is kept (broadcasting: the target's is 1 or the same; a symbolic dim is taken not to
    # be 1, as the exporters assume); a dim of 1 is copied to a size known when importing, or refused.
    shape, out = op.shape(op.input(0)), op.shape(op.node.output[0])
    target = op.const(op.input(1))
    target = [int(t) for t in np.asarray(target).reshape(-1)] if target is not None else op.dims(op.input(1))
    target = target if target is not None else out
    if shape is None or target is None:
        raise Unsupported("Expand whose input and output sizes are not known")
    rank = max(len(shape), len(target))
    full = (1,) * (rank - len(shape)) + tuple(shape)
    target = (1,) * (rank - len(target)) + tuple(target)
    known = tuple(out) if out is not None and len(out) == rank else target
    repeats = []
    for d, t, o in zip(full, target, known):
        size = t if isinstance(t, int) else o if isinstance(o, int) else None
        if d == 1 and size is None:
            raise Unsupported(f"Expand of {tuple(shape)} to {tuple(target)}: a copy count not known when importing")
        if d != 1 and size not in (None, 1, d):
            raise Unsupported(f"Expand of {tuple(shape)} to {tuple(target)}: dims that do not broadcast")
        repeats.append(size if d == 1 else 1)
    layers, src = [], op.input(0)
    for k in range(rank - len(shape)):  # new leading axes: size 1 first, then copied
        name = f"{op.node.output[0]}#lead{k}"
        layers.append(Layer("Unsqueeze", {"dim": 0}, inputs=[src], outputs=[name]))
        src = name
    if not any(r > 1 for r in repeats):
        if not layers:
            return Alias(op.input(0))  # to the input's own shape: the input itself
        layers[-1].outputs = [op.node.output[0]]
        return layers
    return layers + _copies(op, src, repeats, op.node.output[0])


@onnx_op("Gather")
def gather(op: Op):
    """Rows of a constant table at data indices: Embedding; one constant index of data: Select."""
    axis = int(op.attrs.get("axis", 0))
    table, index = op.const(op.input(0)), op.const(op.input(1))
    if table is not None and index is None:
        if axis != 0 or table.ndim != 2:
            raise Unsupported("Gather from a constant that is not a [rows, features] table on axis 0")
        return Layer("Embedding", {"num_embeddings": int(table.shape[0]), "embedding_dim": int(table.shape[1])},
                     inputs=[op.input(1)], weights={"weight": table})
    if table is None and index is not None and index.ndim == 0:
        return Layer("Select", {"axis": axis % op.rank(0), "index": int(index)})
    if table is None and index is not None:
        return gather_slices(op, axis % op.rank(0), index)
    raise Unsupported("Gather of a constant by a constant (fold it first)" if table is not None else
                      "Gather of data at indices computed at run time (a table lookup or constant indices only)")


def gather_slices(op: Op, axis: int, index) -> list:
    """data[..., index, ...] for a constant index array: one Slice per index joined by Concat along the axis, and a
    Reshape giving a 2-D index its two dims."""
    shape, out = op.shape(op.input(0)), op.node.output[0]
    size = shape[axis] if shape is not None else None
    if not isinstance(size, int) or index.ndim > 2 or not 0 < index.size <= 64:
        raise Unsupported(f"Gather of {index.size} constant indices (shape {tuple(index.shape)}) along a dim of "
                          f"size {size}")
    flat = [int(i) % size for i in np.asarray(index).reshape(-1)]
    whole = out if index.ndim == 1 else f"{out}#rows"
    parts = [f"{out}#{k}" for k in range(len(flat))]
    layers = [Layer("Slice", {"axis": axis, "start": i, "end": i + 1}, inputs=[op.input(0)], outputs=[name])
              for i, name in zip(flat, parts)]
    layers.append(Layer("Concat", {"axis": axis}, inputs=parts, outputs=[whole]) if len(parts) > 1 else
                  Layer("Identity", inputs=parts, outputs=[whole]))
    if index.ndim == 2:
        target = op.shape(out)
        if axis == 0 or target is None or any(not isinstance(d, int) for d in target[1:]):
            raise Unsupported("Gather by a 2-D constant index along the batch dim or to an unknown shape")
        layers.append(Layer("Reshape", {"shape": tuple(target[1:])}, inputs=[whole], outputs=[out]))
    return layers
