"""Building an IR graph by hand: what importers use (lowering builds its graphs itself, from text).

An importer knows layers (registry op + parameters), the tensors between them and, where the
source format tells, the module path of each layer. The builder validates the parameters through
the registry (so attrs are normalised exactly as lowering would store them), creates the scopes
of a dotted path on demand, and keeps nodes in creation order (a topological order).
"""

from __future__ import annotations

from typing import Optional

from ..layers import registry
from ..layers.base import REQUIRED, ParamTypeError, TensorType
from ..span import Span
from .graph import Graph, Node, Scope, Site, Tensor

NOWHERE = Site(Span(0, 0, 1, 1, 1, 1))  # imported layers have no place in a .nns file yet


class BuildError(Exception):
    """A layer cannot be built as asked (unknown op, a parameter the registry refuses)."""


class GraphBuilder:
    def __init__(self, name: str):
        self.graph = Graph(name=name)
        self.graph.root = Scope(name="", path="", kind="network", type_name=name, site=NOWHERE)
        self.scopes: dict = {"": self.graph.root}

    @property
    def root(self) -> Scope:
        return self.graph.root

    def tensor(self, type_: Optional[TensorType], producer: Optional[int] = None, index: int = 0,
               name: Optional[str] = None) -> int:
        tid = len(self.graph.tensors)
        self.graph.tensors.append(Tensor(tid, type_, producer, index, NOWHERE, name))
        return tid

    def input(self, name: str, shape: tuple, dtype: str = "f32") -> int:
        tid = self.tensor(TensorType(tuple(shape), dtype), name=name)
        self.graph.inputs.append((name, tid))
        return tid

    def output(self, name: str, tid: int) -> None:
        self.graph.outputs.append((name, tid))

    def scope(self, path: str, kind: str = "block", type_name: str = "Block") -> Scope:
        """The scope at a dotted path, creating it (and missing parents, as groups) if new."""
        if path in self.scopes:
            return self.scopes[path]
        parent_path, _, local = path.rpartition(".")
        parent = self.scope(parent_path, "sequential", "Sequential") if parent_path else self.root
        s = Scope(name=local, path=path, kind=kind, type_name=type_name, site=NOWHERE, parent=parent)
        parent.children.append(s)
        self.scopes[path] = s
        return s

    def node(self, op: str, params: dict, inputs: list, scope: Scope, name: str = "",
             out_types: tuple = (None,)) -> list:
        """Add a layer; returns its output tensor ids. Parameters not given take the registry defaults."""
        spec = registry.get(op)
        if spec is None:
            raise BuildError(f"unknown layer {op!r}")
        attrs = {}
        for key, value in params.items():
            p = spec.param_index.get(key)
            if p is None:
                raise BuildError(f"{op} has no parameter {key!r}")
            try:
                attrs[p.name] = p.validate(value)
            except ParamTypeError as e:
                raise BuildError(f"{op} {key}={value!r}: {e}") from None
        for p in spec.params:
            if p.name not in attrs and p.default is not REQUIRED:
                attrs[p.name] = p.default_value()
        nid = len(self.graph.nodes)
        outs = [self.tensor(t, nid, i) for i, t in enumerate(out_types)]
        node = Node(id=nid, name=name, path=scope.child_path(name) if name else "", op=spec.name, attrs=attrs,
                    inputs=list(inputs), outputs=outs, site=NOWHERE, scope=scope)
        self.graph.nodes.append(node)
        scope.children.append(node)
        return outs
