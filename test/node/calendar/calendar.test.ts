import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {rm} from "node:fs/promises";
import {join} from "node:path";
import {toHex} from "../../../protocol/ots/bytes.ts";
import {CommitmentIndex} from "../../../node/calendar/commitment-index.ts";
import {reindex} from "../../../node/calendar/reindex.ts";
import {roundCommitment} from "../../../protocol/journal/commitment.ts";
import {RecordKind} from "../../../protocol/journal/record.ts";
import {encodeRound} from "../../../protocol/journal/round.ts";
import {nullLogger} from "../../../node/logger.ts";
import {withTimeout} from "../../support/timeout.ts";
import {openOwnJournal, openRegistry, removeDir, tempDir} from "./support.ts";

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
    const reg = await openRegistry(dir);
    const cal = reg.own;
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
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

Cal("should give the same index after deleting it, after reindex, and after catch-up :: equivalence", withTimeout(30_000, async () => {
  const dir = await tempDir();
  try {
    let reg = await openRegistry(dir);
    let cal = reg.own;
    for (let i = 0; i < 400; i++) await cal.commitRound(new Uint8Array(randomBytes(32)), 1 + (i % 5), 5000 + i);
    assert.ok(cal.store.segmentCount > 1, "spans several segments");
    await reg.close();
    const original = await dumpIndex(dir);
    assert.is(original.length, 400);

    await rm(join(dir, "index"), {recursive: true});
    reg = await openRegistry(dir);
    cal = reg.own;
    assert.is(cal.indexSync.mode, "rebuild");
    await reg.close();
    assert.equal(await dumpIndex(dir), original, "rebuilt on start");

    const r = await reindex(dir, nullLogger);
    assert.is(r.records, 400);
    assert.equal(await dumpIndex(dir), original, "otsfed reindex");

    // A node killed between the journal fsync and the index write leaves the
    // index behind: append to the journal alone, then start.
    const store = await openOwnJournal(dir);
    const roots = Array.from({length: 5}, () => new Uint8Array(randomBytes(32)));
    for (const root of roots) await store.append([{kind: RecordKind.ROUND, payload: encodeRound({timeMs: 1, leaves: 1, root})}]);
    await store.close();
    reg = await openRegistry(dir);
    cal = reg.own;
    assert.is(cal.indexSync.mode, "catch-up");
    assert.is(cal.indexSync.records, 5);
    for (const [i, root] of roots.entries()) assert.equal(await cal.lookup(roundCommitment(root, cal.tag, 400 + i)), {state: "pending", seq: 400 + i});
    await reg.close();
    reg = await openRegistry(dir);
    cal = reg.own;
    assert.is(cal.indexSync.mode, "current");
    await reg.close();
  } finally {
    await removeDir(dir);
  }
}));

Cal("should catch up an index that is behind and rebuild one that is ahead :: index high-water mark", withTimeout(30_000, async () => {
  const a = await tempDir();
  try {
    let reg = await openRegistry(a);
    let cal = reg.own;
    for (let i = 0; i < 30; i++) await cal.commitRound(new Uint8Array(randomBytes(32)), 1, i);
    const {id, tag} = cal;
    await reg.close();
    // Move the mark back to 10 records: the next start must index 10..29 again.
    const idx = await CommitmentIndex.open(join(a, "index"));
    await idx.put(tag, [], {calendarId: id, length: 10, chainHash: new Uint8Array(32)});
    await idx.close();
    reg = await openRegistry(a);
    cal = reg.own;
    // The fake mark's chain hash does not match the journal's at 10: rebuild, not trust.
    assert.is(cal.indexSync.mode, "rebuild");
    assert.is(cal.indexSync.records, 30);
    await reg.close();
  } finally {
    await removeDir(a);
  }
}));

Cal("should refuse a second opener of the same data dir :: LevelDB lock", withTimeout(20_000, async () => {
  const dir = await tempDir();
  try {
    const reg = await openRegistry(dir);
    try {
      await openRegistry(dir);
      assert.unreachable("second open succeeded");
    } catch (e) {
      assert.is((e as {code?: string}).code, "STORE_IN_USE");
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

Cal.run();
