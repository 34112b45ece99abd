/**
 * A throttle with a guaranteed trailing call: the first trigger after a quiet period runs at once,
 * later ones within `interval()` ms of the last run are merged into one run at the end of the
 * interval. So a burst of edits costs one request at its start, at most one per interval while it
 * lasts, and one after it (which sees the final text). Pure: the clock is injectable for tests.
 */

export interface Clock {
    now(): number;
    setTimeout(fn: () => void, ms: number): unknown;
    clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
    now: () => Date.now(),
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class Throttle {
    private last = -Infinity;
    private timer: unknown = undefined;
    private disposed = false;

    /** `interval` is read at each trigger (a setting may change). */
    constructor(
        private readonly fn: () => void,
        private readonly interval: () => number,
        private readonly clock: Clock = realClock,
    ) {}

    /** A trailing run is scheduled. */
    get pending(): boolean {
        return this.timer !== undefined;
    }

    trigger(): void {
        if (this.disposed || this.timer !== undefined) return;
        const wait = this.last + Math.max(0, this.interval()) - this.clock.now();
        if (wait <= 0) {
            this.run();
        } else {
            this.timer = this.clock.setTimeout(() => {
                this.timer = undefined;
                this.run();
            }, wait);
        }
    }

    /** Run now (a user action), cancelling a scheduled run; later triggers count from now. */
    now(): void {
        if (this.disposed) return;
        this.cancel();
        this.run();
    }

    cancel(): void {
        if (this.timer !== undefined) {
            this.clock.clearTimeout(this.timer);
            this.timer = undefined;
        }
    }

    dispose(): void {
        this.cancel();
        this.disposed = true;
    }

    private run(): void {
        this.last = this.clock.now();
        this.fn();
    }
}
