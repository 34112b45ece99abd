/* nnlang diagram: DiagramModel + view state -> DOT, in the page.
 * The same function as nnlang/diagram/dot.py, line for line (tests/diagram/test_dotview_js.py runs
 * both on the same states and compares the text): change both together.
 * state: {expanded: Set, rolled: Set, edgeLabels: "auto"|"all"|"none", tooltips: bool, wrap: int}
 * Works as a classic script (global NNDot) and as a CommonJS module (node, for the test). */
(function (root) {
  "use strict";

  function attrs(rec, key, state) {
    return rec[key] + (state.tooltips && rec.tip !== undefined ? ' tooltip="' + rec.tip + '"' : "");
  }

  function representative(model, state, item) {
    let rec = model.nodes[item];
    let moved = state.rolled.size > 0;
    while (moved) {
      moved = false;
      const roll = rec.roll;
      if (roll) {
        for (const a of rec.anc) {
          if (Object.prototype.hasOwnProperty.call(roll, a) && state.rolled.has(a)) {
            item = roll[a];
            rec = model.nodes[item];
            moved = true;
            break;
          }
        }
      }
    }
    for (const a of rec.anc) {
      if (!state.expanded.has(a)) return a;
    }
    return item;
  }

  function crossesRoll(model, state, src, dst) {
    if (state.rolled.size === 0) return false;
    const ru = model.nodes[src].rc;
    const rv = model.nodes[dst].rc;
    if (!ru || !rv) return false;
    for (const r of Object.keys(ru)) {
      if (state.rolled.has(r) && Object.prototype.hasOwnProperty.call(rv, r) && (rv[r] !== ru[r] || ru[r] !== 0)) {
        return true;
      }
    }
    return false;
  }

  function visibleEdges(model, state) {
    const out = [];
    const seen = new Set();
    for (const [src, dst, t, label, multi] of model.edges) {
      const a = representative(model, state, src);
      const b = representative(model, state, dst);
      if (a === b || crossesRoll(model, state, src, dst)) continue;
      const key = a + ">" + b + ">" + t;
      if (seen.has(key)) continue;
      seen.add(key);
      let show;
      if (state.edgeLabels === "all") show = true;
      else if (state.edgeLabels === "none") show = false;
      else show = a[0] === "s" ? model.scopes[a].nout > 1 : multi;
      out.push([a, b, show ? label : ""]);
    }
    return out;
  }

  function children(model, state, sid) {
    const rec = model.scopes[sid];
    if (state.rolled.has(sid) && rec.rollable) return rec.children.slice(0, 1);
    return rec.children;
  }

  function better(a, b) {
    return a[0] * b[1] < b[0] * a[1];
  }

  function columns(spans, height, bad) {
    const cols = [0];
    let top = spans[0][0];
    for (let k = 1; k < spans.length; k++) {
      if (spans[k][1] - top + 1 > height && !bad[k]) {
        cols.push(k);
        top = spans[k][0];
      }
    }
    return cols;
  }

  function colSpan(spans, cols, j) {
    const part = spans.slice(cols[j], j + 1 < cols.length ? cols[j + 1] : spans.length);
    return Math.max(...part.map((s) => s[1])) - Math.min(...part.map((s) => s[0])) + 1;
  }

  function even(cols, spans) {
    const heights = cols.map((_, j) => colSpan(spans, cols, j));
    return 2 * Math.min(...heights) >= Math.max(...heights);
  }

  function shapeScore(cols, spans, boxes) {
    let width = 0;
    let height = 0;
    for (let j = 0; j < cols.length; j++) {
      const end = j + 1 < cols.length ? cols[j + 1] : spans.length;
      const counts = new Map();
      for (let k = cols[j]; k < end; k++) for (const r of boxes[k]) counts.set(r, (counts.get(r) || 0) + 1);
      width += Math.max(...counts.values());
      height = Math.max(height, colSpan(spans, cols, j));
    }
    return 2 * width >= height ? [2 * width, height] : [height, 2 * width];
  }

  function drawn(model, state, sid, out) {
    for (const c of children(model, state, sid)) {
      if (c[0] === "s" && state.expanded.has(c)) drawn(model, state, c, out);
      else out.push(c);
    }
    return out;
  }

  function wrap(model, state, edges) {
    const heads = new Map();
    const cuts = new Set();
    if (!state.wrap) return [heads, cuts];
    const rank = new Map();
    for (const [a, b] of edges) {
      const r = (rank.get(a) || 0) + 1;
      if (r > (rank.get(b) || 0)) rank.set(b, r);
    }
    const todo = [model.root];
    while (todo.length) {
      const sid = todo.shift();
      const kids = children(model, state, sid);
      const inner = kids.filter((c) => c[0] === "s" && state.expanded.has(c));
      if (kids.length < 2 || !wrapScope(model, state, edges, rank, sid, kids, heads, cuts)) todo.push(...inner);
    }
    return [heads, cuts];
  }

  function wrapScope(model, state, edges, rank, sid, kids, heads, cuts) {
    const members = kids.map((c) => (c[0] === "s" && state.expanded.has(c) ? drawn(model, state, c, []) : [c]));
    const boxes = members.map((m) => m.map((b) => rank.get(b) || 0));
    const spans = boxes.map((r) => (r.length ? [Math.min(...r), Math.max(...r)] : [0, 0]));
    const total = Math.max(...spans.map((s) => s[1])) - Math.min(...spans.map((s) => s[0])) + 1;
    if (total <= state.wrap) return false;
    const pos = new Map();
    members.forEach((m, k) => { for (const b of m) pos.set(b, k); });
    const bad = kids.map(() => false);
    const crossing = kids.map(() => []);
    for (const [a, b] of edges) {
      const ka = pos.get(a);
      const kb = pos.get(b);
      if (kb === undefined) continue;
      if (ka === undefined) {
        for (let c = 1; c <= kb; c++) bad[c] = true;
        continue;
      }
      if (ka >= kb) continue;
      for (let c = ka + 2; c <= kb; c++) bad[c] = true;
      const cross = crossing[ka + 1];
      if (cross.length && cross[0][0] !== a) bad[ka + 1] = true;
      cross.push([a, a + ">" + b]);
    }
    let best = shapeScore([0], spans, boxes);
    let chosen = null;
    for (let n = 2; n < 9; n++) {
      const height = Math.ceil(total / n);
      const cols = columns(spans, height, bad);
      const score = shapeScore(cols, spans, boxes);
      if (cols.length > 1 && even(cols, spans) && better(score, best)) {
        best = score;
        chosen = cols;
      }
    }
    if (!chosen) return false;
    const tops = chosen.map((k) => {
      if (!members[k].length) return kids[k];
      const top = spans[k][0];
      return members[k][boxes[k].indexOf(top)];
    });
    heads.set(sid, [tops, members.some((m, k) => m.length !== 1 || m[0] !== kids[k])]);
    for (const k of chosen.slice(1)) for (const [, key] of crossing[k]) cuts.add(key);
    return true;
  }

  function emitScope(model, state, sid, depth, out, heads) {
    const pad = "  ".repeat(depth);
    for (const c of children(model, state, sid)) {
      if (c[0] === "n") {
        out.push(pad + c + " [" + attrs(model.nodes[c], "attrs", state) + "]");
        continue;
      }
      const s = model.scopes[c];
      if (state.expanded.has(c)) {
        const rolled = state.rolled.has(c) && s.rollable;
        out.push(pad + "subgraph cluster_" + c + " {");
        out.push(pad + "  graph [" + (rolled ? s.rolled : s.cluster) + "]");
        emitScope(model, state, c, depth + 1, out, heads);
        out.push(pad + "}");
      } else {
        out.push(pad + c + " [" + attrs(s, "collapsed", state) + "]");
      }
    }
    if (heads.has(sid)) {
      const [tops, anchored] = heads.get(sid);
      if (anchored) {
        // Heads inside open blocks: ordered through invisible points of this block (see dot.py).
        const points = tops.map((_, k) => sid + "w" + k);
        for (const w of points) {
          out.push(pad + w + ' [id="' + w + '" class="nn-anchor" shape=point style=invis width=0 height=0 label=""]');
        }
        out.push(pad + "{rank=same; " + points.join(" -> ") + " [style=invis]}");
        tops.forEach((h, k) => out.push(pad + points[k] + " -> " + h + " [style=invis]"));
      } else {
        out.push(pad + "{rank=same; " + tops.join(" -> ") + " [style=invis]}");
      }
    }
  }

  function toDot(model, state) {
    const edges = visibleEdges(model, state);
    const [heads, cuts] = wrap(model, state, edges);
    const out = ["digraph nnlang {"];
    for (const h of model.header) out.push("  " + h);
    for (const i of model.inputs) out.push("  " + i + " [" + attrs(model.nodes[i], "attrs", state) + "]");
    emitScope(model, state, model.root, 1, out, heads);
    for (const o of model.outputs) out.push("  " + o + " [" + attrs(model.nodes[o], "attrs", state) + "]");
    for (const [a, b, label] of edges) {
      const parts = [];
      if (label) parts.push("label=<" + label + ">");
      if (cuts.has(a + ">" + b)) parts.push("constraint=false");
      out.push("  " + a + " -> " + b + (parts.length ? " [" + parts.join(" ") + "]" : ""));
    }
    out.push("}");
    return out.join("\n") + "\n";
  }

  const api = { toDot: toDot, representative: representative };
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.NNDot = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
