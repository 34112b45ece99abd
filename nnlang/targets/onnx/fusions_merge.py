"""Sub-graphs that join tensors into one layer: (a + b + ...) / n as Average, and the Concat of a broadcast
[1, 1, D] token before x as ClassToken."""

from __future__ import annotations

from .fusions import Fused, View, onnx_fusion
from .importers import Layer, tensor_path


@onnx_fusion("Div")
def average(view: View, div):
    """(a + b + ...) / n: Average of n tensors."""
    n = view.scalar(div.input[1])
    adds, summands, pending = [], [], [div.input[0]]
    while pending:
        value = pending.pop()
        add = view.producer(value, "Add")
        if add is not None and (value == div.input[0] or view.only_consumer(value) is not None) \
                and all(view.const(i) is None for i in add.input):
            adds.append(add)
            pending += list(add.input)[::-1]
        else:
            summands.append(value)
    if not adds or n is None or n != len(summands) or view.only_consumer(div.input[0]) is not div:
        return None
    return Fused(Layer("Average", {}, inputs=summands, outputs=[div.output[0]]), [*adds, div])


# ---- learned tensors --------------------------------------------------------------------------

@onnx_fusion("Concat")
def class_token(view: View, concat):
    """Concat((a [1, 1, D] token broadcast over the batch, x [N, T, D]), axis 1): ClassToken. Broadcast by
    Expand (torch.onnx's `expand(n, -1, -1)`, our fixed batch; folded when its size is constant) or by our
    Where(cond, token, token), cond computed from a slice of x; the Concat itself checks the batch."""
    if len(concat.input) != 2 or view.attr(concat, "axis") not in (1, -2):
        return None
    head, x = concat.input
    shape = view.shapes.get(x)
    broadcast = view.producer(head)
    if shape is None or len(shape) != 3 or view.const(x) is not None or broadcast is None:
        return None
    nodes = [concat, broadcast]
    if broadcast.op_type == "Expand":
        token = broadcast.input[0]
    elif broadcast.op_type == "Where" and broadcast.input[1] == broadcast.input[2]:
        token, value = broadcast.input[1], broadcast.input[0]
        while value != x:  # the condition: Cast(Slice(x)), read for its shape only
            step = view.producer(value)
            if step is None or step.op_type not in ("Cast", "Slice") or len(nodes) > 4:
                return None
            nodes.append(step)
            value = step.input[0]
    else:
        return None
    w = view.const(token)
    if w is None or w.shape != (1, 1, shape[2]):
        return None
    return Fused(Layer("ClassToken", {}, inputs=[x], outputs=[concat.output[0]], weights={"": w},
                       path=tensor_path(token, view.initializers)), nodes)
