"""The automatic view (`--depth auto`, readability.py): every example's default drawing, laid out
by Graphviz's `dot`, is a page close to a screen and not a strip; repeats are rolled up; branchy
blocks show their branches; the pure-Python size estimate follows `dot`'s."""

import json
import re
import subprocess
import time

import pytest
from diagram_util import ARTIFACTS, EXAMPLES, example, need_dot

from nnlang.diagram import build_model, render, resolve_state, to_dot
from nnlang.diagram import readability as R

BOX = re.compile(r"^\s*([ns]\d+) \[id=\"\1\"", re.MULTILINE)


def laid_out(dot: str) -> tuple:
    """(width, height) of the layout's bounding box in points, from `dot -Tjson0`."""
    out = subprocess.run(["dot", "-Tjson0"], input=dot, capture_output=True, text=True, check=True, timeout=60)
    bb = [float(v) for v in json.loads(out.stdout)["bb"].split(",")]
    return bb[2] - bb[0], bb[3] - bb[1]


def default_view(name):
    model = build_model(example(name).graph)
    state = resolve_state(model)
    return model, state, to_dot(model, state)


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_default_view_is_a_readable_page(name):
    need_dot()
    model, _state, dot = default_view(name)
    w, h = laid_out(dot)
    assert 1 / 3 <= w / h <= 3, (w, h)
    assert max(w, h) <= 2400, (w, h)  # at most 1.5 screens (1600 x 1000 pt) in either direction
    if len(model.scopes) > 1:  # a network without blocks (FCN-32s's 41 named layers) has nothing to close
        assert len(BOX.findall(dot)) <= R.BOX_BUDGET
    if name in ("unet", "inception_v3", "bert_encoder", "resnet50"):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"{name}-auto.svg").write_text(render.render_svg(dot), encoding="utf-8")


def test_unet_is_not_a_single_column():
    need_dot()
    model, state, dot = default_view("unet")
    w, h = laid_out(dot)
    assert w / h >= 0.4  # the strip it was: 553 x 4468 pt, 0.12
    assert len(BOX.findall(dot)) >= 10  # every stage of the U is drawn


def test_bert_draws_the_encoder_layer_once_with_its_count():
    g = example("bert_encoder").graph
    model, state, dot = default_view("bert_encoder")
    layers = next(s for s, r in model.scopes.items() if r["path"] == "layers")
    assert layers in state.rolled and layers in state.expanded
    assert "TransformerEncoderLayer ×12 (first shown)" in dot
    drawn = {i for i in BOX.findall(dot) if i[0] == "n"}
    first = {f"n{n.id}" for n in g.nodes if n.path.startswith("layers.0.")}
    assert drawn <= first and len(drawn) > 5  # the first layer's insides, drawn once
    # --no-roll unrolls: twelve layers
    unrolled = to_dot(model, resolve_state(model, roll=False))
    assert "(first shown)" not in unrolled


def test_inception_v3_shows_the_branches_of_a_module():
    model, state, dot = default_view("inception_v3")
    opened = [s for s in state.expanded if s != model.root and model.scopes[s]["tname"].startswith("Inception")]
    assert opened
    sid = opened[0]
    assert sid in R.branchy_scopes(model)
    # the module's input reaches several of its children: branches, side by side
    inside = {n for n, r in model.nodes.items() if sid in r["anc"]}
    fed = {dst for src, dst, *_ in model.edges if dst in inside and src not in inside}
    assert len(fed) >= 3


def test_googlenet_opens_one_inception_module():
    model, state, _dot = default_view("googlenet")
    assert any(model.scopes[s]["tname"] == "Inception" for s in state.expanded if s != model.root)


@pytest.mark.parametrize("name", ["resnet18", "unet", "inception_v3", "mobilenet_v2", "vgg16", "bert_encoder"])
def test_the_estimate_follows_dot(name):
    """The estimate decides the view without running `dot`: it must stay within a factor of
    0.55-1.6 of the real layout for the views it chooses between."""
    need_dot()
    model = build_model(example(name).graph)
    for depth in range(1, 4):
        state = resolve_state(model, depth)
        m = R.measure(model, state)
        if m.boxes > R.BOX_BUDGET:
            continue
        w, h = laid_out(to_dot(model, state))
        assert 0.55 <= m.width / w <= 1.6 and 0.55 <= m.height / h <= 1.6, (depth, m, w, h)


def test_choice_is_deterministic_and_cheap():
    model = build_model(example("densenet121").graph)
    first = resolve_state(model)
    t = time.perf_counter()
    for _ in range(5):
        assert resolve_state(model) == first
    assert (time.perf_counter() - t) / 5 < 0.25  # generous: about 10 ms on a laptop
