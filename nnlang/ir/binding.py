"""Binding call arguments to parameters: registry layers (LayerSpec) and blocks (ParamDecl)."""

from __future__ import annotations

from ..layers.base import (BOOL, FLOAT, INT, STR, ParamRangeError, ParamType, ParamTypeError, describe_value)
from .evaluate import EvalError, Poisoned


class _Tuple(ParamType):
    def check(self, value):
        if isinstance(value, tuple):
            return value
        raise ParamTypeError(f"expected a tuple, got {describe_value(value)}")

    def describe(self):
        return "tuple"


class _Any(ParamType):
    def check(self, value):
        return value

    def describe(self):
        return "any"


BLOCK_PARAM_TYPES: dict[str, ParamType] = {
    "int": INT, "float": FLOAT, "bool": BOOL, "str": STR, "tuple": _Tuple(), "any": _Any(),
}


class BindFailed(Exception):
    """Binding failed; the reason has been reported (or is reported by the static checks)."""


def bind_layer(spec, args, evaluate, report):
    """Return validated attrs for a registry layer call, defaults filled.

    evaluate(expr) -> value (raises EvalError / Poisoned); report(code, message, span).
    Unknown / duplicate / surplus / missing arguments are the static checker's to report (E102,
    E106, E107, E103): here they only fail the binding.
    """
    params = spec.params
    given: dict = {}
    spans: dict = {}
    positional = [p for p in params if p.positional]
    failed = False
    poisoned = False
    pos_i = 0
    for arg in args or ():
        if arg.name is None:
            if pos_i >= len(positional):
                failed = True
                continue
            p = positional[pos_i]
            pos_i += 1
        else:
            p = spec.param_index.get(arg.name.id) or _by_alias(spec, arg.name.id)
            if p is None or p.name in given:
                failed = True
                continue
        try:
            value = evaluate(arg.value)
        except Poisoned:
            poisoned = True
            continue
        except EvalError as e:
            if e.code != "E208":
                report(e.code, e.args[0], e.span)
            failed = True
            continue
        try:
            given[p.name] = p.validate(value)
        except ParamRangeError as e:
            report("E105", f"{spec.name}: {p.name}: {e}", arg.value.span)
            failed = True
            continue
        except ParamTypeError as e:
            report("E104", f"{spec.name}: {p.name}: {e}", arg.value.span)
            failed = True
            continue
        spans[p.name] = arg.span
    attrs = {}
    for p in params:
        if p.name in given:
            attrs[p.name] = given[p.name]
        elif p.required:
            failed = True  # missing: nnlang.check.static reports it (E103)
        else:
            attrs[p.name] = p.validate(p.default) if p.default is not None else None
    if poisoned:
        raise Poisoned()
    if failed:
        raise BindFailed()
    return attrs


def _by_alias(spec, name):
    for p in spec.params:
        if name in p.aliases:
            return p
    return None


def bind_block(defn, args, evaluate, report, eval_default):
    """Bind a block call's arguments to the block's declared parameters.

    eval_default(param_decl, bound_so_far) evaluates a default in the block's own context.
    """
    bound: dict = {}
    failed = False
    poisoned = False
    decls = defn.params
    by_name = {d.name.id: d for d in decls}
    pos_i = 0
    values: dict = {}
    for arg in args or ():
        if arg.name is None:
            if pos_i >= len(decls):
                failed = True
                continue
            d = decls[pos_i]
            pos_i += 1
        else:
            d = by_name.get(arg.name.id)
            if d is None or d.name.id in values:
                failed = True
                continue
        try:
            values[d.name.id] = (evaluate(arg.value), arg.value.span)
        except Poisoned:
            poisoned = True
        except EvalError as e:
            if e.code != "E208":
                report(e.code, e.args[0], e.span)
            failed = True
    for d in decls:
        ptype = BLOCK_PARAM_TYPES.get(d.type.id) if d.type is not None else None
        if d.name.id in values:
            value, span = values[d.name.id]
        elif d.default is not None:
            try:
                value = eval_default(d, bound)
            except EvalError as e:
                report(e.code, e.args[0], e.span)
                failed = True
                continue
            span = d.default.span
        else:
            failed = True  # missing: nnlang.check.static reports it (E103)
            continue
        if ptype is not None:
            try:
                value = ptype.check(value)
            except ParamTypeError as e:
                report("E104", f"{defn.name.id}: {d.name.id}: {e}", span)
                failed = True
                continue
        bound[d.name.id] = value
    if poisoned:
        raise Poisoned()
    if failed:
        raise BindFailed()
    return bound
