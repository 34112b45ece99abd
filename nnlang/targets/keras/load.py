"""Keras -> .nns: read the model's config as data, map each layer (class_name + config) to registry layers,
convert channels_last to the IR's layout, print readable text, verify against Keras.

    result = import_file("resnet50.keras")      # or model.h5, or a Keras 2.x model.json [+ weights=W.h5]
    result.text    # .nns source;  result.model: the network built back with PyTorch, with the weights

Safety: the config is read with zipfile / h5py / json and checked (source.check_config) before
anything else; Lambda layers, custom classes and `module` paths outside Keras are refused and never
deserialised. Only after that check does Keras load a `.keras` / `.h5` (safe_mode=True), to give the
weights and to run the original beside the import.

The layout pass: each tensor is either "moved" (channels_last in Keras, held channels_first in the IR:
Keras (N, H, W, C) is the IR's (N, C, H, W)) or in Keras's own order. Each layer says what it needs
(importers.Out.needs): spatial layers with data_format channels_last and channel-axis BatchNorm /
LayerScale / Rescaling need "cl", Dense / LSTM / Reshape / Flatten need Keras's order, element-wise
layers take either and axis layers (Concatenate, Softmax) get their axis remapped. Where a tensor is
not in the layout its reader needs, a Permute is inserted. A Flatten of a moved tensor read only by
Dense layers flattens in C, H, W order instead, and the Dense rows are permuted to match (the
transpose folded into the weights); conv kernels are converted HWIO -> OIHW by the importers.
Model inputs a channels_last layer reads are taken channels_first (N, C, H, W), as the PyTorch target
would take them; outputs stay in the IR's layout (verification transposes them back). A Dense over the
channels of a moved map is a 1x1 convolution, and a Reshape (N, C) -> (N, 1, .., 1, C) read by
channels_last layers is made channels_first directly, so neither needs a Permute; a Permute that is
needed goes into its reader's block (a block must stay contiguous to print as one).

Blocks: nested Sequential / Functional models are blocks (names inside them lose the words all of them
share and Keras's counters on default names, so instances of one builder are one definition), layers
named `<...>block<n>_<local>` are grouped into blocks, and `add([block(x), x])` joins its block; the
printer turns instances of one structure into one parameterised definition. Unknown sizes besides the
batch become named sizes (T, H, W).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ...ir.builder import BuildError, GraphBuilder
from ...ir.graph import Graph
from ..importing import ImportError_, ImportResult, Layer, Unsupported, check_difference, print_checked, rebuild
from .import_blocks import segment_blocks, short_names
from .importers import PASS_THROUGH, KLayer, lookup
from .source import MAX_ELEMENTS, MODELS, check_config, model_layers, read_config

_BLOCK = re.compile(r"^(.*?block_?\d+[a-z]?)_(.+)$")
_ELEMENTWISE_THROUGH = PASS_THROUGH | {"Activation", "ReLU", "LeakyReLU", "ELU"}


@dataclass
class T:
    """A value: IR tensor id, Keras shape (batch None), whether it is held moved, a pending Flatten row order."""

    tid: int
    shape: tuple
    moved: bool = False
    rows: Optional[np.ndarray] = None


def _readers(name: str, consumers: dict, depth: int = 0) -> list:
    """The layers reading a layer's output, looking through Dropout and the like (no layer at inference)."""
    out = []
    for entry in consumers.get(name, []):
        if entry["class_name"] in PASS_THROUGH and depth < 64:
            out += _readers(entry.get("name") or entry["config"]["name"], consumers, depth + 1)
        else:
            out.append(entry)
    return out


def _history(value) -> list:
    """(layer, node, tensor) of every Keras tensor in a Keras 3 call's args."""
    out = []
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            h = value["config"]["keras_history"]
            return [(h[0], int(h[1]), int(h[2]))]
        for v in value.values():
            out += _history(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            out += _history(v)
    return out


def _inbound(layer: dict) -> list:
    """[[(layer, node, tensor), ...] per call] of a Functional model's layer entry (Keras 2 or 3 form)."""
    calls = []
    for node in layer.get("inbound_nodes") or []:
        if isinstance(node, dict):  # Keras 3
            kwargs = node.get("kwargs") or {}
            tensors = [k for k, v in kwargs.items() if _history(v)] if isinstance(kwargs, dict) else ["?"]
            if tensors:
                raise Unsupported(f"tensors given as keyword arguments ({', '.join(map(str, tensors))}: initial "
                                  "states or masks, which the registry's layers do not take)")
            calls.append(_history(node.get("args", [])))
        else:  # Keras 2: [[name, node, tensor, kwargs], ...]
            calls.append([(e[0], int(e[1]), int(e[2])) for e in node])
    return calls


def _refs(value) -> list:
    """input_layers / output_layers: [name, node, tensor] or a list of those."""
    if value and isinstance(value[0], str):
        return [(value[0], int(value[1]), int(value[2]))]
    return [(v[0], int(v[1]), int(v[2])) for v in value]


def _ident(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", text) or "x"
    return s if re.match(r"^[A-Za-z]", s) else "l" + s


def _type_name(scope: str) -> str:
    words = [w for w in re.split(r"[_\d]+", re.sub(r"\d+[a-z]?(?=_|$)", "", scope)) if w]
    return "".join(w[:1].upper() + w[1:] for w in words) or "Block"


def _batch_shape(cfg: dict) -> Optional[tuple]:
    shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
    if shape is None and cfg.get("input_shape") is not None:
        shape = [None] + list(cfg["input_shape"])
    return None if shape is None else tuple(shape)


def _symbolic(shape: tuple) -> tuple:
    """A Keras shape with its unknown sizes named: a sequence's length T, an image's H, W (D, H, W in 3-D);
    two inputs may share a name (the same unknown length), which the language then requires equal."""
    names = {3: ("T",), 4: ("H", "W"), 5: ("D", "H", "W")}.get(len(shape), ())
    out = list(shape)
    for i, d in enumerate(shape[1:-1], 1):
        if d is None:
            out[i] = names[i - 1] if i - 1 < len(names) else f"D{i}"
    if len(shape) == 2 and shape[1] is None:
        out[1] = "T"
    return tuple(out)


def _wants_cl(cfg: dict, cls: str) -> bool:
    if cls in MODELS:  # a nested model: what its first layer wants
        first = [e for e in model_layers(cfg) if e.get("class_name") != "InputLayer"][:1]
        return bool(first) and _wants_cl(first[0].get("config") or {}, first[0]["class_name"])
    if "data_format" in cfg:
        return cfg["data_format"] != "channels_first"
    return cls in ("BatchNormalization", "Rescaling", "Normalization", "LayerScale")


class _Converter:
    def __init__(self, name: str, weights, blocks: bool = True):
        self.b = GraphBuilder(name)
        self.weights_of = weights  # fn(path: tuple of layer names) -> [np.ndarray] or None
        self.blocks = blocks
        self.keras3 = True
        self.node_weights: dict = {}  # node id -> {name: array}
        self.used: dict = {}  # scope path -> names used
        self.short: dict = {}  # (nested model's scope path, Keras name) -> the name written inside it
        self.current = "\0"  # the Keras layer being converted
        self.assigned: dict = {}  # (scope path, Keras name) -> (block, local name): import_blocks.segment_blocks
        self.problems: list = []

    # ---- models ------------------------------------------------------------------------------
    def model(self, model: dict, inputs: Optional[list], prefix: tuple, scope: str) -> list:
        """Convert a (nested) model; `inputs`: the values its inputs take (None: the network's inputs)."""
        cls, cfg = model["class_name"], model.get("config")
        layers = model_layers(cfg)
        if cls == "Sequential":
            return self.sequential(layers, inputs, prefix, scope, cfg)
        values: dict = {}
        by_name = {entry.get("name") or entry["config"]["name"]: entry for entry in layers}
        consumers: dict = {}
        for entry in layers:
            try:
                calls = _inbound(entry) if entry["class_name"] != "InputLayer" else []
            except Unsupported:
                calls = []  # reported when the layer itself is reached
            for call in calls:
                for ref in call:
                    consumers.setdefault(ref[0], []).append(entry)
        in_refs = _refs(cfg["input_layers"])
        if self.blocks and not any(_BLOCK.match(n) for n in by_name):  # no block names: cut where all paths meet
            found = segment_blocks(layers, consumers, {r[0] for r in in_refs})
            self.assigned.update({(scope, n): v for n, v in found.items()})
        for k, ref in enumerate(in_refs):
            entry = by_name[ref[0]]
            if inputs is not None:
                values[ref] = inputs[k]
            else:
                values[ref] = self.network_input(entry, _readers(ref[0], consumers))
        for entry in layers:
            name = entry.get("name") or entry["config"]["name"]
            if entry["class_name"] == "InputLayer":
                continue
            try:
                calls = _inbound(entry)
            except Unsupported as e:
                self.problems.append(f"layer {name!r} ({entry['class_name']}): {e}")
                continue
            if len(calls) > 1 and entry["class_name"] not in _ELEMENTWISE_THROUGH:
                self.problems.append(f"layer {name!r} ({entry['class_name']}): called {len(calls)} times (shared "
                                     "weights have no .nns form)")
                return []
            for n, call in enumerate(calls):
                missing = [r for r in call if r not in values]
                if missing:
                    if not self.problems:
                        self.problems.append(f"layer {name!r}: reads {missing[0][0]}, which was not computed")
                    continue
                args = [values[r] for r in call]
                try:
                    outs = self.layer(entry, args, prefix, scope, _readers(name, consumers))
                except (Unsupported, BuildError) as e:
                    self.problems.append(f"layer {name!r} ({entry['class_name']}): {e}")
                    continue
                for t, v in enumerate(outs):
                    values[(name, n, t)] = v
        outs = []
        for ref in _refs(cfg["output_layers"]):
            if ref not in values:
                if not self.problems:
                    self.problems.append(f"output {ref[0]!r} is not computed")
                continue
            outs.append(values[ref])
        return outs

    def sequential(self, layers: list, inputs, prefix: tuple, scope: str, cfg) -> list:
        layers = list(layers)
        if inputs is None:
            first = layers[0]
            if first["class_name"] == "InputLayer":
                layers = layers[1:]
            nxt = [e for e in layers if e["class_name"] not in PASS_THROUGH][:1]
            value = self.network_input(first, nxt)
        else:
            if layers and layers[0]["class_name"] == "InputLayer":
                layers = layers[1:]
            value = inputs[0]
        for k, entry in enumerate(layers):
            name = entry.get("name") or entry["config"].get("name")
            try:
                readers = [e for e in layers[k + 1:] if e["class_name"] not in PASS_THROUGH][:1]
                value = self.layer(entry, [value], prefix, scope, readers)[0]
            except (Unsupported, BuildError) as e:
                self.problems.append(f"layer {name!r} ({entry['class_name']}): {e}")
                return []
        return [value]

    def network_input(self, entry: dict, readers: list) -> T:
        cfg = entry["config"]
        shape = _batch_shape(cfg)
        name = cfg.get("name") or entry.get("name") or "x"
        if entry.get("class_name") != "InputLayer":  # a Sequential's first layer declares it: Keras names it so
            name += "_input"
        if shape is None:
            raise ImportError_(f"input {name!r}: its shape is not declared")
        if shape[-1] is None and len(shape) >= 3:
            raise ImportError_(f"input {name!r}: shape {list(shape)} leaves the feature / channel size unknown; "
                               "the layers after it need it")
        moved = len(shape) >= 3 and any(_wants_cl(r.get("config", {}), r["class_name"]) for r in readers)
        dims = ("N",) + _symbolic(shape)[1:]  # an unknown length or image size is a named size (T, H, W)
        dims = dims if not moved else (dims[0], dims[-1]) + dims[1:-1]
        dtype = cfg.get("dtype", "float32")
        dtype = dtype.get("config", {}).get("name", "float32") if isinstance(dtype, dict) else dtype
        ir_dtype = {"float32": "f32", "float64": "f64", "int32": "i64", "int64": "i64", "float16": "f16"}.get(
            dtype, "f32")
        if readers and all(r["class_name"] == "Embedding" for r in readers) \
                or entry.get("class_name") == "Embedding":  # indices: Keras casts the float input itself
            ir_dtype = "i64"
        names = {n for n, _ in self.b.graph.inputs}
        safe = _ident(name)
        while safe in names:
            safe += "_"
        return T(self.b.input(safe, dims, ir_dtype), shape, moved)

    # ---- one layer -------------------------------------------------------------------------------
    def layer(self, entry: dict, args: list, prefix: tuple, scope: str, readers: list) -> list:
        cls, cfg = entry["class_name"], entry.get("config") or {}
        name = entry.get("name") or cfg.get("name") or cls.lower()
        if cls in MODELS:
            sub = _ident(name)
            path = f"{scope}.{sub}" if scope else sub
            s = self.b.scope(path, "block", _type_name(name[:1].upper() + name[1:]))
            s.type_name = _type_name(sub)
            inner = [e for e in model_layers(cfg) if e.get("class_name") != "InputLayer"]
            self.short.update({(path, k): v for k, v in short_names(inner).items()})
            return self.model(entry, args, prefix + (name,), path)
        if cls in PASS_THROUGH:
            return [args[0]]
        fn = lookup(cls)
        self.current = name
        if fn is None:
            raise Unsupported(f"no importer for {cls}")
        weights = self.weights_of(prefix + (name,))
        out = fn(KLayer(cls, name, cfg, [a.shape for a in args], weights, self.keras3))
        rank = len(args[0].shape)
        # Layout: bring the inputs to what the layer needs.
        if out.needs == "any":
            want_moved = args[0].moved
        else:
            want_moved = out.needs == "cl"
        if cls == "Flatten" and args[0].moved and len(args[0].shape) >= 3 and self.only_dense(readers):
            x = args[0]
            if None in x.shape[1:]:
                raise Unsupported(f"Flatten of a map of unknown size {list(x.shape)} read by Dense (which needs a "
                                  "fixed input size)")
            spatial, c = x.shape[1:-1], x.shape[-1]
            size = math.prod(x.shape[1:])
            if size > MAX_ELEMENTS:  # the row order is built below: bounded first (fuzzing: UpSampling3D by 2^40)
                raise Unsupported(f"Flatten of a map of {size:,} elements {list(x.shape)}: more than "
                                  f"{MAX_ELEMENTS:,}")
            rows = np.arange(size).reshape(tuple(spatial) + (c,))
            rows = np.moveaxis(rows, -1, 0).ravel()
            tid = self.emit(out.layers[0], [x.tid], scope, name, named=False)
            return [T(tid, out.shape, False, rows)]
        if cls == "Dense" and args[0].moved and rank >= 3:
            out = _dense_as_pointwise_conv(out, rank)  # Dense over the channels of a map: a 1x1 conv, no Permute
            want_moved = True
        if cls == "Reshape" and _reshape_to_moved(args[0], out.shape, readers):
            out.layers[0].params["shape"] = (-1,) + tuple(out.shape[1:-1])  # -1: one form for every width
            return [T(self.emit(out.layers[0], [args[0].tid], scope, name, named=False), out.shape, True)]
        at = self.place(scope, name, named=False)[0]  # a Permute goes where its reader is: blocks stay in order
        args = [self.ensure(a, want_moved, at) for a in args]
        if len(args) > 1 and out.needs == "any":
            moved = args[0].moved if len(args[0].shape) >= 3 else False
            args = [self.ensure(a, moved, at) for a in args]
        moved_in = any(a.moved for a in args)
        layers = list(out.layers)
        if out.axis is not None:
            ir_axis = out.axis
            if moved_in:
                ir_axis = 1 if out.axis == rank - 1 else (out.axis + 1 if out.axis >= 1 else 0)
            key = "dim" if layers[0].op == "Softmax" else "axis"
            layers[0].params[key] = ir_axis
        if layers and layers[0].op == "Linear" and args[0].rows is not None and "weight" in layers[0].weights:
            layers[0].weights["weight"] = np.ascontiguousarray(layers[0].weights["weight"][:, args[0].rows])
        rows = args[0].rows if (out.needs == "any" and out.axis is None and len(args) == 1) else None
        if not layers:
            return [T(args[0].tid, out.shape, args[0].moved, rows)]
        data = [a.tid for a in args]
        if cls == "Add" and len(args) == 2 and self.blocks:
            scope = self.residual_block(scope, name, data) or scope
        if out.extra.get("states"):
            return self.with_states(layers, data, scope, name, out)
        if out.extra.get("chain"):
            tid = data[0]
            for other in data[1:]:
                tid = self.emit(Layer(layers[0].op), [tid, other], scope, name, named=False)
            return [T(tid, out.shape, moved_in)]
        weighted = [layer for layer in layers if layer.weights or _has_weights(layer.op)]
        for k, layer in enumerate(layers):
            local = name if (weighted and layer is weighted[0]) else f"{name}_{k}"
            data = [self.emit(layer, data, scope, local, named=any(layer is w for w in weighted))]
        out_moved = moved_in if out.needs == "any" else (out.needs == "cl" and len(out.shape) >= 3)
        return [T(data[0], out.shape, out_moved and len(out.shape) >= 3, rows)]

    def with_states(self, layers: list, data: list, scope: str, name: str, out) -> list:
        """A recurrent layer with return_state: its output, then each final state as Keras gives it, (N, H)."""
        rec = layers[0]
        s, local = self.place(scope, name)
        tids = self.b.node(rec.op, rec.params, data, s, local, out_types=(None,) * (1 + out.extra["states"]))
        if rec.weights:
            self.node_weights[self.b.graph.nodes[-1].id] = dict(rec.weights)
        main = tids[0]
        for layer in layers[1:]:
            main = self.emit(layer, [main], scope, name, named=False)
        first = Layer("Select", {"axis": 0, "index": 0})  # [1, N, H]: one layer, one direction
        states = [self.emit(first, [t], scope, name, named=False) for t in tids[1:]]
        return [T(main, out.shape)] + [T(t, (out.shape[0], rec.params["hidden_size"])) for t in states]

    def residual_block(self, scope: str, keras_name: str, data: list) -> Optional[str]:
        """The path of the block an unplaced `add([block(x), x])` closes (ConvNeXt's residual), so the sum
        is part of the block and repeats with it; None where the Add is not such a sum."""
        at = self.place(scope, keras_name, named=False)[0]
        if at.path != scope or not at.children:
            return None
        last = at.children[-1]
        if getattr(last, "kind", None) != "block" or not any(True for _ in last.nodes()):
            return None
        made = {t for n in last.nodes() for t in n.outputs}
        inside = [t for t in data if t in made]
        outside = [t for t in data if t not in made]
        if len(inside) != 1 or len(outside) != 1 or last.external_inputs() != outside:
            return None
        return last.path

    def only_dense(self, readers: list) -> bool:
        return bool(readers) and all(r["class_name"] == "Dense" for r in readers)

    def ensure(self, x: T, moved: bool, at=None) -> T:
        r = len(x.shape)
        if r < 3 or x.moved == moved:
            return x
        dims = (0, r - 1) + tuple(range(1, r - 1)) if moved else (0,) + tuple(range(2, r)) + (1,)
        tid = self.b.node("Permute", {"dims": dims}, [x.tid], at or self.b.root)[0]
        return T(tid, x.shape, moved)

    def emit(self, layer: Layer, inputs: list, scope: str, keras_name: str, named: bool = True) -> int:
        """Add one layer, in the block its Keras name places it in; named only if it has weights."""
        s, local = self.place(scope, keras_name, named)
        tid = self.b.node(layer.op, layer.params, inputs, s, local)[0]
        if layer.weights:
            self.node_weights[self.b.graph.nodes[-1].id] = dict(layer.weights)
        return tid

    def place(self, scope: str, keras_name: str, named: bool = True):
        path, local = scope, keras_name
        key = (scope, keras_name)
        if key not in self.assigned and keras_name.startswith(f"{self.current}_"):
            key = (scope, self.current)  # a layer's second registry layer (its activation): with the layer
        if self.blocks and key in self.assigned:
            block, local = self.assigned[key]
            sub = _ident(block)
            path = f"{scope}.{sub}" if scope else sub
            if path not in self.b.scopes:
                self.b.scope(path, "block", _type_name(sub))
        elif self.blocks and keras_name:
            m = _BLOCK.match(keras_name)
            if m:
                sub = _ident(m.group(1))
                path = f"{scope}.{sub}" if scope else sub
                local = m.group(2)
                if path not in self.b.scopes:
                    self.b.scope(path, "block", _type_name(sub))
            else:
                local = self.short.get((scope, keras_name), keras_name)
        s = self.b.scope(path) if path else self.b.root
        if not local or not named:
            return s, ""
        local = _ident(local)
        used = self.used.setdefault(path, set())
        cand, k = local, 2
        while cand in used:
            cand, k = f"{local}_{k}", k + 1
        used.add(cand)
        return s, cand


def _dense_as_pointwise_conv(out, rank: int):
    """Dense on the last axis of a channels_last map (ConvNeXt's pointwise_conv) = Conv(kernel 1) on NCHW."""
    dense = out.layers[0]
    conv = Layer(f"Conv{rank - 2}d", {"out_channels": dense.params["out_features"], "kernel": 1,
                                      "bias": dense.params["bias"]}, weights=dict(dense.weights))
    if "weight" in conv.weights:
        conv.weights["weight"] = conv.weights["weight"].reshape(conv.weights["weight"].shape + (1,) * (rank - 2))
    rest = [Layer("Softmax", {"dim": 1}) if layer.op == "Softmax" else layer for layer in out.layers[1:]]
    out.layers, out.needs = [conv] + rest, "cl"
    return out


def _reshape_to_moved(x: T, target: tuple, readers: list) -> bool:
    """A Reshape (N, C) -> (N, 1, .., 1, C) read by channels_last layers (squeeze-excite) can be made
    channels_first directly, (N, C, 1, .., 1): the same elements in the same order, no Permute after it."""
    if x.moved or x.rows is not None or len(target) < 3 or any(d != 1 for d in target[1:-1]):
        return False
    return bool(readers) and all(_wants_cl(r.get("config", {}), r["class_name"]) or r["class_name"] in
                                 _ELEMENTWISE_THROUGH | {"Multiply", "Add"} for r in readers)


def _has_weights(op: str) -> bool:
    return op.startswith(("Conv", "Linear", "BatchNorm", "Depthwise", "LayerNorm", "Embedding", "LSTM", "GRU",
                          "RNN", "Scale", "LayerScale"))


def _network_name(config: dict, source: Optional[str]) -> str:
    inner = config.get("config")
    raw = inner.get("name") if isinstance(inner, dict) else None
    if not isinstance(raw, str) or not raw:  # a name of another JSON kind (found by fuzzing: a TypeError)
        raw = Path(source).stem if source else "Imported"
    safe = re.sub(r"[^A-Za-z0-9_]", "_", raw)
    if not safe or not re.match(r"^[A-Za-z]", safe):
        safe = "Net_" + safe
    return safe[:1].upper() + safe[1:]


def _written_by_keras3(config: dict) -> bool:
    """Keras 2.x JSON names its version at the top; Keras 3 writes a `module` with every layer."""
    version = config.get("keras_version")
    if isinstance(version, str) and version[:1].isdigit():
        return not version.startswith(("1.", "2."))
    layers = config.get("config", {}).get("layers") if isinstance(config.get("config"), dict) else None
    return bool(layers) and all(isinstance(e, dict) and "module" in e for e in layers)


def convert(config: dict, weights=None, name: Optional[str] = None, source: Optional[str] = None,
            blocks: bool = True) -> tuple:
    """(IR graph, {node id: weights}) of a checked model config. weights: fn(layer path) -> list or None."""
    conv = _Converter(name or _network_name(config, source), weights or (lambda path: None), blocks)
    conv.keras3 = _written_by_keras3(config)
    try:
        outs = conv.model(config, None, (), "")
    except (KeyError, IndexError, TypeError, ValueError) as e:  # a malformed config
        raise ImportError_(f"a malformed model config ({type(e).__name__}: {e})") from None
    if conv.problems:
        raise ImportError_(f"{len(conv.problems)} part(s) of the model cannot be written in .nns:\n  "
                           + "\n  ".join(conv.problems))
    for k, out in enumerate(outs):
        conv.b.output("y" if len(outs) == 1 else f"y{k}", out.tid)
    return conv.b.graph, conv.node_weights, outs


def _print(config, weights, name, source, header) -> tuple:
    """Blocks from Keras's layer names where the printer can take them, else a flat network."""
    try:
        graph, node_weights, outs = convert(config, weights, name, source, blocks=True)
        text, printed = print_checked(graph, header)
    except ImportError_ as first:
        try:
            graph, node_weights, outs = convert(config, weights, name, source, blocks=False)
        except ImportError_:
            raise first from None
        text, printed = print_checked(graph, header)
    return graph, node_weights, outs, text, printed


# ---- the whole import -------------------------------------------------------------------------

def _keras_weights(model):
    """fn(layer path) -> get_weights() of that layer of a loaded Keras model."""
    def weights(path: tuple):
        obj = model
        for name in path:
            try:
                obj = obj.get_layer(name)
            except ValueError:  # an operation such as `x + y` is no layer of the loaded model: no weights
                return []
        return [np.asarray(w) for w in obj.get_weights()]
    return weights


def _h5_weights(path: str):
    """fn(layer path) -> arrays of a Keras 2 `save_weights` HDF5 file (a group per layer, weight_names order)."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ImportError_(f"{path}: not a readable HDF5 weights file ({e})") from None
    root = f["model_weights"] if "model_weights" in f else f

    def weights(names: tuple):
        name = names[-1]
        if name not in root:
            return None
        g = root[name]
        out = []
        for n in g.attrs.get("weight_names", []):
            d = g[n if isinstance(n, str) else n.decode()]
            if getattr(d, "dtype", None) is not None and d.dtype.kind == "c":
                raise ImportError_(_complex_weight(path, d.name, d.dtype))
            out.append(np.asarray(d))
        return out
    return weights


def _complex_weight(path: str, name: str, dtype) -> str:
    return (f"{path}: HDF5 dataset '{name.lstrip('/')}' holds {dtype} (complex) values; weights must be real "
            "(Keras would drop the imaginary part)")


def check_real_weights(path: str, kind: str) -> None:
    """Refuse a .h5 / .keras whose weight datasets are complex: Keras casts them to float32, dropping the
    imaginary part with only a warning, and the import would succeed with other weights than the file's.
    Reads the HDF5 metadata only (dtypes), never the values."""
    import io
    import zipfile

    import h5py

    found = []

    def visit(f):
        f.visititems(lambda name, obj: found.append((name, obj.dtype)) if isinstance(obj, h5py.Dataset)
                     and obj.dtype.kind == "c" and not found else None)

    try:
        if kind == "h5":
            with h5py.File(path, "r") as f:
                visit(f)
        else:
            with zipfile.ZipFile(path) as z:
                for member in z.namelist():
                    if member.endswith(".h5"):
                        with z.open(member) as raw, h5py.File(io.BytesIO(raw.read()) if z.getinfo(
                                member).compress_type != zipfile.ZIP_STORED else raw, "r") as f:
                            visit(f)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError, zipfile.BadZipFile, EOFError):
        return  # unreadable (h5py: RuntimeError for a broken symbol table): Keras's own loader says so, as before
    if found:
        raise ImportError_(_complex_weight(path, *found[0]))


def load_keras(path: str):
    """The Keras model of a checked .keras / .h5 file (safe_mode=True; no compile)."""
    from .backend import keras, remember_saving_skipsets

    k = keras()
    remember_saving_skipsets()
    try:
        return k.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # noqa: BLE001 -- any failure of Keras's own loader is the file's
        raise ImportError_(f"{path}: Keras cannot load it ({type(e).__name__}: {e})") from None


def import_file(source: str, weights: Optional[str] = None, name: Optional[str] = None, verify: bool = True,
                tolerance: float = 1e-4, header: Optional[str] = None) -> ImportResult:
    """Import a .keras, .h5 or Keras 2.x .json model (weights: a Keras 2 HDF5 weights file for a .json)."""
    config, kind = read_config(source)
    check_config(config)
    keras_model = None
    if kind in ("keras", "h5"):
        if weights:
            raise ImportError_("--weights is for a .json architecture: a .keras / .h5 model carries its weights")
        check_real_weights(source, kind)
        keras_model = load_keras(source)
        get = _keras_weights(keras_model)
    else:
        get = _h5_weights(weights) if weights else None
    header = header or f"Imported from {Path(source).name} by `nnlang import`."
    graph, node_weights, outs, text, printed = _print(config, get, name, source, header)
    model = _rebuild(printed, graph, node_weights, strict=get is not None)
    diff = None
    if verify and keras_model is not None:
        diff = compare(model, keras_model, graph, outs)
        check_difference(diff, tolerance, "the Keras model")
    return ImportResult(text, graph, model, diff)


def _rebuild(printed: Graph, graph: Graph, weights: dict, strict: bool = True):
    """The printed network built with the PyTorch target, given the model's weights. Weighted nodes are
    matched by path (they are always named): the printer may order a block's nodes before a branch Keras
    listed first. Not strict (a .json without weights): the PyTorch target's own initialisation."""
    if not strict:
        return rebuild(printed, [], "the Keras model", unset="seeded")
    return rebuild(printed, [(imported.path, imported.op, key, value) for imported in graph.nodes
                             for key, value in weights.get(imported.id, {}).items()], "the weights given")


def example_inputs(graph: Graph, keras_model, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    xs = []
    for inp in keras_model.inputs:
        shape = [2] + [5 if d is None else int(d) for d in inp.shape[1:]]  # an unknown length: 5
        if "int" in str(inp.dtype):
            xs.append(rng.integers(0, 4, shape).astype(np.int64))
        else:
            xs.append(rng.standard_normal(shape).astype(np.float32))
    return xs


def compare(model, keras_model, graph: Graph, outs: list, xs: Optional[list] = None) -> float:
    """Max difference relative to max(1, |y|) between Keras's outputs and ours on the same input."""
    import torch

    from .backend import keras

    k = keras()
    xs = xs if xs is not None else example_inputs(graph, keras_model)
    want = keras_model(xs if len(xs) > 1 else xs[0], training=False)
    want = [k.ops.convert_to_numpy(w) for w in (want if isinstance(want, (list, tuple)) else [want])]
    ours_in = []
    for (_name, tid), x in zip(graph.inputs, xs):
        shape = graph.tensor(tid).type.shape
        if x.ndim >= 3 and not all(not isinstance(d, int) or d == n for d, n in zip(shape[1:], x.shape[1:])):
            x = np.moveaxis(x, -1, 1)
        ours_in.append(torch.from_numpy(np.ascontiguousarray(x)))
    with torch.no_grad():
        got = model(*ours_in)
    got = list(got) if isinstance(got, (tuple, list)) else [got]
    if len(got) != len(want):
        return math.inf
    diff = 0.0
    for w, g, o in zip(want, got, outs):
        g = g.numpy()
        if o.moved:
            g = np.moveaxis(g, 1, -1)
        if w.shape != g.shape:
            return math.inf
        if w.size:
            scale = max(1.0, float(np.abs(w).max()))
            diff = max(diff, float(np.abs(w.astype(np.float64) - g.astype(np.float64)).max()) / scale)
    return diff
