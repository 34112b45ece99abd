"""TensorFlow GraphDef -> .nns: read the graph as data, keep its inference part, map each op to registry
layers (importers.py), group them into layers by name scope, print readable text.

    result = import_file("graph.pbtxt")         # or a binary graph.pb (a frozen graph carries its weights)
    result.text    # .nns source;  result.model: the printed network built back with PyTorch

The inference part: the nodes computed from the Placeholders whose results reach an output, an output
being a node nothing else (but training) reads. Training nodes (Assign*, the moving-average updates,
initializers, savers) are left out, and so is everything only they read: variables are read for their
shapes, never run. Training-mode batch norm (FusedBatchNorm is_training, or tf.layers' moments) becomes
an inference BatchNorm over the moving statistics, with a note.

Values: every op output is an IR tensor (`V`: TensorFlow shape, batch None, and whether it is held moved,
NHWC in TensorFlow and NCHW in the IR, as the Keras importer does), a numpy array computed at import time
(shape arithmetic: Shape, StridedSlice, Pack, Prod, ... on known shapes; the batch size is the `BATCH`
marker) or a learned tensor (`W`: a variable, values unknown, or a Const of a frozen graph).

Names: a layer with weights is named by the scope of its weight variable (`conv2d_1/kernel` -> conv2d_1,
`Repeat/convolution_1/weights` -> block Repeat, layer convolution_1); its BiasAdd is folded into it. A
graph whose blocks do not print as one definition each is printed flat.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import numpy as np

from ...ir.builder import BuildError, GraphBuilder
from ...ir.graph import Graph
from ..importing import ImportError_, ImportResult, Unsupported, by_node_order, print_checked, rebuild
from ..keras.load import _BLOCK, _type_name
from .graphdef import attr, read_graph, source, tensor_value
from .importers import PASS_THROUGH, SPATIAL, lookup
from .values import V, W

BATCH = -(1 << 40)  # the batch size in shape arithmetic: any arithmetic on it leaves an obviously bad size
PLACEHOLDERS = frozenset(("Placeholder", "PlaceholderV2"))
VARIABLES = frozenset(("VariableV2", "Variable", "VarHandleOp"))
TRAINING = frozenset(("Assign", "AssignSub", "AssignAdd", "AssignVariableOp", "AssignAddVariableOp",
                      "AssignSubVariableOp", "NoOp", "SaveV2", "RestoreV2", "Save", "SaveSlices", "Restore",
                      "RestoreSlice", "MergeV2Checkpoints", "ShardedFilename", "IsVariableInitialized"))
WEIGHTED = frozenset(("Conv2D", "Conv3D", "DepthwiseConv2dNative", "MatMul", "Conv2DBackpropInput"))
_WEIGHT_AT = {"Conv2DBackpropInput": 1}
MAX_PROBLEMS = 8
MAX_INPUT_ELEMENTS = 1 << 31  # elements of one sample of an input
MAX_PARAMS = 1 << 30  # learned elements of the whole network (4 GiB of float32), checked before building it
NEUTRAL = PASS_THROUGH | {"Pad", "Relu", "Relu6", "Elu", "Sigmoid", "Tanh", "LeakyRelu", "Selu"}


# losses and what training adds around them (their results are no network output)
LOSSES = frozenset(("SoftmaxCrossEntropyWithLogits", "SparseSoftmaxCrossEntropyWithLogits", "L2Loss"))
TRAINING_SCOPES = ("gradients/", "gradients_", "loss/", "losses/", "train/", "optimizer/", "Adam/", "Adam_",
                   "GradientDescent/", "Momentum/", "RMSProp/", "save/", "metrics/")


def _training(node) -> bool:
    return node.op in TRAINING or node.op.startswith(("Apply", "ResourceApply"))


def _loss(node) -> bool:
    return node.op in LOSSES or node.name.startswith(TRAINING_SCOPES)


class Op:
    """What an importer function sees of one node (importers.py)."""

    def __init__(self, conv: "_Converter", node, inputs: list, type_: Optional[str] = None,
                 extra: Optional[dict] = None):
        self.c, self.node, self.inputs = conv, node, inputs
        self.type = type_ or node.op
        self.extra = extra or {}  # attributes a pattern gives (a leaky ReLU's alpha)
        self.batch = BATCH
        self.batch_sizes = conv.batch_sizes  # what a reshape's first dim may be to mean "the batch"
        self.absorbs: list = []

    def attr(self, key: str, default=None):
        return self.extra[key] if key in self.extra else attr(self.node, key, default)

    def value(self, i: int):
        return self.c.values[source(self.inputs[i])]

    def x(self, i: int = 0, moved: Optional[bool] = None) -> V:
        v = self.value(i)
        if not isinstance(v, V):
            raise Unsupported(f"input {i} ({self.inputs[i]}) is not computed from the network's input")
        if moved is not None:
            v = self.ensure(v, moved)
        return v

    def const(self, i: int) -> Optional[np.ndarray]:
        v = self.value(i)
        return v if isinstance(v, np.ndarray) else (v.value if isinstance(v, W) and not v.learned else None)

    def weight(self, i: int) -> W:
        v = self.value(i)
        if isinstance(v, W):
            return v
        if isinstance(v, np.ndarray):  # a frozen graph's weight: named by its Const, not by an Identity reading it
            name = self.c.resolve(self.inputs[i]) or source(self.inputs[i])[0]
            return W(name, tuple(v.shape), v.astype(np.float32), learned=False)
        raise Unsupported(f"input {i} ({self.inputs[i]}) is computed from the network's input, not a weight")

    def readers(self) -> list:
        return [self.c.nodes[n] for n in self.c.readers.get(self.node.name, ()) if n in self.c.needed]

    def fold_bias(self, channels: int) -> Optional[W]:
        """The bias of a BiasAdd (or Add of a per-channel weight) that alone reads this node: folded."""
        readers = self.readers()
        if len(readers) != 1 or readers[0].op not in ("BiasAdd", "BiasAddV1", "Add", "AddV2"):
            return None
        add = readers[0]
        ins = [i for i in add.input if not i.startswith("^")]
        if len(ins) != 2 or source(ins[0]) != (self.node.name, 0):
            return None
        b = self.c.values.get(source(ins[1]))
        if b is None:  # not read yet (a bias variable may come after the layer in the order)
            held = self.c.resolve(ins[1])
            b = self.c.variable(held) if held else None
        if isinstance(b, np.ndarray):
            b = W(self.c.resolve(ins[1]) or source(ins[1])[0], tuple(b.shape), b.astype(np.float32), learned=False)
        if not isinstance(b, W) or b.shape != (channels,):
            return None
        self.absorbs.append(add.name)
        return b

    def variable(self, name: str) -> Optional[W]:
        return self.c.variable(name)

    def fold_constant_add(self, channels: int) -> Optional[np.ndarray]:
        """b of an Add (either order) of a constant b, one value or one per channel, that alone reads this node."""
        readers = self.readers()
        if len(readers) != 1 or readers[0].op not in ("Add", "AddV2", "BiasAdd"):
            return None
        add = readers[0]
        ins = [i for i in add.input if not i.startswith("^")]
        mine = [k for k, i in enumerate(ins) if source(i) == (self.node.name, 0)]
        if len(ins) != 2 or len(mine) != 1:
            return None
        held = self.c.resolve(ins[1 - mine[0]])
        b = self.c.variable(held) if held else None
        if b is None or b.value is None or b.value.size not in (1, channels) or self.c.nodes[held].op != "Const":
            return None
        self.absorbs.append(add.name)
        return np.broadcast_to(b.value.reshape(-1), (channels,)).astype(np.float32)

    def moving(self, leaf: str) -> Optional[W]:
        """The variable `<this node's scope>/<leaf>` (a batch norm's moving mean / variance)."""
        scope = self.node.name.rpartition("/")[0]
        return self.c.variable(f"{scope}/{leaf}" if scope else leaf)

    def note(self, text: str) -> None:
        self.c.notes[text] = self.c.notes.get(text, 0) + 1

    def only_matmul(self) -> bool:
        readers = self.readers()
        return bool(readers) and all(r.op == "MatMul" and source(r.input[0]) == (self.node.name, 0) for r in readers)

    def flatten_into_linear(self, x: V, shape: tuple) -> V:
        """Flatten a moved tensor in the IR's (C, H, W) order; the Linear reading it permutes its columns."""
        spatial, c = x.shape[1:-1], x.shape[-1]
        rows = np.moveaxis(np.arange(int(np.prod(x.shape[1:]))).reshape(tuple(spatial) + (c,)), -1, 0).ravel()
        out = self.layer("Flatten", {}, [x], shape)
        return V(out.tid, shape, False, rows)

    def ensure(self, v: V, moved: bool) -> V:
        return self.c.ensure(v, moved)

    def layer(self, op: str, params: dict, inputs: list, shape: tuple, weights: Optional[dict] = None,
              named: Optional[W] = None) -> V:
        moved = bool(inputs) and inputs[0].moved and len(shape) >= 3
        tid = self.c.emit(op, params, [v.tid for v in inputs], self.node.name, weights, named)
        return V(tid, tuple(shape), moved)


class _Converter:
    def __init__(self, graph, name: str, blocks: bool = True):
        self.nodes: dict = {}
        for n in graph.node:
            if n.name in self.nodes:
                raise ImportError_(f"node {n.name!r} is defined twice")
            self.nodes[n.name] = n
        self.readers: dict = {}
        for n in graph.node:
            for i in n.input:
                src, k = source(i)
                if k >= 0:
                    self.readers.setdefault(src, []).append(n.name)
        self.b = GraphBuilder(name)
        self.blocks = blocks
        self.values: dict = {}
        self.node_weights: dict = {}
        self.notes: dict = {}
        self.used: dict = {}
        self.needed: set = set()
        self.seeded = False
        self.batch_sizes: set = {-1, BATCH}
        self.patterns: dict = {}
        self.multi: set = set()  # variable scopes several weighted layers read: named by the variable too

    def inputs_of(self, node) -> list:
        return [i for i in node.input if not i.startswith("^")]

    def data_inputs(self, name: str) -> list:
        """The inputs a node is converted from (a pattern's own, in place of its arithmetic's)."""
        return self.patterns[name][1] if name in self.patterns else self.inputs_of(self.nodes[name])

    # ---- which part of the graph is the network --------------------------------------------------
    def select(self) -> tuple:
        placeholders = [n for n in self.nodes.values() if n.op in PLACEHOLDERS]
        if not placeholders:
            raise ImportError_("the graph has no Placeholder: no network input to import from")
        live, stack = set(), [p.name for p in placeholders]
        while stack:
            name = stack.pop()
            if name in live:
                continue
            live.add(name)
            stack += [r for r in self.readers.get(name, ()) if r in self.nodes]
        order = self.order(live, lambda n: [source(i)[0] for i in self.inputs_of(self.nodes[n])
                                            if source(i)[0] in live])
        # updates (Assign*, Apply*) and what only they read (moving-average arithmetic, gradients)
        train: set = set()
        for name in reversed(order):
            readers = [r for r in self.readers.get(name, ()) if r in live]
            if _training(self.nodes[name]) or (readers and all(r in train for r in readers)):
                train.add(name)
        # losses, gradients, metrics and all computed from them: never an output, though they read the logits
        stack = [n for n in order if _loss(self.nodes[n])]
        while stack:
            name = stack.pop()
            if name not in train:
                train.add(name)
                stack += [r for r in self.readers.get(name, ()) if r in live]
        outputs = [name for name in order if name not in train and self.nodes[name].op not in PLACEHOLDERS
                   and not any(r in live and r not in train for r in self.readers.get(name, ()))]
        if train:
            self.notes[f"{len(train)} training node(s) computed from the input (updates, losses, gradients) "
                       "left out"] = 1
        self.find_patterns()
        deps = lambda n: [source(i)[0] for i in self.data_inputs(n)]  # noqa: E731
        needed, stack = set(), list(outputs)
        while stack:
            name = stack.pop()
            if name in needed:
                continue
            if name not in self.nodes:
                raise ImportError_(f"an input {name!r} that no node produces")
            needed.add(name)
            stack += deps(name)
        self.needed = needed
        self.find_multi(needed)
        return placeholders, outputs, self.order(needed, deps)

    def order(self, names: set, deps) -> list:
        """Names in a topological order (iterative DFS: a deep graph does not overflow the stack)."""
        done, out, onpath = set(), [], set()
        for root in sorted(names, key=list(self.nodes).index):
            stack = [(root, iter(deps(root)))] if root not in done else []
            onpath.add(root)
            while stack:
                name, it = stack[-1]
                nxt = next((d for d in it if d in names and d not in done), None)
                if nxt is None:
                    stack.pop()
                    onpath.discard(name)
                    if name not in done:
                        done.add(name)
                        out.append(name)
                elif nxt in onpath:
                    raise ImportError_(f"node {nxt!r}: the graph has a cycle (control flow is not imported)")
                else:
                    onpath.add(nxt)
                    stack.append((nxt, iter(deps(nxt))))
        return out

    def find_patterns(self) -> None:
        """tf.layers' batch norm written with moments / rsqrt: `S/batchnorm/add_1` stands for the whole layer."""
        for name, node in self.nodes.items():
            if not name.endswith("/batchnorm/add_1") or node.op not in ("Add", "AddV2"):
                continue
            scope = name[:-len("/batchnorm/add_1")]
            mul_1 = self.nodes.get(f"{scope}/batchnorm/mul_1")
            if mul_1 is None or f"{scope}/moving_mean" not in self.nodes:
                continue
            x = [i for i in self.inputs_of(mul_1) if source(i)[0] != f"{scope}/batchnorm/mul"]
            if len(x) == 1:
                self.patterns[name] = ("_BatchNormMoments", x, {})  # its one data input, not the arithmetic's
        for name, node in self.nodes.items():  # max(a * x, x), 0 <= a <= 1: a leaky ReLU
            ins = self.inputs_of(node)
            if node.op != "Maximum" or len(ins) != 2:
                continue
            for k in (0, 1):
                mul = self.nodes.get(source(ins[k])[0])
                other = self.inputs_of(mul) if mul is not None and mul.op == "Mul" else []
                if len(other) == 2 and ins[1 - k] in other:
                    a = self.variable(self.resolve(other[1 - other.index(ins[1 - k])]) or "")
                    if a is not None and a.value is not None and a.value.size == 1 and 0 <= a.value.item() <= 1:
                        self.patterns[name] = ("LeakyRelu", [ins[1 - k]], {"alpha": float(a.value.item())})
                        break

    def find_multi(self, needed: set) -> None:
        count: dict = {}
        for name in needed:
            node = self.nodes[name]
            if node.op in WEIGHTED:
                ins = self.inputs_of(node)
                w = self.resolve(ins[1]) if len(ins) > 1 else None
                if w is not None:
                    scope = w.rpartition("/")[0]
                    count[scope] = count.get(scope, 0) + 1
        self.multi = {s for s, k in count.items() if k > 1}

    def resolve(self, name: str) -> Optional[str]:
        """The variable / Const an input reads through Identity nodes."""
        for _ in range(64):
            node = self.nodes.get(source(name)[0])
            if node is None:
                return None
            if node.op in VARIABLES or node.op == "Const":
                return node.name
            if node.op not in PASS_THROUGH and node.op != "ReadVariableOp":
                return None
            if not node.input:
                return None
            name = node.input[0]
        return None

    def variable(self, name: str) -> Optional[W]:
        node = self.nodes.get(name)
        if node is None:
            return None
        if node.op == "Const":
            v = tensor_value(node.attr["value"].tensor, f"node {name!r} (Const)")
            return W(name, tuple(v.shape), v.astype(np.float32))
        if node.op in VARIABLES:
            shape = attr(node, "shape")
            if shape is None or None in shape:
                raise Unsupported(f"variable {name!r} has no known shape")
            self.seeded = True  # a variable's values are in a checkpoint, not in the graph
            return W(name, tuple(shape))
        return None

    # ---- conversion ---------------------------------------------------------------------------------
    def run(self) -> list:
        placeholders, outputs, order = self.select()
        problems: list = []
        failed: set = set()
        for name in order:
            node = self.nodes[name]
            if (name, 0) in self.values:
                continue  # absorbed by an earlier layer (a folded BiasAdd)
            ins = self.data_inputs(name)
            if any(source(i)[0] in failed for i in ins):
                failed.add(name)
                continue
            try:
                self.convert(node, ins)
            except (Unsupported, BuildError, KeyError, IndexError, TypeError, ValueError) as e:
                failed.add(name)
                why = str(e) if isinstance(e, (Unsupported, BuildError)) else \
                    f"a malformed node ({type(e).__name__}: {str(e)[:120]})"
                problems.append(f"node {name!r} ({node.op}): {why}")
                if len(problems) >= MAX_PROBLEMS:
                    break
            except ImportError_ as e:
                prefix = f"node {name!r} ({node.op})"
                raise ImportError_(str(e) if str(e).startswith(prefix) else f"{prefix}: {e}") from None
        if problems:
            raise ImportError_(f"{len(problems)} node(s) of the graph cannot be written in .nns:\n  "
                               + "\n  ".join(problems))
        outs = []
        for name in outputs:
            v = self.values.get((name, 0))
            if not isinstance(v, V):
                continue  # a constant or shape computation nobody reads: nothing to compute
            outs.append(v)
        if not outs:
            raise ImportError_("no output of the graph is computed from its input")
        for k, v in enumerate(outs):
            self.b.output("y" if len(outs) == 1 else f"y{k}", v.tid)
        return outs

    def convert(self, node, ins: list) -> None:
        name, op = node.name, node.op
        if op in PLACEHOLDERS:
            self.values[(name, 0)] = self.placeholder(node)
        elif op == "Const":
            self.values[(name, 0)] = tensor_value(node.attr["value"].tensor, f"node {name!r} (Const)")
        elif op in VARIABLES:
            self.values[(name, 0)] = self.variable(name)
        elif name in self.patterns:
            kind, _, extra = self.patterns[name]
            self.apply(Op(self, node, ins, kind, extra))
        elif op in PASS_THROUGH or op == "ReadVariableOp":
            self.values[(name, 0)] = self.values[source(ins[0])]
        else:
            args = [self.values.get(source(i)) for i in ins]
            if op == "Shape" and isinstance(args[0], V):
                if None in args[0].shape[1:]:
                    raise Unsupported(f"the shape of a tensor of unknown size {args[0].shape}")
                self.values[(name, 0)] = np.array([BATCH] + list(args[0].shape[1:]), np.int64)
                return
            if args and all(isinstance(a, np.ndarray) for a in args):
                from .static import evaluate

                value = evaluate(node, args)
                if value is not None:
                    self.values[(name, 0)] = value
                    return
            fn = lookup(op)
            if fn is None:
                raise Unsupported(f"TensorFlow op {op} has no importer (supported: see "
                                  "nnlang/targets/tensorflow/importers.py)")
            self.apply(Op(self, node, ins))

    def apply(self, op: Op) -> None:
        outs = lookup(op.type)(op)
        for k, v in enumerate(outs):
            self.values[(op.node.name, k)] = v
        for absorbed in op.absorbs:
            self.values[(absorbed, 0)] = outs[0]

    def placeholder(self, node) -> V:
        shape = attr(node, "shape")
        if shape is None or not shape:
            listed = attr(node, "_output_shapes") or [None]
            shape = listed[0]
        if shape is None:
            raise ImportError_(f"input {node.name!r}: its shape is not declared")
        if shape and shape[0] is not None:
            self.batch_sizes.add(shape[0])  # a fixed batch size: a reshape to [it, ...] keeps the batch axis
        shape = (None,) + tuple(shape[1:])
        if any(d is None for d in shape[1:]):
            raise ImportError_(f"input {node.name!r}: shape {list(shape)} has unknown sizes besides the batch; "
                               "a .nns input needs them")
        if attr(node, "dtype", 1) != 1:
            raise ImportError_(f"input {node.name!r}: only float32 inputs are imported")
        total = 1
        for d in shape[1:]:
            total *= d
        if total > MAX_INPUT_ELEMENTS:
            raise ImportError_(f"input {node.name!r}: shape {list(shape)} has {total:,} elements per sample, more "
                               f"than {MAX_INPUT_ELEMENTS:,}")
        moved = len(shape) in (4, 5) and self.read_spatially(node.name)
        dims = ("N",) + (tuple(shape[1:]) if not moved else (shape[-1],) + tuple(shape[1:-1]))
        names = {n for n, _ in self.b.graph.inputs}
        safe = _ident(node.name)
        while safe in names:
            safe += "_"
        return V(self.b.input(safe, dims, "f32"), shape, moved)

    def read_spatially(self, name: str) -> bool:
        """Whether an NHWC layer reads this tensor, directly or through layout-neutral ops (Pad, Identity,
        activations): then the input is taken NCHW, as the PyTorch target would take it."""
        seen, todo = set(), [name]
        while todo:
            for r in self.readers.get(todo.pop(), ()):
                if r in seen or r not in self.needed:
                    continue
                seen.add(r)
                op = self.nodes[r].op
                if op in SPATIAL:
                    return True
                if op in NEUTRAL and len(seen) < 64:
                    todo.append(r)
        return False

    def ensure(self, v: V, moved: bool) -> V:
        r = len(v.shape)
        if r < 3 or v.moved == moved:
            return v
        dims = (0, r - 1) + tuple(range(1, r - 1)) if moved else (0,) + tuple(range(2, r)) + (1,)
        tid = self.b.node("Permute", {"dims": dims}, [v.tid], self.b.root)[0]
        return V(tid, v.shape, moved)

    def emit(self, op: str, params: dict, inputs: list, tf_name: str, weights: Optional[dict],
             named: Optional[W]) -> int:
        scope, local = self.place(tf_name, named, op)
        tid = self.b.node(op, params, inputs, scope, local)[0]
        if weights:
            self.node_weights[self.b.graph.nodes[-1].id] = dict(weights)
        return tid

    def place(self, tf_name: str, named: Optional[W], op: str = ""):
        """(scope, local name): a weighted layer by its variable's scope, others in their TF scope's block.
        Names of repeated modules (`inception_3a_1x1`, Keras's `block1_conv1`) put the layers in a block
        (`inception_3a`, local `conv1x1`), so the printer writes one definition for the instances."""
        if named is not None:
            parts = named.name.split("/")
            scope = "/".join(parts[:-1])
            parts = parts if (not scope or scope in self.multi) else parts[:-1]
            if len(parts) > 1 and scope in self.multi:
                parts[-1] = parts[-1].removesuffix("_weights").removesuffix("_kernel") or parts[-1]
        else:
            parts = tf_name.split("/")[:-1]
        instance = _instance(named.name.split("/")[0] if named is not None else tf_name.split("/")[0])
        if self.blocks and instance is not None:
            parts = list(instance) + parts[1:] if named is not None else [instance[0]]
        parts = [_ident(p, _PREFIXES.get(op[:4], "layer")) for p in parts]
        if not self.blocks:
            path = ""
            local = "_".join(parts)
        else:
            path = ".".join(parts[:-1]) if named is not None else ".".join(parts)
            local = parts[-1] if named is not None and parts else ""
        if named is None and instance is None:  # unweighted: in the block of its TF scope, if that block exists
            while path and (path not in self.b.scopes or self.b.scopes[path].kind != "block"):
                path = path.rpartition(".")[0]
            return (self.b.scopes[path] if path else self.b.root), ""
        if path:
            prefix = ""
            for part in path.split("."):
                prefix = f"{prefix}.{part}" if prefix else part
                if prefix not in self.b.scopes:
                    kind = _type_name(part)
                    self.b.scope(prefix, "block", kind if kind != self.b.graph.name else kind + "Block")
        s = self.b.scopes[path] if path else self.b.root
        if named is None:
            return s, ""
        used = self.used.setdefault(path, set())
        local = local or "layer"
        cand, k = local, 2
        while cand in used or (f"{path}.{cand}" if path else cand) in self.b.scopes:
            cand, k = f"{local}_{k}", k + 1
        used.add(cand)
        return s, cand


_INSTANCE = re.compile(r"^([A-Za-z][A-Za-z0-9]*_\d+[a-z])_(.+)$")  # inception_3a_1x1
_PREFIXES = {"Conv": "conv", "Line": "fc", "Batc": "bn"}  # a local name starting with a digit: conv1x1


def _instance(name: str) -> Optional[tuple]:
    """(block, rest) of a repeated module's name, or None."""
    m = _BLOCK.match(name) or _INSTANCE.match(name)
    return (m.group(1), m.group(2)) if m else None


def _ident(text: str, prefix: str = "l") -> str:
    """A .nns name for a TF name part: other characters as _, a leading digit behind `prefix`."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", text) or prefix
    return s if re.match(r"^[A-Za-z]", s) else prefix + s


def _network_name(source_path: Optional[str]) -> str:
    raw = Path(source_path).stem if source_path else "Imported"
    safe = re.sub(r"[^A-Za-z0-9_]", "_", raw)
    if not safe or not re.match(r"^[A-Za-z]", safe):
        safe = "Net_" + safe
    return safe[:1].upper() + safe[1:]


def convert(graph, name: str, blocks: bool = True) -> tuple:
    """(IR graph, {node id: weights}, output values, notes) of a GraphDef."""
    conv = _Converter(graph, name, blocks)
    outs = conv.run()
    notes = dict(conv.notes)
    if conv.seeded:
        notes = {"the file holds no values for its variables (a training graph; they are in a checkpoint): "
                 "the weights are seeded (seed 0)": 1, **notes}
    return conv.b.graph, conv.node_weights, outs, notes


def import_file(source_path: str, name: Optional[str] = None, header: Optional[str] = None) -> ImportResult:
    """Import a GraphDef (.pb or .pbtxt). A training graph has no weight values: the network is seeded."""
    graph = read_graph(source_path)
    name = name or _network_name(source_path)
    try:
        ir, weights, outs, notes = convert(graph, name, blocks=True)
        text, printed = print_checked(ir, _header(source_path, header, notes))
    except ImportError_ as first:
        try:
            ir, weights, outs, notes = convert(graph, name, blocks=False)
        except ImportError_:
            raise first from None
        text, printed = print_checked(ir, _header(source_path, header, notes))
    if printed.total_params > MAX_PARAMS:
        raise ImportError_(f"{Path(source_path).name}: the network has {printed.total_params:,} parameters, more "
                           f"than the {MAX_PARAMS:,} an import builds")
    model = _rebuild(printed, ir, weights)
    return ImportResult(text, ir, model, None)


def _header(source_path: str, header: Optional[str], notes: dict) -> str:
    lines = [header or f"Imported from {Path(source_path).name} by `nnlang import`."]
    for text, count in notes.items():
        lines.append(f"Note: {text}" + (f" ({count})" if count > 1 else "") + ".")
    return "\n".join(lines)


def _rebuild(printed: Graph, graph: Graph, weights: dict):
    """The printed network built with the PyTorch target: seeded, then the file's weights where it has them."""
    return rebuild(printed, by_node_order(graph, printed, weights), "the GraphDef", unset="seeded")


__all__ = ["import_file", "convert", "V", "W", "Op"]
