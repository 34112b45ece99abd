"""Helpers of the diagram tests: example analyses, tool checks, the screenshot folder."""

import functools
import os
import shutil
from pathlib import Path

import pytest

from nnlang.analyze import analyze

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.nns"))
ARTIFACTS = ROOT / "tests" / "artifacts" / "diagram"


def need(ok: bool, what: str):
    """Skip when a system tool is missing on a developer's machine; fail in CI, where `make test`
    installs it (make sysdeps / make diagram-assets)."""
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing: `make setup` should have installed it")
    pytest.skip(f"{what} is missing (run `make setup`)")


def need_dot():
    from nnlang.diagram import render

    need(render.available(), "Graphviz's dot")


def need_node():
    need(shutil.which("node") is not None, "node")


@functools.cache
def example(name: str):
    path = ROOT / "examples" / f"{name}.nns"
    a = analyze(path.read_text(encoding="utf-8"), path=str(path))
    assert a.errors == [] and a.graph is not None, name
    return a

