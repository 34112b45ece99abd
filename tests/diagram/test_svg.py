"""Every example renders to SVG through Graphviz: one <g> per box, ids that map back to the source."""

import xml.etree.ElementTree as ET

import pytest
from diagram_util import EXAMPLES, example, need_dot

from nnlang.diagram import build_model, diagram_payload, render, resolve_state, to_dot

SVG = "{http://www.w3.org/2000/svg}"


def groups(svg: str, kind: str) -> dict:
    root = ET.fromstring(svg)
    return {g.get("id"): g for g in root.iter(f"{SVG}g") if kind in (g.get("class") or "").split()}


@pytest.mark.parametrize("name", EXAMPLES)
def test_full_and_collapsed_svg_counts_and_ranges(name):
    need_dot()
    a = example(name)
    g = a.graph
    model = build_model(g)

    full = diagram_payload(a, depth="all", roll=False)
    nodes = groups(full["svg"], "node")
    assert len(nodes) == len(g.nodes) + len(g.inputs) + len(g.outputs)
    assert {i for i in nodes if i[0] == "n"} == {f"n{n.id}" for n in g.nodes}
    for gid in nodes:  # every drawn box maps back to a range of the document
        r = full["ranges"][gid]
        assert 0 <= r["start"] <= r["end"] <= len(a.text)
        assert a.text.count("\n", 0, r["start"]) + 1 == r["line"]
    for n in g.nodes:
        site = n.site.span if n.site.path is None else None
        if site is not None:
            assert (full["ranges"][f"n{n.id}"]["start"], full["ranges"][f"n{n.id}"]["end"]) == (site.start, site.end)

    top = diagram_payload(a, depth=1)
    nodes = groups(top["svg"], "node")
    blocks = [c for c in g.root.children if hasattr(c, "children")]
    layers = [c for c in g.root.children if not hasattr(c, "children")]
    assert len([i for i in nodes if i[0] == "s"]) == len(blocks)
    assert len([i for i in nodes if i[0] == "n"]) == len(layers)
    for sid in (i for i in nodes if i[0] == "s"):
        scope = next(s for s in blocks if s.path == model.scopes[sid]["path"])
        r = top["ranges"][sid]
        if scope.site.path is None:
            assert (r["start"], r["end"]) == (scope.site.span.start, scope.site.span.end)
    assert not groups(top["svg"], "cluster")


def test_clusters_are_the_open_blocks():
    need_dot()
    model = build_model(example("resnet18").graph)
    state = resolve_state(model, 2)
    svg = render.render_svg(to_dot(model, state))
    clusters = groups(svg, "cluster")
    assert set(clusters) == set(state.expanded) - {"s0"}
    assert {model.scopes[s]["path"] for s in clusters} == {"layer1", "layer2", "layer3", "layer4"}


@pytest.mark.parametrize("fmt, magic", [("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_png_and_pdf(fmt, magic):
    need_dot()
    model = build_model(example("lenet5").graph)
    assert render.render(to_dot(model, resolve_state(model)), fmt).startswith(magic)


def test_a_layout_past_the_timeout_is_an_error():
    need_dot()
    model = build_model(example("densenet121").graph)
    with pytest.raises(render.RenderError, match="longer than"):
        render.render(to_dot(model, resolve_state(model, "all")), "svg", timeout=0.01)
