"""Framework targets: one folder each (nnlang/targets/<name>/), described by one `Target` descriptor.

Importing this package imports no framework: a descriptor is plain data in <name>/target.py, and the
module that compiles / imports / checks is imported only when one of those is first used. The CLI
(compile --to, check --target, import's source kinds), capability warnings (W601), the Python API, the
language server (its settings and the `nnlang/targets` request) and, through the server, the editor's
Compile picker all read this registry. How to add a target: docs/architecture.md, "Targets".
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Optional


@dataclass(frozen=True)
class Option:
    """A compile option of a target: `--NAME` on the command line (underscores as dashes), NAME as a keyword
    of the target's compile function. kind: "int" (a number), "str" (a
    word the target's prepare checks) or "flag" (a switch)."""

    name: str
    help: str
    kind: str = "flag"
    metavar: Optional[str] = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def to_json(self) -> dict:
        return {"name": self.name, "flag": self.flag, "kind": self.kind, "help": self.help}


@dataclass(frozen=True)
class Target:
    """One framework target. Entry points are "module:function", the module relative to the target's
    package (e.g. "compile:compile_to_dir" in nnlang/targets/onnx/), imported on first use."""

    name: str  # compile --to NAME, check --target NAME, the editor's picker
    description: str  # one line, shown in --help and the editor's picker
    writes: tuple = ()  # suffixes of the files a compile writes (".py", ".safetensors")
    reads: tuple = ()  # suffixes of the files an import reads ("" entry: none)
    options: tuple = ()  # Option, ...: compile options only this target takes
    extra: str = ""  # the pyproject extra that brings the framework (nnlang.deps's missing-dependency line)
    # fn(analysis, outdir, seed=, weights=, **options) -> [paths]; raises the target's CompileError.
    # None: an import-only target (listed by for_source / IMPORTERS, never by TARGETS / compile --to)
    compile: Optional[str] = "compile:compile_to_dir"
    compile_error: Optional[str] = "compile:CompileError"
    # fn(options: dict) -> dict: validate the given options (ValueError: a usage error), return compile's kwargs
    prepare: Optional[str] = None
    # fn(graph, options: dict) -> [(node, reason)]: what this target cannot express; None: everything
    capability: Optional[str] = None
    # fn(source: str, **options) -> importing.ImportResult, for files with a suffix in `reads`
    importer: Optional[str] = None
    import_options: tuple = ()  # keyword options the importer takes (api.import_ refuses the others)
    rank: int = 100  # order in listings (lower first)
    package: str = field(default="", compare=False)  # set by the registry: nnlang.targets.<name>

    def entry(self, spec: str) -> Callable:
        """The function (or class) an entry point names, importing its module (and so the framework)."""
        module, _, attr = spec.partition(":")
        return getattr(importlib.import_module(f"{self.package}.{module}"), attr)

    def option(self, name: str) -> Optional[Option]:
        return next((o for o in self.options if o.name == name), None)

    def unsupported(self, graph, options: Optional[dict] = None) -> list:
        """[(node, reason)] for every node this target cannot express (capability check)."""
        if self.capability is None:
            return []
        return self.entry(self.capability)(graph, dict(options or {}))

    def to_json(self) -> dict:
        return {"name": self.name, "description": self.description, "writes": list(self.writes),
                "reads": list(self.reads), "options": [o.to_json() for o in self.options], "extra": self.extra}


def _discover() -> dict:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if not info.ispkg:
            continue
        try:
            module = importlib.import_module(f"{__name__}.{info.name}.target")
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{info.name}.target":
                continue  # a package that is no target
            raise
        target = module.TARGET
        if target.name in {t.name for t in found}:
            raise RuntimeError(f"target {target.name!r} defined twice")
        object.__setattr__(target, "package", f"{__name__}.{info.name}")
        found.append(target)
    return {t.name: t for t in sorted(found, key=lambda t: (t.rank, t.name))}


ALL: dict[str, Target] = _discover()  # every target folder, import-only ones (compile None) included
# The targets that compile: `compile --to`, `check --target`, the capability checks and the language server's
# list offer these and no others.
REGISTRY: dict[str, Target] = {name: t for name, t in ALL.items() if t.compile}
TARGETS = tuple(REGISTRY)
# The targets that import (import-only ones too): `nnlang import`'s source kinds.
IMPORTERS: dict[str, Target] = {name: t for name, t in ALL.items() if t.importer}


def get(name: str) -> Target:
    """The target called `name`; ValueError naming the targets that exist otherwise."""
    if name not in REGISTRY:
        raise ValueError(f"unknown target {name!r} (targets: {', '.join(TARGETS)})")
    return REGISTRY[name]


def for_source(source: str) -> Optional[Target]:
    """The target whose importer reads `source`, by its suffix (a .py only as `FILE.py:ClassName`)."""
    head, sep, _ = source.rpartition(":")
    path = head if sep and head.endswith(".py") else ("" if source.endswith(".py") else source)
    for target in IMPORTERS.values():
        if any(path.endswith(s) for s in target.reads):
            return target
    return None


def all_options() -> dict[str, Any]:
    """Option name -> (Option, [targets declaring it]), over every target (for the CLI's compile parser)."""
    out: dict = {}
    for target in REGISTRY.values():
        for o in target.options:
            out.setdefault(o.name, (o, []))[1].append(target.name)
    return out
