"""How each registry layer becomes ONNX: small functions registered by (layer, since_opset).

    @onnx_layer("LayerNorm", since=17)
    def layer_norm(b): return b.op("LayerNormalization", b.x, ...)

A layer may have several entries; the newest one whose `since` is <= the chosen opset is used
(onnx2torch registers its converters the same way). A function receives the layer's builder `b`
(builder.LayerBuilder: the IR node, its input names and types, the opset, and helpers that pick
the right form of an ONNX op for the opset) and returns the names of the layer's results.
A function that cannot express one configuration raises NotExpressible, naming the opset that
would work (or none). `unsupported(graph, opset)` runs every mapping without weights and
collects all of these, so a compile reports every problem before it writes anything.
"""

from __future__ import annotations

from collections.abc import Callable

from ..conversion import conversion_table
from ..registry import Registry

# language dtype -> ONNX element type (TensorProto's numbers; framework-free: the importer reads it before onnx loads)
ELEM_TYPES = {"f32": 1, "f64": 11, "f16": 10, "bf16": 16, "i64": 7, "i32": 6, "i16": 5, "i8": 3, "u8": 2, "bool": 9,
              "f8e4m3fn": 17, "f8e4m3fnuz": 18, "f8e5m2": 19, "f8e5m2fnuz": 20, "f8e8m0": 24}
NNS_DTYPES = {elem: dtype for dtype, elem in ELEM_TYPES.items()}  # ONNX element type -> language dtype

MIN_OPSET = 11  # Resize, Pad, Clip, Range take their modern input form from opset 11
DEFAULT_OPSET = 17


class NotExpressible(Exception):
    """This node cannot be written at the chosen opset; `since` is the first opset that can (None: none can)."""

    def __init__(self, reason: str, since: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.since = since


_REGISTRY = Registry("ONNX mapping", versioned=True)  # (layer op, since opset) -> fn(builder)


# Per-layer weight conversion from the PyTorch state_dict (conversion.py). Empty: ONNX keeps PyTorch's names
# and layouts; the LSTM gate reorder and Linear's transpose are graph nodes the mappings write.
WEIGHTS = conversion_table("ONNX")
onnx_weights = WEIGHTS.decorator


def onnx_layer(*ops: str, since: int = MIN_OPSET) -> Callable:
    """Register a mapping for registry layers `ops`, valid from opset `since` on."""
    return _REGISTRY.decorator(*ops, since=since)


def registry() -> dict:
    """op -> [(since, fn)] oldest first, with every layer module imported."""
    from . import layers  # noqa: F401  (importing registers the mappings)

    return {op: _REGISTRY.versions(op) for op in _REGISTRY.names()}


def lookup(op: str, opset: int) -> Callable:
    """The mapping for `op` at `opset`; NotExpressible if there is none."""
    from . import layers  # noqa: F401  (importing registers the mappings)

    entries = _REGISTRY.versions(op)
    if not entries:
        raise NotExpressible(f"{op} has no ONNX mapping")
    chosen = _REGISTRY.lookup(op, opset)
    if chosen is None:
        first = entries[0][0]
        raise NotExpressible(f"{op} has no ONNX form below opset {first}", first)
    return chosen


def capability(graph, options: dict) -> list:
    """The target descriptor's capability check: [(node, reason)] at options["opset"] (default 17)."""
    opset = options.get("opset")
    opset = check_opset(DEFAULT_OPSET if opset is None else opset)
    return [(node, f"not expressible in ONNX at opset {opset}: {why}") for node, why in unsupported(graph, opset)]


def max_opset() -> int:
    """The newest default-domain opset the installed onnx package knows."""
    import onnx

    return onnx.defs.onnx_opset_version()


def check_opset(opset) -> int:
    """`opset` if it is one this target writes; ValueError naming the range otherwise."""
    top = max_opset()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= top:
        raise ValueError(f"opset {opset!r} is not supported: choose {MIN_OPSET} to {top} "
                         f"(the installed onnx knows up to {top})")
    return opset


def describe(reason: str, since: int | None, opset: int) -> str:
    """The message for one node that cannot be written at `opset`."""
    if since is None:
        return f"{reason}; not exportable to ONNX"
    return f"{reason}; needs --opset {since} or newer (chosen: {opset})"


def unsupported(graph, opset: int = DEFAULT_OPSET, dynamic_batch: bool = False) -> list:
    """(node, reason) for every node that cannot be written at `opset`, in graph order. No weights are needed."""
    from .emit import emit_graph

    return emit_graph(graph, check_opset(opset), dynamic_batch=dynamic_batch).problems
