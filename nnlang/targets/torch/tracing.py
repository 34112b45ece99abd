"""torch.fx tracing with the example input beside it: size computations are resolved at trace time.

Real model code inspects shapes in Python: `torch._assert(x.shape[1] == C)`, `if H % ws:` padding
helpers, `B, N, C = x.shape`, `int(math.sqrt(N))`, `range(H // ws)`. Plain symbolic tracing cannot
follow a Python branch on a traced value. This tracer runs every traced call on the example input as it
records it, so each node has its concrete value: a Python branch, `len`, unpacking, `int()` or an index on
a *size* takes that value (the module would do the same on the example input). A branch on tensor *data*
is still refused. Afterwards every argument that is a size (an int, a tuple of ints, a dtype ...) is
replaced by its value, so the importers see plain numbers (F.pad's pads, a view's sizes); the layers read
their sizes from the traced shapes anyway. Forward arguments beyond the declared inputs that have defaults
(`attn_mask=None`) are traced at those defaults.
"""

from __future__ import annotations

import glob
import inspect
import os
import sys
import traceback

import torch
import torch.fx as fx

_UNKNOWN = object()
# nn.Module.__call__ as it is outside tracing (fx patches it while tracing to record module calls)
_MODULE_CALL = torch.nn.Module.__call__


class ConcreteProxy(fx.Proxy):
    """A proxy that knows its value on the example input; sizes answer Python's questions with it."""

    def _size_value(self):
        v = self.tracer.values.get(self.node, _UNKNOWN)
        return _UNKNOWN if isinstance(v, torch.Tensor) else v

    def __getattr__(self, k):
        v = self.tracer.values.get(self.node, _UNKNOWN)
        if k in ("device", "dtype") and isinstance(v, torch.Tensor):
            return getattr(v, k)  # a constant of the trace (`torch.autocast(device_type=x.device.type)`)
        return ConcreteAttribute(self, k)

    def __bool__(self):
        v = self._size_value()
        if v is _UNKNOWN:
            return super().__bool__()  # data-dependent: fx's TraceError
        return bool(v)

    def __len__(self):
        v = self.tracer.values.get(self.node, _UNKNOWN)
        if v is _UNKNOWN or not hasattr(v, "__len__"):
            return super().__len__()
        return len(v)

    def __iter__(self):
        v = self.tracer.values.get(self.node, _UNKNOWN)
        if isinstance(v, (tuple, list, torch.Size)):
            return iter([self[i] for i in range(len(v))])
        if isinstance(v, torch.Tensor) and v.dim() > 0:
            return iter([self[i] for i in range(v.shape[0])])
        return super().__iter__()

    def __index__(self):
        v = self._size_value()
        if isinstance(v, (int, bool)):
            return int(v)
        raise fx.proxy.TraceError("a traced value used as an index in Python")

    def __int__(self):
        v = self._size_value()
        if isinstance(v, (int, float, bool)):
            return int(v)
        raise fx.proxy.TraceError("int() of a traced tensor value")

    def __float__(self):
        v = self._size_value()
        if isinstance(v, (int, float, bool)):
            return float(v)
        raise fx.proxy.TraceError("float() of a traced tensor value")


class ConcreteAttribute(fx.proxy.Attribute, ConcreteProxy):
    """`x.shape`, `x.ndim` ...: made a node when used, and answering with its value like ConcreteProxy."""


class ConcreteTracer(fx.Tracer):
    """Subclass with is_leaf_module of the importer; `examples`: the tensors of the declared inputs in order,
    `defaults`: the values of the other forward arguments (traced as constants)."""

    def __init__(self, examples: list, input_names: list):
        super().__init__()
        self.record_stack_traces = True
        self.values: dict = {}
        self.metas: dict = {}  # node -> (tensor_meta or None, type): shape propagation's, taken as the value is made
        self.inputs = dict(zip(input_names, examples))
        self.running = 0  # > 0 while a leaf module runs on values: its inner calls are no nodes

    def getattr(self, attr, attr_val, parameter_proxy_cache):
        if self.running:
            return attr_val  # a leaf module's own weight, as it runs on values
        return super().getattr(attr, attr_val, parameter_proxy_cache)

    def call_module(self, m, forward, args, kwargs):
        if self.running:
            return forward(*args, **kwargs)
        return super().call_module(m, forward, args, kwargs)

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return ConcreteProxy(node, self)

    def _filter_traceback_frames(self, user_stack_summary):
        """torch's filter without its first-call cost: torch drops frames of a fixed list of its own files,
        and lists them by importing torch.export, dynamo and inductor (2-5 s per process). A frame can only
        come from a module already loaded, so the loaded ones of that list drop the same frames."""
        if self._record_forward_stack_traces_only or "torch.export._trace" in sys.modules:
            return super()._filter_traceback_frames(user_stack_summary)
        frames = list(user_stack_summary)
        first = next((i for i, f in enumerate(frames) if f.name == "forward"), None)
        skip = self.__dict__.get("_uninteresting")
        if skip is None:  # once per trace: the modules a traced forward loads are its own, not torch's list
            skip = self._uninteresting = _loaded_uninteresting_files()
        kept = [] if first is None else [f for f in frames[first:] if f.filename not in skip]
        return traceback.StackSummary.from_list(kept)

    def create_proxy(self, kind, target, args, kwargs, name=None, type_expr=None, proxy_factory_fn=None):
        proxy = super().create_proxy(kind, target, args, kwargs, name, type_expr, proxy_factory_fn)
        node = proxy.node
        try:
            self.values[node] = self._run(node)
        except Exception:
            self.values[node] = _UNKNOWN  # the importer's own run (shape propagation) reports a real failure
        self.metas[node] = _meta_of(self.values[node])  # now: a later in-place op may change the value
        return proxy

    def _value(self, v):
        if isinstance(v, fx.Node):
            if v not in self.values and v.op == "get_attr":
                self.values[v] = _attribute(self.root, v.target)
            value = self.values.get(v, _UNKNOWN)
            if value is _UNKNOWN:
                raise LookupError(v.name)
            return value
        return v

    def _run(self, node: fx.Node):
        if node.op == "placeholder":
            if node.target in self.inputs:
                return self.inputs[node.target]
            return node.args[0] if node.args else _UNKNOWN
        if node.op == "get_attr":
            return _attribute(self.root, node.target)
        args = fx.node.map_aggregate(node.args, self._value)
        kwargs = fx.node.map_aggregate(node.kwargs, self._value)
        with torch.no_grad():
            if node.op == "call_function":
                return node.target(*args, **kwargs)
            if node.op == "call_method":
                return getattr(args[0], node.target)(*args[1:], **kwargs)
            if node.op == "call_module":
                self.running += 1
                try:
                    return _MODULE_CALL(self.root.get_submodule(node.target), *args, **kwargs)
                finally:
                    self.running -= 1
        return _UNKNOWN


# torch.fx.experimental.symbolic_shapes.uninteresting_files()'s modules (torch 2.x), by name
_UNINTERESTING = ("torch.fx.experimental.symbolic_shapes", "torch.export._trace", "torch.fx.experimental.recording",
                  "torch.fx.experimental.sym_node", "torch.fx.interpreter", "torch.fx._symbolic_trace", "torch",
                  "torch._compile", "torch._dynamo.eval_frame", "torch._inductor.sizevars", "torch._library.custom_ops",
                  "torch._library.fake_impl", "torch._subclasses.meta_utils", "torch._subclasses.fake_tensor",
                  "torch._logging._internal", "torch._logging.structured")


def _loaded_uninteresting_files() -> set:
    files = {"<string>"}
    for name in _UNINTERESTING:
        mod = sys.modules.get(name)
        if getattr(mod, "__file__", None):
            files.add(mod.__file__)
    hop = sys.modules.get("torch._higher_order_ops")
    if getattr(hop, "__file__", None):
        files.update(glob.glob(os.path.join(os.path.dirname(hop.__file__), "*.py")))
    guards = sys.modules.get("torch._dynamo.guards")
    if guards is not None:
        files |= guards.uninteresting_files()
    return files


def _meta_of(value):
    """(tensor_meta, type) as torch.fx's ShapeProp records them for a node with this value (tensor_meta None
    where no tensor is inside); _UNKNOWN for an unknown value."""
    from torch.fx.passes.shape_prop import _extract_tensor_metadata

    if value is _UNKNOWN:
        return _UNKNOWN
    found = False

    def extract(obj):
        nonlocal found
        if isinstance(obj, torch.Tensor):
            found = True
            return _extract_tensor_metadata(obj)
        return obj

    meta = fx.node.map_aggregate(value, extract)
    return (meta if found else None), type(value)


def apply_trace_metas(graph: fx.Graph, metas: dict) -> bool:
    """Give every node the tensor_meta / type shape propagation would, from the values the trace already
    computed (one forward run instead of two). False, and nothing changed, where a node's value is unknown."""
    found = {}
    for node in graph.nodes:
        if node.op == "output":
            continue
        m = metas.get(node, _UNKNOWN)
        if m is _UNKNOWN:
            return False
        found[node] = m
    for node, (meta, kind) in found.items():
        if meta is not None:
            node.meta["tensor_meta"] = meta
        node.meta["type"] = kind
    for node in graph.nodes:
        if node.op == "output":
            out = fx.node.map_aggregate(node.args[0], lambda a: found[a][0] if isinstance(a, fx.Node) else a)
            if any(isinstance(a, fx.Node) and found[a][0] is not None for a in node.all_input_nodes):
                node.meta["tensor_meta"] = out
            node.meta["type"] = found[node.args[0]][1] if isinstance(node.args[0], fx.Node) else type(node.args[0])
    return True


def _attribute(root, target: str):
    """The tensor at `target`, read without nn.Module.__getattr__ (fx patches it while tracing)."""
    obj = root
    for part in target.split("."):
        d = vars(obj)
        for table in ("_parameters", "_buffers", "_modules"):
            if part in d.get(table, {}):
                obj = d[table][part]
                break
        else:
            obj = d[part] if part in d else getattr(obj, part)
    return obj


def forward_arguments(module) -> list:
    """(name, default) of forward's parameters (self excluded); default inspect.Parameter.empty if none."""
    try:
        sig = inspect.signature(module.forward)
    except (TypeError, ValueError):
        return []
    return [(p.name, p.default) for p in sig.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def concrete_arguments(module, n_inputs: int) -> tuple:
    """(names of the first n forward arguments, {later argument: its default}) for fx's concrete_args."""
    params = forward_arguments(module)
    names = [n for n, _ in params[:n_inputs]]
    rest = {n: d for n, d in params[n_inputs:] if d is not inspect.Parameter.empty}
    return names, rest


_SIZE_TYPES = (int, float, bool, str, torch.dtype, torch.device, torch.memory_format, type(None), slice,
               type(Ellipsis))


def _is_size(v) -> bool:
    if isinstance(v, (tuple, list, torch.Size)):
        return all(_is_size(x) for x in v)
    return isinstance(v, _SIZE_TYPES) and v is not _UNKNOWN


def fold_sizes(graph: fx.Graph, values: dict, extra_placeholders: set) -> None:
    """Replace every use of a size-valued node by its value; drop the default arguments' placeholders and
    the checks fx adds on them, and the asserts on sizes (all true on the example input)."""
    for node in list(graph.nodes):
        if node.op in ("placeholder", "output") or node.op == "get_attr":
            continue
        value = values.get(node, _UNKNOWN)
        if value is not _UNKNOWN and _is_size(value) and node.users:
            for user in list(node.users):
                if user.op == "output":
                    continue
                user.args = fx.node.map_arg(user.args, lambda a, n=node, v=value: v if a is n else a)
                user.kwargs = fx.node.map_arg(user.kwargs, lambda a, n=node, v=value: v if a is n else a)
    for node in list(graph.nodes):
        if node.op == "call_function" and node.target is torch._assert and not _reads_tensor(node, values):
            graph.erase_node(node)
    for node in reversed(list(graph.nodes)):
        if node.op == "placeholder" and node.target in extra_placeholders:
            for user in list(node.users):
                _erase_with_users(graph, user)
            graph.erase_node(node)
    graph.eliminate_dead_code()


def _reads_tensor(node: fx.Node, values: dict) -> bool:
    return any(isinstance(values.get(a), torch.Tensor) for a in node.all_input_nodes)


def _erase_with_users(graph: fx.Graph, node: fx.Node) -> None:
    for user in list(node.users):
        _erase_with_users(graph, user)
    graph.erase_node(node)
