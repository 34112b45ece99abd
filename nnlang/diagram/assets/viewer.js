/* nnlang diagram viewer: the self-contained HTML page written by `nnlang graph -o model.html`.
 * Reads the diagram model from the JSON element #nn-data, builds DOT for the current collapse state
 * (NNDot, dotview.js) and lays it out in the page with Graphviz compiled to WebAssembly
 * (NNGraphviz, graphviz.js): no network, no server.
 * Text from the .nns file only ever reaches the page through textContent or as SVG parsed by
 * DOMParser from Graphviz's output of escaped DOT: never through innerHTML. */
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("nn-data").textContent);
  const model = data.model;
  const $ = (id) => document.getElementById(id);
  const canvas = $("canvas");
  const statusEl = $("status");
  const tip = $("tooltip");
  const state = {
    expanded: new Set(data.state.expanded),
    rolled: new Set(data.state.rolled),
    edgeLabels: data.state.edgeLabels,
    tooltips: false, // the page has its own hover card
    wrap: data.state.wrap,
  };
  const levels = Object.values(model.scopes).map((s) => s.level);
  const maxDepth = Math.max(0, ...levels) + 1;

  let svg = null;
  let view = null; // {x, y, k}: top-left corner in graph units, screen pixels per graph unit
  let box = null; // the drawing's extent in graph units
  let renders = 0;
  let selected = null;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  const fmtInt = (n) => (n === null || n === undefined ? "?" : Number(n).toLocaleString("en-US"));

  // ---- layout -----------------------------------------------------------------------------------

  let graphviz = null;

  async function render(anchor) {
    const dot = NNDot.toDot(model, state);
    let text;
    try {
      text = graphviz.layout(dot, "svg", "dot");
    } catch (err) {
      showError("Graphviz could not lay out this diagram: " + err);
      return;
    }
    const parsed = new DOMParser().parseFromString(text, "image/svg+xml");
    const next = document.importNode(parsed.documentElement, true);
    const vb = (next.getAttribute("viewBox") || "0 0 100 100").trim().split(/[\s,]+/).map(Number);
    box = { x: vb[0], y: vb[1], w: vb[2], h: vb[3] };
    next.removeAttribute("width");
    next.removeAttribute("height");
    next.setAttribute("preserveAspectRatio", "xMinYMin meet");
    for (const t of next.querySelectorAll("title")) t.remove(); // the hover card replaces native tooltips
    if (svg) svg.replaceWith(next);
    else canvas.appendChild(next);
    svg = next;
    statusEl.hidden = true;
    if (!view) fit();
    else setView(view);
    if (anchor) { keepUnderPointer(anchor); reveal(anchor.id); }
    if (selected) markSelected(selected);
    renders += 1;
    document.body.dataset.renders = String(renders);
    document.body.dataset.state = "ready";
    syncControls();
  }

  function showError(msg) {
    statusEl.hidden = false;
    statusEl.className = "error";
    statusEl.textContent = msg;
    document.body.dataset.state = "error";
  }

  // ---- pan and zoom (the SVG viewBox) -----------------------------------------------------------

  function setView(v) {
    view = v;
    const w = Math.max(canvas.clientWidth, 1) / v.k;
    const h = Math.max(canvas.clientHeight, 1) / v.k;
    svg.setAttribute("viewBox", v.x + " " + v.y + " " + w + " " + h);
  }

  function fit() {
    const W = Math.max(canvas.clientWidth, 1);
    const H = Math.max(canvas.clientHeight, 1);
    const k = Math.min(W / box.w, H / box.h, 1.6);
    setView({ k: k, x: box.x - (W / k - box.w) / 2, y: box.y - (H / k - box.h) / 2 });
  }

  function zoomAt(px, py, factor) {
    const k = Math.min(Math.max(view.k * factor, 0.02), 8);
    const gx = view.x + px / view.k;
    const gy = view.y + py / view.k;
    setView({ k: k, x: gx - px / k, y: gy - py / k });
  }

  function keepUnderPointer(anchor) {
    // After a re-layout, move the view so the clicked block stays where the pointer is.
    const target = svg.getElementById(anchor.id);
    if (!target) return;
    const r = target.getBoundingClientRect();
    const dx = r.left + r.width / 2 - anchor.x;
    const dy = r.top + Math.min(r.height / 2, 20) - anchor.y;
    setView({ k: view.k, x: view.x + dx / view.k, y: view.y + dy / view.k });
  }

  function reveal(id) {
    // An opened block can be far larger than the box that was clicked: pan, and zoom out if it
    // must, so that all of it is on screen (the rest of the drawing keeps its column wrap).
    const target = svg.getElementById(id);
    if (!target) return;
    const c = canvas.getBoundingClientRect();
    const r = target.getBoundingClientRect();
    const m = 12;
    let k = view.k;
    const fitK = Math.min((c.width - 2 * m) / (r.width / k), (c.height - 2 * m) / (r.height / k));
    if (fitK < k) k = fitK;
    // the block in graph units, from its place on screen under the current view
    const gx = view.x + (r.left - c.left) / view.k;
    const gy = view.y + (r.top - c.top) / view.k;
    const gw = r.width / view.k;
    const gh = r.height / view.k;
    let x = view.x;
    let y = view.y;
    if (k !== view.k) {
      x = gx + gw / 2 - c.width / (2 * k);
      y = gy + gh / 2 - c.height / (2 * k);
    } else {
      if (gx < x + m / k) x = gx - m / k;
      else if (gx + gw > x + (c.width - m) / k) x = gx + gw - (c.width - m) / k;
      if (gy < y + m / k) y = gy - m / k;
      else if (gy + gh > y + (c.height - m) / k) y = gy + gh - (c.height - m) / k;
    }
    setView({ k: k, x: x, y: y });
  }

  canvas.addEventListener("wheel", (e) => {
    if (!svg) return;
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    zoomAt(e.clientX - r.left, e.clientY - r.top, Math.exp(-e.deltaY * 0.0015));
  }, { passive: false });

  let drag = null;
  canvas.addEventListener("pointerdown", (e) => {
    if (!svg || e.button !== 0) return;
    drag = { x: e.clientX, y: e.clientY, view: view, moved: false };
  });
  window.addEventListener("pointermove", (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    const dy = e.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    drag.moved = true;
    canvas.classList.add("dragging");
    setView({ k: drag.view.k, x: drag.view.x - dx / drag.view.k, y: drag.view.y - dy / drag.view.k });
  });
  window.addEventListener("pointerup", () => {
    canvas.classList.remove("dragging");
    setTimeout(() => { drag = null; }, 0);
  });

  // ---- click: expand / collapse / select ----------------------------------------------------------

  function itemAt(target) {
    const g = target && target.closest ? target.closest("g.node, g.cluster") : null;
    return g && g.id && (model.info[g.id] !== undefined || model.scopes[g.id] !== undefined) ? g : null;
  }

  canvas.addEventListener("click", (e) => {
    if (drag && drag.moved) return;
    const g = itemAt(e.target);
    if (!g) return;
    const id = g.id;
    const anchor = { id: id, x: e.clientX, y: e.clientY };
    if (g.classList.contains("cluster")) {
      state.expanded.delete(id);
      hideTip();
      render(anchor);
    } else if (id[0] === "s") {
      state.expanded.add(id);
      hideTip();
      render(anchor);
    } else {
      select(id, true);
    }
  });

  function markSelected(id) {
    for (const g of svg.querySelectorAll("g.selected")) g.classList.remove("selected");
    const g = svg.getElementById(id);
    if (g) g.classList.add("selected");
  }

  function select(id, scroll) {
    selected = id;
    markSelected(id);
    highlightSource(id, scroll);
    showDetails(id);
  }

  // ---- hover card ---------------------------------------------------------------------------------

  let hovered = null;
  canvas.addEventListener("pointermove", (e) => {
    if (drag && drag.moved) { hideTip(); return; }
    const g = itemAt(e.target);
    const id = g ? g.id : null;
    if (id !== hovered) {
      hovered = id;
      if (id) { fillTip(id, g.classList.contains("cluster")); highlightSource(id, false); }
      else { hideTip(); if (selected) highlightSource(selected, false); else clearSource(); }
    }
    if (id) placeTip(e.clientX, e.clientY);
  });
  canvas.addEventListener("pointerleave", () => { hovered = null; hideTip(); });

  function hideTip() { tip.hidden = true; hovered = null; }

  function rowsTable(rows) {
    const t = el("table");
    for (const [k, v] of rows) {
      const tr = el("tr");
      tr.appendChild(el("td", null, k));
      tr.appendChild(el("td", null, v));
      t.appendChild(tr);
    }
    return t;
  }

  function describe(id, expanded) {
    const info = model.info[id] || {};
    const box = el("div");
    const head = el("div", "head", info.name || id);
    head.appendChild(el("span", "type", info.type || ""));
    box.appendChild(head);
    if (info.path) box.appendChild(el("div", "path", info.path));
    if (info.doc) box.appendChild(el("div", "doc", info.doc));
    const rows = [];
    for (const [k, v] of info.attrs || []) rows.push([k, v]);
    if (info.inputs && info.inputs.length) rows.push(["in", info.inputs.join(", ")]);
    if (info.outputs && info.outputs.length) rows.push(["out", info.outputs.join(", ")]);
    if (info.layers !== undefined) rows.push(["layers", fmtInt(info.layers)]);
    if (info.params !== undefined) rows.push(["params", fmtInt(info.params)]);
    if (info.macs !== undefined) rows.push(["MACs", fmtInt(info.macs)]);
    if (rows.length) box.appendChild(rowsTable(rows));
    if (info.where) box.appendChild(el("div", "where", info.where));
    if (info.kind === "block") box.appendChild(el("div", "hint", expanded ? "click to collapse" : "click to expand"));
    return box;
  }

  function fillTip(id, expanded) {
    tip.replaceChildren(describe(id, expanded));
    tip.hidden = false;
    tip.dataset.id = id;
  }

  function placeTip(x, y) {
    const w = tip.offsetWidth;
    const h = tip.offsetHeight;
    let left = x + 16;
    let top = y + 16;
    if (left + w > window.innerWidth - 4) left = Math.max(4, x - w - 16);
    if (top + h > window.innerHeight - 4) top = Math.max(4, window.innerHeight - h - 4);
    tip.style.left = left + "px";
    tip.style.top = top + "px";
  }

  // ---- side panel: totals, details, source --------------------------------------------------------

  function buildTotals() {
    const sec = $("totals");
    sec.appendChild(el("h2", null, "Network"));
    const t = model.totals;
    const rows = [["network", model.network], ["layers", fmtInt(t.layers)], ["params", fmtInt(t.params)],
      ["MACs", fmtInt(t.macs) + (t.macs_complete ? "" : " (incomplete)")]];
    for (const i of model.inputs) rows.push(["input", model.info[i].name + ": " + model.info[i].outputs.join(", ")]);
    for (const o of model.outputs) rows.push(["output", model.info[o].name + ": " + model.info[o].outputs.join(", ")]);
    sec.appendChild(rowsTable(rows));
    if (data.doc) sec.appendChild(el("p", "doc", data.doc));
  }

  function showDetails(id) {
    const sec = $("details");
    sec.replaceChildren(el("h2", null, "Selected"), describe(id, state.expanded.has(id)));
    sec.hidden = false;
  }

  const srcLines = [];
  function buildSource() {
    const pre = $("src");
    const lines = data.source.split("\n");
    lines.forEach((line, i) => {
      const span = el("span", "ln", line.length ? line : " ");
      span.dataset.n = String(i + 1);
      pre.appendChild(span);
      srcLines.push(span);
    });
  }

  function clearSource() {
    for (const s of document.querySelectorAll("#src .hl")) s.classList.remove("hl");
  }

  function highlightSource(id, scroll) {
    clearSource();
    const r = model.ranges[id];
    if (!r || !r.line) return;
    for (let n = r.line; n <= r.end_line && n <= srcLines.length; n++) srcLines[n - 1].classList.add("hl");
    if (scroll && srcLines[r.line - 1]) srcLines[r.line - 1].scrollIntoView({ block: "center" });
  }

  // ---- toolbar ----------------------------------------------------------------------------------

  function setDepth(d) {
    state.expanded = new Set(Object.keys(model.scopes).filter((s) => model.scopes[s].level < d));
    state.expanded.add(model.root);
    view = null;
    render();
  }

  function currentDepth() {
    // The depth the state matches exactly, or "" (a custom mix of open and closed blocks).
    for (let d = 1; d <= maxDepth; d++) {
      let ok = true;
      for (const [sid, s] of Object.entries(model.scopes)) {
        if ((s.level < d) !== state.expanded.has(sid)) { ok = false; break; }
      }
      if (ok) return String(d);
    }
    return "";
  }

  function syncControls() {
    $("sel-depth").value = currentDepth();
    $("chk-roll").checked = state.rolled.size > 0;
    $("sel-edges").value = state.edgeLabels;
  }

  function buildToolbar() {
    const sel = $("sel-depth");
    sel.appendChild(el("option", null, "custom")).value = "";
    for (let d = 1; d <= maxDepth; d++) {
      sel.appendChild(el("option", null, d === maxDepth ? d + " (all)" : String(d))).value = String(d);
    }
    sel.addEventListener("change", () => { if (sel.value) setDepth(Number(sel.value)); });
    $("btn-expand-all").addEventListener("click", () => setDepth(maxDepth));
    $("btn-collapse-all").addEventListener("click", () => setDepth(1));
    $("btn-fit").addEventListener("click", fit);
    $("btn-zoom-in").addEventListener("click", () => zoomAt(canvas.clientWidth / 2, canvas.clientHeight / 2, 1.25));
    $("btn-zoom-out").addEventListener("click", () => zoomAt(canvas.clientWidth / 2, canvas.clientHeight / 2, 0.8));
    const rollable = Object.keys(model.scopes).filter((s) => model.scopes[s].rollable);
    const roll = $("chk-roll");
    roll.disabled = rollable.length === 0;
    roll.addEventListener("change", () => {
      state.rolled = new Set(roll.checked ? rollable : []);
      render();
    });
    $("sel-edges").addEventListener("change", (e) => { state.edgeLabels = e.target.value; render(); });
    const themes = ["auto", "light", "dark"];
    $("btn-theme").addEventListener("click", () => {
      const root = document.documentElement;
      const now = root.classList.contains("dark") ? "dark" : root.classList.contains("light") ? "light" : "auto";
      const next = themes[(themes.indexOf(now) + 1) % themes.length];
      root.classList.remove("light", "dark");
      if (next !== "auto") root.classList.add(next);
      $("btn-theme").textContent = "Theme: " + next;
    });
    $("btn-panel").addEventListener("click", () => { $("panel").hidden = !$("panel").hidden; if (svg) setView(view); });
    window.addEventListener("resize", () => { if (svg) setView(view); });
    canvas.addEventListener("keydown", (e) => {
      if (e.key === "f") fit();
      else if (e.key === "+" || e.key === "=") zoomAt(canvas.clientWidth / 2, canvas.clientHeight / 2, 1.25);
      else if (e.key === "-") zoomAt(canvas.clientWidth / 2, canvas.clientHeight / 2, 0.8);
    });
  }

  // ---- start ----------------------------------------------------------------------------------

  $("nn-name").textContent = model.network;
  $("nn-file").textContent = data.file || "";
  document.title = model.network + " \u2014 nnlang diagram";
  buildTotals();
  buildSource();
  buildToolbar();
  if (typeof NNGraphviz === "undefined") {
    showError("The Graphviz renderer is missing from this file.");
    return;
  }
  NNGraphviz.load().then((g) => { graphviz = g; return render(); })
    .catch((err) => showError("Could not start the Graphviz renderer: " + err));
  window.nnlangViewer = { state: state, render: render, fit: fit, reveal: reveal,
    toDot: () => NNDot.toDot(model, state) };
})();
