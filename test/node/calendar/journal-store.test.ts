import {suite} from "uvu";
import * as assert from "uvu/assert";
import {existsSync} from "node:fs";
import {appendFile, chmod, copyFile, readdir, readFile, stat, truncate, writeFile} from "node:fs/promises";
import {join} from "node:path";
import {RecordKind} from "../../../protocol/journal/record.ts";
import {encodeRound} from "../../../protocol/journal/round.ts";
import {JournalCorruptionError} from "../../../node/calendar/errors.ts";
import {JournalStore, segmentFileName} from "../../../node/calendar/journal-store.ts";
import type {JournalEntry} from "../../../node/calendar/journal-store.ts";
import {verifyJournal} from "../../../node/calendar/verify.ts";
import {IdentityErrorCode, loadOrCreateIdentity} from "../../../node/identity.ts";
import {toHex} from "../../../protocol/ots/bytes.ts";
import {withTimeout} from "../../support/timeout.ts";
import {openOwnJournal, removeDir, tempDir} from "./support.ts";

const round = (i: number): JournalEntry => ({kind: RecordKind.ROUND, payload: encodeRound({timeMs: 1_700_000_000_000 + i, leaves: 1 + (i % 7), root: new Uint8Array(32).fill(i & 0xff)})});

async function openStore(dir: string, segmentBytes = 1 << 20): Promise<JournalStore> {
  return openOwnJournal(dir, segmentBytes);
}

async function openExpectingCorruption(dir: string): Promise<JournalCorruptionError> {
  try {
    await openStore(dir);
  } catch (e) {
    if (e instanceof JournalCorruptionError) return e;
    throw e;
  }
  throw new Error("journal opened despite corruption");
}

// ---
const Store = suite("node/calendar/journal-store JournalStore");

Store("should keep every appended record across a reopen :: positions and chain hash", withTimeout(20_000, async () => {
  const dir = await tempDir();
  try {
    let s = await openStore(dir);
    const positions = [];
    for (let i = 0; i < 20; i++) positions.push(...(await s.append([round(i)])));
    positions.push(...(await s.append([round(20), round(21), round(22)])));
    assert.equal(positions.map((p) => p.seq), Array.from({length: 23}, (_, i) => i));
    const chain = toHex(s.chainHash);
    await s.close();
    s = await openStore(dir);
    assert.is(s.length, 23);
    assert.is(toHex(s.chainHash), chain);
    const replayed = [];
    for await (const b of s.replay(5)) replayed.push(...b);
    assert.equal(replayed.map((r) => r.seq), Array.from({length: 18}, (_, i) => i + 5));
    assert.equal(replayed.map((r) => r.offset), positions.slice(5).map((p) => p.offset));
    await s.close();
  } finally {
    await removeDir(dir);
  }
}));

Store("should roll segments and sign checkpoints that verify :: small segments", withTimeout(20_000, async () => {
  const dir = await tempDir();
  try {
    const s = await openStore(dir, 4096);
    for (let i = 0; i < 300; i++) await s.append([round(i)]);
    assert.ok(s.segmentCount >= 3, `segments ${s.segmentCount}`);
    await s.close();
    const files = await readdir(join(dir, "journal"));
    assert.ok(files.includes(segmentFileName(0)));
    assert.ok(files.includes("latest.ckpt"));
    const r = await verifyJournal(dir);
    assert.equal(r.problems, []);
    assert.is(r.records, 300);
    assert.is(r.segments, s.segmentCount);
    assert.is(r.checkpointsVerified, s.segmentCount, "one per sealed segment plus latest");
    const again = await openStore(dir, 4096);
    assert.is(again.length, 300);
    await again.close();
  } finally {
    await removeDir(dir);
  }
}));

Store("should cut a torn tail and keep every complete record :: partial last record", withTimeout(20_000, async () => {
  const dir = await tempDir();
  try {
    const s = await openStore(dir);
    for (let i = 0; i < 10; i++) await s.append([round(i)]);
    await s.close();
    // A crash writes no latest.ckpt (only a clean close does).
    await removeDir(join(dir, "journal", "latest.ckpt"));
    const seg = join(dir, "journal", segmentFileName(0));
    const size = (await stat(seg)).size;
    await truncate(seg, size - 5);
    const before = await verifyJournal(dir);
    assert.equal(before.problems, [], "a torn tail is not a problem");
    assert.ok(before.torn, "verify reports the torn tail");
    const s2 = await openStore(dir);
    assert.is(s2.length, 9);
    const [pos] = await s2.append([round(99)]);
    assert.is(pos?.seq, 9);
    await s2.close();
    const after = await verifyJournal(dir);
    assert.equal(after.problems, []);
    assert.is(after.torn, null);
    assert.is(after.records, 10);
  } finally {
    await removeDir(dir);
  }
}));

Store("should cut a zero-filled tail :: filesystem extended the file but the data never landed", withTimeout(20_000, async () => {
  const dir = await tempDir();
  try {
    const s = await openStore(dir);
    for (let i = 0; i < 4; i++) await s.append([round(i)]);
    await s.close();
    await appendFile(join(dir, "journal", segmentFileName(0)), new Uint8Array(8192));
    const s2 = await openStore(dir);
    assert.is(s2.length, 4);
    await s2.close();
    assert.is((await verifyJournal(dir)).torn, null);
  } finally {
    await removeDir(dir);
  }
}));

Store("should refuse to start on mid-journal corruption naming segment and offset :: flipped byte", withTimeout(20_000, async () => {
  const dir = await tempDir();
  try {
    const s = await openStore(dir);
    const positions = [];
    for (let i = 0; i < 10; i++) positions.push(...(await s.append([round(i)])));
    await s.close();
    const seg = join(dir, "journal", segmentFileName(0));
    const bytes = await readFile(seg);
    const target = positions[4]?.offset as number;
    bytes[target + 5] = (bytes[target + 5] as number) ^ 0x40;
    await writeFile(seg, bytes);
    const e = await openExpectingCorruption(dir);
    assert.is(e.type.segment, segmentFileName(0));
    assert.is(e.type.offset, target);
    assert.ok(e.message.includes(segmentFileName(0)) && e.message.includes(`offset ${target}`), e.message);
    const r = await verifyJournal(dir);
    assert.is(r.problems.length, 1);
    assert.ok(r.problems[0]?.includes(`offset ${target}`), r.problems[0]);
    // Refusing changed nothing: the bytes are still there for an operator.
    assert.is((await stat(seg)).size, bytes.length);
  } finally {
    await removeDir(dir);
  }
}));

Store("should refuse corruption in a sealed segment and a damaged last record :: never cut what may be acknowledged", withTimeout(20_000, async () => {
  const dir = await tempDir();
  try {
    const s = await openStore(dir, 4096);
    for (let i = 0; i < 200; i++) await s.append([round(i)]);
    await s.close();
    // Cut the end of the FIRST (sealed) segment: not a torn tail there.
    const first = join(dir, "journal", segmentFileName(0));
    await truncate(first, (await stat(first)).size - 3);
    const e = await openExpectingCorruption(dir);
    assert.is(e.type.segment, segmentFileName(0));
  } finally {
    await removeDir(dir);
  }
  const dir2 = await tempDir();
  try {
    const s = await openStore(dir2);
    for (let i = 0; i < 5; i++) await s.append([round(i)]);
    await s.close();
    const seg = join(dir2, "journal", segmentFileName(0));
    const bytes = await readFile(seg);
    bytes[bytes.length - 10] = (bytes[bytes.length - 10] as number) ^ 0x01;
    await writeFile(seg, bytes);
    const e = await openExpectingCorruption(dir2);
    assert.is(e.code, "JOURNAL_CHECKSUM_MISMATCH");
  } finally {
    await removeDir(dir2);
  }
}));

Store("should refuse a journal shorter than its last clean-stop checkpoint :: signed records went missing", withTimeout(20_000, async () => {
  const dir = await tempDir();
  try {
    const s = await openStore(dir);
    for (let i = 0; i < 6; i++) await s.append([round(i)]);
    await s.close();
    const seg = join(dir, "journal", segmentFileName(0));
    await truncate(seg, (await stat(seg)).size - 3);
    const e = await openExpectingCorruption(dir);
    assert.ok(e.message.includes("latest.ckpt"), e.message);
  } finally {
    await removeDir(dir);
  }
}));

Store("should refuse a journal written by another identity :: identity.key replaced", withTimeout(20_000, async () => {
  const dir = await tempDir();
  const other = await tempDir();
  try {
    const s = await openStore(dir);
    await s.append([round(1)]);
    await s.close();
    // Another calendar's key in its place: the segments name another calendar.
    await loadOrCreateIdentity(other);
    await copyFile(join(other, "identity.key"), join(dir, "identity.key"));
    try {
      await openStore(dir);
      assert.unreachable("opened with a foreign identity");
    } catch (e) {
      assert.is((e as {code?: string}).code, "STORE_IDENTITY_MISMATCH");
    }
  } finally {
    await removeDir(dir);
    await removeDir(other);
  }
}));

Store("should refuse to replace a lost identity.key next to its journal, writing nothing :: identity.key deleted", withTimeout(20_000, async () => {
  const dir = await tempDir();
  try {
    const s = await openStore(dir);
    await s.append([round(1)]);
    await s.close();
    await removeDir(join(dir, "identity.key"));
    try {
      await openStore(dir);
      assert.unreachable("a new identity was made for an existing journal");
    } catch (e) {
      assert.is((e as {code?: string}).code, IdentityErrorCode.MISSING);
      assert.match((e as Error).message, /identity\.key is missing/);
    }
    assert.not.ok(existsSync(join(dir, "identity.key")), "no new key was written");
  } finally {
    await removeDir(dir);
  }
}));

Store("should refuse a damaged or group-readable key file, naming it :: identity.key", withTimeout(20_000, async () => {
  const dir = await tempDir();
  try {
    await loadOrCreateIdentity(dir);
    const path = join(dir, "identity.key");
    assert.is((await stat(path)).mode & 0o777, 0o600, "created 0600");
    await chmod(path, 0o644);
    try {
      await loadOrCreateIdentity(dir);
      assert.unreachable("a readable key was accepted");
    } catch (e) {
      assert.is((e as {code?: string}).code, IdentityErrorCode.INSECURE);
      assert.ok((e as Error).message.includes(`chmod 600 ${path}`), (e as Error).message);
    }
    await writeFile(path, "garbage, not a key", {mode: 0o600});
    await chmod(path, 0o600);
    try {
      await loadOrCreateIdentity(dir);
      assert.unreachable("a garbage key was accepted");
    } catch (e) {
      assert.is((e as {code?: string}).code, IdentityErrorCode.DAMAGED);
      assert.ok((e as Error).message.includes(path), (e as Error).message);
    }
    // A stale temporary file of another mode does not leak into a new key.
    await removeDir(path);
    await writeFile(`${path}.tmp`, "left by a crash", {mode: 0o644});
    await loadOrCreateIdentity(dir);
    assert.is((await stat(path)).mode & 0o777, 0o600);
  } finally {
    await removeDir(dir);
  }
}));

Store.run();
