"""Shrink a failing input while it still fails the same way (delta debugging over lines, then characters)."""

from __future__ import annotations

from typing import Callable


def _ddmin(items: list, fails: Callable[[list], bool], budget: list) -> list:
    n = 2
    while len(items) >= 2 and budget[0] > 0:
        chunk = max(1, len(items) // n)
        reduced = False
        for start in range(0, len(items), chunk):
            candidate = items[:start] + items[start + chunk:]
            budget[0] -= 1
            if candidate and fails(candidate):
                items, n, reduced = candidate, max(n - 1, 2), True
                break
            if budget[0] <= 0:
                break
        if not reduced:
            if chunk == 1:
                break
            n = min(len(items), n * 2)
    return items


def minimise(text: str, fails: Callable[[str], bool], tries: int = 3000) -> str:
    """A smaller text for which fails(text) still holds (fails(text) must hold to begin with)."""
    budget = [tries]
    lines = text.splitlines(keepends=True)
    lines = _ddmin(lines, lambda ls: fails("".join(ls)), budget)
    chars = list("".join(lines))
    chars = _ddmin(chars, lambda cs: fails("".join(cs)), budget)
    return "".join(chars)


def same_failure(check: Callable[[str], list], kind: str, target: str) -> Callable[[str], bool]:
    """A predicate: the check still reports a finding of this target and kind."""
    def fails(text: str) -> bool:
        return any(f.kind == kind and f.target == target for f in check(text))
    return fails
