import assert from "node:assert/strict";
import { test } from "node:test";
import { Throttle } from "../../src/preview/throttle";
import { ManualClock } from "./fakes";

function setup(interval = 300) {
    const clock = new ManualClock();
    const runs: number[] = [];
    const throttle = new Throttle(() => runs.push(clock.now()), () => interval, clock);
    return { clock, runs, throttle };
}

test("the first trigger runs at once", () => {
    const { runs, throttle } = setup();
    throttle.trigger();
    assert.deepEqual(runs, [0]);
});

test("a burst costs one run at its start, one per interval, and one trailing run after it", () => {
    const { clock, runs, throttle } = setup(300);
    for (let t = 0; t <= 1000; t += 20) {
        throttle.trigger();
        clock.advance(20);
    }
    clock.advance(1000);
    assert.equal(runs[0], 0);
    for (let i = 1; i < runs.length; i++) assert.ok(runs[i] - runs[i - 1] >= 300, `runs ${runs}`);
    // the last trigger (t = 1000) is followed by a run: the trailing call is guaranteed
    assert.ok(runs[runs.length - 1] >= 1000, `runs ${runs}`);
    assert.deepEqual(runs, [0, 300, 600, 900, 1200]);
});

test("triggers within the interval merge into one trailing run", () => {
    const { clock, runs, throttle } = setup(300);
    throttle.trigger();
    clock.advance(10);
    throttle.trigger();
    throttle.trigger();
    throttle.trigger();
    assert.equal(throttle.pending, true);
    clock.advance(289);
    assert.deepEqual(runs, [0]);
    clock.advance(1);
    assert.deepEqual(runs, [0, 300]);
    assert.equal(throttle.pending, false);
});

test("after a quiet interval the next trigger is immediate again", () => {
    const { clock, runs, throttle } = setup(300);
    throttle.trigger();
    clock.advance(500);
    throttle.trigger();
    assert.deepEqual(runs, [0, 500]);
});

test("now() runs at once and replaces the scheduled run", () => {
    const { clock, runs, throttle } = setup(300);
    throttle.trigger();
    clock.advance(50);
    throttle.trigger();
    throttle.now();
    assert.deepEqual(runs, [0, 50]);
    clock.advance(1000);
    assert.deepEqual(runs, [0, 50]);
    assert.equal(clock.scheduled, 0);
});

test("the interval is read at each trigger; 0 runs every time", () => {
    const clock = new ManualClock();
    let interval = 0;
    const runs: number[] = [];
    const throttle = new Throttle(() => runs.push(clock.now()), () => interval, clock);
    throttle.trigger();
    throttle.trigger();
    assert.deepEqual(runs, [0, 0]);
    interval = 100;
    throttle.trigger();
    assert.deepEqual(runs, [0, 0]);
    clock.advance(100);
    assert.deepEqual(runs, [0, 0, 100]);
});

test("dispose cancels the scheduled run and ignores later triggers", () => {
    const { clock, runs, throttle } = setup(300);
    throttle.trigger();
    throttle.trigger();
    throttle.dispose();
    clock.advance(1000);
    throttle.trigger();
    throttle.now();
    assert.deepEqual(runs, [0]);
});
