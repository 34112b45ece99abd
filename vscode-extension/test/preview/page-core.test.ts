// media/preview-core.js: the page's pure logic (the same file the webview loads).
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import * as path from "node:path";
import { test } from "node:test";
import type { ElementRange, Position, View } from "../../src/preview/protocol";
import { fixture, response } from "./fakes";

interface Stamp {
    epoch: number;
    version: number;
    seq: number;
}
interface Rect {
    left: number;
    top: number;
    right: number;
    bottom: number;
    width: number;
    height: number;
}
interface Core {
    stamp(msg: object): Stamp;
    isNewer(msg: object, last: Stamp | null): boolean;
    contains(r: ElementRange, p: Position): boolean;
    innermost(ranges: Record<string, ElementRange>, p: Position, drawn?: (id: string) => boolean): string | null;
    zoomAt(v: View, px: number, py: number, f: number): View;
    fit(box: { x: number; y: number; w: number; h: number }, W: number, H: number, maxK?: number): View;
    shift(v: View, fx: number, fy: number, tx: number, ty: number): View;
    centreOn(v: View, cx: number, cy: number, W: number, H: number): View;
    offScreen(r: Rect, viewport: Rect): boolean;
    emptyReason(p: unknown): string | null;
}

const core = createRequire(__filename)(path.resolve(__dirname, "../../../media/preview-core.js")) as Core;
const resnet = fixture("resnet18");
const initial = response(resnet, "initial").result;

function pos(text: string, needle: string, delta = 0): Position {
    const at = text.indexOf(needle) + delta;
    const line = text.slice(0, at).split("\n").length - 1;
    return { line, character: at - (text.lastIndexOf("\n", at - 1) + 1) };
}

test("the page drops updates that are not newer than the last accepted", () => {
    assert.equal(core.isNewer({ epoch: 0, version: 1, seq: 1 }, null), true);
    const last = core.stamp({ epoch: 0, version: 3, seq: 4 });
    assert.equal(core.isNewer({ epoch: 0, version: 2, seq: 9 }, last), false);
    assert.equal(core.isNewer({ epoch: 0, version: 3, seq: 4 }, last), false);
    assert.equal(core.isNewer({ epoch: 0, version: 3, seq: 5 }, last), true);
    assert.equal(core.isNewer({ epoch: 1, version: 1, seq: 1 }, last), true);
    assert.deepEqual(core.stamp({ version: "x" }), { epoch: 0, version: 0, seq: 0 });
});

test("the cursor finds the innermost drawn element: a layer, else its block", () => {
    const text = resnet.texts["1"];
    const drawn = new Set([...initial.dot!.matchAll(/id="([nsio]\d+)"/g)].map((m) => m[1]));
    const isDrawn = (id: string) => drawn.has(id);
    const conv1 = core.innermost(initial.ranges, pos(text, "conv1: Conv2d", 8), isDrawn);
    assert.equal(conv1, "n0");
    assert.equal(core.innermost(initial.ranges, pos(text, "Conv2d(64, 7"), isDrawn), "n0"); // its first character
    assert.equal(core.innermost(initial.ranges, pos(text, "bias=false)", 11), isDrawn), "n0"); // just after its end
    // on `BasicBlock(128, stride=2)` of layer2: the block drawn for that call (closed at this depth)
    const b = core.innermost(initial.ranges, pos(text, "BasicBlock(128, stride=2)", 3), isDrawn)!;
    assert.equal(initial.paths![b], "layer2.0");
    // between the two calls of layer2's list: layer2 itself (an open cluster)
    const l2 = core.innermost(initial.ranges, pos(text, "BasicBlock(128, stride=2), ", 26), isDrawn)!;
    assert.equal(initial.paths![l2], "layer2");
    // a comment line is in no element
    assert.equal(core.innermost(initial.ranges, { line: 0, character: 3 }, isDrawn), null);
    // without the drawn filter, the layers inside the closed block share its range: the block wins
    const inner = core.innermost(initial.ranges, pos(text, "BasicBlock(128, stride=2)", 3))!;
    assert.equal(inner[0], "s");
});

test("zoom keeps the point under the pointer; fit centres the drawing", () => {
    const v = { x: 0, y: 0, k: 1 };
    const z = core.zoomAt(v, 100, 50, 2);
    assert.deepEqual(z, { k: 2, x: 50, y: 25 });
    // the graph point under (100, 50) is the same before and after
    assert.equal(v.x + 100 / v.k, z.x + 100 / z.k);
    assert.equal(core.zoomAt(v, 0, 0, 1000).k, 8);
    assert.equal(core.zoomAt(v, 0, 0, 1e-9).k, 0.02);
    const f = core.fit({ x: 0, y: 0, w: 200, h: 100 }, 400, 400);
    assert.equal(f.k, 1.5);
    assert.ok(Math.abs(f.x + 400 / 1.5 / 2 - 100) < 1e-9);
    const s = core.shift({ x: 10, y: 10, k: 2 }, 30, 40, 10, 20);
    assert.deepEqual(s, { x: 20, y: 20, k: 2 });
    assert.deepEqual(core.centreOn({ x: 0, y: 0, k: 1 }, 500, 500, 200, 100), { x: 400, y: 450, k: 1 });
});

test("off screen: the box misses the viewport or its centre is outside it", () => {
    const vp = { left: 0, top: 0, right: 100, bottom: 100, width: 100, height: 100 };
    const r = (left: number, top: number, w: number, h: number) => ({ left, top, right: left + w, bottom: top + h, width: w, height: h });
    assert.equal(core.offScreen(r(10, 10, 20, 20), vp), false);
    assert.equal(core.offScreen(r(90, 10, 40, 20), vp), true);
    assert.equal(core.offScreen(r(200, 10, 20, 20), vp), true);
    assert.equal(core.offScreen(r(-50, -50, 300, 300), vp), false);
});

test("a payload without a drawing gets a message, never a blank page", () => {
    assert.match(core.emptyReason(null)!, /no diagram/);
    assert.match(core.emptyReason(response(fixture("blocks_only"), "initial").result)!, /No network/);
    assert.match(core.emptyReason({ network: "Empty", dot: "digraph {}", ranges: { i0: {}, o0: {} } })!, /is empty/);
    assert.equal(core.emptyReason(initial), null);
});
