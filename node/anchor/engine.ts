/**
 * The anchoring engine (DESIGN §4): puts 32-byte roots into Bitcoin and
 * reports each one K deep, knowing nothing of what a root commits to — the
 * client (client.ts) supplies the roots and their descriptions and records
 * the confirmations.
 *
 * A *cycle* spends one of our coins into a transaction whose OP_RETURN holds
 * the client's root (stamp-tx.ts). Each new block without confirmation
 * brings a *version* that replaces the last one with the client's newest
 * content and the fee schedule's next feerate (fee-schedule.ts: a deadline,
 * Core's replacement rules, the caps). Every version is saved (state-file.ts)
 * before it is sent, so whichever one a miner picks is recognised, also
 * after a crash. Versions the node forgets are rebroadcast once a block; a
 * coin spent by something else for two blocks is given up.
 *
 * Every version is followed by the transaction watcher (tx-watcher.ts): a
 * block that held one and leaves the chain before K puts the cycle back to
 * waiting (the same or another version may confirm on the new branch, and is
 * followed); once one is K deep, the path root → txid → block is checked
 * (confirmation.ts) and handed to the client, and the cycle is forgotten
 * once the client has recorded it. The watcher is shared (`watch`), so the
 * client can follow what it recorded for reorgs deeper than K, or
 * transactions it did not ask the engine to build.
 *
 * One loop does everything, one tick at a time, so no two decisions race.
 */
import {toDisplayHex} from "../../protocol/ots/bytes.ts";
import type {BitcoinBackend} from "../bitcoin/backend.ts";
import {defaultChainViewOptions, PollingChainView} from "../bitcoin/chain-view.ts";
import type {BlockRef} from "../bitcoin/chain-view.ts";
import {BitcoinError, BitcoinErrorCode, isTransientBitcoinError} from "../bitcoin/errors.ts";
import type {FundingKey} from "../bitcoin/funding-key.ts";
import type {Clock} from "../clock.ts";
import {Lifecycle, runEvery, Waker} from "../lifecycle.ts";
import type {Logger} from "../logger.ts";
import type {AnchorClient, AnchorContent, AnchorPhase, AnchorProblem, AnchorProblemKind} from "./client.ts";
import {pickCoin} from "./coins.ts";
import {Rebroadcaster} from "./rebroadcast.ts";
import {confirmationOf} from "./confirmation.ts";
import {AnchorError, AnchorErrorCode, describeError} from "./errors.ts";
import {nextFeeRate} from "./fee-schedule.ts";
import type {AnchorOptions} from "./options.ts";
import {AnchorStateFile} from "./state-file.ts";
import type {AnchorCycle, AnchorState, AnchorVersion, DescriptionCodec} from "./state-file.ts";
import {buildStampTransaction} from "./stamp-tx.ts";
import {defaultTxWatcherOptions, TxWatcher} from "./tx-watcher.ts";
import type {TxEvent, TxEventHandler, TxInclusion, TxWatch, TxWatchStart} from "./tx-watcher.ts";

/** Dependencies. */
export type AnchorModules<D> = {
  backend: BitcoinBackend;
  /** The key that owns the coins; null until the Bitcoin node has said which chain it is on. */
  fundingKey: () => FundingKey | null;
  client: AnchorClient<D>;
  /** How the client's descriptions are stored. */
  descriptionCodec: DescriptionCodec<D>;
  /** Where the state file lives (created on the first save). */
  stateDir: string;
  logger: Logger;
  clock: Clock;
  /** Test hook: told of each phase (crash tests kill the process there). */
  onPhase?: (phase: AnchorPhase) => void;
};

/** First-broadcast attempts when the node says the feerate is too low. */
const FEE_RETRIES = 5;

function newest<D>(c: AnchorCycle<D>): AnchorVersion<D> {
  return c.versions[c.versions.length - 1] as AnchorVersion<D>;
}

/** Refusals after which we know the node did not take the transaction. */
function isDefiniteRefusal(e: unknown): boolean {
  return e instanceof BitcoinError && !isTransientBitcoinError(e) && e.code !== BitcoinErrorCode.ABORTED && e.code !== BitcoinErrorCode.BAD_RESPONSE;
}

/** The anchoring engine (see the module comment). Call `load()` (or just `start()`) first. */
export class AnchorEngine<D> extends Lifecycle {
  private readonly opts: AnchorOptions;
  private readonly m: AnchorModules<D>;
  private readonly logger: Logger;
  private readonly file: AnchorStateFile<D>;
  private readonly view: PollingChainView;
  private readonly watcher: TxWatcher;
  private readonly waker = new Waker();
  private saved: AnchorState<D> | null = null;
  /** The watches of each cycle's versions, by cycle id. */
  private readonly watches = new Map<number, TxWatch[]>();
  private readonly rebroadcaster: Rebroadcaster;
  /** Tip height at which the node last refused a first version: try again on the next block, not every poll. */
  private refusedAt = -1;
  /** The cycles changed since the last save. */
  private dirty = false;
  private loop: Promise<void> | null = null;

  constructor(opts: AnchorOptions, modules: AnchorModules<D>) {
    super();
    this.opts = opts;
    this.m = modules;
    this.logger = modules.logger;
    this.file = new AnchorStateFile(modules.stateDir, modules.descriptionCodec);
    this.view = new PollingChainView({pollIntervalMs: opts.pollIntervalMs}, {backend: modules.backend, logger: modules.logger});
    this.rebroadcaster = new Rebroadcaster({backend: modules.backend, logger: modules.logger});
    // The watcher checks as far back as the view remembers blocks to find reorgs in.
    this.watcher = new TxWatcher({...defaultTxWatcherOptions, confirmations: opts.confirmations, reorgWindow: defaultChainViewOptions.maxReorgDepth}, {backend: modules.backend});
  }

  /**
   * Read the saved cycles and follow every version again. Throws (the
   * node refuses to start) if the state file is damaged. Once only.
   */
  async load(): Promise<void> {
    if (this.saved !== null) return;
    const state = await this.file.load();
    this.saved = state;
    for (const c of state.cycles) {
      c.versions.forEach((v, i) => {
        const mined = c.mined?.version === i ? c.mined : null;
        this.watchVersion(c, i, mined ? {state: "mined", block: {hash: mined.blockHash, height: mined.height}, sinceHeight: c.firstHeight} : {state: "waiting", sinceHeight: c.firstHeight});
      });
    }
  }

  /** The cycles in flight, oldest first (read only; empty before `load`). */
  cycles(): readonly AnchorCycle<D>[] {
    return this.saved?.cycles ?? [];
  }

  /** The cycle taking new content: not mined, still replaceable. */
  activeCycle(): AnchorCycle<D> | null {
    return this.saved?.cycles.find((c) => c.replaceable && !c.mined) ?? null;
  }

  /** The best block as the engine last saw it. */
  tip(): BlockRef | null {
    return this.view.tip();
  }

  /**
   * Follow any transaction through the chain with the engine's watcher,
   * driven by the engine's loop (handlers run inside it, one at a time).
   */
  watch(txid: Uint8Array, onEvent: TxEventHandler, start?: TxWatchStart): TxWatch {
    return this.watcher.watch(txid, onEvent, start);
  }

  /** Run a tick now instead of at the next poll (tests, and the devnet after mining). */
  poke(): void {
    this.waker.wake();
  }

  protected async onStart(signal: AbortSignal): Promise<void> {
    await this.load();
    this.loop = runEvery(this.opts.pollIntervalMs, signal, (s) => this.tick(s), {waker: this.waker});
  }

  /** Waits for the tick in progress; a cycle half-way is resumed from the state file at the next start. */
  protected async onStop(): Promise<void> {
    await this.loop;
    this.loop = null;
  }

  // --- the loop ----------------------------------------------------------------------------

  private phase(p: AnchorPhase): void {
    this.m.onPhase?.(p);
  }

  private problem(p: AnchorProblem): void {
    this.m.client.problem?.(p);
  }

  private resolved(kind: AnchorProblemKind): void {
    this.m.client.resolved?.(kind);
  }

  private async save(): Promise<void> {
    this.dirty = false;
    await this.file.save(this.saved as AnchorState<D>);
  }

  /** Save if a chain event changed a cycle; true if it did. */
  private async saveIfChanged(): Promise<boolean> {
    if (!this.dirty) return false;
    await this.save();
    return true;
  }

  private async tick(signal: AbortSignal): Promise<void> {
    try {
      await this.step(signal);
      this.resolved("internal");
    } catch (e) {
      if (signal.aborted) return;
      if (isTransientBitcoinError(e)) this.problem({kind: "bitcoin-node", error: e});
      else {
        this.logger.error("anchor: tick failed", {}, e as Error);
        this.problem({kind: "internal", error: e});
      }
    } finally {
      this.m.client.ticked?.();
    }
  }

  private async step(signal: AbortSignal): Promise<void> {
    // The funding key is known once the Bitcoin node has said which chain it
    // is on; whoever loads it reports the node's errors until then.
    const key = this.m.fundingKey();
    if (key === null) return;
    const update = await this.view.pollNow(signal);
    this.resolved("bitcoin-node");
    const tip = this.view.tip();
    if (tip === null) return;
    // What was saved or watched since the last look (all of it after a start), then the new blocks.
    await this.watcher.reconcile(tip, signal);
    await this.saveIfChanged();
    if (update) {
      await this.watcher.follow(update, signal);
      if (await this.saveIfChanged()) this.phase("mined-saved");
    }
    await this.watcher.confirm(tip, signal);
    await this.keepBroadcast(tip, signal);
    const active = this.activeCycle();
    if (active) {
      if (tip.height > newest(active).height) await this.replace(active, key, tip, signal);
    } else {
      await this.maybeStartCycle(key, tip, signal);
    }
  }

  // --- following the versions ---------------------------------------------------------------

  private watchVersion(c: AnchorCycle<D>, index: number, start: TxWatchStart): void {
    const w = this.watcher.watch((c.versions[index] as AnchorVersion<D>).txid, (e) => this.onVersionEvent(c.id, index, e), start);
    this.watches.set(c.id, [...(this.watches.get(c.id) ?? []), w]);
  }

  private onVersionEvent(cycleId: number, index: number, e: TxEvent): Promise<void> | void {
    const c = this.saved?.cycles.find((x) => x.id === cycleId);
    if (c === undefined) return;
    const v = c.versions[index] as AnchorVersion<D>;
    switch (e.kind) {
      case "mined":
        c.mined = {version: index, blockHash: e.block.hash, height: e.block.height};
        c.replaceable = false;
        this.rebroadcaster.minedNow(c.id);
        this.dirty = true;
        this.logger.info("anchor: transaction mined", {txid: toDisplayHex(v.txid), height: e.block.height, version: index + 1, versions: c.versions.length, needConfirmations: this.opts.confirmations});
        return;
      case "unmined":
        if (c.mined?.version !== index) return;
        c.mined = null;
        this.dirty = true;
        if (e.rescan) this.logger.warn("anchor: a mined transaction's block left the chain while the node was down; waiting for it again", {cycle: c.id, height: e.block.height});
        else this.logger.warn("anchor: reorg before enough confirmations; the transaction waits for a block again", {txid: toDisplayHex(v.txid), height: e.block.height});
        return;
      case "confirmed":
        if (c.mined?.version !== index) return;
        return this.finalize(c, index, e.inclusion);
      case "reorged":
        // A version's watch ends when its cycle is handed over, before any deep reorg.
        return;
    }
  }

  /** Version `index` is K deep: hand it to the client, then forget the cycle. */
  private async finalize(c: AnchorCycle<D>, index: number, inclusion: TxInclusion): Promise<void> {
    await this.m.client.confirmed(confirmationOf(c, index, inclusion));
    this.closeCycle(c);
    await this.save();
    this.phase("cycle-closed");
  }

  private closeCycle(c: AnchorCycle<D>): void {
    const state = this.saved as AnchorState<D>;
    state.cycles = state.cycles.filter((x) => x !== c);
    for (const w of this.watches.get(c.id) ?? []) w.cancel();
    this.watches.delete(c.id);
    this.rebroadcaster.forget(c.id);
  }

  /** Keep every unconfirmed cycle in the node's mempool; give up one whose coin was spent elsewhere. */
  private async keepBroadcast(tip: BlockRef, signal: AbortSignal): Promise<void> {
    for (const c of (this.saved as AnchorState<D>).cycles.filter((x) => !x.mined)) {
      const found = await this.rebroadcaster.check(c, tip, signal);
      // Mined where the watcher did not look: search again.
      if (found === "in-chain") this.watcher.recheck();
      else if (found === "gone") {
        this.logger.warn("anchor: giving up a transaction whose coin was spent elsewhere; what it anchored is in flight no more", {txid: toDisplayHex(newest(c).txid), cycle: c.id});
        this.closeCycle(c);
        await this.save();
        this.m.client.dropped?.(c);
      }
    }
  }

  // --- new versions -------------------------------------------------------------------------

  private async feeEstimate(signal: AbortSignal): Promise<number> {
    const est = await this.m.backend.estimateFeeRate(this.opts.confTarget, signal);
    return est?.feeRate ?? this.opts.fallbackFeeRate;
  }

  private async maybeStartCycle(key: FundingKey, tip: BlockRef, signal: AbortSignal): Promise<void> {
    const state = this.saved as AnchorState<D>;
    if (this.m.clock.now() - state.lastCycleStartMs < this.opts.intervalMs || this.refusedAt === tip.height) return;
    if (!this.m.client.hasWork(state.cycles)) return;
    const choice = await pickCoin(this.m.backend, key.script, state.cycles.map((c) => c.input), signal);
    if (choice.coin === null) {
      // With a cycle in flight, its change is the next coin: nothing to report.
      if (state.cycles.length === 0) {
        if (choice.unconfirmedSats > 0n) this.problem({kind: "funds", reason: "unconfirmed", unconfirmedSats: choice.unconfirmedSats, address: key.address});
        else this.problem({kind: "funds", reason: "empty", address: key.address});
      }
      return;
    }
    const content = await this.m.client.next(null, state.cycles);
    if (content === null) return;
    const coin = choice.coin;
    const input = {txid: coin.txid, vout: coin.vout, valueSats: coin.valueSats};
    const cycle: AnchorCycle<D> = {id: state.nextCycleId, input, startFeeRate: 0, firstHeight: tip.height, replaceable: true, versions: [], mined: null};
    let rate: number | null = await this.feeEstimate(signal);
    for (let attempt = 0; attempt < FEE_RETRIES && rate !== null; attempt++) {
      const vsize = buildStampTransaction({input, key: key.key, root: new Uint8Array(32), feeRate: 0, lockTime: tip.height}).vsize;
      rate = nextFeeRate({startFeeRate: rate, blocksWaited: 0, vsize, previous: null}, this.opts.fee);
      if (rate === null) break;
      cycle.startFeeRate = rate;
      const outcome = await this.sendVersion(cycle, key, content, rate, tip, signal, true);
      if (outcome === "sent") return;
      if (outcome === "stop") break;
      // "low-fee": the node wants more; step up like otsd (×1.25), within the caps.
      rate *= 1.25;
    }
    this.refusedAt = tip.height;
  }

  private async replace(c: AnchorCycle<D>, key: FundingKey, tip: BlockRef, signal: AbortSignal): Promise<void> {
    const prev = newest(c);
    const rate = nextFeeRate({startFeeRate: c.startFeeRate, blocksWaited: tip.height - c.firstHeight, vsize: prev.vsize, previous: {feeRate: prev.feeRate, feeSats: prev.feeSats}}, this.opts.fee);
    if (rate === null) {
      this.problem({kind: "fee-cap", txid: prev.txid, feeRate: prev.feeRate, feeSats: prev.feeSats});
      return;
    }
    this.resolved("fee-cap");
    const others = (this.saved as AnchorState<D>).cycles.filter((x) => x !== c);
    const content = await this.m.client.next(c, others);
    if (content === null) return;
    await this.sendVersion(c, key, content, rate, tip, signal, false);
  }

  /**
   * Build, save, then broadcast one version. "sent": broadcast (or possibly
   * broadcast: a timeout leaves it saved and followed); "low-fee": refused
   * for its feerate; "stop": refused or failed for another reason.
   */
  private async sendVersion(c: AnchorCycle<D>, key: FundingKey, content: AnchorContent<D>, rate: number, tip: BlockRef, signal: AbortSignal, first: boolean): Promise<"sent" | "low-fee" | "stop"> {
    const state = this.saved as AnchorState<D>;
    let built;
    try {
      built = buildStampTransaction({input: c.input, key: key.key, root: content.root, feeRate: rate, lockTime: tip.height});
    } catch (e) {
      if (!(e instanceof AnchorError && e.code === AnchorErrorCode.INSUFFICIENT_FUNDS)) throw e;
      this.problem({kind: "funds", reason: "insufficient", error: e, address: key.address});
      return "stop";
    }
    const v: AnchorVersion<D> = {
      txid: built.txid,
      tx: built.tx,
      root: content.root,
      description: content.description,
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
        // It may have reached the node: keep it saved and followed, as if sent.
        this.logger.warn("anchor: broadcast outcome unknown; keeping the version", {txid: toDisplayHex(v.txid), error: describeError(e)});
        this.kept(c, tip, first, false);
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
      this.logger.warn("anchor: the Bitcoin node refused a transaction", {txid: toDisplayHex(v.txid), feeRate: v.feeRate, error: describeError(e)});
      return lowFee ? "low-fee" : "stop";
    }
    this.phase("version-broadcast");
    this.kept(c, tip, first, true);
    this.resolved("funds");
    return "sent";
  }

  /** The newest version of `c` is saved and (possibly) out: follow it and tell the client. */
  private kept(c: AnchorCycle<D>, tip: BlockRef, first: boolean, broadcast: boolean): void {
    const index = c.versions.length - 1;
    // Built on `tip`, it can only be in blocks above: no search needed.
    this.watchVersion(c, index, {state: "waiting", sinceHeight: tip.height});
    this.m.client.kept?.({cycle: c, version: newest(c), index, first, broadcast});
  }
}

