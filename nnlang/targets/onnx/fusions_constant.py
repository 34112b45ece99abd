"""Single ONNX nodes whose constant operands make them another registry layer (fusions of one node, so they are
taken before the op's own importer):

    Where(constant mask, x, ±inf)            -> Add of a constant bias: 0 where x is kept, the infinity elsewhere
    ConvTranspose(x, constant ones), k = s   -> Upsample(scale_factor=k), nearest

The first is the causal mask of attention written out (nnlang's ScaledDotProductAttention below opset 23,
torch's exporter): x + 0 is x and x + -inf is -inf, so the Add is exact but where x is itself an infinity of
the other sign or NaN (NaN instead of the infinity). The second is how nnlang writes nearest upsampling by
whole factors (each output pixel one input pixel times 1.0); only an unstored (Constant-node) weight is taken,
so a learned ConvTranspose that happens to hold ones stays a ConvTranspose.
"""

from __future__ import annotations

import numpy as np

from .fusions import Fused, View, onnx_fusion
from .importers import Layer


@onnx_fusion("Where")
def constant_mask(view: View, where):
    if len(where.input) != 3:
        return None
    mask, a, b = (view.const(i) for i in where.input)
    if mask is None or (a is None) == (b is None):
        return None
    x, fill, keep = (where.input[1], b, True) if b is not None else (where.input[2], a, False)
    fill = np.asarray(fill)
    shape = view.shapes.get(x)
    if fill.size != 1 or fill.dtype != np.float32 or not np.isinf(fill.reshape(-1)[0]) or shape is None:
        return None
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim > len(shape) or not all(m in (1, d) for m, d in zip(mask.shape[::-1], shape[::-1])):
        return None  # the mask would widen x: Where's result is not x's shape
    kept = mask if keep else ~mask
    bias = np.where(kept, np.float32(0.0), fill.reshape(-1)[0]).astype(np.float32)
    return Fused(Layer("Add", {"shape": tuple(int(d) for d in bias.shape)}, inputs=[x], outputs=[where.output[0]],
                       weights={"": bias}), [where])


@onnx_fusion("ConvTranspose")
def repeated_pixels(view: View, node):
    if len(node.input) < 2 or (len(node.input) > 2 and node.input[2]) or node.input[1] in view.initializers:
        return None
    w = view.const(node.input[1])
    if w is None or w.ndim < 3 or w.shape[1] != 1 or not np.all(w == 1.0):
        return None
    n = w.ndim - 2
    k = [int(d) for d in w.shape[2:]]
    attr = view.attr
    if int(attr(node, "group", 1)) != w.shape[0] or [int(s) for s in attr(node, "strides", [1] * n)] != k:
        return None
    if any(attr(node, "pads", [0] * 2 * n)) or any(attr(node, "output_padding", [0] * n)) or any(
            d != 1 for d in attr(node, "dilations", [1] * n)) or attr(node, "output_shape") is not None:
        return None
    auto_pad = attr(node, "auto_pad", b"NOTSET")
    if (auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad) != "NOTSET":
        return None
    factors = tuple(float(f) for f in k)
    scale = factors[0] if len(set(factors)) == 1 else factors
    return Fused(Layer("Upsample", {"scale_factor": scale, "mode": "nearest"}, inputs=[node.input[0]],
                       outputs=[node.output[0]]), [node])
