import {suite} from "uvu";
import * as assert from "uvu/assert";
import {createHash} from "node:crypto";
import {bytesEqual, concatBytes, toHex} from "../../../protocol/ots/bytes.ts";
import {pending} from "../../../protocol/ots/attestations.ts";
import {MerkleTree} from "../../../protocol/ots/merkle.ts";
import {commitmentOp, roundCommitment} from "../../../protocol/journal/commitment.ts";
import {encodeAttestationLeaf, encodePartialProof} from "../../../protocol/journal/proof.ts";
import {Aggregator} from "../../../node/calendar/aggregator.ts";
import {CalendarRoundSink} from "../../../node/calendar/calendar-round-sink.ts";
import type {RoundJournal} from "../../../node/calendar/calendar-round-sink.ts";
import {systemClock} from "../../../node/clock.ts";
import {nullLogger} from "../../../node/logger.ts";
import {withTimeout} from "../../support/timeout.ts";

const TAG = Uint8Array.of(1, 2, 3, 4);

/** A journal in memory: rounds get seq 0, 1, 2…; `failing` refuses them. */
class MemoryJournal implements RoundJournal {
  readonly tag = TAG;
  readonly rounds: Array<{root: Uint8Array; leaves: number; timeMs: number}> = [];
  failing = false;

  async commitRound(root: Uint8Array, leaves: number, timeMs: number): Promise<{seq: number; commitment: Uint8Array}> {
    if (this.failing) throw new Error("journal write failed");
    const seq = this.rounds.push({root, leaves, timeMs}) - 1;
    return {seq, commitment: roundCommitment(root, TAG, seq)};
  }
}

// ---
const Sink = suite("node/calendar/calendar-round-sink CalendarRoundSink");

Sink("should give append(tag ‖ seq) then Pending(url) as the tail :: two rounds, the URL read at each", withTimeout(5_000, async () => {
  const journal = new MemoryJournal();
  let url = "http://127.0.0.1:1";
  const sink = new CalendarRoundSink({calendar: journal, url: () => url});
  const a = await sink.commitRound(new Uint8Array(32).fill(9), 3, 1234);
  assert.equal(journal.rounds, [{root: new Uint8Array(32).fill(9), leaves: 3, timeMs: 1234}]);
  assert.equal(a.logContext, {seq: 0});
  // f0 0c <tag ‖ seq as u64 BE> 00 <Pending>
  assert.is(toHex(a.tail), `f00c01020304${"00".repeat(8)}${toHex(encodeAttestationLeaf(pending(url)))}`);
  url = "http://127.0.0.1:2";
  const b = await sink.commitRound(new Uint8Array(32), 1, 1235);
  assert.equal(b.logContext, {seq: 1});
  assert.is(toHex(b.tail), `f00c01020304${"00".repeat(7)}01${toHex(encodeAttestationLeaf(pending(url)))}`);
}));

Sink("should reject when the calendar could not journal the round :: journal fails", withTimeout(5_000, async () => {
  const journal = new MemoryJournal();
  journal.failing = true;
  const sink = new CalendarRoundSink({calendar: journal, url: () => "http://x.test"});
  try {
    await sink.commitRound(new Uint8Array(32), 1, 0);
    assert.unreachable("resolved without a record");
  } catch (e) {
    assert.is((e as Error).message, "journal write failed");
  }
}));

Sink("should make the aggregator's proofs byte-identical to encodePartialProof :: 7 digests in one round", withTimeout(5_000, async () => {
  const journal = new MemoryJournal();
  const url = "http://calendar.test";
  // The interval holds the seven back while the first round commits, so they share the second.
  const agg = new Aggregator({roundIntervalMs: 50, maxQueue: 100}, {sink: new CalendarRoundSink({calendar: journal, url: () => url}), logger: nullLogger, metrics: null, clock: systemClock});
  await agg.start();
  try {
    await agg.submit(new Uint8Array(32));
    const digests = Array.from({length: 7}, (_, i) => new Uint8Array(i * 9).fill(i));
    const proofs = await Promise.all(digests.map((d) => agg.submit(d)));
    assert.equal(journal.rounds.map((r) => r.leaves), [1, 7]);
    // f0 10 <nonce>: rebuild the round's tree from each digest and its nonce.
    const nonces = proofs.map((p) => p.subarray(2, 18));
    const tree = new MerkleTree(digests.map((d, i) => new Uint8Array(createHash("sha256").update(concatBytes(d, nonces[i] as Uint8Array)).digest())));
    assert.ok(bytesEqual(tree.root, journal.rounds[1]?.root as Uint8Array), "the journaled root");
    for (const [i, p] of proofs.entries()) {
      const expected = encodePartialProof(nonces[i] as Uint8Array, tree.path(i), commitmentOp(TAG, 1), encodeAttestationLeaf(pending(url)));
      assert.is(toHex(p), toHex(expected), `digest ${i}`);
    }
  } finally {
    await agg.stop();
  }
}));

Sink.run();
