"""ONNX ops in the forms opsets 1-12 wrote them (Caffe2-era model zoo files, old exporters), each with the
semantics of its version: Softmax coerced to 2-D at `axis`, variadic Sum/Mean/Max/Min, Upsample and
opset-10 Resize (asymmetric nearest), Slice by attributes, BatchNormalization's `spatial`, Dropout's
mask. Registered like every importer: the newest entry at or below the model's opset is used.
"""

from __future__ import annotations

import numpy as np

from .import_constants import constant_chain
from .importers import Alias, Layer, Op, Unsupported, onnx_op


def _unused(op: Op, value: str) -> bool:
    return not value or (not op.consumers(value) and value not in op.graph_outputs)


@onnx_op("Softmax", "LogSoftmax", since=1)
def softmax_2d(op: Op):
    """Before opset 13 the input is coerced to 2-D at `axis` (default 1): [d0..d(a-1), d(a)..] -> one row
    per leading index. At the last axis that is softmax over it; elsewhere Flatten(axis) + softmax over the
    last dim + Reshape back (the leading dims after the batch kept)."""
    kind = op.node.op_type
    rank = op.rank(0)
    axis = int(op.attrs.get("axis", 1))
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis < rank:
        raise Unsupported(f"{kind} axis {op.attrs.get('axis')} outside a rank-{rank} input")
    if axis == rank - 1:
        return Layer(kind, {"dim": -1})
    if axis == 0:
        raise Unsupported(f"{kind} at axis 0 before opset 13 (one softmax over the whole batch)")
    dims = op.shape(op.input(0))
    if any(not isinstance(d, int) for d in dims[1:]):
        raise Unsupported(f"{kind} at axis {axis} before opset 13 over dims of unknown size {dims}")
    return [Layer("Flatten", {"start_dim": axis} if axis != 1 else {}), Layer(kind, {"dim": -1}),
            Layer("Reshape", {"shape": tuple(dims[1:])})]


_VARIADIC = {"Sum": "Add", "Mean": "Average", "Max": "Maximum", "Min": "Minimum"}


@onnx_op("Sum", "Mean")
def variadic(op: Op):
    return _variadic(op)


@onnx_op("Max", "Min", since=1)
def variadic_min_max(op: Op):
    return _variadic(op)


def _variadic(op: Op):
    """Sum/Mean/Max/Min of any number of inputs (broadcast from opset 8); one input is that input."""
    names = [i for i in op.inputs if i]
    if op.node.op_type != "Mean" and any(op.const(n) is not None for n in names):
        return constant_chain(op, _VARIADIC[op.node.op_type], names)  # Max(x, 0.0): Maximum(value=0.0)
    if any(op.const(n) is not None for n in names):
        raise Unsupported(f"{op.node.op_type} with a constant operand")
    if len(names) == 1:
        return Alias(names[0])
    return Layer(_VARIADIC[op.node.op_type], {}, inputs=names)


@onnx_op("Upsample", since=7)
def upsample_7(op: Op):
    return _upsample(op, op.attrs.get("scales"))


@onnx_op("Upsample", since=9)
def upsample_9(op: Op):
    return _upsample(op, op.const_input(1, "scales"))


@onnx_op("Resize", since=10)
def resize_10(op: Op):
    """Opset 10's Resize is Upsample's: asymmetric coordinates, nearest rounding down."""
    return _upsample(op, op.const_input(1, "scales"))


def _upsample(op: Op, scales):
    mode = op.attrs.get("mode", "nearest")
    if scales is None:
        raise Unsupported(f"{op.node.op_type} without scales")
    scales = [float(s) for s in np.asarray(scales).reshape(-1)]
    if scales[:2] != [1.0, 1.0]:
        raise Unsupported(f"{op.node.op_type} of the batch or channel dim (scales {scales})")
    if mode != "nearest":
        # Upsample's linear mode maps output x to input x / scale (asymmetric): no torch mode does.
        raise Unsupported(f"{op.node.op_type} mode {mode!r} (asymmetric coordinates; only nearest has a layer)")
    out = op.shape(op.node.output[0])
    if any(s != int(s) for s in scales[2:]):
        if out is None or any(not isinstance(d, int) for d in out[2:]):
            raise Unsupported(f"{op.node.op_type} by fractional scales {scales[2:]} to sizes that are not known")
        return Layer("Upsample", {"size": _one(out[2:]), "mode": "nearest"})
    return Layer("Upsample", {"scale_factor": _one(tuple(float(s) for s in scales[2:])), "mode": "nearest"})


def _one(v):
    v = tuple(v)
    return v[0] if v and all(x == v[0] for x in v) else v


@onnx_op("Slice", since=1)
def slice_1(op: Op):
    """Before opset 10 starts/ends/axes are attributes."""
    from .import_reshape import slice_layer

    starts, ends = op.attrs.get("starts"), op.attrs.get("ends")
    if starts is None or ends is None:
        raise Unsupported("Slice without starts/ends")
    axes = op.attrs.get("axes")
    return slice_layer(op, np.asarray(starts), np.asarray(ends), None if axes is None else np.asarray(axes), None)


@onnx_op("BatchNormalization", since=1)
def batch_norm_legacy(op: Op):
    """Opsets 1-8: `spatial` (0: one statistic per element, not per channel); `is_test` (opsets 1-6) is
    implied by a single output, as in later opsets."""
    from .import_norm import batch_norm

    if not int(op.attrs.get("spatial", 1)):
        raise Unsupported("BatchNormalization with spatial=0 (statistics per element, not per channel)")
    return batch_norm(op)


@onnx_op("Dropout", since=1)
def dropout(op: Op):
    """At inference Dropout passes its input and (opset 12+) its mask output is all true: b or not b for
    b = bool(x) (true for any x, NaN too). training_mode=true (opset 12+) with a ratio above 0 drops at
    random: no inference layer does."""
    training = op.const(op.input(2)) if op.input(2) else None
    ratio = op.const(op.input(1)) if op.input(1) and op.opset >= 12 else np.float32(op.attrs.get("ratio", 0.5))
    if op.input(2) and (training is None or bool(np.asarray(training).reshape(-1)[0])) and \
            (ratio is None or float(np.asarray(ratio).reshape(-1)[0]) != 0.0):
        raise Unsupported("Dropout in training mode (random: the import is of the network at inference)")
    if len(op.node.output) > 1 and not _unused(op, op.node.output[1]):
        if op.opset < 12:  # the spec leaves it open there; onnxruntime gives all false
            raise Unsupported("Dropout whose mask output is read, before opset 12 (its inference value is not "
                              "defined)")
        mask, x = op.node.output[1], op.input(0)
        return [Layer("Identity", inputs=[x], outputs=[op.node.output[0]]),
                Layer("Cast", {"dtype": "bool"}, inputs=[x], outputs=[f"{mask}#b"]),
                Layer("LogicalNot", inputs=[f"{mask}#b"], outputs=[f"{mask}#not_b"]),
                Layer("LogicalOr", {}, inputs=[f"{mask}#b", f"{mask}#not_b"], outputs=[mask])]
    return Alias(op.node.input[0])
