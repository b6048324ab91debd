/**
 * The stamper (DESIGN §4, PROTOCOL-NOTES §3.5): anchors the calendar's
 * commitments in Bitcoin and turns them into complete proofs.
 *
 * A *cycle* spends one of our coins into a transaction committing to the
 * merkle root of every unanchored round (leaves: sha256 of each
 * commitment). Each new block without confirmation brings a *version* that
 * replaces the last one, covers every round pending at that moment and pays
 * the fee schedule's next feerate (fee-schedule.ts). Every version is saved
 * (state-file.ts) before it is sent, so whichever one a miner picks is
 * recognised, also after a crash. Once a version has K confirmations, its
 * STAMP record (transaction without witness, covered ranges, block, block
 * merkle branch) goes into the journal and the index, and every commitment
 * it covers is served with its full proof.
 *
 * Reorgs: a block that held a version and is disconnected before K puts the
 * cycle back to waiting (the same or another version may confirm on the new
 * branch, and is followed). A disconnected block that held a journaled STAMP
 * (a reorg deeper than K) revokes it in the journal, withdraws its proofs,
 * puts its rounds back to pending, logs loudly and turns health red until
 * they are stamped again.
 *
 * One loop does everything, one tick at a time, so no two decisions race;
 * the HTTP side only reads.
 */
import {bytesEqual, toDisplayHex, toHex} from "../../protocol/ots/bytes.ts";
import type {FlatMerkleTree} from "../../protocol/ots/flat-merkle.ts";
import {bitcoinMerkleBranch} from "../../protocol/ots/bitcoin.ts";
import {parseTransaction, serializeWithoutWitness} from "../../protocol/ots/bitcoin-tx.ts";
import {decodeBlockHeader} from "../../protocol/bitcoin/header.ts";
import {rangesInclude} from "../../protocol/journal/stamp.ts";
import type {SeqRange, StampRecord} from "../../protocol/journal/stamp.ts";
import {stampMerkleRoot} from "../../protocol/journal/stamp-proof.ts";
import type {BitcoinBackend, Utxo} from "../bitcoin/backend.ts";
import {PollingChainView} from "../bitcoin/chain-view.ts";
import type {BlockRef, ChainUpdate} from "../bitcoin/chain-view.ts";
import {BitcoinError, BitcoinErrorCode, isTransientBitcoinError} from "../bitcoin/errors.ts";
import type {FundingKey} from "../bitcoin/funding-key.ts";
import type {Calendar} from "../calendar/calendar.ts";
import {nativeSha256} from "../hash.ts";
import {buildMerkleTree} from "../calendar/tree-builder.ts";
import type {LiveStamp} from "../calendar/stamp-directory.ts";
import type {Clock} from "../clock.ts";
import type {Logger} from "../logger.ts";
import type {Metrics} from "../metrics.ts";
import {AnchorError, AnchorErrorCode} from "../anchor/errors.ts";
import {nextFeeRate} from "../anchor/fee-schedule.ts";
import type {StamperOptions} from "./options.ts";
import {StamperStateFile} from "./state-file.ts";
import type {StampCycle, StamperState, StampVersion} from "./state-file.ts";
import {buildStampTransaction, P2WPKH_DUST_SATS} from "../anchor/stamp-tx.ts";
import {selectionRanges, UnanchoredRounds} from "./unanchored.ts";
import type {RoundSelection} from "./unanchored.ts";

/**
 * Points in a cycle where a crash is most interesting; tests kill the
 * process at each (`onPhase`) and check that a restart loses nothing.
 */
export type StamperPhase =
  | "version-built"
  | "version-saved"
  | "version-broadcast"
  | "mined-saved"
  | "stamp-journaled"
  | "cycle-closed";

export type StamperModules = {
  calendar: Calendar;
  backend: BitcoinBackend;
  /** The key that owns the stamping coins; null until the Bitcoin node has said which chain it is on. */
  fundingKey: () => FundingKey | null;
  dataDir: string;
  logger: Logger;
  metrics: Metrics | null;
  clock: Clock;
  onPhase?: (phase: StamperPhase) => void;
};

/** Something the operator should know about; `red` ones fail /healthz. */
export type StamperProblem = {kind: "bitcoin-node" | "funds" | "fee-cap" | "deep-reorg" | "internal"; message: string; red: boolean};

export type VersionStatus = {txid: string; feeRate: number; feeSats: number; vsize: number; leaves: number; height: number};
export type StampSummary = {txid: string; height: number; blockHash: string; leaves: number; feeSats: number; vsize: number; feeRate: number};

export type StamperStatus = {
  confirmationsRequired: number;
  /** Rounds in no transaction yet (otsd's pending_commitments). */
  pendingCommitments: number;
  /** Rounds not covered by a journaled stamp. */
  unanchoredCommitments: number;
  /** Merkle tip of the newest unconfirmed version (otsd's `tip`), hex. */
  tip: string | null;
  /** The unconfirmed transactions, each with its versions (oldest first). */
  inFlight: Array<{cycle: number; firstHeight: number; versions: VersionStatus[]}>;
  /** Mined, waiting for K confirmations. */
  waiting: Array<{txid: string; height: number; confirmations: number; leaves: number}>;
  /** The newest journaled stamps. */
  recent: StampSummary[];
  problems: StamperProblem[];
  /** The best block as the stamper last saw it (fresher than the funding watch's). */
  bestHeight: number | null;
  bestBlock: string | null;
};

/** Most blocks scanned for our transactions after a restart. */
const MAX_RESCAN_BLOCKS = 1000;
/** First-broadcast attempts when the node says the feerate is too low. */
const FEE_RETRIES = 5;

function newest(c: StampCycle): StampVersion {
  return c.versions[c.versions.length - 1] as StampVersion;
}

/** The rounds a cycle may still anchor: the mined version's, or the newest (a superset of earlier ones). */
function coverage(c: StampCycle): SeqRange[] {
  return c.mined ? (c.versions[c.mined.version] as StampVersion).ranges : newest(c).ranges;
}

function describe(e: unknown): string {
  return e instanceof BitcoinError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
}

/** Refusals after which we know the node did not take the transaction. */
function isDefiniteRefusal(e: unknown): boolean {
  return e instanceof BitcoinError && !isTransientBitcoinError(e) && e.code !== BitcoinErrorCode.ABORTED && e.code !== BitcoinErrorCode.BAD_RESPONSE;
}

export class Stamper {
  private readonly opts: StamperOptions;
  private readonly m: StamperModules;
  private readonly logger: Logger;
  private readonly file: StamperStateFile;
  private readonly view: PollingChainView;
  private readonly unanchored = new UnanchoredRounds();
  private state: StamperState | null = null;
  /** The newest version's tree per cycle (txid hex → tree), so confirming it needs no rebuild. */
  private readonly trees = new Map<string, FlatMerkleTree>();
  private readonly problems = new Map<StamperProblem["kind"], StamperProblem>();
  /** Rounds whose stamp a deep reorg revoked; health stays red until they are stamped again. */
  private revoked: SeqRange[][] = [];
  /** Cycles the node said it cannot relay (inputs gone), with the tip height when first seen. */
  private readonly missingInputs = new Map<number, number>();
  /** Tip height at which each unconfirmed cycle's presence in the mempool was last checked. */
  private readonly poolChecked = new Map<number, number>();
  private reconciled = false;
  /** Tip height at which the node last refused a first version: try again on the next block, not every poll. */
  private refusedAt = -1;
  private readonly controller = new AbortController();
  private loop: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;
  private wake: (() => void) | null = null;

  constructor(opts: StamperOptions, modules: StamperModules) {
    this.opts = opts;
    this.m = modules;
    this.logger = modules.logger;
    this.file = new StamperStateFile(modules.dataDir);
    this.view = new PollingChainView({pollIntervalMs: opts.pollIntervalMs}, {backend: modules.backend, logger: modules.logger});
  }

  /**
   * Read the saved cycles and gather every unanchored round from the journal.
   * Throws (the node refuses to start) if the state file is damaged.
   */
  async load(): Promise<void> {
    this.state = await this.file.load();
    const {calendar} = this.m;
    // Rounds committed while we read the journal arrive here; keep them for after.
    const early: Array<{seq: number; leaf: Uint8Array}> = [];
    let loaded = false;
    this.unsubscribe = calendar.onRound((seq, commitment) => {
      const leaf = nativeSha256(commitment);
      if (loaded) this.unanchored.add([seq], leaf);
      else early.push({seq, leaf});
    });
    const end = calendar.store.length;
    const ranges = calendar.uncoveredRanges().filter((r) => r.from < end);
    const {seqs, leaves} = await calendar.readRoundLeaves(ranges);
    this.unanchored.add(seqs, leaves);
    loaded = true;
    for (const e of early) if (e.seq >= end) this.unanchored.add([e.seq], e.leaf);
    this.updateGauges();
    this.logger.info("stamper loaded", {unanchored: this.unanchored.count, cycles: this.state.cycles.length, versions: this.state.cycles.reduce((a, c) => a + c.versions.length, 0)});
  }

  /** Start the loop (after load). */
  start(): void {
    if (this.loop || !this.state) return;
    const signal = this.controller.signal;
    this.loop = (async () => {
      while (!signal.aborted) {
        await this.tick(signal);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, this.opts.pollIntervalMs);
          this.wake = () => (clearTimeout(t), resolve());
          signal.addEventListener("abort", () => (clearTimeout(t), resolve()), {once: true});
        });
        this.wake = null;
      }
    })();
  }

  /** Run a tick now instead of at the next poll (tests, and the devnet after mining). */
  poke(): void {
    this.wake?.();
  }

  /** Stop after the tick in progress; a cycle half-way is resumed from the state file at the next start. */
  async stop(): Promise<void> {
    this.controller.abort();
    await this.loop;
    this.loop = null;
    this.unsubscribe?.();
  }

  // --- what HTTP reads -------------------------------------------------------------------

  /** otsd's 404 reason for a commitment mined but not yet K deep; null otherwise. */
  waitingReason(seq: number): string | null {
    for (const c of this.state?.cycles ?? []) {
      if (c.mined && rangesInclude(coverage(c), seq)) {
        return `Timestamped by transaction ${toDisplayHex((c.versions[c.mined.version] as StampVersion).txid)}; waiting for ${this.opts.confirmations} confirmations`;
      }
    }
    return null;
  }

  /** The merkle tip of the newest unconfirmed version (GET /tip), or null. */
  tip(): Uint8Array | null {
    const c = this.activeCycle() ?? this.state?.cycles.filter((x) => !x.mined).at(-1);
    return c ? newest(c).root : null;
  }

  /** Why the node is unhealthy (/healthz 503), or null. */
  health(): string | null {
    const red = [...this.problems.values()].filter((p) => p.red);
    return red.length === 0 ? null : red.map((p) => p.message).join("; ");
  }

  /** Problems that do not stop the calendar (shown on /healthz with 200, and on the status page). */
  warnings(): string[] {
    return [...this.problems.values()].filter((p) => !p.red).map((p) => p.message);
  }

  status(): StamperStatus {
    const tipRef = this.view.tip();
    const cycles = this.state?.cycles ?? [];
    const t = this.tip();
    return {
      confirmationsRequired: this.opts.confirmations,
      pendingCommitments: this.pendingCount(),
      unanchoredCommitments: this.unanchored.count,
      tip: t ? toHex(t) : null,
      inFlight: cycles
        .filter((c) => !c.mined)
        .map((c) => ({
          cycle: c.id,
          firstHeight: c.firstHeight,
          versions: c.versions.map((v) => ({txid: toDisplayHex(v.txid), feeRate: v.feeRate, feeSats: Number(v.feeSats), vsize: v.vsize, leaves: v.leaves, height: v.height})),
        })),
      waiting: cycles
        .filter((c) => c.mined)
        .map((c) => {
          const mined = c.mined as NonNullable<StampCycle["mined"]>;
          const v = c.versions[mined.version] as StampVersion;
          return {txid: toDisplayHex(v.txid), height: mined.height, confirmations: tipRef ? tipRef.height - mined.height + 1 : 0, leaves: v.leaves};
        }),
      recent: this.m.calendar.stamps.recent(10).map(summary),
      problems: [...this.problems.values()],
      bestHeight: tipRef?.height ?? null,
      bestBlock: tipRef ? toDisplayHex(tipRef.hash) : null,
    };
  }

  private pendingCount(): number {
    const cycles = this.state?.cycles ?? [];
    if (cycles.length === 0) return this.unanchored.count;
    let inCycles = 0;
    for (const c of cycles) inCycles += c.mined ? (c.versions[c.mined.version] as StampVersion).leaves : newest(c).leaves;
    return Math.max(0, this.unanchored.count - inCycles);
  }

  // --- the loop ----------------------------------------------------------------------------

  private phase(p: StamperPhase): void {
    this.m.onPhase?.(p);
  }

  private setProblem(kind: StamperProblem["kind"], message: string, red = false): void {
    const old = this.problems.get(kind);
    if (old?.message === message) return;
    this.problems.set(kind, {kind, message, red});
    if (red) this.logger.error(`stamper: ${message}`, {kind});
    else this.logger.warn(`stamper: ${message}`, {kind});
    this.m.metrics?.stamperProblem.set({kind}, 1);
  }

  private clearProblem(kind: StamperProblem["kind"]): void {
    if (!this.problems.delete(kind)) return;
    this.logger.info("stamper: resolved", {kind});
    this.m.metrics?.stamperProblem.set({kind}, 0);
  }

  private async save(): Promise<void> {
    await this.file.save(this.state as StamperState);
  }

  private updateGauges(): void {
    const mt = this.m.metrics;
    if (!mt) return;
    mt.stamperPending.set(this.pendingCount());
    mt.stamperUnanchored.set(this.unanchored.count);
    const cycles = this.state?.cycles ?? [];
    mt.stamperUnconfirmedVersions.set(cycles.filter((c) => !c.mined).reduce((a, c) => a + c.versions.length, 0));
    mt.stamperWaiting.set(cycles.filter((c) => c.mined).length);
  }

  private async tick(signal: AbortSignal): Promise<void> {
    try {
      await this.step(signal);
      this.clearProblem("internal");
    } catch (e) {
      if (signal.aborted) return;
      if (isTransientBitcoinError(e) || (e instanceof BitcoinError && e.code === BitcoinErrorCode.WARMING_UP)) {
        this.setProblem("bitcoin-node", `Bitcoin node unavailable (${describe(e)}); digests are still accepted and will be stamped when it is back`);
      } else {
        this.logger.error("stamper: tick failed", {}, e as Error);
        this.setProblem("internal", `stamper error: ${describe(e)}`);
      }
    } finally {
      this.updateGauges();
    }
  }

  private async step(signal: AbortSignal): Promise<void> {
    // The funding watch loads the key once the Bitcoin node has said which
    // chain it is on, and reports the node's errors itself until then.
    const key = this.m.fundingKey();
    if (key === null) return;
    const update = await this.view.pollNow(signal);
    this.clearProblem("bitcoin-node");
    const tip = this.view.tip();
    if (tip === null) return;
    if (!this.reconciled) {
      await this.reconcile(tip, signal);
      this.reconciled = true;
    }
    if (update) await this.applyChainUpdate(update, signal);
    await this.finalizeConfirmed(tip, signal);
    await this.keepBroadcast(tip, signal);
    const active = this.activeCycle();
    if (active) {
      if (tip.height > newest(active).height) await this.replace(active, key, tip, signal);
    } else {
      await this.maybeStartCycle(key, tip, signal);
    }
  }

  /** The cycle taking new commitments: not mined, still replaceable. */
  private activeCycle(): StampCycle | null {
    return this.state?.cycles.find((c) => c.replaceable && !c.mined) ?? null;
  }

  /**
   * After a start (or when the node says a version is already confirmed):
   * drop cycles already journaled, revoke stamps whose block left the chain
   * while we were away, and look for our versions in blocks we did not see.
   */
  private async reconcile(tip: BlockRef, signal: AbortSignal): Promise<void> {
    const state = this.state as StamperState;
    const {calendar, backend} = this.m;
    let changed = false;
    const recent = calendar.stamps.recent(64);
    const stamped = new Set(recent.map((s) => toHex(s.txid)));
    const before = state.cycles.length;
    // A crash after the STAMP was journaled but before the state file was updated.
    state.cycles = state.cycles.filter((c) => !c.versions.some((v) => stamped.has(toHex(v.txid))));
    if (state.cycles.length !== before) changed = true;

    for (const s of recent) {
      // Deeper than the chain view's memory, a reorg is out of scope (and of Bitcoin's history).
      if (s.height > tip.height - 144) {
        const onChain = await this.activeHashAt(s.height, signal);
        if (onChain === null || !bytesEqual(onChain, s.blockHash)) await this.revoke(s, tip.height);
      }
    }
    for (const c of state.cycles) {
      if (!c.mined) continue;
      const onChain = await this.activeHashAt(c.mined.height, signal);
      if (onChain === null || !bytesEqual(onChain, c.mined.blockHash)) {
        this.logger.warn("stamper: a mined stamp's block left the chain while the node was down; waiting for it again", {cycle: c.id, height: c.mined.height});
        c.mined = null;
        changed = true;
      }
    }
    const unmined = state.cycles.filter((c) => !c.mined);
    if (unmined.length > 0) {
      const from = Math.max(Math.min(...unmined.map((c) => c.firstHeight)) + 1, tip.height - MAX_RESCAN_BLOCKS + 1);
      for (let h = from; h <= tip.height && state.cycles.some((c) => !c.mined); h++) {
        const hash = await backend.getBlockHash(h, signal);
        if (await this.findVersionsIn({hash, height: h}, signal)) changed = true;
      }
    }
    if (changed) await this.save();
  }

  private async activeHashAt(height: number, signal: AbortSignal): Promise<Uint8Array | null> {
    try {
      return await this.m.backend.getBlockHash(height, signal);
    } catch (e) {
      if (e instanceof BitcoinError && e.code === BitcoinErrorCode.HEIGHT_OUT_OF_RANGE) return null;
      throw e;
    }
  }

  /** Mark cycles whose version is in block `b`; true if any was found. */
  private async findVersionsIn(b: BlockRef, signal: AbortSignal): Promise<boolean> {
    const unmined = (this.state as StamperState).cycles.filter((c) => !c.mined);
    if (unmined.length === 0) return false;
    const block = await this.m.backend.getBlock(b.hash, signal);
    const txids = new Set(block.txids.map((t) => toHex(t)));
    let found = false;
    for (const c of unmined) {
      for (let i = c.versions.length - 1; i >= 0; i--) {
        const v = c.versions[i] as StampVersion;
        if (!txids.has(toHex(v.txid))) continue;
        c.mined = {version: i, blockHash: b.hash, height: b.height};
        c.replaceable = false;
        found = true;
        this.missingInputs.delete(c.id);
        this.logger.info("stamper: stamp transaction mined", {txid: toDisplayHex(v.txid), height: b.height, version: i + 1, versions: c.versions.length, leaves: v.leaves, needConfirmations: this.opts.confirmations});
        break;
      }
    }
    return found;
  }

  private async applyChainUpdate(u: ChainUpdate, signal: AbortSignal): Promise<void> {
    const state = this.state as StamperState;
    let changed = false;
    for (const d of u.disconnected) {
      for (const c of state.cycles) {
        if (c.mined && bytesEqual(c.mined.blockHash, d.hash)) {
          this.logger.warn("stamper: reorg before enough confirmations; the stamp waits for a block again", {txid: toDisplayHex((c.versions[c.mined.version] as StampVersion).txid), height: d.height});
          c.mined = null;
          changed = true;
        }
      }
      for (const s of this.m.calendar.stamps.inBlock(d.hash)) await this.revoke(s, u.tip.height);
    }
    for (const b of u.connected) if (await this.findVersionsIn(b, signal)) changed = true;
    if (changed) {
      await this.save();
      this.phase("mined-saved");
    }
  }

  /** A journaled stamp's block left the best chain: withdraw its proofs and stamp its rounds again. */
  private async revoke(s: LiveStamp, height: number): Promise<void> {
    this.logger.error("stamper: REORG DEEPER THAN THE REQUIRED CONFIRMATIONS: a journaled stamp's block left the best chain; its proofs are withdrawn and its commitments will be stamped again", {
      txid: toDisplayHex(s.txid),
      height: s.height,
      block: toDisplayHex(s.blockHash),
      commitments: s.leaves,
      confirmationsRequired: this.opts.confirmations,
    });
    this.m.metrics?.stamperDeepReorgs.inc();
    await this.m.calendar.revokeStamp(s.pos.seq, height);
    const {seqs, leaves} = await this.m.calendar.readRoundLeaves(s.ranges);
    this.unanchored.add(seqs, leaves);
    this.revoked.push(s.ranges);
    this.setProblem("deep-reorg", `a reorg deeper than ${this.opts.confirmations} confirmations removed stamp ${toDisplayHex(s.txid)} (block ${s.height}); ${s.leaves} commitments lost their proofs until stamped again`, true);
  }

  private async finalizeConfirmed(tip: BlockRef, signal: AbortSignal): Promise<void> {
    const state = this.state as StamperState;
    for (const c of [...state.cycles]) {
      if (!c.mined || tip.height - c.mined.height + 1 < this.opts.confirmations) continue;
      const mined = c.mined;
      const v = c.versions[mined.version] as StampVersion;
      const block = await this.m.backend.getBlock(mined.blockHash, signal);
      if (block.confirmations < this.opts.confirmations) {
        // Our view is ahead of the node's answer, or the block just left the chain: the next poll says which.
        continue;
      }
      const index = block.txids.findIndex((t) => bytesEqual(t, v.txid));
      if (index < 0) throw new Error(`block ${toDisplayHex(mined.blockHash)} does not hold stamp ${toDisplayHex(v.txid)}`);
      const header = decodeBlockHeader(block.header);
      const {root: merkleRoot, branch} = bitcoinMerkleBranch(block.txids, index);
      if (!bytesEqual(merkleRoot, header.merkleRoot)) throw new Error(`block ${toDisplayHex(mined.blockHash)}: its txids do not give its header's merkle root`);
      const parsed = parseTransaction(v.tx);
      if (parsed === null) throw new Error(`saved stamp ${toDisplayHex(v.txid)} does not parse`);
      const record: StampRecord = {
        ranges: v.ranges,
        leaves: v.leaves,
        root: v.root,
        tx: serializeWithoutWitness(parsed),
        height: mined.height,
        blockHash: mined.blockHash,
        txIndex: index,
        branch,
        feeSats: Number(v.feeSats),
        vsize: v.vsize,
      };
      // The proof every covered commitment will carry must end at this header.
      if (!bytesEqual(stampMerkleRoot(record), header.merkleRoot)) throw new Error(`stamp ${toDisplayHex(v.txid)}: proof does not reach the block's merkle root`);
      const sel = this.unanchored.selectRanges(v.ranges);
      if (sel.seqs.length !== v.leaves) throw new Error(`stamp ${toDisplayHex(v.txid)} covers ${v.leaves} rounds but ${sel.seqs.length} of them are unanchored`);
      const tree = this.trees.get(toHex(v.txid)) ?? (await buildMerkleTree(sel.leaves));
      const live = await this.m.calendar.commitStamp(record, {seqs: sel.seqs, leaves: sel.leaves, tree});
      this.phase("stamp-journaled");
      this.unanchored.removeRanges(v.ranges);
      state.cycles = state.cycles.filter((x) => x !== c);
      for (const x of c.versions) this.trees.delete(toHex(x.txid));
      await this.save();
      this.phase("cycle-closed");
      this.m.metrics?.stamps.inc();
      this.m.metrics?.stampedCommitments.inc(v.leaves);
      this.m.metrics?.stampFeeSats.inc(Number(v.feeSats));
      this.logger.info("stamper: stamp confirmed; proofs served", {
        txid: toDisplayHex(v.txid),
        height: mined.height,
        confirmations: block.confirmations,
        commitments: v.leaves,
        feeSats: Number(v.feeSats),
        feeRate: Math.round(v.feeRate * 100) / 100,
        version: mined.version + 1,
        versions: c.versions.length,
        journalSeq: live.pos.seq,
      });
      if (mined.version < c.versions.length - 1) this.logger.info("stamper: an earlier version confirmed; the commitments added later go into the next transaction", {txid: toDisplayHex(v.txid)});
      this.revoked = this.revoked.filter((ranges) => this.unanchored.anyIn(ranges));
      if (this.revoked.length === 0) this.clearProblem("deep-reorg");
    }
  }

  /**
   * On each new block, make sure every unconfirmed cycle still has a version
   * in the node's mempool (nodes forget transactions: restarts, expiry,
   * eviction) and rebroadcast the newest when none is. A cycle whose coin is
   * gone for two blocks in a row (spent by something that is not ours) is
   * given up; its rounds go back to pending.
   */
  private async keepBroadcast(tip: BlockRef, signal: AbortSignal): Promise<void> {
    const state = this.state as StamperState;
    for (const c of state.cycles.filter((x) => !x.mined)) {
      const v = newest(c);
      // Once per block (and at once after a restart, which may have cut a broadcast short).
      if (this.poolChecked.get(c.id) === tip.height) continue;
      this.poolChecked.set(c.id, tip.height);
      let inPool = false;
      for (let i = c.versions.length - 1; i >= 0 && !inPool; i--) inPool = (await this.m.backend.getMempoolEntry((c.versions[i] as StampVersion).txid, signal)) !== null;
      if (inPool) {
        this.missingInputs.delete(c.id);
        continue;
      }
      try {
        await this.m.backend.sendRawTransaction(v.tx, signal);
        this.missingInputs.delete(c.id);
        this.logger.info("stamper: rebroadcast a stamp transaction the node had forgotten", {txid: toDisplayHex(v.txid)});
      } catch (e) {
        if (e instanceof BitcoinError && e.code === BitcoinErrorCode.ALREADY_IN_CHAIN) {
          this.reconciled = false;
        } else if (e instanceof BitcoinError && e.code === BitcoinErrorCode.MISSING_INPUTS) {
          const since = this.missingInputs.get(c.id);
          if (since === undefined) this.missingInputs.set(c.id, tip.height);
          else if (tip.height > since) {
            this.logger.warn("stamper: giving up a stamp transaction whose coin was spent elsewhere; its commitments go into the next one", {txid: toDisplayHex(v.txid), cycle: c.id});
            state.cycles = state.cycles.filter((x) => x !== c);
            this.missingInputs.delete(c.id);
            await this.save();
          }
        } else {
          this.logger.warn("stamper: rebroadcast refused", {txid: toDisplayHex(v.txid), error: describe(e)});
        }
      }
    }
  }

  /** Keep the tree of the cycle's newest version (the likeliest to confirm); drop the one before. */
  private keepTree(c: StampCycle, tree: FlatMerkleTree): void {
    if (c.versions.length > 1) this.trees.delete(toHex((c.versions[c.versions.length - 2] as StampVersion).txid));
    this.trees.set(toHex(newest(c).txid), tree);
  }

  /** Every unanchored round no other cycle may confirm, in order. */
  private pendingSelection(except: StampCycle | null): RoundSelection {
    const others = (this.state as StamperState).cycles.filter((c) => c !== except).map(coverage);
    if (others.length === 0) return this.unanchored.select(() => true);
    return this.unanchored.select((seq) => !others.some((r) => rangesInclude(r, seq)));
  }

  private async feeEstimate(signal: AbortSignal): Promise<number> {
    const est = await this.m.backend.estimateFeeRate(this.opts.confTarget, signal);
    return est?.feeRate ?? this.opts.fallbackFeeRate;
  }

  private async maybeStartCycle(key: FundingKey, tip: BlockRef, signal: AbortSignal): Promise<void> {
    const state = this.state as StamperState;
    if (this.m.clock.now() - state.lastCycleStartMs < this.opts.intervalMs || this.refusedAt === tip.height) return;
    const sel = this.pendingSelection(null);
    if (sel.seqs.length === 0) return;
    const coin = await this.pickCoin(key, signal);
    if (coin === null) return;
    const input = {txid: coin.txid, vout: coin.vout, valueSats: coin.valueSats};
    const cycle: StampCycle = {id: state.nextCycleId, input, startFeeRate: 0, firstHeight: tip.height, replaceable: true, versions: [], mined: null};
    let rate: number | null = await this.feeEstimate(signal);
    for (let attempt = 0; attempt < FEE_RETRIES && rate !== null; attempt++) {
      const vsize = buildStampTransaction({input, key: key.key, root: new Uint8Array(32), feeRate: 0, lockTime: tip.height}).vsize;
      rate = nextFeeRate({startFeeRate: rate, blocksWaited: 0, vsize, previous: null}, this.opts.fee);
      if (rate === null) break;
      cycle.startFeeRate = rate;
      const outcome = await this.sendVersion(cycle, key, sel, rate, tip, signal, true);
      if (outcome === "sent") return;
      if (outcome === "stop") break;
      // "low-fee": the node wants more; step up like otsd (×1.25), within the caps.
      rate *= 1.25;
    }
    this.refusedAt = tip.height;
  }

  /** The largest confirmed coin of ours no cycle spends; null (with the reason shown) when there is none. */
  private async pickCoin(key: FundingKey, signal: AbortSignal): Promise<Utxo | null> {
    const state = this.state as StamperState;
    const spent = new Set(state.cycles.map((c) => `${toHex(c.input.txid)}:${c.input.vout}`));
    const all = await this.m.backend.listUnspent(signal, {minConf: 0});
    const ours = all.filter((u) => bytesEqual(u.scriptPubKey, key.script) && !spent.has(`${toHex(u.txid)}:${u.vout}`));
    const usable = ours.filter((u) => u.confirmations >= 1 && u.valueSats > P2WPKH_DUST_SATS * 2n).sort((a, b) => (a.valueSats < b.valueSats ? 1 : a.valueSats > b.valueSats ? -1 : 0));
    const best = usable[0];
    if (best !== undefined) return best;
    const unconfirmed = ours.filter((u) => u.confirmations === 0).reduce((a, u) => a + u.valueSats, 0n);
    if (unconfirmed > 0n && state.cycles.length === 0) this.setProblem("funds", `waiting for ${unconfirmed} sats sent to ${key.address} to confirm before stamping`);
    else if (state.cycles.length === 0) this.setProblem("funds", `out of funds: send bitcoin to ${key.address} to resume stamping; digests are still accepted`);
    return null;
  }

  private async replace(c: StampCycle, key: FundingKey, tip: BlockRef, signal: AbortSignal): Promise<void> {
    const prev = newest(c);
    const rate = nextFeeRate({startFeeRate: c.startFeeRate, blocksWaited: tip.height - c.firstHeight, vsize: prev.vsize, previous: {feeRate: prev.feeRate, feeSats: prev.feeSats}}, this.opts.fee);
    if (rate === null) {
      this.setProblem("fee-cap", `stamp ${toDisplayHex(prev.txid)} waits at the fee limit (${prev.feeRate.toFixed(2)} sat/vB, ${prev.feeSats} sats); raise --max-feerate/--max-fee to speed it up`);
      return;
    }
    this.clearProblem("fee-cap");
    const sel = this.pendingSelection(c);
    await this.sendVersion(c, key, sel, rate, tip, signal, false);
  }

  /**
   * Build, save, then broadcast one version. "sent": broadcast (or possibly
   * broadcast: a timeout leaves it saved and counted); "low-fee": refused for
   * its feerate; "stop": refused or failed for another reason.
   */
  private async sendVersion(c: StampCycle, key: FundingKey, sel: RoundSelection, rate: number, tip: BlockRef, signal: AbortSignal, first: boolean): Promise<"sent" | "low-fee" | "stop"> {
    const state = this.state as StamperState;
    if (sel.seqs.length === 0) return "stop";
    const tree = await buildMerkleTree(sel.leaves);
    const ranges = selectionRanges(sel, (a, b) => this.m.calendar.stamps.coversBetween(a, b));
    let built;
    try {
      built = buildStampTransaction({input: c.input, key: key.key, root: tree.root, feeRate: rate, lockTime: tip.height});
    } catch (e) {
      if (!(e instanceof AnchorError && e.code === AnchorErrorCode.INSUFFICIENT_FUNDS)) throw e;
      this.setProblem("funds", `out of funds: ${e.message}; send bitcoin to ${key.address} to resume stamping`);
      return "stop";
    }
    const v: StampVersion = {
      txid: built.txid,
      tx: built.tx,
      root: tree.root,
      ranges,
      leaves: sel.seqs.length,
      feeRate: built.feeRate,
      feeSats: built.feeSats,
      vsize: built.vsize,
      height: tip.height,
      timeMs: this.m.clock.now(),
    };
    this.phase("version-built");
    const lastStart = state.lastCycleStartMs;
    c.versions.push(v);
    if (first) {
      state.cycles.push(c);
      state.nextCycleId = c.id + 1;
      state.lastCycleStartMs = v.timeMs;
    }
    await this.save();
    this.phase("version-saved");
    try {
      await this.m.backend.sendRawTransaction(v.tx, signal);
    } catch (e) {
      if (!isDefiniteRefusal(e)) {
        // It may have reached the node: keep it saved and treat it as sent.
        this.logger.warn("stamper: broadcast outcome unknown; keeping the version", {txid: toDisplayHex(v.txid), error: describe(e)});
        this.keepTree(c, tree);
        return "sent";
      }
      c.versions.pop();
      if (c.versions.length === 0) {
        // Nothing went out: the next tick may try again without waiting an interval.
        state.cycles = state.cycles.filter((x) => x !== c);
        state.lastCycleStartMs = lastStart;
      }
      await this.save();
      const lowFee = e instanceof BitcoinError && (e.code === BitcoinErrorCode.MIN_RELAY_FEE_NOT_MET || e.code === BitcoinErrorCode.INSUFFICIENT_FEE);
      this.logger.warn("stamper: the Bitcoin node refused a stamp transaction", {txid: toDisplayHex(v.txid), feeRate: v.feeRate, error: describe(e)});
      return lowFee ? "low-fee" : "stop";
    }
    this.phase("version-broadcast");
    this.keepTree(c, tree);
    this.clearProblem("funds");
    this.m.metrics?.stampBroadcasts.inc({kind: first ? "first" : "replacement"});
    this.logger.info(first ? "stamper: stamp transaction broadcast" : "stamper: stamp transaction replaced", {
      txid: toDisplayHex(v.txid),
      commitments: v.leaves,
      feeRate: Math.round(v.feeRate * 100) / 100,
      feeSats: Number(v.feeSats),
      version: c.versions.length,
      height: tip.height,
    });
    return "sent";
  }
}

function summary(s: LiveStamp): StampSummary {
  return {txid: toDisplayHex(s.txid), height: s.height, blockHash: toDisplayHex(s.blockHash), leaves: s.leaves, feeSats: s.feeSats, vsize: s.vsize, feeRate: s.vsize > 0 ? s.feeSats / s.vsize : 0};
}
