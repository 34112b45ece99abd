"""How each registry layer becomes PyTorch: one small registered function per layer type.

A mapping function takes the IR node and its input / output types and returns a `TorchLayer`:
the module to construct (class and constructor arguments, as plain data), and a forward
expression template. The emitter turns these into readable source; nothing here imports torch.

Template fields: `{m}` is the node's module (e.g. `self.conv1`), `{0}`, `{1}` ... its inputs.
`outputs`, for layers with several results, is the assignment target template, with `{0}`,
`{1}` ... the result names (e.g. LSTM: `"{0}, ({1}, {2})"`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

from ...ir.graph import Scope


@dataclass(frozen=True)
class ModuleCall:
    cls: str  # attribute path from the emitted file's imports: "nn.Conv2d"
    args: tuple = ()  # positional constructor arguments (plain data)
    kwargs: tuple = ()  # ((name, value), ...) keyword arguments, only those that differ from torch's defaults


@dataclass(frozen=True)
class TensorLiteral:
    """A constant tensor as a constructor argument (a loss's class weights): `torch.tensor((1.0, 2.0))`."""

    values: tuple  # plain numbers


@dataclass(frozen=True)
class TorchLayer:
    module: Optional[ModuleCall]  # None for layers that are a plain function in forward (Add, Concat ...)
    forward: str  # e.g. "{m}({0})", "{0} + {1}", "torch.cat(({0}, {1}), dim=1)"
    outputs: Optional[str] = None  # assignment target for several results
    needs: frozenset = field(default_factory=frozenset)  # extra imports: {"F"} for torch.nn.functional


def lit(value) -> str:
    """A safe Python literal for use inside a forward template (braces doubled for str.format)."""
    from ..pysource import literal

    return literal(value).replace("{", "{{").replace("}", "}}")


def _argument(value) -> str:
    from ..pysource import literal

    if isinstance(value, TensorLiteral):
        return f"torch.tensor({literal(tuple(value.values))})"
    return literal(value)


def render_module_call(call: ModuleCall) -> str:
    """The constructor call as Python source: `nn.Conv2d(3, 4, 3, stride=2)`; every value a literal."""
    parts = [_argument(v) for v in call.args]
    for name, value in call.kwargs:
        if not name.isidentifier():
            raise ValueError(f"not a keyword argument name: {name!r}")
        parts.append(f"{name}={_argument(value)}")
    return f"{call.cls}({', '.join(parts)})"


MAPPINGS: dict = {}


def torch_layer(*ops: str) -> Callable:
    """Register a mapping function for one or more registry layer names (canonical names)."""

    def register(fn):
        for op in ops:
            if op in MAPPINGS:
                raise RuntimeError(f"torch mapping for {op} defined twice")
            MAPPINGS[op] = fn
        return fn

    return register


def unsupported(graph) -> list:
    """Nodes this target cannot express: (node, reason). Checked before anything is written."""
    from . import layers  # noqa: F401  (registers the mappings)

    out = []
    for node in graph.nodes:
        if node.op not in MAPPINGS:
            out.append((node, f"{node.op} has no PyTorch mapping yet"))
    reserved = module_attributes()
    for node in graph.nodes:  # a submodule may not shadow nn.Module's own API (forward, train, to ...)
        if node.name in reserved:
            out.append((node, f"the name '{node.name}' is an nn.Module attribute in PyTorch; rename the layer"))
    seen = set()
    stack = [graph.root]
    while stack:
        scope = stack.pop()
        for child in scope.children:
            if isinstance(child, Scope):
                stack.append(child)
                if child.name in reserved and child.path not in seen:
                    seen.add(child.path)
                    first = next(iter(_nodes_in(child)), None)
                    if first is not None:
                        out.append((first, f"the name '{child.name}' ({child.path}) is an nn.Module attribute in "
                                           f"PyTorch; rename it"))
    return out


def _nodes_in(scope):
    for c in scope.children:
        if isinstance(c, Scope):
            yield from _nodes_in(c)
        else:
            yield c


def module_attributes() -> frozenset:
    """Names nn.Module itself defines (methods and attributes set in its __init__)."""
    from torch import nn

    return frozenset(dir(nn.Module)) | frozenset(vars(nn.Module()))
