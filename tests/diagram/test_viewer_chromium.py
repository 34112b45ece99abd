"""The HTML viewer in headless Chromium (Debian's, driven by Playwright; no browser download):
it renders with the network off, a click opens a block, a hover shows the card. Screenshots go
to tests/artifacts/diagram/ (named in the test report)."""

import os
import shutil
import tempfile

import pytest
from diagram_util import ARTIFACTS, ROOT, example, need

from nnlang.cli import main
from nnlang.diagram import build_model, resolve_state
from nnlang.diagram.html import renderer_available
from nnlang.diagram.view import visible_count

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    need(os.path.exists(CHROMIUM), "chromium (Debian package)")
    need(renderer_available(), "the Graphviz WebAssembly bundle (make diagram-assets)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright (pip, the dev extra)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="nnlang-chromium-")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=FLAGS, headless=True,
                                                   offline=True, viewport={"width": 1440, "height": 900})
        yield ctx
        ctx.close()
    shutil.rmtree(profile, ignore_errors=True)


def open_page(browser, tmp_path, name, *options):
    out = tmp_path / f"{name}.html"
    assert main(["graph", str(ROOT / "examples" / f"{name}.nns"), "-o", str(out), *options]) == 0
    page = browser.new_page()
    requests, problems = [], []
    page.route("**/*", lambda route: (requests.append(route.request.url),
                                      route.continue_() if route.request.url.startswith("file:") else route.abort()))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda d: (problems.append("dialog: " + d.message), d.dismiss()))
    page.goto(out.as_uri())
    page.wait_for_selector("body[data-state=ready]", timeout=30_000)
    return page, requests, problems


def boxes(page, prefix=""):
    return page.eval_on_selector_all("#canvas svg g.node", "gs => gs.map(g => g.id)")


def test_resnet18_renders_offline_expands_on_click_and_shows_a_card(browser, tmp_path):
    page, requests, problems = open_page(browser, tmp_path, "resnet18", "--depth", "1")
    model = build_model(example("resnet18").graph)
    assert len([b for b in boxes(page) if b[0] in "ns"]) == visible_count(model, 1)
    page.screenshot(path=str(ARTIFACTS / "resnet18-depth1.png"))

    layer2 = next(s for s, r in model.scopes.items() if r["path"] == "layer2")
    page.click(f"#canvas svg g.node#{layer2}")
    page.wait_for_selector("body[data-renders='2']")
    after = boxes(page)
    assert layer2 not in after and page.locator(f"#canvas svg g.cluster#{layer2}").count() == 1
    assert len([b for b in after if b[0] in "ns"]) == visible_count(model, 1) + 1  # layer2 -> its 2 blocks
    page.screenshot(path=str(ARTIFACTS / "resnet18-layer2-expanded.png"))

    page.hover("#canvas svg g.node#n0")
    card = page.locator("#tooltip")
    card.wait_for(state="visible")
    text = card.inner_text()
    assert "conv1" in text and "Conv2d" in text and "9,408" in text and "[N, 64, 112, 112]" in text
    assert page.locator("#src .ln.hl").first.get_attribute("data-n") == "12"  # the layer's source line
    page.screenshot(path=str(ARTIFACTS / "resnet18-hover.png"))

    page.click(f"#canvas svg g.cluster#{layer2} text")  # a click on an open block closes it
    page.wait_for_selector("body[data-renders='3']")
    assert layer2 in boxes(page)

    page.click("#btn-theme")
    page.click("#btn-theme")  # auto -> light -> dark
    page.screenshot(path=str(ARTIFACTS / "resnet18-dark.png"))
    assert [u for u in requests if not u.startswith("file:")] == []
    assert problems == []
    page.close()


@pytest.mark.parametrize("name, depth", [("densenet121", "1"), ("densenet121", "2"), ("inception_v3", "1"),
                                         ("bert_encoder", "all"), ("densenet121", "all"), ("inception_v3", "all")])
def test_the_big_ones_render(browser, tmp_path, name, depth):
    page, requests, problems = open_page(browser, tmp_path, name, "--depth", depth, "--no-roll")
    model = build_model(example(name).graph)
    state = resolve_state(model, depth if depth == "all" else int(depth), roll=False)
    expected = len(example(name).graph.nodes) if depth == "all" else visible_count(model, int(depth))
    assert len([b for b in boxes(page) if b[0] in "ns"]) == expected
    assert len(state.expanded) - 1 == page.locator("#canvas svg g.cluster").count()
    page.screenshot(path=str(ARTIFACTS / f"{name}-depth-{depth}.png"))
    assert [u for u in requests if not u.startswith("file:")] == [] and problems == []
    page.close()


def test_hostile_document_runs_no_script(browser, tmp_path):
    src = tmp_path / "evil.nns"
    src.write_text('network Evil(t: str = "</script><script>alert(1)</script>") {\n'
                   '    "<img src=x onerror=alert(2)> </script><script>alert(3)</script>"\n'
                   '    input x: [N, 4]\n    y = x -> ReLU\n    output y\n}\n')
    out = tmp_path / "evil.html"
    assert main(["graph", str(src), "-o", str(out)]) == 0
    page = browser.new_page()
    problems = []
    page.on("dialog", lambda d: (problems.append(d.message), d.dismiss()))
    page.goto(out.as_uri())
    page.wait_for_selector("body[data-state=ready]", timeout=30_000)
    assert "<img src=x onerror=alert(2)>" in page.inner_text("#totals")
    assert page.locator("img").count() == 0 and problems == []
    page.close()


def test_opening_a_block_keeps_the_columns_and_brings_the_block_on_screen(browser, tmp_path):
    page, requests, problems = open_page(browser, tmp_path, "inception_v3")  # the automatic view
    assert "rank=same" in page.evaluate("window.nnlangViewer.toDot()")  # wrapped into columns
    page.screenshot(path=str(ARTIFACTS / "inception_v3-auto.png"))
    model = build_model(example("inception_v3").graph)
    sid = next(s for s, r in model.scopes.items() if r["path"] == "Mixed_7b")  # a wide InceptionE
    page.click(f"#canvas svg g.node#{sid}")
    page.wait_for_selector("body[data-renders='2']")
    assert page.locator(f"#canvas svg g.cluster#{sid}").count() == 1
    assert "rank=same" in page.evaluate("window.nnlangViewer.toDot()")  # still in columns
    canvas = page.locator("#canvas").bounding_box()
    block = page.locator(f"#canvas svg g.cluster#{sid}").bounding_box()
    assert block["x"] >= canvas["x"] - 1 and block["y"] >= canvas["y"] - 1
    assert block["x"] + block["width"] <= canvas["x"] + canvas["width"] + 1
    assert block["y"] + block["height"] <= canvas["y"] + canvas["height"] + 1
    page.screenshot(path=str(ARTIFACTS / "inception_v3-Mixed_7b-opened.png"))
    assert [u for u in requests if not u.startswith("file:")] == [] and problems == []
    page.close()
