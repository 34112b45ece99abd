/* nnlang live preview: the page's pure logic (no DOM), shared by media/preview.js (global
 * NNPreview in the webview) and the unit tests (CommonJS in node).
 * The protocol is documented in src/preview/protocol.ts. */
/* global module, globalThis */
(function (root) {
  "use strict";

  /** (epoch, version, seq) of a message; missing parts count as 0. */
  function stamp(msg) {
    const n = (v) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
    return { epoch: n(msg.epoch), version: n(msg.version), seq: n(msg.seq) };
  }

  /** Positive when a is newer than b. */
  function compare(a, b) {
    return a.epoch - b.epoch || a.version - b.version || a.seq - b.seq;
  }

  /** Whether `msg` (an update or error) is newer than the last accepted stamp (null: none yet). */
  function isNewer(msg, last) {
    return last === null || last === undefined || compare(stamp(msg), last) > 0;
  }

  function before(a, b) {
    return a.line < b.line || (a.line === b.line && a.character < b.character);
  }

  /** The range contains the position (both ends included: a cursor just after a word is on it). */
  function contains(range, pos) {
    return !before(pos, range.start) && !before(range.end, pos);
  }

  /** Whether range a lies inside range b. */
  function inside(a, b) {
    return !before(a.start, b.start) && !before(b.end, a.end);
  }

  /**
   * The innermost element whose range contains `pos`, among the ids `drawn(id)` accepts: the one
   * whose range lies inside every other candidate's. Ties (a block from another file and its
   * layers share the block call's range) go to a block (`s<k>`: it holds the others), then to the
   * first in document order. Returns null when nothing contains the position.
   */
  function innermost(ranges, pos, drawn) {
    let best = null;
    let bestRange = null;
    for (const id of Object.keys(ranges)) {
      const r = ranges[id];
      if (!r || !r.start || !r.end || !contains(r, pos)) continue;
      if (drawn && !drawn(id)) continue;
      if (best === null) {
        best = id;
        bestRange = r;
        continue;
      }
      const inBest = inside(r, bestRange);
      const bestIn = inside(bestRange, r);
      if (inBest && bestIn) {
        if (id[0] === "s" && best[0] !== "s") { best = id; bestRange = r; }
      } else if (inBest) {
        best = id;
        bestRange = r;
      } else if (!bestIn) {
        // Overlapping, neither inside the other: the one that starts later is closer to the cursor.
        if (before(bestRange.start, r.start)) { best = id; bestRange = r; }
      }
    }
    return best;
  }

  /** Zoom by `factor` about the screen point (px, py), with the scale bounded. */
  function zoomAt(view, px, py, factor, min, max) {
    const lo = min === undefined ? 0.02 : min;
    const hi = max === undefined ? 8 : max;
    const k = Math.min(Math.max(view.k * factor, lo), hi);
    const gx = view.x + px / view.k;
    const gy = view.y + py / view.k;
    return { k: k, x: gx - px / k, y: gy - py / k };
  }

  /** The view that shows the whole box (graph units) in a W x H screen, at most `maxK`. */
  function fit(box, W, H, maxK) {
    const k = Math.min(W / box.w, H / box.h, maxK === undefined ? 1.5 : maxK);
    return { k: k, x: box.x - (W / k - box.w) / 2, y: box.y - (H / k - box.h) / 2 };
  }

  /** The view moved so that what is drawn at screen point (fromX, fromY) shows at (toX, toY). */
  function shift(view, fromX, fromY, toX, toY) {
    return { k: view.k, x: view.x + (fromX - toX) / view.k, y: view.y + (fromY - toY) / view.k };
  }

  /** The view centred on the screen point (cx, cy) of a W x H screen. */
  function centreOn(view, cx, cy, W, H) {
    return shift(view, cx, cy, W / 2, H / 2);
  }

  /** A rectangle is off screen: it misses the viewport or its centre lies outside it. */
  function offScreen(rect, viewport) {
    const cx = rect.left + rect.width / 2;
    const cy = rect.top + rect.height / 2;
    const misses = rect.right < viewport.left || rect.left > viewport.right || rect.bottom < viewport.top ||
      rect.top > viewport.bottom;
    return misses || cx < viewport.left || cx > viewport.right || cy < viewport.top || cy > viewport.bottom;
  }

  /** What the page shows for a payload that has no drawing (null: draw it). */
  function emptyReason(payload) {
    if (!payload || typeof payload !== "object") return "The language server sent no diagram.";
    if (!payload.network) return "No network to draw: this file defines no network (only blocks), or it does not parse yet.";
    if (!payload.dot) return "No diagram for network " + payload.network + ".";
    const ids = Object.keys(payload.ranges || {});
    if (!ids.some((id) => id[0] === "n" || id[0] === "s")) return "The network " + payload.network + " is empty: it has no layers yet.";
    return null;
  }

  const api = {
    stamp: stamp, compare: compare, isNewer: isNewer, contains: contains, innermost: innermost, zoomAt: zoomAt,
    fit: fit, shift: shift, centreOn: centreOn, offScreen: offScreen, emptyReason: emptyReason,
  };
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.NNPreview = api;
})(typeof globalThis !== "undefined" ? globalThis : this);
