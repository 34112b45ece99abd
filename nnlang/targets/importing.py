"""What every importer shares: its error, its result, an IR rewrite that makes blocks print as one
definition, printing with a re-check, the verdict of the verification run, and writing OUT.nns with
its weights. Framework-free; torch is imported only to write the weights."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..ir.graph import Graph
from ..layers.base import weight_key
from ..printer import PrintError, print_graph, reread


class ImportError_(Exception):
    """The model cannot be imported; the message lists every reason."""


class Unsupported(Exception):
    """One part of a model (a module, a call, a node, a layer) has no registry layer; the message says what
    is missing. Every importer's per-part functions raise this one type."""


def guarded(importer: str, source: str, run):
    """run() with the importers' promise kept: whatever the file holds, the caller sees an ImportError_ (one
    clear message), never another exception. The importers raise ImportError_ for every file problem they
    know; anything else escaping them is a bug in nnlang, reported as such with what it was."""
    try:
        return run()
    except ImportError_:
        raise
    except OSError as e:  # a file the user named cannot be read: theirs to fix, not a bug
        raise ImportError_(f"{e.filename or source}: {e.strerror or e}") from None
    except MemoryError:
        raise ImportError_(f"{source}: ran out of memory importing it (the {importer} importer bounds sizes it "
                           "can see; please report this file)") from None
    except RecursionError:
        raise ImportError_(f"{source}: nested too deeply for the {importer} importer") from None
    except Exception as e:  # noqa: BLE001 -- the promise: one error line, never a traceback
        where = _innermost_frame(e)
        raise ImportError_(f"{source}: the {importer} importer failed unexpectedly ({type(e).__name__}: {e}"
                           f"{where}); this is a bug in nnlang: please report it with the file") from None


def _innermost_frame(e: BaseException) -> str:
    """' at nnlang/targets/onnx/load.py:123' for the deepest frame of nnlang's own code, to locate a bug."""
    tb, found = e.__traceback__, ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename.replace("\\", "/")
        if "/nnlang/" in filename:
            found = f" at nnlang/{filename.rsplit('/nnlang/', 1)[1]}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


@dataclass
class Layer:
    """What an importer's per-part function returns: the registry layer `op` and its .nns parameters (only
    what the language cannot infer), plus what the importer needs to place it. Shared by all importers."""

    op: str
    params: dict = field(default_factory=dict)
    # The layer's data inputs, in order: value names (ONNX; default: the node's first input) or traced fx
    # arguments (PyTorch calls).
    inputs: Optional[list] = None
    weights: dict = field(default_factory=dict)  # weight name (PyTorch's: weight, bias, ...) -> array
    consumes: list = field(default_factory=list)  # later nodes this layer absorbed (MatMul + Add -> Linear)
    outputs: Optional[list] = None  # value names it produces (default: the node's outputs)
    pad_first: Optional[dict] = None  # Pad params of a Pad layer in front (padding the layer can't take)
    path: Optional[str] = None  # a learned tensor's name (parameter / initializer): the layer is named by it
    # {the layer's weight: the original's state_dict key}, for tensors a forward read from its module's own names
    # (MaxViT's bias table and index: the layer's keys are under its own name); the rename table keeps them
    keys: dict = field(default_factory=dict)


@dataclass
class ImportResult:
    text: str
    graph: Graph  # the imported IR (before printing)
    model: Any  # torch nn.Module: the printed network built back by the PyTorch target, with the weights
    max_abs_diff: Optional[float]  # verification: our output vs the original's on an example input
    unused: list = field(default_factory=list)  # weights the original's forward never reads (e.g. aux heads)
    reference_scale: Optional[float] = None  # max |y| of the original's outputs: the relative bound's scale
    # {our state_dict key: the model's own}, for names a .nns name cannot hold (cleaned); kept in the weights file
    renames: dict = field(default_factory=dict)


class BuiltOnUse(ImportResult):
    """An ImportResult whose PyTorch model is built when first read (`write` reads it), not by the importer:
    for an import with no weights to carry and nothing to verify against, whose model is only the PyTorch
    target's initialisation of the printed network (VGG-16's 138 M parameters: 2 s that a caller reading the
    text alone would pay). `build()` raises only ImportError_."""

    def __init__(self, text: str, graph: Graph, build, max_abs_diff: Optional[float] = None):
        self._build = build
        super().__init__(text, graph, None, max_abs_diff)

    @property
    def model(self):
        if self._build is not None:
            build, self._build = self._build, None
            self._model = build()
        return self._model

    @model.setter
    def model(self, value) -> None:
        self._model = value


def print_checked(graph: Graph, header: str) -> tuple:
    """(text, graph of the text analysed back). An error is the importer's, reported as ImportError_."""
    try:
        text = print_graph(graph, header)
        return text, reread(text)
    except PrintError as e:
        raise ImportError_(f"{graph.name}: {e}") from None


def by_node_order(graph: Graph, printed: Graph, weights: dict) -> list:
    """rebuild's `placed` for an importer whose printed network names its layers as the import placed them:
    the imported graph's nodes and the printed one's matched in order, weights keyed by the imported node's id."""
    return [(node.path, imported.op, key, value) for imported, node in zip(graph.nodes, printed.nodes)
            for key, value in weights.get(imported.id, {}).items()]


def rebuild(printed: Graph, placed, source: str, unset: str = "error"):
    """The printed network built with the PyTorch target, in eval mode, given an importer's weights.

    `placed`: (node path in the printed network, op, weight key, array) for every weight the model file holds;
    an array's size must be its slot's (any shape of that size: a file's own layout). `unset`: what a slot the
    file does not fill holds -- "error" (a file that holds every weight: ONNX, a .keras / .h5; the network is
    built without random draws, the load replacing everything) or "seeded" (the PyTorch target's seeded
    values: a caffemodel or GraphDef without some layer's blobs). `source` names the file in errors."""
    import numpy as np
    import torch

    from .torch.seeded import build_seeded, build_to_load
    from .torch.weights import load_state_dict

    model = build_to_load(printed) if unset == "error" else build_seeded(printed, seed=0)
    ours = model.state_dict()
    state = {}
    for path, op, key, value in placed:
        full = weight_key(path, key)
        if full not in ours:
            raise ImportError_(f"weight {key} of {op} has no place in the printed network ({full})")
        value = np.asarray(value)
        if value.size != ours[full].numel():
            raise ImportError_(f"layer {path!r} ({op}): weight {key or 'weight'} has shape {list(value.shape)}, "
                               f"the layer needs {list(ours[full].shape)}")
        # Copied by the load below; a read-only or strided array (a view of the file's bytes) once more before.
        value = value if value.flags.writeable and value.flags.c_contiguous else np.array(value)
        state[full] = torch.from_numpy(value).to(ours[full].dtype).reshape(ours[full].shape)
    # BatchNorm's step counter is no weight a file carries: the built one (0) stays.
    left = [k for k in ours if k not in state and not k.endswith("num_batches_tracked")]
    if left and unset == "error":
        raise ImportError_(f"{len(left)} weight(s) are not in {source}, e.g. {left[0]!r} (a weights file of "
                           "another model, or one saved without that layer?)")
    state.update((k, v) for k, v in ours.items() if k not in state)
    load_state_dict(model, state, strict=True, source=source)
    model.eval()
    return model


def check_difference(diff: Optional[float], tolerance: float, original: str, scale: Optional[float] = None) -> None:
    """Refuse an import whose verification differs by more than `tolerance`. With `scale` (max |y| of the
    original's outputs) the bound is relative to the output's scale, tolerance * max(1, scale): float noise
    grows with the values (a deep network's logits ~10), so a fixed absolute bound falsely refuses them."""
    if diff is None:
        return
    bound = tolerance * max(1.0, scale) if scale is not None and math.isfinite(scale) else tolerance
    if not diff <= bound:
        relative = "" if scale is None else f", relative to max(1, max |y| = {scale:.3g}): {diff / max(1.0, scale):.3g}"
        raise ImportError_(f"the imported network does not compute what {original} computes: max abs "
                           f"difference {diff:.3g} on an example input{relative} (tolerance {tolerance:g})")


def hoist_input_concats(graph: Graph) -> None:
    """A block whose first layer concatenates all its inputs (DenseNet's dense layer reads every
    earlier feature map) takes a different number of inputs per instance, so each would print as
    its own variant. Moving that Concat out, before the call, leaves one block taking one tensor.
    Done only where no later sibling is named by position, which the extra layer would shift."""
    blocks: dict = {}
    for scope in graph.root.scopes():
        if scope.kind == "block":
            blocks.setdefault(scope.type_name, []).append(scope)
    consumers = graph.consumers()
    for instances in blocks.values():
        if len({len(s.external_inputs()) for s in instances}) < 2:
            continue
        for s in instances:
            first = next(s.nodes(), None)
            ins = s.external_inputs()
            if first is None or first.op != "Concat" or first.inputs != ins or s.children[0] is not first:
                continue
            if any(c != first.id for t in ins for c in consumers.get(t, ()) if graph.nodes[c].scope is s):
                continue
            parent = s.parent
            at = parent.children.index(s)
            if any(c.name.isdigit() for c in parent.children[at:]):
                continue
            s.children.pop(0)
            first.scope, first.name, first.path = parent, "", ""
            parent.children.insert(at, first)


def write(result: ImportResult, out_path: str, source: str = "") -> list:
    """OUT.nns and OUT.safetensors beside it, both or neither."""
    from .torch.weights import save_beside

    nns = Path(out_path)
    nns.parent.mkdir(parents=True, exist_ok=True)
    st = nns.with_suffix(".safetensors")
    meta = {"source": source or nns.name, "imported": True}
    if result.renames:
        meta["renames"] = dict(sorted(result.renames.items()))
    save_beside(result.model, st, meta, nns, result.text)
    return [str(nns), str(st)]
