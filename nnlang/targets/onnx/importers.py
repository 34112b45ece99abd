"""ONNX ops -> registry layers: one small function per op, registered by (op_type, since_version).

The newest entry whose `since` is <= the model's opset is used (as onnx2torch does): ops whose
inputs/attributes moved between opsets (Squeeze's axes, Split's sizes, Clip's bounds, Pad's pads)
get one entry per form. A function receives an `Op` (the node, its attributes, constant inputs,
inferred shapes) and returns a `Layer` -- or `Alias` for ops that are no layer at inference
(Identity, Dropout). Weights come back as numpy arrays under PyTorch's names ("weight", "bias",
"running_mean" ...), which is how the registry names them.

This module holds `Op`, `Alias`, the registry and the helpers the op families share; the importers
themselves are in import_*.py by op family (import_conv, import_dense, import_norm, import_activation,
import_reshape, import_elementwise, import_math ...), imported at its end: importing it registers them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Collection, Optional

import numpy as np

from ..importing import Layer, Unsupported  # noqa: F401 -- Layer: the import_* modules and fusions take it from here
from ..registry import Registry


@dataclass
class Alias:
    """The node passes a value through unchanged: its output is its input."""

    source: str


@dataclass
class Op:
    node: object  # onnx NodeProto
    attrs: dict  # attribute name -> Python value
    const: Callable  # value name -> np.ndarray or None (not a constant)
    shape: Callable  # value name -> tuple (dims: int or str) or None
    consumers: Callable  # value name -> [NodeProto]
    opset: int
    initializers: Collection = frozenset()  # the names of the model's stored tensors
    dtype: Callable = lambda name: None  # value name -> .nns dtype ("f32", "i64" ...) or None (unknown)
    dims: Callable = lambda name: None  # value name -> dims computed from Shape with symbols ("N") or None
    graph_outputs: Collection = frozenset()  # the names of the model's outputs

    def affine(self, scale_index: int, shift_index: int) -> bool:
        """Whether a normalisation's scale and shift are learned: values other than 1 and 0, or tensors
        stored under a parameter's name (a fresh model's are exactly 1 and 0). Exporters write the
        constant 1 and 0 of a layer without them as unnamed constants."""
        scale, shift = self.const(self.input(scale_index)), self.const(self.input(shift_index))
        if (scale is not None and np.any(scale != 1)) or (shift is not None and np.any(shift != 0)):
            return True
        name = self.input(scale_index) or ""
        return name in self.initializers and name.rsplit(".", 1)[-1] in ("weight", "scale", "gamma")

    @property
    def inputs(self) -> list:
        return list(self.node.input)

    def input(self, i: int) -> Optional[str]:
        ins = self.node.input
        return ins[i] if len(ins) > i and ins[i] else None

    def const_input(self, i: int, what: str):
        name = self.input(i)
        if name is None:
            return None
        value = self.const(name)
        if value is None:
            raise Unsupported(f"{self.node.op_type}: {what} must be a constant")
        return value

    def rank(self, i: int = 0) -> int:
        s = self.shape(self.input(i))
        if s is None:
            raise Unsupported(f"{self.node.op_type}: the rank of its input is unknown (no shape inferred)")
        return len(s)


_REGISTRY = Registry("ONNX importer", versioned=True)  # (op_type, since) -> fn(Op) -> Layer | Alias


def onnx_op(*op_types: str, since: int = 1):
    return _REGISTRY.decorator(*op_types, since=since)


def lookup(op_type: str, opset: int) -> Optional[Callable]:
    return _REGISTRY.lookup(op_type, opset)


def _ints(v):
    return tuple(int(x) for x in v)


def _one(v):
    v = tuple(v)
    return v[0] if v and all(x == v[0] for x in v) else v


def _channel_axis(op: Op, x: str, c) -> Optional[int]:
    """The one axis of x a constant varies along (right-aligned broadcasting), or None."""
    shape = op.shape(x)
    if shape is None or c.ndim > len(shape) or c.ndim == 0:
        return None
    axes = [len(shape) - c.ndim + k for k, d in enumerate(c.shape) if d != 1]
    if len(axes) != 1 or shape[axes[0]] != c.size:
        return None
    return axes[0]


from . import import_conv  # noqa: E402,F401 -- registers Conv, ConvTranspose, the pools
from . import import_dense  # noqa: E402,F401 -- registers Gemm, MatMul
from . import import_norm  # noqa: E402,F401 -- registers the normalisations (opset 9+ BatchNormalization ...)
from . import import_activation  # noqa: E402,F401 -- registers the activations, Softmax, Clip, Identity
from . import import_reshape  # noqa: E402,F401 -- registers Concat, Flatten, Reshape ... Pad, Split
from . import import_legacy  # noqa: E402,F401 -- registers the opset 1-12 forms
from . import import_elementwise  # noqa: E402,F401 -- registers Add / Sub / Mul / Div, Where
from .import_elementwise import tensor_path  # noqa: E402,F401 -- fusions and import_constants name tensors by it
from . import import_math  # noqa: E402,F401 -- registers the reductions and elementwise math
from . import import_attention  # noqa: E402,F401 -- registers Attention (opset 23+)
from . import import_resize  # noqa: E402,F401 -- registers Resize (opset 11+)
from . import import_rnn  # noqa: E402,F401 -- registers the bare LSTM / GRU / RNN node
from . import import_layout  # noqa: E402,F401 -- registers DepthToSpace, SpaceToDepth, Tile, Expand
from . import import_rotary  # noqa: E402,F401 -- registers RotaryEmbedding (opset 23)
