"""Compile-time evaluation of expressions: ints, floats, bools, strings, tuples, shape access.

Only arithmetic, comparisons, boolean logic, a few pure functions and `x.channels` / `x.shape[i]`
/ `x.rank` on tensors. Nothing here can run user code.
"""

from __future__ import annotations

import difflib
import math

from ..span import Span
from ..syntax import nodes as n

MAX_RANGE = 100_000
MAX_INT_BITS = 64
MAX_LENGTH = 100_000  # elements of a tuple, characters of a string
# Evaluation is charged to the caller's work budget (`spend`, lowering's MAX_WORK): one unit per expression
# node, and for values built element by element (range, tuple and string concatenation, comparing or
# reducing tuples) one unit per ELEMENTS_PER_UNIT elements, charged before they are built. Otherwise a
# 900-byte file -- a 200-term sum, or len(range(100000)), in a loop of 100,000 -- ran for seconds to hours:
# the statement counter saw one statement per iteration.
ELEMENTS_PER_UNIT = 8


def _free(units: int) -> None:
    pass


class EvalError(Exception):
    def __init__(self, message: str, span: Span, code: str = "E501"):
        super().__init__(message)
        self.span = span
        self.code = code


class Poisoned(Exception):
    """A value depends on a tensor whose type is unknown because of an earlier error: stay quiet."""


class TensorRef:
    """A tensor named in an expression; `resolve` gives its TensorType (or None if poisoned)."""

    __slots__ = ("name", "type")

    def __init__(self, name, type_):
        self.name = name
        self.type = type_

    def describe_value(self) -> str:
        return f"tensor '{self.name}'"


def _typename(v) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, tuple):
        return "tuple"
    if isinstance(v, TensorRef):
        return "tensor"
    return type(v).__name__


def _num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_int(v, span):
    if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > MAX_INT_BITS:
        raise EvalError("integer too large (more than 64 bits)", span)
    return v


def _range(args, span, spend=_free):
    if not 1 <= len(args) <= 3 or not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        raise EvalError("range takes 1 to 3 ints", span)
    r = range(*args) if args[-1:] != [0] or len(args) < 3 else None
    if r is None:
        raise EvalError("range step must not be zero", span)
    try:
        size = len(r)
    except OverflowError:  # more items than a machine word counts
        size = MAX_RANGE + 1
    if size > MAX_RANGE:
        raise EvalError(f"range of {size:,} items is larger than the limit {MAX_RANGE:,}", span, "E503")
    spend(size // ELEMENTS_PER_UNIT)
    return tuple(r)


def _minmax(f):
    def call(args, span, spend=_free):
        items = args[0] if len(args) == 1 and isinstance(args[0], tuple) else tuple(args)
        spend(len(items) // ELEMENTS_PER_UNIT)
        if not items or not all(_num(a) for a in items):
            raise EvalError(f"{f.__name__} takes numbers", span)
        return f(items)
    return call


def _len(args, span, spend=_free):
    if len(args) != 1 or not isinstance(args[0], (tuple, str)):
        raise EvalError("len takes one tuple or string", span)
    return len(args[0])


def _conv(f, name):
    def call(args, span, spend=_free):
        if len(args) != 1 or not (_num(args[0]) or isinstance(args[0], bool)):
            raise EvalError(f"{name} takes one number", span)
        try:
            return f(args[0])
        except (OverflowError, ValueError) as e:
            raise EvalError(f"{name}: {e}", span) from None
    return call


def _round_to(args, span, spend=_free):
    # make_divisible, as MobileNet/EfficientNet round channel counts.
    if len(args) not in (2, 3) or not all(_num(a) for a in args):
        raise EvalError("make_divisible(value, divisor[, min_value]) takes numbers", span)
    v, d = args[0], int(args[1])
    if d <= 0:
        raise EvalError("make_divisible: divisor must be positive", span)
    lo = int(args[2]) if len(args) == 3 else d
    new = max(lo, int(v + d / 2) // d * d)
    if new < 0.9 * v:
        new += d
    return new


FUNCTIONS = {
    "range": _range,
    "min": _minmax(min),
    "max": _minmax(max),
    "len": _len,
    "int": _conv(int, "int"),
    "float": _conv(float, "float"),
    "abs": _conv(abs, "abs"),
    "floor": _conv(math.floor, "floor"),
    "ceil": _conv(math.ceil, "ceil"),
    "round": _conv(round, "round"),
    "make_divisible": _round_to,
}


def evaluate(expr, lookup, spend=_free):
    """Evaluate expr; lookup(name, span) returns a value or raises EvalError; spend(units) is charged for the
    work (see ELEMENTS_PER_UNIT) and may raise to stop it."""
    spend(1)
    t = type(expr)
    if t is n.Literal:
        return expr.value
    if t is n.NameRef:
        return lookup(expr.id, expr.span)
    if t is n.BinOp:
        # Operator chains are left-deep (`1 + 1 + ... + 1`): walk the left spine in a loop, so a
        # long chain never exhausts Python's recursion limit.
        spine = []
        while type(expr) is n.BinOp and expr.op != "**":
            spine.append(expr)
            expr = expr.left
        spend(len(spine))
        value = _binop(expr, evaluate(expr.left, lookup, spend), lookup, spend) if type(expr) is n.BinOp else \
            evaluate(expr, lookup, spend)
        for node in reversed(spine):
            value = _binop(node, value, lookup, spend)
        return value
    if t is n.UnaryOp:
        v = evaluate(expr.operand, lookup, spend)
        if expr.op == "not":
            if not isinstance(v, bool):
                raise EvalError(f"'not' needs a bool, got {_typename(v)}", expr.span)
            return not v
        if not _num(v):
            raise EvalError(f"unary '{expr.op}' needs a number, got {_typename(v)}", expr.span)
        return -v if expr.op == "-" else v
    if t is n.TupleExpr:
        return tuple(evaluate(i, lookup, spend) for i in expr.items)
    if t is n.Attr:
        obj = evaluate(expr.obj, lookup, spend)
        return _attr(obj, expr)
    if t is n.Index:
        obj = evaluate(expr.obj, lookup, spend)
        idx = evaluate(expr.index, lookup, spend)
        if not isinstance(obj, (tuple, str)):
            raise EvalError(f"cannot index a {_typename(obj)}", expr.span)
        if not isinstance(idx, int) or isinstance(idx, bool):
            raise EvalError(f"index must be an int, got {_typename(idx)}", expr.index.span)
        if not -len(obj) <= idx < len(obj):
            raise EvalError(f"index {idx} out of range for length {len(obj)}", expr.index.span)
        if isinstance(obj, Shape):
            return _known(obj[idx], f"{obj.tensor_name}.shape[{idx}]", expr.span)
        return obj[idx]
    if t is n.Call:
        f = FUNCTIONS.get(expr.func.id)
        if f is None:
            raise EvalError(f"unknown function '{expr.func.id}' (available: {', '.join(sorted(FUNCTIONS))})",
                            expr.func.span, "E208")
        return f([evaluate(a, lookup, spend) for a in expr.args], expr.span, spend)
    raise EvalError("not a compile-time expression", expr.span)


def _attr(obj, expr):
    name = expr.attr.id
    if not isinstance(obj, TensorRef):
        raise EvalError(f"a {_typename(obj)} has no attribute '{name}'", expr.attr.span)
    ty = obj.type
    if ty is None:
        raise Poisoned()
    if name == "shape":
        return Shape(ty.shape, obj.name)
    if name == "rank":
        return ty.rank
    if name == "dtype":
        return ty.dtype
    if name == "channels":
        if ty.rank < 2:
            raise EvalError(f"'{obj.name}' has rank {ty.rank}: no channel dimension", expr.attr.span)
        return _known(ty.shape[1], f"{obj.name}.channels", expr.span)
    if name == "features":
        if not ty.rank:
            raise EvalError(f"'{obj.name}' is a scalar: no features dimension", expr.attr.span)
        return _known(ty.shape[-1], f"{obj.name}.features", expr.span)
    hint = difflib.get_close_matches(name, TENSOR_ATTRIBUTES, n=1)
    raise EvalError(f"tensors have .{', .'.join(TENSOR_ATTRIBUTES)}, not '.{name}'"
                    + (f"; did you mean '{hint[0]}'?" if hint else ""), expr.attr.span)


TENSOR_ATTRIBUTES = ("shape", "channels", "features", "rank", "dtype")


class Shape(tuple):
    """x.shape: a tuple whose symbolic dims cannot be read as numbers (E303 at the read)."""

    def __new__(cls, dims, tensor_name):
        self = super().__new__(cls, dims)
        self.tensor_name = tensor_name
        return self


def _known(dim, what, span):
    if isinstance(dim, int):
        return dim
    shown = f"it is the symbol {dim}" if isinstance(dim, str) else "it is unknown" if dim is None else f"it is {dim}"
    raise EvalError(f"{what} must be known here, but {shown}; give that input dim a number", span, "E303")


_CMP = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _binop(expr, left, lookup, spend=_free):
    """Apply expr's operator to the already evaluated left operand and expr.right."""
    op = expr.op
    if op in ("and", "or"):
        if not isinstance(left, bool):
            raise EvalError(f"'{op}' needs bools, got {_typename(left)}", expr.left.span, "E502")
        if (op == "and" and not left) or (op == "or" and left):
            return left
        right = evaluate(expr.right, lookup, spend)
        if not isinstance(right, bool):
            raise EvalError(f"'{op}' needs bools, got {_typename(right)}", expr.right.span, "E502")
        return right
    a = left
    b = evaluate(expr.right, lookup, spend)
    if isinstance(a, (tuple, str)) and isinstance(b, (tuple, str)):  # compared or joined element by element
        if op == "+" and type(a) is type(b) and len(a) + len(b) > MAX_LENGTH:
            raise EvalError(f"a {_typename(a)} longer than {MAX_LENGTH:,} items", expr.span, "E503")
        spend((len(a) + len(b)) // ELEMENTS_PER_UNIT)
    if op in ("==", "!="):
        return _CMP[op](a, b)
    if op in _CMP:
        if (_num(a) and _num(b)) or (type(a) is type(b) and isinstance(a, (str, tuple))):
            try:
                return _CMP[op](a, b)
            except TypeError:  # tuples are ordered by their items, which may not be: (1, "a") < (1, 2)
                pass
            raise EvalError(f"cannot compare {_typename(a)}s whose items cannot be compared", expr.span)
        raise EvalError(f"cannot compare {_typename(a)} and {_typename(b)}", expr.span)
    if op == "+" and type(a) is type(b) and isinstance(a, (tuple, str)):
        if len(a) + len(b) > MAX_LENGTH:
            raise EvalError(f"a {_typename(a)} longer than {MAX_LENGTH:,} items", expr.span, "E503")
        return a + b
    if not (_num(a) and _num(b)):
        raise EvalError(f"'{op}' needs numbers, got {_typename(a)} and {_typename(b)}", expr.span)
    try:
        if op == "+":
            r = a + b
        elif op == "-":
            r = a - b
        elif op == "*":
            r = a * b
        elif op == "/":
            r = a / b
        elif op == "//":
            r = a // b
        elif op == "%":
            r = a % b
        elif op == "**":
            if isinstance(b, int) and b > 64:
                raise EvalError("exponent too large", expr.span)
            r = a ** b
        else:
            raise EvalError(f"unknown operator {op}", expr.span)
    except ZeroDivisionError:
        raise EvalError("division by zero", expr.span) from None
    except OverflowError:
        raise EvalError("number too large", expr.span) from None
    if isinstance(r, complex):
        raise EvalError("result is not a real number", expr.span)
    return _check_int(r, expr.span)
