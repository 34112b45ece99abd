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


def _match(args, positional: list, by_name) -> tuple[list, bool]:
    """Pair each argument with the declaration it binds: positionally in order, or by name.

    Returns (pairs, ok); surplus, unknown and repeated arguments make ok false (the static
    checks report them: E106, E102, E107)."""
    pairs: list = []
    taken: set = set()
    ok = True
    position = 0
    for arg in args or ():
        if arg.name is None:
            if position >= len(positional):
                ok = False
                continue
            decl = positional[position]
            position += 1
        else:
            decl = by_name(arg.name.id)
            if decl is None or id(decl) in taken:
                ok = False
                continue
        taken.add(id(decl))
        pairs.append((decl, arg))
    return pairs, ok


def _evaluate_args(pairs, evaluate, report):
    """[(decl, arg, value)] for the arguments that evaluate; (values, ok, poisoned)."""
    values = []
    ok, poisoned = True, False
    for decl, arg in pairs:
        try:
            values.append((decl, arg, evaluate(arg.value)))
        except Poisoned:
            poisoned = True
        except EvalError as e:
            if e.code != "E208":  # undefined names: the static checks report them
                report(e.code, e.args[0], e.span)
            ok = False
    return values, ok, poisoned


def bind_layer(spec, args, evaluate, report):
    """Return validated attrs for a registry layer call, defaults filled.

    evaluate(expr) -> value (raises EvalError / Poisoned); report(code, message, span).
    Unknown / duplicate / surplus / missing arguments are the static checker's to report (E102,
    E106, E107, E103): here they only fail the binding.
    """
    pairs, ok = _match(args, [p for p in spec.params if p.positional],
                       lambda name: spec.param_index.get(name) or _by_alias(spec, name))
    values, evaluated, poisoned = _evaluate_args(pairs, evaluate, report)
    ok = ok and evaluated
    given: dict = {}
    for p, arg, value in values:
        try:
            given[p.name] = p.validate(value)
        except ParamRangeError as e:
            report("E105", f"{spec.name}: {p.name}: {e}", arg.value.span)
            ok = False
        except ParamTypeError as e:
            report("E104", f"{spec.name}: {p.name}: {e}", arg.value.span)
            ok = False
    attrs = {}
    for p in spec.params:
        if p.name in given:
            attrs[p.name] = given[p.name]
        elif p.required:
            ok = False  # missing: nnlang.check.static reports it (E103)
        else:
            attrs[p.name] = p.default_value()
    if poisoned:
        raise Poisoned()
    if not ok:
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
    by_name = {d.name.id: d for d in defn.params}
    pairs, ok = _match(args, list(defn.params), by_name.get)
    evaluated, ok_values, poisoned = _evaluate_args(pairs, evaluate, report)
    ok = ok and ok_values
    values = {d.name.id: (value, arg.value.span) for d, arg, value in evaluated}
    bound: dict = {}
    for d in defn.params:
        ptype = BLOCK_PARAM_TYPES.get(d.type.id) if d.type is not None else None
        if d.name.id in values:
            value, span = values[d.name.id]
        elif d.default is not None:
            try:
                value = eval_default(d, bound)
            except EvalError as e:
                report(e.code, e.args[0], e.span)
                ok = False
                continue
            span = d.default.span
        else:
            ok = False  # missing: nnlang.check.static reports it (E103)
            continue
        if ptype is not None:
            try:
                value = ptype.check(value)
            except ParamTypeError as e:
                report("E104", f"{defn.name.id}: {d.name.id}: {e}", span)
                ok = False
                continue
        bound[d.name.id] = value
    if poisoned:
        raise Poisoned()
    if not ok:
        raise BindFailed()
    return bound
