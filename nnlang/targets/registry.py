"""The one registry helper every per-layer table of every target uses (framework-free).

    MAPPINGS = Registry("torch mapping")
    torch_layer = MAPPINGS.decorator            # @torch_layer("Conv2d", "Conv1d")

    ONNX = Registry("ONNX mapping", versioned=True)
    onnx_layer = ONNX.decorator                 # @onnx_layer("LayerNorm", since=17)
    ONNX.lookup("LayerNorm", 18)                # the newest entry whose since <= 18

A key registered twice is refused ("defined twice", DuplicateRegistration) when the second
registration runs, i.e. when its module is imported, with both functions named: two mappings of
one layer are a bug, never a silent override.
A versioned table's key is (name, since); `versions(name)` lists a name's entries oldest first and
`lookup(name, version)` picks the newest one valid at `version`. A grouped table (`grouped=True`)
holds several functions per name, tried in registration order (ONNX fusions by anchor op); its key
is (name, function's qualified name), so one function registered twice for a name is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional


class DuplicateRegistration(RuntimeError):
    """A registry key was registered twice (raised at import time of the second registration)."""


def _describe(value: Any) -> str:
    module, name = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    return f"{module}.{name}" if module and name else repr(value)


class Registry(dict):
    """key -> registered value; a dict whose keys can be set once only."""

    def __init__(self, what: str, versioned: bool = False, grouped: bool = False):
        super().__init__()
        if versioned and grouped:
            raise ValueError("a registry is versioned or grouped, not both")
        self.what = what
        self.versioned = versioned
        self.grouped = grouped
        self._by_name: dict = {}  # versioned: name -> [(since, value)] sorted; grouped: name -> [value]

    def add(self, key, value) -> None:
        if key in self:
            raise DuplicateRegistration(f"{self.what} for {key!r} defined twice: {_describe(self[key])} "
                                        f"and {_describe(value)}")
        super().__setitem__(key, value)
        if self.versioned:
            entries = self._by_name.setdefault(key[0], [])
            entries.append((key[1], value))
            entries.sort(key=lambda e: e[0])
        elif self.grouped:
            self._by_name.setdefault(key[0], []).append(value)

    __setitem__ = add  # `table[key] = fn` is a registration too: no silent overwrite

    def __delitem__(self, key) -> None:
        """Remove a key (versioned / grouped: a bare name removes all its entries). For tests' probes."""
        if (self.versioned or self.grouped) and not isinstance(key, tuple):
            for k in [k for k in self if k[0] == key]:
                del self[k]
            return
        super().__delitem__(key)
        if self.versioned or self.grouped:
            rest = [(k, v) for k, v in self.items() if k[0] == key[0]]
            if rest:
                self._by_name[key[0]] = sorted(((k[1], v) for k, v in rest), key=lambda e: e[0]) \
                    if self.versioned else [v for _, v in rest]
            else:
                self._by_name.pop(key[0], None)

    def decorator(self, *names: str, since: Optional[int] = None) -> Callable:
        """@table.decorator("A", "B") (versioned tables: since=N, required) registers fn under each name."""
        if self.versioned and since is None:
            raise TypeError(f"{self.what}: a versioned registration needs since=")
        if not self.versioned and since is not None:
            raise TypeError(f"{self.what}: since= is for versioned registries")

        def register(fn):
            for name in names:
                if self.versioned:
                    self.add((name, since), fn)
                elif self.grouped:
                    self.add((name, getattr(fn, "__qualname__", repr(fn))), fn)
                else:
                    self.add(name, fn)
            return fn

        return register

    def names(self) -> list:
        """The names registered (versioned / grouped: without the version or function part)."""
        return list(self._by_name) if (self.versioned or self.grouped) else list(self)

    def versions(self, name) -> list:
        """Versioned: [(since, value)] oldest first; grouped: [value] in registration order."""
        return list(self._by_name.get(name, ()))

    def lookup(self, name, version: int):
        """Versioned: the newest value whose since <= version, or None."""
        chosen = None
        for since, value in self._by_name.get(name, ()):
            if since <= version:
                chosen = value
        return chosen
