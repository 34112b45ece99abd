"""Capability warnings: the layers of an analysed network that a target cannot express, as W601
diagnostics at their place in the document. Used by `nnlang check --target` and by the language
server (which runs it in a separate process: targets import their framework).

A target registers its check here by name; a layer written in a `use`d file is reported at the
outermost block call in the document that brought it in.
"""

from __future__ import annotations

from typing import Callable, Optional

from ..diagnostics import Diagnostic, Related, warning
from . import TARGETS


def _onnx(graph, opset: Optional[int]) -> list:
    from .onnx.mapping import DEFAULT_OPSET, check_opset, unsupported

    opset = check_opset(DEFAULT_OPSET if opset is None else opset)
    return [(node, f"not expressible in ONNX at opset {opset}: {why}") for node, why in unsupported(graph, opset)]


def _torch(graph, opset) -> list:
    return []  # every registry layer has a PyTorch mapping (tests/targets/test_torch_mapping.py)


_CHECKS: dict[str, Callable] = {"torch": _torch, "onnx": _onnx}


def target_warnings(analysis, target: str, opset: Optional[int] = None) -> list[Diagnostic]:
    """W601 for every node of the selected network the target cannot express ([] when the network
    does not build: its errors come first)."""
    if target not in _CHECKS:
        raise ValueError(f"unknown target {target!r} (targets: {', '.join(TARGETS)})")
    graph = analysis.graph
    if graph is None or not analysis.ok:
        return []
    out = []
    for node, message in _CHECKS[target](graph, opset):
        site, related = node.site, ()
        if site.path is not None:  # written in another file: at the call in this document
            outer = next((s for s in node.instantiation if s.path is None), None)
            if outer is None:
                continue
            related = (Related(site.span, f"{node.op} is here", site.path),)
            site = outer
        out.append(warning("W601", message, site.span, related, analysis.path))
    return out


def warnings_for_text(text: str, path: Optional[str], target: str, opset: Optional[int] = None,
                      buffers: Optional[dict] = None) -> list:
    """target_warnings of a document's text, as plain data (for a worker process): `buffers` maps paths
    of unsaved open files to their text. Returns nnlang.diagnostics.to_json_obj dicts."""
    import os

    from ..analyze import analyze
    from ..diagnostics import to_json_obj

    buffers = buffers or {}

    def read(p: str):
        p = os.path.abspath(p)
        if p in buffers:
            return buffers[p]
        try:
            with open(p, encoding="utf-8") as f:
                return f.read()
        except (OSError, ValueError):
            return None

    return [to_json_obj(d) for d in target_warnings(analyze(text, path, read=read), target, opset)]
