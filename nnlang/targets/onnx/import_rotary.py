"""ONNX RotaryEmbedding (opset 23) as layers, ONNX's reference computation step by step.

The first rotary_embedding_dim r of each head's features are rotated pairwise -- halves (x1, x2) or
interleaved (even, odd) -- by cos / sin of the position: real = cos x1 - sin x2, imag = sin x1 + cos x2,
written back (Concat; interleaved: Unsqueeze, Concat, Flatten) before the features left as they are. Heads
are [N, H, S, D] (4-D), or [N, S, H * D] viewed as [N, S, H, D] by num_heads. cos / sin are the caches indexed by
position_ids: when both are constants that is a constant [N, S, r / 2] tensor the Mul layers hold; caches given
per position ([N, S, r / 2] inputs, no position_ids) are tensors multiplied in.
"""

from __future__ import annotations

import numpy as np

from .importers import Layer, Op, Unsupported, onnx_op


@onnx_op("RotaryEmbedding", since=23)
def rotary_embedding(op: Op):
    x, out = op.input(0), op.node.output[0]
    shape = op.shape(x)
    if shape is None or len(shape) not in (3, 4) or any(not isinstance(d, int) for d in shape[1:]):
        raise Unsupported("RotaryEmbedding of an input whose rank or sizes are not known")
    if (op.dtype(x) or "f32") != "f32":
        raise Unsupported("RotaryEmbedding of other than float32 (the caches are float32 constants)")
    rank = len(shape)
    layers: list = []
    if rank == 3:
        heads = int(op.attrs.get("num_heads", 0))
        if not heads or shape[2] % heads:
            raise Unsupported(f"RotaryEmbedding of [N, S, {shape[2]}] without num_heads dividing it")
        d = shape[2] // heads
        layers.append(Layer("Reshape", {"shape": (shape[1], heads, d)}, inputs=[x], outputs=[f"{out}#heads"]))
        x = f"{out}#heads"  # [N, S, H, D]: cos / sin [N, S, 1, r/2]
    else:
        d = shape[3]  # [N, H, S, D]: cos / sin [N, 1, S, r/2]
    r = int(op.attrs.get("rotary_embedding_dim", 0)) or d
    if r % 2 or r > d:
        raise Unsupported(f"RotaryEmbedding with rotary_embedding_dim {r} of heads of {d}")
    half = r // 2
    cos, sin = (_factor(op, k, out, role, 2 if rank == 3 else 1, half, layers) for k, role in ((1, "cos"), (2, "sin")))
    if op.attrs.get("interleaved", 0):
        parts = [dict(start=0, end=r, step=2), dict(start=1, end=r, step=2)]
    else:
        parts = [dict(start=0, end=half), dict(start=half, end=r)]
    x1, x2 = f"{out}#x1", f"{out}#x2"
    layers += [Layer("Slice", {"axis": -1, **parts[0]}, inputs=[x], outputs=[x1]),
               Layer("Slice", {"axis": -1, **parts[1]}, inputs=[x], outputs=[x2])]
    layers += [cos(x1, f"{out}#cos_x1"), sin(x2, f"{out}#sin_x2"), sin(x1, f"{out}#sin_x1"), cos(x2, f"{out}#cos_x2"),
               Layer("Sub", {}, inputs=[f"{out}#cos_x1", f"{out}#sin_x2"], outputs=[f"{out}#real"]),
               Layer("Add", {}, inputs=[f"{out}#sin_x1", f"{out}#cos_x2"], outputs=[f"{out}#imag"])]
    if op.attrs.get("interleaved", 0):  # (real, imag) pairs back in place: [..., r/2, 2] -> [..., r]
        layers += [Layer("Unsqueeze", {"dim": -1}, inputs=[f"{out}#real"], outputs=[f"{out}#real1"]),
                   Layer("Unsqueeze", {"dim": -1}, inputs=[f"{out}#imag"], outputs=[f"{out}#imag1"]),
                   Layer("Concat", {"axis": -1}, inputs=[f"{out}#real1", f"{out}#imag1"], outputs=[f"{out}#pairs"]),
                   Layer("Flatten", {"start_dim": -2, "end_dim": -1}, inputs=[f"{out}#pairs"],
                         outputs=[f"{out}#rotated"])]
    else:
        layers.append(Layer("Concat", {"axis": -1}, inputs=[f"{out}#real", f"{out}#imag"],
                            outputs=[f"{out}#rotated"]))
    rotated = f"{out}#rotated"
    if r < d:
        layers += [Layer("Slice", {"axis": -1, "start": r, "end": None}, inputs=[x], outputs=[f"{out}#kept"]),
                   Layer("Concat", {"axis": -1}, inputs=[rotated, f"{out}#kept"], outputs=[f"{out}#all"])]
        rotated = f"{out}#all"
    if rank == 3:
        layers.append(Layer("Reshape", {"shape": (shape[1], shape[2])}, inputs=[rotated], outputs=[out]))
    else:
        layers[-1].outputs = [out]
    return layers


def _factor(op: Op, k: int, out: str, role: str, axis: int, half: int, layers: list):
    """A function (x, name) -> the Mul layer x * cos (or sin) broadcast over the heads; a tensor cache's
    Unsqueeze is appended to `layers`."""
    cache, positions = op.input(k), op.input(3)
    table = op.const(cache)
    if positions is not None:
        ids = op.const(positions)
        if table is None or ids is None:
            raise Unsupported("RotaryEmbedding with position_ids whose caches or positions are not constants (a "
                              "gather of a tensor by a tensor: no layer)")
        table = np.asarray(table)[np.asarray(ids)]
    if table is not None:
        table = np.expand_dims(np.asarray(table, np.float32), axis)
        if table.shape[-1] != half:
            raise Unsupported(f"RotaryEmbedding whose {role} cache has {table.shape[-1]} values, not {half}")
        return lambda x, name: Layer("Mul", {"shape": tuple(int(s) for s in table.shape)}, inputs=[x],
                                     outputs=[name], weights={"": table})
    shape = op.shape(cache)
    if shape is None or len(shape) != 3 or shape[-1] != half:
        raise Unsupported(f"RotaryEmbedding whose {role} cache {shape} is not [N, S, {half}]")
    layers.append(Layer("Unsqueeze", {"dim": axis}, inputs=[cache], outputs=[f"{out}#{role}"]))
    return lambda x, name: Layer("Mul", {}, inputs=[x, f"{out}#{role}"], outputs=[name])
