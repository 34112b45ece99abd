"""PyTorch -> .nns: trace an nn.Module with torch.fx, map it to registry layers, print readable text.

    result = import_module(torchvision.models.resnet18(), inputs=["x: [N, 3, 224, 224]"])
    result.text      # .nns source, blocks recovered from the module tree
    result.model     # the network built back from that text, carrying the module's weights

The tracer stops at the torch.nn modules the registry knows (Conv2d, BatchNorm2d ...) and traces
through everything else, so a user's own modules become blocks (`nn_module_stack` gives each
node its place in the module tree). Every call that has no registry layer is reported at once,
with the module it sits in and its source line. The result is then *checked*: the printed text is
analysed, built back with the PyTorch target, given the original weights, and run on the same
example input as the original module; a difference beyond the tolerance is an error, not a
silent wrong import.
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
import traceback
from pathlib import Path
from typing import Optional

import torch
import torch.fx as fx
from torch import nn

from ...analyze import analyze
from ...ir.builder import BuildError, GraphBuilder
from ...ir.graph import Graph, Scope
from ...layers.base import TensorType, weight_key
from ..importing import (ImportError_, ImportResult, check_difference, hoist_input_concats,  # noqa: F401
                         print_checked, write)
from . import importers
from .importers import PARAMS_META, SIZE_CALLS, Call, Layer, Unsupported, find_call
from .importers.constants import rewrite_constants
from .importers.fold import fold_size_constants
from .importers.inplace import functionalize_inplace
from .importers.own_weights import OWN_LAYER, OWNED, UNNAMED
from .containers import flat_containers, flat_path
from .tracing import ConcreteTracer, apply_trace_metas, concrete_arguments, fold_sizes

_TORCH_DTYPES = {"f32": torch.float32, "f64": torch.float64, "f16": torch.float16, "bf16": torch.bfloat16,
                 "i64": torch.int64, "i32": torch.int32, "i16": torch.int16, "i8": torch.int8, "u8": torch.uint8,
                 "bool": torch.bool}
EXAMPLE_SIZES = {"N": 2}  # sizes given to symbolic dims for the trace's example input
DEFAULT_SYMBOL_SIZE = 8


class _Cascade(Exception):
    """An input comes from a call already reported: no second message."""


_FAILED = object()


# ---- input declarations -------------------------------------------------------------------------

def parse_inputs(specs: list) -> list:
    """["x: [N, 3, 224, 224]", "t: [N, T] i64"] -> [(name, shape, dtype)], using the language's own syntax."""
    decls = ", ".join(specs)
    a = analyze(f"network Inputs {{\n    input {decls}\n}}\n")
    errors = [d for d in a.diagnostics if d.is_error and d.code != "E207"]  # (no output: expected here)
    if errors or a.graph is None:
        msg = errors[0].message if errors else "no inputs"
        raise ImportError_(f"--input {decls!r}: {msg} (write e.g. \"x: [N, 3, 224, 224]\")")
    out = []
    for name, tid in a.graph.inputs:
        t = a.graph.tensor(tid).type
        if t is None:
            raise ImportError_(f"--input {name}: needs a shape, e.g. \"{name}: [N, 3, 224, 224]\"")
        out.append((name, tuple(t.shape), t.dtype))
    return out


def _example(inputs: list, sizes: dict) -> list:
    gen = torch.Generator().manual_seed(0)
    tensors = []
    for _name, shape, dtype in inputs:
        dims = [d if isinstance(d, int) else sizes.get(d, EXAMPLE_SIZES.get(d, DEFAULT_SYMBOL_SIZE)) for d in shape]
        if dtype in ("f32", "f64", "f16", "bf16"):
            tensors.append(torch.randn(dims, generator=gen).to(_TORCH_DTYPES[dtype]))
        elif dtype == "bool":
            tensors.append(torch.randint(0, 2, dims, generator=gen).bool())
        else:
            tensors.append(torch.randint(0, 2, dims, generator=gen).to(_TORCH_DTYPES[dtype]))
    return tensors


# ---- tracing ------------------------------------------------------------------------------------

class _Tracer(ConcreteTracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if importers.is_mapped_module(m):
            return True
        return super().is_leaf_module(m, qualname)


def _where(node: fx.Node) -> str:
    """`file.py:12: code` of the user's line that made this node, if fx recorded it."""
    trace = node.stack_trace or node.meta.get("stack_trace") or ""
    lines = [ln.strip() for ln in trace.strip().splitlines()]
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("File ") and "/torch/" not in lines[i].replace("\\", "/"):
            code = lines[i + 1] if i + 1 < len(lines) and not lines[i + 1].startswith("File ") else ""
            loc = lines[i][5:].replace('"', "").split(", in ")[0].replace(", line ", ":")
            return f"{loc}: {code}".strip()
    return ""


def _trace(module: nn.Module, n_inputs: int, examples: list) -> fx.GraphModule:
    names, defaults = concrete_arguments(module, n_inputs)
    tracer = _Tracer([t.clone() for t in examples], names)  # (clones: an in-place op would change the input)
    try:
        graph = tracer.trace(module, concrete_args=defaults or None)
    except Exception as e:  # fx raises TraceError, TypeError, NotImplementedError ... on dynamic code
        frames = [f for f in traceback.extract_tb(e.__traceback__)
                  if "/torch/" not in f.filename.replace("\\", "/")]
        where = f" at {frames[-1].filename}:{frames[-1].lineno} (`{frames[-1].line}`)" if frames else ""
        raise ImportError_(f"torch.fx cannot trace {type(module).__name__}{where}: {e}. "
                           "Data-dependent control flow and Python-side tensor inspection cannot be traced; "
                           "rewrite that part without them.") from None
    gm = fx.GraphModule(module, graph)
    functionalize_inplace(gm.graph)  # before any dead-code pass drops an unread `x.add_(y)` (importers/inplace.py)
    fold_sizes(gm.graph, tracer.values, {f"{name}_1" for name in defaults})
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != n_inputs:
        names = ", ".join(n.target for n in placeholders)
        raise ImportError_(f"{type(module).__name__}.forward takes {len(placeholders)} input(s) ({names}); "
                           f"{n_inputs} --input declaration(s) given")
    gm.graph.eliminate_dead_code()
    gm.recompile()
    gm.nnlang_trace_metas = tracer.metas
    return gm


def _propagate(gm: fx.GraphModule, examples: list) -> None:
    from torch.fx.passes.shape_prop import ShapeProp

    # The trace ran every node on the example already: its shapes, unless a node's run failed there (then
    # shape propagation runs the graph and reports the failure)
    if apply_trace_metas(gm.graph, getattr(gm, "nnlang_trace_metas", {})):
        return
    try:
        with torch.no_grad():
            ShapeProp(gm).propagate(*examples)
    except Exception as e:
        raise ImportError_(f"running the traced module on the example input failed: {type(e).__name__}: {e}. "
                           "Check the --input shapes.") from None


# ---- fx graph -> IR -----------------------------------------------------------------------------

def _meta_shape(meta):
    return tuple(meta.shape) if hasattr(meta, "shape") and hasattr(meta, "dtype") else None


_DTYPE_NAMES = {v: k for k, v in _TORCH_DTYPES.items()}


def _tensor_type(meta) -> Optional[TensorType]:
    shape = _meta_shape(meta)
    return None if shape is None else TensorType(shape, _DTYPE_NAMES.get(meta.dtype, "f32"))


class _Converter:
    def __init__(self, gm: fx.GraphModule, name: str, inputs: list):
        self.gm = gm
        self.modules = dict(gm.named_modules())
        self.builder = GraphBuilder(name)
        self.graph = self.builder.graph
        self.inputs = inputs
        self.values: dict = {}  # fx node -> tensor id | nested tuple of them | None (not a tensor)
        self.entered: set = set()  # stack keys seen (a key seen again after leaving: a second call)
        self.problems: list = []
        self.calls = {}  # module qualname -> number of calls
        self.flat = flat_containers(gm)  # containers whose members are written in the parent (containers.py)
        self.moved: dict = {}  # {our key: the module's} for learned tensors read by another module than their owner
        for node in gm.graph.nodes:
            if node.op == "call_module":
                self.calls[node.target] = self.calls.get(node.target, 0) + 1

    def path(self, path: str) -> str:
        """A module path as the printed network names it (containers.py, clean_path)."""
        return clean_path(flat_path(path, self.flat))

    # -- tensors --

    def shape_of(self, v):
        if isinstance(v, fx.Node):
            meta = v.meta.get("tensor_meta")
            return _meta_shape(meta)
        return None

    # -- scopes --

    def scope_for(self, node: fx.Node, leaf: bool):
        """The scope the node belongs to, creating block / group scopes along its module stack."""
        stack = list((node.meta.get("nn_module_stack") or {}).items())
        if leaf and stack:
            stack = stack[:-1]
        scope = self.graph.root
        for key, (qualname, cls) in stack:
            if not qualname:
                continue
            if "@" in key:
                raise Unsupported(f"the module {qualname} ({cls.__name__}) is called more than once; "
                                  ".nns has no weight sharing")
            scope = self.child_scope(scope, self.path(qualname), cls)
        return scope

    def child_scope(self, parent: Scope, qualname: str, cls) -> Scope:
        """The scope of module `qualname` under `parent`; containers on the way (a ModuleList holding
        what is called) become groups."""
        existing = self.builder.scopes.get(qualname)
        if existing is not None:
            if existing.children and existing is not parent and self._left(existing):
                raise Unsupported(f"the module {qualname} ({cls.__name__}) is called more than once; "
                                  ".nns has no weight sharing")
            return existing
        if cls is nn.Sequential:
            return self.builder.scope(qualname, "sequential", "Sequential")
        return self.builder.scope(qualname, "block", cls.__name__)

    def _left(self, scope: Scope) -> bool:
        """Has the traversal moved on past this scope (so a new node in it is a second call)?"""
        last = self.graph.nodes[-1] if self.graph.nodes else None
        s = last.scope if last is not None else None
        while s is not None:
            if s is scope:
                return False
            s = s.parent
        return True

    # -- nodes --

    def add_node(self, fx_node: fx.Node, layer: Layer, inputs: list, scope: Scope, name: str) -> None:
        meta = fx_node.meta.get("tensor_meta")
        types = tuple(_tensor_type(m) for m in _flatten(meta))
        try:
            outs = self.builder.node(layer.op, layer.params, inputs, scope, name, types)
        except BuildError as e:
            raise Unsupported(str(e)) from None
        self.values[fx_node] = _rebuild(meta, iter(outs))

    def tensor_input(self, v) -> int:
        value = self.values.get(v) if isinstance(v, fx.Node) else None
        if value is _FAILED:
            raise _Cascade()
        if not isinstance(value, int):
            raise Unsupported("an input that is not a tensor made by an earlier layer")
        return value

    def convert(self) -> Graph:
        g = self.graph
        placeholders = iter(self.inputs)
        for node in self.gm.graph.nodes:
            try:
                self.convert_node(node, placeholders)
            except _Cascade:
                self.values[node] = _FAILED
            except Unsupported as e:
                self.values[node] = _FAILED
                where = _where(node)
                module = next(reversed(list((node.meta.get("nn_module_stack") or {}).values())), (None,))[0]
                place = f" in {module}" if module else ""
                self.problems.append(f"{_describe(node)}{place}: {e}" + (f"\n    at {where}" if where else ""))
        if self.problems:
            raise ImportError_(f"{len(self.problems)} part(s) of {g.name} cannot be written in .nns:\n  "
                               + "\n  ".join(self.problems))
        return g

    def convert_node(self, node: fx.Node, placeholders) -> None:
        g = self.graph
        if any(self.values.get(a) is _FAILED for a in node.all_input_nodes):
            # Downstream of a reported problem: report only what is wrong with this call itself.
            problem = self.unknown_operation(node)
            if problem:
                raise Unsupported(problem)
            raise _Cascade()
        if node.op == "placeholder":
            name, shape, dtype = next(placeholders)
            self.values[node] = self.builder.input(name, shape, dtype)
        elif node.op == "output":
            flat = []
            for v in _flatten_args(node.args[0]):
                value = self.values.get(v) if isinstance(v, fx.Node) else None
                if value is _FAILED:
                    raise _Cascade()
                for tid in _flatten_args(value):  # a layer's tuple returned as it is (chunk, LSTM)
                    if tid is None:
                        continue
                    if not isinstance(tid, int):
                        raise Unsupported("the network returns something that is not a tensor")
                    flat.append(tid)
            names = ["out"] if len(flat) == 1 else [f"out{i + 1}" for i in range(len(flat))]
            g.outputs = list(zip(names, flat))
        elif node.op == "get_attr":
            if node.meta.get(OWNED):
                self.values[node] = None  # its owner's own layer reads it (importers/own_weights.py)
                return
            problem = importers.parameter_problem(node)
            if problem:
                raise Unsupported(problem)
            self.values[node] = None  # a learned-tensor layer's own weight (importers/learned.py)
        elif node.op == "call_module":
            self.convert_module(node)
        else:
            self.convert_call(node)

    def unknown_operation(self, node: fx.Node) -> Optional[str]:
        if node.op == "call_module":
            cls = type(self.modules[node.target])
            if importers.module_importer_for(self.modules[node.target]) is None:
                return f"{cls.__module__}.{cls.__name__} has no nnlang layer"
        elif node.op in ("call_function", "call_method"):
            key, fn = find_call(node.op, node.target)
            if OWN_LAYER in node.meta or not _is_tensor_valued(node):
                return None  # a size computation (`==`, `//`, an assert) is no blocker of its own
            if fn is None and key not in SIZE_CALLS:
                return f"{_call_name(node)} has no nnlang layer"
        return None

    def convert_module(self, node: fx.Node) -> None:
        module = self.modules[node.target]
        cls = type(module)
        fn = importers.module_importer_for(module)
        if fn is None:
            raise Unsupported(f"{cls.__module__}.{cls.__name__} has no nnlang layer")
        if node.kwargs and any(isinstance(v, fx.Node) for v in node.kwargs.values()):
            raise Unsupported(f"{cls.__name__} called with tensor keyword arguments "
                              f"({', '.join(node.kwargs)}), e.g. masks")
        tensor_args = [a for a in node.args if a is not None]
        ins = [self.shape_of(a) for a in tensor_args]
        meta = node.meta.get("tensor_meta")
        layer = fn(module, ins)
        layer.params.update(node.meta.get(PARAMS_META, {}))  # decided by a rewrite (importers/patterns.py)
        if layer.op == "MultiheadAttention" and isinstance(meta, tuple) and meta[1] is None:
            layer.params["need_weights"] = False  # (output, None): getitem takes the output
        inputs = [self.tensor_input(a) for a in tensor_args]
        if layer.op == "MultiheadAttention" and len(set(inputs)) == 1:
            inputs = inputs[:1]
        scope = self.scope_for(node, leaf=True)
        target = self.path(node.target)
        rel = target[len(scope.path) + 1:] if scope.path else target
        if node.meta.get(UNNAMED):
            rel = ""  # a stateless part of a module that became one layer (importers/own_weights.py)
        if "." in rel:
            group_path, _, rel = rel.rpartition(".")
            scope = self.child_scope(scope, f"{scope.path}.{group_path}" if scope.path else group_path, nn.ModuleList)
        has_state = any(True for _ in module.parameters(recurse=False)) or any(True for _ in module.buffers(False))
        if self.calls.get(node.target, 0) > 1:
            if has_state:
                raise Unsupported(f"the module {node.target} is called {self.calls[node.target]} times; "
                                  ".nns has no weight sharing")
            rel = ""  # a stateless module used several times: one unnamed layer per use
        self.add_node(node, layer, inputs, scope, rel)

    def convert_call(self, node: fx.Node) -> None:
        if OWN_LAYER in node.meta:
            return self.convert_own_layer(node, *node.meta[OWN_LAYER])
        key, fn = find_call(node.op, node.target)
        meta = node.meta.get("tensor_meta")
        if key == "function:_operator.getitem":
            source = self.values.get(node.args[0]) if isinstance(node.args[0], fx.Node) else None
            if isinstance(source, tuple):
                self.values[node] = source[node.args[1]]
                return
            if _meta_shape(meta) is None:
                self.values[node] = None
                return
        elif key in SIZE_CALLS or (_meta_shape(meta) is None and not isinstance(meta, (tuple, list))):
            self.values[node] = None  # a size or other compile-time value
            return
        if fn is None:
            raise Unsupported(f"{_call_name(node)} has no nnlang layer")
        call = Call(node.target, tuple(node.args), dict(node.kwargs), self.shape_of, _meta_shape(meta))
        layer = fn(call)
        layer.params.update(node.meta.get(PARAMS_META, {}))  # decided by a rewrite (F.pad folded into a pool)
        inputs = [self.tensor_input(a) for a in layer.inputs]
        if layer.op == "Identity" or (layer.op == "Concat" and len(inputs) == 1):
            self.values[node] = inputs[0]  # no layer: .contiguous(), a one-tensor cat, dropout in eval
            return
        scope = self.scope_for(node, leaf=False)
        name = importers.parameter_name(scope.path, self.path(layer.path)) if layer.path else ""
        self.add_node(node, layer, inputs, scope, name)
        here = f"{scope.path}.{name}" if scope.path else name
        if layer.path and self.path(layer.path) != here:
            # a tensor read by another module is a layer where it is read; the rename table keeps its key
            self.moved[here] = layer.path
        for weight, key in layer.keys.items():
            self.moved[f"{here}.{weight}"] = key


    def convert_own_layer(self, node: fx.Node, layer: Layer, owner: str) -> None:
        """F.batch_norm(x, self.running_mean, ...) in module `owner`: the layer named as the owner. Its input is
        the call's first argument as the graph now has it (a later rewrite may have replaced the node)."""
        inputs = [self.tensor_input(node.args[0])]
        scope = self.scope_for(node, leaf=False)
        owner = self.path(owner)
        if scope.path and not owner.startswith(scope.path + "."):
            raise Unsupported(f"{scope.path} calls a functional form with the weights of {owner}; a layer is "
                              "named by the module that owns its weights")
        rel = owner[len(scope.path) + 1:] if scope.path else owner
        if "." in rel:
            group_path, _, rel = rel.rpartition(".")
            scope = self.child_scope(scope, f"{scope.path}.{group_path}" if scope.path else group_path, nn.ModuleList)
        self.add_node(node, layer, inputs, scope, rel)


def clean_path(path: str) -> str:
    """A module path with every name .nns can hold: characters other than letters, digits and '_' become
    '_' (torchvision's RegNet names its blocks `block1-0`). _rebuild_model maps the keys back."""
    if _NAME_OK.match(path):
        return path
    return ".".join(_BAD_CHAR.sub("_", part) for part in path.split("."))


_NAME_OK = re.compile(r"^[A-Za-z0-9_.]*$")
_BAD_CHAR = re.compile(r"[^A-Za-z0-9_]")


def renamed_keys(state_keys, flat: frozenset = frozenset()) -> dict:
    """{our state_dict key: the module's own key} for the keys clean_path (and flat_path, for the containers
    in `flat`) change: the rename table."""
    return {clean_path(flat_path(k, flat)): k for k in state_keys if clean_path(flat_path(k, flat)) != k}


def _is_tensor_valued(node: fx.Node) -> bool:
    meta = node.meta.get("tensor_meta")
    return _meta_shape(meta) is not None or isinstance(meta, (tuple, list))


def _flatten(meta):
    if _meta_shape(meta) is not None:
        yield meta
    elif isinstance(meta, (tuple, list)):
        for m in meta:
            yield from _flatten(m)


def _rebuild(meta, ids):
    if _meta_shape(meta) is not None:
        return next(ids)
    if isinstance(meta, (tuple, list)):
        return tuple(_rebuild(m, ids) for m in meta)
    return None


def _flatten_args(arg):
    if isinstance(arg, (tuple, list)):
        for a in arg:
            yield from _flatten_args(a)
    elif isinstance(arg, dict):
        for a in arg.values():
            yield from _flatten_args(a)
    else:
        yield arg


def _call_name(node: fx.Node) -> str:
    if node.op == "call_method":
        return f"the method .{node.target}()"
    t = node.target
    return f"{getattr(t, '__module__', '') or ''}.{getattr(t, '__name__', t)}".lstrip(".")


def _describe(node: fx.Node) -> str:
    if node.op == "call_module":
        return f"call of {node.target}"
    if node.op in ("call_function", "call_method"):
        return _call_name(node)
    return f"{node.op} {node.target}"


# ---- the whole import ---------------------------------------------------------------------------

def import_module(module: nn.Module, inputs: list, name: Optional[str] = None, sizes: Optional[dict] = None,
                  verify: bool = True, tolerance: float = 1e-4, header: Optional[str] = None,
                  examples: list | None = None) -> ImportResult:
    """Import an nn.Module. `inputs`: declarations as written in .nns (`"x: [N, 3, 224, 224]"`) or
    (name, shape, dtype) triples; `sizes`: example sizes for symbolic dims (N: 2, others 8);
    `examples`: the input tensors to trace and verify with, where random ones would not do (a loss
    that takes probabilities); their sizes must fit the declarations."""
    decls = parse_inputs(inputs) if inputs and isinstance(inputs[0], str) else list(inputs)
    name = name or type(module).__name__
    was_training = module.training
    module.eval()
    try:
        examples = list(examples) if examples is not None else _example(decls, sizes or {})
        gm = _trace(module, len(decls), examples)
        _propagate(gm, examples)
        importers.rewrite(gm, decls)
        batch_symbolic = bool(decls) and not isinstance(decls[0][1][0], int)
        if fold_size_constants(gm, examples, batch_symbolic):  # sin-cos tables, masks made from sizes
            rewrite_constants(gm)
            gm.graph.eliminate_dead_code()
        converter = _Converter(gm, name, decls)
        graph = converter.convert()
        hoist_input_concats(graph)
        cls = type(module)
        text, printed = print_checked(graph, header or f"Imported from {cls.__module__}.{cls.__qualname__} "
                                                       "by `nnlang import`.")
        # tensors fx made constants of the trace (`_tensor_constantN`: a mask computed in forward) that a layer
        # took as its weight: not keys of the module's state_dict
        traced = {k: v for k, v in gm.named_buffers() if k.startswith("_tensor_constant")}
        model, unused = _rebuild_model(printed, module, converter.flat, converter.moved, traced)
        diff, scale = _compare(model, module, examples) if verify else (None, None)
    finally:
        module.train(was_training)
    check_difference(diff, tolerance, name, scale)
    result = ImportResult(text, graph, model, diff, unused, reference_scale=scale)
    result.renames = model.nnlang_renames  # {our state_dict key: the module's}, where a name had to be cleaned
    return result


def _rebuild_model(printed: Graph, module: nn.Module, flat: frozenset = frozenset(), moved: Optional[dict] = None,
                   traced: Optional[dict] = None):
    from .builder import build_graph
    from .weights import load_state_dict

    model = build_graph(printed)
    ours = model.state_dict()
    theirs = module.state_dict()
    # a non-persistent buffer (timm's imagenet_mean) read as a constant operand is a weight of ours
    transient = {k: v for k, v in module.named_buffers() if k not in theirs}
    transient.update(traced or {})
    theirs.update(transient)
    renames = renamed_keys(theirs, flat)
    renames.update(moved or {})
    # an index the layer computes (the registry's derived weights: a window's token-pair index) is theirs only
    # where it holds the layer's values, in whatever layout (MaxViT keeps it [n, n])
    derived = {weight_key(n.path, w.name) for n in printed.nodes for w in n.weights if w.derived}
    renames = {new: old for new, old in renames.items() if new not in derived
               or (old in theirs and theirs[old].reshape(-1).tolist() == ours[new].reshape(-1).tolist())}
    theirs.update({new: theirs[old].reshape(ours[new].shape) if new in derived else theirs[old]
                   for new, old in renames.items()})
    for k in ours:  # a BatchNorm subclass without the training counter (timm's BatchNormAct2d): it starts at 0
        if k.endswith("num_batches_tracked") and k not in theirs:
            theirs[k] = torch.zeros((), dtype=torch.long)
        elif k in derived and k not in theirs:
            theirs[k] = ours[k]  # the built index, checked equal to theirs on import
    missing = [k for k in ours if k not in theirs]
    if missing:
        raise ImportError_("weights the printed network has but the module lacks (a naming bug): "
                           + ", ".join(missing[:20]))
    unused = [k for k in theirs if k not in ours and k not in renames.values() and k not in transient]
    load_state_dict(model, {k: _fit(theirs[k], ours[k]) for k in ours}, strict=True, source=type(module).__name__)
    model.eval()
    model.nnlang_renames = renames  # the rename table: our key -> the module's (ImportResult.renames)
    return model, unused


def _fit(theirs, ours):
    """Their tensor in our layout where they differ only by size-1 dims (timm's layer scale [C] read as
    gamma.view(1, -1, 1, 1) is the language's LayerScale [C, 1, 1])."""
    if theirs.shape != ours.shape and [d for d in theirs.shape if d != 1] == [d for d in ours.shape if d != 1]:
        return theirs.reshape(ours.shape)
    return theirs


def _compare(model: nn.Module, module: nn.Module, examples: list) -> tuple:
    """(max |ours - theirs|, max |theirs|) over the outputs: the difference is judged relative to the scale."""
    with torch.no_grad():
        want = list(_flatten_args(module(*examples)))
        got = model(*examples)
    got = list(_flatten_args(got))
    if len(want) != len(got):
        return math.inf, None
    diff, scale = 0.0, 0.0
    for a, b in zip(want, got):
        if not isinstance(a, torch.Tensor) or a.shape != b.shape:
            return math.inf, None
        if a.numel():
            diff = max(diff, (a.double() - b.double()).abs().max().item())
            scale = max(scale, a.double().abs().max().item())
    return diff, scale


# ---- files --------------------------------------------------------------------------------------

def load_class(spec: str):
    """`path/model.py:ClassName` -> the class. Runs that Python file: it is the user's own model code."""
    path, sep, cls_name = spec.rpartition(":")
    if not sep or not path.endswith(".py") or not cls_name.isidentifier():
        raise ImportError_(f"{spec!r}: expected FILE.py:ClassName")
    file = Path(path)
    if not file.is_file():
        raise ImportError_(f"{path}: no such file")
    mod_name = f"_nnlang_import_{abs(hash(str(file.resolve())))}"
    spec_ = importlib.util.spec_from_file_location(mod_name, file)
    module = importlib.util.module_from_spec(spec_)
    sys.modules[mod_name] = module
    sys.path.insert(0, str(file.parent.resolve()))
    try:
        spec_.loader.exec_module(module)
    except Exception as e:
        raise ImportError_(f"{path}: running it failed: {type(e).__name__}: {e}") from None
    finally:
        sys.path.pop(0)
    cls = getattr(module, cls_name, None)
    if cls is None or not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise ImportError_(f"{path} has no nn.Module class {cls_name!r}")
    return cls


def is_module_spec(spec: str) -> bool:
    """`package.module:factory` (an installed module, not a file): torchvision.models:vit_b_16, timm:resnet50."""
    head, sep, attr = spec.rpartition(":")
    return bool(sep) and attr.isidentifier() and all(p.isidentifier() for p in head.split("."))


def load_factory(spec: str):
    """`package.module:factory` -> (callable that makes the module, its name). Imports that installed module
    (its code runs, as `import` does). `timm:NAME` where timm has no such attribute: timm.create_model(NAME)."""
    mod_name, _, attr = spec.rpartition(":")
    if not is_module_spec(spec):
        raise ImportError_(f"{spec!r}: expected package.module:factory, e.g. torchvision.models:resnet18")
    try:
        package = importlib.import_module(mod_name)
    except Exception as e:
        raise ImportError_(f"{mod_name}: cannot import it: {type(e).__name__}: {e}") from None
    fn = getattr(package, attr, None)
    if fn is None and callable(getattr(package, "create_model", None)):  # a model registry by name (timm)
        return (lambda **kw: package.create_model(attr, **kw)), f"{mod_name}.create_model({attr!r})"
    if not callable(fn):
        raise ImportError_(f"{mod_name} has no function or class {attr!r}")
    return fn, f"{mod_name}.{attr}"


def import_file(spec: str, inputs: list, kwargs: Optional[dict] = None, weights: Optional[str] = None,
                **options) -> ImportResult:
    """`nnlang import model.py:Class` or `package.module:factory`: construct the class or call the factory
    (with kwargs), load weights if given, import. `options` go to import_module (name, sizes, verify,
    tolerance, header, examples)."""
    from .weights import WeightsError, load_state_dict_file

    if not spec.rpartition(":")[0].endswith(".py") and is_module_spec(spec):
        cls, what = load_factory(spec)
        options.setdefault("header", f"Imported from {spec} by `nnlang import`.")
    else:
        cls = load_class(spec)
        what = cls.__name__
    try:
        module = cls(**(kwargs or {}))
    except Exception as e:
        raise ImportError_(f"{what}({', '.join(f'{k}=...' for k in kwargs or {})}) failed: "
                           f"{type(e).__name__}: {e}") from None
    if not isinstance(module, nn.Module):
        raise ImportError_(f"{what}(...) made a {type(module).__name__}, not a torch.nn.Module")
    cls = type(module)
    if weights is not None:
        try:
            state = load_state_dict_file(weights)
        except WeightsError as e:
            raise ImportError_(str(e)) from None
        result = module.load_state_dict(state, strict=False)
        if result.missing_keys or result.unexpected_keys:
            raise ImportError_(f"{weights} does not fit {cls.__name__}: missing {list(result.missing_keys)[:10]}, "
                               f"unexpected {list(result.unexpected_keys)[:10]}")
    options.setdefault("header", f"Imported from {Path(spec.rpartition(':')[0]).name}:{cls.__name__} "
                                 "by `nnlang import`.")
    return import_module(module, inputs, **options)


