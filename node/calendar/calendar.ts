/**
 * One calendar a node holds: its journal (the truth), its part of the shared
 * LevelDB index (a derived lookup table) and its live stamps, kept in step.
 * A calendar is either the node's own — the *origin*, which journals rounds,
 * stamps and revocations — or a *mirror* of another member's, which appends
 * only batches of the origin's records that verify against its chain and
 * signed head. Both index and serve their records the same way, so a
 * mirrored commitment gets exactly the proof its origin serves.
 *
 * Opening verifies the journal, then brings the calendar's index up to it:
 * nothing to do when it is current, a catch-up when it is behind, a rebuild
 * of this calendar's entries when they are missing, foreign or inconsistent.
 *
 * Every write goes through one queue (the journal takes one at a time): the
 * aggregator's rounds, the stamper's STAMP / STAMP_REVOKED records, a
 * mirror's imported batches. After each, the index and the live stamps
 * reflect the new records before the write resolves and before record
 * subscribers (`onRecords`, `feed`) hear of them.
 */
import {bytesEqual, toHex} from "../../protocol/ots/bytes.ts";
import {genesisChainHash} from "../../protocol/journal/chain.ts";
import type {Checkpoint} from "../../protocol/journal/checkpoint.ts";
import {calendarTag, COMMITMENT_SIZE, parseCommitment, roundCommitment} from "../../protocol/journal/commitment.ts";
import {writeU64} from "../../protocol/journal/varint.ts";
import {RecordKind} from "../../protocol/journal/record.ts";
import {decodeRound, encodeRound} from "../../protocol/journal/round.ts";
import {decodeStamp, decodeStampRevoked, encodeStamp, encodeStampRevoked} from "../../protocol/journal/stamp.ts";
import type {SeqRange, StampRecord} from "../../protocol/journal/stamp.ts";
import {stampProofBytes} from "../../protocol/journal/stamp-proof.ts";
import {nativeSha256, nativeSha256d} from "../hash.ts";
import type {Logger} from "../logger.ts";
import type {Metrics} from "../metrics.ts";
import type {CommitmentIndex, IndexPut} from "./commitment-index.ts";
import {StoreError, StoreErrorCode} from "./errors.ts";
import {JournalStore} from "./journal-store.ts";
import type {JournalEntry, JournalOptions, JournalPosition, JournalRecord, JournalTarget, RecoveryReport, ReplayedRecord} from "./journal-store.ts";
import {RecordFeed} from "./record-feed.ts";
import type {RecordFeedOptions} from "./record-feed.ts";
import {StampDirectory} from "./stamp-directory.ts";
import {buildMerkleTree} from "./tree-builder.ts";
import type {LiveStamp} from "./stamp-directory.ts";
import {leafIndexOf, makeProofSet, stampKey} from "./stamp-proofs.ts";
import type {StampProofCache, StampProofSet, StampProofSource} from "./stamp-proofs.ts";

/** The node's own calendar (writes and signs), or a copy of another member's (imports verified batches). */
export type CalendarRole = "origin" | "mirror";

export type CalendarModules = {
  logger: Logger;
  metrics: Metrics | null;
  /** The node's one index, shared by every calendar it holds. */
  index: CommitmentIndex;
  /** The node's one proof-tree cache, shared likewise. */
  proofs: StampProofCache;
};

/** What a lookup found: a complete proof, a commitment still waiting for Bitcoin, or nothing. */
export type CommitmentStatus = {state: "stamped"; seq: number; stamp: LiveStamp; proof: Uint8Array} | {state: "pending"; seq: number} | null;

/** The index's summary of a STAMP record at `pos`. */
export function liveStampOf(record: StampRecord, pos: JournalPosition): LiveStamp {
  return {pos, ranges: record.ranges, leaves: record.leaves, txid: nativeSha256d(record.tx), blockHash: record.blockHash, height: record.height, feeSats: record.feeSats, vsize: record.vsize};
}

export type IndexSyncReport = {mode: "current" | "catch-up" | "rebuild"; records: number; seconds: number; reason?: string};

/** Set when the registry has just created or wiped the whole index, with why (it holds nothing of any calendar). */
export type FreshIndex = {reason: string} | null;

/** Index changes a run of records implies: commitments of rounds, stamps that became live or were revoked. */
type IndexChanges = {puts: IndexPut[]; add: LiveStamp[]; remove: number[]};

/** The one place records turn into index changes: live appends, imports, catch-up and rebuild. */
function indexChangesOf(records: readonly ReplayedRecord[], tag: Uint8Array): IndexChanges {
  const out: IndexChanges = {puts: [], add: [], remove: []};
  for (const r of records) {
    const pos = {seq: r.seq, segment: r.segment, offset: r.offset};
    if (r.kind === RecordKind.ROUND) {
      out.puts.push({commitment: roundCommitment(decodeRound(r.payload).root, tag, r.seq), pos});
    } else if (r.kind === RecordKind.STAMP) {
      out.add.push(liveStampOf(decodeStamp(r.payload), pos));
    } else if (r.kind === RecordKind.STAMP_REVOKED) {
      const revoked = decodeStampRevoked(r.payload).stampSeq;
      // Revoked within this run: never add it; otherwise drop the stored one.
      const i = out.add.findIndex((a) => a.pos.seq === revoked);
      if (i >= 0) out.add.splice(i, 1);
      else out.remove.push(revoked);
    }
  }
  return out;
}

/**
 * Write index entries for every record of `store` from `fromSeq` on, in
 * batches. Intermediate batches carry a zero chain hash in the mark (the
 * chain there is not known without re-hashing): a crash mid-rebuild leaves
 * an index the next start finds inconsistent and rebuilds. The last batch
 * sets the mark to the journal's end. Returns the number of records read.
 */
async function replayIntoIndex(store: JournalStore, index: CommitmentIndex, tag: Uint8Array, fromSeq: number): Promise<number> {
  let n = 0;
  for await (const batch of store.replay(fromSeq)) {
    const {puts, add, remove} = indexChangesOf(batch, tag);
    n += batch.length;
    const last = batch[batch.length - 1];
    const done = last !== undefined && last.seq + 1 === store.length;
    await index.put(tag, puts, {calendarId: store.calendarId, length: done ? store.length : 0, chainHash: done ? store.chainHash : new Uint8Array(32)}, {add, remove});
  }
  if (n === 0) await index.put(tag, [], {calendarId: store.calendarId, length: store.length, chainHash: store.chainHash});
  return n;
}

/** Bring one calendar's index entries up to its journal; says what it did and why. */
async function syncIndex(store: JournalStore, report: RecoveryReport, index: CommitmentIndex, tag: Uint8Array, freshIndex: FreshIndex): Promise<IndexSyncReport> {
  const t0 = performance.now();
  const mark = await index.mark(tag);
  let reason: string | undefined;
  if (mark === null) reason = freshIndex?.reason ?? "the index holds nothing of this calendar";
  else if (!bytesEqual(mark.calendarId, store.calendarId)) reason = "index was built for another calendar";
  else if (!bytesEqual(mark.chainHash, report.capturedChains.get(mark.length) ?? new Uint8Array(0))) reason = "index chain hash does not match the journal";
  if (reason !== undefined) {
    // Nothing of a calendar is indexed without its mark (or a reset in progress), so without either there is nothing to delete.
    if (mark !== null || (await index.resetInterrupted(tag))) await index.resetCalendar(tag, store.calendarId, genesisChainHash(store.calendarId, nativeSha256));
    const n = await replayIntoIndex(store, index, tag, 0);
    return {mode: "rebuild", records: n, seconds: (performance.now() - t0) / 1000, reason};
  }
  if ((mark as {length: number}).length < store.length) {
    const n = await replayIntoIndex(store, index, tag, (mark as {length: number}).length);
    return {mode: "catch-up", records: n, seconds: (performance.now() - t0) / 1000};
  }
  return {mode: "current", records: 0, seconds: 0};
}

export class Calendar {
  readonly role: CalendarRole;
  readonly store: JournalStore;
  /** The calendar id (its libp2p peer id bytes), in every segment header and checkpoint. */
  readonly id: Uint8Array;
  /** The 4-byte tag in each of its commitments. */
  readonly tag: Uint8Array;
  readonly recovery: RecoveryReport;
  readonly indexSync: IndexSyncReport;
  /** Live stamps: which journal ranges have complete proofs. */
  readonly stamps: StampDirectory;
  private readonly index: CommitmentIndex;
  private readonly proofs: StampProofCache;
  private readonly proofSource: StampProofSource;
  private readonly tagHex: string;
  private readonly logger: Logger;
  private readonly metrics: Metrics | null;
  private closed = false;
  /** An index repair is queued or running. */
  private repairing = false;
  /** Records whose index entries are written (the journal may be ahead while a write is being indexed). */
  private indexedLength: number;
  /** Writes queue here: the journal takes one at a time. */
  private writeTail: Promise<unknown> = Promise.resolve();
  private readonly roundListeners = new Set<(seq: number, commitment: Uint8Array) => void>();
  private readonly recordListeners = new Set<(records: readonly JournalRecord[]) => void>();

  private constructor(role: CalendarRole, store: JournalStore, modules: CalendarModules, recovery: RecoveryReport, indexSync: IndexSyncReport, stamps: StampDirectory) {
    this.role = role;
    this.store = store;
    this.id = store.calendarId;
    this.tag = calendarTag(store.calendarId, nativeSha256);
    this.tagHex = toHex(this.tag);
    this.index = modules.index;
    this.proofs = modules.proofs;
    this.logger = modules.logger;
    this.metrics = modules.metrics;
    this.recovery = recovery;
    this.indexSync = indexSync;
    this.stamps = stamps;
    this.indexedLength = store.length;
    this.proofSource = {readRecord: (stamp) => this.store.readRecord(stamp.pos), readLeaves: (record) => this.readRoundLeaves(record.ranges)};
  }

  /**
   * Open the journal described by `target` (an origin when it can sign, a
   * mirror otherwise), recovering it, and sync its index entries.
   */
  static async open(target: JournalTarget, opts: JournalOptions, modules: CalendarModules, freshIndex: FreshIndex): Promise<Calendar> {
    const {logger, index} = modules;
    const tag = calendarTag(target.calendarId, nativeSha256);
    const mark = await index.mark(tag);
    const {store, report} = await JournalStore.open(target, opts, {logger, metrics: target.sign !== null ? modules.metrics : null}, {captureChainAt: mark ? [mark.length] : [], mustCover: mark ? [{length: mark.length, what: "the index (which marks records only once they are durable)"}] : []});
    try {
      logger.info("journal opened", {role: target.sign !== null ? "origin" : "mirror", segments: report.segments, records: report.records, bytes: store.bytes, tornTailCut: report.torn !== null});
      let sync = await syncIndex(store, report, index, tag, freshIndex);
      let stamps: StampDirectory;
      try {
        stamps = await Calendar.loadStamps(index, tag);
      } catch (e) {
        if (!(e instanceof StoreError)) throw e;
        // A damaged stamp entry: the index is derived, so rebuild this calendar's part from the journal.
        logger.warn("index stamp entries unreadable; rebuilding", {reason: e.message});
        const t1 = performance.now();
        await index.resetCalendar(tag, store.calendarId, genesisChainHash(store.calendarId, nativeSha256));
        const n = await replayIntoIndex(store, index, tag, 0);
        sync = {mode: "rebuild", records: n, seconds: (performance.now() - t1) / 1000, reason: "stamp entries unreadable"};
        stamps = await Calendar.loadStamps(index, tag);
      }
      // A journal with records the index did not know of is worth a warning; an empty one (a new mirror) is not.
      if (sync.mode === "rebuild" && freshIndex === null && store.length > 0) logger.warn("index inconsistent with the journal; rebuilt", {reason: sync.reason});
      logger.info("index ready", {...sync, liveStamps: stamps.size});
      return new Calendar(target.sign !== null ? "origin" : "mirror", store, modules, report, sync, stamps);
    } catch (e) {
      await store.close().catch(() => {});
      throw e;
    }
  }

  private static async loadStamps(index: CommitmentIndex, tag: Uint8Array): Promise<StampDirectory> {
    const stamps = new StampDirectory();
    for await (const st of index.stamps(tag)) stamps.add(st);
    return stamps;
  }

  /** Number of records in the journal. */
  get length(): number {
    return this.store.length;
  }

  /**
   * Journal a round and index its commitment. Resolves once the record is
   * durable and findable, with the record's sequence number. Origin only.
   */
  async commitRound(root: Uint8Array, leaves: number, timeMs: number): Promise<{seq: number; commitment: Uint8Array}> {
    return this.serialized(async () => {
      const record = await this.appendOne({kind: RecordKind.ROUND, payload: encodeRound({timeMs, leaves, root})});
      await this.applyRecords([record]);
      return {seq: record.seq, commitment: roundCommitment(root, this.tag, record.seq)};
    });
  }

  /**
   * Journal a confirmed stamp, then index it. From then on every commitment
   * it covers is served with its complete proof. `warm` is the stamper's tree
   * for these leaves (saves rebuilding it from the journal). Origin only.
   */
  async commitStamp(record: StampRecord, warm?: {seqs: Float64Array; leaves: Uint8Array; tree: StampProofSet["tree"]}): Promise<LiveStamp> {
    return this.serialized(async () => {
      // Checked inside the queue (no other stamp can land in between) and
      // before writing: a wrong record would derive wrong proofs forever.
      for (const r of record.ranges) {
        if (this.stamps.coversBetween(r.from - 1, r.to)) throw new StoreError({code: StoreErrorCode.STAMP_INCONSISTENT}, `stamp range ${r.from}..${r.to} overlaps a live stamp`);
      }
      let set: StampProofSet;
      if (warm) set = makeProofSet(record, warm.seqs, warm.tree);
      else {
        const {seqs, leaves} = await this.readRoundLeaves(record.ranges);
        set = makeProofSet(record, seqs, await buildMerkleTree(leaves));
      }
      const written = await this.appendOne({kind: RecordKind.STAMP, payload: encodeStamp(record)});
      this.proofs.put(stampKey(this.tagHex, written.seq), set);
      await this.applyRecords([written]);
      return this.stamps.get(written.seq) as LiveStamp;
    });
  }

  /** Journal that a live stamp's block left the best chain; its rounds have no proof again. Origin only. */
  async revokeStamp(stampSeq: number, height: number): Promise<LiveStamp> {
    return this.serialized(async () => {
      const live = this.stamps.get(stampSeq);
      if (live === null) throw new StoreError({code: StoreErrorCode.STAMP_INCONSISTENT}, `no live stamp at record ${stampSeq}`);
      const written = await this.appendOne({kind: RecordKind.STAMP_REVOKED, payload: encodeStampRevoked({stampSeq, height})});
      await this.applyRecords([written]);
      return live;
    });
  }

  /**
   * Append a batch of the origin's records ending at its signed `head`
   * (JournalStore.importBatch: refused with a typed error, nothing written,
   * unless it extends our copy exactly and the signature verifies), then
   * index it. Mirror only. Resolves with the records once durable and indexed.
   */
  async importBatch(frames: Uint8Array, head: Checkpoint): Promise<readonly JournalRecord[]> {
    return this.serialized(async () => {
      const records = await this.store.importBatch(frames, head);
      await this.applyRecords(records);
      return records;
    });
  }

  /** The newest signed head this calendar holds (an origin signs its end; a mirror keeps the origin's). */
  latestHead(): Promise<Checkpoint | null> {
    return this.store.latestHead();
  }

  /** Be told of every round once it is durable and findable (the stamper's pending set). Returns the unsubscribe function. */
  onRound(listener: (seq: number, commitment: Uint8Array) => void): () => void {
    this.roundListeners.add(listener);
    return () => this.roundListeners.delete(listener);
  }

  /**
   * Be told of every record, in order, once it is durable and indexed, in
   * the batches it was written in. Synchronous and called on the write
   * path: a listener with real work queues it (or use `feed`). Returns the
   * unsubscribe function.
   */
  onRecords(listener: (records: readonly JournalRecord[]) => void): () => void {
    this.recordListeners.add(listener);
    return () => this.recordListeners.delete(listener);
  }

  /**
   * Every record from `fromSeq` (default: from now on), in order, as an
   * async iterable with back-pressure that never slows the writer (see
   * record-feed.ts). `chainBefore`, when known, is the chain hash after
   * record `fromSeq - 1`.
   */
  feed(fromSeq: number = this.store.length, chainBefore: Uint8Array | null = fromSeq === this.store.length ? this.store.chainHash : null, opts?: Partial<RecordFeedOptions>): RecordFeed {
    return new RecordFeed(this.store, fromSeq, chainBefore, (push) => this.onRecords(push), opts);
  }

  /**
   * sha256(commitment) of every ROUND record inside `ranges` (sorted), with
   * their seqs, in order. Written straight into two arrays sized by the
   * ranges: a million rounds cost 40 MB, not a million small buffers.
   */
  async readRoundLeaves(ranges: readonly SeqRange[]): Promise<{seqs: Float64Array; leaves: Uint8Array}> {
    let span = 0;
    for (const r of ranges) span += Math.max(0, Math.min(r.to, this.store.length) - r.from);
    const seqs = new Float64Array(span);
    const leaves = new Uint8Array(span * 32);
    // One scratch commitment: root ‖ tag ‖ seq, rewritten per round.
    const commitment = roundCommitment(new Uint8Array(32), this.tag, 0);
    let n = 0;
    for (const r of ranges) {
      for await (const batch of this.store.replay(r.from, 10_000, r.to)) {
        for (const rec of batch) {
          if (rec.kind !== RecordKind.ROUND) continue;
          commitment.set(decodeRound(rec.payload).root, 0);
          writeU64(commitment, COMMITMENT_SIZE - 8, rec.seq);
          seqs[n] = rec.seq;
          leaves.set(nativeSha256(commitment), n * 32);
          n++;
        }
      }
    }
    return {seqs: seqs.subarray(0, n), leaves: leaves.subarray(0, n * 32)};
  }

  /** The journal ranges no live stamp covers (where unanchored rounds are), sorted. */
  uncoveredRanges(): SeqRange[] {
    const out: SeqRange[] = [];
    let at = 0;
    for (const r of this.stamps.ranges()) {
      if (r.from > at) out.push({from: at, to: r.from});
      at = Math.max(at, r.to);
    }
    if (at < this.store.length) out.push({from: at, to: this.store.length});
    return out;
  }

  /** Is `msg` one of this calendar's commitments, and how far along? Cheap refusals first: wrong size or another calendar's tag. */
  async lookup(msg: Uint8Array): Promise<CommitmentStatus> {
    const parsed = parseCommitment(msg);
    if (!parsed || !bytesEqual(parsed.tag, this.tag) || parsed.seq >= this.store.length) {
      this.metrics?.indexLookups.inc({result: "miss"});
      return null;
    }
    const stamp = this.stamps.covering(parsed.seq);
    if (stamp !== null) {
      const set = await this.proofs.get(stampKey(this.tagHex, stamp.pos.seq), stamp, this.proofSource);
      const i = leafIndexOf(set.seqs, parsed.seq);
      // The leaf is sha256(commitment): matching it authenticates the whole commitment, root included.
      if (i >= 0 && bytesEqual(set.tree.leaf(i), nativeSha256(msg))) {
        this.metrics?.indexLookups.inc({result: "stamped"});
        return {state: "stamped", seq: parsed.seq, stamp, proof: stampProofBytes(set.tree.pathBytes(i), set.anchor)};
      }
      this.metrics?.indexLookups.inc({result: "miss"});
      return null;
    }
    // The journal is the truth: the commitment names its record, and only
    // that record's root makes it ours (a forged root with a real tag and
    // seq is nobody's commitment).
    const pos = this.store.positionOf(parsed.seq) as JournalPosition;
    const record = await this.store.readRecord(pos);
    if (record.kind !== RecordKind.ROUND || !bytesEqual(decodeRound(record.payload).root, parsed.root)) {
      this.metrics?.indexLookups.inc({result: "miss"});
      return null;
    }
    // The index must agree; if it does not, it is rebuilt, and the answer stands.
    // Records written but not yet indexed (an import in flight) are not a disagreement.
    const indexed = await this.index.lookup(msg);
    const disagrees = indexed === null ? pos.seq < this.indexedLength : indexed.seq !== pos.seq || indexed.segment !== pos.segment || indexed.offset !== pos.offset;
    if (disagrees) {
      this.repairIndex(indexed === null ? `no index entry for record ${pos.seq}, which the journal holds` : `the index entry for record ${pos.seq} points elsewhere`);
    }
    this.metrics?.indexLookups.inc({result: "hit"});
    return {state: "pending", seq: parsed.seq};
  }

  /**
   * The index disagrees with the journal (LevelDB lost or garbled entries
   * while its mark still matched): rebuild this calendar's entries from the
   * journal, once, in the write queue. Answers come from the journal meanwhile.
   */
  private repairIndex(reason: string): void {
    if (this.repairing || this.closed) return;
    this.repairing = true;
    this.logger.warn("index inconsistent with the journal; rebuilding this calendar's entries", {reason});
    void this.serialized(async () => {
      const t0 = performance.now();
      await this.index.resetCalendar(this.tag, this.id, genesisChainHash(this.id, nativeSha256));
      const records = await replayIntoIndex(this.store, this.index, this.tag, 0);
      this.logger.info("index rebuilt", {records, seconds: (performance.now() - t0) / 1000});
    })
      .catch((e: unknown) => this.logger.error("index rebuild failed; the journal still answers every lookup", {}, e as Error))
      .finally(() => {
        this.repairing = false;
      });
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.writeTail.then(fn, fn);
    this.writeTail = run.catch(() => {});
    return run;
  }

  private async appendOne(entry: JournalEntry): Promise<JournalRecord> {
    const [record] = await this.store.append([entry]);
    if (!record) throw new StoreError({code: StoreErrorCode.WRITE_FAILED}, "append returned no record");
    return record;
  }

  /**
   * Make freshly written records visible: live stamps and proof trees in
   * memory, the index (its mark moved to the journal's end), then round and
   * record subscribers. An index write failure is logged, not thrown: the
   * journal holds the records and the next start's catch-up indexes them.
   */
  private async applyRecords(records: readonly JournalRecord[]): Promise<void> {
    const changes = indexChangesOf(records, this.tag);
    for (const seq of changes.remove) {
      this.stamps.remove(seq);
      this.proofs.drop(stampKey(this.tagHex, seq));
    }
    for (const s of changes.add) this.stamps.add(s);
    try {
      await this.index.put(this.tag, changes.puts, {calendarId: this.id, length: this.store.length, chainHash: this.store.chainHash}, changes);
    } catch (e) {
      this.logger.error("index write failed; the journal has the records, restart to re-index", {from: records[0]?.seq, records: records.length}, e as Error);
    }
    const last = records[records.length - 1];
    if (last !== undefined) this.indexedLength = Math.max(this.indexedLength, last.seq + 1);
    if (this.roundListeners.size > 0) {
      for (const p of changes.puts) for (const l of this.roundListeners) l(p.pos.seq, p.commitment);
    }
    for (const l of this.recordListeners) {
      try {
        l(records);
      } catch (e) {
        // A subscriber's bug must not fail a write that is already durable.
        this.logger.error("record subscriber threw", {}, e as Error);
      }
    }
  }

  /** Close the journal (the index belongs to the registry). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.roundListeners.clear();
    this.recordListeners.clear();
    await this.serialized(() => this.store.close());
  }
}
