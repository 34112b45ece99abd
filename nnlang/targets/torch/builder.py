"""Build a typed IR graph into a live `nn.Module`, in process.

The module tree follows the IR's scopes, so parameter names are the IR paths
(`layer1.0.conv1.weight`): a torchvision `state_dict()` loads with strict=True into the matching
example. Layers come from the per-layer mappings (mapping.py / layers.py), the same ones the
source emitter renders: modules are constructed from their plain-data ModuleCall, and each forward
template is compiled once into a small function. Templates only hold literals made by
`pysource.literal`, so nothing from a .nns file becomes code.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from ...analyze import analyze
from ...ir.graph import Graph, Scope
from . import layers as _layers  # noqa: F401  (registers the mappings)
from . import modules as nnlang_modules
from .mapping import (MAPPINGS, ModuleCall, ParameterCall, TensorLiteral, inplace_variant, may_overwrite_input,
                      unsupported)

_NAMESPACE = {"torch": torch, "nn": nn, "F": F, "nnlang_modules": nnlang_modules}


class BuildError(Exception):
    """The network cannot be built (analysis errors, or layers the target cannot express)."""

    def __init__(self, message: str, diagnostics=()):
        super().__init__(message)
        self.diagnostics = list(diagnostics)


def _resolve(path: str):
    obj = _NAMESPACE[path.split(".")[0]]
    for part in path.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def _value(v):
    return torch.tensor(v.values) if isinstance(v, TensorLiteral) else v


def make_module(call: ModuleCall) -> nn.Module:
    return _resolve(call.cls)(*(_value(a) for a in call.args), **{k: _value(v) for k, v in call.kwargs})


def make_parameter(call: ParameterCall) -> nn.Parameter:
    """The bare parameter (or buffer), initialised as the emitted constructor (render_parameter) does."""
    wrap = nn.Buffer if call.buffer else nn.Parameter
    if call.init == "zeros":
        return wrap(torch.zeros(call.shape))
    if call.init == "normal":
        return wrap(torch.empty(call.shape).normal_(std=call.value))
    return wrap(torch.full(call.shape, call.value))


def _reading_parameter(fn, name: str):
    """A forward fn taking the owning module: the parameter is looked up at each call, so loading
    with assign=True or moving the model never leaves a stale tensor here."""
    return lambda owner, *args: fn(getattr(owner, name), *args)


def compile_forward(template: str, n_inputs: int, outputs: Optional[str], n_outputs: int):
    """`"{m}({0})"` -> a function (module, *inputs) -> tuple of outputs."""
    args = [f"a{i}" for i in range(n_inputs)]
    expr = template.format(*args, m="m")
    if outputs is None:
        body = f"    return ({expr},)"
    else:
        names = [f"o{i}" for i in range(n_outputs)]
        body = f"    {outputs.format(*names)} = {expr}\n    return ({', '.join(names)},)"
    source = f"def forward(m, {', '.join(args)}):\n{body}\n"
    scope: dict = dict(_NAMESPACE)
    exec(compile(source, "<nnlang forward>", "exec"), scope)  # our own template: literals only
    return scope["forward"]


class NetworkModule(nn.Module):
    """The built network: submodules named by IR path, forward running the nodes in order."""

    def __init__(self, graph: Graph):
        super().__init__()
        self.network_name = graph.name
        self._steps = []  # (submodule or None, forward fn, input ids, output ids, ids last read here)
        self._inputs = [tid for _, tid in graph.inputs]
        self._outputs = [tid for _, tid in graph.outputs]
        layers = {}  # node id -> TorchLayer
        consumers = graph.consumers()
        for node in graph.nodes:
            ins = [graph.tensors[t].type for t in node.inputs]
            outs = [graph.tensors[t].type for t in node.outputs]
            layer = MAPPINGS[node.op](node, ins, outs)
            if may_overwrite_input(graph, node, consumers):
                layer = inplace_variant(layer) or layer
            layers[node.id] = layer
        self._construct(graph.root, self, layers)
        # Drop each intermediate tensor after its last reader, as local variables die in
        # hand-written forward code: holding every activation costs time, not only memory.
        last_read = {}
        for node in graph.nodes:
            for t in node.inputs:
                last_read[t] = node.id
        keep = set(self._outputs)
        for node in graph.nodes:
            layer = layers[node.id]
            fn = compile_forward(layer.forward, len(node.inputs), layer.outputs, len(node.outputs))
            if isinstance(layer.module, ParameterCall):  # a bare parameter of the enclosing module
                parent, _, name = node.path.rpartition(".")
                module, fn = self.get_submodule(parent), _reading_parameter(fn, name)
            else:
                module = self.get_submodule(node.path) if layer.module is not None else None
            dead = tuple(t for t in dict.fromkeys(node.inputs) if last_read[t] == node.id and t not in keep)
            self._steps.append((module, fn, tuple(node.inputs), tuple(node.outputs), dead))

    def _construct(self, scope: Scope, container: nn.Module, layers: dict):
        """Create submodules in source order (the scope tree's order), as hand-written code would:
        `named_modules()` is then the construction order, which seeded initialisation relies on."""
        bare, order = {}, []
        for child in scope.children:
            if isinstance(child, Scope):
                sub = nn.Module()
                container.add_module(child.name, sub)
                order.append(child.name)
                self._construct(child, sub, layers)
                continue
            layer = layers[child.id]
            if isinstance(layer.module, ParameterCall):
                setattr(container, child.name, make_parameter(layer.module))  # nn.Module registers either kind
                bare[child.name] = layer.module
                order.append(child.name)
            elif layer.module is not None:
                container.add_module(child.name, make_module(layer.module))
                order.append(child.name)
        if bare:  # for initialize(): how to redraw each bare parameter, and its place among the submodules
            container.__dict__["_nnlang_parameters"] = bare
            container.__dict__["_nnlang_order"] = tuple(order)

    def forward(self, *inputs):
        if len(inputs) != len(self._inputs):
            raise TypeError(f"{self.network_name} takes {len(self._inputs)} inputs, got {len(inputs)}")
        env = dict(zip(self._inputs, inputs))
        for module, fn, ins, outs, dead in self._steps:
            env.update(zip(outs, fn(module, *[env[t] for t in ins])))
            for t in dead:
                del env[t]
        results = tuple(env[t] for t in self._outputs)
        return results[0] if len(results) == 1 else results


def build_graph(graph: Graph) -> NetworkModule:
    missing = unsupported(graph)
    if missing:
        raise BuildError("; ".join(f"{n.path}: {why}" for n, why in missing))
    return NetworkModule(graph)


def build(source: str, network: Optional[str] = None, path: Optional[str] = None, **params) -> NetworkModule:
    """Analyse .nns text (or a path to a .nns file) and build the network as an nn.Module.

    Keyword arguments override network parameters (`classes=10`). Raises BuildError with the
    diagnostics when the file has errors.
    """
    text = source
    if path is None and "\n" not in source and source.endswith(".nns"):
        path = source
        with open(source, encoding="utf-8") as f:
            text = f.read()
    a = analyze(text, path=path, network=network, overrides=params or None)
    if a.errors:
        first = a.errors[0]
        raise BuildError(f"{len(a.errors)} error(s); first: {first.span.line}:{first.span.column}: "
                         f"{first.message}", a.errors)
    if a.graph is None:
        raise BuildError("no network in this file")
    return build_graph(a.graph)
