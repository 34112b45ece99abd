"""Sub-graphs that are one registry layer: GELU written with Erf, SiLU as x * sigmoid(x), multi-head
attention spelled out in MatMuls, a stack of ONNX LSTM ops with their layout glue.

Exporters (ours below a layer's native opset, torch.onnx always for some layers) write such a layer
as several nodes. A fusion is a function registered on the sub-graph's anchor op (Erf, Sigmoid,
Softmax, LSTM ...); given the anchor it walks producers and consumers and returns a `Fused` -- the
layer and every node it stands for -- or None when the nodes around the anchor are not that
pattern, in which case they import one by one. A match is taken only when nothing outside the group
reads an intermediate value, so fusing never hides a tensor another layer needs.

This module holds the machinery (`Fused`, `View`, the registries, `find_fusions`) and the helpers fusions
share; the fusions themselves are in fusions_*.py by pattern family, imported at its end. Several fusions on
one anchor op are tried in registration order, so the order of those imports matters (Softmax: ours, Swin's,
then torch.onnx's MultiheadAttention; Concat: ClassToken, then PatchMerging).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..registry import Registry
from .importers import Layer


@dataclass
class Fused:
    layer: Layer  # with inputs and outputs set: the group's external inputs / produced values
    nodes: list  # every NodeProto of the group


class View:
    """Read-only questions about the ONNX graph that fusions ask."""

    def __init__(self, graph, consts: dict, shapes: dict, opset: int = 18):
        self.consts, self.opset = consts, opset  # the opset: to evaluate a size computation (fusions_strided)
        self.shapes = shapes
        self.producers: dict = {}
        self.consumers: dict = {}  # value -> the nodes reading its data (a Shape node reads only its size)
        for node in graph.node:
            for o in node.output:
                self.producers[o] = node
            if node.op_type in ("Shape", "Size"):
                continue  # sizes are recomputed from the .nns shapes; they do not keep a value alive
            for i in node.input:
                self.consumers.setdefault(i, []).append(node)
        self.graph_outputs = {o.name for o in graph.output}
        self.initializers = {t.name for t in graph.initializer}

    def producer(self, value: str, op_type: Optional[str] = None):
        node = self.producers.get(value)
        if node is None or (op_type is not None and node.op_type != op_type):
            return None
        return node

    def only_consumer(self, value: str, op_type: Optional[str] = None):
        """The one node reading `value` (of that op type), or None."""
        users = self.consumers.get(value, [])
        if len(users) != 1 or value in self.graph_outputs:
            return None
        if op_type is not None and users[0].op_type != op_type:
            return None
        return users[0]

    def unused(self, value: str) -> bool:
        return not value or (not self.consumers.get(value) and value not in self.graph_outputs)

    def const(self, value: str):
        return self.consts.get(value) if value else None

    def scalar(self, value: str) -> Optional[float]:
        c = self.const(value)
        if c is None or c.size != 1:
            return None
        return float(c.reshape(-1)[0])

    def attr(self, node, name: str, default=None):
        from onnx import helper

        for a in node.attribute:
            if a.name == name:
                return helper.get_attribute_value(a)
        return default

    def ints(self, node, name: str, input_index: int):
        """An ints argument given as an attribute (older opsets) or as a constant input (newer)."""
        v = self.attr(node, name)
        if v is None and len(node.input) > input_index and node.input[input_index]:
            c = self.const(node.input[input_index])
            v = None if c is None else c.reshape(-1).tolist()
        return None if v is None else [int(x) for x in v]

    def other_input(self, node, value: str) -> Optional[str]:
        """A binary node's input that is not `value`."""
        ins = list(node.input)
        if len(ins) != 2 or value not in ins:
            return None
        return ins[1] if ins[0] == value else ins[0]


_FUSIONS = Registry("ONNX fusion", grouped=True)  # (anchor op_type, fn name) -> fn, tried in registration order


_LATE = Registry("ONNX late fusion", grouped=True)  # tried after every other fusion had the graph (Roll)


def onnx_fusion(anchor: str, late: bool = False):
    """late: a small pattern that is also a part of larger ones (a roll inside Swin's window attention)."""
    return (_LATE if late else _FUSIONS).decorator(anchor)


def find_fusions(view: View, nodes) -> list:
    """Every match in the graph, in node order (the late fusions in a second pass); a node belongs to at most
    one."""
    claimed: set = set()
    found = []
    for table in (_FUSIONS, _LATE):
        for node in nodes:
            if id(node) in claimed or node.domain not in ("", "ai.onnx"):
                continue
            for fn in table.versions(node.op_type):
                fused = fn(view, node)
                if fused is None or any(id(n) in claimed for n in fused.nodes) or not _closed(view, fused):
                    continue
                claimed.update(id(n) for n in fused.nodes)
                found.append(fused)
                break
    return found


def _closed(view: View, fused: Fused) -> bool:
    """No value made inside the group is read outside it, except the layer's outputs."""
    members = {id(n) for n in fused.nodes}
    exported = set(fused.layer.outputs or ())
    for node in fused.nodes:
        for o in node.output:
            if o in exported or not o:
                continue
            if o in view.graph_outputs or any(id(u) not in members for u in view.consumers.get(o, ())):
                return False
    return True


def _near(value: Optional[float], want: float, rel: float = 1e-4) -> bool:
    return value is not None and abs(value - want) <= rel * abs(want)


# ---- shared by the attention fusions (fusions_mha, fusions_mha_torch, fusions_window) ----------------

def _linear(view: View, value: str):
    """value = x @ W^T (+ b) with constant W, b: (x, W [out, in], b or None, nodes) or None."""
    add, bias = view.producer(value, "Add"), None
    if add is not None:
        for cand in add.input:
            c = view.const(view.other_input(add, cand))
            if c is not None and view.producer(cand, "MatMul") is not None:
                bias, value = c.reshape(-1), cand
                break
        else:
            return None
    mm = view.producer(value, "MatMul")
    if mm is None:
        return None
    w = view.const(mm.input[1])
    if w is None or w.ndim != 2 or (bias is not None and bias.size != w.shape[1]):
        return None
    nodes = [mm] + ([add] if add is not None else [])
    return mm.input[0], np.ascontiguousarray(w.T), bias, nodes


from . import fusions_activation  # noqa: E402,F401  (GELU, SiLU, Hardswish)
from . import fusions_mha  # noqa: E402,F401  (MultiheadAttention as nnlang writes it; before Swin's Softmax)
from . import fusions_recurrent  # noqa: E402,F401  (stacked LSTM / GRU / RNN)
from . import fusions_merge  # noqa: E402,F401  (Average; ClassToken, before PatchMerging's Concat)
from . import fusions_norm  # noqa: E402,F401  (LayerNorm, within-channel LRN, GroupNorm)
from . import fusions_window  # noqa: E402,F401  (Swin's layers; registered after the fusions above)
from . import fusions_conv  # noqa: E402,F401  (StdConv2d, ScaledStdConv2d: a Conv of a standardised stored kernel)
from . import fusions_roll  # noqa: E402,F401  (torch.roll's Slice + Concat pairs, a late fusion)
from . import fusions_mha_torch  # noqa: E402,F401  (MultiheadAttention as torch.onnx writes it)
from . import fusions_constant, fusions_strided  # noqa: E402,F401  (constant operands: Where ...; as_strided)
