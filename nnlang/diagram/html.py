"""The shareable HTML diagram: one self-contained file (no network at view time).

The page carries the DiagramModel as JSON, the .nns source, and three scripts inlined: the
Graphviz WebAssembly renderer (assets/graphviz.js, built by `make diagram-assets` from the
committed nnlang/diagram/js/package-lock.json), the DOT writer (assets/dotview.js, the twin of
dot.py) and the viewer (assets/viewer.js). Every click lays the graph out again in the page, so
any combination of open and closed blocks can be shown; see docs/architecture.md, "Diagrams".
"""

from __future__ import annotations

import copy
import hashlib
import html as _html
import json
import os
from importlib import resources

from .model import DiagramModel
from .view import ViewState

RENDERER = "graphviz.js"


class AssetMissing(Exception):
    """The Graphviz WebAssembly bundle was not built."""


def _asset(name: str) -> str:
    try:
        return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")
    except FileNotFoundError:
        if name == RENDERER:
            raise AssetMissing("the Graphviz WebAssembly bundle (nnlang/diagram/assets/graphviz.js) is not built: "
                               "run `make diagram-assets` (needs node and npm) in the nnlang checkout") from None
        raise


def renderer_available() -> bool:
    return resources.files(__package__).joinpath("assets", RENDERER).is_file()


def json_for_script(obj) -> str:
    """JSON that can sit inside <script type="application/json">: no `<`, `>` or `&` appear
    literally, so no text from the .nns file can close the element or open a comment."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def _shareable(model: DiagramModel) -> dict:
    """The model as the page gets it: other files' paths cut to their names (a shared file should
    not reveal the author's directories)."""
    data = model.to_json()
    ranges = copy.deepcopy(data["ranges"])
    for r in ranges.values():
        if "origin" in r:
            r["origin"]["path"] = os.path.basename(r["origin"]["path"])
    data["ranges"] = ranges
    return data


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="nnlang {version}">
<title>{title} \u2014 nnlang diagram</title>
<style>
{css}
</style>
</head>
<body data-state="loading">
<header id="bar">
  <span class="title"><b id="nn-name"></b><span id="nn-file" class="file"></span></span>
  <div class="controls">
    <button id="btn-fit" title="Fit the diagram (f)">Fit</button>
    <button id="btn-zoom-in" title="Zoom in (+)">+</button>
    <button id="btn-zoom-out" title="Zoom out (-)">\u2212</button>
    <label>Depth <select id="sel-depth"></select></label>
    <button id="btn-expand-all">Expand all</button>
    <button id="btn-collapse-all">Collapse all</button>
    <label title="Draw each repeat as its first item, \u00d7n"><input type="checkbox" id="chk-roll"> Roll up repeats</label>
    <label>Edge shapes <select id="sel-edges"><option value="auto">auto</option><option value="all">all</option><option value="none">none</option></select></label>
    <button id="btn-theme">Theme: auto</button>
    <button id="btn-panel">Panel</button>
  </div>
</header>
<main>
  <div id="canvas" tabindex="0"><div id="status">Laying out\u2026</div></div>
  <aside id="panel">
    <section id="totals"></section>
    <section id="details" hidden></section>
    <section id="source"><pre id="src"></pre></section>
  </aside>
</main>
<div id="tooltip" class="tip" role="tooltip" hidden></div>
<script type="application/json" id="nn-data">{data}</script>
<script nonce="{nonce}">{renderer}</script>
<script nonce="{nonce}">{dotview}</script>
<script nonce="{nonce}">{viewer}</script>
</body>
</html>
"""


def to_html(model: DiagramModel, state: ViewState, source: str, file_name: str | None = None,
            doc: str | None = None) -> str:
    """The page for `model`, opening in `state`. `source`: the .nns text shown in the panel."""
    from .. import __version__

    payload = {"model": _shareable(model), "state": state.to_json(), "source": source,
               "file": os.path.basename(file_name) if file_name else "", "doc": doc or ""}
    data = json_for_script(payload)
    renderer, dotview, viewer = _asset(RENDERER), _asset("dotview.js"), _asset("viewer.js")
    # A nonce derived from the content: reproducible output, and text inside the file cannot know
    # the nonce it would need, since the nonce depends on that very text.
    nonce = hashlib.sha256(f"{data}\0{renderer}\0{dotview}\0{viewer}".encode()).hexdigest()[:32]
    return _PAGE.format(nonce=nonce, version=_html.escape(__version__), title=_html.escape(model.network),
                        css=_asset("viewer.css"), data=data, renderer=renderer, dotview=dotview, viewer=viewer)
