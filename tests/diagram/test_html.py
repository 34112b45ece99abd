"""The shareable HTML page: self-contained, safe, one per example."""

import json
import re

import pytest
from diagram_util import EXAMPLES, ROOT, need

from nnlang.cli import main
from nnlang.diagram import build_model, resolve_state, to_html
from nnlang.diagram.html import renderer_available

DATA = re.compile(r'<script type="application/json" id="nn-data">(.*?)</script>', re.DOTALL)


def page_data(page: str) -> dict:
    return json.loads(DATA.search(page).group(1))


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_writes_a_self_contained_page(name, tmp_path):
    need(renderer_available(), "the Graphviz WebAssembly bundle (make diagram-assets)")
    out = tmp_path / f"{name}.html"
    assert main(["graph", str(ROOT / "examples" / f"{name}.nns"), "-o", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.count("<script") == 4 and page.count("</script>") == 4
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=", page[:page.index("<script")])
    assert "default-src 'none'" in page
    data = page_data(page)
    assert data["source"] == (ROOT / "examples" / f"{name}.nns").read_text(encoding="utf-8")
    assert data["file"] == f"{name}.nns"
    assert all("/" not in r["origin"]["path"] for r in data["model"]["ranges"].values() if "origin" in r)


def test_page_needs_no_graphviz_binary(monkeypatch, tmp_path):
    need(renderer_available(), "the Graphviz WebAssembly bundle (make diagram-assets)")
    monkeypatch.setenv("PATH", str(tmp_path))
    out = tmp_path / "lenet.html"
    assert main(["graph", str(ROOT / "examples" / "lenet5.nns"), "-o", str(out)]) == 0
    assert out.stat().st_size > 100_000


def test_page_without_the_bundle_says_how_to_build_it(monkeypatch, tmp_path, capsys):
    from nnlang.diagram import html

    def missing(name):
        raise html.AssetMissing("the Graphviz WebAssembly bundle is not built: run `make diagram-assets`")

    monkeypatch.setattr(html, "_asset", missing)
    assert main(["graph", str(ROOT / "examples" / "lenet5.nns"), "-o", str(tmp_path / "x.html")]) == 2  # missing
    assert "make diagram-assets" in capsys.readouterr().err


def test_page_json_cannot_close_its_script(monkeypatch):
    from nnlang.diagram import html

    monkeypatch.setattr(html, "_asset", lambda name: "/* asset */")
    from nnlang.analyze import analyze

    src = 'network N {\n    "</script><script>alert(1)</script><!--"\n    input x: [N, 2]\n    y = x -> ReLU\n    output y\n}\n'
    a = analyze(src, path="<b>&.nns")
    model = build_model(a.graph)
    page = to_html(model, resolve_state(model), a.text, a.path, a.graph.doc)
    assert page.count("</script>") == 4 and "<!--" not in page and "alert(1)</" not in page
    assert page_data(page)["doc"] == "</script><script>alert(1)</script><!--"
    assert page_data(page)["file"] == "<b>&.nns"
