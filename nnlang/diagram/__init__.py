"""Diagrams of a typed IR graph: DOT (pure Python, fast enough for every keystroke), SVG / PNG /
PDF through Graphviz, and a self-contained interactive HTML page.

    model = build_model(graph)                  # everything drawable, once per analysis
    state = resolve_state(model, depth=2)       # what is open / closed / rolled up
    dot = to_dot(model, state)
    svg = render.render_svg(dot)                # needs Graphviz's `dot`; imports `graphviz` lazily
    page = to_html(model, state, source)        # needs the WebAssembly bundle, not `dot`

Nothing here imports graphviz (or anything heavy) at import time.
"""

from __future__ import annotations

import os

from .dot import to_dot
from .html import AssetMissing, to_html
from .model import DiagramModel, build_model
from .render import DotNotFound, RenderError
from .view import ViewState, auto_depth, match_scopes, max_depth, resolve_state

__all__ = [
    "OUTPUT_FORMATS",
    "AssetMissing",
    "DiagramModel",
    "DotNotFound",
    "OptionError",
    "RenderError",
    "ViewState",
    "auto_depth",
    "build_model",
    "diagram_payload",
    "match_scopes",
    "max_depth",
    "resolve_state",
    "to_dot",
    "to_html",
    "write_file",
]

# output file suffix -> format
OUTPUT_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot", ".html": "html",
                  ".htm": "html"}
PNG_DPI = 110


class OptionError(ValueError):
    """Bad options: an output suffix we cannot write, a block name that matches nothing."""


def write_file(analysis, output: str, depth="auto", expand=(), collapse=(), roll: bool = True,
               edge_labels: str = "auto", timeout: float = 60.0) -> str:
    """Write the diagram of the analysis's network to `output`; the format follows its suffix
    (.svg .png .pdf need Graphviz's `dot`; .dot and .html do not). Returns the format written."""
    fmt = OUTPUT_FORMATS.get(os.path.splitext(output)[1].lower())
    if fmt is None:
        raise OptionError(f"{output}: unknown diagram format (use one of {', '.join(sorted(OUTPUT_FORMATS))})")
    graph = analysis.graph
    model = build_model(graph)
    unknown = match_scopes(model, list(expand) + list(collapse))[1]
    if unknown:
        # "Repeat" is the internal type of `Block * n`: offered by its path, never by that name
        types = {s["tname"] for sid, s in model.scopes.items() if sid != model.root} - {"Repeat"}
        names = sorted({s["path"] for s in model.scopes.values() if s["path"]} | types)
        shown = ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
        raise OptionError(f"no block named {', '.join(map(repr, unknown))} in {graph.name} "
                          f"(blocks: {shown or 'none'})")
    state = resolve_state(model, depth, expand, collapse, roll, edge_labels, tooltips=fmt != "html")
    if fmt == "html":
        data = to_html(model, state, analysis.text, analysis.path, graph.doc).encode("utf-8")
    else:
        dot = to_dot(model, state)
        if fmt == "dot":
            data = dot.encode("utf-8")
        else:
            from . import render

            data = render.render(dot, fmt, timeout=timeout, dpi=PNG_DPI if fmt == "png" else None)
    with open(output, "wb") as f:
        f.write(data)
    return fmt


def diagram_payload(analysis, depth="auto", expand=(), collapse=(), roll: bool = True, svg: bool = True,
                    timeout: float = 10.0) -> dict:
    """What the language server's `nnlang/diagram` request returns, from a cached analysis:

    {"network": name or None, "dot": DOT text or None, "svg": SVG text or None (no Graphviz,
     svg=False, or the layout failed: see "svg_error"), "ranges": {element id: range},
     "state": {"expanded": [...], "rolled": [...], ...}, "unknown": names in expand/collapse that
     match no block, "paths": {block id: its path, the name `expand` / `collapse` take}}

    Element ids (`n<k>` layers, `s<k>` blocks, `i<k>` / `o<k>` inputs / outputs) are the ids of
    the SVG's <g> elements. A range is 1-based like nnlang.span.Span: {start, end, line, column,
    end_line, end_column} in the analysed document, plus {"origin": {path, ...}} when the item
    was written in another file (a block from `use`); the document range is then the block call
    that brought it in."""
    graph = analysis.graph
    if graph is None:
        return {"network": None, "dot": None, "svg": None, "ranges": {}, "state": None, "unknown": [], "paths": {}}
    model = build_model(graph)
    state = resolve_state(model, depth, expand, collapse, roll)
    unknown = match_scopes(model, list(expand) + list(collapse))[1]
    dot = to_dot(model, state)
    out = {"network": graph.name, "dot": dot, "svg": None, "ranges": model.ranges, "state": state.to_json(),
           "unknown": unknown, "paths": {sid: s["path"] for sid, s in model.scopes.items() if sid != model.root}}
    if svg:
        from . import render

        if render.available():
            try:
                out["svg"] = render.render_svg(dot, timeout=timeout)
            except RenderError as e:
                out["svg_error"] = str(e)
    return out
