/**
 * The stamper (DESIGN §4, PROTOCOL-NOTES §3.5): the calendar's stamping
 * policy on top of the anchoring engine (node/anchor/). The engine puts a
 * root into Bitcoin and reports it K deep; the stamper decides what the root
 * commits to and what a confirmation means for the calendar.
 *
 * What: every round no stamp covers yet, in journal order, except those
 * another transaction in flight may still confirm. The root is the
 * OpenTimestamps merkle tree over sha256 of each commitment (hashed on a
 * worker thread past 16k leaves); each version's description is the journal
 * ranges of its rounds and their count (state-file.ts). The newest version's
 * tree is kept, so confirming it needs no rebuild.
 *
 * Confirmed: its STAMP record (transaction without witness, covered ranges,
 * block, block merkle branch) goes into the journal and the index, and every
 * commitment it covers is served with its full proof. Journaled stamps are
 * followed by the engine's transaction watcher: a reorg deeper than K that
 * removes one revokes it in the journal (STAMP_REVOKED), withdraws its
 * proofs, puts its rounds back to pending, logs loudly and turns health red
 * until they are stamped again.
 *
 * The engine's loop runs everything, one tick at a time; the HTTP side only
 * reads.
 */
import {join} from "node:path";
import {bytesEqual, toDisplayHex, toHex} from "../../protocol/ots/bytes.ts";
import type {FlatMerkleTree} from "../../protocol/ots/flat-merkle.ts";
import {rangesInclude} from "../../protocol/journal/stamp.ts";
import type {SeqRange, StampRecord} from "../../protocol/journal/stamp.ts";
import type {AnchorConfirmation, AnchorContent, AnchorKept, AnchorPhase} from "../anchor/client.ts";
import {AnchorEngine} from "../anchor/engine.ts";
import type {AnchorCycle} from "../anchor/state-file.ts";
import type {TxEvent, TxWatch} from "../anchor/tx-watcher.ts";
import type {BitcoinBackend} from "../bitcoin/backend.ts";
import type {BitcoinError} from "../bitcoin/errors.ts";
import type {FundingKey} from "../bitcoin/funding-key.ts";
import type {Calendar} from "../calendar/calendar.ts";
import type {LiveStamp} from "../calendar/stamp-directory.ts";
import {buildMerkleTree} from "../calendar/tree-builder.ts";
import type {Clock} from "../clock.ts";
import {nativeSha256} from "../hash.ts";
import {Lifecycle} from "../lifecycle.ts";
import type {Logger} from "../logger.ts";
import type {Metrics} from "../metrics.ts";
import {StamperError, StamperErrorCode} from "./errors.ts";
import type {StamperOptions} from "./options.ts";
import {describeAnchorProblem, describeWalletProblem, StamperProblems} from "./problems.ts";
import type {StamperProblem} from "./problems.ts";
import {STAMPER_DIR, stampDescriptionCodec} from "./state-file.ts";
import type {StampDescription} from "./state-file.ts";
import {selectionRanges, UnanchoredRounds} from "./unanchored.ts";
import type {RoundSelection} from "./unanchored.ts";

export type {StamperProblem} from "./problems.ts";

/**
 * Points in a cycle where a crash is most interesting; tests kill the
 * process at each (`onPhase`) and check that a restart loses nothing. The
 * engine reports all but `stamp-journaled`, which is the stamper's.
 */
export type StamperPhase = AnchorPhase | "stamp-journaled";

/** Dependencies. */
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
  /** Why the configured Core wallet cannot be used (the funding watch's import refused it), or null. */
  walletProblem?: () => BitcoinError | null;
};

/** One version of an unconfirmed stamp transaction, as the status page shows it. */
export type VersionStatus = {txid: string; feeRate: number; feeSats: number; vsize: number; leaves: number; height: number};
/** One journaled stamp, as the status page shows it. */
export type StampSummary = {txid: string; height: number; blockHash: string; leaves: number; feeSats: number; vsize: number; feeRate: number};

/** What the status page, /metrics and otsd's JSON keys show about stamping. */
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

type Cycle = AnchorCycle<StampDescription>;

function newestOf(c: Cycle): StampDescription {
  return (c.versions[c.versions.length - 1] as Cycle["versions"][number]).description;
}

/** The rounds a cycle may still anchor: the mined version's, or the newest (a superset of earlier ones). */
function coverage(c: Cycle): StampDescription {
  return c.mined ? (c.versions[c.mined.version] as Cycle["versions"][number]).description : newestOf(c);
}

/** The calendar's stamper (see the module comment). `load()` before `start()`. */
export class Stamper extends Lifecycle {
  private readonly opts: StamperOptions;
  private readonly m: StamperModules;
  private readonly logger: Logger;
  private readonly engine: AnchorEngine<StampDescription>;
  private readonly unanchored = new UnanchoredRounds();
  private readonly problems: StamperProblems;
  /** The tree of each cycle's newest version (the likeliest to confirm), by cycle id. */
  private readonly trees = new Map<number, {root: Uint8Array; tree: FlatMerkleTree}>();
  /** The tree of the content last handed to the engine, until the engine keeps that version. */
  private building: {root: Uint8Array; tree: FlatMerkleTree} | null = null;
  /** Stamps a deep reorg revoked whose rounds are not all stamped again; health stays red until they are. */
  private revoked: Array<{ranges: SeqRange[]; txid: Uint8Array; height: number; leaves: number}> = [];
  private loaded = false;
  /** Every journaled stamp is followed for deep reorgs (from the first load on). */
  private followingStamps = false;
  private unsubscribe: (() => void) | null = null;
  /** Journal records below this seq have been read or heard of. */
  private seenTo = 0;

  constructor(opts: StamperOptions, modules: StamperModules) {
    super();
    this.opts = opts;
    this.m = modules;
    this.logger = modules.logger;
    this.problems = new StamperProblems({logger: modules.logger, metrics: modules.metrics});
    this.engine = new AnchorEngine(opts, {
      backend: modules.backend,
      fundingKey: modules.fundingKey,
      descriptionCodec: stampDescriptionCodec,
      stateDir: join(modules.dataDir, STAMPER_DIR),
      logger: modules.logger,
      clock: modules.clock,
      ...(modules.onPhase ? {onPhase: modules.onPhase} : {}),
      client: {
        hasWork: (inFlight) => this.hasWork(inFlight),
        // A replacement covers every round pending at that moment, like a first version.
        next: (replacing, others) => this.nextContent(others),
        confirmed: (c) => this.journal(c),
        kept: (e) => this.kept(e),
        dropped: (c) => void this.trees.delete(c.id),
        // With an unusable wallet the node sees no coins: that is the wallet's problem, not "out of funds".
        problem: (p) => (p.kind === "funds" && this.checkWallet() ? undefined : this.problems.set(p.kind, describeAnchorProblem(p))),
        resolved: (kind) => this.problems.clear(kind),
        ticked: () => {
          this.building = null;
          this.checkWallet();
          this.updateGauges();
        },
      },
    });
  }

  /**
   * Read the saved cycles, follow every journaled stamp for deep reorgs, and
   * gather every unanchored round from the journal. Throws (the node refuses
   * to start) if the state file is damaged.
   */
  async load(): Promise<void> {
    if (this.loaded) return;
    await this.engine.load();
    if (!this.followingStamps) for (const s of this.m.calendar.stamps.all()) this.followStamp(s);
    this.followingStamps = true;
    if (this.unsubscribe === null) await this.followRounds();
    this.loaded = true;
    this.updateGauges();
    const cycles = this.engine.cycles();
    this.logger.info("stamper loaded", {unanchored: this.unanchored.count, cycles: cycles.length, versions: cycles.reduce((a, c) => a + c.versions.length, 0)});
  }

  /** Run a tick now instead of at the next poll (tests, and the devnet after mining). */
  poke(): void {
    this.engine.poke();
  }

  /** Start stamping (loading first if `load()` was not called); after a stop, rounds committed meanwhile are read first. */
  protected async onStart(): Promise<void> {
    if (!this.loaded) await this.load();
    else if (this.unsubscribe === null) await this.followRounds();
    await this.engine.start();
  }

  /** Stop after the tick in progress; a cycle half-way is resumed from the state file at the next start. */
  protected async onStop(): Promise<void> {
    await this.engine.stop();
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  // --- what HTTP reads -------------------------------------------------------------------

  /** otsd's 404 reason for a commitment mined but not yet K deep; null otherwise. */
  waitingReason(seq: number): string | null {
    for (const c of this.engine.cycles()) {
      if (c.mined && rangesInclude(coverage(c).ranges, seq)) {
        return `Timestamped by transaction ${toDisplayHex((c.versions[c.mined.version] as Cycle["versions"][number]).txid)}; waiting for ${this.opts.confirmations} confirmations`;
      }
    }
    return null;
  }

  /** The merkle tip of the newest unconfirmed version (GET /tip), or null. */
  tip(): Uint8Array | null {
    const c = this.engine.activeCycle() ?? this.engine.cycles().filter((x) => !x.mined).at(-1);
    return c ? (c.versions[c.versions.length - 1] as Cycle["versions"][number]).root : null;
  }

  /** Why the node is unhealthy (/healthz 503), or null. */
  health(): string | null {
    return this.problems.health();
  }

  /** Problems that do not stop the calendar (shown on /healthz with 200, and on the status page). */
  warnings(): string[] {
    return this.problems.warnings();
  }

  /** The stamping state for the status page (was `status()`, which is now the lifecycle's). */
  report(): StamperStatus {
    const tipRef = this.engine.tip();
    const cycles = this.engine.cycles();
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
          versions: c.versions.map((v) => ({txid: toDisplayHex(v.txid), feeRate: v.feeRate, feeSats: Number(v.feeSats), vsize: v.vsize, leaves: v.description.leaves, height: v.height})),
        })),
      waiting: cycles
        .filter((c) => c.mined)
        .map((c) => {
          const mined = c.mined as NonNullable<Cycle["mined"]>;
          const v = c.versions[mined.version] as Cycle["versions"][number];
          return {txid: toDisplayHex(v.txid), height: mined.height, confirmations: tipRef ? tipRef.height - mined.height + 1 : 0, leaves: v.description.leaves};
        }),
      recent: this.m.calendar.stamps.recent(10).map(summary),
      problems: this.problems.list(),
      bestHeight: tipRef?.height ?? null,
      bestBlock: tipRef ? toDisplayHex(tipRef.hash) : null,
    };
  }

  private pendingCount(): number {
    const cycles = this.engine.cycles();
    if (cycles.length === 0) return this.unanchored.count;
    let inCycles = 0;
    for (const c of cycles) inCycles += coverage(c).leaves;
    return Math.max(0, this.unanchored.count - inCycles);
  }

  private updateGauges(): void {
    const mt = this.m.metrics;
    if (!mt) return;
    const cycles = this.engine.cycles();
    mt.stamperPending.set(this.pendingCount());
    mt.stamperUnanchored.set(this.unanchored.count);
    mt.stamperUnconfirmedVersions.set(cycles.filter((c) => !c.mined).reduce((a, c) => a + c.versions.length, 0));
    mt.stamperWaiting.set(cycles.filter((c) => c.mined).length);
  }

  // --- the rounds ----------------------------------------------------------------------------

  /** Hear of every new round, after reading those from `seenTo` on that no stamp covers. */
  private async followRounds(): Promise<void> {
    const {calendar} = this.m;
    // Rounds committed while we read the journal arrive here; keep them for after.
    const early: Array<{seq: number; leaf: Uint8Array}> = [];
    let caughtUp = false;
    this.unsubscribe = calendar.onRound((seq, commitment) => {
      const leaf = nativeSha256(commitment);
      if (caughtUp) this.addRound(seq, leaf);
      else early.push({seq, leaf});
    });
    const from = this.seenTo;
    const end = calendar.store.length;
    const ranges = calendar
      .uncoveredRanges()
      .filter((r) => r.from < end && r.to > from)
      .map((r) => (r.from >= from ? r : {from, to: r.to}));
    let read: {seqs: Float64Array; leaves: Uint8Array};
    try {
      read = await calendar.readRoundLeaves(ranges);
    } catch (e) {
      // Not caught up: the next try starts over.
      this.unsubscribe();
      this.unsubscribe = null;
      throw e;
    }
    this.unanchored.add(read.seqs, read.leaves);
    caughtUp = true;
    this.seenTo = Math.max(this.seenTo, end);
    for (const e of early) if (e.seq >= end) this.addRound(e.seq, e.leaf);
  }

  private addRound(seq: number, leaf: Uint8Array): void {
    this.unanchored.add([seq], leaf);
    this.seenTo = Math.max(this.seenTo, seq + 1);
  }

  /** Every unanchored round none of `others` may still confirm, in order. */
  private pendingSelection(others: readonly Cycle[]): RoundSelection {
    const covered = others.map((c) => coverage(c).ranges);
    if (covered.length === 0) return this.unanchored.select(() => true);
    return this.unanchored.select((seq) => !covered.some((r) => rangesInclude(r, seq)));
  }

  // --- what the engine asks ------------------------------------------------------------------

  private hasWork(inFlight: readonly Cycle[]): boolean {
    const covered = inFlight.map((c) => coverage(c).ranges);
    return this.unanchored.some((seq) => !covered.some((r) => rangesInclude(r, seq)));
  }

  private async nextContent(others: readonly Cycle[]): Promise<AnchorContent<StampDescription> | null> {
    const sel = this.pendingSelection(others);
    if (sel.seqs.length === 0) return null;
    const tree = await buildMerkleTree(sel.leaves);
    const ranges = selectionRanges(sel, (a, b) => this.m.calendar.stamps.coversBetween(a, b));
    this.building = {root: tree.root, tree};
    return {root: tree.root, description: {ranges, leaves: sel.seqs.length}};
  }

  private kept(e: AnchorKept<StampDescription>): void {
    // Keep the newest version's tree (the likeliest to confirm); the one before goes.
    if (this.building !== null && bytesEqual(this.building.root, e.version.root)) this.trees.set(e.cycle.id, this.building);
    this.building = null;
    if (!e.broadcast) return;
    this.m.metrics?.stampBroadcasts.inc({kind: e.first ? "first" : "replacement"});
    this.logger.info(e.first ? "stamper: stamp transaction broadcast" : "stamper: stamp transaction replaced", {
      txid: toDisplayHex(e.version.txid),
      commitments: e.version.description.leaves,
      feeRate: Math.round(e.version.feeRate * 100) / 100,
      feeSats: Number(e.version.feeSats),
      version: e.index + 1,
      height: e.version.height,
    });
  }

  /** K deep: journal the STAMP record (once: after a crash it may come again), then follow it for deep reorgs. */
  private async journal(c: AnchorConfirmation<StampDescription>): Promise<void> {
    const {calendar, metrics} = this.m;
    const {ranges, leaves} = c.description;
    // Journaled before a crash kept the engine from forgetting the cycle.
    if (calendar.stamps.all().some((s) => bytesEqual(s.txid, c.txid))) {
      this.trees.delete(c.cycle);
      return;
    }
    const record: StampRecord = {ranges, leaves, root: c.root, tx: c.tx, height: c.height, blockHash: c.blockHash, txIndex: c.txIndex, branch: c.branch, feeSats: Number(c.feeSats), vsize: c.vsize};
    const sel = this.unanchored.selectRanges(ranges);
    if (sel.seqs.length !== leaves) {
      throw new StamperError({code: StamperErrorCode.ROUNDS_MISMATCH, txid: c.txid, leaves, unanchored: sel.seqs.length}, `stamp ${toDisplayHex(c.txid)} covers ${leaves} rounds but ${sel.seqs.length} of them are unanchored`);
    }
    const warm = this.trees.get(c.cycle);
    const tree = warm && bytesEqual(warm.root, c.root) ? warm.tree : await buildMerkleTree(sel.leaves);
    const live = await calendar.commitStamp(record, {seqs: sel.seqs, leaves: sel.leaves, tree});
    this.m.onPhase?.("stamp-journaled");
    this.unanchored.removeRanges(ranges);
    this.trees.delete(c.cycle);
    this.followStamp(live);
    metrics?.stamps.inc();
    metrics?.stampedCommitments.inc(leaves);
    metrics?.stampFeeSats.inc(Number(c.feeSats));
    this.logger.info("stamper: stamp confirmed; proofs served", {
      txid: toDisplayHex(c.txid),
      height: c.height,
      confirmations: c.confirmations,
      commitments: leaves,
      feeSats: Number(c.feeSats),
      feeRate: Math.round(c.feeRate * 100) / 100,
      version: c.version + 1,
      versions: c.versions,
      journalSeq: live.pos.seq,
    });
    if (c.version < c.versions - 1) this.logger.info("stamper: an earlier version confirmed; the commitments added later go into the next transaction", {txid: toDisplayHex(c.txid)});
    this.revoked = this.revoked.filter((r) => this.unanchored.anyIn(r.ranges));
    this.showRevoked();
  }

  /** Shows or clears the wallet problem; true while there is one. */
  private checkWallet(): boolean {
    const w = this.m.walletProblem?.() ?? null;
    if (w === null) {
      this.problems.clear("wallet");
      return false;
    }
    this.problems.clear("funds");
    this.problems.set("wallet", describeWalletProblem(w.type.reason ?? "?"));
    return true;
  }

  // --- deep reorgs ---------------------------------------------------------------------------

  /** Follow a journaled stamp: a reorg deeper than K that removes its block revokes it. */
  private followStamp(s: LiveStamp): void {
    const seq = s.pos.seq;
    const watch: TxWatch = this.engine.watch(s.txid, (e: TxEvent) => (e.kind === "reorged" ? this.onDeepReorg(seq, e.tip.height, watch) : undefined), {state: "confirmed", block: {hash: s.blockHash, height: s.height}});
  }

  private async onDeepReorg(seq: number, tipHeight: number, watch: TxWatch): Promise<void> {
    const s = this.m.calendar.stamps.get(seq);
    if (s !== null) await this.revoke(s, tipHeight);
    watch.cancel();
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
    this.revoked.push({ranges: s.ranges, txid: s.txid, height: s.height, leaves: s.leaves});
    this.showRevoked();
  }

  /**
   * One problem names every revoked stamp not yet stamped again and their
   * rounds in total: a reorg often removes several, and the operator needs
   * all of them, not the last one.
   */
  private showRevoked(): void {
    const r = this.revoked;
    if (r.length === 0) return this.problems.clear("deep-reorg");
    const total = r.reduce((a, x) => a + x.leaves, 0);
    const one = r.length === 1 ? r[0] : undefined;
    const what = one
      ? `stamp ${toDisplayHex(one.txid)} (block ${one.height})`
      : `${r.length} stamps: ${r.map((x) => `${toDisplayHex(x.txid)} (block ${x.height}, ${x.leaves} commitments)`).join(", ")}`;
    this.problems.set("deep-reorg", `a reorg deeper than ${this.opts.confirmations} confirmations removed ${what}; ${total} commitments lost their proofs until stamped again`, true);
  }
}

function summary(s: LiveStamp): StampSummary {
  return {txid: toDisplayHex(s.txid), height: s.height, blockHash: toDisplayHex(s.blockHash), leaves: s.leaves, feeSats: s.feeSats, vsize: s.vsize, feeRate: s.vsize > 0 ? s.feeSats / s.vsize : 0};
}
