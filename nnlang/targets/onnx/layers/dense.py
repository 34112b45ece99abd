"""Dense layers: Linear, Embedding, Bilinear."""

from __future__ import annotations

from ..mapping import onnx_layer


def linear_of(b, x: str, rank: int, weight: str, bias) -> str:
    """x W^T + b for a [..., in] input; weights keep their state_dict layout [out, in] (the transpose of a
    constant is folded by the runtime)."""
    if rank == 2:
        return b.op("Gemm", x, weight, bias, transB=1)
    y = b.op("MatMul", x, b.op("Transpose", weight, perm=[1, 0]))
    return y if bias is None else b.op("Add", y, bias)


@onnx_layer("Linear")
def linear(b):
    bias = b.weight("bias") if b.a["bias"] else None
    return linear_of(b, b.x, b.t.rank, b.weight("weight"), bias)


@onnx_layer("Embedding")
def embedding(b):
    """Gather rows. With max_norm, torch renormalises each looked-up row to at most that p-norm
    (scale max_norm / (norm + 1e-7)); the rows are rescaled here on the way out the same way."""
    a = b.a
    y = b.op("Gather", b.weight("weight"), b.x, axis=0)
    if a["max_norm"] is None:
        return y
    last = b.outs[0].rank - 1
    p = a["norm_type"]
    if p == 2.0:
        norm = b.reduce("ReduceL2", y, [last])
    elif p == 1.0:
        norm = b.reduce("ReduceL1", y, [last])
    else:
        powered = b.op("Pow", b.op("Abs", y), b.scalar(p, "f32"))
        norm = b.op("Pow", b.reduce("ReduceSum", powered, [last]), b.scalar(1.0 / p, "f32"))
    limit = b.scalar(a["max_norm"], "f32")
    scale = b.op("Div", limit, b.op("Add", norm, b.scalar(1e-7, "f32")))
    return b.op("Mul", y, b.op("Where", b.op("Greater", norm, limit), scale, b.scalar(1.0, "f32")))


@onnx_layer("Bilinear", since=12)
def bilinear(b):
    y = b.op("Einsum", b.xs[0], b.weight("weight"), b.xs[1], equation="...i,kij,...j->...k")
    return b.op("Add", y, b.weight("bias")) if b.a["bias"] else y
