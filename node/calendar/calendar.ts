/**
 * One calendar: its journal (the truth) and its LevelDB index (a derived
 * lookup table), kept in step. Opening verifies the journal, then brings the
 * index up to it: nothing to do when it is current, a catch-up when it is
 * behind, a full rebuild when it is missing, foreign or inconsistent.
 */
import {join} from "node:path";
import {bytesEqual} from "../../protocol/ots/bytes.ts";
import {genesisChainHash} from "../../protocol/journal/chain.ts";
import {calendarTag, parseCommitment, roundCommitment} from "../../protocol/journal/commitment.ts";
import {RecordKind} from "../../protocol/journal/record.ts";
import {decodeRound, encodeRound} from "../../protocol/journal/round.ts";
import type {Identity} from "../identity.ts";
import type {Logger} from "../logger.ts";
import type {Metrics} from "../metrics.ts";
import {CommitmentIndex, INDEX_DIR} from "./commitment-index.ts";
import type {IndexPut} from "./commitment-index.ts";
import {nativeSha256} from "./fsutil.ts";
import {JournalStore} from "./journal-store.ts";
import type {JournalOptions, RecoveryReport} from "./journal-store.ts";

export type CalendarModules = {logger: Logger; metrics: Metrics | null; identity: Identity};

/** What a lookup found: only "pending" exists until stamps (a later issue) complete proofs. */
export type CommitmentStatus = {state: "pending"; seq: number} | null;

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
    for (const r of batch) {
      if (r.kind !== RecordKind.ROUND) continue;
      const round = decodeRound(r.payload);
      puts.push({commitment: roundCommitment(round.root, tag, r.seq), pos: {seq: r.seq, segment: r.segment, offset: r.offset}});
    }
    n += batch.length;
    const last = batch[batch.length - 1];
    // Intermediate batches move the mark to their own end; the chain hash there
    // is not known without re-hashing, so intermediate marks carry the final
    // chain only when they reach the end. Until then the mark says "length
    // unknown-chain": a crash mid-rebuild leaves an index the next start
    // finds inconsistent and rebuilds.
    const done = last !== undefined && last.seq + 1 === store.length;
    await index.put(puts, done ? store.length : 0, done ? store.chainHash : new Uint8Array(32));
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
  private readonly logger: Logger;
  private readonly metrics: Metrics | null;
  private closed = false;

  private constructor(store: JournalStore, index: CommitmentIndex, modules: CalendarModules, recovery: RecoveryReport, indexSync: IndexSyncReport) {
    this.store = store;
    this.index = index;
    this.identity = modules.identity;
    this.tag = calendarTag(modules.identity.calendarId);
    this.logger = modules.logger;
    this.metrics = modules.metrics;
    this.recovery = recovery;
    this.indexSync = indexSync;
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
      logger.info("index ready", {...sync});
      return new Calendar(store, index, modules, report, sync);
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
    const [pos] = await this.store.append([{kind: RecordKind.ROUND, payload: encodeRound({timeMs, leaves, root})}]);
    if (!pos) throw new Error("append returned no position");
    const commitment = roundCommitment(root, this.tag, pos.seq);
    try {
      await this.index.put([{commitment, pos}], this.store.length, this.store.chainHash);
    } catch (e) {
      // The journal holds the round; the next start's catch-up indexes it.
      this.logger.error("index write failed; the journal has the round, restart to re-index", {seq: pos.seq}, e as Error);
    }
    return {seq: pos.seq, commitment};
  }

  /** Is `msg` one of our commitments? Cheap refusals first: wrong size or another calendar's tag. */
  async lookup(msg: Uint8Array): Promise<CommitmentStatus> {
    const parsed = parseCommitment(msg);
    if (!parsed || !bytesEqual(parsed.tag, this.tag) || parsed.seq >= this.store.length) {
      this.metrics?.indexLookups.inc({result: "miss"});
      return null;
    }
    const pos = await this.index.lookup(msg);
    this.metrics?.indexLookups.inc({result: pos ? "hit" : "miss"});
    return pos && pos.seq === parsed.seq ? {state: "pending", seq: pos.seq} : null;
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
