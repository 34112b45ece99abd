"""ONNX's dense ops: Gemm and MatMul by a constant as Linear (alpha, beta, a transposed A, a bias per row;
MatMul followed by the Add of a constant bias is one Linear), MatMul of two tensors as MatMul."""

from __future__ import annotations

import numpy as np

from .importers import Layer, Op, Unsupported, onnx_op


@onnx_op("Gemm")
def gemm(op: Op):
    """alpha * A' @ B' + beta * C as Linear: alpha folded into the weight, beta into the bias. C may be a
    scalar, [N], [1, N] (one bias for every row) -- a C that differs between rows is no bias."""
    if op.attrs.get("transA", 0):  # the data [K, M] transposed first
        if op.rank(0) != 2:
            raise Unsupported(f"Gemm with transA of a rank-{op.rank(0)} input")
        out = op.node.output[0]
        rest = gemm(_replace_attrs(op, transA=0))
        rest = rest if isinstance(rest, list) else [rest]
        rest[0].inputs = [f"{out}#t"]
        return [Layer("Permute", {"dims": (1, 0)}, inputs=[op.input(0)], outputs=[f"{out}#t"]), *rest]
    alpha, beta = float(op.attrs.get("alpha", 1.0)), float(op.attrs.get("beta", 1.0))
    b = op.const_input(1, "B (the weight)")
    if b.ndim != 2:
        raise Unsupported(f"Gemm whose B is not a matrix (shape {tuple(b.shape)})")
    weight = b if op.attrs.get("transB", 0) else b.T
    if alpha != 1.0:  # (a 400 MB copy of VGG's first classifier otherwise)
        weight = weight * np.asarray(alpha, dtype=b.dtype)
    weights = {"weight": np.ascontiguousarray(weight)}
    c = op.const_input(2, "C (the bias)")
    if c is not None:
        out = weight.shape[0]
        rows = c.reshape(-1, c.shape[-1]) if c.ndim else c.reshape(1, 1)
        if c.ndim > 2 or rows.shape[-1] not in (1, out):
            raise Unsupported(f"Gemm whose C (shape {tuple(c.shape)}) does not broadcast to its rows")
        if np.any(rows != rows[:1]):  # a bias per row: Linear without one, then Add of the constant beta * C
            bias = np.ascontiguousarray(c * np.asarray(beta, dtype=c.dtype), dtype=np.float32)
            y = op.node.output[0]
            return [Layer("Linear", {"out_features": int(weight.shape[0]), "bias": False}, weights=weights,
                          outputs=[f"{y}#product"]),
                    Layer("Add", {"shape": tuple(int(d) for d in bias.shape)}, inputs=[f"{y}#product"], outputs=[y],
                          weights={"": bias})]
        weights["bias"] = np.broadcast_to(rows[0] * np.asarray(beta, dtype=c.dtype), (out,)).copy()
    return Layer("Linear", {"out_features": int(weight.shape[0]), "bias": c is not None}, weights=weights)


def _replace_attrs(op: Op, **attrs) -> Op:
    import dataclasses

    return dataclasses.replace(op, attrs={**op.attrs, **attrs})


@onnx_op("MatMul")
def matmul(op: Op):
    b = op.const(op.input(1))
    if b is None:
        return Layer("MatMul", {}, inputs=op.inputs[:2])
    if b.ndim != 2:
        raise Unsupported("MatMul by a constant that is not a matrix")
    weights = {"weight": np.ascontiguousarray(b.T)}
    consumes, outputs = [], None
    users = op.consumers(op.node.output[0])
    if len(users) == 1 and users[0].op_type == "Add":
        add = users[0]
        other = [i for i in add.input if i != op.node.output[0]]
        c = op.const(other[0]) if len(other) == 1 else None
        if c is not None and c.size == b.shape[1]:
            weights["bias"] = c.reshape(-1).copy()
            consumes, outputs = [add], list(add.output)
    return Layer("Linear", {"out_features": int(b.shape[1]), "bias": "bias" in weights}, weights=weights,
                 consumes=consumes, outputs=outputs)
