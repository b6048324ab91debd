/**
 * `PollingChainView`: follows the active chain of any {@link BitcoinBackend}
 * by polling and tells subscribers which blocks were connected and which were
 * disconnected (reorgs), like the stamper's known-blocks list in otsd
 * (PROTOCOL-NOTES §3.5), but as a reusable service.
 *
 * It keeps the hashes of the last `maxReorgDepth` blocks. On each poll it
 * compares the node's tip with ours; when they differ it walks down by height
 * until the node's hash equals ours (the fork point), reports our blocks above
 * it as disconnected (tip first) and the node's blocks above it as connected
 * (ascending). When none of our blocks is on the node's chain any more (a
 * reorg deeper than the window, bitcoind back from an older state, a fresh
 * chain) all we remember is reported disconnected, the view re-anchors on the
 * node's chain and goes on from there (whether a block that left really is
 * gone is the transaction watcher's to decide, by chain work). While the
 * node is syncing (initial block download, headers ahead of blocks) the view
 * waits. A node that goes away (down, warming up, timing out) is retried
 * every poll without crashing; the view resumes where it was.
 *
 * Either it polls by itself (`start()`, the one Service lifecycle of
 * node/lifecycle.ts), or its owner calls `pollNow()` from its own loop, as the
 * anchoring engine does so that its decisions never race a poll.
 */
import {bytesEqual, hashToDisplayHex} from "../../protocol/bitcoin/hash.ts";
import {isSyncing} from "./backend.ts";
import type {BitcoinBackend} from "./backend.ts";
import {isTransientBitcoinError} from "./errors.ts";
import {Lifecycle, runEvery} from "../lifecycle.ts";
import {nullLogger, type Logger} from "../logger.ts";

/** A block by hash and height. */
export type BlockRef = {hash: Uint8Array; height: number};

/** A change of the active chain. */
export type ChainUpdate = {
  /** Our former blocks no longer on the active chain, highest first. */
  disconnected: BlockRef[];
  /** New active blocks, lowest first. */
  connected: BlockRef[];
  tip: BlockRef;
};

/** Options (plain data). */
export type ChainViewOptions = {
  /** Poll period, ms. */
  pollIntervalMs: number;
  /** How many recent blocks are remembered for finding fork points. */
  maxReorgDepth: number;
  /** Time limit of one poll, ms. */
  pollTimeoutMs: number;
};

/** Defaults. */
export const defaultChainViewOptions: ChainViewOptions = {pollIntervalMs: 1000, maxReorgDepth: 144, pollTimeoutMs: 60_000};

/** Dependencies. */
export type ChainViewModules = {backend: BitcoinBackend; logger?: Logger};

/** Polling chain view (see the module comment). */
export class PollingChainView extends Lifecycle {
  private readonly opts: ChainViewOptions;
  private readonly backend: BitcoinBackend;
  private readonly logger: Logger;
  private readonly listeners = new Set<(u: ChainUpdate) => void>();
  /** height → hash of the blocks we consider active (the last `maxReorgDepth`). */
  private readonly known = new Map<number, Uint8Array>();
  private tipRef: BlockRef | null = null;
  private loop: Promise<void> | null = null;
  private polling: Promise<ChainUpdate | null> | null = null;
  private failing = false;
  private syncing = false;
  /** Chain work of the node's chain when it last gave us our tip. */
  private tipWork: bigint | null = null;

  constructor(opts: Partial<ChainViewOptions>, modules: ChainViewModules) {
    super();
    this.opts = {...defaultChainViewOptions, ...opts};
    this.backend = modules.backend;
    this.logger = modules.logger ?? nullLogger;
  }

  /** Subscribes; returns the unsubscribe function. */
  onUpdate(listener: (u: ChainUpdate) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Our current tip, or null before the first successful poll. */
  tip(): BlockRef | null {
    return this.tipRef;
  }

  /** Runs the poll loop until stopped (the first poll only sets the baseline). */
  protected async onStart(signal: AbortSignal): Promise<void> {
    // pollNow logs its failures; the loop must survive any backend failure.
    this.loop = runEvery(this.opts.pollIntervalMs, signal, (s) => this.pollNow(s).then(() => {}), {onError: () => {}});
  }

  protected async onStop(): Promise<void> {
    await this.loop;
    this.loop = null;
  }

  /**
   * Polls once (concurrent calls share one poll) and returns the update it
   * reported, or null when nothing changed or this was the baseline.
   * Backend failures are logged and rethrown.
   */
  pollNow(signal: AbortSignal): Promise<ChainUpdate | null> {
    if (this.polling !== null) return this.polling;
    const timed = AbortSignal.any([signal, AbortSignal.timeout(this.opts.pollTimeoutMs)]);
    this.polling = this.poll(timed).then(
      (u) => {
        if (this.failing) this.logger.info("bitcoin chain view: backend reachable again", {backend: this.backend.kind});
        this.failing = false;
        return u;
      },
      (e: unknown) => {
        // Log a failure streak once at warn, then quietly until it recovers.
        if (!this.failing) this.logger.warn("bitcoin chain view: poll failed", {backend: this.backend.kind, transient: isTransientBitcoinError(e)}, e as Error);
        else this.logger.debug("bitcoin chain view: poll failed again", {backend: this.backend.kind}, e as Error);
        this.failing = true;
        throw e;
      },
    );
    const done = (): void => {
      this.polling = null;
    };
    this.polling.then(done, done);
    return this.polling;
  }

  private remember(ref: BlockRef): void {
    this.known.set(ref.height, ref.hash);
    for (const h of this.known.keys()) if (h <= ref.height - this.opts.maxReorgDepth || h > ref.height) this.known.delete(h);
  }

  private async poll(signal: AbortSignal): Promise<ChainUpdate | null> {
    const info = await this.backend.getChainInfo(signal);
    // A syncing node's tip is not its chain's yet (after a restart it may even
    // start below ours): report nothing, take no baseline, until it is done.
    if (isSyncing(info)) {
      if (!this.syncing) this.logger.info("bitcoin chain view: the node is syncing; waiting", {height: info.height, headers: info.headers, initialBlockDownload: info.initialBlockDownload});
      this.syncing = true;
      return null;
    }
    if (this.syncing) this.logger.info("bitcoin chain view: the node has synced", {height: info.height});
    this.syncing = false;
    const remoteTip: BlockRef = {hash: info.bestBlockHash, height: info.height};
    const ours = this.tipRef;
    if (ours === null) {
      this.tipRef = remoteTip;
      this.tipWork = info.chainWork;
      this.remember(remoteTip);
      this.logger.verbose("bitcoin chain view: baseline", {height: remoteTip.height, tip: hashToDisplayHex(remoteTip.hash)});
      return null;
    }
    if (bytesEqual(ours.hash, remoteTip.hash)) return null;

    // Find the fork point: the highest height where the node's hash equals ours.
    const remote = new Map<number, Uint8Array>([[remoteTip.height, remoteTip.hash]]);
    const remoteHash = async (h: number): Promise<Uint8Array> => {
      let v = remote.get(h);
      if (v === undefined) {
        v = await this.backend.getBlockHash(h, signal);
        remote.set(h, v);
      }
      return v;
    };
    // `known` always holds at least our tip (every poll remembers the tip it reports).
    const lowest = Math.min(...this.known.keys());
    let fork = -1;
    for (let h = Math.min(ours.height, remoteTip.height); h >= lowest; h--) {
      const mine = this.known.get(h);
      if (mine !== undefined && bytesEqual(mine, await remoteHash(h))) {
        fork = h;
        break;
      }
    }
    // Where the node's blocks we report as connected start.
    let from = fork + 1;
    if (fork < 0) {
      // No remembered block is on the node's chain (a reorg deeper than the
      // window, bitcoind back from an older flushed state, a fresh chain).
      // Every block we remember is gone; we re-anchor on the node's chain:
      // its blocks at the heights we remembered, or, when its tip is below
      // all of them, its last `maxReorgDepth` blocks (which we cannot tell
      // from ours, so subscribers search them as new). Logged once: the
      // next poll follows the new chain normally.
      const context = {maxReorgDepth: this.opts.maxReorgDepth, height: remoteTip.height, ourHeight: ours.height, lowestRemembered: lowest};
      // Less work than our tip had is a node back from an older state (or a
      // fresh chain), not a reorg: the transaction watcher waits for it.
      if (this.tipWork !== null && info.chainWork < this.tipWork) this.logger.warn("bitcoin chain view: the node reports a chain with less work than ours (restarted from an older state?); following it from its tip", context);
      else this.logger.error("bitcoin chain view: reorg deeper than the remembered window; following the node's chain from its tip", context);
      from = remoteTip.height >= lowest ? lowest : Math.max(0, remoteTip.height - this.opts.maxReorgDepth + 1);
    }
    const disconnected: BlockRef[] = [];
    // Ours above the fork point; all we remember when there is none.
    const gone = fork < 0 ? lowest : fork + 1;
    for (let h = ours.height; h >= gone; h--) {
      const hash = this.known.get(h);
      if (hash !== undefined) disconnected.push({hash, height: h});
    }
    const connected: BlockRef[] = [];
    for (let h = Math.max(from, 0); h <= remoteTip.height; h++) connected.push({hash: await remoteHash(h), height: h});
    for (const h of [...this.known.keys()]) if (h > fork) this.known.delete(h);
    for (const c of connected) this.remember(c);
    this.tipRef = remoteTip;
    this.tipWork = info.chainWork;
    const update: ChainUpdate = {disconnected, connected, tip: remoteTip};
    if (disconnected.length > 0) {
      this.logger.info("bitcoin chain view: reorg", {disconnected: disconnected.length, connected: connected.length, height: remoteTip.height});
    } else {
      this.logger.debug("bitcoin chain view: new blocks", {connected: connected.length, height: remoteTip.height});
    }
    for (const l of this.listeners) {
      try {
        l(update);
      } catch (e) {
        this.logger.error("bitcoin chain view: subscriber threw", {}, e as Error);
      }
    }
    return update;
  }
}
