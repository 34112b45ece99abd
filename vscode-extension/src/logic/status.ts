/**
 * The status bar item's logic: after each analysis of the active editor's document (its diagnostics
 * were published), ask the server for its summary -- at most once per `throttleMs` per burst, the last
 * one always sent (trailing), and an answer for an older request or another document dropped.
 */
import { type StatusState, type StatusView, statusView, type SummaryResult } from "./format";

export interface Timers {
    setTimeout(fn: () => void, ms: number): unknown;
    clearTimeout(handle: unknown): void;
    now(): number;
}

export const realTimers: Timers = {
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    now: () => Date.now(),
};

/**
 * Calls `fn` at most once per `ms`: the first call runs at once, calls within the window are folded
 * into one trailing call at its end (with the newest argument).
 */
export class Throttle<A> {
    private last = -Infinity;
    private timer: unknown = undefined;
    private pending: { arg: A } | undefined;

    constructor(private readonly fn: (arg: A) => void, private readonly ms: () => number, private readonly timers: Timers = realTimers) {}

    call(arg: A): void {
        const now = this.timers.now();
        const wait = this.last + this.ms() - now;
        if (wait <= 0 && this.timer === undefined) {
            this.last = now;
            this.fn(arg);
            return;
        }
        this.pending = { arg };
        if (this.timer === undefined) {
            this.timer = this.timers.setTimeout(() => this.flush(), Math.max(0, wait));
        }
    }

    private flush(): void {
        this.timer = undefined;
        const p = this.pending;
        this.pending = undefined;
        if (p !== undefined) {
            this.last = this.timers.now();
            this.fn(p.arg);
        }
    }

    cancel(): void {
        if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
        this.timer = undefined;
        this.pending = undefined;
    }
}

export interface StatusDeps {
    /** nnlang/summary for a document uri. */
    summary(uri: string): Promise<SummaryResult>;
    /** The active editor's document uri, when it is an `nns` document. */
    activeUri(): string | undefined;
    /** Show the view (visible) or hide the item (undefined). */
    render(view: StatusView | undefined): void;
    /** A failure to log. */
    log(message: string): void;
    throttleMs(): number;
    timers?: Timers;
}

export class StatusController {
    /** The server's state; "running" shows the active document's summary. */
    private server: "starting" | "running" | "stopped" | { failed: string } = "starting";
    private summary: { uri: string; result: SummaryResult } | undefined;
    private seq = 0;
    private readonly throttle: Throttle<string>;
    private shown: StatusState | undefined;

    constructor(private readonly deps: StatusDeps) {
        this.throttle = new Throttle((uri) => void this.fetch(uri), deps.throttleMs, deps.timers ?? realTimers);
    }

    /** The server's state changed. */
    setServerState(state: "starting" | "running" | "stopped" | { failed: string }): void {
        this.server = state;
        this.summary = undefined;
        this.seq++; // answers in flight no longer count
        this.throttle.cancel();
        this.refresh();
    }

    /** A document was analysed (its diagnostics were published). */
    onAnalysed(uri: string): void {
        if (this.server === "running" && uri === this.deps.activeUri()) this.throttle.call(uri);
    }

    /** The active editor changed. */
    onActiveEditor(): void {
        this.refresh();
    }

    private refresh(): void {
        const uri = this.deps.activeUri();
        if (uri === undefined) { // not an nns editor: no item
            this.seq++;
            this.throttle.cancel();
            this.show(undefined);
            return;
        }
        if (this.server !== "running") {
            const s = this.server;
            this.show(s === "starting" ? { kind: "starting" } : s === "stopped" ? { kind: "stopped" } : { kind: "failed", message: s.failed });
            return;
        }
        this.show(this.summary?.uri === uri ? { kind: "summary", summary: this.summary.result } : { kind: "idle" });
        this.throttle.call(uri);
    }

    private async fetch(uri: string): Promise<void> {
        const seq = ++this.seq;
        try {
            const result = await this.deps.summary(uri);
            if (seq !== this.seq || uri !== this.deps.activeUri() || this.server !== "running") return; // stale
            this.summary = { uri, result };
            this.show({ kind: "summary", summary: result });
        } catch (e) {
            if (seq !== this.seq) return;
            this.deps.log(`nnlang/summary failed: ${e instanceof Error ? e.message : String(e)}`);
        }
    }

    private show(state: StatusState | undefined): void {
        this.shown = state;
        this.deps.render(state === undefined ? undefined : statusView(state));
    }

    /** What is shown (for tests). */
    get current(): StatusState | undefined {
        return this.shown;
    }

    dispose(): void {
        this.seq++;
        this.throttle.cancel();
    }
}
