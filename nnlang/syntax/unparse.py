"""Syntax nodes back to .nns text (canonical spacing), for messages and quick fixes that rewrite a call."""

from __future__ import annotations

from typing import Optional

from . import nodes as n
from .convert import _PREC, _PREFIX_PREC


def expr_text(e) -> Optional[str]:
    """The expression as .nns source, with only the parentheses precedence needs; None if too deep."""
    try:
        return _expr(e, 0)
    except RecursionError:  # a pathological operand chain: callers then offer no rewrite
        return None


def call_text(call: n.LayerCall, args=None) -> Optional[str]:
    """`Name(a, b, k=v)` for a layer call, optionally with other (name or None, text) arguments."""
    if args is None:
        args = []
        for a in call.args or ():
            text = expr_text(a.value)
            if text is None:
                return None
            args.append((a.name.id if a.name else None, text))
    parts = [text if name is None else f"{name}={text}" for name, text in args]
    return f"{call.name.id}({', '.join(parts)})" if parts else call.name.id


def _expr(e, outer: int) -> str:
    t = type(e)
    if t is n.Literal:
        from ..layers.base import format_value

        return format_value(e.value)
    if t is n.NameRef:
        return e.id
    if t is n.Attr:
        return f"{_expr(e.obj, 9)}.{e.attr.id}"
    if t is n.Index:
        return f"{_expr(e.obj, 9)}[{_expr(e.index, 0)}]"
    if t is n.Call:
        return f"{e.func.id}({', '.join(_expr(a, 0) for a in e.args)})"
    if t is n.TupleExpr:
        items = [_expr(x, 0) for x in e.items]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if t is n.UnaryOp:
        prec = _PREFIX_PREC[e.op]
        text = f"not {_expr(e.operand, prec)}" if e.op == "not" else f"{e.op}{_expr(e.operand, prec)}"
        return f"({text})" if prec < outer else text
    if t is n.BinOp:
        prec = _PREC[e.op]
        # Left-associative except `**`: the operand on the associative side may share the precedence.
        left = _expr(e.left, prec + 1 if e.op == "**" else prec)
        right = _expr(e.right, prec if e.op == "**" else prec + 1)
        text = f"{left} {e.op} {right}"
        return f"({text})" if prec < outer else text
    raise TypeError(f"not an expression: {t.__name__}")
