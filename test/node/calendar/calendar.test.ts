import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {rm} from "node:fs/promises";
import {join} from "node:path";
import {toHex} from "../../../protocol/ots/bytes.ts";
import {Calendar} from "../../../node/calendar/calendar.ts";
import {CommitmentIndex} from "../../../node/calendar/commitment-index.ts";
import {reindex} from "../../../node/calendar/reindex.ts";
import {JournalStore} from "../../../node/calendar/journal-store.ts";
import {roundCommitment} from "../../../protocol/journal/commitment.ts";
import {RecordKind} from "../../../protocol/journal/record.ts";
import {encodeRound} from "../../../protocol/journal/round.ts";
import {loadOrCreateIdentity} from "../../../node/identity.ts";
import {nullLogger} from "../../../node/logger.ts";
import {withTimeout} from "../../support/timeout.ts";
import {removeDir, tempDir} from "./support.ts";

async function openCalendar(dir: string): Promise<Calendar> {
  const {identity} = await loadOrCreateIdentity(dir);
  return Calendar.open(dir, {segmentBytes: 8192}, {logger: nullLogger, metrics: null, identity});
}

async function dumpIndex(dir: string): Promise<string[]> {
  const idx = await CommitmentIndex.open(join(dir, "index"));
  try {
    const out: string[] = [];
    for await (const e of idx.entries()) out.push(`${toHex(e.commitment)}=${e.pos.seq}/${e.pos.segment}/${e.pos.offset}`);
    return out;
  } finally {
    await idx.close();
  }
}

// ---
const Cal = suite("node/calendar/calendar Calendar");

Cal("should find every committed round and nothing else :: lookups", withTimeout(20_000, async () => {
  const dir = await tempDir();
  try {
    const cal = await openCalendar(dir);
    try {
      const commitments = [];
      for (let i = 0; i < 50; i++) commitments.push((await cal.commitRound(new Uint8Array(randomBytes(32)), 3, 1000 + i)).commitment);
      for (const [i, c] of commitments.entries()) assert.equal(await cal.lookup(c), {state: "pending", seq: i}, `round ${i}`);
      const forged = Uint8Array.from(commitments[7] as Uint8Array);
      forged[0] = (forged[0] as number) ^ 1;
      assert.is(await cal.lookup(forged), null, "a different root with a real tag and seq");
      assert.is(await cal.lookup(new Uint8Array(32)), null);
      assert.is(await cal.lookup(new Uint8Array(44)), null);
    } finally {
      await cal.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

Cal("should give the same index after deleting it, after reindex, and after catch-up :: equivalence", withTimeout(30_000, async () => {
  const dir = await tempDir();
  try {
    let cal = await openCalendar(dir);
    for (let i = 0; i < 400; i++) await cal.commitRound(new Uint8Array(randomBytes(32)), 1 + (i % 5), 5000 + i);
    assert.ok(cal.store.segmentCount > 1, "spans several segments");
    await cal.close();
    const original = await dumpIndex(dir);
    assert.is(original.length, 400);

    await rm(join(dir, "index"), {recursive: true});
    cal = await openCalendar(dir);
    assert.is(cal.indexSync.mode, "rebuild");
    await cal.close();
    assert.equal(await dumpIndex(dir), original, "rebuilt on start");

    const r = await reindex(dir, nullLogger);
    assert.is(r.records, 400);
    assert.equal(await dumpIndex(dir), original, "otsfed reindex");

    // A node killed between the journal fsync and the index write leaves the
    // index behind: append to the journal alone, then start.
    const {identity} = await loadOrCreateIdentity(dir);
    const {store} = await JournalStore.open(dir, {segmentBytes: 8192}, {logger: nullLogger, metrics: null, identity});
    const roots = Array.from({length: 5}, () => new Uint8Array(randomBytes(32)));
    for (const root of roots) await store.append([{kind: RecordKind.ROUND, payload: encodeRound({timeMs: 1, leaves: 1, root})}]);
    await store.close();
    cal = await openCalendar(dir);
    assert.is(cal.indexSync.mode, "catch-up");
    assert.is(cal.indexSync.records, 5);
    for (const [i, root] of roots.entries()) assert.equal(await cal.lookup(roundCommitment(root, cal.tag, 400 + i)), {state: "pending", seq: 400 + i});
    await cal.close();
    cal = await openCalendar(dir);
    assert.is(cal.indexSync.mode, "current");
    await cal.close();
  } finally {
    await removeDir(dir);
  }
}));

Cal("should catch up an index that is behind and rebuild one that is ahead :: index high-water mark", withTimeout(30_000, async () => {
  const a = await tempDir();
  try {
    let cal = await openCalendar(a);
    for (let i = 0; i < 30; i++) await cal.commitRound(new Uint8Array(randomBytes(32)), 1, i);
    await cal.close();
    // Move the mark back to 10 records: the next start must index 10..29 again.
    const idx = await CommitmentIndex.open(join(a, "index"));
    await idx.put([], 10, new Uint8Array(32));
    await idx.close();
    cal = await openCalendar(a);
    // The fake mark's chain hash does not match the journal's at 10: rebuild, not trust.
    assert.is(cal.indexSync.mode, "rebuild");
    assert.is(cal.indexSync.records, 30);
    await cal.close();
  } finally {
    await removeDir(a);
  }
}));

Cal("should refuse a second opener of the same data dir :: LevelDB lock", withTimeout(20_000, async () => {
  const dir = await tempDir();
  try {
    const cal = await openCalendar(dir);
    try {
      await openCalendar(dir);
      assert.unreachable("second open succeeded");
    } catch (e) {
      assert.is((e as {code?: string}).code, "STORE_IN_USE");
    } finally {
      await cal.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

Cal.run();
