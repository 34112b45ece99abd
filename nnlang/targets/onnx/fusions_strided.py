"""torch's as_strided as the dynamo exporter writes it: x flattened by Reshape(x, [-1]), then a Gather of the
flat tensor at an index computed from the batch size alone (Range(N) * stride + Range(C) * stride ...).
torchvision's AdaptiveAvgPool2d(1) on a permuted tensor (Swin, ConvNeXt) writes as_strided(mean, [N, C, 1, 1],
[C, 1, C, C]): every element in order, so the pair is x itself, or x reshaped. The index cannot fold (it reads
the run-time N); it is evaluated here for several batch sizes, and the pair taken only when each is exactly
arange(N * size) -- any other striding (a real gather of elements) stays refused.
"""

from __future__ import annotations

import math

import numpy as np

from .fusions import Fused, View, onnx_fusion
from .import_fold import evaluate
from .importers import Layer

_BATCHES = (1, 2, 3, 5)  # N values the index is checked at (an affine index equal to arange at 1, 2, 3 is arange)
_DEPTH = 48  # size computations are short; a longer chain is not one


def _value_at(view: View, value: str, batch, n: int, memo: dict, depth: int = 0):
    """The value of a size computation with the symbolic dim `batch` set to n, or None where it reads data or
    another unknown dim. Failures are remembered too: a walk into the data graph must not branch again at
    every residual Add."""
    if value in memo:
        return memo[value]
    memo[value] = None
    c = view.const(value)
    if c is not None:
        memo[value] = c
        return c
    node = view.producer(value)
    if node is None or depth > _DEPTH or node.domain not in ("", "ai.onnx"):
        return None
    if node.op_type == "Shape":
        shape = view.shapes.get(node.input[0])
        if shape is None:
            return None
        dims = [n if d == batch else d for d in shape][view.attr(node, "start", 0):view.attr(node, "end", len(shape))]
        if not all(isinstance(d, int) for d in dims):
            return None
        memo[value] = np.array(dims, dtype=np.int64)
        return memo[value]
    ins = []
    for i in node.input:
        v = _value_at(view, i, batch, n, memo, depth + 1) if i else None
        if i and v is None:
            return None
        ins.append(v)
    outs = evaluate(node, ins, view.opset)
    if outs is not None:
        memo[value] = outs[list(node.output).index(value)]
    return memo[value]


@onnx_fusion("Gather")
def contiguous_strided(view: View, gather):
    if view.attr(gather, "axis", 0) != 0 or len(gather.input) != 2:
        return None
    flatten = view.producer(gather.input[0], "Reshape")
    target = view.const(flatten.input[1]) if flatten is not None and len(flatten.input) > 1 else None
    if target is None or target.shape != (1,) or int(target[0]) != -1:  # the whole tensor as one row
        return None
    x = flatten.input[0]
    shape = view.shapes.get(x)
    if not shape or not all(isinstance(d, int) for d in shape[1:]) or isinstance(shape[0], int):
        return None  # a static batch folds the index to a constant: Gather's own importer takes it
    size = math.prod(shape[1:])
    rest = None
    for n in _BATCHES:
        index = _value_at(view, gather.input[1], shape[0], n, {})
        if index is None or index.ndim < 1 or index.shape[0] != n or (rest is not None and index.shape[1:] != rest):
            return None
        rest = index.shape[1:]
        if math.prod(rest) != size or not np.array_equal(index.reshape(-1), np.arange(n * size)):
            return None
    out = gather.output[0]
    if tuple(rest) == tuple(shape[1:]):
        return Fused(Layer("Identity", {}, inputs=[x], outputs=[out]), [flatten, gather])
    return Fused(Layer("Reshape", {"shape": tuple(int(d) for d in rest)}, inputs=[x], outputs=[out]),
                 [flatten, gather])
