import assert from "node:assert/strict";
import { describe, it } from "node:test";

import type { StatusView, SummaryResult } from "../../src/logic/format";
import { StatusController, Throttle, type Timers } from "../../src/logic/status";

class FakeTimers implements Timers {
    t = 0;
    private queue: { at: number; fn: () => void; id: number }[] = [];
    private next = 1;
    setTimeout(fn: () => void, ms: number): unknown {
        const id = this.next++;
        this.queue.push({ at: this.t + ms, fn, id });
        return id;
    }
    clearTimeout(h: unknown): void {
        this.queue = this.queue.filter((q) => q.id !== h);
    }
    now(): number {
        return this.t;
    }
    advance(ms: number): void {
        const end = this.t + ms;
        for (;;) {
            this.queue.sort((a, b) => a.at - b.at);
            const q = this.queue[0];
            if (q === undefined || q.at > end) break;
            this.queue.shift();
            this.t = q.at;
            q.fn();
        }
        this.t = end;
    }
}

const flush = () => new Promise((r) => setImmediate(r));

describe("Throttle", () => {
    it("runs the first call at once, folds a burst into one trailing call with the newest value", () => {
        const timers = new FakeTimers();
        const calls: [number, number][] = [];
        const th = new Throttle<number>((v) => calls.push([timers.now(), v]), () => 100, timers);
        th.call(1);
        timers.advance(10);
        th.call(2);
        th.call(3);
        timers.advance(200);
        th.call(4);
        assert.deepEqual(calls, [[0, 1], [100, 3], [210, 4]]);
        th.call(5);
        th.cancel();
        timers.advance(500);
        assert.equal(calls.length, 3);
    });
});

function summary(network: string, params: number): SummaryResult {
    return { network, total_params: params, trainable_params: params, total_macs: 1, macs_complete: true, layers: [], param_bytes: 4 * params, errors: 0 };
}

describe("StatusController", () => {
    function setup() {
        const timers = new FakeTimers();
        const views: (StatusView | undefined)[] = [];
        const requests: { uri: string; resolve: (s: SummaryResult) => void; reject: (e: Error) => void }[] = [];
        const logs: string[] = [];
        let active: string | undefined = "file:///a.nns";
        const c = new StatusController({
            summary: (uri) => new Promise((resolve, reject) => requests.push({ uri, resolve, reject })),
            activeUri: () => active,
            render: (v) => views.push(v),
            log: (m) => logs.push(m),
            throttleMs: () => 500,
            timers,
        });
        return { c, timers, views, requests, logs, setActive: (u: string | undefined) => (active = u), last: () => views[views.length - 1] };
    }

    it("shows the server starting, then the active network's params after its analysis", async () => {
        const s = setup();
        s.c.setServerState("starting");
        assert.equal(s.last()!.text, "$(loading~spin) nnlang");
        s.c.setServerState("running");
        assert.equal(s.requests.length, 1);
        s.requests[0]!.resolve(summary("A", 1234567));
        await flush();
        assert.equal(s.last()!.text, "$(circuit-board) A: 1.23M params");
    });

    it("throttles the analyses of a burst of edits", async () => {
        const s = setup();
        s.c.setServerState("running");
        s.requests[0]!.resolve(summary("A", 1));
        for (let i = 0; i < 10; i++) {
            s.timers.advance(20);
            s.c.onAnalysed("file:///a.nns");
        }
        assert.equal(s.requests.length, 1, "within the window");
        s.timers.advance(500);
        assert.equal(s.requests.length, 2, "one trailing request");
    });

    it("ignores other documents' analyses and drops stale answers", async () => {
        const s = setup();
        s.c.setServerState("running");
        s.c.onAnalysed("file:///other.nns");
        assert.equal(s.requests.length, 1);
        s.timers.advance(600);
        s.c.onAnalysed("file:///a.nns");
        assert.equal(s.requests.length, 2);
        s.requests[1]!.resolve(summary("New", 2000));
        await flush();
        s.requests[0]!.resolve(summary("Old", 1000)); // the older answer comes last
        await flush();
        assert.equal(s.last()!.text, "$(circuit-board) New: 2K params");
    });

    it("hides the item outside nns editors and asks again when one is active", async () => {
        const s = setup();
        s.c.setServerState("running");
        s.setActive(undefined);
        s.c.onActiveEditor();
        assert.equal(s.last(), undefined);
        s.requests[0]!.resolve(summary("A", 5)); // answered after the switch: dropped
        await flush();
        assert.equal(s.last(), undefined);
        s.setActive("file:///b.nns");
        s.timers.advance(1000);
        s.c.onActiveEditor();
        assert.equal(s.last()!.text, "$(circuit-board) nnlang", "idle until the answer");
        assert.equal(s.requests[s.requests.length - 1]!.uri, "file:///b.nns");
    });

    it("a failed server is shown, its message in the tooltip; a failed request is logged", async () => {
        const s = setup();
        s.c.setServerState({ failed: "nnlang: the language server was not found. Install it with `pip install '/path/to/nnlang[lsp]'`" });
        assert.equal(s.last()!.severity, "error");
        assert.match(s.last()!.tooltip, /pip install/);
        assert.equal(s.requests.length, 0);
        s.c.onAnalysed("file:///a.nns");
        assert.equal(s.requests.length, 0);
        s.c.setServerState("running");
        s.requests[0]!.reject(new Error("the document is not open"));
        await flush();
        assert.deepEqual(s.logs, ["nnlang/summary failed: the document is not open"]);
    });
});
