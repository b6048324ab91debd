/**
 * The LevelDB index (DESIGN §2): commitment → journal position. It holds
 * nothing the journal does not: every value is derived from journal records,
 * so deleting it and starting again (or `otsfed reindex`) gives the same
 * answers.
 *
 * Keys (one-byte buckets, STYLE §15):
 *   00 "schema"          → uint32 BE schema version
 *   00 "calendar"        → calendar id the index was built for
 *   00 "indexed"         → uint64 BE journal length covered ‖ chain hash at that length
 *   01 ‖ commitment(44)  → uint64 BE seq ‖ uint64 BE segment first seq ‖ uint32 BE offset
 *   02 ‖ uint64 BE seq   → a live STAMP record: its position, txid, block,
 *                          fee, size and covered ranges (see encodeLiveStamp);
 *                          removed when a STAMP_REVOKED names it
 *
 * The high-water mark is written in the same batch as the entries it covers,
 * so the index is always a consistent prefix of the journal.
 */
import {Level} from "level";
import {bytesEqual} from "../../protocol/ots/bytes.ts";
import {readU32, readU64, writeU32, writeU64} from "../../protocol/journal/varint.ts";
import type {JournalPosition} from "./journal-store.ts";
import type {LiveStamp} from "./stamp-directory.ts";
import {StoreError, StoreErrorCode} from "./errors.ts";

/** 2: live stamps (bucket 02). An older index is rebuilt at start. */
export const INDEX_SCHEMA_VERSION = 2;
export const INDEX_DIR = "index";

const META = 0x00;
const COMMITMENT = 0x01;
const STAMP = 0x02;
const enc = new TextEncoder();
const KEY_SCHEMA = Uint8Array.of(META, ...enc.encode("schema"));
const KEY_CALENDAR = Uint8Array.of(META, ...enc.encode("calendar"));
const KEY_INDEXED = Uint8Array.of(META, ...enc.encode("indexed"));

export type IndexMeta = {schema: number; calendarId: Uint8Array | null; length: number; chainHash: Uint8Array | null};

export type IndexPut = {commitment: Uint8Array; pos: JournalPosition};

/** Stamp entries to add and STAMP seqs to drop, in the same batch as commitments. */
export type StampChanges = {add: readonly LiveStamp[]; remove: readonly number[]};

/** A Buffer view of bytes (no copy): LevelDB's buffer encoding is the fast path. */
function buf(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
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

function stampKey(seq: number): Buffer {
  const k = Buffer.allocUnsafe(9);
  k[0] = STAMP;
  writeU64(k, 1, seq);
  return k;
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
  const n = readU32(v, 104);
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

type Db = Level<Buffer, Buffer>;

export class CommitmentIndex {
  private readonly db: Db;
  private closed = false;

  private constructor(db: Db) {
    this.db = db;
  }

  /** Open (creating if missing) the LevelDB under `dataDir/index`; a second opener gets STORE_IN_USE. */
  static async open(path: string): Promise<CommitmentIndex> {
    const db: Db = new Level<Buffer, Buffer>(path, {keyEncoding: "buffer", valueEncoding: "buffer"});
    try {
      await db.open();
    } catch (e) {
      const err = e as {code?: string; cause?: {code?: string}};
      if (err.code === "LEVEL_LOCKED" || err.cause?.code === "LEVEL_LOCKED") throw new StoreError({code: StoreErrorCode.IN_USE}, `${path} is already in use (is another otsfed node running on this data dir?)`);
      throw e;
    }
    return new CommitmentIndex(db);
  }

  /** The stored meta data; schema 0 means an empty (new or wiped) index. */
  async meta(): Promise<IndexMeta> {
    const [schema, calendar, indexed] = await this.db.getMany([buf(KEY_SCHEMA), buf(KEY_CALENDAR), buf(KEY_INDEXED)]);
    return {
      schema: schema ? readU32(schema, 0) : 0,
      calendarId: calendar ? new Uint8Array(calendar) : null,
      length: indexed ? readU64(indexed, 0) : 0,
      chainHash: indexed ? indexed.slice(8, 40) : null,
    };
  }

  /**
   * Throw INDEX_SCHEMA if a newer otsfed wrote the index (0 = empty and older
   * schemas are fine: the calendar rebuilds those from the journal).
   */
  async checkSchema(): Promise<void> {
    const m = await this.meta();
    if (m.schema > INDEX_SCHEMA_VERSION) {
      throw new StoreError({code: StoreErrorCode.INDEX_SCHEMA}, `index schema version ${m.schema}, this otsfed uses ${INDEX_SCHEMA_VERSION}: run 'otsfed reindex' to rebuild it from the journal`);
    }
  }

  /** Remove everything and stamp the empty index with our schema and calendar. */
  async reset(calendarId: Uint8Array, genesisChain: Uint8Array): Promise<void> {
    await this.db.clear();
    const indexed = new Uint8Array(40);
    writeU64(indexed, 0, 0);
    indexed.set(genesisChain, 8);
    const schema = new Uint8Array(4);
    writeU32(schema, 0, INDEX_SCHEMA_VERSION);
    await this.db.batch([
      {type: "put", key: buf(KEY_SCHEMA), value: buf(schema)},
      {type: "put", key: buf(KEY_CALENDAR), value: buf(calendarId)},
      {type: "put", key: buf(KEY_INDEXED), value: buf(indexed)},
    ]);
  }

  /** True if the index meta names this calendar. */
  async isFor(calendarId: Uint8Array): Promise<boolean> {
    const m = await this.meta();
    return m.calendarId !== null && bytesEqual(m.calendarId, calendarId);
  }

  /** Add entries and move the high-water mark to (`length`, `chainHash`) atomically. */
  async put(entries: readonly IndexPut[], length: number, chainHash: Uint8Array, stamps?: StampChanges): Promise<void> {
    const indexed = new Uint8Array(40);
    writeU64(indexed, 0, length);
    indexed.set(chainHash, 8);
    // A chained batch is about twice as fast as the array form for large rebuilds.
    const batch = this.db.batch();
    for (const e of entries) batch.put(commitmentKey(e.commitment), encodePosition(e.pos));
    if (stamps) {
      for (const st of stamps.add) batch.put(stampKey(st.pos.seq), encodeLiveStamp(st));
      for (const seq of stamps.remove) batch.del(stampKey(seq));
    }
    batch.put(buf(KEY_INDEXED), buf(indexed));
    await batch.write();
  }

  /** The journal position of a commitment, or null. */
  async lookup(commitment: Uint8Array): Promise<JournalPosition | null> {
    const v = await this.db.get(commitmentKey(commitment));
    return v === undefined ? null : decodePosition(v);
  }

  /** Every live stamp, in journal order. */
  async *stamps(): AsyncGenerator<LiveStamp> {
    for await (const v of this.db.values({gt: Buffer.of(STAMP), lt: Buffer.of(STAMP + 1)})) yield decodeLiveStamp(v);
  }

  /** Every (commitment, position) in key order: for equivalence checks. */
  async *entries(): AsyncGenerator<IndexPut> {
    for await (const [k, v] of this.db.iterator({gt: Buffer.of(COMMITMENT), lt: Buffer.of(COMMITMENT + 1)})) {
      yield {commitment: new Uint8Array(k.subarray(1)), pos: decodePosition(v)};
    }
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
  }
}
