/**
 * Mirrors: a node holding copies of other calendars' journals, fed only by
 * batches of the origin's records that chain onto its copy and end at the
 * origin's signed head. The origins here are other journal stores in the
 * test (what replication will carry over libp2p later).
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {mkdir, readdir, stat, writeFile} from "node:fs/promises";
import {join} from "node:path";
import {bytesEqual, concatBytes, toHex} from "../../../protocol/ots/bytes.ts";
import {sha256} from "../../../protocol/ots/hashes.ts";
import {nextChainHash} from "../../../protocol/journal/chain.ts";
import {checkpointSigningBytes} from "../../../protocol/journal/checkpoint.ts";
import type {Checkpoint} from "../../../protocol/journal/checkpoint.ts";
import {JournalError, JournalErrorCode} from "../../../protocol/journal/errors.ts";
import {decodeFrame, encodeFrame, RecordKind} from "../../../protocol/journal/record.ts";
import {decodeRound, encodeRound} from "../../../protocol/journal/round.ts";
import type {SeqRange, StampRecord} from "../../../protocol/journal/stamp.ts";
import {FlatMerkleTree} from "../../../protocol/ots/flat-merkle.ts";
import type {Calendar} from "../../../node/calendar/calendar.ts";
import {StoreError, StoreErrorCode} from "../../../node/calendar/errors.ts";
import {MIRRORS_DIR} from "../../../node/calendar/registry.ts";
import type {CalendarRegistry} from "../../../node/calendar/registry.ts";
import {verifyJournal} from "../../../node/calendar/verify.ts";
import {nativeSha256} from "../../../node/hash.ts";
import {loadOrCreateIdentity} from "../../../node/identity.ts";
import type {Identity} from "../../../node/identity.ts";
import {withTimeout} from "../../support/timeout.ts";
import {getTimestamp, openRegistry, removeDir, startNode, tempDir, testOptions} from "./support.ts";

const h = (s: string): Uint8Array => sha256(new TextEncoder().encode(s));

/** `n` rounds at the origin; their commitments by seq. */
async function rounds(cal: Calendar, n: number, label: string, into: Map<number, Uint8Array>): Promise<void> {
  for (let i = 0; i < n; i++) {
    const {seq, commitment} = await cal.commitRound(h(`${label} ${i}`), 1 + (i % 4), 1_000 + i);
    into.set(seq, commitment);
  }
}

/**
 * A STAMP record over `ranges` as the stamper journals it: the tree over
 * their leaves, a transaction holding the root (made up: what matters here
 * is that mirrors derive the same bytes), a block branch.
 */
async function stampOver(cal: Calendar, ranges: SeqRange[], height: number): Promise<StampRecord> {
  const {seqs, leaves} = await cal.readRoundLeaves(ranges);
  const root = new FlatMerkleTree(leaves, sha256).root.slice();
  const tx = concatBytes(Uint8Array.of(2, 0, 0, 0, 1), h(`prevout ${height}`), Uint8Array.of(0, 0, 0, 0, 0, 0xfd, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0, 0, 34, 0x6a, 0x20), root, Uint8Array.of(0, 0, 0, 0));
  return {ranges, leaves: seqs.length, root, tx, height, blockHash: h(`block ${height}`), txIndex: 1, branch: [h(`sibling ${height}`), h(`uncle ${height}`)], feeSats: 500, vsize: 150};
}

/** The origin's records from `from` to its end as one batch, with its head signed at that end. */
async function batchOf(origin: Calendar, from: number): Promise<{frames: Uint8Array; head: Checkpoint}> {
  const parts: Uint8Array[] = [];
  for await (const batch of origin.store.records(from, origin.length, null)) for (const r of batch) parts.push(r.frame);
  const head = await origin.latestHead();
  if (head === null) throw new Error("an origin always has a head");
  return {frames: concatBytes(...parts), head};
}

/** Every lookup of `commitments` at `cal`, as comparable strings (proof bytes in hex). */
async function lookups(cal: Calendar, commitments: Map<number, Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for (const [seq, c] of commitments) {
    const st = await cal.lookup(c);
    out.push(`${seq} ${st === null ? "null" : st.state === "stamped" ? `stamped ${toHex(st.proof)}` : "pending"}`);
  }
  return out;
}

async function expectRefusal(p: Promise<unknown>, code: string, what: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok((e instanceof JournalError || e instanceof StoreError) && e.code === code, `${what}: expected ${code}, got ${String(e)}`);
    return;
  }
  assert.unreachable(`${what}: accepted`);
}

type Origin = {dir: string; reg: CalendarRegistry; cal: Calendar; identity: Identity; commitments: Map<number, Uint8Array>};

async function origin(label: string): Promise<Origin> {
  const dir = await tempDir(`otsfed-origin-${label}-`);
  const reg = await openRegistry(dir);
  const {identity} = await loadOrCreateIdentity(dir);
  return {dir, reg, cal: reg.own, identity, commitments: new Map()};
}

/** Bytes of every file under `dir`, to show a refusal wrote nothing. */
async function sizes(dir: string): Promise<string> {
  const out: string[] = [];
  for (const name of (await readdir(dir)).sort()) out.push(`${name}=${(await stat(join(dir, name))).size}`);
  return out.join(" ");
}

// ---
const importing = suite("node/calendar/calendar Calendar.importBatch");

importing("should append the origin's batches and serve the origin's proofs :: rounds, stamp, revocation, restart", withTimeout(60_000, async () => {
  const b = await origin("b");
  const dir = await tempDir();
  try {
    let reg = await openRegistry(dir);
    let mirror = await reg.addMirror(b.identity.calendarId);
    assert.is(mirror.role, "mirror");
    assert.is(toHex(mirror.tag), toHex(b.cal.tag));

    await rounds(b.cal, 40, "first", b.commitments);
    const one = await batchOf(b.cal, 0);
    const imported = await mirror.importBatch(one.frames, one.head);
    assert.is(imported.length, 40);
    assert.is(mirror.length, 40);
    assert.ok(bytesEqual(mirror.store.chainHash, b.cal.store.chainHash), "same chain hash");
    assert.equal(await lookups(mirror, b.commitments), await lookups(b.cal, b.commitments), "pending, as at the origin");

    // A stamp over part of the rounds, more rounds, a stamp then its revocation.
    await b.cal.commitStamp(await stampOver(b.cal, [{from: 0, to: 25}], 700));
    await rounds(b.cal, 20, "second", b.commitments);
    const later = await b.cal.commitStamp(await stampOver(b.cal, [{from: 41, to: 51}], 701));
    await b.cal.revokeStamp(later.pos.seq, 702);
    await b.cal.commitStamp(await stampOver(b.cal, [{from: 41, to: 45}], 703));
    const two = await batchOf(b.cal, 40);
    await mirror.importBatch(two.frames, two.head);
    assert.is(mirror.length, b.cal.length);
    assert.equal(mirror.stamps.all().map((s) => s.pos.seq), b.cal.stamps.all().map((s) => s.pos.seq));
    const atOrigin = await lookups(b.cal, b.commitments);
    assert.ok(atOrigin.filter((l) => l.includes("stamped")).length === 29, "25 + 4 stamped at the origin");
    assert.equal(await lookups(mirror, b.commitments), atOrigin, "complete and pending proofs byte for byte");

    // After a restart the mirror is still a mirror, verified, indexed, with the origin's head.
    await reg.close();
    reg = await openRegistry(dir);
    mirror = reg.get(b.identity.calendarId) as Calendar;
    assert.ok(mirror !== null, "the mirror is found on disk");
    assert.is(mirror.role, "mirror");
    assert.is(mirror.indexSync.mode, "current");
    assert.equal(await lookups(mirror, b.commitments), atOrigin, "the same after a restart");
    const head = await mirror.latestHead();
    assert.is(head?.length, b.cal.length, "the origin's head is kept");
    assert.ok(head && bytesEqual(head.signature, two.head.signature), "the origin's own signature, not ours");
    await reg.close();
    const verified = await verifyJournal(join(dir, MIRRORS_DIR, b.identity.peerId));
    assert.equal(verified.problems, []);
    assert.is(verified.records, b.cal.length);
    assert.ok(verified.checkpointsVerified >= 1, "the stored head verifies against the origin's key");
  } finally {
    await b.reg.close();
    await removeDir(b.dir);
    await removeDir(dir);
  }
}));

importing("should refuse tampered, cut, non-chaining, misplaced, foreign and forged batches, writing nothing :: refusals", withTimeout(60_000, async () => {
  const b = await origin("b");
  const other = await origin("other");
  const dir = await tempDir();
  try {
    const reg = await openRegistry(dir);
    const mirror = await reg.addMirror(b.identity.calendarId);
    await rounds(b.cal, 10, "base", b.commitments);
    const base = await batchOf(b.cal, 0);
    await mirror.importBatch(base.frames, base.head);
    await rounds(b.cal, 5, "next", b.commitments);
    const next = await batchOf(b.cal, 10);
    await rounds(other.cal, 5, "other", other.commitments);
    const foreign = await batchOf(other.cal, 0);
    const mirrorDir = join(dir, MIRRORS_DIR, b.identity.peerId);
    const before = await sizes(mirrorDir);

    const flipped = next.frames.slice();
    flipped[7] = (flipped[7] as number) ^ 0x10;
    await expectRefusal(mirror.importBatch(flipped, next.head), JournalErrorCode.CHECKSUM_MISMATCH, "a flipped byte");
    await expectRefusal(mirror.importBatch(next.frames.subarray(0, next.frames.length - 3), next.head), JournalErrorCode.TRUNCATED, "a cut batch");
    await expectRefusal(mirror.importBatch(new Uint8Array(0), next.head), JournalErrorCode.BAD_LENGTH, "an empty batch");
    await expectRefusal(mirror.importBatch(concatBytes(next.frames, new Uint8Array(4)), next.head), JournalErrorCode.ZERO_KIND, "bytes after the frames");
    // Well-formed frames that are not the origin's: the first round with another root, a valid CRC.
    const first = decodeFrame(next.frames, 0);
    const round = decodeRound(first.payload);
    const substituted = encodeFrame(RecordKind.ROUND, encodeRound({...round, root: h("forged")}));
    await expectRefusal(mirror.importBatch(concatBytes(substituted, next.frames.subarray(first.end)), next.head), JournalErrorCode.BROKEN_CHAIN, "a substituted record");
    // Records that do not start where the mirror ends: a gap, and a replay of what it has.
    await expectRefusal(mirror.importBatch(next.frames.subarray(first.end), next.head), JournalErrorCode.BROKEN_CHAIN, "a gap");
    await expectRefusal(mirror.importBatch(base.frames, base.head), JournalErrorCode.BROKEN_CHAIN, "what it already has");
    // Heads: another calendar's, one signed by someone else, one for another length.
    await expectRefusal(mirror.importBatch(foreign.frames, foreign.head), JournalErrorCode.WRONG_CALENDAR, "another calendar's batch");
    const forgedSig = {...next.head, signature: await other.identity.sign(checkpointSigningBytes(next.head))};
    await expectRefusal(mirror.importBatch(next.frames, forgedSig), JournalErrorCode.BAD_SIGNATURE, "a head signed by another key");
    await expectRefusal(mirror.importBatch(next.frames, base.head), JournalErrorCode.BROKEN_CHAIN, "a head for another length");
    // Signed by the origin itself, but content no reader may accept: a
    // critical kind this version does not know, and a STAMP that does not parse.
    for (const [kind, payload, code] of [[40, Uint8Array.of(1, 2, 3), JournalErrorCode.UNKNOWN_CRITICAL_KIND], [RecordKind.STAMP, Uint8Array.of(0), JournalErrorCode.BAD_PAYLOAD]] as const) {
      const frame = encodeFrame(kind, payload);
      const chainHash = nextChainHash(mirror.store.chainHash, frame.subarray(0, frame.length - 4), nativeSha256);
      const body = {calendarId: b.identity.calendarId, length: mirror.length + 1, chainHash};
      const head = {...body, signature: await b.identity.sign(checkpointSigningBytes(body))};
      await expectRefusal(mirror.importBatch(frame, head), code, `origin-signed kind ${kind}`);
    }
    // A mirror never writes records of its own; an origin never imports.
    await expectRefusal(mirror.commitRound(h("mine"), 1, 1), StoreErrorCode.READ_ONLY, "a round at a mirror");
    await expectRefusal(reg.own.importBatch(next.frames, next.head), StoreErrorCode.READ_ONLY, "an import into the origin");

    assert.is(mirror.length, 10, "nothing was appended");
    assert.is(await sizes(mirrorDir), before, "no file changed");
    // The genuine batch still goes in after all that.
    await mirror.importBatch(next.frames, next.head);
    assert.equal(await lookups(mirror, b.commitments), await lookups(b.cal, b.commitments));
    await reg.close();
    assert.equal((await verifyJournal(mirrorDir)).problems, []);
  } finally {
    await b.reg.close();
    await other.reg.close();
    await removeDir(b.dir);
    await removeDir(other.dir);
    await removeDir(dir);
  }
}));

importing("should seal a mirror's segments at the origin's signed heads :: small segments", withTimeout(60_000, async () => {
  const b = await origin("b");
  const dir = await tempDir();
  try {
    const reg = await openRegistry(dir, 4096);
    const mirror = await reg.addMirror(b.identity.calendarId);
    for (let i = 0; i < 12; i++) {
      const from = b.cal.length;
      await rounds(b.cal, 25, `batch ${i}`, b.commitments);
      const batch = await batchOf(b.cal, from);
      await mirror.importBatch(batch.frames, batch.head);
    }
    assert.ok(mirror.store.segmentCount >= 3, `spans ${mirror.store.segmentCount} segments`);
    await reg.close();
    const r = await verifyJournal(join(dir, MIRRORS_DIR, b.identity.peerId));
    assert.equal(r.problems, []);
    assert.is(r.records, 300);
    assert.is(r.checkpointsVerified, r.segments, "each sealed segment and latest.ckpt carry the origin's signature");
  } finally {
    await b.reg.close();
    await removeDir(b.dir);
    await removeDir(dir);
  }
}));

importing.run();

// ---
const registry = suite("node/calendar/registry CalendarRegistry");

registry("should answer GET /timestamp for its own and two mirrored calendars with the origins' bytes :: pending and complete", withTimeout(90_000, async () => {
  const b = await origin("b");
  const c = await origin("c");
  const dirA = await tempDir();
  const serving: Array<{node: {stop(): Promise<void>}}> = [];
  try {
    // The origins write rounds and stamps; the node A mirrors both and has rounds of its own.
    for (const o of [b, c]) {
      await rounds(o.cal, 30, `${o.dir} first`, o.commitments);
      await o.cal.commitStamp(await stampOver(o.cal, [{from: 3, to: 20}], 800));
      await rounds(o.cal, 10, `${o.dir} second`, o.commitments);
    }
    const a = await startNode(testOptions(dirA));
    serving.push(a);
    const mirrorB = await a.node.calendars.addMirror(b.identity.calendarId);
    const mirrorC = await a.node.calendars.addMirror(c.identity.calendarId);
    for (const [o, m] of [[b, mirrorB], [c, mirrorC]] as const) {
      const batch = await batchOf(o.cal, 0);
      await m.importBatch(batch.frames, batch.head);
    }
    const own = new Map<number, Uint8Array>();
    await rounds(a.node.calendar, 5, "own", own);

    // The origins as nodes of their own, serving what they hold.
    await b.reg.close();
    await c.reg.close();
    const nodeB = await startNode(testOptions(b.dir));
    serving.push(nodeB);
    const nodeC = await startNode(testOptions(c.dir));
    serving.push(nodeC);
    for (const [o, url] of [[b, nodeB.url], [c, nodeC.url]] as const) {
      let stamped = 0;
      for (const [seq, commitment] of o.commitments) {
        const there = await getTimestamp(url, commitment);
        const here = await getTimestamp(a.url, commitment);
        assert.is(here.status, there.status, `seq ${seq}: status`);
        assert.is(here.text, there.text, `seq ${seq}: body`);
        assert.is(here.headers.get("cache-control"), there.headers.get("cache-control"), `seq ${seq}: caching`);
        if (there.status === 200) stamped++;
      }
      assert.is(stamped, 17, "the stamped rounds are served complete");
    }
    for (const [, commitment] of own) assert.is((await getTimestamp(a.url, commitment)).text, "Pending confirmation in Bitcoin blockchain");
    // A commitment none of them holds, and one with a held tag but a wrong root.
    const forged = Uint8Array.from(b.commitments.get(5) as Uint8Array);
    forged[0] = (forged[0] as number) ^ 1;
    assert.is((await getTimestamp(a.url, forged)).text, "Not found");
    assert.is((await getTimestamp(a.url, h("nobody's"))).text, "Not found");
  } finally {
    for (const s of serving) await s.node.stop().catch(() => {});
    await b.reg.close().catch(() => {});
    await c.reg.close().catch(() => {});
    for (const d of [b.dir, c.dir, dirA]) await removeDir(d);
  }
}));

registry("should refuse to mirror itself or a calendar twice, and a directory not named for one :: refusals", withTimeout(30_000, async () => {
  const b = await origin("b");
  const dir = await tempDir();
  try {
    let reg = await openRegistry(dir);
    await expectRefusal(reg.addMirror(reg.own.id), StoreErrorCode.UNKNOWN_CALENDAR, "itself");
    await reg.addMirror(b.identity.calendarId);
    await expectRefusal(reg.addMirror(b.identity.calendarId), StoreErrorCode.UNKNOWN_CALENDAR, "twice");
    await expectRefusal(reg.addMirror(Uint8Array.of(0x12, 0x20, ...h("an RSA-style id that hashes its key"))), StoreErrorCode.UNKNOWN_CALENDAR, "an id without a key");
    assert.is(reg.calendars().length, 2);
    await reg.close();
    await mkdir(join(dir, MIRRORS_DIR, "not-a-peer-id"));
    await writeFile(join(dir, MIRRORS_DIR, "notes.txt"), "operators leave files around\n");
    await expectRefusal(openRegistry(dir), StoreErrorCode.UNKNOWN_CALENDAR, "a directory not named for a calendar");
    await removeDir(join(dir, MIRRORS_DIR, "not-a-peer-id"));
    reg = await openRegistry(dir);
    assert.is(reg.mirrors().length, 1, "a stray file is ignored");
    await reg.close();
  } finally {
    await b.reg.close();
    await removeDir(b.dir);
    await removeDir(dir);
  }
}));

registry.run();
