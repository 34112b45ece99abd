import assert from "node:assert/strict";
import { test } from "node:test";
import type { DiagramPayload, UpdateMessage } from "../../src/preview/protocol";
import { PreviewSession } from "../../src/preview/session";
import { FakeHost, fixture, ManualClock, response, settle } from "./fakes";

const resnet = fixture("resnet18");
const initial = response(resnet, "initial").result;
const expanded = response(resnet, "expand layer2.0").result;
const edited = response(resnet, "edited: a dropout before fc").result;
const URI = resnet.document;

function withVersion(p: DiagramPayload, version: number): DiagramPayload {
    return { ...p, version };
}

function setup(opts: { throttle?: number; restored?: Parameters<typeof makeSession>[2] } = {}) {
    return makeSession(opts.throttle ?? 300, new ManualClock(), opts.restored);
}

function makeSession(throttle: number, clock: ManualClock, restored?: ConstructorParameters<typeof PreviewSession>[3]) {
    const host = new FakeHost();
    const session = new PreviewSession(URI, host, { throttleMs: () => throttle, clock, cursorMs: 50 }, restored);
    return { host, session, clock };
}

test("the first diagram is requested at once, without the server's SVG, and posted once the page is ready", async () => {
    const { host, session } = setup();
    assert.equal(host.requests.length, 1);
    assert.deepEqual(host.requests[0].params, { uri: URI, expand: [], collapse: [], svg: false });
    host.requests[0].resolve(initial);
    await settle();
    assert.equal(host.posted.length, 0, "nothing is posted before the page says ready");
    session.receive({ type: "ready" });
    const [update] = host.ofType("update");
    assert.equal(update.version, 1);
    assert.equal(update.seq, 1);
    assert.equal(update.epoch, 0);
    assert.equal(update.uri, URI);
    assert.deepEqual(update.payload, initial);
    assert.deepEqual([update.expand, update.collapse], [[], []]);
    assert.equal(update.view, undefined);
});

test("a page that loads again (ready) gets the last update, error and cursor replayed", async () => {
    const { host, session, clock } = setup();
    session.receive({ type: "ready" });
    host.requests[0].resolve(initial);
    await settle();
    session.cursor({ line: 11, character: 20 });
    clock.advance(100);
    assert.deepEqual(
        host.posted.map((m) => m.type),
        ["update", "cursor"],
    );
    host.posted = [];
    session.receive({ type: "ready" });
    assert.deepEqual(
        host.posted.map((m) => m.type),
        ["update", "cursor"],
    );
    assert.deepEqual((host.posted[0] as UpdateMessage).payload, initial);
    assert.deepEqual(host.posted[1], { type: "cursor", line: 11, character: 20 });
});

test("analysis changes are throttled: one request per interval, the trailing one guaranteed", async () => {
    const { host, session, clock } = setup({ throttle: 300 });
    session.receive({ type: "ready" });
    assert.equal(host.requests.length, 1); // t = 0
    for (let i = 0; i < 10; i++) {
        clock.advance(40);
        session.analysed(); // every 40 ms for 400 ms: a fast typist
    }
    assert.equal(host.requests.length, 2, "one more at t = 300");
    clock.advance(1000);
    assert.equal(host.requests.length, 3, "and the trailing one at t = 600");
    clock.advance(1000);
    session.analysed();
    assert.equal(host.requests.length, 4, "after a pause: at once again");
});

test("a response older than the last one posted is dropped", async () => {
    const { host, session, clock } = setup({ throttle: 0 });
    session.receive({ type: "ready" });
    session.analysed();
    clock.advance(1);
    session.analysed();
    assert.equal(host.requests.length, 3);
    // the newest answers first (version 3), then the older ones (versions 2 and 3 from seq 1, 2)
    host.requests[2].resolve(withVersion(edited, 3));
    await settle();
    host.requests[0].resolve(withVersion(initial, 2));
    host.requests[1].resolve(withVersion(initial, 3));
    await settle();
    const updates = host.ofType("update");
    assert.equal(updates.length, 1);
    assert.deepEqual([updates[0].version, updates[0].seq], [3, 3]);
    assert.equal(session.dropped, 2);
    // a later request of the same version is newer (a toggle, a dependency changed): posted
    session.analysed();
    host.requests[3].resolve(withVersion(initial, 3));
    await settle();
    assert.deepEqual(
        host.ofType("update").map((u) => [u.version, u.seq]),
        [
            [3, 3],
            [3, 4],
        ],
    );
});

test("a toggle updates the block lists and requests at once, whatever the throttle", async () => {
    const { host, session } = setup({ throttle: 10_000 });
    session.receive({ type: "ready" });
    host.requests[0].resolve(initial);
    await settle();
    session.analysed(); // throttled: scheduled, not sent
    assert.equal(host.requests.length, 1);
    session.receive({ type: "toggle", id: "s5", path: "layer2.0", expanded: true });
    assert.equal(host.requests.length, 2);
    // exactly what was sent to the real server when the fixture was recorded
    const recorded = response(resnet, "expand layer2.0").params;
    assert.deepEqual(host.requests[1].params, { ...recorded, uri: URI });
    host.requests[1].resolve(expanded);
    await settle();
    const last = host.ofType("update").at(-1)!;
    assert.deepEqual([last.expand, last.collapse], [["layer2.0"], []]);
    assert.ok(last.payload.state!.expanded.includes("s5"));
    session.receive({ type: "toggle", id: "s8", path: "layer3", expanded: false });
    assert.deepEqual(host.requests[2].params, { uri: URI, expand: ["layer2.0"], collapse: ["layer3"], svg: false });
    assert.deepEqual(session.state, { uri: URI, expand: ["layer2.0"], collapse: ["layer3"] });
});

test("names the server no longer knows are dropped from the lists", async () => {
    const { host, session } = setup({ restored: { uri: URI, expand: ["layer2.0", "gone"], collapse: ["old"] } });
    assert.deepEqual(host.requests[0].params.expand, ["layer2.0", "gone"]);
    session.receive({ type: "ready" });
    host.requests[0].resolve({ ...expanded, unknown: ["gone", "old"] });
    await settle();
    assert.deepEqual(session.blockLists, { expand: ["layer2.0"], collapse: [] });
    assert.deepEqual(host.ofType("update")[0].expand, ["layer2.0"]);
});

test("a restored panel sends its saved view until the page has had an update", async () => {
    const view = { x: 10, y: -20, k: 0.75 };
    const { host, session } = setup({ throttle: 0, restored: { uri: URI, expand: [], collapse: [], view } });
    session.receive({ type: "ready" });
    host.requests[0].resolve(initial);
    await settle();
    session.analysed();
    host.requests[1].resolve(withVersion(initial, 2));
    await settle();
    const [first, second] = host.ofType("update");
    assert.deepEqual(first.view, view);
    assert.equal(second.view, undefined);
    // two answers before the page is ready: the one replayed still carries the view
    const late = setup({ throttle: 0, restored: { uri: URI, expand: [], collapse: [], view } });
    late.host.requests[0].resolve(initial);
    await settle();
    late.session.analysed();
    late.host.requests[1].resolve(withVersion(initial, 2));
    await settle();
    late.session.receive({ type: "ready" });
    assert.deepEqual(late.host.ofType("update").map((u) => [u.version, u.view]), [[2, view]]);
});

test("reveal: the element's range in the document, or its origin in another file", async () => {
    const { host, session } = setup();
    session.receive({ type: "ready" });
    host.requests[0].resolve(initial);
    await settle();
    const conv1 = Object.entries(initial.ranges).find(([, r]) => r.start.line === 11 && r.start.character === 18)![0];
    session.receive({ type: "reveal", id: conv1 });
    const withOrigin = Object.entries(initial.ranges).find(([, r]) => r.origin)![0];
    session.receive({ type: "reveal", id: withOrigin });
    session.receive({ type: "reveal", id: "n9999" });
    await settle();
    assert.equal(host.reveals.length, 2);
    assert.deepEqual(host.reveals[0], { uri: URI, id: conv1, start: { line: 11, character: 18 }, end: { line: 11, character: 64 } });
    assert.equal(host.reveals[1].id, withOrigin);
    assert.match(host.reveals[1].origin!.path, /std\/resnet\.nns$/);
    assert.ok(host.logs.some((l) => l.includes("no source range for n9999")));
});

test("cursor moves are throttled; the last position always arrives", async () => {
    const { host, session, clock } = setup();
    session.receive({ type: "ready" });
    for (let c = 0; c < 10; c++) {
        session.cursor({ line: 11, character: c });
        clock.advance(5);
    }
    clock.advance(100);
    const cursors = host.ofType("cursor");
    assert.deepEqual(cursors[0], { type: "cursor", line: 11, character: 0 });
    assert.deepEqual(cursors.at(-1), { type: "cursor", line: 11, character: 9 });
    assert.ok(cursors.length <= 2, JSON.stringify(cursors));
});

test("a hidden panel requests nothing until it is shown again", async () => {
    const { host, session, clock } = setup({ throttle: 0 });
    session.setVisible(false);
    session.analysed();
    session.analysed();
    clock.advance(1000);
    assert.equal(host.requests.length, 1);
    session.setVisible(true);
    assert.equal(host.requests.length, 2);
    session.setVisible(true);
    assert.equal(host.requests.length, 2);
});

test("a reopened document starts a new epoch: its version 1 is newer than the old version 9", async () => {
    const { host, session } = setup({ throttle: 0 });
    session.receive({ type: "ready" });
    host.requests[0].resolve(withVersion(initial, 9));
    await settle();
    session.reopened();
    host.requests[1].resolve(withVersion(edited, 1));
    await settle();
    assert.deepEqual(
        host.ofType("update").map((u) => [u.epoch, u.version]),
        [
            [0, 9],
            [1, 1],
        ],
    );
});

test("a failed request posts an error (keeping the diagram); a stale failure is dropped", async () => {
    const { host, session } = setup({ throttle: 0 });
    session.receive({ type: "ready" });
    host.requests[0].resolve(initial);
    await settle();
    session.analysed();
    session.analysed();
    host.requests[2].reject(new Error("the language server is not running"));
    await settle();
    host.requests[1].reject(new Error("older failure"));
    await settle();
    const errors = host.ofType("error");
    assert.equal(errors.length, 1);
    assert.deepEqual(errors[0], { type: "error", epoch: 0, version: 1, seq: 3, message: "the language server is not running" });
    // replayed after the update to a page that loads again, until a newer update replaces it
    host.posted = [];
    session.receive({ type: "ready" });
    assert.deepEqual(
        host.posted.map((m) => m.type),
        ["update", "error"],
    );
    session.analysed();
    host.requests[3].resolve(withVersion(initial, 2));
    await settle();
    host.posted = [];
    session.receive({ type: "ready" });
    assert.deepEqual(
        host.posted.map((m) => m.type),
        ["update"],
    );
    // an answer that is not a diagram is an error too
    session.analysed();
    host.requests[4].resolve({ nonsense: true });
    await settle();
    assert.match(host.ofType("error").at(-1)!.message, /not a diagram/);
});

test("page messages that are not part of the protocol are logged and ignored", () => {
    const { host, session } = setup();
    session.receive({ type: "eval", code: "x" });
    session.receive("ready");
    session.receive({ type: "log", message: "layout failed" });
    assert.equal(host.requests.length, 1);
    assert.equal(host.logs.length, 3);
    assert.match(host.logs[2], /page: layout failed/);
});

test("after dispose nothing is requested or posted", async () => {
    const { host, session, clock } = setup({ throttle: 100 });
    session.receive({ type: "ready" });
    session.analysed();
    session.dispose();
    host.requests[0].resolve(initial);
    clock.advance(1000);
    session.analysed();
    session.cursor({ line: 1, character: 1 });
    await settle();
    assert.equal(host.requests.length, 1);
    assert.equal(host.posted.length, 0);
});
