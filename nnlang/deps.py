"""Optional dependencies: which extra brings a missing module, and the one line that says how to get it.

The extras and their packages are read from the installed metadata (pyproject.toml's
[project.optional-dependencies] is the one place they are written), so a new extra needs no edit here.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

# Extras that only gather others (all) or serve development (dev): never the answer to "which extra".
_GATHERING = ("all", "dev")


class MissingDependency(Exception):
    """An optional dependency is not installed (CLI exit 2)."""


@functools.cache
def extras() -> dict[str, tuple[str, ...]]:
    """extra -> its requirements (`torch==2.13.0`), runtime extras only."""
    try:
        from importlib.metadata import PackageNotFoundError, requires

        reqs = requires("nnlang") or []
    except PackageNotFoundError:  # run from a checkout that was never installed: read its pyproject.toml
        import tomllib

        root = checkout()
        table = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"] if root else {}
        reqs = [f'{r}; extra == "{extra}"' for extra, rs in table.items() for r in rs]
    out: dict[str, list[str]] = {}
    for req in reqs:
        m = re.search(r"""extra\s*==\s*["']([^"']+)["']""", req)
        if m and m.group(1) not in _GATHERING:
            out.setdefault(m.group(1), []).append(req.split(";")[0].strip())
    return {k: tuple(v) for k, v in out.items()}


def _module(requirement: str) -> str:
    """The import name of a requirement's distribution (onnxruntime>=1.20 -> onnxruntime)."""
    return re.match(r"[A-Za-z0-9_.\-]+", requirement).group(0).lower().replace("-", "_")


def extra_of(module: str) -> str | None:
    """The extra whose packages include the top-level module `module` (torch -> torch, pygls -> lsp)."""
    top = module.split(".")[0].lower()
    for extra, reqs in extras().items():
        if any(_module(r) == top for r in reqs):
            return extra
    return None


def checkout() -> Path | None:
    """The source checkout this package runs from (an editable install), if it is one."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "grammar").is_dir() else None


def install_command(extra: str) -> str:
    """How to add an extra: from the checkout when running from one, else the extra's own packages (the
    nnlang package is not on a public index)."""
    root = checkout()
    if root is not None:
        return f"pip install -e '{root}[{extra}]'"
    reqs = extras().get(extra)
    if reqs:
        return "pip install " + " ".join(f"'{r}'" for r in reqs)
    return f"pip install '/path/to/nnlang-checkout[{extra}]'"


def missing(module: str, purpose: str, extra: str | None = None) -> MissingDependency | None:
    """The error for `purpose` (e.g. "nnlang compile --to torch") lacking `module`; None when the module
    belongs to no extra (then it is a bug, not a missing install). `extra`: the one a target's descriptor
    names (Target.extra), used when the module's own extra cannot be told from the metadata."""
    extra = extra_of(module) or (extra if extra in extras() else None)
    if extra is None:
        return None
    return MissingDependency(f"{purpose} needs {module.split('.')[0]}, which is not installed (the '{extra}' "
                             f"extra): {install_command(extra)}")
