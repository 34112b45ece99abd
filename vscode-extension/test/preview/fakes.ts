/** Test doubles for the preview's unit tests: a manual clock and a recording SessionHost. */
import * as fs from "node:fs";
import * as path from "node:path";
import type { DiagramParams, DiagramPayload, ToPage } from "../../src/preview/protocol";
import type { RevealTarget, SessionHost } from "../../src/preview/session";
import type { Clock } from "../../src/preview/throttle";

export class ManualClock implements Clock {
    t = 0;
    private timers: { at: number; fn: () => void; id: number }[] = [];
    private next = 1;

    now(): number {
        return this.t;
    }

    setTimeout(fn: () => void, ms: number): unknown {
        const id = this.next++;
        this.timers.push({ at: this.t + ms, fn, id });
        return id;
    }

    clearTimeout(handle: unknown): void {
        this.timers = this.timers.filter((x) => x.id !== handle);
    }

    get scheduled(): number {
        return this.timers.length;
    }

    /** Move time forward, running the timers that come due, in order. */
    advance(ms: number): void {
        const end = this.t + ms;
        for (;;) {
            this.timers.sort((a, b) => a.at - b.at);
            const due = this.timers[0];
            if (!due || due.at > end) break;
            this.timers.shift();
            this.t = due.at;
            due.fn();
        }
        this.t = end;
    }
}

interface Pending {
    params: DiagramParams;
    resolve: (v: unknown) => void;
    reject: (e: unknown) => void;
}

export class FakeHost implements SessionHost {
    posted: ToPage[] = [];
    requests: Pending[] = [];
    reveals: RevealTarget[] = [];
    logs: string[] = [];

    post(message: ToPage): void {
        this.posted.push(JSON.parse(JSON.stringify(message)) as ToPage);
    }

    request(params: DiagramParams): Promise<unknown> {
        return new Promise((resolve, reject) => this.requests.push({ params, resolve, reject }));
    }

    reveal(target: RevealTarget): void {
        this.reveals.push(target);
    }

    log(message: string): void {
        this.logs.push(message);
    }

    ofType<T extends ToPage["type"]>(type: T): Extract<ToPage, { type: T }>[] {
        return this.posted.filter((m): m is Extract<ToPage, { type: T }> => m.type === type);
    }
}

/** Let pending promise callbacks run. */
export async function settle(): Promise<void> {
    for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
}

export interface Recorded {
    name: string;
    version: number;
    params: DiagramParams;
    result: DiagramPayload;
}

export interface Fixture {
    document: string;
    texts: Record<string, string>;
    responses: Recorded[];
}

/** test/preview/fixtures/<name>.json: nnlang/diagram answers recorded from the real server
 *  (tests/diagram/record_preview_fixtures.py). */
export function fixture(name: string): Fixture {
    const dir = path.resolve(__dirname, "../../../test/preview/fixtures");
    return JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), "utf8")) as Fixture;
}

export function response(fx: Fixture, name: string): Recorded {
    const r = fx.responses.find((x) => x.name === name);
    if (!r) throw new Error(`no response ${name}`);
    return r;
}
