"""Capability warnings: the layers of an analysed network that a target cannot express, as W601
diagnostics at their place in the document. Used by `nnlang check --target` and by the language
server (which runs it in a separate process: targets import their framework).

A target's descriptor names its check (`Target.capability`; none: it expresses every layer, as the
PyTorch target does, tests/targets/test_torch_mapping.py); a layer written in a `use`d file is
reported at the outermost block call in the document that brought it in.
"""

from __future__ import annotations

from typing import Optional

from ..diagnostics import Diagnostic, Related, warning
from . import get


def target_warnings(analysis, target: str, opset: Optional[int] = None) -> list[Diagnostic]:
    """W601 for every node of the selected network the target cannot express ([] when the network
    does not build: its errors come first)."""
    descriptor = get(target)  # ValueError for an unknown target
    graph = analysis.graph
    if graph is None or not analysis.ok:
        return []
    out = []
    for node, message in descriptor.unsupported(graph, {} if opset is None else {"opset": opset}):
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
