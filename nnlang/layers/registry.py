"""Name -> LayerSpec, built once from the family modules (one module per family)."""

from __future__ import annotations

import difflib
import functools
import importlib

from .base import LayerSpec

FAMILIES = ("conv", "dense", "norm", "activation", "recurrent", "attention", "window", "shape", "reduce", "merge",
            "math", "regularization", "learned", "loss")


@functools.lru_cache(maxsize=1)
def _table() -> tuple[dict[str, LayerSpec], tuple[LayerSpec, ...]]:
    by_name: dict[str, LayerSpec] = {}
    ordered: list[LayerSpec] = []
    for fam in FAMILIES:
        mod = importlib.import_module(f"{__package__}.{fam}")
        for spec in mod.LAYERS:
            for key in (spec.name, *spec.aliases):
                if key in by_name:
                    raise RuntimeError(f"layer name {key!r} defined twice")
                by_name[key] = spec
            ordered.append(spec)
    return by_name, tuple(ordered)


def get(name: str) -> LayerSpec | None:
    """The spec for a layer name or alias, or None."""
    return _table()[0].get(name)


def all_layers() -> tuple[LayerSpec, ...]:
    """Every layer once, in family order."""
    return _table()[1]


def all_names() -> list[str]:
    return list(_table()[0])


def suggest(name: str, extra=()) -> list[str]:
    """Close spellings among layer names (and `extra`, e.g. the blocks in scope), case-insensitive."""
    names = list(_table()[0]) + list(extra)
    lowered = {n.lower(): n for n in names}
    if name.lower() in lowered and lowered[name.lower()] != name:
        return [lowered[name.lower()]]
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.7)
    return [lowered[h] for h in hits]
