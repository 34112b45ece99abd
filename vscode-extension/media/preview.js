/* nnlang live preview: the webview page. Plain JS, no framework.
 *
 * Gets `update` messages (the `nnlang/diagram` answer, stamped with epoch / version / seq) and lays
 * out their DOT here with Graphviz compiled to WebAssembly (global NNGraphviz, media/graphviz.js);
 * the SVG is parsed with DOMParser and imported: no string from the document ever goes through
 * innerHTML. Pan (drag) and zoom (wheel, buttons, keys) are kept across updates: the scale stays,
 * and the box nearest the centre (or the block just clicked) stays where it was on screen.
 * The protocol is documented in src/preview/protocol.ts; the pure parts are in preview-core.js. */
/* global acquireVsCodeApi, NNPreview, NNGraphviz, window, document, DOMParser, performance, setTimeout */
(function () {
  "use strict";

  const vscode = acquireVsCodeApi();
  const core = NNPreview;
  const SVGNS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const canvas = $("canvas");
  const messageEl = $("message");
  const banner = $("banner");
  const titleEl = $("title");
  const infoEl = $("info");

  const saved = vscode.getState() || {};
  let view = saved.view && saved.view.k > 0 ? saved.view : null; // {x, y, k}: top-left (graph units), px per unit
  let lists = { uri: saved.uri || "", expand: saved.expand || [], collapse: saved.collapse || [] };
  let svg = null; // the <svg> shown
  let box = null; // its extent in graph units
  let shownDot = null; // the DOT it was laid out from
  let current = null; // the last update accepted: {epoch, version, seq, payload, ...}
  let accepted = null; // its stamp, or the last error's
  let waiting = null; // an update that came before Graphviz was loaded
  let graphviz = null;
  let cursor = null; // {line, character}
  let selected = null; // element id last clicked
  let toggled = null; // {id, at}: the block just opened / closed stays under the pointer
  const counts = { updates: 0, layouts: 0, dropped: 0 };

  function post(msg) {
    vscode.postMessage(msg);
  }

  function setData(name, value) {
    body.dataset[name] = String(value);
  }

  // ---- state saved for a reload ------------------------------------------------------------------

  let persistTimer = null;
  function persist() {
    if (persistTimer !== null) return;
    persistTimer = setTimeout(() => {
      persistTimer = null;
      vscode.setState({ uri: lists.uri, expand: lists.expand, collapse: lists.collapse, view: view });
    }, 150);
  }

  // ---- messages ------------------------------------------------------------------------------------

  window.addEventListener("message", (event) => {
    const msg = event.data;
    if (!msg || typeof msg !== "object") return;
    if (msg.type === "update") onUpdate(msg);
    else if (msg.type === "error") onError(msg);
    else if (msg.type === "cursor") onCursor(msg);
  });

  function stale(msg) {
    if (core.isNewer(msg, accepted)) return false;
    counts.dropped += 1;
    setData("dropped", counts.dropped);
    return true;
  }

  function onUpdate(msg) {
    if (!msg.payload || typeof msg.payload !== "object" || stale(msg)) return;
    accepted = core.stamp(msg);
    lists = { uri: msg.uri || lists.uri, expand: msg.expand || [], collapse: msg.collapse || [] };
    if (!view && msg.view && msg.view.k > 0) view = msg.view;
    persist();
    if (!graphviz) {
      waiting = msg;
      return;
    }
    show(msg);
  }

  function onError(msg) {
    if (stale(msg)) return;
    accepted = core.stamp(msg);
    const text = "The diagram could not be updated: " + String(msg.message || "unknown error");
    if (svg) for (const g of svg.querySelectorAll(".nn-busy")) g.classList.remove("nn-busy");
    if (svg) showBanner(text);
    else showMessage(text, "error");
    setData("state", svg ? "ready" : "error");
  }

  function onCursor(msg) {
    if (typeof msg.line !== "number" || typeof msg.character !== "number") return;
    cursor = { line: msg.line, character: msg.character };
    highlightCursor(true);
  }

  // ---- showing an update -----------------------------------------------------------------------

  function showMessage(text, kind) {
    messageEl.textContent = text;
    messageEl.className = kind || "";
    messageEl.hidden = false;
  }

  function showBanner(text) {
    banner.textContent = text;
    banner.hidden = false;
  }

  function clearNotes() {
    messageEl.hidden = true;
    banner.hidden = true;
  }

  function setHeader(payload, msg) {
    titleEl.textContent = payload.network || "";
    const n = Object.keys(payload.ranges || {}).filter((id) => id[0] === "n").length;
    infoEl.textContent = payload.network ? n + " layer" + (n === 1 ? "" : "s") + " \u00b7 v" + msg.version : "";
  }

  function show(msg) {
    const payload = msg.payload;
    current = msg;
    counts.updates += 1;
    setData("version", msg.version);
    setData("seq", msg.seq);
    setData("updates", counts.updates);
    const reason = core.emptyReason(payload);
    if (payload.network || !svg) setHeader(payload, msg); // a stale drawing keeps its title
    if (reason) {
      if (svg && !payload.network) {
        // Mid-edit the file may not parse: keep the last drawing, dimmed, and say why.
        svg.classList.add("nn-stale");
        showBanner(reason + " Showing the last diagram.");
        setData("state", "ready");
      } else {
        removeDrawing();
        showMessage(reason, "empty");
        setData("state", "empty");
      }
      return;
    }
    if (svg && payload.dot === shownDot) {
      // Same drawing (an edit that changed no box): keep the SVG, take the new ranges.
      svg.classList.remove("nn-stale");
      for (const g of svg.querySelectorAll(".nn-busy")) g.classList.remove("nn-busy");
      toggled = null;
      clearNotes();
      refreshMarks();
      setData("state", "ready");
      return;
    }
    layout(payload);
  }

  function removeDrawing() {
    if (svg) svg.remove();
    svg = null;
    box = null;
    shownDot = null;
  }

  function layout(payload) {
    const t0 = performance.now();
    let text;
    try {
      text = graphviz.layout(payload.dot, "svg", "dot");
    } catch (err) {
      fail("Graphviz could not lay out this diagram: " + err);
      return;
    }
    const parsed = new DOMParser().parseFromString(text, "image/svg+xml");
    const root = parsed.documentElement;
    if (!root || root.nodeName !== "svg" || parsed.getElementsByTagName("parsererror").length) {
      fail("Graphviz wrote an SVG that does not parse.");
      return;
    }
    const next = document.importNode(root, true);
    sanitize(next);
    const vb = (next.getAttribute("viewBox") || "0 0 100 100").trim().split(/[\s,]+/).map(Number);
    next.removeAttribute("width");
    next.removeAttribute("height");
    next.setAttribute("preserveAspectRatio", "xMinYMin meet");
    next.setAttribute("role", "img");

    const anchor = svg ? chooseAnchor() : null; // measured on the old drawing
    if (svg) svg.replaceWith(next);
    else canvas.insertBefore(next, messageEl);
    svg = next;
    box = { x: vb[0], y: vb[1], w: vb[2] || 1, h: vb[3] || 1 };
    shownDot = payload.dot;
    clearNotes();
    if (!view) fitView();
    else setView(view);
    if (anchor) {
      const now = refPoint(anchor.id);
      if (now) setView(core.shift(view, now.x, now.y, anchor.x, anchor.y));
    }
    addToggles();
    refreshMarks();
    counts.layouts += 1;
    setData("layouts", counts.layouts);
    setData("layoutMs", Math.round(performance.now() - t0));
    setData("state", "ready");
  }

  function fail(text) {
    post({ type: "log", message: text });
    if (svg) showBanner(text);
    else showMessage(text, "error");
    setData("state", svg ? "ready" : "error");
  }

  /** Graphviz's SVG of escaped DOT has no script; drop anything active anyway. */
  function sanitize(root) {
    for (const bad of root.querySelectorAll("script, foreignObject, iframe, image, use")) bad.remove();
    const all = [root, ...root.querySelectorAll("*")];
    for (const el of all) {
      for (const a of [...el.attributes]) {
        const name = a.name.toLowerCase();
        if (name.startsWith("on") || name === "href" || name === "xlink:href" || name === "style") el.removeAttribute(a.name);
      }
    }
    // Graphviz's <title> holds the DOT node name ("n12", "cluster_s3"): not for people.
    for (const t of root.querySelectorAll("g > title")) t.remove();
  }

  // ---- elements ------------------------------------------------------------------------------------

  function element(id) {
    if (!svg || !id) return null;
    const g = svg.getElementById(id);
    return g && g.classList && (g.classList.contains("node") || g.classList.contains("cluster")) ? g : null;
  }

  function canvasRect() {
    return canvas.getBoundingClientRect();
  }

  /** A box's reference point on screen (relative to the canvas): its centre, or for a tall box
   *  (an open block) a point in its header. */
  function refPoint(id) {
    const g = element(id);
    if (!g) return null;
    const r = g.getBoundingClientRect();
    const c = canvasRect();
    return { x: r.left + r.width / 2 - c.left, y: r.top + Math.min(r.height / 2, 20) - c.top };
  }

  /** What stays put across a re-layout: the block just toggled, else the box nearest the centre. */
  function chooseAnchor() {
    const nextIds = new Set(Object.keys((current && current.payload.ranges) || {}));
    if (toggled && performance.now() - toggled.at < 15000 && nextIds.has(toggled.id)) {
      const id = toggled.id;
      toggled = null;
      const p = refPoint(id);
      if (p) return { id: id, x: p.x, y: p.y };
    }
    const c = canvasRect();
    const cx = c.width / 2;
    const cy = c.height / 2;
    let best = null;
    for (const g of svg.querySelectorAll("g.node")) {
      if (!g.id || !nextIds.has(g.id)) continue;
      const r = g.getBoundingClientRect();
      const x = r.left + r.width / 2 - c.left;
      const y = r.top + Math.min(r.height / 2, 20) - c.top;
      const d = (x - cx) * (x - cx) + (y - cy) * (y - cy);
      if (best === null || d < best.d) best = { id: g.id, x: x, y: y, d: d };
    }
    return best;
  }

  // ---- pan and zoom (the SVG viewBox) -----------------------------------------------------------

  function setView(v) {
    view = { x: v.x, y: v.y, k: v.k };
    if (svg) {
      const w = Math.max(canvas.clientWidth, 1) / view.k;
      const h = Math.max(canvas.clientHeight, 1) / view.k;
      svg.setAttribute("viewBox", view.x + " " + view.y + " " + w + " " + h);
    }
    setData("zoom", Math.round(view.k * 100) / 100);
    persist();
  }

  function fitView() {
    if (!box) return;
    setView(core.fit(box, Math.max(canvas.clientWidth, 1), Math.max(canvas.clientHeight, 1), 1.5));
  }

  function zoomBy(factor, px, py) {
    if (!svg || !view) return;
    const x = px === undefined ? canvas.clientWidth / 2 : px;
    const y = py === undefined ? canvas.clientHeight / 2 : py;
    setView(core.zoomAt(view, x, y, factor));
  }

  canvas.addEventListener("wheel", (e) => {
    if (!svg) return;
    e.preventDefault();
    const c = canvasRect();
    zoomBy(Math.exp(-e.deltaY * (e.deltaMode === 1 ? 0.05 : 0.0015)), e.clientX - c.left, e.clientY - c.top);
  }, { passive: false });

  let drag = null;
  let dragMoved = false;
  canvas.addEventListener("pointerdown", (e) => {
    if (!svg || e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY, view: view, id: e.pointerId };
    dragMoved = false;
  });
  window.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    if (!dragMoved && Math.abs(dx) + Math.abs(dy) < 4) return;
    if (!dragMoved) {
      dragMoved = true;
      canvas.classList.add("dragging");
      try { canvas.setPointerCapture(drag.id); } catch (_err) { /* the pointer is gone */ }
    }
    setView({ k: drag.view.k, x: drag.view.x - dx / drag.view.k, y: drag.view.y - dy / drag.view.k });
  });
  function endDrag() {
    canvas.classList.remove("dragging");
    drag = null;
    setTimeout(() => { dragMoved = false; }, 0);
  }
  window.addEventListener("pointerup", endDrag);
  window.addEventListener("pointercancel", endDrag);
  window.addEventListener("resize", () => { if (svg && view) setView(view); });

  $("btn-zoom-in").addEventListener("click", () => zoomBy(1.25));
  $("btn-zoom-out").addEventListener("click", () => zoomBy(0.8));
  $("btn-fit").addEventListener("click", fitView);
  canvas.addEventListener("keydown", (e) => {
    if (e.key === "+" || e.key === "=") zoomBy(1.25);
    else if (e.key === "-") zoomBy(0.8);
    else if (e.key === "0" || e.key === "f") fitView();
    else return;
    e.preventDefault();
  });

  // ---- clicks: reveal a layer, open / close a block ------------------------------------------------

  function pathOf(id) {
    const paths = current && current.payload.paths;
    return paths && typeof paths[id] === "string" ? paths[id] : null;
  }

  function toggle(id, expanded) {
    const path = pathOf(id);
    if (!path) {
      post({ type: "log", message: "no block path for " + id });
      return;
    }
    toggled = { id: id, at: performance.now() };
    const g = element(id);
    if (g) g.classList.add("nn-busy");
    post({ type: "toggle", id: id, path: path, expanded: expanded });
  }

  function reveal(id) {
    selected = id;
    markSelected();
    post({ type: "reveal", id: id });
  }

  /** A click in an open block's header: above the bottom of its label. */
  function inHeader(g, e) {
    const frame = g.getBoundingClientRect();
    let bottom = frame.top + 18;
    for (const t of g.querySelectorAll("text")) bottom = Math.max(bottom, t.getBoundingClientRect().bottom + 3);
    return e.clientY <= Math.min(bottom, frame.top + 60);
  }

  canvas.addEventListener("click", (e) => {
    if (dragMoved || !svg) return;
    const target = e.target;
    if (!target || !target.closest) return;
    const control = target.closest(".nn-toggle");
    if (control) {
      toggle(control.getAttribute("data-id"), control.getAttribute("data-expanded") !== "true");
      return;
    }
    const g = target.closest("g.node, g.cluster");
    if (!g || !g.id || !current || !current.payload.ranges[g.id]) return;
    const id = g.id;
    if (id[0] === "s" && !(e.ctrlKey || e.metaKey)) {
      if (g.classList.contains("cluster")) {
        if (inHeader(g, e)) toggle(id, false);
      } else {
        toggle(id, true);
      }
      return;
    }
    reveal(id);
  });

  /** The +/- control at the top-right corner of every block (closed: a box; open: a cluster). */
  function addToggles() {
    const graph = svg.querySelector("g.graph");
    if (!graph) return;
    const size = 11;
    for (const g of svg.querySelectorAll("g.node, g.cluster")) {
      const path = pathOf(g.id);
      if (!path) continue;
      const open = g.classList.contains("cluster");
      let b;
      try { b = g.getBBox(); } catch (_err) { continue; }
      // an open block: inside its frame, right of the label; a closed one: on its top-right corner
      const x = open ? b.x + b.width - size - 4 : b.x + b.width - size * 0.75;
      const y = open ? b.y + 4 : b.y - size * 0.25;
      const c = document.createElementNS(SVGNS, "g");
      c.setAttribute("class", "nn-toggle");
      c.setAttribute("data-id", g.id);
      c.setAttribute("data-expanded", open ? "true" : "false");
      const tip = document.createElementNS(SVGNS, "title");
      tip.textContent = (open ? "Collapse " : "Expand ") + path;
      const r = document.createElementNS(SVGNS, "rect");
      for (const [k, v] of [["x", x], ["y", y], ["width", size], ["height", size], ["rx", 2.5]]) r.setAttribute(k, String(v));
      const mark = document.createElementNS(SVGNS, "path");
      const mx = x + size / 2;
      const my = y + size / 2;
      let d = "M" + (x + 2.5) + " " + my + "H" + (x + size - 2.5);
      if (!open) d += "M" + mx + " " + (y + 2.5) + "V" + (y + size - 2.5);
      mark.setAttribute("d", d);
      c.append(tip, r, mark);
      graph.appendChild(c);
    }
  }

  // ---- selection and cursor --------------------------------------------------------------------

  function markSelected() {
    if (!svg) return;
    for (const g of svg.querySelectorAll(".nn-selected")) g.classList.remove("nn-selected");
    const g = element(selected);
    if (g) g.classList.add("nn-selected");
  }

  function highlightCursor(scroll) {
    if (!svg) return;
    for (const g of svg.querySelectorAll(".nn-cursor")) g.classList.remove("nn-cursor");
    const ranges = current && current.payload.ranges;
    const id = cursor && ranges ? core.innermost(ranges, cursor, (k) => element(k) !== null) : null;
    setData("cursor", id || "");
    if (!id) return;
    const g = element(id);
    g.classList.add("nn-cursor");
    if (!scroll || !view) return;
    const r = g.getBoundingClientRect();
    const c = canvasRect();
    if (core.offScreen(r, c)) {
      setView(core.centreOn(view, r.left + r.width / 2 - c.left, r.top + r.height / 2 - c.top, c.width, c.height));
    }
  }

  function refreshMarks() {
    markSelected();
    highlightCursor(false);
  }

  // ---- start -----------------------------------------------------------------------------------

  window.nnlangPreview = {
    view: () => (view ? { x: view.x, y: view.y, k: view.k } : null),
    setView: setView,
    fit: fitView,
    counts: counts,
  };

  setData("state", "loading");
  showMessage("Loading the diagram\u2026", "loading");
  post({ type: "ready" });
  if (typeof NNGraphviz === "undefined") {
    fail("The Graphviz renderer (graphviz.js) is missing from the extension.");
    return;
  }
  NNGraphviz.load().then((g) => {
    graphviz = g;
    if (waiting) {
      const msg = waiting;
      waiting = null;
      show(msg);
    }
  }, (err) => fail("Could not start the Graphviz renderer: " + err));
})();
