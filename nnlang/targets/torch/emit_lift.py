"""Lifting for the PyTorch source emitter: which expression of a class's parameters explains a value.

A constructor argument of a layer inside a block has one value per *member* -- every instance of the
block, in the file as analysed and in the same file analysed again with other network arguments, and
every iteration of a `for` loop. The argument is written as the first candidate expression that
equals the value in every member: the call's own .nns argument expressions, the channel / feature
counts of the layer's input (block inputs `x_channels`, sizes tracked through the block), the
block's parameters and `let`s; then a constant; then a small search over sums and products of the
candidates (`x_channels + i * growth`, `channels * 4`). Expressions are plain text made only of
checked names, operators and literals.
"""

from __future__ import annotations

import re

from ..pysource import literal
from .mapping import TensorLiteral

_IDENT = re.compile(r"[A-Za-z_]\w*")


def same(a, b) -> bool:
    return type(a) is type(b) and a == b


def _is_int(v) -> bool:
    return type(v) is int


def _wrap(text: str) -> str:
    """A candidate as an operand: parenthesized unless it is a name or a literal."""
    return text if re.fullmatch(r"[A-Za-z_]\w*|\d+", text) else f"({text})"


def _left(text: str) -> str:
    """A candidate as the left operand of + or -: parenthesized only if it holds a weaker operator."""
    weaker = re.search(r"[<>=!]=?|\b(and|or|not|if|lambda)\b", re.sub(r"'[^']*'|\"[^\"]*\"", "", text))
    return _wrap(text) if weaker else text


class Lifter:
    """Candidate expressions (text, in preference order) and their value in each member."""

    def __init__(self, names: list, values: list, loop_vars=()):
        self.names = list(dict.fromkeys(names))
        self.values = values  # one dict per member: candidate text -> value
        self.loop_vars = tuple(loop_vars)

    def extend(self, names: list, extra: list, first: bool = False) -> "Lifter":
        """More candidates (`extra`: one dict per member); `first`: preferred over the others."""
        values = [dict(v) for v in self.values]
        for v, e in zip(values, extra):
            v.update(e)
        names = [n for n in names if n]
        order = names + self.names if first else self.names + names
        return Lifter(order, values, self.loop_vars)

    def subset(self, keep: list) -> "Lifter":
        return Lifter(self.names, [v for v, k in zip(self.values, keep) if k], self.loop_vars)

    def explains(self, name: str, per_member: list) -> bool:
        return all(name in vals and same(vals[name], v) for vals, v in zip(self.values, per_member))

    def lift(self, per_member: list, prefer=(), search: bool = True):
        """The expression text for these values, or None."""
        for name in list(prefer) + self.names:
            if self.explains(name, per_member):
                return name
        first = per_member[0]
        if all(same(first, v) for v in per_member):
            if isinstance(first, TensorLiteral):
                return f"torch.tensor({literal(tuple(first.values))})"
            try:
                return literal(first)
            except TypeError:
                return None
        if search and all(_is_int(v) for v in per_member):
            return self.search(per_member)
        return None

    def search(self, per_member: list):
        """A sum or product of two candidates (or a candidate and a small constant) equal to the
        values in every member."""
        ints = [n for n in self.names if all(_is_int(v.get(n)) for v in self.values)]
        cols = {n: [v[n] for v in self.values] for n in ints}
        want = per_member

        def check(fn) -> bool:
            try:
                return all(fn(k) == w for k, w in enumerate(want))
            except ZeroDivisionError:
                return False

        for a in ints:
            ca = cols[a]
            for k in range(2, 65):
                if check(lambda j: ca[j] * k):
                    return f"{_wrap(a)} * {k}"
            for k in range(2, 9):
                if check(lambda j: ca[j] // k):
                    return f"{_wrap(a)} // {k}"
            for k in range(1, 5):
                if check(lambda j: ca[j] + k):
                    return f"{_left(a)} + {k}"
                if check(lambda j: ca[j] - k):
                    return f"{_left(a)} - {k}"
        for a in ints:
            for b in ints:
                if a == b:
                    continue
                ca, cb = cols[a], cols[b]
                if check(lambda j: ca[j] + cb[j]):
                    return f"{_left(a)} + {_wrap(b)}"
                if check(lambda j: ca[j] * cb[j]):
                    return f"{_wrap(a)} * {_wrap(b)}"
                if check(lambda j: ca[j] - cb[j]):
                    return f"{_left(a)} - {_wrap(b)}"
                if check(lambda j: ca[j] // cb[j] if cb[j] else None):
                    return f"{_wrap(a)} // {_wrap(b)}"
        for a in ints:  # a count of patches: (image_size // patch) ** 2 + 1
            for b in ints:
                if a == b:
                    continue
                ca, cb = cols[a], cols[b]
                for k in range(0, 3):
                    if check(lambda j: (ca[j] // cb[j]) ** 2 + k if cb[j] else None):
                        return f"({_wrap(a)} // {_wrap(b)}) ** 2" + (f" + {k}" if k else "")
        for i in self.loop_vars:
            if i not in cols:
                continue
            ci = cols[i]
            for a in ints:
                for b in ints:
                    if i in (a, b):
                        continue
                    ca, cb = cols[a], cols[b]
                    if check(lambda j: ca[j] + ci[j] * cb[j]):
                        return f"{_left(a)} + {i} * {_wrap(b)}"
        return None


def names_in(expr: str) -> list:
    return _IDENT.findall(re.sub(r"'[^']*'|\"[^\"]*\"", "", expr))


def variants_of(analysis) -> list:
    """The network analysed again with each int / float parameter changed: (parameter, analysis)."""
    from ...analyze import analyze

    g = analysis.graph
    out = []
    for p, v in g.params.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        tries = [v * 2, v + 1] if isinstance(v, int) else [v / 2 if v else 0.25]
        for new in tries:
            overrides = dict(g.params)
            overrides[p] = new
            a = analyze(analysis.text, path=analysis.path, network=g.name, overrides=overrides)
            if not a.errors and a.graph is not None:
                out.append((p, a))
                break
    return out


def choose(attempt, params: list):
    """(attempt(chosen), chosen): every parameter if the classes can be written for all of them at
    once, else the parameters added one at a time, each kept if the classes can still be written.
    `attempt` raises EmitError when they cannot (with no parameter, that error is the emitter's)."""
    from .emit_util import EmitError

    try:
        return attempt(params), list(params)
    except EmitError:
        if not params:
            raise
    result, chosen = attempt([]), []
    for p in params:
        try:
            result = attempt(chosen + [p])
            chosen.append(p)
        except EmitError:
            pass
    return result, chosen
