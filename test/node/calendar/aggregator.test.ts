import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {ByteWriter, bytesEqual, concatBytes, toHex} from "../../../protocol/ots/bytes.ts";
import {pending} from "../../../protocol/ots/attestations.ts";
import {append, encodeOp} from "../../../protocol/ots/ops.ts";
import {encodeAttestationLeaf} from "../../../protocol/journal/proof.ts";
import {Aggregator, AggregatorError} from "../../../node/calendar/aggregator.ts";
import type {Calendar} from "../../../node/calendar/calendar.ts";
import type {CalendarRegistry} from "../../../node/calendar/registry.ts";
import {CalendarRoundSink} from "../../../node/calendar/calendar-round-sink.ts";
import type {RoundReceipt, RoundSink} from "../../../node/calendar/round-sink.ts";
import {systemClock} from "../../../node/clock.ts";
import {nullLogger} from "../../../node/logger.ts";
import {withTimeout} from "../../support/timeout.ts";
import {openRegistry, proofLeaf, removeDir, tempDir} from "./support.ts";

const URL_ = "http://calendar.test:8080";

/** A real calendar (the own one of a data dir) behind the aggregator. */
async function setup(dir: string, roundIntervalMs: number, maxQueue: number): Promise<{reg: CalendarRegistry; cal: Calendar; agg: Aggregator}> {
  const reg = await openRegistry(dir, 1 << 20);
  const cal = reg.own;
  const agg = new Aggregator({roundIntervalMs, maxQueue}, {sink: new CalendarRoundSink({calendar: cal, url: () => URL_}), logger: nullLogger, metrics: null, clock: systemClock});
  await agg.start();
  return {reg, cal, agg};
}

/** The fake sink's tail: `append(fa 4e)` then Pending: the proof's leaf message is `root ‖ fa 4e`. */
const TAIL_ARG = Uint8Array.of(0xfa, 0x4e);
const FAKE_URL = "http://fake-sink.test";
const TAIL = ((): Uint8Array => {
  const w = new ByteWriter();
  encodeOp(append(TAIL_ARG), w);
  w.writeBytes(encodeAttestationLeaf(pending(FAKE_URL)));
  return w.finish();
})();

type Commit = {root: Uint8Array; leaves: number; timeMs: number; release: () => void; fail: (e: Error) => void};

/** An in-memory sink: every round waits until the test releases (or fails) it, unless `autoRelease`. */
class FakeSink implements RoundSink {
  readonly commits: Commit[] = [];
  autoRelease = false;
  private arrivals: Array<(c: Commit) => void> = [];

  commitRound(root: Uint8Array, leaves: number, timeMs: number): Promise<RoundReceipt> {
    return new Promise((resolve, reject) => {
      const receipt = {tail: TAIL, logContext: {round: this.commits.length}};
      const c: Commit = {root, leaves, timeMs, release: () => resolve(receipt), fail: reject};
      this.commits.push(c);
      if (this.autoRelease) c.release();
      for (const arrived of this.arrivals.splice(0)) arrived(c);
    });
  }

  /** The `k`-th round (0-based), once the aggregator has handed it over. */
  round(k: number): Promise<Commit> {
    const c = this.commits[k];
    if (c) return Promise.resolve(c);
    return new Promise((resolve) => {
      const check = (): void => {
        const got = this.commits[k];
        if (got) resolve(got);
        else this.arrivals.push(check);
      };
      this.arrivals.push(check);
    });
  }
}

/** Whether `p` has settled by the time everything already due has run (the sink's answer included). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((r) => setImmediate(r));
  return done;
}

function fakeAggregator(sink: FakeSink, roundIntervalMs = 0, maxQueue = 1000): Aggregator {
  return new Aggregator({roundIntervalMs, maxQueue}, {sink, logger: nullLogger, metrics: null, clock: systemClock});
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AggregatorError) return e.code;
    throw e;
  }
  return "resolved";
}

// ---
const Agg = suite("node/calendar/aggregator Aggregator");

Agg("should answer every digest with a proof ending at its journaled commitment :: 300 concurrent, 0..64 bytes", withTimeout(20_000, async () => {
  const dir = await tempDir();
  try {
    const {reg, cal, agg} = await setup(dir, 0, 10_000);
    try {
      const digests = Array.from({length: 300}, (_, i) => new Uint8Array(randomBytes(i % 65)));
      const proofs = await Promise.all(digests.map((d) => agg.submit(d)));
      const seenNonces = new Set<string>();
      for (const [i, proof] of proofs.entries()) {
        const d = digests[i] as Uint8Array;
        const leaf = proofLeaf(proof, d);
        assert.is(leaf.msg.length, 44, `digest ${i}`);
        assert.equal(leaf.attestations, [pending(URL_)]);
        assert.ok(await cal.lookup(leaf.msg), `commitment of digest ${i} is pending`);
        // f0 10 <nonce>: each digest gets its own fresh nonce.
        assert.is(toHex(proof.subarray(0, 2)), "f010");
        seenNonces.add(toHex(proof.subarray(2, 18)));
      }
      assert.is(seenNonces.size, 300);
      assert.ok(cal.store.length < 300, `group commit batched rounds (${cal.store.length} rounds)`);
    } finally {
      await agg.stop();
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

Agg("should refuse beyond the queue bound and commit everything queued on stop :: round interval 60 s", withTimeout(20_000, async () => {
  const dir = await tempDir();
  try {
    const {reg, cal, agg} = await setup(dir, 60_000, 3);
    try {
      const first = await agg.submit(new Uint8Array(32).fill(1));
      assert.ok(first.length > 0);
      // The next round may not start for a minute: three wait, the fourth is refused.
      const waiting = [2, 3, 4].map((b) => agg.submit(new Uint8Array(32).fill(b)));
      try {
        await agg.submit(new Uint8Array(32).fill(5));
        assert.unreachable("queue bound not enforced");
      } catch (e) {
        assert.ok(e instanceof AggregatorError);
        assert.is(e.code, "AGGREGATOR_OVERLOADED");
      }
      await agg.stop();
      const proofs = await Promise.all(waiting);
      for (const [i, p] of proofs.entries()) assert.ok(await cal.lookup(proofLeaf(p, new Uint8Array(32).fill(i + 2)).msg), `queued digest ${i}`);
      assert.is(cal.store.length, 2, "one round before, one flushed at stop");
      try {
        await agg.submit(new Uint8Array(1));
        assert.unreachable("accepted after stop");
      } catch (e) {
        assert.is((e as AggregatorError).code, "AGGREGATOR_STOPPING");
      }
    } finally {
      await agg.stop();
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

Agg("should answer only after the sink resolved, with nonce, path and the sink's tail :: fake sink, held round", withTimeout(5_000, async () => {
  const sink = new FakeSink();
  const agg = fakeAggregator(sink);
  await agg.start();
  try {
    const digest = new Uint8Array(32).fill(7);
    const proof = agg.submit(digest);
    const c = await sink.round(0);
    assert.is(c.leaves, 1);
    assert.is(c.root.length, 32);
    assert.not.ok(await settled(proof), "answered before the round was durable");
    c.release();
    const bytes = await proof;
    const leaf = proofLeaf(bytes, digest);
    assert.ok(bytesEqual(leaf.msg, concatBytes(c.root, TAIL_ARG)), "digest → nonce → root, then the tail's op");
    assert.equal(leaf.attestations, [pending(FAKE_URL)]);
    assert.ok(bytesEqual(bytes.subarray(bytes.length - TAIL.length), TAIL), "the proof ends with the tail, byte for byte");
  } finally {
    sink.autoRelease = true;
    for (const c of sink.commits) c.release();
    await agg.stop();
  }
}));

Agg("should put everything queued during a commit into the next round :: group commit, fake sink", withTimeout(5_000, async () => {
  const sink = new FakeSink();
  const agg = fakeAggregator(sink);
  await agg.start();
  try {
    const digests = Array.from({length: 11}, (_, i) => new Uint8Array(32).fill(i));
    const first = agg.submit(digests[0] as Uint8Array);
    const r0 = await sink.round(0);
    const rest = digests.slice(1).map((d) => agg.submit(d));
    assert.is(agg.queueDepth, 10, "queued behind the round in flight");
    assert.is(sink.commits.length, 1, "never two commits at once");
    r0.release();
    await first;
    const r1 = await sink.round(1);
    assert.is(r1.leaves, 10);
    r1.release();
    const proofs = await Promise.all(rest);
    for (const [i, p] of proofs.entries()) assert.ok(bytesEqual(proofLeaf(p, digests[i + 1] as Uint8Array).msg, concatBytes(r1.root, TAIL_ARG)), `digest ${i + 1} in the second round`);
    assert.is(sink.commits.length, 2);
  } finally {
    sink.autoRelease = true;
    for (const c of sink.commits) c.release();
    await agg.stop();
  }
}));

Agg("should reject every digest of a round the sink refused, then go on :: sink rejects", withTimeout(5_000, async () => {
  const sink = new FakeSink();
  const agg = fakeAggregator(sink);
  await agg.start();
  try {
    const first = agg.submit(new Uint8Array(32).fill(1));
    const r0 = await sink.round(0);
    const queued = [agg.submit(new Uint8Array(32).fill(2)), agg.submit(new Uint8Array(32).fill(3))];
    r0.fail(new Error("disk on fire"));
    assert.is(await codeOf(first), "AGGREGATOR_JOURNAL_FAILED");
    const r1 = await sink.round(1);
    r1.fail(new Error("still on fire"));
    assert.equal(await Promise.all(queued.map(codeOf)), ["AGGREGATOR_JOURNAL_FAILED", "AGGREGATOR_JOURNAL_FAILED"]);
    // The next round is a fresh try.
    sink.autoRelease = true;
    const later = await agg.submit(new Uint8Array(32).fill(4));
    assert.ok(later.length > 0);
  } finally {
    sink.autoRelease = true;
    await agg.stop();
  }
}));

Agg("should start rounds no closer than the round interval, unless told to skip it :: 150 ms interval", withTimeout(5_000, async () => {
  const sink = new FakeSink();
  sink.autoRelease = true;
  const agg = fakeAggregator(sink, 150);
  await agg.start();
  try {
    await agg.submit(new Uint8Array(1));
    const t0 = performance.now();
    const second = agg.submit(new Uint8Array(2));
    assert.not.ok(await settled(second), "a round started within the interval");
    await second;
    // Timers may fire a millisecond early; the interval is still kept.
    assert.ok(performance.now() - t0 >= 140, `second round after ${performance.now() - t0} ms`);
    const third = agg.submit(new Uint8Array(3));
    assert.not.ok(await settled(third));
    agg.skipRoundInterval();
    const t1 = performance.now();
    await third;
    assert.ok(performance.now() - t1 < 140, "skipRoundInterval ends the wait");
    assert.equal(sink.commits.map((c) => c.leaves), [1, 1, 1]);
  } finally {
    await agg.stop();
  }
}));

Agg("should refuse beyond the queue bound :: maxQueue 2, a round in flight", withTimeout(5_000, async () => {
  const sink = new FakeSink();
  const agg = fakeAggregator(sink, 0, 2);
  await agg.start();
  try {
    const inRound = agg.submit(new Uint8Array(1));
    const r0 = await sink.round(0);
    // The round in flight holds its digest; two more may wait, the next is refused.
    const queued = [agg.submit(new Uint8Array(2)), agg.submit(new Uint8Array(3))];
    assert.is(agg.queueDepth, 2);
    assert.is(await codeOf(agg.submit(new Uint8Array(4))), "AGGREGATOR_OVERLOADED");
    assert.is(await codeOf(agg.submit(new Uint8Array(65))), "AGGREGATOR_DIGEST_TOO_LONG");
    sink.autoRelease = true;
    r0.release();
    await Promise.all([inRound, ...queued]);
    assert.is(agg.queueDepth, 0);
  } finally {
    sink.autoRelease = true;
    await agg.stop();
  }
}));

Agg("should take digests only while started and commit the queue on stop :: before start, stop mid-interval, after stop", withTimeout(5_000, async () => {
  const sink = new FakeSink();
  sink.autoRelease = true;
  const agg = fakeAggregator(sink, 60_000);
  assert.is(await codeOf(agg.submit(new Uint8Array(1))), "AGGREGATOR_STOPPING", "not started");
  await agg.start();
  await agg.submit(new Uint8Array(1));
  const queued = [2, 3, 4].map((b) => agg.submit(new Uint8Array(1).fill(b)));
  assert.is(agg.queueDepth, 3, "waiting for the 60 s interval");
  await agg.stop();
  assert.equal((await Promise.all(queued)).map((p) => p.length > 0), [true, true, true], "answered before stop() resolved");
  assert.equal(sink.commits.map((c) => c.leaves), [1, 3]);
  assert.is(await codeOf(agg.submit(new Uint8Array(1))), "AGGREGATOR_STOPPING", "after stop");
}));

Agg.run();
