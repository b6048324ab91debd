/**
 * One calendar: its journal (the truth) and its LevelDB index (a derived
 * lookup table), kept in step. Opening verifies the journal, then brings the
 * index up to it: nothing to do when it is current, a catch-up when it is
 * behind, a full rebuild when it is missing, foreign, older or inconsistent.
 *
 * Rounds and stamps are both journaled here, one append at a time (the
 * journal takes no concurrent appends): the aggregator's rounds and the
 * stamper's STAMP / STAMP_REVOKED records queue behind each other.
 */
import {join} from "node:path";
import {bytesEqual} from "../../protocol/ots/bytes.ts";
import {genesisChainHash} from "../../protocol/journal/chain.ts";
import {calendarTag, COMMITMENT_SIZE, parseCommitment, roundCommitment} from "../../protocol/journal/commitment.ts";
import {writeU64} from "../../protocol/journal/varint.ts";
import {RecordKind} from "../../protocol/journal/record.ts";
import {decodeRound, encodeRound} from "../../protocol/journal/round.ts";
import {decodeStamp, decodeStampRevoked, encodeStamp, encodeStampRevoked} from "../../protocol/journal/stamp.ts";
import type {SeqRange, StampRecord} from "../../protocol/journal/stamp.ts";
import {stampProofBytes} from "../../protocol/journal/stamp-proof.ts";
import type {Identity} from "../identity.ts";
import type {Logger} from "../logger.ts";
import type {Metrics} from "../metrics.ts";
import {CommitmentIndex, INDEX_DIR, INDEX_SCHEMA_VERSION} from "./commitment-index.ts";
import type {IndexPut} from "./commitment-index.ts";
import {StoreError} from "./errors.ts";
import {nativeSha256, nativeSha256d} from "../hash.ts";
import {JournalStore} from "./journal-store.ts";
import type {JournalEntry, JournalOptions, JournalPosition, RecoveryReport} from "./journal-store.ts";
import {StampDirectory} from "./stamp-directory.ts";
import {buildMerkleTree} from "./tree-builder.ts";
import type {LiveStamp} from "./stamp-directory.ts";
import {leafIndexOf, makeProofSet, StampProofCache} from "./stamp-proofs.ts";
import type {StampProofSet} from "./stamp-proofs.ts";

export type CalendarModules = {logger: Logger; metrics: Metrics | null; identity: Identity};

/** What a lookup found: a complete proof, a commitment still waiting for Bitcoin, or nothing. */
export type CommitmentStatus = {state: "stamped"; seq: number; stamp: LiveStamp; proof: Uint8Array} | {state: "pending"; seq: number} | null;

/** Leaves of a stamp tree kept in memory at most (64 bytes each with the tree above them). */
export const DEFAULT_PROOF_CACHE_LEAVES = 4_000_000;

/** The index's summary of a STAMP record at `pos`. */
export function liveStampOf(record: StampRecord, pos: JournalPosition): LiveStamp {
  return {pos, ranges: record.ranges, leaves: record.leaves, txid: nativeSha256d(record.tx), blockHash: record.blockHash, height: record.height, feeSats: record.feeSats, vsize: record.vsize};
}

export type IndexSyncReport = {mode: "current" | "catch-up" | "rebuild"; records: number; seconds: number; reason?: string};

/**
 * Write index entries for every record from `fromSeq` on, in batches,
 * finishing with the high-water mark at the journal's end. Returns the
 * number of records read.
 */
export async function replayIntoIndex(store: JournalStore, index: CommitmentIndex, tag: Uint8Array, fromSeq: number): Promise<number> {
  let n = 0;
  for await (const batch of store.replay(fromSeq)) {
    const puts: IndexPut[] = [];
    const add: LiveStamp[] = [];
    const remove: number[] = [];
    for (const r of batch) {
      const pos = {seq: r.seq, segment: r.segment, offset: r.offset};
      if (r.kind === RecordKind.ROUND) {
        const round = decodeRound(r.payload);
        puts.push({commitment: roundCommitment(round.root, tag, r.seq), pos});
      } else if (r.kind === RecordKind.STAMP) {
        add.push(liveStampOf(decodeStamp(r.payload), pos));
      } else if (r.kind === RecordKind.STAMP_REVOKED) {
        const revoked = decodeStampRevoked(r.payload).stampSeq;
        // Revoked within this batch: never add it; otherwise delete the stored entry.
        const i = add.findIndex((a) => a.pos.seq === revoked);
        if (i >= 0) add.splice(i, 1);
        else remove.push(revoked);
      }
    }
    n += batch.length;
    const last = batch[batch.length - 1];
    // Intermediate batches move the mark to their own end; the chain hash there
    // is not known without re-hashing, so intermediate marks carry the final
    // chain only when they reach the end. Until then the mark says "length
    // unknown-chain": a crash mid-rebuild leaves an index the next start
    // finds inconsistent and rebuilds.
    const done = last !== undefined && last.seq + 1 === store.length;
    await index.put(puts, done ? store.length : 0, done ? store.chainHash : new Uint8Array(32), {add, remove});
  }
  return n;
}

export class Calendar {
  readonly store: JournalStore;
  readonly index: CommitmentIndex;
  readonly tag: Uint8Array;
  readonly identity: Identity;
  readonly recovery: RecoveryReport;
  readonly indexSync: IndexSyncReport;
  /** Live stamps: which journal ranges have complete proofs. */
  readonly stamps: StampDirectory;
  private readonly proofs: StampProofCache;
  private readonly logger: Logger;
  private readonly metrics: Metrics | null;
  private closed = false;
  /** Appends queue here: the journal takes one at a time. */
  private appendTail: Promise<unknown> = Promise.resolve();
  private readonly roundListeners = new Set<(seq: number, commitment: Uint8Array) => void>();

  private constructor(store: JournalStore, index: CommitmentIndex, modules: CalendarModules, recovery: RecoveryReport, indexSync: IndexSyncReport, stamps: StampDirectory) {
    this.store = store;
    this.index = index;
    this.identity = modules.identity;
    this.tag = calendarTag(modules.identity.calendarId);
    this.logger = modules.logger;
    this.metrics = modules.metrics;
    this.recovery = recovery;
    this.indexSync = indexSync;
    this.stamps = stamps;
    this.proofs = new StampProofCache(
      {
        readRecord: (stamp) => this.store.readRecord(stamp.pos),
        readLeaves: async (record) => {
          return this.readRoundLeaves(record.ranges);
        },
      },
      DEFAULT_PROOF_CACHE_LEAVES,
    );
  }

  /** Open journal and index under `dataDir`, recovering and syncing as needed. */
  static async open(dataDir: string, opts: JournalOptions, modules: CalendarModules): Promise<Calendar> {
    const {logger, identity} = modules;
    // The index is opened first: its LevelDB lock keeps a second node off this data dir.
    const index = await CommitmentIndex.open(join(dataDir, INDEX_DIR));
    let store: JournalStore | null = null;
    try {
      await index.checkSchema();
      const meta = await index.meta();
      const opened = await JournalStore.open(dataDir, opts, modules, {captureChainAt: meta.length});
      store = opened.store;
      const report = opened.report;
      logger.info("journal opened", {segments: report.segments, records: report.records, bytes: store.bytes, tornTailCut: report.torn !== null});

      const tag = calendarTag(identity.calendarId);
      const t0 = performance.now();
      let reason: string | undefined;
      if (meta.schema === 0) reason = "index is empty or missing";
      else if (meta.schema < INDEX_SCHEMA_VERSION) reason = `index schema ${meta.schema} is older than this otsfed's ${INDEX_SCHEMA_VERSION}`;
      else if (!meta.calendarId || !bytesEqual(meta.calendarId, identity.calendarId)) reason = "index was built for another calendar";
      else if (meta.length > store.length) reason = `index covers ${meta.length} records but the journal has ${store.length}`;
      else if (!meta.chainHash || !report.capturedChain || !bytesEqual(meta.chainHash, report.capturedChain)) reason = "index chain hash does not match the journal";
      let sync: IndexSyncReport;
      if (reason !== undefined) {
        if (meta.schema !== 0) logger.warn("index inconsistent with the journal; rebuilding", {reason});
        await index.reset(identity.calendarId, genesisChainHash(identity.calendarId, nativeSha256));
        const n = await replayIntoIndex(store, index, tag, 0);
        if (n === 0) await index.put([], store.length, store.chainHash);
        sync = {mode: "rebuild", records: n, seconds: (performance.now() - t0) / 1000, reason};
      } else if (meta.length < store.length) {
        const n = await replayIntoIndex(store, index, tag, meta.length);
        sync = {mode: "catch-up", records: n, seconds: (performance.now() - t0) / 1000};
      } else {
        sync = {mode: "current", records: 0, seconds: 0};
      }
      let stamps = new StampDirectory();
      try {
        for await (const st of index.stamps()) stamps.add(st);
      } catch (e) {
        if (!(e instanceof StoreError)) throw e;
        // A damaged stamp entry: the index is derived, so rebuild it from the journal.
        logger.warn("index stamp entries unreadable; rebuilding", {reason: e.message});
        const t1 = performance.now();
        await index.reset(identity.calendarId, genesisChainHash(identity.calendarId, nativeSha256));
        const n = await replayIntoIndex(store, index, tag, 0);
        if (n === 0) await index.put([], store.length, store.chainHash);
        sync = {mode: "rebuild", records: n, seconds: (performance.now() - t1) / 1000, reason: "stamp entries unreadable"};
        stamps = new StampDirectory();
        for await (const st of index.stamps()) stamps.add(st);
      }
      logger.info("index ready", {...sync, liveStamps: stamps.size});
      return new Calendar(store, index, modules, report, sync, stamps);
    } catch (e) {
      await store?.close().catch(() => {});
      await index.close().catch(() => {});
      throw e;
    }
  }

  /**
   * Journal a round and index its commitment. Resolves once the record is
   * durable and findable, with the record's sequence number.
   */
  async commitRound(root: Uint8Array, leaves: number, timeMs: number): Promise<{seq: number; commitment: Uint8Array}> {
    return this.serialized(async () => {
      const pos = await this.appendOne({kind: RecordKind.ROUND, payload: encodeRound({timeMs, leaves, root})});
      const commitment = roundCommitment(root, this.tag, pos.seq);
      await this.indexAfterAppend([{commitment, pos}], undefined, pos.seq);
      for (const l of this.roundListeners) l(pos.seq, commitment);
      return {seq: pos.seq, commitment};
    });
  }

  /** Be told of every round once it is durable (the stamper's pending set). Returns the unsubscribe function. */
  onRound(listener: (seq: number, commitment: Uint8Array) => void): () => void {
    this.roundListeners.add(listener);
    return () => this.roundListeners.delete(listener);
  }

  /**
   * Journal a confirmed stamp, then index it. From then on every commitment
   * it covers is served with its complete proof. `warm` is the stamper's tree
   * for these leaves (saves rebuilding it from the journal).
   */
  async commitStamp(record: StampRecord, warm?: {seqs: Float64Array; leaves: Uint8Array; tree: StampProofSet["tree"]}): Promise<LiveStamp> {
    return this.serialized(async () => {
      // Checked inside the queue (no other stamp can land in between) and
      // before writing: a wrong record would derive wrong proofs forever.
      for (const r of record.ranges) {
        if (this.stamps.coversBetween(r.from - 1, r.to)) throw new RangeError(`stamp range ${r.from}..${r.to} overlaps a live stamp`);
      }
      let set: StampProofSet;
      if (warm) set = makeProofSet(record, warm.seqs, warm.tree);
      else {
        const {seqs, leaves} = await this.readRoundLeaves(record.ranges);
        set = makeProofSet(record, seqs, await buildMerkleTree(leaves));
      }
      const pos = await this.appendOne({kind: RecordKind.STAMP, payload: encodeStamp(record)});
      const live = liveStampOf(record, pos);
      this.stamps.add(live);
      this.proofs.put(pos.seq, set);
      await this.indexAfterAppend([], {add: [live], remove: []}, pos.seq);
      return live;
    });
  }

  /** Journal that a live stamp's block left the best chain; its rounds have no proof again. */
  async revokeStamp(stampSeq: number, height: number): Promise<LiveStamp> {
    return this.serialized(async () => {
      const live = this.stamps.get(stampSeq);
      if (live === null) throw new RangeError(`no live stamp at record ${stampSeq}`);
      const pos = await this.appendOne({kind: RecordKind.STAMP_REVOKED, payload: encodeStampRevoked({stampSeq, height})});
      this.stamps.remove(stampSeq);
      this.proofs.drop(stampSeq);
      await this.indexAfterAppend([], {add: [], remove: [stampSeq]}, pos.seq);
      return live;
    });
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

  /** Is `msg` one of our commitments, and how far along? Cheap refusals first: wrong size or another calendar's tag. */
  async lookup(msg: Uint8Array): Promise<CommitmentStatus> {
    const parsed = parseCommitment(msg);
    if (!parsed || !bytesEqual(parsed.tag, this.tag) || parsed.seq >= this.store.length) {
      this.metrics?.indexLookups.inc({result: "miss"});
      return null;
    }
    const stamp = this.stamps.covering(parsed.seq);
    if (stamp !== null) {
      const set = await this.proofs.get(stamp);
      const i = leafIndexOf(set.seqs, parsed.seq);
      // The leaf is sha256(commitment): matching it authenticates the whole commitment, root included.
      if (i >= 0 && bytesEqual(set.tree.leaf(i), nativeSha256(msg))) {
        this.metrics?.indexLookups.inc({result: "stamped"});
        return {state: "stamped", seq: parsed.seq, stamp, proof: stampProofBytes(set.tree.pathBytes(i), set.anchor)};
      }
      this.metrics?.indexLookups.inc({result: "miss"});
      return null;
    }
    const pos = await this.index.lookup(msg);
    this.metrics?.indexLookups.inc({result: pos ? "hit" : "miss"});
    return pos && pos.seq === parsed.seq ? {state: "pending", seq: pos.seq} : null;
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.appendTail.then(fn, fn);
    this.appendTail = run.catch(() => {});
    return run;
  }

  private async appendOne(entry: JournalEntry): Promise<JournalPosition> {
    const [pos] = await this.store.append([entry]);
    if (!pos) throw new Error("append returned no position");
    return pos;
  }

  private async indexAfterAppend(puts: IndexPut[], stamps: {add: LiveStamp[]; remove: number[]} | undefined, seq: number): Promise<void> {
    try {
      await this.index.put(puts, this.store.length, this.store.chainHash, stamps);
    } catch (e) {
      // The journal holds the record; the next start's catch-up indexes it.
      this.logger.error("index write failed; the journal has the record, restart to re-index", {seq}, e as Error);
    }
  }

  /** Close journal then index (the index lock goes last). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.store.close();
    } finally {
      await this.index.close();
    }
  }
}
