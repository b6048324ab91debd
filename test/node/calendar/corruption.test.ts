/**
 * Damage to a stopped calendar's files, as a crash, a disk or a careless
 * operator leaves it: acknowledged records must never vanish quietly, a
 * refusal must change nothing, and the index (derived) must never be
 * believed over the journal.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {readdir, readFile, rm, stat, truncate, writeFile} from "node:fs/promises";
import {join} from "node:path";
import {Level} from "level";
import {decodeFrame} from "../../../protocol/journal/record.ts";
import {decodeSegmentHeader} from "../../../protocol/journal/segment.ts";
import {JournalCorruptionError} from "../../../node/calendar/errors.ts";
import {INDEX_DIR} from "../../../node/calendar/commitment-index.ts";
import {reindex} from "../../../node/calendar/reindex.ts";
import {verifyJournal} from "../../../node/calendar/verify.ts";
import {JOURNAL_DIR, listSegments} from "../../../node/calendar/journal-store.ts";
import {nullLogger} from "../../../node/logger.ts";
import {sleep} from "../../../node/lifecycle.ts";
import {withTimeout} from "../../support/timeout.ts";
import {openRegistry, removeDir, tempDir} from "./support.ts";

/** A stopped data dir with `n` acknowledged rounds, its index current; `crashed`: no latest.ckpt, as after a SIGKILL. */
async function calendarWith(n: number, opts: {crashed: boolean; segmentBytes?: number}): Promise<{dir: string; commitments: Uint8Array[]}> {
  const dir = await tempDir();
  const reg = await openRegistry(dir, opts.segmentBytes ?? 1 << 20);
  const commitments: Uint8Array[] = [];
  for (let i = 0; i < n; i++) commitments.push((await reg.own.commitRound(new Uint8Array(randomBytes(32)), 1 + (i % 3), i)).commitment);
  await reg.close();
  if (opts.crashed) await rm(join(dir, JOURNAL_DIR, "latest.ckpt"));
  return {dir, commitments};
}

/** Sizes of the journal's files, to show that a refusal changed nothing. */
async function journalFiles(dir: string): Promise<string> {
  const d = join(dir, JOURNAL_DIR);
  const out: string[] = [];
  for (const name of (await readdir(d)).sort()) out.push(`${name}=${(await stat(join(d, name))).size}`);
  return out.join(" ");
}

async function lastSegment(dir: string): Promise<string> {
  const segs = await listSegments(join(dir, JOURNAL_DIR));
  return join(dir, JOURNAL_DIR, (segs[segs.length - 1] as {file: string}).file);
}

async function expectRefusal(dir: string, pattern: RegExp, what: string): Promise<void> {
  const before = await journalFiles(dir);
  try {
    const reg = await openRegistry(dir);
    await reg.close();
    assert.unreachable(`${what}: the node started`);
  } catch (e) {
    assert.ok(e instanceof JournalCorruptionError, `${what}: ${String(e)}`);
    assert.match((e as Error).message, pattern, what);
  }
  assert.is(await journalFiles(dir), before, `${what}: nothing was changed`);
}

// ---
const torn = suite("node/calendar/journal-store JournalStore.open evidence");

torn("should refuse a 'torn tail' the index proves was acknowledged, changing nothing :: cut, bad length, zeros", withTimeout(60_000, async () => {
  const damages: Array<[string, (seg: string) => Promise<void>]> = [
    ["the last record cut short", async (seg) => truncate(seg, (await stat(seg)).size - 5)],
    [
      "a length byte of the second-to-last record",
      async (seg) => {
        const b = await readFile(seg);
        const starts: number[] = [];
        for (let p = decodeSegmentHeader(b).size; p < b.length; p = decodeFrame(b, p).end) starts.push(p);
        // The length varuint follows the one-byte kind: 127 runs past the end, as a cut write would.
        b[(starts[starts.length - 2] as number) + 1] = 0x7f;
        await writeFile(seg, b);
      },
    ],
    [
      "90 zero bytes over the last two records",
      async (seg) => {
        const b = await readFile(seg);
        b.fill(0, b.length - 90);
        await writeFile(seg, b);
      },
    ],
  ];
  for (const [what, damage] of damages) {
    const {dir} = await calendarWith(60, {crashed: true});
    try {
      await damage(await lastSegment(dir));
      await expectRefusal(dir, /the index .* covers 60: acknowledged records \d+\.\.59 are missing; refusing to start, nothing was changed/, what);
      // Without the index nothing proves those records were acknowledged: the tail is cut as torn.
      await rm(join(dir, INDEX_DIR), {recursive: true});
      const reg = await openRegistry(dir);
      assert.ok(reg.own.recovery.torn !== null, `${what}: cut as a torn tail`);
      assert.ok(reg.own.length < 60 && reg.own.length >= 57, `${what}: ${reg.own.length} records left`);
      await reg.close();
    } finally {
      await removeDir(dir);
    }
  }
}));

torn("should refuse a record cut after a clean stop before cutting anything :: latest.ckpt", withTimeout(30_000, async () => {
  const {dir} = await calendarWith(20, {crashed: false});
  try {
    await truncate(await lastSegment(dir), (await stat(await lastSegment(dir))).size - 3);
    await rm(join(dir, INDEX_DIR), {recursive: true});
    await expectRefusal(dir, /latest\.ckpt \(signed\) covers 20: records 19\.\.19 are missing; refusing to start, nothing was changed/, "clean stop, then damage");
  } finally {
    await removeDir(dir);
  }
}));

torn("should never append into a sealed segment :: last segment deleted", withTimeout(60_000, async () => {
  const {dir, commitments} = await calendarWith(300, {crashed: true, segmentBytes: 4096});
  try {
    const segs = await listSegments(join(dir, JOURNAL_DIR));
    assert.ok(segs.length >= 3);
    await rm(await lastSegment(dir));
    await expectRefusal(dir, /the index .* acknowledged records \d+\.\.299 are missing/, "the last segment deleted, index present");
    await rm(join(dir, INDEX_DIR), {recursive: true});
    // Nothing else knows: the node opens, but appends in a new segment after the sealed one.
    const reg = await openRegistry(dir, 4096);
    const length = reg.own.length;
    assert.ok(length < 300);
    await reg.own.commitRound(new Uint8Array(32).fill(1), 1, 1);
    assert.is(reg.own.store.segmentCount, segs.length, "a new last segment, not the sealed one");
    assert.equal(await reg.own.lookup(commitments[0] as Uint8Array), {state: "pending", seq: 0});
    await reg.close();
    assert.equal((await verifyJournal(dir)).problems, [], "the journal verifies");
  } finally {
    await removeDir(dir);
  }
}));

torn("should name a garbled checkpoint file when refusing :: latest.ckpt garbage", withTimeout(30_000, async () => {
  const {dir} = await calendarWith(5, {crashed: false});
  try {
    const path = join(dir, JOURNAL_DIR, "latest.ckpt");
    await writeFile(path, "not a checkpoint");
    await expectRefusal(dir, new RegExp(`journal checkpoint ${path.replace(/[.]/g, "\\.")}: not a checkpoint \\(bad magic\\).*\\(JOURNAL_BAD_MAGIC\\); refusing to start`), "garbage latest.ckpt");
  } finally {
    await removeDir(dir);
  }
}));

torn.run();

// ---
const index = suite("node/calendar/calendar Calendar index checks");

index("should answer from the journal when LevelDB lost entries, and rebuild them :: garbage in the index log", withTimeout(60_000, async () => {
  const {dir, commitments} = await calendarWith(200, {crashed: false});
  try {
    // Lose entries while the mark (written last) survives: delete some straight from LevelDB.
    const db = new Level<Buffer, Buffer>(join(dir, INDEX_DIR), {keyEncoding: "buffer", valueEncoding: "buffer"});
    await db.open();
    for (const c of commitments.slice(50, 150)) await db.del(Buffer.concat([Buffer.of(0x01), Buffer.from(c)]));
    await db.close();
    const reg = await openRegistry(dir);
    try {
      assert.is(reg.own.indexSync.mode, "current", "the mark alone cannot tell");
      for (const [seq, c] of commitments.entries()) assert.equal(await reg.own.lookup(c), {state: "pending", seq}, `seq ${seq}: the journal answers`);
      // The disagreement triggered a rebuild of this calendar's entries.
      let entries = 0;
      for (let t = 0; t < 100 && entries < 200; t++) {
        await sleep(20);
        entries = 0;
        for await (const _ of reg.index.entries(reg.own.tag)) entries++;
      }
      assert.is(entries, 200, "every entry is back");
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

index("should refuse a forged commitment even when the index has an entry for it :: journal check", withTimeout(30_000, async () => {
  const {dir, commitments} = await calendarWith(10, {crashed: false});
  try {
    const reg = await openRegistry(dir);
    try {
      const real = commitments[4] as Uint8Array;
      const forged = Uint8Array.from(real);
      forged[0] = (forged[0] as number) ^ 0xff;
      const pos = await reg.index.lookup(real);
      assert.ok(pos !== null);
      await reg.index.put(reg.own.tag, [{commitment: forged, pos}], {calendarId: reg.own.id, length: reg.own.length, chainHash: reg.own.store.chainHash});
      assert.is(await reg.own.lookup(forged), null, "a wrong root with a real tag and seq is nobody's");
      assert.equal(await reg.own.lookup(real), {state: "pending", seq: 4});
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

index("should rebuild an index LevelDB cannot open, and reindex one :: damaged LevelDB", withTimeout(60_000, async () => {
  const {dir, commitments} = await calendarWith(50, {crashed: false});
  try {
    const damage = async (): Promise<void> => {
      for (const name of await readdir(join(dir, INDEX_DIR))) if (name.startsWith("MANIFEST") || name === "CURRENT") await writeFile(join(dir, INDEX_DIR, name), randomBytes(200));
    };
    await damage();
    let reg = await openRegistry(dir);
    assert.is(reg.own.indexSync.mode, "rebuild");
    assert.match(reg.indexReset ?? "", /index was damaged/);
    for (const [seq, c] of commitments.entries()) assert.equal(await reg.own.lookup(c), {state: "pending", seq});
    await reg.close();
    await damage();
    const r = await reindex(dir, nullLogger);
    assert.is(r.records, 50, "otsfed reindex works on a broken index");
    reg = await openRegistry(dir);
    assert.is(reg.own.indexSync.mode, "current");
    await reg.close();
  } finally {
    await removeDir(dir);
  }
}));

index.run();


