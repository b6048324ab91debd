import {suite} from "uvu";
import * as assert from "uvu/assert";
import {Lifecycle, runEvery, sleep, Waker} from "../../node/lifecycle.ts";
import {withTimeout} from "../support/timeout.ts";

/** Records what the base class asked of it. */
class Probe extends Lifecycle {
  calls: string[] = [];
  failStart = false;
  seen: AbortSignal | null = null;

  protected async onStart(signal: AbortSignal): Promise<void> {
    this.calls.push("start");
    this.seen = signal;
    await sleep(5);
    if (this.failStart) throw new Error("cannot start");
  }

  protected async onStop(): Promise<void> {
    this.calls.push(`stop(aborted=${this.seen?.aborted})`);
    await sleep(5);
  }
}

// ---

const lifecycle = suite("node/lifecycle Lifecycle");

lifecycle("should start and stop once however often it is asked :: idempotent", withTimeout(5_000, async () => {
  const p = new Probe();
  assert.is(p.status, "stopped");
  await Promise.all([p.start(), p.start()]);
  assert.is(p.status, "started");
  await p.start();
  await Promise.all([p.stop(), p.stop()]);
  await p.stop();
  assert.is(p.status, "stopped");
  assert.equal(p.calls, ["start", "stop(aborted=true)"]);
}));

lifecycle("should run again after a stop with a fresh signal :: restartable", withTimeout(5_000, async () => {
  const p = new Probe();
  await p.start();
  const first = p.seen;
  await p.stop();
  await p.start();
  assert.is(p.status, "started");
  assert.ok(first?.aborted, "the first run's signal was aborted");
  assert.not.ok(p.seen?.aborted, "the second run has its own signal");
  await p.stop();
}));

lifecycle("should be stopped again when onStart throws :: failed start", withTimeout(5_000, async () => {
  const p = new Probe();
  p.failStart = true;
  try {
    await p.start();
    assert.unreachable("start should have thrown");
  } catch (e) {
    assert.is((e as Error).message, "cannot start");
  }
  assert.is(p.status, "stopped");
  assert.ok(p.seen?.aborted, "the failed run's signal is aborted");
  p.failStart = false;
  await p.start();
  assert.is(p.status, "started");
  await p.stop();
}));

lifecycle("should report starting and stopping while they happen :: status", withTimeout(5_000, async () => {
  const p = new Probe();
  const starting = p.start();
  await sleep(1);
  assert.is(p.status, "starting");
  await starting;
  const stopping = p.stop();
  await sleep(1);
  assert.is(p.status, "stopping");
  await stopping;
  assert.is(p.status, "stopped");
}));

lifecycle.run();

// ---

const loops = suite("node/lifecycle sleep, Waker, runEvery");

loops("should end a sleep at once when its signal aborts :: sleep", withTimeout(5_000, async () => {
  const ac = new AbortController();
  const t0 = performance.now();
  const s = sleep(60_000, ac.signal);
  ac.abort();
  await s;
  assert.ok(performance.now() - t0 < 1_000);
  await sleep(60_000, AbortSignal.abort());
}));

loops("should tick, wait, and tick again at once when woken :: runEvery + Waker", withTimeout(5_000, async () => {
  const ac = new AbortController();
  const waker = new Waker();
  let ticks = 0;
  const errors: unknown[] = [];
  const loop = runEvery(60_000, ac.signal, async () => {
    ticks++;
    if (ticks === 2) throw new Error("tick failed");
  }, {waker, onError: (e) => errors.push(e)});
  await sleep(10);
  assert.is(ticks, 1, "the first tick runs at once");
  waker.wake();
  await sleep(10);
  assert.is(ticks, 2, "woken: the second tick runs without waiting the interval");
  assert.is(errors.length, 1, "a failing tick is reported");
  waker.wake();
  await sleep(10);
  assert.is(ticks, 3, "the loop survives a failing tick");
  ac.abort();
  await loop;
}));

loops.run();
