/**
 * One preview panel's logic, behind the thin `SessionHost` wrapper of the VS Code API (manager.ts
 * implements it; the unit tests fake it): when to request `nnlang/diagram`, which responses to
 * post, what to replay to a (re)loaded page, what a page message does. Pure: no "vscode" import.
 * The message protocol is documented in ./protocol.ts.
 */

import { applyToggle, pruneUnknown, type BlockLists } from "./blocks";
import {
    compareStamps,
    parsePageMessage,
    type CursorMessage,
    type DiagramParams,
    type DiagramPayload,
    type ElementRange,
    type ErrorMessage,
    type Origin,
    type PanelState,
    type Position,
    type ToPage,
    type UpdateMessage,
    type View,
} from "./protocol";
import { realClock, Throttle, type Clock } from "./throttle";

/** What to select in an editor: a range of the previewed document, or of `origin`'s file. */
export interface RevealTarget {
    uri: string;
    id: string;
    start: Position;
    end: Position;
    origin?: Origin;
}

export interface SessionHost {
    post(message: ToPage): void;
    request(params: DiagramParams): Promise<unknown>;
    reveal(target: RevealTarget): void | Promise<void>;
    log(message: string): void;
}

export interface SessionOptions {
    /** At most one request per this many ms while the document changes (read at each change). */
    throttleMs: () => number;
    /** At most one cursor message per this many ms. */
    cursorMs?: number;
    clock?: Clock;
}

interface Stamp {
    epoch: number;
    version: number;
    seq: number;
}

export const DEFAULT_CURSOR_MS = 50;

function isPayload(x: unknown): x is DiagramPayload {
    if (typeof x !== "object" || x === null) return false;
    const p = x as Record<string, unknown>;
    return typeof p.ranges === "object" && p.ranges !== null && "dot" in p;
}

function errorText(err: unknown): string {
    if (err instanceof Error) return err.message;
    if (typeof err === "object" && err !== null && typeof (err as { message?: unknown }).message === "string") {
        return (err as { message: string }).message;
    }
    return String(err);
}

export class PreviewSession {
    private lists: BlockLists;
    private seq = 0;
    private epoch = 0;
    private posted: Stamp | null = null;
    private lastUpdate: UpdateMessage | null = null;
    private lastError: ErrorMessage | null = null;
    private lastCursor: CursorMessage | null = null;
    private pendingCursor: Position | null = null;
    private restoreView: View | undefined;
    private ready = false;
    private visible = true;
    private dirty = false;
    private disposed = false;
    private readonly requests: Throttle;
    private readonly cursors: Throttle;
    /** Responses dropped as stale (for tests and the log). */
    dropped = 0;

    constructor(
        readonly uri: string,
        private readonly host: SessionHost,
        options: SessionOptions,
        restored?: PanelState,
    ) {
        const clock = options.clock ?? realClock;
        this.lists = { expand: restored?.expand.slice() ?? [], collapse: restored?.collapse.slice() ?? [] };
        this.restoreView = restored?.view;
        this.requests = new Throttle(() => this.send(), options.throttleMs, clock);
        const cursorMs = options.cursorMs ?? DEFAULT_CURSOR_MS;
        this.cursors = new Throttle(() => this.flushCursor(), () => cursorMs, clock);
        this.requests.trigger(); // the first render: at once
    }

    /** What a serializer needs to restore this panel (the page adds its view). */
    get state(): PanelState {
        return { uri: this.uri, expand: this.lists.expand.slice(), collapse: this.lists.collapse.slice() };
    }

    get blockLists(): BlockLists {
        return { expand: this.lists.expand.slice(), collapse: this.lists.collapse.slice() };
    }

    /** The last update posted (or waiting for the page). */
    get current(): UpdateMessage | null {
        return this.lastUpdate;
    }

    /** The server analysed the document again: request a new diagram (throttled). */
    analysed(): void {
        if (this.disposed) return;
        if (!this.visible) {
            this.dirty = true;
            return;
        }
        this.requests.trigger();
    }

    /** The panel was shown or hidden: a hidden panel asks for nothing until it is shown again. */
    setVisible(visible: boolean): void {
        this.visible = visible;
        if (visible && this.dirty) {
            this.dirty = false;
            this.requests.trigger();
        }
    }

    /** The document was closed and opened again: its versions start again at 1. */
    reopened(): void {
        this.epoch += 1;
        this.analysed();
    }

    /** The editor's cursor moved (throttled). */
    cursor(position: Position): void {
        if (this.disposed) return;
        this.pendingCursor = { line: position.line, character: position.character };
        this.cursors.trigger();
    }

    /** A message from the page. */
    receive(raw: unknown): void {
        if (this.disposed) return;
        const msg = parsePageMessage(raw);
        if (msg === null) {
            this.host.log(`ignored a message from the page: ${JSON.stringify(raw)?.slice(0, 200)}`);
            return;
        }
        switch (msg.type) {
            case "ready":
                this.ready = true;
                this.replay();
                return;
            case "reveal": {
                const range: ElementRange | undefined = this.lastUpdate?.payload.ranges[msg.id];
                if (!range) {
                    this.host.log(`no source range for ${msg.id}`);
                    return;
                }
                const target: RevealTarget = { uri: this.uri, id: msg.id, start: range.start, end: range.end };
                if (range.origin) target.origin = range.origin;
                void Promise.resolve()
                    .then(() => this.host.reveal(target))
                    .catch((err) => this.host.log(`cannot reveal ${msg.id}: ${errorText(err)}`));
                return;
            }
            case "toggle":
                this.lists = applyToggle(this.lists, msg.path, msg.expanded);
                this.requests.now(); // a click: answer at once
                return;
            case "log":
                this.host.log(`page: ${msg.message}`);
                return;
        }
    }

    /** Request now, whatever the throttle says (a command, a setting change). */
    refreshNow(): void {
        if (!this.disposed) this.requests.now();
    }

    dispose(): void {
        this.disposed = true;
        this.requests.dispose();
        this.cursors.dispose();
    }

    private send(): void {
        if (this.disposed) return;
        const seq = ++this.seq;
        const epoch = this.epoch;
        const params: DiagramParams = {
            uri: this.uri,
            expand: this.lists.expand.slice(),
            collapse: this.lists.collapse.slice(),
            svg: false, // the page lays out the DOT itself
        };
        let pending: Promise<unknown>;
        try {
            pending = Promise.resolve(this.host.request(params));
        } catch (err) {
            pending = Promise.reject(err);
        }
        pending
            .then(
                (result) => this.accept(result, seq, epoch),
                (err) => this.fail(err, seq, epoch),
            )
            .catch((err) => this.host.log(`${errorText(err)}`));
    }

    private isStale(stamp: Stamp): boolean {
        return this.posted !== null && compareStamps(stamp, this.posted) <= 0;
    }

    private accept(result: unknown, seq: number, epoch: number): void {
        if (this.disposed) return;
        if (!isPayload(result)) {
            this.fail(new Error("the server's nnlang/diagram answer is not a diagram"), seq, epoch);
            return;
        }
        const version =
            typeof result.version === "number"
                ? result.version
                : this.posted && this.posted.epoch === epoch
                  ? this.posted.version
                  : 0;
        const stamp: Stamp = { epoch, version, seq };
        if (this.isStale(stamp)) {
            this.dropped += 1;
            return;
        }
        this.lists = pruneUnknown(this.lists, Array.isArray(result.unknown) ? result.unknown : []);
        const msg: UpdateMessage = {
            type: "update",
            ...stamp,
            uri: this.uri,
            payload: result,
            expand: this.lists.expand.slice(),
            collapse: this.lists.collapse.slice(),
        };
        // A restored panel's view rides on the updates until the page has had one.
        if (this.restoreView) msg.view = this.restoreView;
        this.posted = stamp;
        this.lastUpdate = msg;
        this.lastError = null;
        if (this.ready) {
            this.host.post(msg);
            this.restoreView = undefined;
        }
    }

    private fail(err: unknown, seq: number, epoch: number): void {
        if (this.disposed) return;
        // An error has no version of its own: the last one posted (0 in a new epoch).
        const version = this.posted && this.posted.epoch === epoch ? this.posted.version : 0;
        const stamp: Stamp = { epoch, version, seq };
        if (this.isStale(stamp)) {
            this.dropped += 1;
            return;
        }
        const message = errorText(err);
        this.host.log(`nnlang/diagram failed for ${this.uri}: ${message}`);
        const msg: ErrorMessage = { type: "error", ...stamp, message };
        this.posted = stamp;
        this.lastError = msg;
        if (this.ready) this.host.post(msg);
    }

    private flushCursor(): void {
        if (this.pendingCursor === null) return;
        const msg: CursorMessage = { type: "cursor", ...this.pendingCursor };
        this.pendingCursor = null;
        this.lastCursor = msg;
        if (this.ready) this.host.post(msg);
    }

    private replay(): void {
        if (this.lastUpdate) {
            this.host.post(this.lastUpdate);
            this.restoreView = undefined;
        }
        if (this.lastError) this.host.post(this.lastError);
        if (this.lastCursor) this.host.post(this.lastCursor);
    }
}
