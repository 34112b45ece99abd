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

  function columns(kids, ranks, height, bad) {
    const cols = [0];
    let top = ranks[0];
    for (let k = 1; k < kids.length; k++) {
      if (ranks[k] - top + 1 > height && !bad[k]) {
        cols.push(k);
        top = ranks[k];
      }
    }
    return cols;
  }

  function even(cols, ranks) {
    const spans = [];
    for (let j = 0; j < cols.length; j++) {
      const part = ranks.slice(cols[j], j + 1 < cols.length ? cols[j + 1] : ranks.length);
      spans.push(Math.max(...part) - Math.min(...part) + 1);
    }
    return 2 * Math.min(...spans) >= Math.max(...spans);
  }

  function shapeScore(cols, ranks) {
    let width = 0;
    let height = 0;
    for (let j = 0; j < cols.length; j++) {
      const part = ranks.slice(cols[j], j + 1 < cols.length ? cols[j + 1] : ranks.length);
      const counts = new Map();
      for (const r of part) counts.set(r, (counts.get(r) || 0) + 1);
      width += Math.max(...counts.values());
      height = Math.max(height, Math.max(...part) - Math.min(...part) + 1);
    }
    return 2 * width >= height ? [2 * width, height] : [height, 2 * width];
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
    for (const sid of Object.keys(model.scopes)) {
      if (sid !== model.root && !state.expanded.has(sid)) continue;
      const kids = children(model, state, sid);
      if (kids.length < 2 || kids.some((c) => c[0] === "s" && state.expanded.has(c))) continue;
      const ranks = kids.map((c) => rank.get(c) || 0);
      const total = Math.max(...ranks) - Math.min(...ranks) + 1;
      if (total <= state.wrap) continue;
      const pos = new Map(kids.map((c, k) => [c, k]));
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
        crossing[ka + 1].push(a + ">" + b);
        if (crossing[ka + 1].length > 1) bad[ka + 1] = true;
      }
      let best = shapeScore([0], ranks);
      let chosen = null;
      for (let n = 2; n < 9; n++) {
        const height = Math.ceil(total / n);
        const cols = columns(kids, ranks, height, bad);
        const score = shapeScore(cols, ranks);
        if (cols.length > 1 && even(cols, ranks) && better(score, best)) {
          best = score;
          chosen = cols;
        }
      }
      if (chosen) {
        heads.set(sid, chosen.map((k) => kids[k]));
        for (const k of chosen.slice(1)) for (const e of crossing[k]) cuts.add(e);
      }
    }
    return [heads, cuts];
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
    if (heads.has(sid)) out.push(pad + "{rank=same; " + heads.get(sid).join(" -> ") + " [style=invis]}");
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
