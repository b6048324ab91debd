import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {toHex} from "../../../protocol/ots/bytes.ts";
import {pending} from "../../../protocol/ots/attestations.ts";
import {Aggregator, AggregatorError} from "../../../node/calendar/aggregator.ts";
import type {Calendar} from "../../../node/calendar/calendar.ts";
import type {CalendarRegistry} from "../../../node/calendar/registry.ts";
import {systemClock} from "../../../node/clock.ts";
import {nullLogger} from "../../../node/logger.ts";
import {withTimeout} from "../../support/timeout.ts";
import {openRegistry, proofLeaf, removeDir, tempDir} from "./support.ts";

const URL_ = "http://calendar.test:8080";

async function setup(dir: string, roundIntervalMs: number, maxQueue: number): Promise<{cal: Calendar & {close(): Promise<void>}; agg: Aggregator}> {
  const reg: CalendarRegistry = await openRegistry(dir, 1 << 20);
  const cal = Object.assign(reg.own, {close: () => reg.close()});
  const agg = new Aggregator({roundIntervalMs, maxQueue}, {calendar: cal, logger: nullLogger, metrics: null, clock: systemClock}, () => URL_);
  return {cal, agg};
}

// ---
const Agg = suite("node/calendar/aggregator Aggregator");

Agg("should answer every digest with a proof ending at its journaled commitment :: 300 concurrent, 0..64 bytes", withTimeout(20_000, async () => {
  const dir = await tempDir();
  try {
    const {cal, agg} = await setup(dir, 0, 10_000);
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
      await cal.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

Agg("should refuse beyond the queue bound and commit everything queued on stop :: round interval 60 s", withTimeout(20_000, async () => {
  const dir = await tempDir();
  try {
    const {cal, agg} = await setup(dir, 60_000, 3);
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
      await cal.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

Agg.run();
