"""The vocabulary every layer family uses: tensor types, parameter types, LayerSpec.

A layer type is defined once, as a LayerSpec: its parameters (typed, with defaults and
constraints), its doc, its shape rule, its weights (names and shapes, which give the exact
parameter count) and its multiply-accumulates. Docs, completion, hover, the checker and every
target read these specs; nothing else restates them.

MACs convention (docs/layers.md): multiply-accumulates of matrix products and convolutions only
(convolution, transposed convolution, linear, bilinear, matmul, attention projections and
products, recurrent gate products) -- exactly what torch.utils.flop_counter.FlopCounterMode
counts, divided by 2. Normalisation, activation, pooling and elementwise layers count 0, as in
fvcore and in the published MAC figures of the model zoo (e.g. ResNet-50: 4.09 G).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional, Union

from . import symdim
from .symdim import DIFFERENT, SymExpr, compare

# int: known; str: a symbol (N, T, ...); SymExpr: an expression over symbols (H // 2); None: unknown
Dim = Union[int, str, SymExpr, None]


@dataclass(frozen=True, slots=True)
class TensorType:
    shape: tuple
    dtype: str = "f32"
    layout: str = "channels_first"

    @property
    def rank(self) -> int:
        return len(self.shape)

    def with_shape(self, shape) -> "TensorType":
        return TensorType(tuple(shape), self.dtype, self.layout)

    def __str__(self) -> str:
        return format_shape(self.shape)


def format_dim(d: Dim) -> str:
    return "?" if d is None else str(d)


def format_shape(shape) -> str:
    return "[" + ", ".join(format_dim(d) for d in shape) + "]"


def known(d: Dim) -> bool:
    return isinstance(d, int)


def numel(shape) -> Dim:
    """Number of elements: an int, a symbolic product (64 * H * W), or None when a dim is unknown."""
    total = 1
    for d in shape:
        if type(d) is not int:
            return symdim.product(shape)
        total *= d
    return total


class _Warnings(threading.local):
    items: Optional[list] = None


_WARNINGS = _Warnings()  # per thread: the language server analyses in a worker thread


def shape_warning(message: str) -> None:
    """A shape rule's warning (sizes equal only under a condition, W306). Lowering collects the warnings
    of each rule call (start_warnings / take_warnings) and reports them at the layer; outside lowering
    (emitters re-running a rule) they are dropped."""
    items = _WARNINGS.items
    if items is not None and message not in items:
        items.append(message)


def start_warnings() -> None:
    _WARNINGS.items = []


def take_warnings() -> list:
    items, _WARNINGS.items = _WARNINGS.items, None
    return items or []


class ShapeError(Exception):
    """Raised by a shape rule: the message says what is wrong and what was expected.

    code: E301 mismatch, E302 rank, E303 dim must be known, E304 invalid (non-positive) result.
    input: index of the input the problem is about (for related locations), if any.
    """

    def __init__(self, message: str, code: str = "E301", input: Optional[int] = None):
        super().__init__(message)
        self.code = code
        self.input = input


# ---- parameter types ---------------------------------------------------------------------------

class ParamTypeError(Exception):
    """A parameter value of the wrong type (diagnostic E104)."""


class ParamRangeError(ParamTypeError):
    """A parameter value of the right type outside its allowed range (diagnostic E105)."""


class ParamType:
    """Checks and normalises one parameter value; `describe` names the type for messages/docs."""

    def check(self, value):
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class _Int(ParamType):
    def check(self, value):
        if _is_int(value):
            return value
        raise ParamTypeError(f"expected an int, got {describe_value(value)}")

    def describe(self):
        return "int"


class _Float(ParamType):
    def check(self, value):
        if _is_int(value) or isinstance(value, float):
            return float(value)
        raise ParamTypeError(f"expected a number, got {describe_value(value)}")

    def describe(self):
        return "float"


class _Bool(ParamType):
    def check(self, value):
        if isinstance(value, bool):
            return value
        raise ParamTypeError(f"expected true or false, got {describe_value(value)}")

    def describe(self):
        return "bool"


class _Str(ParamType):
    def check(self, value):
        if isinstance(value, str):
            return value
        raise ParamTypeError(f"expected a string, got {describe_value(value)}")

    def describe(self):
        return "str"


INT = _Int()
FLOAT = _Float()
BOOL = _Bool()
STR = _Str()


@dataclass(frozen=True)
class Ints(ParamType):
    """An int (repeated n times) or a tuple of exactly n ints; normalised to an n-tuple."""

    n: int

    def check(self, value):
        if _is_int(value):
            return (value,) * self.n
        if isinstance(value, tuple) and len(value) == self.n and all(_is_int(v) for v in value):
            return value
        raise ParamTypeError(f"expected an int or a tuple of {self.n} ints, got {describe_value(value)}")

    def describe(self):
        return "int" if self.n == 1 else f"int | ({', '.join(['int'] * self.n)})"


@dataclass(frozen=True)
class IntTuple(ParamType):
    """A tuple of ints of any length (an int alone is a 1-tuple)."""

    def check(self, value):
        if _is_int(value):
            return (value,)
        if isinstance(value, tuple) and all(_is_int(v) for v in value):
            return value
        raise ParamTypeError(f"expected a tuple of ints, got {describe_value(value)}")

    def describe(self):
        return "(int, ...)"


@dataclass(frozen=True)
class FloatTuple(ParamType):
    def check(self, value):
        if _is_int(value) or isinstance(value, float):
            return (float(value),)
        if isinstance(value, tuple) and all(_is_int(v) or isinstance(v, float) for v in value):
            return tuple(float(v) for v in value)
        raise ParamTypeError(f"expected a number or a tuple of numbers, got {describe_value(value)}")

    def describe(self):
        return "float | (float, ...)"


@dataclass(frozen=True)
class Choice(ParamType):
    options: tuple

    def check(self, value):
        if value in self.options and isinstance(value, str):
            return value
        opts = ", ".join(f'"{o}"' for o in self.options)
        raise ParamTypeError(f"expected one of {opts}, got {describe_value(value)}")

    def describe(self):
        return " | ".join(f'"{o}"' for o in self.options)


@dataclass(frozen=True)
class Padding(ParamType):
    """"same" | "valid" | int | n ints. Kept as given; resolved to explicit pads by the shape rule."""

    n: int

    def check(self, value):
        if value in ("same", "valid"):
            return value
        try:
            return Ints(self.n).check(value)
        except ParamTypeError:
            raise ParamTypeError(
                f'expected "same", "valid", an int or a tuple of {self.n} ints, got {describe_value(value)}'
            ) from None

    def describe(self):
        return '"same" | "valid" | ' + Ints(self.n).describe()


@dataclass(frozen=True)
class OneOf(ParamType):
    """The first member type that accepts the value wins."""

    types: tuple

    def check(self, value):
        for t in self.types:
            try:
                return t.check(value)
            except ParamTypeError:
                pass
        raise ParamTypeError(f"expected {self.describe()}, got {describe_value(value)}")

    def describe(self):
        return " | ".join(t.describe() for t in self.types)


@dataclass(frozen=True)
class Optional_(ParamType):
    """A type whose default is `none` (no value): only the default can be None."""

    inner: ParamType

    def check(self, value):
        return None if value is None else self.inner.check(value)

    def describe(self):
        return self.inner.describe()


def describe_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if _is_int(v):
        return f"int {v}"
    if isinstance(v, float):
        return f"float {v}"
    if isinstance(v, str):
        return f'string "{v}"'
    if isinstance(v, tuple):
        return "tuple (" + ", ".join(describe_value(x) for x in v) + ")"
    if v is None:
        return "nothing"
    if hasattr(v, "describe_value"):  # a tensor named in an expression
        return v.describe_value()
    return type(v).__name__


REQUIRED = object()


@dataclass(frozen=True)
class Param:
    name: str
    type: ParamType
    default: Any = REQUIRED
    doc: str = ""
    min: Optional[float] = None  # every int / element of a tuple must be >= min
    max: Optional[float] = None  # ... and <= max
    min_exclusive: bool = False  # min itself is not allowed (a scale factor must be > 0)
    positional: bool = True  # may be given by position (in declaration order)
    aliases: tuple = ()  # other accepted keyword spellings (PyTorch's kernel_size for kernel)
    lead: bool = False  # optional, yet written by position when given: the layer's one operand (Mul(0.5), Dropout(0.2))

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def default_value(self):
        """The default as an attribute holds it (normalised like a given value); None stays None."""
        return None if self.default is None else self.validate(self.default)

    def validate(self, value):
        """Type-check and normalise; raises ParamTypeError with a message that says what is expected."""
        v = self.type.check(value)
        if (self.min is None and self.max is None) or v is None or isinstance(v, str):
            return v
        for x in v if isinstance(v, tuple) else (v,):
            if not isinstance(x, (int, float)) or isinstance(x, bool):
                continue
            if self.min is not None and (x <= self.min if self.min_exclusive else x < self.min):
                raise ParamRangeError(f"must be {'>' if self.min_exclusive else '>='} {_bound(self.min)}, got {x}")
            if self.max is not None and x > self.max:
                raise ParamRangeError(f"must be <= {_bound(self.max)}, got {x}")
        return v


def _bound(b: float):
    return int(b) if float(b).is_integer() else b


@dataclass(frozen=True, slots=True)
class Weight:
    """One named tensor a layer owns, named as PyTorch names it (weight, bias, running_mean ...).

    The empty name means the layer's own path: a bare parameter such as torchvision's `class_token`
    (see weight_key)."""

    name: str
    shape: tuple
    trainable: bool = True  # False: a buffer (BatchNorm running statistics)
    dtype: str = "f32"
    # An index the layer computes from its attributes (a window's token-pair index), not learned: an importer
    # takes the source's only where it holds these values (in any layout), and keeps the built one otherwise.
    derived: bool = False

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def weight_key(path: str, name: str) -> str:
    """The state_dict key of weight `name` of the layer at `path`: `layer1.0.conv1.weight`; the empty
    name is the layer's path itself (`encoder.pos_embedding`). Every place that forms a key uses this."""
    if not name:
        return path
    return f"{path}.{name}" if path else name


@dataclass(frozen=True)
class Inferred:
    """A PyTorch constructor argument that the language infers from an input (in_channels, in_features).

    axis: the dim of input `input` it comes from; `what` names it in messages ("input channels")."""

    torch_name: str
    what: str
    axis: int = 1
    input: int = 0


IN_CHANNELS = Inferred("in_channels", "input channels")
NUM_FEATURES = Inferred("num_features", "input channels")
IN_FEATURES = Inferred("in_features", "input features", axis=-1)


Attrs = dict


def no_weights(attrs: Attrs, inputs: list) -> list:
    return []


def zero_macs(attrs: Attrs, inputs: list, outputs: list) -> int:
    return 0


@dataclass
class LayerSpec:
    name: str
    family: str
    doc: str
    params: tuple
    infer: Callable[[Attrs, list], list]
    weights: Callable[[Attrs, list], list] = no_weights
    macs: Callable[[Attrs, list, list], int] = zero_macs
    inputs: tuple = (1, 1)  # (min, max) number of input tensors; max None = any
    outputs: Union[int, Callable[[Attrs], int]] = 1
    aliases: tuple = ()
    loss: bool = False
    input_names: tuple = ()  # names of the inputs, for docs and signature help
    example: str = ""  # a one-line use, shown in docs and hover
    flat_input: bool = False  # its rank-2 input is [N, features], so Flatten fixes a higher rank (a quick fix)
    # How many leading params may be given by position; None: the leading required ones. The rest are
    # keyword-only, so a PyTorch-ordered call (`BatchNorm2d(32)`) is refused instead of meaning eps=32.
    positional: Optional[int] = None
    # PyTorch's positional constructor order, in our param names: an `Inferred` slot is a size the
    # language infers (in_channels), None a torch argument we have no param for. Read by the checker to
    # explain a PyTorch-style call and rewrite it (E110, E106); empty: torch's order is ours.
    torch_signature: tuple = ()
    param_index: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        lead = self.positional
        if lead is None:
            lead = next((k for k, p in enumerate(self.params) if not p.required), len(self.params))
        self.params = tuple(p if p.positional == (k < lead) else replace(p, positional=k < lead)
                            for k, p in enumerate(self.params))
        self.param_index = {p.name: p for p in self.params}

    def num_outputs(self, attrs: Attrs) -> int:
        return self.outputs(attrs) if callable(self.outputs) else self.outputs

    def signature(self) -> str:
        parts = []
        for p in self.params:
            if p.required:
                parts.append(f"{p.name}: {p.type.describe()}")
            else:
                parts.append(f"{p.name}={format_value(p.default)}")
        return f"{self.name}({', '.join(parts)})"


def format_value(v) -> str:
    """A value as .nns source text."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, str):
        return _string_literal(v)
    if isinstance(v, tuple):
        inner = ", ".join(format_value(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, float) and math.isinf(v):
        return "1e999" if v > 0 else "-1e999"  # .nns has no inf literal; this one reads back as inf
    return repr(v)


# Characters that break a line for some readers (str.splitlines, editors) or reorder the text
# shown (bidirectional controls, "Trojan Source"): always written as escapes.
_ESCAPE_ALWAYS = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029\u200e\u200f\u061c"}
_ESCAPE_ALWAYS.update({cp: f"\\u{cp:04x}" for cp in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})


def _string_literal(v: str) -> str:
    """A double-quoted .nns string (Python escapes) that reads back as exactly `v` on one line."""
    import json

    return json.dumps(v, ensure_ascii=False).translate(_ESCAPE_ALWAYS)


# ---- helpers the families share -----------------------------------------------------------------

def require_rank(t: TensorType, ranks, what: str, input: int = 0):
    ranks = (ranks,) if isinstance(ranks, int) else tuple(ranks)
    if t.rank not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise ShapeError(f"{what} expects a rank-{want} input, got rank {t.rank} {t}", "E302", input)


def require_known(d: Dim, what: str, input: int = 0) -> int:
    if not isinstance(d, int):
        raise ShapeError(f"{what} must be known, got {format_dim(d)}", "E303", input)
    return d


def channels_of(t: TensorType, layer: str, input: int = 0) -> int:
    if t.rank < 2:
        raise ShapeError(f"{layer} expects a channel dimension, got rank {t.rank} {t}", "E302", input)
    return require_known(t.shape[1], f"{layer}: input channels (dim 1 of {t})", input)


def count(shape) -> int:
    """Elements per example for MACs: symbolic dims (the batch N, a sequence T, H // 2) count as 1.
    Exact MACs need concrete sizes: `--set H=224` or `--input x=[1, 3, 224, 224]`."""
    total = 1
    for d in shape:
        if isinstance(d, int):
            total *= d
    return total


def dim_arith(f, *dims) -> Dim:
    """Apply f (+ - * and // by a positive int) to dims; symbolic operands give an exact expression, an
    unknown operand or an operation the algebra lacks an unknown result."""
    if all(type(d) is int for d in dims):
        return f(*dims)
    if any(d is None for d in dims):
        return None
    try:
        r = f(*(SymExpr((((d,), 1),)) if type(d) is str else d for d in dims))
    except (TypeError, ArithmeticError):
        return None
    return symdim.add(r, 0) if type(r) in (SymExpr, int) else None  # normalised: a lone symbol is a str


def same_dims(a: Dim, b: Dim, what: Optional[str] = None) -> bool:
    """Two dims that may be equal: unknown matches anything, two plain symbols or a symbol and an int only
    when they are the same, expressions are compared exactly. Equal
    only under a condition (H vs (H // 2) * 2): True, with a warning `{what} are equal only when ...`
    when `what` names the two dims."""
    if a is None or b is None or a == b:
        return True
    if type(a) is not SymExpr and type(b) is not SymExpr:
        return False  # distinct symbols name independent sizes; a symbol is not a given number
    verdict, condition = compare(a, b)
    if verdict == DIFFERENT:
        return False
    if condition is not None and what is not None:
        shape_warning(f"{what} are equal only when {condition}")
    return True


def broadcast_shapes(shapes: list, what: str) -> tuple:
    """NumPy broadcasting over dims that may be symbolic; raises ShapeError naming both shapes."""
    rank = max(len(s) for s in shapes)
    out = []
    for k in range(rank):
        dim: Dim = 1
        src = None
        for idx, s in enumerate(shapes):
            j = k - (rank - len(s))
            if j < 0:
                continue
            d = s[j]
            if d == 1:
                continue
            if dim == 1:
                dim, src = d, idx
            elif d is None or dim is None:
                dim = d if dim is None else dim
            elif d != dim and not same_dims(dim, d, f"{what}: dim {k} of {format_shape(shapes[src])} and "
                                                    f"{format_shape(s)}"):
                raise ShapeError(
                    f"{what}: shapes {format_shape(shapes[src])} and {format_shape(s)} do not match "
                    f"at dim {k} ({format_dim(dim)} vs {format_dim(d)})", "E301", idx)
            elif type(d) is int:
                dim = d  # equal under a condition: the known size is the more useful one
        out.append(dim)
    return tuple(out)
