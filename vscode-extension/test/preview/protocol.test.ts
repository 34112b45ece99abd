import assert from "node:assert/strict";
import { test } from "node:test";
import { applyToggle, pruneUnknown } from "../../src/preview/blocks";
import { compareStamps, parsePageMessage, parsePanelState } from "../../src/preview/protocol";
import { baseName, codePointToUtf16, originFallback, originOffsets } from "../../src/preview/text";

test("page messages are checked: only the four kinds, with well-formed fields", () => {
    assert.deepEqual(parsePageMessage({ type: "ready" }), { type: "ready" });
    assert.deepEqual(parsePageMessage({ type: "reveal", id: "n12" }), { type: "reveal", id: "n12" });
    assert.deepEqual(parsePageMessage({ type: "toggle", id: "s5", path: "layer2.0", expanded: true }), {
        type: "toggle",
        id: "s5",
        path: "layer2.0",
        expanded: true,
    });
    assert.deepEqual(parsePageMessage({ type: "toggle", path: "layer3", expanded: false }), {
        type: "toggle",
        path: "layer3",
        expanded: false,
    });
    assert.deepEqual(parsePageMessage({ type: "log", message: "x" }), { type: "log", message: "x" });
    for (const bad of [
        null,
        "ready",
        [],
        {},
        { type: "reveal" },
        { type: "reveal", id: "<img>" },
        { type: "reveal", id: "nn-graph" },
        { type: "toggle", path: "", expanded: true },
        { type: "toggle", path: "a", expanded: "yes" },
        { type: "toggle", id: 3, path: "a", expanded: true },
        { type: "update" },
        { type: "log", message: 3 },
    ]) {
        assert.equal(parsePageMessage(bad), null, JSON.stringify(bad));
    }
});

test("a saved panel state needs a uri; lists and view are cleaned", () => {
    assert.equal(parsePanelState(undefined), null);
    assert.equal(parsePanelState({ expand: [] }), null);
    assert.deepEqual(parsePanelState({ uri: "file:///a.nns" }), { uri: "file:///a.nns", expand: [], collapse: [] });
    assert.deepEqual(
        parsePanelState({ uri: "file:///a.nns", expand: ["layer1", 3, ""], collapse: "x", view: { x: 1, y: 2, k: 0.5 } }),
        { uri: "file:///a.nns", expand: ["layer1"], collapse: [], view: { x: 1, y: 2, k: 0.5 } },
    );
    assert.equal(parsePanelState({ uri: "u", view: { x: 1, y: 2, k: 0 } })?.view, undefined);
    assert.equal(parsePanelState({ uri: "u", view: { x: NaN, y: 2, k: 1 } })?.view, undefined);
});

test("updates are ordered by epoch, then version, then request number", () => {
    const s = (epoch: number, version: number, seq: number) => ({ epoch, version, seq });
    assert.ok(compareStamps(s(0, 2, 1), s(0, 1, 9)) > 0);
    assert.ok(compareStamps(s(0, 2, 3), s(0, 2, 2)) > 0);
    assert.ok(compareStamps(s(1, 1, 1), s(0, 50, 9)) > 0);
    assert.equal(compareStamps(s(0, 2, 2), s(0, 2, 2)), 0);
    assert.ok(compareStamps(s(0, 1, 5), s(0, 2, 1)) < 0);
});

test("toggling keeps expand / collapse consistent", () => {
    let l = { expand: [] as string[], collapse: [] as string[] };
    l = applyToggle(l, "layer2.0", true);
    assert.deepEqual(l, { expand: ["layer2.0"], collapse: [] });
    l = applyToggle(l, "layer2.0", true);
    assert.deepEqual(l, { expand: ["layer2.0"], collapse: [] });
    l = applyToggle(l, "layer2", false);
    assert.deepEqual(l, { expand: ["layer2.0"], collapse: ["layer2"] });
    l = applyToggle(l, "layer2.0.downsample", true); // opening inside a closed block lifts its collapse
    assert.deepEqual(l, { expand: ["layer2.0", "layer2.0.downsample"], collapse: [] });
    l = applyToggle(l, "layer2.0", false);
    assert.deepEqual(l, { expand: ["layer2.0.downsample"], collapse: ["layer2.0"] });
    l = applyToggle(l, "layer20", true); // a sibling with a common prefix is not an ancestor
    assert.deepEqual(l.collapse, ["layer2.0"]);
    assert.deepEqual(pruneUnknown(l, ["layer20", "nope"]), { expand: ["layer2.0.downsample"], collapse: ["layer2.0"] });
});

test("code-point offsets become UTF-16 offsets", () => {
    const text = "a\u{1F600}b\ncd";
    assert.equal(codePointToUtf16(text, 0), 0);
    assert.equal(codePointToUtf16(text, 1), 1);
    assert.equal(codePointToUtf16(text, 2), 3);
    assert.equal(codePointToUtf16(text, 3), 4);
    assert.equal(codePointToUtf16(text, 99), text.length);
    const origin = { path: "/x.nns", start: 2, end: 5, line: 1, column: 3, end_line: 2, end_column: 2 };
    assert.deepEqual(originOffsets(text, origin), { start: 3, end: 6 });
    assert.deepEqual(originFallback(origin), { start: { line: 0, character: 2 }, end: { line: 1, character: 1 } });
});

test("titles use the file name", () => {
    assert.equal(baseName("file:///work/examples/resnet18.nns"), "resnet18.nns");
    assert.equal(baseName("file:///w/my%20net.nns"), "my net.nns");
    assert.equal(baseName("untitled:Untitled-1"), "Untitled-1");
    assert.equal(baseName("C:\\nets\\a.nns".replace(/\\/g, "/")), "a.nns");
});
