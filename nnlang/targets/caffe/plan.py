"""IR graph -> a plan of BVLC Caffe layers (framework-free: no protobuf, no numpy until weights are made).

    plan = plan_net(graph)          # Plan: layers (CaffeLayer), inputs, outputs, problems [(node, reason)]
    plan.layers[0].params           # {"convolution_param": {"num_output": 64, ...}}: field names of caffe.proto

Each registry layer maps to Caffe layers through one small function (layers.py) that sees a LayerBuilder:
its inputs as blob names, their IR types, and `add(type, ...)` to append a Caffe layer. A layer with no exact
Caffe form raises NotExpressible; every such node is collected (with its span) before anything is written.
Names follow the .nns file: a layer and its top blob are named by the IR path (`layer1.0.conv1`); the helper
layers of a decomposition are `path/what` (`features.0.2/relu_shifted`); inputs keep their .nns names.
Blobs are functions of the PyTorch target's state_dict (numpy arrays by state key), called only when the
caffemodel is written: the per-layer weight conversion lives beside the layer's mapping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from ...layers.base import weight_key
from ..registry import Registry


class NotExpressible(Exception):
    """This configuration of a layer has no exact form in BVLC Caffe."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


MAPPINGS = Registry("Caffe mapping")
caffe_layer = MAPPINGS.decorator


@dataclass
class CaffeLayer:
    name: str
    type: str  # a BVLC layer type ("Convolution", "Pooling", ...)
    bottom: list
    top: list
    params: dict = field(default_factory=dict)  # {"<x>_param": {field: value}} in caffe.proto's names
    blobs: Optional[Callable] = None  # fn(state) -> [numpy arrays], the layer's blobs in Caffe's order
    node: object = None  # the IR node it comes from (None: the network's input)


@dataclass
class Plan:
    name: str
    layers: list = field(default_factory=list)
    inputs: list = field(default_factory=list)  # (blob name, shape)
    outputs: list = field(default_factory=list)  # (.nns output name, blob name)
    problems: list = field(default_factory=list)  # (IR node, reason)


class LayerBuilder:
    """What a mapping function sees: the node, its inputs (blob names) and their IR types."""

    def __init__(self, planner: "Planner", node, bottoms: list, types: list, out_types: list):
        self.planner, self.node, self.bottoms, self.types, self.out_types = planner, node, bottoms, types, out_types
        self.a = node.attrs
        self.layers: list = []

    @property
    def t(self):
        return self.types[0]

    def key(self, name: str) -> str:
        return weight_key(self.node.path, name)

    def add(self, type_: str, bottom: list, params: Optional[dict] = None, blobs: Optional[Callable] = None,
            what: str = "", tops: int = 1, result: bool = False) -> list:
        """Append a Caffe layer; returns its top blob names. `what` names a helper layer of a decomposition
        (`path/what`); the layer giving the node's result has none. `result`: a helper layer whose first top
        is the node's result (a Slice cropping a pool), named by the path."""
        base = self.node.path or self.node.op.lower()
        name = self.planner.unique(f"{base}/{what}" if what else base)
        top = [name] if tops == 1 else [self.planner.unique(f"{name}:{k}") for k in range(tops)]
        if result and what:
            top[0] = self.planner.unique(base)
        self.layers.append(CaffeLayer(name, type_, list(bottom), top, params or {}, blobs, self.node))
        return top

    def one(self, type_: str, bottom: list, params: Optional[dict] = None, blobs: Optional[Callable] = None,
            what: str = "") -> str:
        return self.add(type_, bottom, params, blobs, what)[0]

    def state(self, *names: str) -> Callable:
        """Blobs that are state entries of this node, as they are (Caffe's layout is PyTorch's)."""
        keys = [self.key(n) for n in names]
        return lambda state: [state[k] for k in keys]

    def known(self, value, what: str) -> int:
        if not isinstance(value, int):
            raise NotExpressible(f"{self.node.op}: {what} ({value!r}) must be a known number in Caffe")
        return value

    def spatial(self, n: int = 2) -> None:
        if self.t.rank != n + 2:
            raise NotExpressible(f"{self.node.op} on a rank-{self.t.rank} input: Caffe's layer needs [N, C, H, W]")


class Planner:
    def __init__(self, graph):
        self.graph = graph
        self.names: set = set()

    def unique(self, name: str) -> str:
        out, k = name, 1
        while out in self.names:
            k += 1
            out = f"{name}_{k}"
        self.names.add(out)
        return out

    def plan(self) -> Plan:
        from . import layers  # noqa: F401  (importing registers the mappings)

        g = self.graph
        plan = Plan(g.name)
        blobs: dict = {}
        for name, tid in g.inputs:
            ttype = g.tensor(tid).type
            shape = [1 if (k == 0 and not isinstance(d, int)) else d for k, d in enumerate(ttype.shape)]
            blob = self.unique(name)
            if not all(isinstance(d, int) for d in shape):
                # The node reading it carries the location; the input itself has none.
                readers = [n for n in g.nodes if tid in n.inputs]
                why = f"input {name} has a symbolic size {ttype.shape}: Caffe nets have fixed sizes (use --input)"
                plan.problems.extend((n, why) for n in readers[:1])
            plan.inputs.append((blob, shape))
            plan.layers.append(CaffeLayer(blob, "Input", [], [blob], {"input_param": {"shape": [{"dim": shape}]}}))
            blobs[tid] = blob
        for node in g.nodes:
            if any(t not in blobs for t in node.inputs):
                continue  # after an earlier problem
            types = [g.tensor(t).type for t in node.inputs]
            out_types = [g.tensor(t).type for t in node.outputs]
            b = LayerBuilder(self, node, [blobs[t] for t in node.inputs], types, out_types)
            fn = MAPPINGS.get(node.op)
            try:
                if fn is None:
                    raise NotExpressible(f"{node.op} has no BVLC Caffe layer")
                tops = fn(b)
            except NotExpressible as e:
                plan.problems.append((node, e.reason))
                tops = [f"{node.path}:{k}" for k in range(len(node.outputs))]  # later layers are checked too
            plan.layers.extend(b.layers)
            for tid, top in zip(node.outputs, tops if isinstance(tops, (list, tuple)) else [tops]):
                blobs[tid] = top
        makers = {top: layer for layer in plan.layers for top in layer.top}
        read = {b for layer in plan.layers for b in layer.bottom}
        for name, tid in g.outputs:
            if tid not in blobs:
                continue
            blob, maker = blobs[tid], makers.get(blobs[tid])
            if maker is not None and (maker.top[0] != blob or blob in read):
                # An output is a blob no layer reads (Caffe's rule, which its importers follow), and a runtime
                # that fetches it by its layer's name (OpenCV's forward) gets the layer's first top: an output
                # that another layer reads (FPN's P5) or that is not a first top (the kept middle of a
                # cropping Slice) is copied by a Split of its own, named as the .nns output.
                # Placed right after its maker: an importer lists outputs in the order they are made.
                copy = self.unique(name)
                at = next(k for k, la in enumerate(plan.layers) if la is maker) + 1
                plan.layers.insert(at, CaffeLayer(copy, "Split", [blob], [copy], {}, None, maker.node))
                blob = copy
            plan.outputs.append((name, blob))
        return plan


def plan_net(graph) -> Plan:
    return Planner(graph).plan()


def unsupported(graph) -> list:
    """(node, reason) for every node BVLC Caffe cannot express, in graph order (framework-free)."""
    return plan_net(graph).problems
