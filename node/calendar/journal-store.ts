/**
 * One calendar's journal on disk: the source of truth (DESIGN §2). A node
 * holds several — its own calendar's (the *origin*: it writes records and
 * signs their checkpoints) and copies of other calendars' (*mirrors*: they
 * append only batches that verify against the origin's chain and signature,
 * and never sign). Both use the same format and the same directory layout:
 *
 *   <dir>/<firstSeq, 20 digits>.seg   segments (protocol/journal/segment.ts)
 *   <dir>/<firstSeq, 20 digits>.ckpt  signed checkpoint at the end of that sealed segment
 *   <dir>/latest.ckpt                 the signed head at each clean close (the
 *                                     origin signs it; a mirror stores the
 *                                     origin's head for that length)
 *
 * Writes are group commits: one write of all the batch's frames, then
 * fdatasync, and only then do `append`/`importBatch` resolve (with the
 * records as written), so whoever acknowledges or forwards a record after
 * it knows the record is durable. Writes are strictly serial.
 *
 * Opening verifies every segment end to end (headers, checksums, kinds, hash
 * chain). A torn tail of the last segment is cut (logged); anything else
 * wrong stops the node with a JournalCorruptionError naming segment and offset.
 */
import {open, readdir, readFile, stat, truncate, unlink, mkdir} from "node:fs/promises";
import type {FileHandle} from "node:fs/promises";
import {join} from "node:path";
import {bytesEqual, toHex} from "../../protocol/ots/bytes.ts";
import {checkBatchHead, decodeRecordBatch} from "../../protocol/journal/batch.ts";
import {genesisChainHash, nextChainHash} from "../../protocol/journal/chain.ts";
import {checkpointSigningBytes, decodeCheckpoint, encodeCheckpoint, verifyCheckpoint} from "../../protocol/journal/checkpoint.ts";
import type {Checkpoint} from "../../protocol/journal/checkpoint.ts";
import {JournalError} from "../../protocol/journal/errors.ts";
import {decodeFrame, frameSize, MAX_RECORD_PAYLOAD, writeFrame} from "../../protocol/journal/record.ts";
import {decodeSegmentHeader, encodeSegmentHeader, scanSegment} from "../../protocol/journal/segment.ts";
import {nativeSha256} from "../hash.ts";
import type {Logger} from "../logger.ts";
import type {Metrics} from "../metrics.ts";
import {JournalCorruptionError, StoreError, StoreErrorCode} from "./errors.ts";
import {writeFileAtomic} from "../fsutil.ts";

export type JournalOptions = {
  /** A segment is sealed and a new one started once it reaches this many bytes. */
  segmentBytes: number;
};

export const defaultJournalOptions: JournalOptions = {segmentBytes: 16 * 1024 * 1024};

export type JournalModules = {logger: Logger; metrics: Metrics | null};

/** Which calendar a journal directory holds, and whether we write it. */
export type JournalTarget = {
  /** The journal directory (segments and checkpoints directly inside). */
  dir: string;
  calendarId: Uint8Array;
  /** The origin signs its checkpoints with the calendar's key; a mirror has none (null). */
  sign: ((data: Uint8Array) => Promise<Uint8Array>) | null;
  /** Checks the origin's signature (a mirror's imports and its stored heads). */
  verify: (data: Uint8Array, signature: Uint8Array) => Promise<boolean>;
};

/** Where a record lives: its sequence number, its segment (by first seq) and byte offset there. */
export type JournalPosition = {seq: number; segment: number; offset: number};

export type JournalEntry = {kind: number; payload: Uint8Array};

/** A record read back for replay (index rebuild). `payload` is a view into the segment bytes. */
export type ReplayedRecord = {seq: number; kind: number; payload: Uint8Array; segment: number; offset: number};

/** A record as subscribers see it: everything a mirror needs to forward it exactly. Views, not copies. */
export type JournalRecord = ReplayedRecord & {
  /** The whole frame (kind ‖ length ‖ payload ‖ crc), byte for byte as in the segment. */
  frame: Uint8Array;
  /** Chain hash after this record. */
  chainHash: Uint8Array;
};

/** A segment: its file, size, record count and each record's byte offset (so any record is one read away). */
type SegmentInfo = {firstSeq: number; file: string; bytes: number; records: number; offsets: Uint32Array};

/** A copy of `a` with room for at least `need` entries (doubling). */
function grow(a: Uint32Array, need: number): Uint32Array {
  let cap = Math.max(a.length, 1024);
  while (cap < need) cap *= 2;
  const out = new Uint32Array(cap);
  out.set(a);
  return out;
}

export const JOURNAL_DIR = "journal";
const SEGMENT_RE = /^(\d{20})\.seg$/;
const LATEST_CHECKPOINT = "latest.ckpt";

export function segmentFileName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, "0")}.seg`;
}

function checkpointFileName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, "0")}.ckpt`;
}

/** What opening found, for logs and the caller's index check. */
export type RecoveryReport = {
  segments: number;
  records: number;
  /** A cut torn tail, if there was one. */
  torn: {segment: string; offset: number; bytes: number} | null;
  /** Chain hash after each asked-for length (`captureChainAt`) that lies within the journal. */
  capturedChains: Map<number, Uint8Array>;
};

export type OpenOptions = {
  /** Report the chain hash at these lengths (the index's high-water mark) in `capturedChains`. */
  captureChainAt?: readonly number[];
  /**
   * Evidence that records existed (the index's high-water mark): opening
   * refuses, changing nothing, when the journal holds fewer.
   */
  mustCover?: ReadonlyArray<{length: number; what: string}>;
};

/** List the segments of a journal directory in order (other files are ignored). */
export async function listSegments(dir: string): Promise<Array<{firstSeq: number; file: string}>> {
  const out: Array<{firstSeq: number; file: string}> = [];
  for (const name of await readdir(dir)) {
    const m = SEGMENT_RE.exec(name);
    if (m) out.push({firstSeq: Number(m[1]), file: name});
  }
  return out.sort((a, b) => a.firstSeq - b.firstSeq);
}

async function readCheckpointFile(path: string): Promise<Checkpoint | null> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  return decodeCheckpoint(bytes);
}

export class JournalStore {
  readonly dir: string;
  readonly calendarId: Uint8Array;
  private readonly opts: JournalOptions;
  private readonly logger: Logger;
  private readonly metrics: Metrics | null;
  private readonly sign: JournalTarget["sign"];
  private readonly verifySignature: JournalTarget["verify"];
  private readonly segments: SegmentInfo[];
  private active: FileHandle;
  private activeEnd: number;
  private nextSeq: number;
  private chain: Uint8Array;
  private totalBytes: number;
  /** A mirror's newest verified head of the origin (null for an origin, which signs its own). */
  private lastHead: Checkpoint | null;
  /** Sealed segments' checkpoints read so far, by the segment's first seq (they never change). */
  private readonly sealedHeads = new Map<number, Checkpoint>();
  private writing = false;
  private failed: Error | null = null;
  private closed = false;

  private constructor(target: JournalTarget, opts: JournalOptions, modules: JournalModules, segments: SegmentInfo[], active: FileHandle, nextSeq: number, chain: Uint8Array, lastHead: Checkpoint | null) {
    this.dir = target.dir;
    this.calendarId = target.calendarId;
    this.opts = opts;
    this.logger = modules.logger;
    this.metrics = modules.metrics;
    this.sign = target.sign;
    this.verifySignature = target.verify;
    this.segments = segments;
    this.active = active;
    this.activeEnd = (segments[segments.length - 1] as SegmentInfo).bytes;
    this.nextSeq = nextSeq;
    this.chain = chain;
    this.totalBytes = segments.reduce((a, s) => a + s.bytes, 0);
    this.lastHead = lastHead;
    this.updateGauges();
  }

  /**
   * Open (or create) the journal in `target.dir`, verify it and recover a
   * torn tail. Throws JournalCorruptionError on damage, StoreError
   * IDENTITY_MISMATCH when the segments belong to another calendar.
   */
  static async open(target: JournalTarget, opts: JournalOptions, modules: JournalModules, openOpts: OpenOptions = {}): Promise<{store: JournalStore; report: RecoveryReport}> {
    const {dir, calendarId} = target;
    await mkdir(dir, {recursive: true});
    // A crash while creating a segment or checkpoint leaves only a .tmp file.
    for (const name of await readdir(dir)) if (name.endsWith(".tmp")) await unlink(join(dir, name));

    let listed = await listSegments(dir);
    if (listed.length === 0) {
      const header = encodeSegmentHeader({calendarId, firstSeq: 0, prevChain: genesisChainHash(calendarId, nativeSha256)});
      await writeFileAtomic(dir, segmentFileName(0), header);
      listed = [{firstSeq: 0, file: segmentFileName(0)}];
      modules.logger.info("journal created", {dir});
    }
    const lastListed = (listed[listed.length - 1] as {firstSeq: number; file: string}).file;

    const latest = await JournalStore.readCheckpoint(dir, LATEST_CHECKPOINT, lastListed);
    const capture = new Set(openOpts.captureChainAt ?? []);
    if (latest) capture.add(latest.length);
    const captured = new Map<number, Uint8Array>();
    const segments: SegmentInfo[] = [];
    let seq = 0;
    let chain = genesisChainHash(calendarId, nativeSha256);
    if (capture.has(0)) captured.set(0, chain);
    let tornAt: {file: string; end: number; offset: number; bytes: number} | null = null;
    // Nothing is changed on disk until every segment is read and the evidence weighed.
    for (let i = 0; i < listed.length; i++) {
      const {firstSeq, file} = listed[i] as {firstSeq: number; file: string};
      const isLast = i === listed.length - 1;
      const buf = new Uint8Array(await readFile(join(dir, file)));
      if (firstSeq !== seq) throw new JournalCorruptionError({code: "JOURNAL_BROKEN_CHAIN", segment: file, offset: 0}, `journal segment ${file}: named for record ${firstSeq} but the journal before it ends at record ${seq}`);
      let scan;
      let offsets: Uint32Array = new Uint32Array(1024);
      let n = 0;
      try {
        // The header's calendar id is checked separately to give a clearer error.
        const {header} = decodeSegmentHeader(buf);
        if (!bytesEqual(header.calendarId, calendarId)) {
          throw new StoreError({code: StoreErrorCode.IDENTITY_MISMATCH}, `journal segment ${join(dir, file)} belongs to calendar ${toHex(header.calendarId)}, not ${toHex(calendarId)} (is identity.key the one this journal was written with?)`);
        }
        const onOffset = (offset: number): void => {
          if (n === offsets.length) offsets = grow(offsets, n + 1);
          offsets[n++] = offset;
        };
        scan = scanSegment(buf, {isLast, sha256: nativeSha256, expect: {calendarId, firstSeq: seq, prevChain: chain}, onOffset}, capture.size === 0 ? undefined : (r) => {
          if (capture.has(r.seq + 1)) captured.set(r.seq + 1, r.chainHash);
        });
      } catch (e) {
        if (e instanceof JournalError) {
          const offset = e.type.offset ?? 0;
          throw new JournalCorruptionError({code: e.code, segment: file, offset}, `journal segment ${file} at offset ${offset}: ${e.message.replace(/ \(at byte \d+\)$/, "")} (${e.code}); refusing to start — nothing acknowledged may be dropped, inspect with 'otsfed journal verify'`);
        }
        throw e;
      }
      if (scan.torn) tornAt = {file, end: scan.end, offset: scan.torn.offset, bytes: scan.torn.length};
      segments.push({firstSeq, file, bytes: scan.end, records: scan.records, offsets});
      seq = scan.nextSeq;
      chain = scan.chainHash;
    }
    const last = segments[segments.length - 1] as SegmentInfo;
    // Records that something durable says existed must all survive. A
    // signed checkpoint is written only once its records are durable (a
    // clean close, a seal, a mirror's verified import), and the index only
    // ever marks records after their fsync; so if either covers more than
    // survives, acknowledged records were lost, and a "torn tail" there is
    // damage, not an interrupted write: refuse, naming what is missing.
    const where = tornAt ? `journal segment ${tornAt.file} at offset ${tornAt.offset}` : `journal segment ${last.file} at offset ${last.bytes}`;
    if (latest) {
      const at = captured.get(latest.length);
      if (latest.length > seq || at === undefined || !bytesEqual(at, latest.chainHash)) {
        throw new JournalCorruptionError(
          {code: "JOURNAL_BROKEN_CHAIN", segment: tornAt?.file ?? last.file, offset: tornAt?.offset ?? last.bytes},
          `${where}: the journal holds ${seq} records but ${join(dir, LATEST_CHECKPOINT)} (signed) covers ${latest.length}${latest.length <= seq ? " with another chain hash" : `: records ${seq}..${latest.length - 1} are missing`}; refusing to start, nothing was changed`,
        );
      }
    }
    for (const e of openOpts.mustCover ?? []) {
      if (e.length > seq) {
        throw new JournalCorruptionError(
          {code: "JOURNAL_TRUNCATED", segment: tornAt?.file ?? last.file, offset: tornAt?.offset ?? last.bytes},
          `${where}: the journal holds ${seq} records but ${e.what} covers ${e.length}: acknowledged records ${seq}..${e.length - 1} are missing; refusing to start, nothing was changed (inspect with 'otsfed journal verify'; only if the journal was restored from a backup on purpose, 'otsfed reindex' accepts it as it is)`,
        );
      }
    }
    let torn: RecoveryReport["torn"] = null;
    if (tornAt) {
      torn = {segment: tornAt.file, offset: tornAt.offset, bytes: tornAt.bytes};
      modules.logger.warn("journal torn tail cut", {dir, segment: tornAt.file, offset: tornAt.offset, bytes: tornAt.bytes});
      await truncate(join(dir, tornAt.file), tornAt.end);
      const fh = await open(join(dir, tornAt.file), "r+");
      try {
        await fh.datasync();
      } finally {
        await fh.close();
      }
    }
    let lastHead: Checkpoint | null = null;
    if (target.sign === null && latest) {
      // A mirror serves the origin's head it holds; one that does not verify is worthless.
      await verifyCheckpoint(latest, target.verify);
      lastHead = latest;
    }
    // A sealed segment is never appended to: its checkpoint vouches for its
    // end. A crash between writing that checkpoint and creating the next
    // segment leaves it last; the next segment is created now.
    const sealed = await JournalStore.readCheckpoint(dir, checkpointFileName(last.firstSeq), last.file);
    if (sealed !== null) {
      if (sealed.length !== seq || !bytesEqual(sealed.chainHash, chain)) {
        throw new JournalCorruptionError({code: "JOURNAL_BROKEN_CHAIN", segment: last.file, offset: last.bytes}, `journal segment ${last.file} is sealed by ${checkpointFileName(last.firstSeq)} at record ${sealed.length}, but it ends at record ${seq}; refusing to start`);
      }
      const file = segmentFileName(seq);
      await writeFileAtomic(dir, file, encodeSegmentHeader({calendarId, firstSeq: seq, prevChain: chain}));
      segments.push({firstSeq: seq, file, bytes: (await stat(join(dir, file))).size, records: 0, offsets: new Uint32Array(1024)});
      modules.logger.warn("journal: the last segment was sealed; started the next one", {dir, sealed: last.file, next: file});
    }
    const active = await open(join(dir, (segments[segments.length - 1] as SegmentInfo).file), "r+");
    const store = new JournalStore(target, opts, modules, segments, active, seq, chain, lastHead);
    return {store, report: {segments: segments.length, records: seq, torn, capturedChains: captured}};
  }

  /** A checkpoint file, with a decode failure naming the file. */
  private static async readCheckpoint(dir: string, name: string, segmentForErrors: string): Promise<Checkpoint | null> {
    try {
      return await readCheckpointFile(join(dir, name));
    } catch (e) {
      if (e instanceof JournalError) {
        throw new JournalCorruptionError({code: e.code, segment: segmentForErrors, offset: 0}, `journal checkpoint ${join(dir, name)}: ${e.message} (${e.code}); refusing to start`);
      }
      throw e;
    }
  }

  /** True for a mirror (a copy of another calendar's journal that never signs). */
  get isMirror(): boolean {
    return this.sign === null;
  }

  /** Number of records (the next record's sequence number). */
  get length(): number {
    return this.nextSeq;
  }

  /** Chain hash after the last record. */
  get chainHash(): Uint8Array {
    return this.chain;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Non-null once a write or fsync failed: the store writes nothing more until reopened. */
  get failure(): Error | null {
    return this.failed;
  }

  private updateGauges(): void {
    this.metrics?.journalBytes.set(this.totalBytes);
    this.metrics?.journalRecords.set(this.nextSeq);
    this.metrics?.journalSegments.set(this.segments.length);
  }

  /**
   * Append this calendar's own records with one write and one fdatasync.
   * Resolves with the records as written only once they are durable.
   * Origin only; must not be called concurrently.
   */
  async append(entries: readonly JournalEntry[]): Promise<JournalRecord[]> {
    if (this.isMirror) throw new StoreError({code: StoreErrorCode.READ_ONLY}, "a mirror journal takes only its origin's verified records (importBatch), never its own");
    if (entries.length === 0) return [];
    let size = 0;
    for (const e of entries) size += frameSize(e.kind, e.payload.length);
    const buf = new Uint8Array(size);
    const records: Array<Omit<JournalRecord, "segment" | "offset"> & {start: number}> = [];
    let p = 0;
    let chain = this.chain;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as JournalEntry;
      const start = p;
      p = writeFrame(buf, p, e.kind, e.payload);
      const frame = buf.subarray(start, p);
      chain = nextChainHash(chain, frame.subarray(0, frame.length - 4), nativeSha256);
      records.push({seq: this.nextSeq + i, kind: e.kind, payload: frame.subarray(frame.length - 4 - e.payload.length, frame.length - 4), frame, chainHash: chain, start});
    }
    return this.write(buf, records);
  }

  /**
   * Append a batch of the origin's records (`bytes`: frames back to back)
   * that ends at `head`, the origin's signed statement of its journal. The
   * batch must start exactly at our end, decode strictly, chain onto our
   * last hash to the head's, and the head's signature must verify; anything
   * else is refused with a typed error (JournalError: BAD_LENGTH,
   * CHECKSUM_MISMATCH, BROKEN_CHAIN, BAD_SIGNATURE, …) and NOTHING is
   * written. Durable (fdatasync) before it resolves, like a local append.
   * Mirror only; must not be called concurrently.
   */
  async importBatch(bytes: Uint8Array, head: Checkpoint): Promise<JournalRecord[]> {
    if (!this.isMirror) throw new StoreError({code: StoreErrorCode.READ_ONLY}, "the origin's journal takes only its own appends, never imported records");
    const start = {fromSeq: this.nextSeq, prevChain: this.chain};
    const decoded = decodeRecordBatch(bytes, start, nativeSha256);
    checkBatchHead(decoded, start, this.calendarId, head);
    await verifyCheckpoint(head, this.verifySignature);
    let p = 0;
    const records = decoded.map((r) => {
      const out = {...r, start: p};
      p += r.frame.length;
      return out;
    });
    return this.write(bytes, records, head);
  }

  /**
   * The one write path: `buf` holds the frames of `records` back to back
   * (each at its `start`); written at the end of the active segment, then
   * fdatasync, then the store's state moves.
   */
  private async write(buf: Uint8Array, records: ReadonlyArray<Omit<JournalRecord, "segment" | "offset"> & {start: number}>, head: Checkpoint | null = null): Promise<JournalRecord[]> {
    if (this.closed) throw new StoreError({code: StoreErrorCode.CLOSED}, "journal is closed");
    if (this.failed) throw new StoreError({code: StoreErrorCode.WRITE_FAILED}, `journal refused: an earlier write failed (${this.failed.message})`);
    if (this.writing) throw new StoreError({code: StoreErrorCode.CONCURRENT_WRITE}, "journal written concurrently (writes must be serialized)");
    this.writing = true;
    try {
      if (this.activeEnd >= this.opts.segmentBytes && (this.segments[this.segments.length - 1] as SegmentInfo).records > 0) await this.maybeSeal();
      const seg = this.segments[this.segments.length - 1] as SegmentInfo;
      const base = this.activeEnd;
      const t0 = performance.now();
      try {
        let written = 0;
        while (written < buf.length) {
          const r = await this.active.write(buf, written, buf.length - written, base + written);
          written += r.bytesWritten;
        }
        await this.active.datasync();
      } catch (e) {
        this.failed = e as Error;
        this.logger.error("journal write failed; refusing further writes", {dir: this.dir, segment: seg.file}, e as Error);
        throw new StoreError({code: StoreErrorCode.WRITE_FAILED}, `journal write failed: ${(e as Error).message}`);
      }
      this.metrics?.fsyncSeconds.observe((performance.now() - t0) / 1000);
      const last = records[records.length - 1];
      if (seg.records + records.length > seg.offsets.length) seg.offsets = grow(seg.offsets, seg.records + records.length);
      for (let i = 0; i < records.length; i++) seg.offsets[seg.records + i] = base + (records[i] as {start: number}).start;
      this.activeEnd += buf.length;
      seg.bytes += buf.length;
      seg.records += records.length;
      this.totalBytes += buf.length;
      this.nextSeq += records.length;
      if (last) this.chain = last.chainHash;
      if (head) this.lastHead = head;
      this.updateGauges();
      return records.map((r) => ({seq: r.seq, kind: r.kind, payload: r.payload, frame: r.frame, chainHash: r.chainHash, segment: seg.firstSeq, offset: base + r.start}));
    } finally {
      this.writing = false;
    }
  }

  /**
   * Seal the active segment and start the next. A sealed segment ends with a
   * signed checkpoint: the origin signs one; a mirror stores the origin's
   * head for exactly that length, so it seals only when it holds one (after
   * a crash its last head may be behind its end until the next import).
   */
  private async maybeSeal(): Promise<void> {
    const head = await this.signedHead();
    if (head === null) return;
    const old = this.segments[this.segments.length - 1] as SegmentInfo;
    await writeFileAtomic(this.dir, checkpointFileName(old.firstSeq), encodeCheckpoint(head));
    const file = segmentFileName(this.nextSeq);
    await writeFileAtomic(this.dir, file, encodeSegmentHeader({calendarId: this.calendarId, firstSeq: this.nextSeq, prevChain: this.chain}));
    const next = await open(join(this.dir, file), "r+");
    const size = (await next.stat()).size;
    await this.active.close();
    this.active = next;
    this.activeEnd = size;
    this.segments.push({firstSeq: this.nextSeq, file, bytes: size, records: 0, offsets: new Uint32Array(1024)});
    this.totalBytes += size;
    this.logger.info("journal segment sealed", {dir: this.dir, segment: old.file, records: old.records, bytes: old.bytes, next: file});
  }

  /**
   * A signed checkpoint of the journal exactly as it is now: signed fresh by
   * an origin; for a mirror the origin's head it imported last, or null when
   * that head is behind (after a crash, until the next import).
   */
  async signedHead(): Promise<Checkpoint | null> {
    const body = {calendarId: this.calendarId, length: this.nextSeq, chainHash: this.chain};
    if (this.sign !== null) return {...body, signature: await this.sign(checkpointSigningBytes(body))};
    return this.lastHead !== null && this.lastHead.length === this.nextSeq ? this.lastHead : null;
  }

  /** The newest signed head this store holds (a mirror's may be behind its end after a crash). */
  async latestHead(): Promise<Checkpoint | null> {
    return this.sign !== null ? this.signedHead() : this.lastHead;
  }

  /**
   * Read records from `fromSeq` to the current end (or `toSeq`), in batches
   * of at most `batchSize`, without re-verifying the chain (open() did).
   * Used to build or catch up the index, and to gather a stamp's rounds.
   */
  async *replay(fromSeq: number, batchSize = 10_000, toSeq = Infinity): AsyncGenerator<ReplayedRecord[]> {
    for await (const batch of this.scanRange(fromSeq, Math.min(this.nextSeq, toSeq), batchSize, null)) yield batch;
  }

  /**
   * Like `replay`, with each record's frame and chain hash, for subscribers
   * that fell behind (record-feed.ts). `chainBefore` is the chain hash after
   * record `fromSeq - 1` when the caller knows it; otherwise it is
   * recomputed from the start of the segment holding `fromSeq`.
   */
  async *records(fromSeq: number, toSeq: number, chainBefore: Uint8Array | null, batchSize = 10_000): AsyncGenerator<JournalRecord[]> {
    for await (const batch of this.scanRange(fromSeq, Math.min(this.nextSeq, toSeq), batchSize, {chainBefore})) yield batch as JournalRecord[];
  }

  private async *scanRange(fromSeq: number, end: number, batchSize: number, withChain: {chainBefore: Uint8Array | null} | null): AsyncGenerator<ReplayedRecord[]> {
    // With an unknown chain before `fromSeq`, hash from the start of its segment (whose header holds the chain before it).
    const hashPrefix = withChain !== null && withChain.chainBefore === null;
    let chain = withChain?.chainBefore ?? null;
    for (let i = 0; i < this.segments.length; i++) {
      const seg = this.segments[i] as SegmentInfo;
      const segEnd = seg.firstSeq + seg.records;
      if (segEnd <= fromSeq || seg.firstSeq >= end) continue;
      // A Buffer is a Uint8Array: no second 16 MB copy per segment.
      const buf: Uint8Array = await readFile(join(this.dir, seg.file));
      const {header, size} = decodeSegmentHeader(buf);
      if (withChain && chain === null) chain = header.prevChain;
      let p = size;
      let seq = seg.firstSeq;
      let batch: ReplayedRecord[] = [];
      while (seq < segEnd && seq < end) {
        const f = decodeFrame(buf, p);
        if (withChain && (seq >= fromSeq || hashPrefix)) chain = nextChainHash(chain as Uint8Array, f.body, nativeSha256);
        if (seq >= fromSeq) {
          const rec: ReplayedRecord = {seq, kind: f.kind, payload: f.payload, segment: seg.firstSeq, offset: p};
          batch.push(withChain ? ({...rec, frame: buf.subarray(p, f.end), chainHash: chain as Uint8Array} satisfies JournalRecord as ReplayedRecord) : rec);
          if (batch.length >= batchSize) {
            yield batch;
            batch = [];
          }
        }
        p = f.end;
        seq++;
      }
      if (batch.length > 0) yield batch;
    }
  }

  /**
   * Records from `fromSeq` exactly as they sit in the segments (frames back
   * to back), ending at a signed head this store holds: the end of a sealed
   * segment (its .ckpt, the origin's signature) or its newest head (an
   * origin signs its end; a mirror holds the origin's). The piece runs to
   * the furthest such head within `maxBytes`, or to the nearest one when
   * even that is larger. Null when no head lies beyond `fromSeq`. What a
   * catch-up reply or the HTTP journal endpoint sends: whoever relays it,
   * the receiver checks it against the origin's signature.
   */
  async readPiece(fromSeq: number, maxBytes: number, chainBefore: Uint8Array | null = null): Promise<{frames: Uint8Array; head: Checkpoint} | null> {
    if (!Number.isSafeInteger(fromSeq) || fromSeq < 0 || fromSeq >= this.nextSeq) return null;
    const candidates: Array<{length: number; head: () => Promise<Checkpoint | null>}> = [];
    for (let i = 0; i + 1 < this.segments.length; i++) {
      const seg = this.segments[i] as SegmentInfo;
      const end = seg.firstSeq + seg.records;
      if (end > fromSeq) candidates.push({length: end, head: () => this.sealedHead(seg.firstSeq, end)});
    }
    // Taken now: the spans below are computed over what exists at this moment.
    const newest = await this.latestHead();
    if (newest !== null && newest.length > fromSeq && !candidates.some((c) => c.length === newest.length)) candidates.push({length: newest.length, head: async () => newest});
    if (candidates.length === 0) return null;
    let pick = candidates[0] as (typeof candidates)[number];
    for (const c of candidates) if (this.spanBytes(fromSeq, c.length) <= maxBytes) pick = c;
    // An origin vouches for any length of its own journal: with the asker's
    // chain hash at fromSeq it cuts the piece at maxBytes and signs its end,
    // so catch-up moves in small pieces a mirror imports while the next arrives.
    if (this.sign !== null && chainBefore !== null && this.spanBytes(fromSeq, pick.length) > maxBytes) {
      const cut = this.cutWithin(fromSeq, pick.length, maxBytes);
      const frames = await this.readFrames(fromSeq, cut);
      const records = decodeRecordBatch(frames, {fromSeq, prevChain: chainBefore}, nativeSha256);
      const last = records[records.length - 1];
      if (last !== undefined) {
        const body = {calendarId: this.calendarId, length: cut, chainHash: last.chainHash};
        return {frames, head: {...body, signature: await this.sign(checkpointSigningBytes(body))}};
      }
    }
    const head = await pick.head();
    if (head === null || head.length !== pick.length) return null;
    return {frames: await this.readFrames(fromSeq, pick.length), head};
  }

  /** The furthest length in (from, to] whose records from `from` fit in `maxBytes` (at least one record). */
  private cutWithin(from: number, to: number, maxBytes: number): number {
    let lo = from + 1;
    let hi = to;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (this.spanBytes(from, mid) <= maxBytes) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The checkpoint sealing the segment that starts at `firstSeq` (covering `end` records), or null when missing. */
  private async sealedHead(firstSeq: number, end: number): Promise<Checkpoint | null> {
    const cached = this.sealedHeads.get(firstSeq);
    if (cached !== undefined) return cached;
    const head = await JournalStore.readCheckpoint(this.dir, checkpointFileName(firstSeq), segmentFileName(firstSeq));
    if (head === null || head.length !== end) return null;
    this.sealedHeads.set(firstSeq, head);
    return head;
  }

  /** Bytes of the frames of records [from, to). */
  private spanBytes(from: number, to: number): number {
    let n = 0;
    for (const r of this.frameRanges(from, to)) n += r.end - r.start;
    return n;
  }

  /** Where the frames of records [from, to) lie: one byte range per segment they span. */
  private frameRanges(from: number, to: number): Array<{file: string; start: number; end: number}> {
    const out: Array<{file: string; start: number; end: number}> = [];
    for (const seg of this.segments) {
      const segEnd = seg.firstSeq + seg.records;
      const a = Math.max(from, seg.firstSeq);
      const b = Math.min(to, segEnd);
      if (a >= b) continue;
      out.push({file: seg.file, start: seg.offsets[a - seg.firstSeq] as number, end: b === segEnd ? seg.bytes : (seg.offsets[b - seg.firstSeq] as number)});
    }
    return out;
  }

  /** The frames of records [from, to), read straight from the segments (no decoding: they were verified at open or write). */
  async readFrames(from: number, to: number): Promise<Uint8Array> {
    const ranges = this.frameRanges(from, Math.min(to, this.nextSeq));
    const out = new Uint8Array(ranges.reduce((a, r) => a + r.end - r.start, 0));
    let p = 0;
    for (const r of ranges) {
      const fh = await open(join(this.dir, r.file), "r");
      try {
        let done = 0;
        while (done < r.end - r.start) {
          const {bytesRead} = await fh.read(out, p + done, r.end - r.start - done, r.start + done);
          if (bytesRead === 0) throw new StoreError({code: StoreErrorCode.WRITE_FAILED}, `journal segment ${r.file} is shorter than its records`);
          done += bytesRead;
        }
      } finally {
        await fh.close();
      }
      p += r.end - r.start;
    }
    return out;
  }

  /** Where record `seq` is, from the offsets read at open and kept on every write; null past the end. */
  positionOf(seq: number): JournalPosition | null {
    if (!Number.isSafeInteger(seq) || seq < 0 || seq >= this.nextSeq) return null;
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.segments[mid] as SegmentInfo).firstSeq <= seq) lo = mid;
      else hi = mid - 1;
    }
    const seg = this.segments[lo] as SegmentInfo;
    return {seq, segment: seg.firstSeq, offset: seg.offsets[seq - seg.firstSeq] as number};
  }

  /** The record at `pos` (from the index), read from its segment; the frame's checksum is checked. */
  async readRecord(pos: JournalPosition): Promise<{kind: number; payload: Uint8Array}> {
    const seg = this.segments.find((s) => s.firstSeq === pos.segment);
    if (seg === undefined || pos.seq < seg.firstSeq || pos.seq >= seg.firstSeq + seg.records) throw new StoreError({code: StoreErrorCode.INDEX_SCHEMA}, `no journal record ${pos.seq} in segment ${pos.segment}: run 'otsfed reindex'`);
    const fh = await open(join(this.dir, seg.file), "r");
    try {
      // A frame is at most its payload limit plus two 5-byte varuints and the CRC.
      const buf = new Uint8Array(Math.min(MAX_RECORD_PAYLOAD + 14, seg.bytes - pos.offset));
      const {bytesRead} = await fh.read(buf, 0, buf.length, pos.offset);
      const f = decodeFrame(buf.subarray(0, bytesRead), 0);
      return {kind: f.kind, payload: f.payload};
    } finally {
      await fh.close();
    }
  }

  /**
   * Write `latest.ckpt` (an origin signs its end; a mirror keeps the
   * origin's head it holds for exactly its end, or leaves the older file)
   * and close the active segment. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      const head = this.failed ? null : await this.signedHead();
      if (head) await writeFileAtomic(this.dir, LATEST_CHECKPOINT, encodeCheckpoint(head));
    } finally {
      await this.active.close();
    }
  }
}
