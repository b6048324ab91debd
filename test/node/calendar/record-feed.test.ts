import {suite} from "uvu";
import * as assert from "uvu/assert";
import {bytesEqual, toHex} from "../../../protocol/ots/bytes.ts";
import {sha256} from "../../../protocol/ots/hashes.ts";
import {genesisChainHash, nextChainHash} from "../../../protocol/journal/chain.ts";
import {roundCommitment} from "../../../protocol/journal/commitment.ts";
import {decodeFrame, RecordKind} from "../../../protocol/journal/record.ts";
import {decodeRound} from "../../../protocol/journal/round.ts";
import type {Calendar} from "../../../node/calendar/calendar.ts";
import type {JournalRecord} from "../../../node/calendar/journal-store.ts";
import {sleep} from "../../../node/lifecycle.ts";
import {withTimeout} from "../../support/timeout.ts";
import {openRegistry, removeDir, tempDir} from "./support.ts";

const root = (i: number): Uint8Array => sha256(Uint8Array.of(i & 0xff, (i >> 8) & 0xff, i >> 16));

/** Read `n` records from a feed (stopping it then), checking order, frames and the chain on the way. */
async function take(feed: AsyncIterable<readonly JournalRecord[]>, n: number, from: number, chainBefore: Uint8Array, slow = 0): Promise<JournalRecord[]> {
  const out: JournalRecord[] = [];
  let chain = chainBefore;
  for await (const batch of feed) {
    for (const r of batch) {
      assert.is(r.seq, from + out.length, "in order, no gap, no repeat");
      const f = decodeFrame(r.frame, 0);
      assert.is(f.end, r.frame.length, "one whole frame");
      assert.is(f.kind, r.kind);
      chain = nextChainHash(chain, f.body);
      assert.ok(bytesEqual(chain, r.chainHash), `chain hash of record ${r.seq}`);
      out.push(r);
    }
    if (slow > 0) await sleep(slow);
    if (out.length >= n) break;
  }
  return out;
}

async function commit(cal: Calendar, from: number, n: number): Promise<void> {
  for (let i = from; i < from + n; i++) await cal.commitRound(root(i), 1, i);
}

// ---
const feed = suite("node/calendar/record-feed RecordFeed");

feed("should deliver history then live records, in order, with frames and chain hashes :: from 0", withTimeout(30_000, async () => {
  const dir = await tempDir();
  try {
    const reg = await openRegistry(dir, 4096);
    try {
      const cal = reg.own;
      await commit(cal, 0, 150);
      const reading = take(cal.feed(0), 300, 0, genesisChainHash(cal.id));
      await commit(cal, 150, 150);
      const got = await reading;
      assert.is(got.length, 300);
      assert.ok(cal.store.segmentCount > 2, "history spans several segments");
      assert.equal(got.map((r) => toHex(decodeRound(r.payload).root)), Array.from({length: 300}, (_, i) => toHex(root(i))));
      assert.ok(bytesEqual((got[299] as JournalRecord).chainHash, cal.store.chainHash));
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

feed("should let a consumer fall behind and catch up from the journal, never holding the writer :: back-pressure", withTimeout(60_000, async () => {
  const dir = await tempDir();
  try {
    const reg = await openRegistry(dir, 8192);
    try {
      const cal = reg.own;
      // Holds at most 20 records in memory, reads from disk 7 at a time.
      const f = cal.feed(cal.length, cal.store.chainHash, {maxBuffered: 20, batchSize: 7});
      const chain = cal.store.chainHash;
      // The consumer reads nothing while 300 records are written: every write completes anyway.
      await commit(cal, 0, 300);
      const reading = take(f, 400, 0, chain, 2);
      // More arrive while it catches up, some queued in memory, some not.
      await commit(cal, 300, 100);
      const got = await reading;
      assert.is(got.length, 400, "every record, none twice");
      assert.ok(f.readFromJournal >= 280, `most came from the journal, not memory (${f.readFromJournal})`);
      assert.ok(got.every((r) => r.kind === RecordKind.ROUND));
      assert.ok(bytesEqual((got[399] as JournalRecord).chainHash, cal.store.chainHash));
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

feed("should end a pending read when closed, and feed nothing after :: close", withTimeout(10_000, async () => {
  const dir = await tempDir();
  try {
    const reg = await openRegistry(dir);
    try {
      const cal = reg.own;
      const f = cal.feed();
      const pending = f.next();
      await sleep(5);
      await f.close();
      assert.equal(await pending, {done: true, value: undefined});
      await commit(cal, 0, 3);
      assert.equal(await f.next(), {done: true, value: undefined});
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

feed("should tell registry subscribers of every calendar's records once indexed :: onRecords", withTimeout(10_000, async () => {
  const dir = await tempDir();
  try {
    const reg = await openRegistry(dir);
    try {
      const cal = reg.own;
      const seen: string[] = [];
      const off = reg.onRecords((c, records) => {
        for (const r of records) seen.push(`${c.role}:${r.seq}`);
      });
      // Looked up from inside the notification: the index already has it.
      const lookups: Array<Promise<unknown>> = [];
      cal.onRecords((records) => {
        for (const r of records) lookups.push(cal.lookup(roundCommitment(decodeRound(r.payload).root, cal.tag, r.seq)));
      });
      await commit(cal, 0, 4);
      off();
      await commit(cal, 4, 1);
      assert.equal(seen, ["origin:0", "origin:1", "origin:2", "origin:3"]);
      assert.equal(await Promise.all(lookups), [0, 1, 2, 3, 4].map((seq) => ({state: "pending", seq})));
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

feed.run();
