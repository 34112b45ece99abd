"""The VS Code live preview's page (vscode-extension/media/preview.*) in headless Chromium, the way the
webview runs it: the html of src/preview/html.ts (the same placeholders, a strict CSP with a nonce and
'wasm-unsafe-eval'), served from one https origin like VS Code's webview resources, with a stub
`acquireVsCodeApi` that records what the page posts. It is fed `nnlang/diagram` answers recorded
from the real language server (vscode-extension/test/preview/fixtures, by record_preview_fixtures.py).
Screenshots go to tests/artifacts/diagram/vscode-preview/ (the report names tests/artifacts/diagram/)."""

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from diagram_util import ROOT, need

EXT = ROOT / "vscode-extension"
MEDIA = EXT / "media"
FIXTURES = EXT / "test" / "preview" / "fixtures"
ARTIFACTS = ROOT / "tests" / "artifacts" / "diagram" / "vscode-preview"  # the report names tests/artifacts/diagram/
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
ORIGIN = "https://nnlang-webview.test"
NONCE = "dGVzdC1ub25jZS0xMjM0"

# What VS Code gives a webview: acquireVsCodeApi (once), getState / setState; posts are recorded.
STUB = """
(() => {
  window.__posted = [];
  window.__csp = [];
  window.__state = %s;
  let acquired = false;
  window.acquireVsCodeApi = () => {
    if (acquired) throw new Error("acquireVsCodeApi called twice");
    acquired = true;
    return {
      postMessage: (m) => window.__posted.push(JSON.parse(JSON.stringify(m))),
      getState: () => window.__state,
      setState: (s) => { window.__state = JSON.parse(JSON.stringify(s)); },
    };
  };
  document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));
})();
"""


def graphviz_bundle() -> Path | None:
    """The extension's own bundle (npm run compile), else the HTML viewer's (make diagram-assets):
    the same @hpcc-js/wasm-graphviz version and API."""
    for p in (MEDIA / "graphviz.js", ROOT / "nnlang" / "diagram" / "assets" / "graphviz.js"):
        if p.is_file():
            return p
    return None


def page_html() -> str:
    """media/preview.html filled in as src/preview/html.ts does (renderPage)."""
    values = {"cspSource": ORIGIN, "nonce": NONCE, "css": f"{ORIGIN}/media/preview.css",
              "graphviz": f"{ORIGIN}/media/graphviz.js", "core": f"{ORIGIN}/media/preview-core.js",
              "script": f"{ORIGIN}/media/preview.js"}
    template = (MEDIA / "preview.html").read_text(encoding="utf-8")
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)].replace("&", "&amp;").replace('"', "&quot;"), template)


def fixture(name):
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


def answer(fx, name):
    return next(r for r in fx["responses"] if r["name"] == name)


def update(fx, name, seq, version=None, **extra):
    """The `update` message the extension posts for a recorded answer (src/preview/session.ts)."""
    r = answer(fx, name)
    return {"type": "update", "epoch": 0, "version": r["version"] if version is None else version, "seq": seq,
            "uri": fx["document"], "payload": r["result"], "expand": r["params"]["expand"],
            "collapse": r["params"]["collapse"], **extra}


def drawn_ids(payload):
    """The elements the DOT draws (every box and cluster carries id="...")."""
    return re.findall(r'\bid="([nsio]\d+)"', payload["dot"])


@pytest.fixture(scope="module")
def browser():
    need(os.path.exists(CHROMIUM), "chromium (Debian package)")
    need(graphviz_bundle() is not None, "the Graphviz WebAssembly bundle (cd vscode-extension && npm run compile)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright (pip, the dev extra)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="nnlang-chromium-")
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=FLAGS, headless=True,
                                                   offline=True, viewport={"width": 1100, "height": 760})
        yield ctx
        ctx.close()
    shutil.rmtree(profile, ignore_errors=True)


class Preview:
    def __init__(self, browser, state=None, theme="vscode-light"):
        self.page = browser.new_page()
        self.requests, self.problems = [], []
        html = page_html()
        bundle = graphviz_bundle()

        def serve(route):
            url = route.request.url
            self.requests.append(url)
            path = url[len(ORIGIN):].split("?")[0]
            if path == "/index.html":
                return route.fulfill(status=200, content_type="text/html", body=html)
            name = path.removeprefix("/media/")
            file = bundle if name == "graphviz.js" else MEDIA / name
            if path.startswith("/media/") and file.is_file():
                kind = "text/css" if name.endswith(".css") else "text/javascript"
                return route.fulfill(status=200, content_type=kind, body=file.read_bytes())
            return route.fulfill(status=404, body="")

        self.page.route(f"{ORIGIN}/**", serve)
        self.page.route(re.compile(r"^(?!https://nnlang-webview\.test/).*"),
                        lambda route: (self.requests.append(route.request.url), route.abort()))
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        self.page.add_init_script(STUB % json.dumps(state))
        self.page.goto(f"{ORIGIN}/index.html")
        self.page.evaluate("t => document.body.classList.add(t)", theme)
        self.wait("window.__posted.some(m => m.type === 'ready')")

    def send(self, msg):
        self.page.evaluate("m => window.postMessage(m, '*')", msg)

    def posted(self, kind=None):
        out = self.page.evaluate("window.__posted")
        return [m for m in out if kind is None or m["type"] == kind]

    def data(self, name):
        return self.page.evaluate(f"document.body.dataset[{name!r}]")

    def wait(self, condition):
        # a function, not an expression: Playwright evals an expression at each poll, which the CSP forbids
        self.page.wait_for_function(f"() => ({condition})", timeout=30_000)

    def wait_layouts(self, n):
        self.wait(f"document.body.dataset.state === 'ready' && Number(document.body.dataset.layouts) >= {n}")

    def view(self):
        return self.page.evaluate("window.nnlangPreview.view()")

    def svg_ids(self):
        return self.page.eval_on_selector_all("#canvas svg g.node[id], #canvas svg g.cluster[id]",
                                              "gs => gs.map(g => g.id)")

    def centre_of(self, selector):
        return self.page.eval_on_selector(selector, """g => { const r = g.getBoundingClientRect();
            const c = document.getElementById('canvas').getBoundingClientRect();
            return [r.left + r.width / 2 - c.left, r.top + Math.min(r.height / 2, 20) - c.top]; }""")

    def shot(self, name):
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))

    def check_clean(self):
        outside = [u for u in self.requests if not u.startswith(ORIGIN)]
        assert outside == [], outside
        assert self.page.evaluate("window.__csp") == []
        assert self.problems == []

    def close(self):
        self.page.close()


def pos_of(text, needle, delta=0):
    at = text.index(needle) + delta
    return {"line": text.count("\n", 0, at), "character": at - (text.rfind("\n", 0, at) + 1)}


def test_resnet18_renders_reveals_highlights_and_toggles(browser):
    fx = fixture("resnet18")
    first = answer(fx, "initial")["result"]
    text = fx["texts"]["1"]
    p = Preview(browser)
    p.send(update(fx, "initial", seq=1))
    p.wait_layouts(1)

    # one SVG element per drawn id, each with its source range
    ids = p.svg_ids()
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(drawn_ids(first))
    assert set(ids) <= set(first["ranges"])
    assert p.page.inner_text("#title") == "ResNet18"
    p.shot("resnet18-light")

    # a click on conv1 (the layer whose range is `Conv2d(64, 7, ...)` on line 12) reveals it
    conv1 = next(k for k, r in first["ranges"].items() if k[0] == "n" and r["start"] == pos_of(text, "Conv2d(64, 7"))
    p.page.click(f"#canvas svg g.node#{conv1}")
    assert p.posted("reveal") == [{"type": "reveal", "id": conv1}]
    assert p.page.locator(f"#canvas svg g.node#{conv1}.nn-selected").count() == 1

    # the editor's cursor on conv1's line highlights that box (and only it)
    p.send({"type": "cursor", **pos_of(text, "Conv2d(64, 7", 5)})
    p.wait(f"document.body.dataset.cursor === '{conv1}'")
    assert p.page.eval_on_selector_all(".nn-cursor", "gs => gs.map(g => g.id)") == [conv1]
    p.shot("resnet18-cursor-on-conv1")

    # an on-screen element is not scrolled to; an off-screen one is
    before = p.view()
    p.send({"type": "cursor", **pos_of(text, "bn1: BatchNorm2d", 6)})
    p.wait("document.body.dataset.cursor === 'n1'")
    assert p.view() == before
    for _ in range(6):
        p.page.click("#btn-zoom-in")
    p.page.mouse.move(500, 400)
    p.page.mouse.down()
    p.page.mouse.move(900, 100, steps=5)
    p.page.mouse.up()
    off = p.page.eval_on_selector(f"#canvas svg g#{conv1}", """g => { const r = g.getBoundingClientRect();
        const c = document.getElementById('canvas').getBoundingClientRect();
        return r.right < c.left || r.left > c.right || r.bottom < c.top || r.top > c.bottom; }""")
    assert off, "the test means to move conv1 off screen"
    p.send({"type": "cursor", **pos_of(text, "Conv2d(64, 7", 5)})
    p.wait(f"document.body.dataset.cursor === '{conv1}'")
    x, y = p.page.eval_on_selector(f"#canvas svg g#{conv1}", """g => { const r = g.getBoundingClientRect();
        const c = document.getElementById('canvas').getBoundingClientRect();
        return [r.left + r.width / 2 - c.left, r.top + r.height / 2 - c.top]; }""")
    w, h = p.page.evaluate("[canvas.clientWidth, canvas.clientHeight]")
    assert abs(x - w / 2) < 2 and abs(y - h / 2) < 2, (x, y, w, h)
    p.page.click("#btn-fit")

    # blocks: a click on a closed block opens it, the - control and an open block's header close it
    paths = first["paths"]
    sid = {v: k for k, v in paths.items()}
    p.page.click(f"#canvas svg g.node#{sid['layer2.0']}")
    p.page.click(f"#canvas .nn-toggle[data-id={sid['layer3']}]")
    p.page.click(f"#canvas svg g.cluster#{sid['layer4']} text")
    assert p.posted("toggle") == [
        {"type": "toggle", "id": sid["layer2.0"], "path": "layer2.0", "expanded": True},
        {"type": "toggle", "id": sid["layer3"], "path": "layer3", "expanded": False},
        {"type": "toggle", "id": sid["layer4"], "path": "layer4", "expanded": False},
    ]
    # layers reveal, blocks do not
    assert len(p.posted("reveal")) == 1
    p.check_clean()
    p.close()


def test_updates_keep_the_view_and_stale_versions_are_ignored(browser):
    fx = fixture("resnet18")
    p = Preview(browser)
    p.send(update(fx, "initial", seq=1))
    p.wait_layouts(1)
    for _ in range(3):
        p.page.click("#btn-zoom-in")
    p.page.mouse.move(500, 400)
    p.page.mouse.down()
    p.page.mouse.move(430, 330, steps=4)
    p.page.mouse.up()
    p.page.mouse.move(600, 300)
    p.page.mouse.wheel(0, -120)
    zoomed = p.view()
    assert zoomed["k"] > 1.2

    # a new version with the same drawing (an edit that changed no box): nothing moves, no re-layout
    p.send(update(fx, "initial", seq=2, version=2))
    p.wait("document.body.dataset.version === '2'")
    assert p.view() == zoomed and p.data("layouts") == "1"

    # a new version with a different drawing: the scale stays, the box nearest the centre stays put
    anchor = p.page.evaluate("""() => { const c = canvas.getBoundingClientRect(); let best = null;
        for (const g of document.querySelectorAll('#canvas svg g.node')) { const r = g.getBoundingClientRect();
          const x = r.left + r.width / 2 - c.left, y = r.top + Math.min(r.height / 2, 20) - c.top;
          const d = (x - c.width / 2) ** 2 + (y - c.height / 2) ** 2; if (!best || d < best.d) best = {id: g.id, d}; }
        return best.id; }""")
    where = p.centre_of(f"#canvas svg g#{anchor}")
    edited = update(fx, "edited: a dropout before fc", seq=3, version=3)
    assert edited["payload"]["dot"] != answer(fx, "initial")["result"]["dot"]
    p.send(edited)
    p.wait_layouts(2)
    assert p.view()["k"] == zoomed["k"]
    now = p.centre_of(f"#canvas svg g#{anchor}")
    assert abs(now[0] - where[0]) < 1.5 and abs(now[1] - where[1]) < 1.5, (anchor, where, now)
    after = p.view()
    p.shot("resnet18-kept-view-v3")

    # stale: an older version, or the same version from an older request
    closed_l3 = update(fx, "collapse layer3", seq=9, version=1)
    p.send(closed_l3)
    p.send(update(fx, "collapse layer3", seq=2, version=3))
    p.page.wait_for_timeout(200)
    assert p.data("dropped") == "2" and p.data("layouts") == "2" and p.data("version") == "3"
    assert p.view() == after
    layer3 = {v: k for k, v in closed_l3["payload"]["paths"].items()}["layer3"]
    assert p.page.locator(f"#canvas svg g.cluster#{layer3}").count() == 1  # still open: the stale one was ignored

    # the page saved what a restored panel needs
    p.page.wait_for_timeout(300)
    state = p.page.evaluate("window.__state")
    assert state["uri"] == fx["document"] and state["view"] == after
    assert state["expand"] == [] and state["collapse"] == []
    p.check_clean()
    p.close()


def test_a_toggled_block_stays_under_the_pointer(browser):
    fx = fixture("resnet18")
    p = Preview(browser)
    p.send(update(fx, "initial", seq=1))
    p.wait_layouts(1)
    sid = {v: k for k, v in answer(fx, "initial")["result"]["paths"].items()}["layer2.0"]
    where = p.centre_of(f"#canvas svg g.node#{sid}")
    k = p.view()["k"]
    p.page.click(f"#canvas svg g.node#{sid}")
    assert p.posted("toggle")[-1]["path"] == "layer2.0"
    p.send(update(fx, "expand layer2.0", seq=2))  # what the server answered to that toggle
    p.wait_layouts(2)
    assert p.page.locator(f"#canvas svg g.cluster#{sid}").count() == 1
    assert p.page.locator(f"#canvas .nn-toggle[data-id={sid}][data-expanded=true]").count() == 1
    now = p.centre_of(f"#canvas svg g.cluster#{sid}")
    assert abs(now[0] - where[0]) < 1.5 and abs(now[1] - where[1]) < 1.5, (where, now)
    assert p.view()["k"] == k
    p.wait("window.__state && window.__state.expand.length === 1")  # saved (debounced) for a reload
    assert p.page.evaluate("window.__state.expand") == ["layer2.0"]
    p.shot("resnet18-layer2.0-expanded")
    p.check_clean()
    p.close()


@pytest.mark.parametrize("theme", ["vscode-dark", "vscode-high-contrast"])
def test_inception_v3_renders_in_dark_themes(browser, theme):
    fx = fixture("inception_v3")
    payload = answer(fx, "initial")["result"]
    p = Preview(browser, theme=theme)
    p.send(update(fx, "initial", seq=1))
    p.wait_layouts(1)
    ids = p.svg_ids()
    assert sorted(ids) == sorted(drawn_ids(payload)) and set(ids) <= set(payload["ranges"])
    bg = p.page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert bg in ("rgb(30, 30, 30)",), bg
    # every block drawn has its +/- control
    toggles = p.page.eval_on_selector_all("#canvas .nn-toggle", "cs => cs.map(c => c.dataset.id)")
    assert sorted(toggles) == sorted(i for i in ids if i[0] == "s")
    p.shot(f"inception_v3-{theme}")
    p.check_clean()
    p.close()


def test_no_network_and_errors_show_a_message(browser):
    fx = fixture("blocks_only")
    p = Preview(browser)
    p.send(update(fx, "initial", seq=1))
    p.wait("document.body.dataset.state === 'empty'")
    msg = p.page.locator("#message")
    assert msg.is_visible() and "No network" in msg.inner_text()
    assert p.page.locator("#canvas svg").count() == 0
    p.shot("blocks-only-message")
    p.send({"type": "error", "epoch": 0, "version": 1, "seq": 2, "message": "the language server is not running"})
    p.wait("document.body.dataset.state === 'error'")
    assert "not running" in msg.inner_text()

    # with a diagram shown, an error or a file that stops parsing keeps it (dimmed) under a banner
    rn = fixture("resnet18")
    p.send(update(rn, "initial", seq=3, version=2))
    p.wait_layouts(1)
    assert not msg.is_visible() and not p.page.locator("#banner").is_visible()
    p.send({"type": "error", "epoch": 0, "version": 2, "seq": 4, "message": "request timed out"})
    p.wait("!document.getElementById('banner').hidden")
    assert "request timed out" in p.page.inner_text("#banner") and p.page.locator("#canvas svg").count() == 1
    broken = update(fx, "initial", seq=5, version=3)
    p.send(broken)
    p.wait("document.body.dataset.version === '3'")
    assert "No network" in p.page.inner_text("#banner")
    assert p.page.locator("#canvas svg.nn-stale").count() == 1
    p.shot("resnet18-stale-banner")
    p.check_clean()
    p.close()


def test_a_restored_panel_keeps_its_view(browser):
    fx = fixture("resnet18")
    saved = {"uri": fx["document"], "expand": [], "collapse": [], "view": {"x": 40, "y": 120, "k": 1.3}}
    p = Preview(browser, state=saved)
    p.send(update(fx, "initial", seq=1))
    p.wait_layouts(1)
    assert p.view() == saved["view"]
    p.close()


def test_payload_paths_round_trip_through_expand_and_collapse():
    """The page posts `toggle` with payload.paths[id]; the server must find exactly that block by it."""
    from diagram_util import example

    from nnlang.diagram import build_model, diagram_payload, match_scopes

    for name in ("resnet18", "inception_v3", "densenet121"):
        a = example(name)
        p = diagram_payload(a, svg=False)
        model = build_model(a.graph)
        assert set(p["paths"]) == set(model.scopes) - {model.root}
        for sid, path in p["paths"].items():
            assert match_scopes(model, [path]) == ({sid}, []), (name, path)
        opened = diagram_payload(a, expand=[p["paths"]["s1"]], svg=False)
        assert "s1" in opened["state"]["expanded"] and opened["unknown"] == []


@pytest.mark.parametrize("name", ["resnet18", "inception_v3"])
def test_recorded_answers_match_the_diagram_code(name):
    """The fixtures were recorded from the server (record_preview_fixtures.py): when the diagram's
    structure changes (ids, blocks, what is drawn), record them again."""
    from diagram_util import example

    from nnlang.diagram import diagram_payload

    fx = fixture(name)
    r = answer(fx, "initial")
    now = diagram_payload(example(name), depth=r["params"].get("depth", "auto"), expand=r["params"]["expand"],
                          collapse=r["params"]["collapse"], svg=False)
    assert now["paths"] == r["result"]["paths"]
    assert sorted(drawn_ids(now)) == sorted(drawn_ids(r["result"]))
    assert sorted(now["ranges"]) == sorted(r["result"]["ranges"])


def test_hostile_document_runs_no_script(browser, tmp_path):
    """Markup in the document reaches the page only as text inside Graphviz's SVG."""
    from nnlang.analyze import analyze
    from nnlang.diagram import diagram_payload

    src = ('network Evil(t: str = "</script><script>alert(1)</script>") {\n'
           '    "<img src=x onerror=alert(2)> </script><script>alert(3)</script>"\n'
           '    input x: [N, 4]\n    y = x -> ReLU\n    output y\n}\n')
    payload = diagram_payload(analyze(src, path=str(tmp_path / "evil.nns")), svg=False)
    payload["ranges"] = {k: {"start": {"line": r["line"] - 1, "character": r["column"] - 1},
                             "end": {"line": r["end_line"] - 1, "character": r["end_column"] - 1}}
                         for k, r in payload["ranges"].items()}
    payload["version"] = 1
    p = Preview(browser)
    dialogs = []
    p.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    p.send({"type": "update", "epoch": 0, "version": 1, "seq": 1, "uri": "file:///evil.nns", "payload": payload,
            "expand": [], "collapse": []})
    p.wait_layouts(1)
    assert "</script><script>alert(1)</script>" in p.page.eval_on_selector("#canvas svg", "s => s.textContent")
    assert p.page.locator("img, script:not([nonce]), foreignObject").count() == 0
    assert dialogs == []
    p.check_clean()
    p.close()
