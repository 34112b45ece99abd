"""IR graph -> ONNX ModelProto, built with onnx.helper (no round trip through torch.onnx).

Names follow the .nns file: graph inputs and outputs keep their .nns names, every other IR tensor
is named by the path of the layer that makes it (`layer1.0.conv1`, `lstm:1` for a second result),
ONNX nodes are named by IR path (the node computing a layer's result; helper nodes of a
decomposition are `path/OpType`), and initializers by their state_dict keys
(`layer1.0.conv1.weight`). Every node's doc_string is the `file:line:col` of the .nns step that
made it. Symbolic dims (N, T) become named dynamic dims (dim_param); with dynamic_batch, dim 0 of
every input is made symbolic and the types are inferred again by the registry's own shape rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import onnx
from onnx import helper

from ...ir.graph import Graph
from ...layers.base import ShapeError, weight_key
from ..conversion import numpy_state  # noqa: F401 -- exported here too (tests and callers read it from emit)
from .builder import GraphBuilder, LayerBuilder, elem_type
from .mapping import NotExpressible, describe, lookup


class CompileError(Exception):
    """The network cannot be written as ONNX; `problems` lists (node, reason) for every node concerned."""

    def __init__(self, message: str, problems=()):
        super().__init__(message)
        self.problems = list(problems)


@dataclass
class Emission:
    nodes: list = field(default_factory=list)  # NodeProtos in order
    problems: list = field(default_factory=list)  # (IR node, reason)
    inputs: list = field(default_factory=list)  # ValueInfoProtos
    outputs: list = field(default_factory=list)
    value_info: list = field(default_factory=list)  # the IR's intermediate tensors, with their types
    weights: list = field(default_factory=list)  # initializer names read, in first-use order
    names: dict = field(default_factory=dict)  # IR tensor id -> ONNX value name


def site_text(site, document: str | None) -> str:
    """`file:line:col` of a site; the std library is shown as `std/<file>`."""
    from ...std import display_path

    path = display_path(site.path) if site.path is not None else (document or "<input>")
    return f"{path}:{site.span.line}:{site.span.column}"


def value_info(name: str, ttype):
    # An expression (H // 2) is a dim_param named by its text: ONNX only compares dim_params by name.
    dims = [d if isinstance(d, (int, str)) else None if d is None else str(d) for d in ttype.shape]
    return helper.make_tensor_value_info(name, elem_type(ttype.dtype), dims)


# ---- dynamic batch -------------------------------------------------------------------------------

def _batch_symbols(graph: Graph, types: dict) -> dict:
    """Integer dim 0 of the inputs -> a symbol not used elsewhere ("N", or "batch" ...)."""
    used = {d for _, tid in graph.inputs for d in (types[tid].shape if types[tid] else ()) if isinstance(d, str)}
    out: dict = {}
    candidates = iter(["N", "batch"] + [f"batch{k}" for k in range(1, 1000)])
    for _, tid in graph.inputs:
        t = types[tid]
        if t is None or not t.shape or not isinstance(t.shape[0], int) or t.shape[0] in out:
            continue
        name = next(c for c in candidates if c not in used)
        used.add(name)
        out[t.shape[0]] = name
    return out


def dynamic_batch_types(graph: Graph) -> tuple:
    """(types, problems): every tensor's type with dim 0 of each input symbolic, inferred again by the
    registry's shape rules; a layer whose rule needs the batch size known is a problem."""
    from ...layers.registry import get

    types = {t.id: t.type for t in graph.tensors}
    symbols = _batch_symbols(graph, types)
    for _, tid in graph.inputs:
        t = types[tid]
        if t is not None and t.shape and t.shape[0] in symbols and isinstance(t.shape[0], int):
            types[tid] = t.with_shape((symbols[t.shape[0]], *t.shape[1:]))
    problems = []
    for node in graph.nodes:
        ins = [types[t] for t in node.inputs]
        try:
            outs = get(node.op).infer(dict(node.attrs), ins)
        except ShapeError as e:
            problems.append((node, f"{node.op} needs the batch size known, so --dynamic-batch cannot be used: {e}"))
            continue
        for tid, t in zip(node.outputs, outs):
            types[tid] = t
    return types, problems


# ---- the graph -----------------------------------------------------------------------------------

def emit_graph(graph: Graph, opset: int, dynamic_batch: bool = False, document: str | None = None) -> Emission:
    """Every node through its mapping. Problems are collected, not raised: a compile reports them all."""
    em = Emission()
    if dynamic_batch:
        types, em.problems = dynamic_batch_types(graph)
        if em.problems:
            return em
    else:
        types = {t.id: t.type for t in graph.tensors}
    g = GraphBuilder(opset)
    names = em.names
    for node in graph.nodes:
        for w in node.weights:  # initializer names are taken before any value is named
            g.value_names.add(weight_key(node.path, w.name))
    for name, tid in graph.inputs:
        names[tid] = g.unique_value(name)
    output_name: dict = {}  # tensor id -> its (first) graph output name
    final_outputs = []
    for name, tid in graph.outputs:
        final = g.unique_value(name)
        final_outputs.append((final, tid))
        output_name.setdefault(tid, final)
    for node in graph.nodes:
        ins = [types[t] for t in node.inputs]
        outs = [types[t] for t in node.outputs]
        if any(t is None for t in ins + outs):
            em.problems.append((node, f"{node.op}: the type of a tensor is unknown (the file has errors)"))
            continue
        lb = LayerBuilder(g, node, [names.get(t, "") for t in node.inputs], ins, outs,
                          site_text(node.site, document))
        try:
            results = lookup(node.op, opset)(lb)
        except NotExpressible as e:
            em.problems.append((node, describe(e.reason, e.since, opset)))
            for tid in node.outputs:  # placeholders, so later layers can still be checked
                names[tid] = g.unique_value(f"{node.path}:unavailable")
            continue
        results = [results] if isinstance(results, str) else list(results)
        if len(results) != len(node.outputs):
            raise AssertionError(f"ONNX mapping of {node.op} gave {len(results)} results for {len(node.outputs)}")
        g.nodes.extend(_bind_results(g, lb, node, results, output_name, names))
        em.weights.extend(w for w in lb.weights if w not in em.weights)
    if em.problems:
        return em
    inputs = {tid for _, tid in graph.inputs}
    for final, tid in final_outputs:
        if names[tid] != final:  # an input given back, or one tensor under two output names
            g.nodes.append(helper.make_node("Identity", [names[tid]], [final], name=g.unique_node(final)))
    em.nodes = g.nodes
    em.inputs = [value_info(names[tid], types[tid]) for _, tid in graph.inputs]
    em.outputs = [value_info(final, types[tid]) for final, tid in final_outputs]
    outs = {tid for _, tid in graph.outputs}
    em.value_info = [value_info(names[t.id], types[t.id]) for t in graph.tensors
                     if t.id not in inputs and t.id not in outs and t.id in names]
    return em


def _bind_results(g: GraphBuilder, lb: LayerBuilder, node, results: list, output_name: dict, names: dict) -> list:
    """Give the layer's results the IR tensors' names; returns its NodeProtos, named after the IR path."""
    produced = {out for n in lb.nodes for out in n.outputs}
    bound = set()
    for i, (tid, r) in enumerate(zip(node.outputs, results)):
        target = output_name.get(tid)
        if target is None:
            target = g.unique_value(node.path if len(node.outputs) == 1 else f"{node.path}:{i}")
        if r in produced and r not in bound:  # a temporary name, local to this layer's nodes
            lb.rename(r, target)
            bound.add(r)
        else:  # a pass-through (Identity, Dropout ...) or a result given twice
            lb.rename(lb.op("Identity", r), target)
        names[tid] = target
    main = next((n for n in lb.nodes if names[node.outputs[0]] in n.outputs), None)
    return lb.finish(main)


# ---- the model -----------------------------------------------------------------------------------

def problems_message(problems: list, document: str | None) -> str:
    lines = [f"{len(problems)} layer{'s' if len(problems) != 1 else ''} cannot be written as ONNX:"]
    for node, reason in problems:
        lines.append(f"  {site_text(node.site, document)}: {node.path} ({node.op}): {reason}")
    return "\n".join(lines)


def build_model(graph: Graph, opset: int, weights: Mapping | None, document: str | None = None,
                dynamic_batch: bool = False, metadata: Mapping | None = None, emission: Emission | None = None):
    """The ModelProto of `graph` with initializers from `weights` (state_dict key -> numpy array).

    `weights` None: no initializers; every weight is a graph input of its declared type instead (a model
    to look at, a few KB however large the network, or to run with the weights fed in).
    Raises CompileError listing every node that cannot be written. `emission`: emit_graph's result for
    the same arguments, when the caller has it already."""
    from ... import __version__

    em = emission or emit_graph(graph, opset, dynamic_batch=dynamic_batch, document=document)
    if em.problems:
        raise CompileError(problems_message(em.problems, document), em.problems)
    declared = {}
    for node in graph.nodes:
        for w in node.weights:
            declared[weight_key(node.path, w.name)] = w
    decl = []
    for name in em.weights:
        if weights is None:
            w = declared[name]
            decl.append(helper.make_tensor_value_info(name, elem_type(w.dtype), list(w.shape)))
            continue
        arr = weights[name]
        if tuple(arr.shape) != tuple(declared[name].shape):
            raise CompileError(f"weight {name}: shape {tuple(arr.shape)}, the network expects "
                               f"{tuple(declared[name].shape)}")
        decl.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(arr.dtype), list(arr.shape)))
    value_infos = _checked_value_info(graph.name, em, decl, opset)
    inputs = em.inputs + (decl if weights is None else [])
    onnx_graph = helper.make_graph(em.nodes, graph.name, inputs, em.outputs, value_info=value_infos,
                                   doc_string=graph.doc or "")
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(onnx_graph, opset_imports=opsets, producer_name="nnlang",
                              producer_version=__version__, doc_string=graph.doc or "",
                              ir_version=helper.find_min_ir_version_for(opsets))
    # Initializers are made in place in the finished model: make_graph / make_model and append copy every
    # message they are given, which for the weights cost more than everything else together.
    for name in em.weights if weights is not None else ():
        _add_initializer(model.graph, name, weights[name])
    props = {"nnlang_network": graph.name}
    if document:
        props["nnlang_source"] = document
    props.update({str(k): str(v) for k, v in (metadata or {}).items()})
    helper.set_model_props(model, props)
    return model


_PLAIN = frozenset("float16 float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64 bool".split())


def _add_initializer(onnx_graph, name: str, arr) -> None:
    """onnx_graph.initializer += numpy_helper.from_array(arr, name), the bytes copied once (FCN-32s' 544 MB:
    from_array then append copied them three times, 1.6 s)."""
    from onnx import numpy_helper

    t = onnx_graph.initializer.add()
    if arr.dtype.name not in _PLAIN:  # bfloat16, float8 ...: onnx's own conversion
        t.CopyFrom(numpy_helper.from_array(arr, name))
        return
    t.name = name
    t.data_type = helper.np_dtype_to_tensor_dtype(arr.dtype)
    t.dims.extend(int(d) for d in arr.shape)
    t.raw_data = numpy_helper.tobytes_little_endian(arr)


def _checked_value_info(name: str, em: Emission, decl: list, opset: int) -> list:
    """The value_info of every tensor: the IR's types, completed by ONNX shape inference (strict: a
    disagreement with the IR's shapes is an error). Inference and the full check run on the graph with
    the initializers declared as inputs (`decl`: types only), so their cost does not grow with the weights."""
    skeleton_graph = helper.make_graph(em.nodes, name, em.inputs + decl, em.outputs, value_info=em.value_info)
    opsets = [helper.make_opsetid("", opset)]
    skeleton = helper.make_model(skeleton_graph, opset_imports=opsets,
                                 ir_version=helper.find_min_ir_version_for(opsets))
    inferred = onnx.shape_inference.infer_shapes(skeleton, check_type=True, strict_mode=True, data_prop=True)
    onnx.checker.check_model(inferred, full_check=True)
    return list(inferred.graph.value_info)


__all__ = [
    "CompileError",
    "Emission",
    "build_model",
    "dynamic_batch_types",
    "emit_graph",
    "numpy_state",
    "site_text",
]
