"""The IR: a typed dataflow graph plus the hierarchy of scopes (network, block instances, groups).

Nodes are stored in creation order, which is a topological order (a tensor exists before any
node reads it). Every node and tensor keeps the span it came from and the chain of block
instantiations that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..layers.base import TensorType
from ..span import Span


@dataclass(frozen=True, slots=True)
class Site:
    """A place in some file: the span plus the file's path (None: the analysed document)."""

    span: Span
    path: Optional[str] = None


@dataclass(slots=True)
class Tensor:
    id: int
    type: Optional[TensorType]  # None: unknown because of an earlier error
    producer: Optional[int]  # node id; None for a graph input
    index: int  # which output of the producer
    site: Site
    name: Optional[str] = None  # the first tensor name bound to it where it was made, if any
    bound: list = field(default_factory=list)  # (instantiation, name): every binding, in every frame


@dataclass(slots=True)
class Scope:
    """One level of hierarchy: the network, a block instance, a Sequential group or a repetition."""

    name: str  # local name: "layer1", "0"
    path: str  # dotted path from the network: "layer1.0" ("" for the network itself)
    kind: str  # "network" | "block" | "sequential" | "repeat"
    type_name: str  # block or network name, "Sequential", or "Repeat"
    site: Site  # where it was instantiated (the network's own header for the root)
    parent: Optional["Scope"] = None
    params: dict = field(default_factory=dict)  # bound block parameters
    consts: dict = field(default_factory=dict)  # compile-time values at the end of the body (params, lets)
    inputs: list = field(default_factory=list)  # tensor ids the instance received (blocks)
    outputs: list = field(default_factory=list)  # tensor ids it gave back (blocks)
    children: list = field(default_factory=list)  # Scopes and Nodes, in order
    definition: Optional[Site] = None  # where the block is defined
    doc: Optional[str] = None
    next_index: int = 0

    def child_path(self, local: str) -> str:
        return f"{self.path}.{local}" if self.path else local

    @property
    def display_type(self) -> str:
        """The type as people read it: a repetition is `BasicBlock ×2` (`×2` when its items differ),
        never the internal name "Repeat"."""
        if self.kind != "repeat":
            return self.type_name
        kinds = {c.type_name if isinstance(c, Scope) else c.op for c in self.children}
        n = len(self.children)
        return f"{kinds.pop()} \u00d7{n}" if len(kinds) == 1 else f"\u00d7{n}"

    def nodes(self):
        """The nodes under this scope, at any depth, in order."""
        for c in self.children:
            if isinstance(c, Scope):
                yield from c.nodes()
            else:
                yield c

    def scopes(self):
        """This scope and every scope under it, parents before children, in order."""
        stack = [self]
        while stack:
            s = stack.pop()
            yield s
            stack.extend(c for c in reversed(s.children) if isinstance(c, Scope))

    def external_inputs(self) -> list:
        """Tensors read under this scope but made outside it, in order of first use."""
        made = {t for n in self.nodes() for t in n.outputs}
        out: list = []
        for n in self.nodes():
            for t in n.inputs:
                if t not in made and t not in out:
                    out.append(t)
        return out


@dataclass(slots=True)
class Node:
    id: int
    name: str  # local name within its scope
    path: str  # dotted path from the network: the weight-name prefix ("layer1.0.conv1")
    op: str  # canonical layer type (registry name)
    attrs: dict
    inputs: list  # tensor ids
    outputs: list  # tensor ids
    site: Site  # the step that created it
    scope: Scope
    instantiation: tuple = ()  # Sites of the block calls that produced it, outermost first
    weights: list = field(default_factory=list)  # layers.base.Weight
    params: int = 0  # trainable parameter count
    macs: Optional[int] = 0  # None when not computable (type unknown)


@dataclass
class Graph:
    name: str
    nodes: list = field(default_factory=list)
    tensors: list = field(default_factory=list)
    inputs: list = field(default_factory=list)  # (name, tensor id)
    outputs: list = field(default_factory=list)  # (name, tensor id)
    root: Optional[Scope] = None
    params: dict = field(default_factory=dict)  # the network's parameters as bound
    doc: Optional[str] = None

    def tensor(self, tid: int) -> Tensor:
        return self.tensors[tid]

    @property
    def total_params(self) -> int:
        return sum(n.params for n in self.nodes)

    @property
    def total_macs(self) -> int:
        return sum(n.macs or 0 for n in self.nodes)

    def consumers(self) -> dict:
        """tensor id -> list of node ids reading it."""
        out: dict = {}
        for node in self.nodes:
            for t in node.inputs:
                out.setdefault(t, []).append(node.id)
        return out
