"""Building ONNX nodes for one IR node at a time, with the op forms each opset requires.

`GraphBuilder` owns what is graph-wide: the node list and unique names. `LayerBuilder` is what a
mapping function sees: the IR node, its input names and types, and helpers (`op`, `const`,
`weight`, `reduce`, `squeeze`, `split`, `pad` ...) that write an op in the form the chosen opset
wants (axes as an attribute or as an input, etc.), so the per-layer functions stay small and
mostly opset-free. Names and strings go into the protobufs only through onnx.helper.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from onnx import helper, numpy_helper

from ...layers.base import weight_key
from .mapping import ELEM_TYPES, NotExpressible

# language dtype -> (ONNX element type, numpy dtype name or None when numpy has none: bf16, the 8-bit floats)
_NUMPY = {"f32": "float32", "f64": "float64", "f16": "float16", "i64": "int64", "i32": "int32", "i16": "int16",
          "i8": "int8", "u8": "uint8", "bool": "bool"}
DTYPES = {dtype: (elem, _NUMPY.get(dtype)) for dtype, elem in ELEM_TYPES.items()}
FLOATS = ("f32", "f64", "f16", "bf16")
INT64_MAX = 2 ** 63 - 1


def elem_type(dtype: str) -> int:
    return DTYPES[dtype][0]


def tensor_proto(name: str, values, dtype: str, shape: Sequence[int] | None = None):
    """A TensorProto holding `values` (a number or nested sequence) as `dtype`."""
    np_name = DTYPES[dtype][1]
    if np_name is None:  # bf16: numpy cannot hold it; helper rounds floats itself
        arr = np.asarray(values, dtype="float32")
        dims = list(arr.shape if shape is None else shape)
        return helper.make_tensor(name, DTYPES[dtype][0], dims, arr.flatten().tolist())
    arr = np.asarray(values, dtype=np_name)
    if shape is not None:
        arr = arr.reshape(shape)
    return numpy_helper.from_array(arr, name)


class GraphBuilder:
    """The nodes of the whole graph and the names already taken (nodes and values share nothing)."""

    def __init__(self, opset: int):
        self.opset = opset
        self.nodes: list = []
        self.node_names: set = set()
        self.value_names: set = set()

    def unique_value(self, name: str) -> str:
        return _claim(name, self.value_names)

    def unique_node(self, name: str) -> str:
        return _claim(name, self.node_names)


def _claim(name: str, taken: set) -> str:
    """`name`, or `name_1`, `name_2` ... the first not yet taken; recorded as taken."""
    out, k = name, 1
    while out in taken:
        out, k = f"{name}_{k}", k + 1
    taken.add(out)
    return out


@dataclass
class PendingNode:
    op_type: str
    inputs: list
    outputs: list
    attrs: dict


class LayerBuilder:
    """The ONNX nodes of one IR node. See the module doc; `x` is the first input's name, `t` its type."""

    def __init__(self, graph: GraphBuilder, node, inputs: list, ins: list, outs: list, doc: str):
        self.g = graph
        self.node = node
        self.a = node.attrs
        self.xs = list(inputs)
        self.ins = ins
        self.outs = outs
        self.opset = graph.opset
        self.doc = doc
        self.nodes: list = []  # this layer's nodes as PendingNodes, in order (made into NodeProtos by finish)
        self.weights: list = []  # initializer names this layer reads

    # ---- the essentials ------------------------------------------------------------------------

    @property
    def x(self) -> str:
        return self.xs[0]

    @property
    def t(self):
        return self.ins[0]

    def tmp(self, hint: str) -> str:
        return self.g.unique_value(f"{self.node.path}/{hint}")

    def op(self, op_type: str, *inputs, n_out: int = 1, **attrs):
        """Add one node; returns its output name (or the list of them when n_out > 1).
        Inputs given as None are omitted optional inputs ("")."""
        outputs = [self.tmp(op_type if n_out == 1 else f"{op_type}:{i}") for i in range(n_out)]
        inputs = list(inputs)
        while inputs and inputs[-1] is None:  # trailing optional inputs are left off, not given as ""
            inputs.pop()
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(PendingNode(op_type, ["" if i is None else i for i in inputs], outputs, attrs))
        return outputs[0] if n_out == 1 else outputs

    def rename(self, old: str, new: str) -> None:
        """Give one of this layer's values its final name (an IR tensor's)."""
        for n in self.nodes:
            n.inputs = [new if v == old else v for v in n.inputs]
            n.outputs = [new if v == old else v for v in n.outputs]

    def finish(self, main) -> list:
        """This layer's NodeProtos, made by onnx.helper with their final names: `main` (the node computing
        the layer's result) is named by the IR path, the others `path/OpType`."""
        protos = []
        for n in self.nodes:
            name = self.node.path if n is main else f"{self.node.path}/{n.op_type}"
            protos.append(helper.make_node(n.op_type, n.inputs, n.outputs, name=self.g.unique_node(name),
                                           doc_string=self.doc, **n.attrs))
        return protos

    def const(self, values, dtype: str = "i64", shape: Sequence[int] | None = None) -> str:
        """A Constant node holding `values` as `dtype`."""
        return self.op("Constant", value=tensor_proto("value", values, dtype, shape))

    def ints(self, values) -> str:
        """A 1-D int64 constant (axes, shapes, pads, starts ...)."""
        return self.const(list(values), "i64")

    def scalar(self, value, dtype: str | None = None) -> str:
        """A 0-d constant of `dtype` (default: the first input's dtype)."""
        return self.const(value, dtype or self.t.dtype)

    def weight(self, name: str) -> str:
        """The initializer of this layer's weight `name` (as PyTorch names it: the state_dict key)."""
        if name not in {w.name for w in self.node.weights}:
            raise AssertionError(f"{self.node.op} has no weight {name!r}")  # a bug in a mapping, not user input
        full = weight_key(self.node.path, name)
        self.weights.append(full)
        return full

    def has_weight(self, name: str) -> bool:
        return any(w.name == name for w in self.node.weights)

    def known(self, d, what: str) -> int:
        """A dim the ONNX form needs as a number; NotExpressible otherwise."""
        if not isinstance(d, int):
            raise NotExpressible(f"{self.node.op}: {what} must be known for ONNX, got {d!r}")
        return d

    # ---- dtype helpers -------------------------------------------------------------------------

    def cast(self, x: str, src: str, dst: str) -> str:
        return x if src == dst else self.op("Cast", x, to=elem_type(dst))

    # ---- ops whose form changed between opsets -------------------------------------------------

    def unsqueeze(self, x: str, axes) -> str:
        axes = [int(a) for a in axes]
        if self.opset >= 13:
            return self.op("Unsqueeze", x, self.ints(axes))
        return self.op("Unsqueeze", x, axes=axes)

    def squeeze(self, x: str, axes) -> str:
        axes = [int(a) for a in axes]
        if self.opset >= 13:
            return self.op("Squeeze", x, self.ints(axes))
        return self.op("Squeeze", x, axes=axes)

    def reduce(self, op_type: str, x: str, axes=None, keepdims: bool = True) -> str:
        """ReduceMean / ReduceSum / ReduceMax ...; axes None reduces all dims. The axes moved from an
        attribute to an input in opset 13 (ReduceSum) and 18 (the others)."""
        as_input = self.opset >= (13 if op_type == "ReduceSum" else 18)
        k = 1 if keepdims else 0
        if axes is None:
            return self.op(op_type, x, keepdims=k)
        axes = [int(a) for a in axes]
        if as_input:
            return self.op(op_type, x, self.ints(axes), keepdims=k)
        return self.op(op_type, x, axes=axes, keepdims=k)

    def split(self, x: str, sizes, axis: int, count: int | None = None) -> list:
        """Split into pieces of `sizes` along axis; sizes None: `count` equal pieces (size unknown)."""
        n = count if sizes is None else len(sizes)
        if n == 1:
            return [self.op("Identity", x)]
        if sizes is None:
            if self.opset >= 18:
                return self.op("Split", x, n_out=n, axis=axis, num_outputs=n)
            return self.op("Split", x, n_out=n, axis=axis)  # no split given: equal parts
        if self.opset >= 13:
            return self.op("Split", x, self.ints(sizes), n_out=n, axis=axis)
        return self.op("Split", x, n_out=n, axis=axis, split=[int(s) for s in sizes])

    def slice(self, x: str, starts, ends, axes, steps=None) -> str:
        ins = [x, self.ints(starts), self.ints(ends), self.ints(axes)]
        if steps is not None:
            ins.append(self.ints(steps))
        return self.op("Slice", *ins)

    def clip(self, x: str, lo=None, hi=None, dtype: str | None = None) -> str:
        dtype = dtype or self.t.dtype
        if self.opset < 12 and dtype != "f32":  # Clip-11 is float-only in onnxruntime; Max / Min are not
            if lo is not None:
                x = self.op("Max", x, self.scalar(lo, dtype))
            return x if hi is None else self.op("Min", x, self.scalar(hi, dtype))
        return self.op("Clip", x, None if lo is None else self.scalar(lo, dtype),
                       None if hi is None else self.scalar(hi, dtype))

    def pad(self, x: str, begin, end, mode: str = "constant", value=None, dtype: str | None = None) -> str:
        """Pad every dim: begin / end list one entry per dim of x."""
        fill = None
        if mode == "constant" and value is not None and value != 0:
            fill = self.scalar(value, dtype or self.t.dtype)
        return self.op("Pad", x, self.ints(list(begin) + list(end)), fill, mode=mode)

    def transpose(self, x: str, perm) -> str:
        perm = [int(p) for p in perm]
        if perm == sorted(perm):
            return x
        return self.op("Transpose", x, perm=perm)

    def shape_of(self, x: str, start: int, end: int | None = None) -> str:
        """Dims start:end of x's run-time shape, as a 1-D int64 tensor."""
        if self.opset >= 15:
            return self.op("Shape", x, start=start, end=end)
        shape = self.op("Shape", x)
        return self.slice(shape, [start], [INT64_MAX if end is None else end], [0])

    def shape_vector(self, x: str, xtype, parts) -> str:
        """A 1-D int64 shape from `parts`: ints, or ("dim", i) for dim i of x (a constant when x's dim i is
        known, read at run time otherwise). Consecutive constants are joined into one Constant node."""
        pieces: list = []  # ("c", [ints]) or ("d", [first dim, end dim)) of x's run-time shape
        for p in parts:
            if isinstance(p, tuple):
                d = xtype.shape[p[1]]
                p = d if isinstance(d, int) else p
            if isinstance(p, tuple):
                if pieces and pieces[-1][0] == "d" and pieces[-1][1][1] == p[1]:
                    pieces[-1][1][1] += 1  # the next dim of x: one Shape slice reads both
                else:
                    pieces.append(("d", [p[1], p[1] + 1]))
            elif pieces and pieces[-1][0] == "c":
                pieces[-1][1].append(int(p))
            else:
                pieces.append(("c", [int(p)]))
        names = []
        for kind, v in pieces:
            names.append(self.ints(v) if kind == "c" else self.shape_of(x, v[0], v[1]))
        if len(names) == 1:
            return names[0]
        return self.op("Concat", *names, axis=0)

    def reshape(self, x: str, xtype, parts) -> str:
        """Reshape x to `parts` (see shape_vector; one part may be -1)."""
        return self.op("Reshape", x, self.shape_vector(x, xtype, parts))

    def channel_view(self, w: str, rank: int, axis: int = 1) -> str:
        """A [C] tensor reshaped to broadcast along `axis` of a rank-`rank` tensor: [C, 1, ...]."""
        trailing = rank - 1 - axis
        if trailing <= 0:
            return w
        return self.unsqueeze(w, list(range(1, trailing + 1)))

    def softmax(self, op_type: str, x: str, axis: int, rank: int) -> str:
        """Softmax / LogSoftmax along one axis. Before opset 13 the op flattened everything from `axis` on
        into one row, so another axis than the last is moved to the end and back."""
        axis = axis % rank if rank else 0
        if self.opset >= 13 or axis == rank - 1 or rank == 0:
            return self.op(op_type, x, axis=axis if self.opset >= 13 else max(rank - 1, 0))
        perm = [d for d in range(rank) if d != axis] + [axis]
        back = [perm.index(d) for d in range(rank)]
        return self.transpose(self.op(op_type, self.transpose(x, perm), axis=rank - 1), back)

    def elementwise_native(self, dtype: str) -> bool:
        """Write an activation as its own ONNX op? For f32 yes; other float types use primitive ops, since
        runtimes (onnxruntime's CPU provider) ship Selu, Elu, HardSigmoid, Softsign, Softplus, Celu ... for
        float only, and the primitives (Exp, Where, Clip ...) exist for every float type."""
        return dtype == "f32"
