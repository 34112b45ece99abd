"""PyTorch habits in layer calls: recognised, explained, and rewritten the .nns way.

A user fluent in PyTorch writes `Conv2d(3, 32, 3)`, `BatchNorm2d(32)`, `LSTM(64, 128)`: the input
size first, then the rest in torch's positional order. In .nns the input size is inferred and only a
layer's leading, obvious parameters are positional (`LayerSpec.positional`), so such a call never
binds; this module says why and how to write it (`Conv2d(32, kernel=3)`), reading torch's order from
`LayerSpec.torch_signature`. The static checks report it (E110 when an inferred size was written,
E106 for other surplus positional arguments); lowering, which knows the input's shape, reports the
E110 again with the inferred number (analyze keeps that one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..layers.base import INT, Inferred, IntTuple, ParamTypeError, format_dim
from ..syntax import nodes as n
from ..syntax.unparse import call_text, expr_text


@dataclass(frozen=True)
class Habit:
    code: str  # E110: an inferred size was written; E106: other surplus positional arguments
    written: str  # the call as written (shortened)
    rewrite: Optional[str]  # the call as .nns wants it, or None when it cannot be said
    inferred: tuple = ()  # ((Inferred, Arg), ...): the sizes written that are inferred
    reason: str = ""  # the part of the message that needs no shapes


def _short(text: Optional[str], fallback: str) -> str:
    return text if text is not None and len(text) <= 60 else fallback


def pytorch_habit(spec, call: n.LayerCall) -> Optional[Habit]:
    """The habit a registry-layer call shows, or None when it binds (or fails for another reason)."""
    args = call.args or []
    positional = [a for a in args if a.name is None]
    keywords = [a for a in args if a.name is not None]
    allowed = [p for p in spec.params if p.positional]
    sig = spec.torch_signature
    inferred_kw = [(slot, a) for a in keywords for slot in sig
                   if isinstance(slot, Inferred) and a.name.id == slot.torch_name and a.name.id not in spec.param_index]
    surplus = len(positional) > len(allowed)
    if not surplus and not inferred_kw:
        return None
    written = _short(call_text(call), call.name.id)
    plural = "s" if len(allowed) != 1 else ""
    takes = (f"{spec.name} takes {len(allowed)} positional argument{plural} "
             f"({', '.join(p.name for p in allowed)})" if allowed else f"{spec.name} takes no positional arguments")

    if len(positional) > len(allowed) and len(allowed) == 1 and isinstance(allowed[0].type, IntTuple) \
            and not keywords:
        return _tuple_habit(spec, call, positional, allowed[0], written)

    values: dict = {}  # param name -> text
    inferred: list = []
    if surplus:
        order = sig or tuple(p.name for p in spec.params)
        if len(positional) > len(order):
            return None  # more arguments than torch takes either: the plain E106
        pairs = list(zip(order, positional))
    else:
        pairs = [(p.name, a) for p, a in zip(allowed, positional)]
    for slot, arg in pairs:
        if slot is None:
            return None  # a torch argument we have no parameter for (MaxPool's return_indices)
        if isinstance(slot, Inferred):
            if not _may_be(arg, INT):
                return None  # `Linear(10, true)` is no PyTorch call either
            inferred.append((slot, arg))
            continue
        if not _may_be(arg, spec.param_index[slot].type):
            return None
        values[slot] = arg
    for arg in keywords:
        if any(arg is a for _, a in inferred_kw):
            continue
        p = _param(spec, arg.name.id)
        if p is None or p.name in values:
            return None  # unknown or repeated: E102 / E107 say so
        values[p.name] = arg
    inferred += inferred_kw
    rewrite = _rewrite(spec, call, values)
    if inferred:
        what = " and ".join(dict.fromkeys(slot.what for slot, _ in inferred))
        reason = f"{what} {'are' if what.endswith('s') else 'is'} inferred here"
        return Habit("E110", written, rewrite, tuple(inferred), reason)
    if not surplus:
        return None  # a plain repeat: E107 says so
    return Habit("E106", written, rewrite, (), f"{takes}; in PyTorch's order this is")


def _may_be(arg, ptype) -> bool:
    """False only when the argument is a literal the parameter type refuses."""
    if not isinstance(arg.value, n.Literal):
        return True
    try:
        ptype.check(arg.value.value)
        return True
    except ParamTypeError:
        return False


def _param(spec, name: str):
    return spec.param_index.get(name) or next((q for q in spec.params if name in q.aliases), None)


def _tuple_habit(spec, call, positional, param, written) -> Habit:
    """`Reshape(3, 1024)`, `Permute(0, 2, 3, 1)`: torch's varargs where .nns takes one tuple."""
    texts = [expr_text(a.value) for a in positional]
    note = ""
    if spec.name == "Reshape" and texts and texts[0] == "-1" and len(texts) > 1:
        texts = texts[1:]  # torch's view(-1, ...) names the batch; Reshape keeps it unwritten
        note = " after the batch dim, which is kept and not written"
    rewrite = None if None in texts else f"{call.name.id}(({', '.join(texts)}))"
    return Habit("E106", written, rewrite, (),
                 f"{spec.name} takes its {param.name} as one tuple{note}")


def _rewrite(spec, call, values: dict) -> Optional[str]:
    """The call with the first positional parameter by position and the rest by name (`Conv2d(32, kernel=3)`)."""
    parts = []
    for k, p in enumerate(spec.params):
        arg = values.get(p.name)
        if arg is None:
            continue
        text = expr_text(arg.value)
        if text is None:
            return None
        parts.append((None if k == 0 and p.positional else p.name, text))
    return call_text(call, parts)


def message(habit: Habit, sizes: Optional[list] = None) -> str:
    """The diagnostic's text; `sizes`, from lowering: [(written value or None, inferred size, tensor label)]."""
    text = f"`{habit.written}`: {habit.reason}"
    if habit.code == "E110" and not sizes:
        text += ", not written"
    if sizes:
        notes = []
        for written, size, label in sizes:
            shown = format_dim(size)
            if written == size or not isinstance(written, int) or isinstance(written, bool) \
                    or not isinstance(size, int):
                notes.append(f"{shown} from {label}")
            else:
                notes.append(f"{label} has {shown}, not {written}")
        text += f" ({'; '.join(notes)})"
    if habit.rewrite is not None:
        text += f"{' ' if habit.reason.endswith('is') else ': write '}`{habit.rewrite}`"
    return text
