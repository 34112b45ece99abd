"""What each step of the document computes: output types, parameters and MACs, from the IR.

A step is a layer call, a block call, a group or a repetition written in this document. A step inside
a block body runs once per instantiation (and in every network of the file that uses the block):
its `StepInfo` gathers every instance, so a hint can say the shapes differ between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..ir.graph import Graph, Scope
from ..layers.base import format_shape
from ..span import Span


@dataclass
class StepInfo:
    span: Span  # the call (a layer) or the whole step (a block, group or repetition)
    kind: str  # "layer" | "block" | "sequential" | "repeat"
    op: str  # the layer type or block name
    outputs: list = field(default_factory=list)  # distinct output-type tuples, in first-seen order
    params: int = 0  # of the first instance
    macs: Optional[int] = 0
    instances: int = 0
    attrs: Optional[dict] = None  # a layer's bound parameters (first instance)
    node_ids: list = field(default_factory=list)  # (network, node id) of every instance (layers)

    def add(self, types: tuple, params: int, macs) -> None:
        if types not in self.outputs:
            self.outputs.append(types)
        if not self.instances:
            self.params, self.macs = params, macs
        self.instances += 1

    def shape_text(self, limit: int = 3) -> str:
        """`[N, 64, 56, 56]`; several outputs `([N, 5, 8], [1, N, 8])`; differing instances joined
        by ` | `; `?` where a type is unknown."""
        shown = [_types_text(t) for t in self.outputs[:limit]]
        more = len(self.outputs) - limit
        return " | ".join(shown) + (f" | … (+{more})" if more > 0 else "")


def _types_text(types: tuple) -> str:
    parts = ["?" if t is None else format_shape(t.shape) + ("" if t.dtype == "f32" else f" {t.dtype}")
             for t in types]
    return parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ")"


def collect(analysis) -> dict:
    """Span (start, end) -> StepInfo, for every step of the analysed document, over all its networks."""
    steps: dict = {}
    for network, graph in analysis.graphs.items():
        if graph is None:
            continue
        for node in graph.nodes:
            if node.site.path is not None:
                continue  # from a `use`d file
            span = node.site.span
            info = steps.get((span.start, span.end))
            if info is None:
                info = steps[(span.start, span.end)] = StepInfo(span, "layer", node.op, attrs=dict(node.attrs))
            info.add(tuple(graph.tensor(t).type for t in node.outputs), node.params, node.macs)
            info.node_ids.append((network, node.id))
        for scope in graph.root.scopes():
            if scope is graph.root or scope.site.path is not None:
                continue
            span = scope.site.span
            key = (span.start, span.end)
            info = steps.get(key)
            if info is not None and info.kind != scope.kind:
                continue  # `BasicBlock(64) * 2`: the repetition stands for its instances, whose span it shares
            if info is None:
                info = steps[key] = StepInfo(span, scope.kind, scope.type_name)
            nodes = list(scope.nodes())
            macs = [nd.macs for nd in nodes]
            info.add(_scope_outputs(graph, scope, nodes), sum(nd.params for nd in nodes),
                     None if None in macs else sum(macs))
    return steps


def _scope_outputs(graph: Graph, scope: Scope, nodes: list) -> tuple:
    tids = scope.outputs or (nodes[-1].outputs if nodes else [])
    return tuple(graph.tensor(t).type for t in tids)


def hint_steps(steps: dict) -> list[StepInfo]:
    """One StepInfo per place a hint goes (the end of a step): where a repetition, a group and the
    call inside it end at the same place, the outermost (the whole step) wins."""
    by_end: dict = {}
    for info in steps.values():
        best = by_end.get(info.span.end)
        if best is None or info.span.start < best.span.start:
            by_end[info.span.end] = info
    return sorted(by_end.values(), key=lambda i: i.span.end)


def count_text(value: Optional[int]) -> str:
    """1.2K, 3.4M, 11.7M, 1.8G: three significant digits at most."""
    if value is None:
        return "?"
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= limit:
            v = value / limit
            return (f"{v:.1f}" if v < 100 else f"{v:.0f}") + suffix
    return str(value)
