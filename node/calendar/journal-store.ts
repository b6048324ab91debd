/**
 * The journal on disk: the calendar's source of truth (DESIGN §2).
 *
 *   DIR/journal/<firstSeq, 20 digits>.seg   segments (protocol/journal/segment.ts)
 *   DIR/journal/<firstSeq, 20 digits>.ckpt  signed checkpoint at the end of that sealed segment
 *   DIR/journal/latest.ckpt                 signed checkpoint written at each clean close
 *
 * Appends are group commits: one write of all the batch's frames, then
 * fdatasync, and only then does `append` resolve, so whoever acknowledges a
 * digest after it knows the record is durable. Appends are strictly serial.
 *
 * Opening verifies every segment end to end (headers, checksums, kinds, hash
 * chain). A torn tail of the last segment is cut (logged); anything else
 * wrong stops the node with a JournalCorruptionError naming segment and offset.
 */
import {open, readdir, readFile, truncate, unlink, mkdir} from "node:fs/promises";
import type {FileHandle} from "node:fs/promises";
import {join} from "node:path";
import {bytesEqual, toHex} from "../../protocol/ots/bytes.ts";
import {genesisChainHash, nextChainHash} from "../../protocol/journal/chain.ts";
import {checkpointSigningBytes, decodeCheckpoint, encodeCheckpoint} from "../../protocol/journal/checkpoint.ts";
import type {Checkpoint} from "../../protocol/journal/checkpoint.ts";
import {JournalError} from "../../protocol/journal/errors.ts";
import {decodeFrame, frameSize, MAX_RECORD_PAYLOAD, writeFrame} from "../../protocol/journal/record.ts";
import {decodeSegmentHeader, encodeSegmentHeader, scanSegment} from "../../protocol/journal/segment.ts";
import type {ScannedRecord} from "../../protocol/journal/segment.ts";
import type {Identity} from "../identity.ts";
import type {Logger} from "../logger.ts";
import type {Metrics} from "../metrics.ts";
import {JournalCorruptionError, StoreError, StoreErrorCode} from "./errors.ts";
import {writeFileAtomic} from "./fsutil.ts";
import {nativeSha256} from "../hash.ts";

export type JournalOptions = {
  /** A segment is sealed and a new one started once it reaches this many bytes. */
  segmentBytes: number;
};

export const defaultJournalOptions: JournalOptions = {segmentBytes: 16 * 1024 * 1024};

export type JournalModules = {logger: Logger; metrics: Metrics | null; identity: Identity};

/** Where a record lives: its sequence number, its segment (by first seq) and byte offset there. */
export type JournalPosition = {seq: number; segment: number; offset: number};

export type JournalEntry = {kind: number; payload: Uint8Array};

/** A record read back for replay (index rebuild). `payload` is a view into the segment bytes. */
export type ReplayedRecord = {seq: number; kind: number; payload: Uint8Array; segment: number; offset: number};

type SegmentInfo = {firstSeq: number; file: string; bytes: number; records: number};

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
  /** Chain hash after record `captureChainAt - 1`, when asked for and within the journal. */
  capturedChain: Uint8Array | null;
};

export type OpenOptions = {
  /** Report the chain hash at this length (the index's high-water mark) in `capturedChain`. */
  captureChainAt?: number;
};


/** List the segments of a journal directory in order, refusing names that are not ours. */
export async function listSegments(dir: string): Promise<Array<{firstSeq: number; file: string}>> {
  const out: Array<{firstSeq: number; file: string}> = [];
  for (const name of await readdir(dir)) {
    const m = SEGMENT_RE.exec(name);
    if (m) out.push({firstSeq: Number(m[1]), file: name});
  }
  return out.sort((a, b) => a.firstSeq - b.firstSeq);
}

async function readLatestCheckpoint(dir: string): Promise<Checkpoint | null> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(join(dir, LATEST_CHECKPOINT)));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  return decodeCheckpoint(bytes);
}

export class JournalStore {
  readonly dir: string;
  private readonly opts: JournalOptions;
  private readonly logger: Logger;
  private readonly metrics: Metrics | null;
  private readonly identity: Identity;
  private readonly segments: SegmentInfo[];
  private active: FileHandle;
  private activeEnd: number;
  private nextSeq: number;
  private chain: Uint8Array;
  private totalBytes: number;
  private appending = false;
  private failed: Error | null = null;
  private closed = false;

  private constructor(dir: string, opts: JournalOptions, modules: JournalModules, segments: SegmentInfo[], active: FileHandle, nextSeq: number, chain: Uint8Array) {
    this.dir = dir;
    this.opts = opts;
    this.logger = modules.logger;
    this.metrics = modules.metrics;
    this.identity = modules.identity;
    this.segments = segments;
    this.active = active;
    this.activeEnd = (segments[segments.length - 1] as SegmentInfo).bytes;
    this.nextSeq = nextSeq;
    this.chain = chain;
    this.totalBytes = segments.reduce((a, s) => a + s.bytes, 0);
    this.updateGauges();
  }

  /**
   * Open (or create) the journal under `dataDir/journal`, verify it and
   * recover a torn tail. Throws JournalCorruptionError on damage.
   */
  static async open(dataDir: string, opts: JournalOptions, modules: JournalModules, openOpts: OpenOptions = {}): Promise<{store: JournalStore; report: RecoveryReport}> {
    const dir = join(dataDir, JOURNAL_DIR);
    await mkdir(dir, {recursive: true});
    const calendarId = modules.identity.calendarId;
    // A crash while creating a segment or checkpoint leaves only a .tmp file.
    for (const name of await readdir(dir)) if (name.endsWith(".tmp")) await unlink(join(dir, name));

    let listed = await listSegments(dir);
    if (listed.length === 0) {
      const header = encodeSegmentHeader({calendarId, firstSeq: 0, prevChain: genesisChainHash(calendarId, nativeSha256)});
      await writeFileAtomic(dir, segmentFileName(0), header);
      listed = [{firstSeq: 0, file: segmentFileName(0)}];
      modules.logger.info("journal created", {dir});
    }

    const segments: SegmentInfo[] = [];
    let seq = 0;
    let chain = genesisChainHash(calendarId, nativeSha256);
    let torn: RecoveryReport["torn"] = null;
    const capture = openOpts.captureChainAt;
    let captured: Uint8Array | null = capture === 0 ? chain : null;
    for (let i = 0; i < listed.length; i++) {
      const {firstSeq, file} = listed[i] as {firstSeq: number; file: string};
      const isLast = i === listed.length - 1;
      const buf = new Uint8Array(await readFile(join(dir, file)));
      if (firstSeq !== seq) throw new JournalCorruptionError({code: "JOURNAL_BROKEN_CHAIN", segment: file, offset: 0}, `journal segment ${file}: named for record ${firstSeq} but the journal before it ends at record ${seq}`);
      let scan;
      try {
        // The header's calendar id is checked separately to give a clearer error.
        const {header} = decodeSegmentHeader(buf);
        if (!bytesEqual(header.calendarId, calendarId)) {
          throw new StoreError({code: StoreErrorCode.IDENTITY_MISMATCH}, `journal segment ${file} belongs to calendar ${toHex(header.calendarId)}, but ${join(dataDir, "identity.key")} is ${toHex(calendarId)}`);
        }
        const wantCapture = capture !== undefined && capture > seq ? capture : -1;
        scan = scanSegment(buf, {isLast, sha256: nativeSha256, expect: {calendarId, firstSeq: seq, prevChain: chain}}, wantCapture < 0 ? undefined : (r: ScannedRecord) => {
          if (r.seq === wantCapture - 1) captured = r.chainHash;
        });
      } catch (e) {
        if (e instanceof JournalError) {
          const offset = e.type.offset ?? 0;
          throw new JournalCorruptionError({code: e.code, segment: file, offset}, `journal segment ${file} at offset ${offset}: ${e.message.replace(/ \(at byte \d+\)$/, "")} (${e.code}); refusing to start — nothing acknowledged may be dropped, inspect with 'otsfed journal verify'`);
        }
        throw e;
      }
      let bytes = buf.length;
      if (scan.torn) {
        torn = {segment: file, offset: scan.torn.offset, bytes: scan.torn.length};
        modules.logger.warn("journal torn tail cut", {segment: file, offset: scan.torn.offset, bytes: scan.torn.length});
        await truncate(join(dir, file), scan.end);
        const fh = await open(join(dir, file), "r+");
        try {
          await fh.datasync();
        } finally {
          await fh.close();
        }
        bytes = scan.end;
      }
      segments.push({firstSeq, file, bytes, records: scan.records});
      seq = scan.nextSeq;
      chain = scan.chainHash;
    }
    const last = segments[segments.length - 1] as SegmentInfo;
    // latest.ckpt is written only at a clean close, so it can never cover a
    // torn write; if it claims more records than survive, acknowledged
    // records were lost and starting would hide it.
    const latest = await readLatestCheckpoint(dir);
    if (latest && (latest.length > seq || (latest.length === seq && !bytesEqual(latest.chainHash, chain)))) {
      throw new JournalCorruptionError(
        {code: "JOURNAL_BROKEN_CHAIN", segment: last.file, offset: last.bytes},
        `journal segment ${last.file} at offset ${last.bytes}: the journal ends at record ${seq} but ${LATEST_CHECKPOINT} (signed at the last clean stop) covers ${latest.length} records with another chain hash; refusing to start`,
      );
    }
    const active = await open(join(dir, last.file), "r+");
    const store = new JournalStore(dir, opts, modules, segments, active, seq, chain);
    return {store, report: {segments: segments.length, records: seq, torn, capturedChain: captured}};
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

  /** Non-null once a write or fsync failed: the store appends nothing more until reopened. */
  get failure(): Error | null {
    return this.failed;
  }

  private updateGauges(): void {
    this.metrics?.journalBytes.set(this.totalBytes);
    this.metrics?.journalRecords.set(this.nextSeq);
    this.metrics?.journalSegments.set(this.segments.length);
  }

  /**
   * Append records with one write and one fdatasync. Resolves with their
   * positions only once they are durable. Must not be called concurrently.
   */
  async append(entries: readonly JournalEntry[]): Promise<JournalPosition[]> {
    if (this.closed) throw new StoreError({code: StoreErrorCode.CLOSED}, "journal is closed");
    if (this.failed) throw new StoreError({code: StoreErrorCode.WRITE_FAILED}, `journal refused: an earlier write failed (${this.failed.message})`);
    if (this.appending) throw new Error("JournalStore.append called concurrently");
    if (entries.length === 0) return [];
    this.appending = true;
    try {
      if (this.activeEnd >= this.opts.segmentBytes && (this.segments[this.segments.length - 1] as SegmentInfo).records > 0) await this.seal();
      let size = 0;
      for (const e of entries) size += frameSize(e.kind, e.payload.length);
      const buf = new Uint8Array(size);
      const seg = this.segments[this.segments.length - 1] as SegmentInfo;
      const positions: JournalPosition[] = [];
      let p = 0;
      let chain = this.chain;
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i] as JournalEntry;
        const start = p;
        p = writeFrame(buf, p, e.kind, e.payload);
        chain = nextChainHash(chain, buf.subarray(start, p - 4), nativeSha256);
        positions.push({seq: this.nextSeq + i, segment: seg.firstSeq, offset: this.activeEnd + start});
      }
      const t0 = performance.now();
      try {
        let written = 0;
        while (written < size) {
          const r = await this.active.write(buf, written, size - written, this.activeEnd + written);
          written += r.bytesWritten;
        }
        await this.active.datasync();
      } catch (e) {
        this.failed = e as Error;
        this.logger.error("journal write failed; refusing further appends", {segment: seg.file}, e as Error);
        throw new StoreError({code: StoreErrorCode.WRITE_FAILED}, `journal write failed: ${(e as Error).message}`);
      }
      this.metrics?.fsyncSeconds.observe((performance.now() - t0) / 1000);
      this.activeEnd += size;
      seg.bytes += size;
      seg.records += entries.length;
      this.totalBytes += size;
      this.nextSeq += entries.length;
      this.chain = chain;
      this.updateGauges();
      return positions;
    } finally {
      this.appending = false;
    }
  }

  /** Seal the active segment (sign a checkpoint at its end) and start the next. */
  private async seal(): Promise<void> {
    const old = this.segments[this.segments.length - 1] as SegmentInfo;
    await writeFileAtomic(this.dir, checkpointFileName(old.firstSeq), await this.signCheckpoint());
    const file = segmentFileName(this.nextSeq);
    await writeFileAtomic(this.dir, file, encodeSegmentHeader({calendarId: this.identity.calendarId, firstSeq: this.nextSeq, prevChain: this.chain}));
    const next = await open(join(this.dir, file), "r+");
    const size = (await next.stat()).size;
    await this.active.close();
    this.active = next;
    this.activeEnd = size;
    this.segments.push({firstSeq: this.nextSeq, file, bytes: size, records: 0});
    this.totalBytes += size;
    this.logger.info("journal segment sealed", {segment: old.file, records: old.records, bytes: old.bytes, next: file});
  }

  /** A signed checkpoint of the journal as it is now. */
  async checkpoint(): Promise<Checkpoint> {
    const body = {calendarId: this.identity.calendarId, length: this.nextSeq, chainHash: this.chain};
    return {...body, signature: await this.identity.sign(checkpointSigningBytes(body))};
  }

  private async signCheckpoint(): Promise<Uint8Array> {
    return encodeCheckpoint(await this.checkpoint());
  }

  /**
   * Read records from `fromSeq` to the current end, in batches of at most
   * `batchSize`, without re-verifying the chain (open() did). Used to build
   * or catch up the index, and to gather a stamp's rounds (up to `toSeq`).
   */
  async *replay(fromSeq: number, batchSize = 10_000, toSeq = Infinity): AsyncGenerator<ReplayedRecord[]> {
    const end = Math.min(this.nextSeq, toSeq);
    for (let i = 0; i < this.segments.length; i++) {
      const seg = this.segments[i] as SegmentInfo;
      const segEnd = seg.firstSeq + seg.records;
      if (segEnd <= fromSeq || seg.firstSeq >= end) continue;
      // A Buffer is a Uint8Array: no second 16 MB copy per segment.
      const buf: Uint8Array = await readFile(join(this.dir, seg.file));
      let p = decodeSegmentHeader(buf).size;
      let seq = seg.firstSeq;
      let batch: ReplayedRecord[] = [];
      while (seq < segEnd && seq < end) {
        const f = decodeFrame(buf, p);
        if (seq >= fromSeq) {
          batch.push({seq, kind: f.kind, payload: f.payload, segment: seg.firstSeq, offset: p});
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

  /** Write `latest.ckpt` and close the active segment. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (!this.failed) await writeFileAtomic(this.dir, LATEST_CHECKPOINT, await this.signCheckpoint());
    } finally {
      await this.active.close();
    }
  }
}
