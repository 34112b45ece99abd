"""Caffe -> .nns: a prototxt (+ its caffemodel) read as data, mapped layer by layer to registry layers,
printed as readable text, and (with weights, when OpenCV is installed) run beside OpenCV's Caffe runtime.

    result = import_file("deploy.prototxt", weights="net.caffemodel")
    result.text    # .nns source;  result.model: the network built back with PyTorch, with the weights

The deploy network is the TEST phase of the file: layers whose include/exclude rules leave them out of
TEST are dropped; data layers become inputs (their label tops are dropped, with every layer reading a
label: losses, accuracy), and loss / accuracy / silence layers are left out with a note. Blob names are
values: an in-place layer (top == bottom) gives the name a new value. A BatchNorm whose output only a
Scale reads becomes one BatchNorm with that Scale's weight and bias. A Python layer is refused before
anything else; its module and param_str are never looked at.

Names: each layer keeps its Caffe name (sanitised). Names sharing a prefix (`inception_3a/1x1`,
`fire2/squeeze1x1`, ResNet's `res2a_branch1` / `bn2a_branch1`) put their layers in a block of that
prefix, so repeated structures print as one definition; if the printer cannot take them, the network
is printed flat.
"""

from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np

from ...ir.builder import BuildError, GraphBuilder
from ...ir.graph import Graph
from ...layers import registry
from ...layers.base import ShapeError, TensorType
from ..importing import (BuiltOnUse, ImportError_, ImportResult, Unsupported, by_node_order, check_difference,
                         guarded, print_checked, rebuild)
from ..onnx.load import _mark_sequential  # framework-free: which scopes are Sequential groups
from .import_fusions import fuse_idioms
from .importers import CLayer, lookup
from .reading import MAX_ELEMENTS, Net, check_shape, data_shape, read_caffemodel, read_prototxt
from .schema import caffe_pb2

DATA_TYPES = frozenset(("Data", "ImageData", "HDF5Data", "MemoryData", "WindowData", "DummyData",
                        "AnnotatedData", "VideoData"))
LEFT_OUT = frozenset(("Accuracy", "HDF5Output"))  # + every *Loss type
ACTIVATIONS = frozenset(("ReLU", "Sigmoid", "TanH", "ELU", "PReLU", "AbsVal", "BNLL", "Power", "Dropout"))
_RESNET = re.compile(r"^(res|bn|scale)(\d+[a-z]\d*)(?:_(.+))?$")  # res2a_branch2a, bn2a_branch1, res2a_relu
_DOTTED = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*(/[A-Za-z0-9_]+)?$")  # features.0.1/bn
_PREFIX = {"Convolution": "conv", "Deconvolution": "deconv", "InnerProduct": "fc", "BatchNorm": "bn",
           "Scale": "scale", "PReLU": "prelu"}
_WEIGHTED = frozenset(_PREFIX)


def _ident(text: str, prefix: str = "l") -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_") or prefix
    return s if re.match(r"^[A-Za-z]", s) else f"{prefix}_{s}"


def _type_name(scope: str) -> str:
    words = [w for w in re.split(r"[_\d]+", re.sub(r"\d+[a-z]?(?=_|$)", "", scope)) if w]
    return "".join(w[:1].upper() + w[1:] for w in words) or "Block"


def _scope_of(name: str) -> Optional[tuple]:
    """(block, local name) a Caffe layer name suggests, or None."""
    m = _RESNET.match(name)
    if m:
        kind, block, rest = m.groups()
        return f"res{block}", (rest or "") if kind == "res" else f"{kind}_{rest}" if rest else kind
    if "/" in name:
        head, _, rest = name.partition("/")
        return head, rest
    return None


def in_test_phase(layer, stages: bool = True) -> bool:
    """Caffe's StateMeetsRule for the deploy state: phase TEST, level 0, no stages (stages=False: any)."""
    def meets(rule) -> bool:
        if rule.HasField("phase") and rule.phase != 1:
            return False
        if rule.HasField("min_level") and rule.min_level > 0:
            return False
        if rule.HasField("max_level") and rule.max_level < 0:
            return False
        return not (stages and len(rule.stage))
    if len(layer.include):
        return any(meets(r) for r in layer.include)
    return not any(meets(r) for r in layer.exclude)


def python_role(net: Net, layer, given: dict) -> str:
    """What a Python layer is, read from the wiring only (its code is never looked at, let alone run):
    "data" (no bottoms, its first top's shape given with --input), "sink" (nothing reads its tops: a loss or
    a writer, left out of the deploy net like Caffe's own losses), or "code" (it computes inside the net)."""
    if not layer.bottom and layer.top and layer.top[0] in given:
        return "data"
    read = {b for other in net.layers if other is not layer and in_test_phase(other) for b in other.bottom}
    if not any(top in read for top in layer.top):
        return "sink"
    return "code"


def refuse_code(net: Net, given: Optional[dict] = None) -> None:
    for layer in net.layers:
        if layer.type == "Python" and in_test_phase(layer) and python_role(net, layer, given or {}) == "code":
            hint = " (a data layer: give its shape with --input)" if not layer.bottom else ""
            raise ImportError_(f"layer {layer.name!r} (Python): a Python layer runs code named by the file "
                               f"(module {layer.python_param.module!r}); refused, nothing from it is run{hint}")


class _Converter:
    def __init__(self, net: Net, blobs: Optional[dict], name: str, blocks: bool = True, given=None):
        self.net = net
        self.given: dict = dict(given or {})  # blob -> shape (batch first) from --input, for data layers
        self.blobs = blobs
        self.b = GraphBuilder(name)
        self.blocks = blocks
        self.values: dict = {}  # blob name -> tensor id (its current value)
        self.shapes: dict = {}  # tensor id -> shape
        self.absent: set = set()  # blob names left out (labels) or failed
        self.failed: set = set()
        self.problems: list = []
        self.notes: list = list(net.notes)
        self.weights: dict = {}  # node id -> {name: array}
        self.used_names: dict = {}
        self.writer: dict = {}  # blob name -> name of the layer whose top it last was (OpenCV's outputs)
        self.kept: list = []  # LayerParameters of the deploy network (for OpenCV)
        self.data_inputs = False
        self.input_blobs: dict = {}  # input tensor id -> Caffe blob name
        self.silenced: set = set()  # tensor ids a Silence layer reads
        self.extra: dict = dict(net.extra)  # layer name -> fields outside BVLC's schema / from import_fusions
        self.dotted = False  # layer names are module paths (placed by path, not by name prefix)
        self.fused_from: dict = {}  # fused layer name -> the file's layers it replaces (import_fusions)
        self.param_owner: dict = {}  # Caffe param name -> the layer that owns it (weight sharing)
        self.layer_inputs: dict = {}  # Caffe layer name -> the shapes of its bottoms (batch "N")

    # ---- the layers ----------------------------------------------------------------------------
    def convert(self) -> Graph:
        layers = [la for la in self.net.layers if in_test_phase(la)]
        # Data layers kept only for a stage (`test-on-train`): the first of those feeding a blob nothing else makes
        made = {t for la in layers for t in la.top} | {b for b, _ in self.net.inputs}
        kept_ids = {id(la) for la in layers}
        for la in self.net.layers:
            if la.type in DATA_TYPES and id(la) not in kept_ids and la.top and la.top[0] not in made \
                    and in_test_phase(la, stages=False):
                layers.insert(0, la)
                made.update(la.top)
        dropped = len(self.net.layers) - len(layers)
        if dropped:
            self.notes.append(f"{dropped} layer(s) only in the TRAIN phase left out")
            self.data_inputs = True
        for blob, shape in self.net.inputs:
            self.add_input(blob, shape)
        layers, self.fused_from, extra = fuse_idioms(layers, caffe_pb2())
        self.extra = {**self.net.extra, **extra}
        partners, fused = self.find_scales(layers)
        self.dotted = self.blocks and any("." in la.name for la in layers) and all(
            _DOTTED.match(la.name) for la in layers if la.type in _WEIGHTED)
        self.block_of = {} if self.dotted else self.plan_blocks(layers)
        # Caffe's own rule for a net's outputs: the blobs no later layer consumes (by name), even where
        # the value is also read under another name (an output a Split copies for another reader).
        self.available: dict = {}
        for layer in layers:
            if layer.type in LEFT_OUT or layer.type.endswith("Loss"):
                continue
            for b in layer.bottom:
                self.available.pop(b, None)
            for t in layer.top:
                self.available[t] = None
        for layer in layers:
            if layer.name in fused:
                self.keep(layer)
                for top in layer.top:
                    self.writer[top] = layer.name
                continue
            try:
                self.layer(layer, partners.get(layer.name))
            except (Unsupported, BuildError, ShapeError) as e:
                self.failed.update(layer.top)
                self.problems.append(f"layer {layer.name!r} ({layer.type}): {e}")
        if self.problems:
            raise ImportError_(f"{len(self.problems)} layer(s) of the net cannot be written in .nns:\n  "
                               + "\n  ".join(self.problems))
        self.add_outputs()
        if self.dotted:
            _mark_sequential(self.b.root)
        return self.b.graph

    def find_scales(self, layers: list) -> tuple:
        """({BatchNorm name: its Scale}, the Scales' names) for each BatchNorm whose output only a Scale reads, a
        Scale with a bias over the channel axis: exactly BatchNorm's affine weight and bias. (Without a bias
        the pair stays two layers, so the parameters stay those the prototxt declares.)"""
        partners, fused = {}, set()
        for k, layer in enumerate(layers):
            if layer.type != "BatchNorm" or len(layer.top) != 1:
                continue
            top, readers = layer.top[0], []
            for later in layers[k + 1:]:
                if top in later.bottom:
                    readers.append(later)
                if top in later.top:
                    break
            scale = readers[0] if len(readers) == 1 and readers[0].type == "Scale" else None
            if scale is not None and len(scale.bottom) == 1 and scale.scale_param.bias_term \
                    and scale.scale_param.axis == 1 and scale.scale_param.num_axes == 1:
                partners[layer.name] = readers[0]
                fused.add(readers[0].name)
        return partners, fused

    def plan_blocks(self, layers: list) -> dict:
        """layer name -> (block, local name): the blocks that hold two or more weighted layers."""
        if not self.blocks:
            return {}
        found = {layer.name: _scope_of(layer.name) for layer in layers}
        weighted: dict = {}
        for layer in layers:
            if found[layer.name] and layer.type in _WEIGHTED:
                weighted[found[layer.name][0]] = weighted.get(found[layer.name][0], 0) + 1
        blocks = {n: s for n, s in found.items() if s and weighted.get(s[0], 0) >= 2}
        names = {s[0] for s in blocks.values()}
        for layer in layers:  # `conv1` beside `conv1/bn`: the layer the block is named after joins it
            if layer.name in names and layer.name not in blocks:
                blocks[layer.name] = (layer.name, "")
        return blocks

    def add_input(self, blob: str, shape: tuple) -> None:
        taken = {n for n, _ in self.b.graph.inputs}
        name = _ident(blob, "x")
        while name in taken:
            name += "_"
        dims = ("N",) + tuple(int(d) for d in shape[1:])
        # Caffe's blobs are all float; an Embed reads its indices from them: the .nns input holds integers.
        indices = any(la.type == "Embed" and la.bottom and la.bottom[0] == blob for la in self.net.layers)
        tid = self.b.input(name, dims, "i64" if indices else "f32")
        self.input_blobs[tid] = blob
        self.values[blob] = tid
        self.shapes[tid] = dims
        self.absent.discard(blob)

    def layer(self, layer, partner) -> None:
        t = layer.type
        if t == "Python":  # never run: a data source given by --input, or a sink (refuse_code took the rest)
            if python_role(self.net, layer, self.given) == "data":
                self.data_layer(layer)
            else:
                self.notes.append(f"layer {layer.name!r} (Python, module {layer.python_param.module!r}) left out "
                                  "of the deploy network: nothing reads its tops (never run)")
                self.data_inputs = True
            return
        if t in DATA_TYPES:
            self.data_layer(layer)
            return
        if t == "Input":
            shapes = list(layer.input_param.shape)
            for k, top in enumerate(layer.top):
                s = shapes[k] if k < len(shapes) else shapes[0] if len(shapes) == 1 else None
                if s is None:
                    raise Unsupported(f"no shape for its top {top!r}")
                self.add_input(top, check_shape(tuple(s.dim), f"input {top!r}"))
            return
        if t == "Silence":  # its bottoms are read (by nothing that computes): not the net's outputs
            self.silenced.update(self.values[b] for b in layer.bottom if b in self.values)
            return
        if t in LEFT_OUT or t.endswith("Loss"):
            self.notes.append(f"layer {layer.name!r} ({t}) left out of the deploy network")
            self.data_inputs = True
            return
        if any(b in self.absent for b in layer.bottom):
            self.absent.update(layer.top)
            self.notes.append(f"layer {layer.name!r} ({t}) left out: it reads a label")
            self.data_inputs = True
            return
        if any(b in self.failed for b in layer.bottom):
            self.failed.update(layer.top)
            if lookup(t) is None:
                self.problems.append(f"layer {layer.name!r} ({t}): no registry layer for Caffe's {t}")
            return
        missing = [b for b in layer.bottom if b not in self.values]
        if missing:
            raise Unsupported(f"reads blob {missing[0]!r}, which no layer before it computes")
        fn = lookup(t)
        if fn is None:
            raise Unsupported(f"no registry layer for Caffe's {t}")
        if not layer.bottom:  # every mapped layer reads its first bottom (found by fuzzing: an IndexError)
            raise Unsupported("it has no bottom: no input to compute from")
        for spec in layer.param:
            if spec.name:
                owner = self.param_owner.setdefault(spec.name, layer.name)
                if owner != layer.name:
                    raise Unsupported(f"shares its weights (param {spec.name!r}) with layer {owner!r}: shared "
                                      "weights have no .nns form")
        blobs = None if self.blobs is None else self.blobs.get(layer.name, [])
        partner_blobs = None
        if partner is not None and self.blobs is not None:
            partner_blobs = self.blobs.get(partner.name, [])
        cl = CLayer(layer, [self.shapes[self.values[b]] for b in layer.bottom], blobs, partner, partner_blobs,
                    self.extra.get(layer.name, {}))
        if self.blobs is not None and t in _WEIGHTED and not blobs and not (t == "Scale" and len(layer.bottom) > 1):
            raise Unsupported("the caffemodel has no weights for it")
        steps = fn(cl)
        self.layer_inputs[layer.name] = cl.shapes
        if partner is not None:
            self.layer_inputs[partner.name] = cl.shapes
        self.keep(layer)
        self.emit(layer, steps, partner)

    def keep(self, layer) -> None:
        """A layer of the deploy net as the file has it (an idiom fused into one layer: the layers it replaces)."""
        self.kept.extend(self.fused_from.get(layer.name, [layer]))

    def data_layer(self, layer) -> None:
        self.data_inputs = True
        computing = [other for other in self.net.layers if in_test_phase(other) and other is not layer
                     and other.type not in LEFT_OUT and not other.type.endswith("Loss")
                     and any(top in other.bottom for top in layer.top)]
        if layer.top and not computing:  # labels: only losses / accuracy read them
            self.absent.update(layer.top)
            self.notes.append(f"data layer {layer.name!r} left out: only losses or accuracy read "
                              f"{', '.join(layer.top)} (labels)")
            return
        if layer.type == "DummyData":
            p = layer.dummy_data_param
            shape = tuple(p.shape[0].dim) if len(p.shape) else (p.num[0], p.channels[0], p.height[0], p.width[0]) \
                if len(p.num) else None
            shape = shape[1:] if shape else None
        elif layer.top and layer.top[0] in self.given:
            shape = self.given[layer.top[0]][1:]
        else:
            shape = data_shape(layer, self.notes)
        if shape is None:
            raise Unsupported("the prototxt does not give the shape of its data (it comes from the data set); "
                              f"give it with --input \"{layer.top[0] if layer.top else 'data'}: [N, C, H, W]\"")
        self.add_input(layer.top[0], check_shape((1,) + tuple(shape), f"data layer {layer.name!r}"))
        more = [top for top in layer.top[1:] if top in self.given]  # a second image (depth, HHA) given too
        for top in more:
            self.add_input(top, check_shape(self.given[top], f"data layer {layer.name!r}, top {top!r}"))
        rest = [top for top in layer.top[1:] if top not in self.given]
        self.absent.update(rest)
        if rest:
            self.notes.append(f"data layer {layer.name!r}: input {', '.join([layer.top[0]] + more)}; "
                              f"{', '.join(rest)} (labels) left out")

    def emit(self, layer, steps: list, partner) -> None:
        if not steps:  # the tops are the bottom
            for top in layer.top:
                self.values[top] = self.values[layer.bottom[0]]
                self.writer[top] = layer.name
            return
        refs = {f"b{k}": self.values[b] for k, b in enumerate(layer.bottom)}
        named = next((s for s in steps if s.op in _WEIGHTED_OPS), None)
        outs = []
        for j, step in enumerate(steps):
            inputs = step.inputs or (["b0"] if j == 0 else [f"s{j - 1}"])
            data = [refs[r] for r in inputs]
            last = j == len(steps) - 1
            n_out = len(layer.top) if last and step.op == "Split" else 1
            scope, local = self.place(layer, step is named, data, partner)
            tids = self.b.node(step.op, step.params, data, scope, local, (None,) * n_out)
            node = self.b.graph.nodes[-1]
            spec = registry.get(node.op)
            try:
                types = spec.infer(node.attrs, [TensorType(tuple(self.shapes[d]), self.b.graph.tensors[d].type.dtype
                                                           if self.b.graph.tensors[d].type else "f32")
                                                for d in data])
            except ShapeError as e:
                raise Unsupported(str(e)) from None
            for k, (tid, ty) in enumerate(zip(tids, types)):
                self.b.graph.tensors[tid].type = ty
                self.shapes[tid] = tuple(ty.shape)
                refs[f"s{j}" if k == 0 else f"s{j}.{k}"] = tid
            if step.weights:
                self.weights[node.id] = dict(step.weights)
            outs = tids
        tops = partner.top if partner is not None else layer.top  # BatchNorm + Scale: the Scale's tops
        if len(outs) != len(tops):
            raise Unsupported(f"{len(tops)} tops for {len(outs)} result(s)")
        for top, tid in zip(tops, outs):
            self.values[top] = tid
            self.writer[top] = partner.name if partner is not None else layer.name

    def place(self, layer, named: bool, data: list, partner=None):
        if partner is not None and layer.name.startswith(partner.name + "/"):
            layer = partner  # BatchNorm `bn/bn` + its Scale `bn` (nnlang's Caffe target): the pair is `bn`
        if self.dotted:
            return self.place_dotted(layer, named)
        block = self.block_of.get(layer.name)
        if block is None and layer.type in ACTIVATIONS and data:
            producer = self.b.graph.tensors[data[0]].producer
            if producer is not None and self.b.graph.nodes[producer].scope is not self.b.root:
                scope = self.b.graph.nodes[producer].scope
                return scope, ""
        if block is not None:
            path = _ident(block[0], "b")
            scope = self.b.scope(path, "block", _type_name(path))
            local = _ident(block[1], _PREFIX.get(layer.type, "l")) if block[1] else _PREFIX.get(layer.type, "l")
        else:
            scope, local = self.b.root, _ident(layer.name, _PREFIX.get(layer.type, "l"))
        if not named:
            return scope, ""
        used = self.used_names.setdefault(scope.path, set())
        cand, k = local, 2
        while cand in used or (scope is self.b.root and _ident(cand, "b") in self.b.scopes):
            cand, k = f"{local}_{k}", k + 1
        used.add(cand)
        return scope, cand

    def place_dotted(self, layer, named: bool):
        """Layer names that are module paths (`features.3.conv.0.0`, `features.0.1/bn`: nnlang's Caffe target
        writes them): the layer goes where its path says, as the ONNX import places PyTorch's paths."""
        path = layer.name.split("/", 1)[0]
        parent, _, local = path.rpartition(".")
        if not named:
            owner = path if path in self.b.scopes else parent
            return (self.b.scope(owner) if owner else self.b.root), ""
        scope = self.b.scope(parent) if parent else self.b.root
        used = self.used_names.setdefault(scope.path, set())
        if local in used:
            return scope, ""
        used.add(local)
        return scope, local

    def add_outputs(self) -> None:
        read = {t for node in self.b.graph.nodes for t in node.inputs}
        inputs = {tid for _, tid in self.b.graph.inputs}
        taken = {n for n, _ in self.b.graph.inputs}
        self.outputs = []  # (blob name, tid)
        # a value under several names (a Split's copies) is the output under the name no layer reads
        available = {self.values[b] for b in self.available if b in self.values}
        for blob, tid in self.values.items():
            if blob not in self.available and (tid in read or tid in available):
                continue
            if tid in inputs or tid in self.silenced or any(tid == o for _, o in self.outputs):
                continue
            name = _ident(blob, "y")
            while name in taken:
                name += "_"
            taken.add(name)
            self.b.output(name, tid)
            self.outputs.append((blob, tid))
        if not self.outputs:
            raise ImportError_("the net computes nothing (no layer's result is left unread)")


_WEIGHTED_OPS = frozenset(("Conv2d", "ConvTranspose2d", "Linear", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d",
                           "Scale", "PReLU", "Embedding"))


def _network_name(net: Net, source: str) -> str:
    raw = net.name or Path(source).stem
    safe = re.sub(r"[^A-Za-z0-9_]", "_", raw).strip("_")
    if not safe or not re.match(r"^[A-Za-z]", safe):
        safe = "Net_" + safe
    return safe[:1].upper() + safe[1:]


def convert(net: Net, blobs: Optional[dict], name: str, header: str, given=None) -> tuple:
    """(converter, text, printed graph): blocks from the layer names where the printer takes them, else flat."""
    conv = _Converter(net, blobs, name, blocks=True, given=given)
    graph = conv.convert()
    if conv.notes:  # what was left out or read with a warning, in the file's header
        header += "\n\nNotes on the import:\n" + "\n".join(f"- {n}" for n in conv.notes)
    try:
        text, printed = print_checked(graph, header)
    except ImportError_ as first:
        conv = _Converter(net, blobs, name, blocks=False, given=given)
        graph = conv.convert()
        try:
            text, printed = print_checked(graph, header)
        except ImportError_:
            raise first from None
    return conv, text, printed


def given_shapes(inputs) -> dict:
    """--input declarations ("data: [N, 3, 227, 227]") -> {blob: shape}, the batch size 1 where symbolic."""
    if not inputs:
        return {}
    from ..torch.load import parse_inputs  # the language's own input syntax

    out = {}
    for blob, shape, _dtype in parse_inputs(list(inputs)):
        if len(shape) < 2 or not all(isinstance(d, int) for d in shape[1:]):
            raise ImportError_(f"--input {blob}: a Caffe data blob needs fixed sizes after the batch, got {shape}")
        out[blob] = (1,) + tuple(shape[1:])
    return out


def import_file(source: str, weights: Optional[str] = None, name: Optional[str] = None, verify: bool = True,
                tolerance: float = 1e-4, header: Optional[str] = None, inputs=None) -> ImportResult:
    """Import a Caffe prototxt (weights: its .caffemodel; inputs: shapes of data layers the prototxt leaves
    to their data set, as `--input "data: [N, 3, 227, 227]"`)."""
    net = read_prototxt(source)
    given = given_shapes(inputs)
    refuse_code(net, given)
    blobs = read_caffemodel(weights) if weights else None
    header = header or f"Imported from {Path(source).name} by `nnlang import`."
    conv, text, printed = convert(net, blobs, name or _network_name(net, source), header, given)
    _check_size(printed)
    if blobs is None:  # no weights: nothing to carry, nothing to verify; the model is built if it is read
        return BuiltOnUse(text, conv.b.graph, lambda: guarded(
            "caffe", source, lambda: _rebuild(printed, conv.b.graph, conv.weights, strict=False)))
    model = _rebuild(printed, conv.b.graph, conv.weights, strict=True)
    diff = None
    if verify:
        diff = _compare_opencv(model, conv, source, weights)
        check_difference(diff, tolerance, "Caffe (OpenCV's runtime)")
    return ImportResult(text, conv.b.graph, model, diff)


def _check_size(printed: Graph) -> None:
    if printed.total_params > MAX_ELEMENTS:  # bounded before anything is allocated
        raise ImportError_(f"{printed.total_params:,} parameters: more than {MAX_ELEMENTS:,}, not built")


def _rebuild(printed: Graph, graph: Graph, weights: dict, strict: bool):
    """The printed network built with the PyTorch target, given the caffemodel's weights (by node order); a
    layer without blobs keeps the target's seeded values. Not strict (no caffemodel): structure only."""
    _check_size(printed)
    return rebuild(printed, by_node_order(graph, printed, weights) if strict else [], "the caffemodel",
                   unset="seeded")


def _compare_opencv(model, conv: _Converter, source: str, weights: str) -> Optional[float]:
    """Max |ours - OpenCV's| / max(1, |OpenCV's|) over the outputs on one random input; None without cv2."""
    try:
        import cv2  # noqa: F401
    except ImportError:
        return None
    if any(layer.type == "LRN" and layer.lrn_param.k != 1 for layer in conv.kept):
        conv.notes.append("not verified: OpenCV takes LRN's k as 1, this net has another k")
        return None
    if any(layer.type == "Clip" for layer in conv.kept):
        conv.notes.append("not verified: OpenCV has no Clip layer")
        return None
    import torch

    graph = conv.b.graph
    rng = np.random.default_rng(0)
    feeds = {}  # Caffe blob name -> an example input (batch 1), in the network's input order
    for _name, tid in graph.inputs:
        shape = (1,) + tuple(graph.tensor(tid).type.shape[1:])
        feeds[conv.input_blobs[tid]] = rng.standard_normal(shape).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        prototxt = source
        if conv.data_inputs:  # OpenCV runs a deploy net: write the one we read (Input layers, no losses)
            prototxt = str(Path(tmp) / "deploy.prototxt")
            Path(prototxt).write_text(deploy_text(conv, feeds))
        want = run_opencv(prototxt, weights, feeds, [(b, conv.writer[b]) for b, _ in conv.outputs])
    with torch.no_grad():
        got = model(*[torch.from_numpy(a) for a in feeds.values()])
    got = list(got) if isinstance(got, (tuple, list)) else [got]
    diff = 0.0
    for w, g in zip(want, got):
        g = g.numpy()
        if w.size != g.size:
            return math.inf
        w = w.reshape(g.shape)
        d = float(np.abs(w.astype(np.float64) - g).max()) / max(1.0, float(np.abs(w).max()))
        if not math.isfinite(d):  # NaN / inf in either: never "equal" (max() would drop a NaN)
            return math.inf
        diff = max(diff, d)
    return diff


def deploy_text(conv: _Converter, feeds: dict) -> str:
    from google.protobuf import text_format

    pb = caffe_pb2()
    net = pb.NetParameter(name=conv.net.name)
    for blob, array in feeds.items():
        layer = net.layer.add(name=f"input_{blob}", type="Input")
        layer.top.append(blob)
        layer.input_param.shape.add().dim.extend(array.shape)
    for layer in conv.kept:
        if layer.type in DATA_TYPES or layer.type == "Input":
            continue
        copy = net.layer.add()
        copy.CopyFrom(layer)
        del copy.include[:]
        del copy.exclude[:]
    return text_format.MessageToString(net)


def run_opencv(prototxt: str, caffemodel: str, feeds: dict, outputs: list) -> list:
    """OpenCV's DNN module running a Caffe net: the values of `outputs` ((blob, the layer writing it)) for `feeds`.
    OpenCV's forward takes layer names, and may rename a last layer after its top: ask by the name it has."""
    import cv2

    try:
        net = cv2.dnn.readNetFromCaffe(prototxt, caffemodel)
        for blob, array in feeds.items():
            net.setInput(np.ascontiguousarray(array, np.float32), blob)
        known = set(net.getLayerNames())
        outs = net.forward([layer if layer in known else blob for blob, layer in outputs])
    except cv2.error as e:
        raise ImportError_(f"OpenCV cannot run the net to verify the import: {str(e).strip().splitlines()[-1]}") \
            from None
    return [np.asarray(o) for o in outs]
