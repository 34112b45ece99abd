"""IR graph -> a Keras 3 functional model, built with Keras's own layers (never hand-written JSON).

Layout. With layout="channels_last" (the default) feature maps are stored as Keras users hold them,
[N, spatial..., C]; every value carries the permutation from the IR's axis order to its stored one (`Val.perm`,
None: the IR's order). Layers that compute per channel or per window (convolutions, pools, BatchNorm ...) read
channels-last; elementwise layers keep whatever they get; layers that index axes remap them (Concat, Softmax,
Select ...); the others (Reshape, Linear on a feature map ...) get the IR's order through one Permute. A Flatten
of a channels-last map is flattened as stored and remembered (`Val.flat`): the Linear that reads it takes its
weight columns permuted, so no transpose is written. With layout="channels_first" every value keeps the IR's
order and the Keras layers get data_format="channels_first".

Names: every Keras layer is named by its IR path with dashes (`layer1-0-conv1`, helpers `layer1-0-conv1_pad`;
the torch backend refuses dots in weight names), so a block's layers form a named group; inputs keep their
.nns names.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ...layers.base import weight_key
from .backend import fresh_auto_names, keras
from .mapping import NotExpressible, lookup

LAYOUTS = ("channels_last", "channels_first")
# Ops whose input feature maps are read channels-last (the rest keep or restore the IR's order).
SPATIAL = {"Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "DepthwiseConv2d",
           "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
           "GlobalAvgPool", "GlobalMaxPool", "BatchNorm2d", "BatchNorm3d", "LocalResponseNorm", "LayerNorm2d",
           "Upsample"}


class CompileError(Exception):
    """The network cannot be written as Keras; `problems` lists (node, reason) for every node concerned."""

    def __init__(self, message: str, problems=()):
        super().__init__(message)
        self.problems = list(problems)


def cl_perm(rank: int) -> tuple:
    """IR [N, C, S1..Sk] stored as [N, S1..Sk, C]: stored axis k holds IR axis perm[k]."""
    return (0, *range(2, rank), 1)


@dataclass
class Val:
    t: object  # the Keras tensor
    perm: Optional[tuple] = None  # stored axis k holds IR axis perm[k]; None: the IR's order
    flat: Optional[tuple] = None  # (IR shape after dim 0, perm) of a channels-last map flattened as stored

    @property
    def plain(self) -> bool:
        return self.perm is None and self.flat is None


@dataclass
class Built:
    model: object
    inputs: list  # per graph input: its stored permutation (None: the IR's order)
    outputs: list  # per graph output: its stored permutation
    problems: list = field(default_factory=list)


class LayerBuilder:
    """What a mapping function sees: the node, its inputs (as stored) and their IR types, Keras."""

    def __init__(self, em: "Emitter", node, vals: list, types: list, out_types: list):
        self.em, self.node, self.vals, self.types, self.out_types = em, node, vals, types, out_types
        self.a = node.attrs
        self.K = em.K
        self.L = em.K.layers
        self.ops = em.K.ops
        self.channels_last = em.layout == "channels_last"
        self.data_format = em.layout
        self._n = 0

    @property
    def t(self):
        return self.types[0]

    def name(self, suffix: str = "") -> str:
        return self.node.path + (f"_{suffix}" if suffix else "")

    def layer(self, cls, suffix: str = "", **kw):
        return cls(name=self.em.unique(self.name(suffix)), **kw)

    def weighted(self, layer, keys: list, fix=None) -> None:
        """`layer`'s weights, in its order, are the converted state entries `keys` of this node (`fix`: a
        function of that list of arrays, for what depends on the layout: Dense rows after a Flatten)."""
        self.em.assign.append((layer, [weight_key(self.node.path, k) for k in keys], self.node, fix))

    # -- inputs in a wanted layout ----------------------------------------------------------------------
    def val(self, i: int = 0) -> Val:
        return self.vals[i]

    def ir(self, i: int = 0):
        """Input i in the IR's own axis order."""
        return self.em.to_ir(self.vals[i], self.types[i], self.name(f"in{i}"))

    def cl(self, i: int = 0):
        """Input i channels-last (layout channels_last) or in the IR's order (channels_first)."""
        v = self.vals[i]
        rank = self.types[i].rank
        want = cl_perm(rank) if self.channels_last else None
        if v.perm == want and v.flat is None:
            return v.t
        t = self.ir(i)
        if want is None:
            return t
        return self.em.permute(t, want, self.name(f"to_cl{i}"))

    def spatial_out(self, t, k: int = 0) -> Val:
        """A result in the layout cl() gives."""
        rank = self.out_types[k].rank
        return Val(t, cl_perm(rank) if self.channels_last else None)

    def same_as(self, t, i: int = 0) -> Val:
        """A result stored as input i is (elementwise layers)."""
        v = self.vals[i]
        return Val(t, v.perm, v.flat)

    def axis(self, a: int, i: int = 0) -> int:
        """IR axis `a` of input i -> its stored axis (input read with val(i), not flattened)."""
        rank = self.types[i].rank
        a = a % rank
        perm = self.vals[i].perm
        return a if perm is None else perm.index(a)

    def need_batched(self, n: int, i: int = 0) -> None:
        if self.types[i].rank != n + 2:
            raise NotExpressible(f"{self.node.op} on an unbatched input: Keras layers need a batch axis")

    def known(self, value, what: str) -> int:
        if not isinstance(value, int):
            raise NotExpressible(f"{self.node.op}: {what} ({value!r}) must be known")
        return value


class Emitter:
    def __init__(self, graph, layout: str = "channels_last"):
        if layout not in LAYOUTS:
            raise ValueError(f"layout {layout!r}: choose channels_last or channels_first")
        self.K = keras()
        self.graph, self.layout = graph, layout
        self.names: set = set()
        self.assign: list = []  # (keras layer, [state keys], node)
        self.problems: list = []
        self.model = None  # the Keras model, once built

    def unique(self, name: str) -> str:
        # torch parameters may not hold "." in their names: layer1.0.conv1 is written layer1-0-conv1
        base, k = name.replace("/", "_").replace(".", "-") or "layer", 1
        out = base
        while out in self.names:
            k += 1
            out = f"{base}_{k}"
        self.names.add(out)
        return out

    def permute(self, t, perm: tuple, name: str):
        """t's axes reordered: result axis k is t's axis perm[k] (perm[0] must be 0)."""
        if perm[0] != 0:
            raise NotExpressible("a permutation that moves the batch axis has no Keras layer")
        if list(perm) == sorted(perm):
            return t
        return self.K.layers.Permute(tuple(p for p in perm[1:]), name=self.unique(name))(t)

    def to_ir(self, v: Val, ttype, name: str):
        if v.plain:
            return v.t
        if v.flat is not None:  # flattened as stored: unflatten, restore the order, flatten again
            shape, perm = v.flat
            stored = tuple(shape[p - 1] for p in perm[1:])
            t = self.K.layers.Reshape(stored, name=self.unique(name + "_unflat"))(v.t)
            t = self.permute(t, tuple(np.argsort(perm)), name + "_perm")
            return self.K.layers.Reshape((int(np.prod(shape)),), name=self.unique(name + "_flat"))(t)
        return self.permute(v.t, tuple(int(k) for k in np.argsort(v.perm)), name)

    def input_perm(self, tid, ttype) -> Optional[tuple]:
        if self.layout != "channels_last" or ttype.rank not in (3, 4, 5) or ttype.dtype[0] != "f":
            return None
        readers = [n for n in self.graph.nodes if tid in n.inputs]
        if ttype.rank == 3 and not any(n.op in SPATIAL for n in readers):
            return None
        return cl_perm(ttype.rank)

    def build(self, state: Optional[dict] = None, check_only: bool = False, draws: bool = True) -> Built:
        """The Keras model, its weights set from `state` where given. `draws` False (or a state given): the
        variables start as zeros instead of Keras's random draws, every one of them to be set by set_weights
        (VGG-16: 1.7 s of draws per build)."""
        with fresh_auto_names():
            if state is None and draws:
                return self._build(None)
            with _variables_without_random_draws(self.K):
                return self._build(state)

    def _build(self, state: Optional[dict]) -> Built:
        K, g = self.K, self.graph
        vals: dict = {}
        in_perms, inputs = [], []
        for name, tid in g.inputs:
            tt = g.tensor(tid).type
            perm = self.input_perm(tid, tt)
            shape = [d if isinstance(d, int) else None for d in tt.shape]
            if perm is not None:
                shape = [shape[p] for p in perm]
            dtype = {"f32": "float32", "f64": "float64", "f16": "float16", "i64": "int64", "i32": "int32",
                     "i16": "int16", "i8": "int8", "u8": "uint8", "bool": "bool"}.get(tt.dtype)
            if dtype is None:  # bf16, the 8-bit floats: reported at the layer reading it (an input has no site)
                why = f"input {name} is {tt.dtype}: the Keras target has no {tt.dtype} dtype"
                self.problems.extend((n, why) for n in [n for n in g.nodes if tid in n.inputs][:1])
                continue
            t = K.Input(shape=tuple(shape[1:]), batch_size=shape[0] if shape else None, dtype=dtype,
                        name=self.unique(name))
            inputs.append(t)
            in_perms.append(perm)
            vals[tid] = Val(t, perm)
        for node in g.nodes:
            types = [g.tensor(t).type for t in node.inputs]
            out_types = [g.tensor(t).type for t in node.outputs]
            if any(tid not in vals for tid in node.inputs):
                continue  # an earlier problem
            b = LayerBuilder(self, node, [vals[t] for t in node.inputs], types, out_types)
            try:
                outs = lookup(node.op)(b)
            except NotExpressible as e:
                self.problems.append((node, e.reason))
                continue
            except (ValueError, TypeError, RuntimeError) as e:  # Keras refused the layer it was given
                self.problems.append((node, f"Keras cannot build it: {str(e).splitlines()[0][:200]}"))
                continue
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            for tid, v in zip(node.outputs, outs):
                vals[tid] = v
        if self.problems:
            return Built(None, in_perms, [], self.problems)
        outputs, out_perms = [], []
        for name, tid in g.outputs:
            v = vals[tid]
            t = self.to_ir(Val(v.t, None, v.flat), None, name) if v.flat is not None else v.t
            if any(t is o for o in outputs):
                t = K.layers.Identity(name=self.unique(name))(t)
            outputs.append(t)
            out_perms.append(v.perm if v.flat is None else None)
        model = K.Model(inputs if len(inputs) > 1 else inputs[0], outputs if len(outputs) > 1 else outputs[0],
                        name=g.name)
        self.model = model
        if state is not None:
            self.set_weights(state)
        return Built(model, in_perms, out_perms)

    def set_weights(self, state: dict) -> None:
        for layer, keys, node, fix in self.assign:
            values = [np.asarray(state[k]) for k in keys]
            if fix is not None:
                values = fix(values)
            expected = [tuple(w.shape) for w in layer.weights]
            got = [tuple(v.shape) for v in values]
            if expected != got:
                raise CompileError(f"{node.path} ({node.op}): Keras weights {expected}, converted {got}")
            # contiguous and of the variable's dtype, copied only where not already; handed over as torch tensors,
            # which Keras copies once into its variables (a numpy array it first copies with np.array)
            layer.set_weights([_as_torch(contiguous(v, np.dtype(str(w.dtype)))) for v, w in zip(values, layer.weights)])
        assigned = {id(layer) for layer, *_ in self.assign}
        unset = [layer.name for layer in _all_layers(self.model) if layer.weights and id(layer) not in assigned]
        if unset:  # a mapping bug: these would keep their initial values (zeros, or Keras's random draws)
            raise CompileError(f"the Keras target sets no weights of layer(s) {', '.join(unset[:5])}")


def _as_torch(array):
    """The array as a torch tensor sharing its memory (Keras's torch backend takes it as it is), else the array."""
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # a read-only array (a memory-mapped weights file) is only read
            warnings.simplefilter("ignore", UserWarning)
            return torch.from_numpy(array)
    except TypeError:  # a dtype torch has no tensor of: Keras converts it
        return array


def _all_layers(model) -> list:
    """The model's layers, those of nested models too."""
    out = []
    for layer in model.layers:
        out.extend(_all_layers(layer) if hasattr(layer, "layers") else [layer])
    return out


@contextlib.contextmanager
def _variables_without_random_draws(K):
    # Keras's initializers draw through the backend's random module (looked up at call time), so replacing
    # its functions for the construction is enough; not thread-safe, and only used around a construction
    # whose every weight set_weights replaces (it checks that no weighted layer is left out).
    import torch

    backend_random = K.src.backend.random
    saved = {name: getattr(backend_random, name) for name in ("uniform", "normal", "truncated_normal")}

    core = K.src.backend.torch.core

    def zeros(shape, *args, dtype=None, **kwargs):  # (shape, a, b, dtype, seed), as uniform / normal take them
        dtype = dtype or (args[2] if len(args) > 2 else None) or K.config.floatx()
        return torch.zeros(tuple(shape), dtype=core.to_torch_dtype(dtype), device=core.get_device())

    try:
        for name in saved:
            setattr(backend_random, name, zeros)
        yield
    finally:
        for name, function in saved.items():
            setattr(backend_random, name, function)


def contiguous(array, dtype=None):
    """`np.ascontiguousarray(array, dtype)`, with a permuted view (a kernel's transpose) copied by torch (the
    Keras target's backend): numpy copies a transposed 4096 x 25088 Linear kernel element by element in ~1 s,
    torch's blocked copy in ~0.3 s."""
    array = np.asarray(array)
    if array.flags.c_contiguous or array.ndim < 2 or array.size < 1 << 16 or min(array.strides) < 0:
        return np.ascontiguousarray(array, dtype=dtype)
    import warnings

    import torch

    with warnings.catch_warnings():  # a read-only array (a memory-mapped weights file) is only read here
        warnings.simplefilter("ignore", UserWarning)
        copied = _permuted_copy(torch, array).numpy()
    return copied if dtype is None or copied.dtype == dtype else copied.astype(dtype)


def _permuted_copy(torch, array):
    """A contiguous copy of a permuted view of a contiguous array, in two cache-friendly passes: the axis that
    becomes innermost is moved there first (a batched 2-D transpose), then whole rows are reordered. A conv
    kernel OIHW -> HWIO of 4096 x 512 x 7 x 7 (FCN-32s' fc6): 2.4 s as one strided copy, 0.5 s so."""
    order = sorted(range(array.ndim), key=lambda k: -array.strides[k])
    base = array.transpose(order)  # the array as stored
    if not base.flags.c_contiguous:  # not a permutation of a contiguous array (a slice): one plain copy
        return torch.from_numpy(array).contiguous()
    source = [order.index(k) for k in range(array.ndim)]  # view axis k is stored axis source[k]
    inner = source[-1]
    shape = base.shape
    rows = torch.from_numpy(base).reshape(math.prod(shape[:inner]), shape[inner], math.prod(shape[inner + 1:]))
    if len(rows) > 64:
        moved = rows.transpose(1, 2).contiguous()  # stored axes but `inner`, then `inner`
    else:  # torch's 2-D transpose is ~3x faster than the batched one (1.1 s for one 4096 x 25088 batch)
        moved = torch.empty((rows.shape[0], rows.shape[2], rows.shape[1]), dtype=rows.dtype)
        for batch, matrix in zip(moved, rows):
            batch.copy_(matrix.t())
    moved = moved.reshape(*shape[:inner], *shape[inner + 1:], shape[inner])
    position = [a if a < inner else a - 1 for a in source[:-1]] + [array.ndim - 1]
    return moved.permute(position).contiguous()


def build_model(graph, state: Optional[dict] = None, layout: str = "channels_last") -> Built:
    """The Keras model of `graph` (weights: the converted state_dict, or none); problems listed, not raised."""
    return Emitter(graph, layout).build(state)


def unsupported(graph, layout: str = "channels_last") -> list:
    """(node, reason) for every node Keras cannot express, in graph order (builds the graph, no weights)."""
    return Emitter(graph, layout).build().problems
