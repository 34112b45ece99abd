"""Hostile names, strings and docs cannot inject into DOT, SVG or the HTML page."""

import re
import subprocess
import xml.etree.ElementTree as ET

from diagram_util import need_dot

from nnlang.analyze import analyze
from nnlang.diagram import build_model, render, resolve_state, to_dot
from nnlang.diagram.labels import html, quoted

HOSTILE = r'''block Evil(tag: str = "</script><script>alert(1)</script>", q: str = "\"] ; n9 [label=\"x\" \\") {
    "Doc with <b>html</b> & \"quotes\" \\ ]]> --> <!-- \\N \\G {}"
    input x
    y = x -> ReLU
    output y
}

network Hostile(title: str = "<svg onload=alert(1)>\\", end: str = "\\") {
    "</script><script>alert('doc')</script> & <svg onload=alert(1)>"
    input x: [N, 8]
    y = x -> evil: Evil -> Linear(4)
    output y
}
'''


def hostile():
    a = analyze(HOSTILE, path='<img src=x onerror="alert(1)">.nns')
    assert a.errors == [], a.errors
    return a


def test_escapes():
    assert html('a<b>&"\\') == "a&lt;b&gt;&amp;&quot;&#92;"
    assert quoted('end\\') == '"end&#92;"'
    assert html("tab\tand\nnewline\x00") == "tab and newline"


def test_dot_has_no_raw_syntax_from_the_file():
    a = hostile()
    model = build_model(a.graph)
    for depth in (1, "all"):
        dot = to_dot(model, resolve_state(model, depth))
        for line in dot.splitlines():
            assert "\\" not in line  # no escape sequences at all: backslashes are references
            assert '"] ;' not in line and "<svg" not in line and "<script" not in line
        # every statement is one of ours: ids, edges, braces
        stmts = [ln.strip() for ln in dot.splitlines()[1:-1]]
        assert all(re.match(r"^(graph|node|edge) \[|^[nsio]\d+ (\[id=|-> )|^subgraph cluster_s\d+ \{$|^\}$|^\{rank=same",
                            s) for s in stmts), stmts


def test_svg_keeps_the_text_and_nothing_else():
    need_dot()
    a = hostile()
    model = build_model(a.graph)
    for depth in (1, "all"):
        svg = render.render_svg(to_dot(model, resolve_state(model, depth)))
        root = ET.fromstring(svg)
        for el in root.iter():
            tag = el.tag.split("}")[-1]
            assert tag in {"svg", "g", "title", "polygon", "path", "text", "ellipse", "a", "polyline"}, tag
            assert not any(k.lower().startswith("on") for k in el.attrib), el.attrib
        texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
        assert "<svg onload=alert(1)>\\" in texts  # shown as text, intact
    dot = subprocess.run(["dot", "-Tcanon"], input=to_dot(model, resolve_state(model, "all")),
                         capture_output=True, text=True, check=True).stdout
    names = re.findall(r"^\t+(\S+)\s+\[", dot, re.MULTILINE)  # every statement Graphviz read
    assert names and all(re.fullmatch(r"graph|node|edge|[nsio]\d+", n) for n in names), names
    assert "n9" not in names  # the node the parameter string tried to declare


def test_html_page_keeps_the_text_and_nothing_else(monkeypatch):
    from nnlang.diagram import html as page

    monkeypatch.setattr(page, "_asset", lambda name: "/* asset */")
    a = hostile()
    model = build_model(a.graph)
    doc = page.to_html(model, resolve_state(model), a.text, a.path, a.graph.doc)
    assert doc.count("<script") == 4 and doc.count("</script>") == 4
    assert "<svg" not in doc and "<img" not in doc and "onerror=\"" not in doc
    title = re.search(r"<title>(.*)</title>", doc).group(1)
    assert title == "Hostile \u2014 nnlang diagram"
