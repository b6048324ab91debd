/**
 * The LevelDB index (DESIGN §2), one for every calendar a node holds (its
 * own and its mirrors): commitment → journal position, and each calendar's
 * live stamps. It holds nothing the journals do not: every value is derived
 * from journal records, so deleting it and starting again (or `otsfed
 * reindex`) gives the same answers.
 *
 * Keys (one-byte buckets, STYLE §15; `tag` is the calendar's 4-byte tag,
 * which every one of its commitments carries):
 *
 *   00 "schema"                → uint32 BE schema version
 *   00 "indexed" ‖ tag         → uint64 BE journal length covered ‖ chain hash
 *                                at that length ‖ the calendar id
 *   00 "resetting" ‖ tag       → present while that calendar's entries are being
 *                                deleted (a crash there must not leave half of them)
 *   01 ‖ commitment(44)        → uint64 BE seq ‖ uint64 BE segment first seq ‖ uint32 BE offset
 *   02 ‖ tag ‖ uint64 BE seq   → a live STAMP record of that calendar: its position,
 *                                txid, block, fee, size and covered ranges
 *                                (see encodeLiveStamp); removed when a
 *                                STAMP_REVOKED names it
 *
 * Commitments keep the root first in their key so that a prefix query is
 * one range scan across every calendar. A calendar's high-water mark is
 * written in the same batch as the entries it covers, so each calendar's
 * index is always a consistent prefix of its journal.
 */
import {rm} from "node:fs/promises";
import {Level} from "level";
import {CALENDAR_TAG_SIZE, COMMITMENT_SIZE, ROUND_ROOT_SIZE} from "../../protocol/journal/index.ts";
import {readU32, readU64, writeU32, writeU64} from "../../protocol/journal/varint.ts";
import type {Logger} from "../logger.ts";
import type {JournalPosition} from "./journal-store.ts";
import type {LiveStamp} from "./stamp-directory.ts";
import {StoreError, StoreErrorCode} from "./errors.ts";

/** 3: several calendars (per-calendar marks and stamps). An older index is rebuilt at start. */
export const INDEX_SCHEMA_VERSION = 3;
export const INDEX_DIR = "index";

const META = 0x00;
const COMMITMENT = 0x01;
const STAMP = 0x02;
const enc = new TextEncoder();
const KEY_SCHEMA = Buffer.of(META, ...enc.encode("schema"));
const INDEXED_PREFIX = Buffer.of(META, ...enc.encode("indexed"));
const RESETTING_PREFIX = Buffer.of(META, ...enc.encode("resetting"));

/** One calendar's high-water mark. */
export type CalendarMark = {calendarId: Uint8Array; length: number; chainHash: Uint8Array};

export type IndexPut = {commitment: Uint8Array; pos: JournalPosition};

/** Stamp entries to add and STAMP seqs to drop, in the same batch as commitments. */
export type StampChanges = {add: readonly LiveStamp[]; remove: readonly number[]};

/** A Buffer view of bytes (no copy): LevelDB's buffer encoding is the fast path. */
function buf(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function checkTag(tag: Uint8Array): void {
  if (tag.length !== CALENDAR_TAG_SIZE) throw new StoreError({code: StoreErrorCode.UNKNOWN_CALENDAR}, "a calendar tag is 4 bytes");
}

function markKey(tag: Uint8Array): Buffer {
  return Buffer.concat([INDEXED_PREFIX, buf(tag)]);
}

function commitmentKey(c: Uint8Array): Buffer {
  const k = Buffer.allocUnsafe(1 + c.length);
  k[0] = COMMITMENT;
  k.set(c, 1);
  return k;
}

function encodePosition(pos: JournalPosition): Buffer {
  const v = Buffer.allocUnsafe(20);
  writeU64(v, 0, pos.seq);
  writeU64(v, 8, pos.segment);
  writeU32(v, 16, pos.offset);
  return v;
}

function decodePosition(v: Uint8Array): JournalPosition {
  return {seq: readU64(v, 0), segment: readU64(v, 8), offset: readU32(v, 16)};
}

function stampKey(tag: Uint8Array, seq: number): Buffer {
  const k = Buffer.allocUnsafe(1 + CALENDAR_TAG_SIZE + 8);
  k[0] = STAMP;
  k.set(tag, 1);
  writeU64(k, 1 + CALENDAR_TAG_SIZE, seq);
  return k;
}

/** Bounds of one calendar's stamp entries (keys are exactly 02 ‖ tag ‖ seq8). */
function stampRange(tag: Uint8Array): {gte: Buffer; lt: Buffer} {
  return {gte: stampKey(tag, 0), lt: Buffer.concat([Buffer.of(STAMP), buf(tag), Buffer.alloc(9, 0xff)])};
}

/** pos(20) ‖ txid(32) ‖ blockHash(32) ‖ height u32 ‖ leaves u32 ‖ fee u64 ‖ vsize u32 ‖ n u32 ‖ n × (from u64 ‖ to u64). */
function encodeLiveStamp(s: LiveStamp): Buffer {
  const v = Buffer.allocUnsafe(108 + 16 * s.ranges.length);
  encodePosition(s.pos).copy(v, 0);
  v.set(s.txid, 20);
  v.set(s.blockHash, 52);
  writeU32(v, 84, s.height);
  writeU32(v, 88, s.leaves);
  writeU64(v, 92, s.feeSats);
  writeU32(v, 100, s.vsize);
  writeU32(v, 104, s.ranges.length);
  let p = 108;
  for (const r of s.ranges) {
    writeU64(v, p, r.from);
    writeU64(v, p + 8, r.to);
    p += 16;
  }
  return v;
}

function decodeLiveStamp(v: Uint8Array): LiveStamp {
  const n = v.length >= 108 ? readU32(v, 104) : -1;
  if (v.length !== 108 + 16 * n) throw new StoreError({code: StoreErrorCode.INDEX_SCHEMA}, "index stamp entry has a bad length: run 'otsfed reindex'");
  const ranges = [];
  for (let i = 0, p = 108; i < n; i++, p += 16) ranges.push({from: readU64(v, p), to: readU64(v, p + 8)});
  return {
    pos: decodePosition(v.subarray(0, 20)),
    txid: v.slice(20, 52),
    blockHash: v.slice(52, 84),
    height: readU32(v, 84),
    leaves: readU32(v, 88),
    feeSats: readU64(v, 92),
    vsize: readU32(v, 100),
    ranges,
  };
}

function decodeMark(v: Uint8Array): CalendarMark {
  if (v.length < 41) throw new StoreError({code: StoreErrorCode.INDEX_SCHEMA}, "index mark has a bad length: run 'otsfed reindex'");
  return {length: readU64(v, 0), chainHash: v.slice(8, 40), calendarId: v.slice(40)};
}

function encodeMark(m: CalendarMark): Buffer {
  const v = Buffer.allocUnsafe(40 + m.calendarId.length);
  writeU64(v, 0, m.length);
  v.set(m.chainHash, 8);
  v.set(m.calendarId, 40);
  return v;
}

type Db = Level<Buffer, Buffer>;

export class CommitmentIndex {
  private readonly db: Db;
  private closed = false;

  private constructor(db: Db) {
    this.db = db;
  }

  /**
   * Open (creating if missing) the LevelDB at `path`. A second opener gets
   * STORE_IN_USE; a damaged database STORE_INDEX_DAMAGED (rebuild it: see
   * `openOrRebuild`).
   */
  static async open(path: string): Promise<CommitmentIndex> {
    const db: Db = new Level<Buffer, Buffer>(path, {keyEncoding: "buffer", valueEncoding: "buffer"});
    try {
      await db.open();
    } catch (e) {
      const err = e as {code?: string; cause?: {code?: string}};
      if (err.code === "LEVEL_LOCKED" || err.cause?.code === "LEVEL_LOCKED") throw new StoreError({code: StoreErrorCode.IN_USE}, `${path} is already in use (is another otsfed node running on this data dir?)`);
      // Anything else (LEVEL_CORRUPTION, unreadable files): the index is derived, the caller rebuilds it.
      throw new StoreError({code: StoreErrorCode.INDEX_DAMAGED}, `${path} cannot be opened (${err.cause?.code ?? err.code ?? "error"}: ${(e as Error).message})`);
    }
    return new CommitmentIndex(db);
  }

  /**
   * Open the index at `path`, or — when LevelDB cannot open it (damaged
   * files) — delete it and start an empty one: it holds nothing the
   * journals do not. Says why it was recreated, or null.
   */
  static async openOrRebuild(path: string, logger: Logger): Promise<{index: CommitmentIndex; recreated: string | null}> {
    try {
      return {index: await CommitmentIndex.open(path), recreated: null};
    } catch (e) {
      if (!(e instanceof StoreError) || e.code !== StoreErrorCode.INDEX_DAMAGED) throw e;
      logger.warn("index damaged; deleting it to rebuild from the journals", {reason: e.message});
      await rm(path, {recursive: true, force: true});
      return {index: await CommitmentIndex.open(path), recreated: `index was damaged (${e.message})`};
    }
  }

  /** The stored schema version; 0 means an empty (new or wiped) index. */
  async schema(): Promise<number> {
    const v = await this.db.get(KEY_SCHEMA);
    return v === undefined ? 0 : readU32(v, 0);
  }

  /**
   * Throw INDEX_SCHEMA if a newer otsfed wrote the index (0 = empty and older
   * schemas are fine: the registry rebuilds those from the journals).
   */
  async checkSchema(): Promise<void> {
    const schema = await this.schema();
    if (schema > INDEX_SCHEMA_VERSION) {
      throw new StoreError({code: StoreErrorCode.INDEX_SCHEMA}, `index schema version ${schema}, this otsfed uses ${INDEX_SCHEMA_VERSION}: run 'otsfed reindex' to rebuild it from the journal`);
    }
  }

  /** Remove everything and stamp the empty index with our schema. */
  async reset(): Promise<void> {
    await this.db.clear();
    const schema = new Uint8Array(4);
    writeU32(schema, 0, INDEX_SCHEMA_VERSION);
    await this.db.put(KEY_SCHEMA, buf(schema));
  }

  /** A calendar's high-water mark, or null when the index holds nothing of it. */
  async mark(tag: Uint8Array): Promise<CalendarMark | null> {
    checkTag(tag);
    const v = await this.db.get(markKey(tag));
    return v === undefined ? null : decodeMark(v);
  }

  /** True when a `resetCalendar` of this calendar was cut short (its entries may be half deleted). */
  async resetInterrupted(tag: Uint8Array): Promise<boolean> {
    checkTag(tag);
    return (await this.db.get(Buffer.concat([RESETTING_PREFIX, buf(tag)]))) !== undefined;
  }

  /**
   * Forget one calendar: its commitments, its stamps and its mark, then set
   * its mark to the empty journal. Commitments are keyed root first, so
   * this scans the commitment bucket: a rare repair, not a hot path. A
   * flag marks the reset until it is complete, and the mark goes first, so
   * a crash half-way is never taken for a consistent index.
   */
  async resetCalendar(tag: Uint8Array, calendarId: Uint8Array, genesisChain: Uint8Array): Promise<void> {
    checkTag(tag);
    const flag = Buffer.concat([RESETTING_PREFIX, buf(tag)]);
    await this.db.batch([
      {type: "put", key: flag, value: Buffer.alloc(0)},
      {type: "del", key: markKey(tag)},
    ]);
    const tagAt = 1 + ROUND_ROOT_SIZE;
    let batch = this.db.batch();
    let n = 0;
    for await (const k of this.db.keys({gt: Buffer.of(COMMITMENT), lt: Buffer.of(COMMITMENT + 1)})) {
      if (k.length !== 1 + COMMITMENT_SIZE || k.compare(buf(tag), 0, CALENDAR_TAG_SIZE, tagAt, tagAt + CALENDAR_TAG_SIZE) !== 0) continue;
      batch.del(k);
      if (++n % 10_000 === 0) {
        await batch.write();
        batch = this.db.batch();
      }
    }
    await batch.write();
    await this.db.clear(stampRange(tag));
    await this.db.batch([
      {type: "put", key: markKey(tag), value: encodeMark({calendarId, length: 0, chainHash: genesisChain})},
      {type: "del", key: flag},
    ]);
  }

  /** Add one calendar's entries and move its high-water mark to `mark` atomically. */
  async put(tag: Uint8Array, entries: readonly IndexPut[], mark: CalendarMark, stamps?: StampChanges): Promise<void> {
    checkTag(tag);
    // A chained batch is about twice as fast as the array form for large rebuilds.
    const batch = this.db.batch();
    for (const e of entries) batch.put(commitmentKey(e.commitment), encodePosition(e.pos));
    if (stamps) {
      for (const st of stamps.add) batch.put(stampKey(tag, st.pos.seq), encodeLiveStamp(st));
      for (const seq of stamps.remove) batch.del(stampKey(tag, seq));
    }
    batch.put(markKey(tag), encodeMark(mark));
    await batch.write();
  }

  /** The journal position of a commitment (of whichever calendar its tag names), or null. */
  async lookup(commitment: Uint8Array): Promise<JournalPosition | null> {
    const v = await this.db.get(commitmentKey(commitment));
    return v === undefined ? null : decodePosition(v);
  }

  /** Every live stamp of one calendar, in journal order. */
  async *stamps(tag: Uint8Array): AsyncGenerator<LiveStamp> {
    checkTag(tag);
    for await (const v of this.db.values(stampRange(tag))) yield decodeLiveStamp(v);
  }

  /** Every (commitment, position) in key order, of one calendar or all: for equivalence checks. */
  async *entries(tag?: Uint8Array): AsyncGenerator<IndexPut> {
    const tagAt = ROUND_ROOT_SIZE;
    for await (const [k, v] of this.db.iterator({gt: Buffer.of(COMMITMENT), lt: Buffer.of(COMMITMENT + 1)})) {
      const commitment = new Uint8Array(k.subarray(1));
      if (tag !== undefined && Buffer.compare(buf(commitment.subarray(tagAt, tagAt + CALENDAR_TAG_SIZE)), buf(tag)) !== 0) continue;
      yield {commitment, pos: decodePosition(v)};
    }
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
  }
}
