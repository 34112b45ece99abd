"""ONNX -> .nns: map a model's nodes to registry layers, recover its module tree, print readable text.

    result = import_model("resnet18.onnx")
    result.text    # .nns source;  result.model: the network built back, with the model's weights

Reading a model never runs code from it (protobuf only). Shapes come from ONNX's own shape
inference. Where node names carry module paths -- PyTorch's exporter writes
`/layer1/layer1.0/conv1/Conv`, nnlang's own emitter writes `layer1.0.conv1` -- each layer gets
that path, so the printer can recover blocks (instances with equal structure share one
definition); names that carry no path give a flat network. Value computations that only feed
sizes (Shape -> Gather -> Concat -> Reshape) are not layers: Reshape is read from the shapes
inference gives it. Every node that maps to no layer is reported at once, by name. The result is
verified like the PyTorch import: built back, given the weights, and run beside onnxruntime.
"""

from __future__ import annotations

import heapq
import re
from pathlib import Path
from typing import Optional

from ...ir.builder import BuildError, GraphBuilder
from ...ir.graph import Graph, Scope
from ...layers.base import TensorType
from ..importing import (ImportError_, ImportResult, by_node_order, check_difference, print_checked,  # noqa: F401
                         rebuild, write)
from .mapping import NNS_DTYPES
from .fusions import Fused, View, find_fusions
from .import_fold import _SIZE_OPS, fold_constants
from .import_scopes import dissolve_unordered
from .import_shapes import infer_first_shapes, reinfer
from .importers import Alias, Layer, Op, Unsupported, lookup

_DTYPES = NNS_DTYPES
_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def _attributes(node) -> dict:
    from onnx import helper

    return {a.name: _plain(helper.get_attribute_value(a)) for a in node.attribute}


def _plain(v):
    if isinstance(v, float):  # stored as float32: 1e-12, not 9.999999960041972e-13
        import numpy as np

        return float(str(np.float32(v)))
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _module_path(node_name: str) -> Optional[str]:
    """The module path a node name carries, or None. `/layer1/layer1.0/conv1/Conv` -> layer1.0.conv1
    (PyTorch), `layer1.0.conv1` -> layer1.0.conv1 and `layer1.0.act/Sigmoid` -> layer1.0.act (nnlang)."""
    if node_name.startswith("/"):
        parts = node_name.strip("/").split("/")[:-1]  # the last part names the op
        path, last = "", None
        for part in parts:
            if last is not None and part.startswith(last + "."):
                path += part[len(last):]  # `layer1` then `layer1.0`: the child's full name
            else:
                path = f"{path}.{part}" if path else part
            last = part
        return path or None
    head = node_name.rpartition("/")[0] if "/" in node_name else node_name
    if head and all(_NAME.match(p) for p in head.split(".")):
        return head
    return None


class _Converter:
    def __init__(self, model, name: str, inferred=None):
        """`inferred`: the graph ONNX shape inference returned for the model (value_info, outputs)."""
        from onnx import numpy_helper

        self.model = model
        g = model.graph
        inferred = g if inferred is None else inferred
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.consts: dict = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        self.initializers = set(self.consts)  # stored tensors, and their Identity copies (exporters dedupe)
        self.shapes: dict = {}
        self.dtypes: dict = {}
        for vi in list(inferred.value_info) + list(g.input) + list(inferred.output):
            self.shapes[vi.name] = _shape_of(vi)
            self.dtypes[vi.name] = _DTYPES.get(vi.type.tensor_type.elem_type)
        # Held for the converter's life: nodes are tracked by id(), which protobuf keeps stable only while
        # the wrapper object lives (a freed one's id can come back for another node).
        self.node_list = list(g.node)
        self.users: dict = {}
        self.graph_outputs = frozenset(o.name for o in model.graph.output)
        for node in g.node:
            for i in node.input:
                self.users.setdefault(i, []).append(node)
        self.builder = GraphBuilder(name)
        self.values: dict = {}  # ONNX value name -> tensor id (layer data)
        self.sizes: set = set()  # values that are sizes / shape computations
        self.consumed: set = set()  # ids of nodes absorbed by an earlier layer
        self.failed: set = set()  # values of nodes already reported
        self.problems: list = []
        self.names_used: dict = {}  # scope path -> set of local names
        self.weights: dict = {}  # node id -> {weight name: np.ndarray}
        self.folded: set = set()  # ids of nodes computed from constants alone (weights' transposes ...)
        self.dims: dict = {}  # value -> object array of dims (int or a symbol such as "N"): sizes with symbols

    def const(self, name: Optional[str]):
        return self.consts.get(name) if name else None

    def shape(self, name: Optional[str]):
        return self.shapes.get(name) if name else None

    def convert(self) -> Graph:
        g = self.model.graph
        b = self.builder
        for vi in g.input:
            if vi.name in self.consts:
                continue  # old exporters list initializers as inputs too
            shape = self.shapes.get(vi.name)
            elem = vi.type.tensor_type.elem_type
            dtype = _DTYPES.get(elem)
            if dtype is None:
                self.problems.append(f"input {vi.name!r}: its element type {_type_name(elem)} has no .nns dtype")
                continue
            if shape is None:
                self.problems.append(f"input {vi.name!r}: its shape is not given")
                continue
            if any(d == 0 for d in shape):
                self.problems.append(f"input {vi.name!r}: its shape {list(shape)} has a dim of size 0 (.nns sizes are "
                                     "positive)")
                continue
            self.values[vi.name] = b.input(_input_name(vi.name, b.graph.inputs), shape, dtype)
        fold_constants(self)
        for _ in range(128):  # shapes inferred again let more sizes fold (opset 13: a Swin stage needs a few rounds)
            if not reinfer(self) and not fold_constants(self):
                break
        nodes = [node for node in self.node_list if id(node) not in self.folded]
        for unit in _in_order(nodes, find_fusions(View(g, self.consts, self.shapes, self.opset), nodes)):
            if isinstance(unit, Fused):
                self.add_fused(unit)
                continue
            node = unit
            if id(node) in self.consumed:
                continue
            if any(i in self.failed for i in node.input):
                # Downstream of a reported node: report only an op that has no layer at all.
                self.failed.update(node.output)
                if node.op_type not in _SIZE_OPS and self.importer(node) is None:
                    self.problems.append(f"node {node.name or '(unnamed)'} ({node.op_type}): "
                                         f"no layer for {node.op_type} at opset {self.opset}")
                continue
            try:
                self.convert_node(node)
            except (Unsupported, BuildError) as e:
                self.failed.update(node.output)
                self.problems.append(f"node {node.name or '(unnamed)'} ({node.op_type}): {e}")
        for vi in g.output:
            if vi.name not in self.values:
                if not self.problems:
                    self.problems.append(f"output {vi.name!r} is not computed by any layer")
                continue
            b.output(_input_name(vi.name, b.graph.outputs), self.values[vi.name])
        if self.problems:
            raise ImportError_(f"{len(self.problems)} part(s) of the model cannot be written in .nns:\n  "
                               + "\n  ".join(self.problems))
        dissolve_unordered(b.graph)
        _mark_sequential(b.root, b.graph)
        return b.graph

    def add_fused(self, fused: Fused) -> None:
        layer = fused.layer
        if any(i in self.failed for i in layer.inputs):
            self.failed.update(layer.outputs)
            return
        last = next(n for n in fused.nodes if layer.outputs[0] in n.output)
        try:
            self.add_layer(last, layer)
        except (Unsupported, BuildError) as e:
            self.failed.update(layer.outputs)
            self.problems.append(f"node {last.name or '(unnamed)'} ({layer.op} from {len(fused.nodes)} nodes): {e}")

    def convert_node(self, node) -> None:
        data = [i for i in node.input if i in self.values]
        if not data:
            self.sizes.update(node.output)  # computed from sizes (Shape ...) only: not a layer
            return
        if node.op_type in _SIZE_OPS:
            self.sizes.update(node.output)
            return
        fn = self.importer(node)
        if fn is None:
            raise Unsupported(f"no layer for {node.domain + '.' if node.domain else ''}{node.op_type} "
                              f"at opset {self.opset}")
        op = Op(node, _attributes(node), self.const, self.shape, lambda v: self.users.get(v, []), self.opset,
                self.initializers, lambda v: self.dtypes.get(v) if v else None,
                lambda v: self.dims.get(v) if v else None, self.graph_outputs)
        result = fn(op)
        if isinstance(result, list):  # a chain of layers (Flatten -> Softmax -> Reshape)
            self.add_chain(node, result)
            return
        if isinstance(result, Alias):
            if result.source not in self.values:
                raise Unsupported("passes through a value that is not layer data")
            for out in node.output:
                self.values[out] = self.values[result.source]
            return
        self.add_layer(node, result)

    def add_chain(self, node, layers: list) -> None:
        """Each layer reads the one before, unless it names its inputs (value names, or earlier layers' outputs:
        a small graph such as the reshapes around a 3-D Attention)."""
        previous = None
        for k, layer in enumerate(layers):
            if previous is not None and layer.inputs is None:
                layer.inputs = [previous]
            if k < len(layers) - 1:
                if layer.outputs is None:
                    layer.outputs = [f"{node.output[0]}#{k}"]
                previous = layer.outputs[0]
            self.add_layer(node, layer)

    def importer(self, node):
        return lookup(node.op_type, self.opset) if node.domain in ("", "ai.onnx") else None

    def add_layer(self, node, layer: Layer) -> None:
        inputs = layer.inputs if layer.inputs is not None else [node.input[0]]
        missing = [i for i in inputs if i not in self.values]
        if missing:
            raise Unsupported(f"reads {', '.join(missing)}, which is not the result of a layer")
        outputs = layer.outputs or list(node.output)
        types = tuple(_type(self.shapes.get(o)) for o in outputs)
        scope, name = self.place(node, layer)
        data = [self.values[i] for i in inputs]
        if layer.pad_first is not None:
            data[:1] = self.builder.node("Pad", layer.pad_first, data[:1], scope)
        tids = self.builder.node(layer.op, layer.params, data, scope, name, types)
        self.weights[self.builder.graph.nodes[-1].id] = dict(layer.weights)
        for out, tid in zip(outputs, tids):
            self.values[out] = tid
        for other in layer.consumes:
            self.consumed.add(id(other))

    def place(self, node, layer: Layer):
        """(scope, local name) from the node's module path; weightless layers go unnamed."""
        path = layer.path or _module_path(node.name)
        if path is not None:  # `block1-0` (torchvision's RegNet): a layer name holds letters, digits and '_'
            path = ".".join(re.sub(r"[^A-Za-z0-9_]", "_", part) or "_" for part in path.split("."))
        if path is None:
            return self.builder.root, self.fresh_name(self.builder.root, node, layer)
        parent, _, local = path.rpartition(".")
        if not layer.weights:
            # A stateless call: its path names the module it ran in, or the stateless module itself.
            owner = path if self.is_container(path) else parent
            return self.builder.scope(owner) if owner else self.builder.root, ""
        if self.is_container(path):  # a module holding layers computes one itself (MaxViT's bias add): inside it
            parent, local = path, layer.op.lower()
        scope = self.builder.scope(parent) if parent else self.builder.root
        used = self.names_used.setdefault(scope.path, set())
        if local in used:
            return scope, ""
        used.add(local)
        return scope, local

    def is_container(self, path: str) -> bool:
        return path in self.builder.scopes

    def fresh_name(self, scope: Scope, node, layer: Layer) -> str:
        if not layer.weights:
            return ""
        base = re.sub(r"[^A-Za-z0-9_]", "_", node.name or "") or layer.op.lower()
        used = self.names_used.setdefault(scope.path, set())
        cand, k = base, 1
        while cand in used:
            cand, k = f"{base}_{k}", k + 1
        used.add(cand)
        return cand


def _in_order(nodes: list, fused: list) -> list:
    """Nodes and fused groups as units in a topological order that keeps the model's order where it
    can: a group runs once all its inputs exist, and before anything that reads its outputs."""
    group_of = {id(n): f for f in fused for n in f.nodes}
    units, seen = [], set()
    for node in nodes:
        unit = group_of.get(id(node), node)
        if id(unit) not in seen:
            seen.add(id(unit))
            units.append(unit)
    members = [u.nodes if isinstance(u, Fused) else [u] for u in units]
    made_by = {o: k for k, ns in enumerate(members) for n in ns for o in n.output}
    needs = [{made_by[i] for n in ns for i in n.input if i in made_by} - {k} for k, ns in enumerate(members)]
    readers: dict = {}
    for k, deps in enumerate(needs):
        for d in deps:
            readers.setdefault(d, []).append(k)
    waiting = [len(d) for d in needs]
    ready = [k for k, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        k = heapq.heappop(ready)
        order.append(units[k])
        for r in readers.get(k, ()):
            waiting[r] -= 1
            if waiting[r] == 0:
                heapq.heappush(ready, r)
    return order if len(order) == len(units) else units  # a cycle: not a valid model, keep its order


def _mark_sequential(root: Scope, graph: Optional[Graph] = None) -> None:
    """A scope whose children are all named by position and pass one tensor along is a Sequential group;
    the rest are blocks (a Sequential prints as a chain: x * HardSigmoid(x) in one would read as one)."""
    consumers = graph.consumers() if graph is not None else None
    for s in root.scopes():
        if s is root:
            continue
        names = [c.name for c in s.children if c.name]
        if names and all(n.isdigit() for n in names) and _is_chain(s, consumers):
            s.kind, s.type_name = "sequential", "Sequential"
        else:
            s.kind, s.type_name = "block", "Block"


def _is_chain(scope: Scope, consumers: Optional[dict]) -> bool:
    """Each child reads one tensor, its predecessor's one result, which nothing but that child reads."""
    previous = None
    for k, child in enumerate(scope.children):
        if isinstance(child, Scope):
            reads = child.external_inputs()
            inner = list(child.nodes())
            made = inner[-1].outputs if inner else []
            ids = {n.id for n in inner}
        else:
            reads, made, ids = list(dict.fromkeys(child.inputs)), child.outputs, {child.id}
        if len(reads) != 1 or (k and reads[0] != previous) or len(made) != 1:
            return False
        if k and consumers is not None and any(c not in ids for c in consumers.get(previous, ())):
            return False  # an inner result read elsewhere: a chain would hide it
        previous = made[0]
    return True


def _shape_of(vi) -> Optional[tuple]:
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    dims = []
    for d in t.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.dim_param and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", d.dim_param):
            dims.append(d.dim_param)
        else:
            dims.append("N" if not dims else "D")
    return tuple(dims)


def _type_name(elem: int) -> str:
    from onnx import TensorProto

    try:
        return TensorProto.DataType.Name(elem)
    except ValueError:
        return f"#{elem}"


def _type(shape) -> Optional[TensorType]:
    return None if shape is None else TensorType(tuple(shape))


def _constant_value(node):
    from onnx import helper, numpy_helper

    for a in node.attribute:
        if a.name == "value":
            return numpy_helper.to_array(a.t)
        v = helper.get_attribute_value(a)
        import numpy as np

        return np.asarray(v)
    return None


def _input_name(name: str, taken: list) -> str:
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name) or "x"
    if not re.match(r"^[A-Za-z_]", safe):
        safe = "x_" + safe
    names = {n for n, _ in taken}
    cand, k = safe, 2
    while cand in names:
        cand, k = f"{safe}_{k}", k + 1
    return cand


# ---- the whole import -------------------------------------------------------------------------

def load_model(path: str):
    import onnx

    p = Path(path)
    if not p.is_file():
        raise ImportError_(f"{path}: no such file")
    try:
        model = onnx.load(str(p), load_external_data=True)
    except Exception as e:  # protobuf DecodeError, missing external data ...
        raise ImportError_(f"{path}: not a readable ONNX model ({type(e).__name__}: {e})") from None
    return model


MAX_DIM = 1 << 24  # one dimension of a graph input (the verification run allocates inputs of this shape)
MAX_INPUT_ELEMENTS = 1 << 28


def _check_declared_sizes(model) -> None:
    """Refuse, naming the value, what would make a later step allocate or reshape absurdly: an empty graph,
    an input declaring 2^40 elements, an initializer whose bytes disagree with its declared shape."""
    import math

    import numpy as np
    from onnx import TensorProto, helper

    graph = model.graph
    if not graph.node:
        raise ImportError_("the ONNX graph has no nodes (an empty or truncated file?)")
    initialized = {t.name for t in graph.initializer}
    for value in graph.input:
        if value.name in initialized:
            continue
        dims = [d.dim_value for d in value.type.tensor_type.shape.dim if d.HasField("dim_value")]
        if any(d > MAX_DIM for d in dims) or math.prod(dims) > MAX_INPUT_ELEMENTS:
            raise ImportError_(f"graph input {value.name!r}: declared dims {dims} are too large to run "
                               f"(each dim at most {MAX_DIM:,}, at most {MAX_INPUT_ELEMENTS:,} elements)")
    typed = {TensorProto.FLOAT: "float_data", TensorProto.DOUBLE: "double_data", TensorProto.INT64: "int64_data",
             TensorProto.INT32: "int32_data", TensorProto.UINT64: "uint64_data"}
    for t in graph.initializer:
        count = math.prod(t.dims)
        if t.data_location == TensorProto.EXTERNAL or t.data_type == TensorProto.STRING:
            continue
        if t.HasField("raw_data"):
            try:
                itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
            except (KeyError, TypeError, ValueError):
                continue
            if t.data_type in (TensorProto.INT4, TensorProto.UINT4):
                continue  # packed two to a byte
            if len(t.raw_data) != count * itemsize:
                raise ImportError_(f"initializer {t.name!r}: {len(t.raw_data):,} bytes for declared shape "
                                   f"{list(t.dims)} ({count * itemsize:,} expected)")
        elif t.data_type in typed and len(getattr(t, typed[t.data_type])) != count:
            raise ImportError_(f"initializer {t.name!r}: {len(getattr(t, typed[t.data_type])):,} value(s) for "
                               f"declared shape {list(t.dims)} ({count:,} expected)")


def import_model(model_or_path, name: Optional[str] = None, verify: bool = True, tolerance: float = 1e-4,
                 header: Optional[str] = None, example_inputs: Optional[dict] = None) -> ImportResult:
    """Import an ONNX ModelProto (or a path to one). Verified on `example_inputs` ({input name: array}) where
    given, else on random ones; the tolerance is relative to the output's scale (max(1, max |y|)). Any
    failure is an ImportError_ -- a model that makes a step fail unexpectedly too, named as such."""
    try:
        return _import(model_or_path, name, verify, tolerance, header, example_inputs)
    except ImportError_:
        raise
    except (MemoryError, RecursionError) as e:
        raise ImportError_(f"the model is too large or too deeply nested to import ({type(e).__name__})") from None
    except Exception as e:  # noqa: BLE001 -- the import's promise: an ImportError_ whatever the file holds
        raise ImportError_(f"cannot import the model: {type(e).__name__}: {str(e).strip()[:300]}") from None


def _import(model_or_path, name, verify, tolerance, header, example_inputs) -> ImportResult:
    import onnx

    from .import_verify import compare

    source = None
    if not isinstance(model_or_path, onnx.ModelProto):
        source = str(model_or_path)
        model = load_model(source)
    else:
        model = model_or_path
    _check_declared_sizes(model)
    try:
        inferred = infer_first_shapes(model)
    except Exception as e:
        raise ImportError_(f"ONNX shape inference failed: {e}") from None
    name = name or _network_name(model, source)
    converter = _Converter(model, name, inferred.graph)
    graph = converter.convert()
    text, printed = print_checked(graph, header or f"Imported from {Path(source).name if source else 'an ONNX model'} "
                                                   "by `nnlang import`.")
    model_t = _rebuild(printed, graph, converter.weights)
    diff, scale = compare(model_t, model, graph, source, example_inputs) if verify else (None, None)
    check_difference(diff, max(tolerance, _precision_floor(model)), "the ONNX model", scale)
    result = ImportResult(text, graph, model_t, diff)
    result.reference_scale = scale
    return result


# The least relative tolerance an output's element type allows: 4 units in the last place (f16 2^-10, bf16
# 2^-7), since two runtimes computing in that type round differently (onnxruntime's f16 attention differs from
# torch's by half an ulp).
_ULPS = {10: 4 * 2.0 ** -10, 16: 4 * 2.0 ** -7}  # TensorProto.FLOAT16, BFLOAT16


def _precision_floor(model) -> float:
    return max((_ULPS.get(o.type.tensor_type.elem_type, 0.0) for o in model.graph.output), default=0.0)


def _network_name(model, source) -> str:
    raw = model.graph.name or (Path(source).stem if source else "Imported")
    safe = re.sub(r"[^A-Za-z0-9_]", "_", raw)
    if not safe or not re.match(r"^[A-Za-z]", safe) or safe.lower() in ("main_graph", "torch_jit", "graph"):
        safe = re.sub(r"[^A-Za-z0-9_]", "_", Path(source).stem) if source else "Imported"
        if not re.match(r"^[A-Za-z]", safe):
            safe = "Net_" + safe
    return safe


def _rebuild(printed: Graph, graph: Graph, weights: dict):
    """The printed network built with the PyTorch target, given the model's weights (the printed network names
    its layers as the import placed them: matched by node order)."""
    return rebuild(printed, by_node_order(graph, printed, weights), "the ONNX model")
