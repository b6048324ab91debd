/**
 * Follows any transaction through the active chain, whoever built it: the
 * engine's own anchor versions, journaled stamps, a donor's transaction.
 *
 *   waiting ──mined in B──▶ mined ──K deep──▶ confirmed
 *      ▲                      │                  │
 *      └──B disconnected──────┘                  │  (unmined: a reorg before K)
 *      └──B disconnected─────────────────────────┘  (reorged: a reorg deeper than K)
 *
 * It is driven, not polling by itself: whoever owns the chain view calls
 * `reconcile` (check what it was told or has not checked yet against the
 * chain: after a restart, and for new watches of old transactions), `follow`
 * (a chain update) and `confirm` (report what is K deep, with the block
 * inclusion proof), in that order, from one loop — so that, between the
 * steps, the owner can save what it learnt before it acts on the next.
 * Handlers run one at a time and are awaited; a handler that throws leaves
 * its watch where it was, so the same event comes again on the next call.
 *
 * A block that is not (or no longer) on the node's active chain has left it
 * only when the node has a chain with at least as much work without it: a
 * bitcoind back from an older state reports a lower tip (even 0) and then
 * syncs the same blocks again, and a syncing node's tip is not its chain's.
 * Until the node says so, the watch stays where it is and is checked again
 * at each reconcile.
 */
import {bytesEqual, toDisplayHex, toHex} from "../../protocol/ots/bytes.ts";
import {bitcoinMerkleBranch} from "../../protocol/ots/bitcoin.ts";
import {decodeBlockHeader} from "../../protocol/bitcoin/header.ts";
import {isSyncing} from "../bitcoin/backend.ts";
import type {BitcoinBackend, BlockHeaderInfo} from "../bitcoin/backend.ts";
import type {BlockRef, ChainUpdate} from "../bitcoin/chain-view.ts";
import {BitcoinError, BitcoinErrorCode} from "../bitcoin/errors.ts";
import {AnchorError, AnchorErrorCode} from "./errors.ts";

/** Where a watch starts: what its caller already believes about the transaction. */
export type TxWatchStart =
  /** In no block yet; blocks above `sinceHeight` are searched at the next reconcile (default: only blocks from now on). */
  | {state: "waiting"; sinceHeight?: number}
  /** In `block`, fewer than K confirmations. `sinceHeight`: where to search if `block` turns out to have left the chain. */
  | {state: "mined"; block: BlockRef; sinceHeight?: number}
  /** K deep in `block`, already reported: only a reorg deeper than K is left to report. */
  | {state: "confirmed"; block: BlockRef};

/** Where a transaction sits in its block: the proof txid → block merkle root. */
export type TxInclusion = {
  block: BlockRef;
  /** The 80-byte header; the branch ends at its merkle root. */
  header: Uint8Array;
  txIndex: number;
  /** Sibling txids from the transaction up (Bitcoin's merkle tree). */
  branch: Uint8Array[];
  /** As the node counts them when this was read. */
  confirmations: number;
};

/** What a watch reports. `rescan`: found by a reconcile (a restart, a recheck), not as a block arrived. */
export type TxEvent =
  | {kind: "mined"; txid: Uint8Array; block: BlockRef; rescan: boolean}
  /** Its block left the chain before K confirmations: waiting again. */
  | {kind: "unmined"; txid: Uint8Array; block: BlockRef; rescan: boolean}
  /** K deep (reported once per block it is K deep in). */
  | {kind: "confirmed"; txid: Uint8Array; inclusion: TxInclusion}
  /** Its block left the chain after K confirmations (a deep reorg): waiting again. */
  | {kind: "reorged"; txid: Uint8Array; block: BlockRef; tip: BlockRef; rescan: boolean};

/** Told of each event of one watch, one at a time. */
export type TxEventHandler = (e: TxEvent) => void | Promise<void>;

/** One followed transaction. */
export interface TxWatch {
  readonly txid: Uint8Array;
  readonly state: "waiting" | "mined" | "confirmed";
  /** The block it is in, when mined or confirmed. */
  readonly block: BlockRef | null;
  /** Stop following it (idempotent). */
  cancel(): void;
}

/** Options (plain data). */
export type TxWatcherOptions = {
  /** K: confirmations after which a mined transaction is reported confirmed. */
  confirmations: number;
  /** Confirmed transactions deeper than this are not checked by a reconcile (Bitcoin's history, and the chain view's memory). */
  reorgWindow: number;
  /** Most blocks a reconcile searches for waiting transactions. */
  maxRescanBlocks: number;
};

/** Defaults, K aside. */
export const defaultTxWatcherOptions: Omit<TxWatcherOptions, "confirmations"> = {reorgWindow: 144, maxRescanBlocks: 1000};

/** Dependencies. */
export type TxWatcherModules = {backend: BitcoinBackend};

class Watched implements TxWatch {
  readonly txid: Uint8Array;
  readonly txidHex: string;
  state: TxWatch["state"];
  block: BlockRef | null;
  sinceHeight: number | null;
  cancelled = false;
  readonly onEvent: TxEventHandler;
  private readonly forget: (w: Watched) => void;

  constructor(txid: Uint8Array, start: TxWatchStart, onEvent: TxEventHandler, forget: (w: Watched) => void) {
    this.forget = forget;
    this.txid = txid;
    this.txidHex = toHex(txid);
    this.state = start.state;
    this.block = start.state === "waiting" ? null : start.block;
    this.sinceHeight = start.state === "confirmed" ? null : (start.sinceHeight ?? null);
    this.onEvent = onEvent;
  }

  cancel(): void {
    this.forget(this);
  }
}

/** Follows transactions through the chain (see the module comment). */
export class TxWatcher {
  private readonly opts: TxWatcherOptions;
  private readonly backend: BitcoinBackend;
  private readonly all = new Set<Watched>();
  private readonly waiting = new Set<Watched>();
  private readonly mined = new Set<Watched>();
  /** Mined and confirmed watches by block (hex), to find them when a block leaves. */
  private readonly byBlock = new Map<string, Set<Watched>>();
  /** Watches the next reconcile checks against the chain. */
  private readonly unchecked = new Set<Watched>();
  /** The tip as of the last reconcile or update: watches begin following from here. */
  private lastTip: BlockRef | null = null;
  /** The most chain work the node has shown us (a block of ours it no longer knows had no more than that). */
  private maxWork = 0n;

  constructor(opts: TxWatcherOptions, modules: TxWatcherModules) {
    this.opts = opts;
    this.backend = modules.backend;
  }

  /** How many transactions are followed. */
  get size(): number {
    return this.all.size;
  }

  /**
   * Follow `txid`, starting from what the caller believes (`start`, default:
   * in no block yet). What it believes is checked against the chain at the
   * next reconcile, except for a waiting transaction that can only be in
   * blocks still to come.
   */
  watch(txid: Uint8Array, onEvent: TxEventHandler, start: TxWatchStart = {state: "waiting"}): TxWatch {
    const w = new Watched(txid, start, onEvent, (x) => this.remove(x));
    this.all.add(w);
    if (w.state === "waiting") this.waiting.add(w);
    else this.place(w);
    if (w.state === "mined") this.mined.add(w);
    const followsFromHere = w.state === "waiting" && (w.sinceHeight === null || (this.lastTip !== null && w.sinceHeight >= this.lastTip.height));
    if (!followsFromHere) this.unchecked.add(w);
    return w;
  }

  /** Check every watch against the chain again at the next reconcile (e.g. the node said a transaction taken for unconfirmed is in the chain). */
  recheck(): void {
    for (const w of this.all) this.unchecked.add(w);
  }

  private remove(w: Watched): void {
    w.cancelled = true;
    this.all.delete(w);
    this.waiting.delete(w);
    this.mined.delete(w);
    this.unchecked.delete(w);
    this.unplace(w);
  }

  /**
   * Check the unchecked watches against the active chain: a confirmed or
   * mined one whose block left it is reported (`reorged`, `unmined`), then
   * blocks are searched for the waiting ones (up to `maxRescanBlocks` back).
   * Resumable: what a failure interrupts is checked on the next call.
   */
  async reconcile(tip: BlockRef, signal: AbortSignal): Promise<void> {
    const todo = [...this.unchecked];
    // Deep reorgs first, then reorgs before K, then the search: an unmined
    // transaction may be in a block of the new branch.
    for (const w of todo.filter((x) => x.state === "confirmed" && !x.cancelled)) {
      const block = w.block as BlockRef;
      const where = block.height > tip.height - this.opts.reorgWindow ? await this.blockState(block, signal) : "active";
      if (where === "gone") {
        this.toWaiting(w, Math.max(0, block.height - this.opts.reorgWindow));
        this.unchecked.delete(w);
        await this.emit(w, {kind: "reorged", txid: w.txid, block, tip, rescan: true});
      } else if (where === "active") this.unchecked.delete(w);
    }
    for (const w of todo.filter((x) => x.state === "mined" && !x.cancelled)) {
      const block = w.block as BlockRef;
      const where = await this.blockState(block, signal);
      if (where === "gone") {
        this.toWaiting(w, w.sinceHeight ?? Math.max(0, block.height - this.opts.reorgWindow));
        this.unchecked.delete(w);
        await this.emit(w, {kind: "unmined", txid: w.txid, block, rescan: true});
      } else if (where === "active") this.unchecked.delete(w);
    }
    const search = todo.filter((x) => x.state === "waiting" && !x.cancelled);
    if (search.length > 0) {
      const lowest = Math.min(...search.map((x) => x.sinceHeight ?? tip.height));
      const from = Math.max(lowest + 1, tip.height - this.opts.maxRescanBlocks + 1);
      for (let h = from; h <= tip.height && search.some((x) => x.state === "waiting" && !x.cancelled); h++) {
        await this.scan({hash: await this.backend.getBlockHash(h, signal), height: h}, search, true, signal);
      }
      for (const w of search) this.unchecked.delete(w);
    }
    this.lastTip = tip;
  }

  /** Apply a chain update: a block that left takes its transactions back to waiting; new blocks are searched. */
  async follow(update: ChainUpdate, signal: AbortSignal): Promise<void> {
    for (const d of update.disconnected) {
      const watches = [...(this.byBlock.get(toHex(d.hash)) ?? [])];
      if (watches.length === 0) continue;
      if ((await this.blockState(d, signal)) !== "gone") {
        // A lower tip is not a reorg: keep them where they are and look again at each reconcile.
        for (const w of watches) this.unchecked.add(w);
        continue;
      }
      for (const w of watches) {
        const was = w.state;
        this.toWaiting(w, Math.max(0, d.height - 1));
        if (was === "mined") await this.emit(w, {kind: "unmined", txid: w.txid, block: d, rescan: false});
        else await this.emit(w, {kind: "reorged", txid: w.txid, block: d, tip: update.tip, rescan: false});
      }
    }
    for (const b of update.connected) await this.scan(b, [...this.waiting], false, signal);
    this.lastTip = update.tip;
  }

  /**
   * Report every mined transaction at least K deep (as our tip counts and as
   * the node confirms) with its block inclusion proof; it is confirmed once
   * its handler resolved.
   */
  async confirm(tip: BlockRef, signal: AbortSignal): Promise<void> {
    for (const w of [...this.mined]) {
      const at = w.block as BlockRef;
      if (w.cancelled || tip.height - at.height + 1 < this.opts.confirmations) continue;
      let block: Awaited<ReturnType<BitcoinBackend["getBlock"]>>;
      try {
        block = await this.backend.getBlock(at.hash, signal);
      } catch (e) {
        // A node back from an older state may not know the block yet; reconcile decides whether it is gone.
        if (e instanceof BitcoinError && e.code === BitcoinErrorCode.NOT_FOUND) continue;
        throw e;
      }
      // Our view is ahead of the node's answer, or the block just left the chain: the next update says which.
      if (block.confirmations < this.opts.confirmations) continue;
      const index = block.txids.findIndex((t) => bytesEqual(t, w.txid));
      if (index < 0) throw new AnchorError({code: AnchorErrorCode.TX_NOT_IN_BLOCK, txid: w.txid, blockHash: at.hash}, `block ${toDisplayHex(at.hash)} does not hold transaction ${toDisplayHex(w.txid)}`);
      const {root, branch} = bitcoinMerkleBranch(block.txids, index);
      if (!bytesEqual(root, decodeBlockHeader(block.header).merkleRoot)) {
        throw new AnchorError({code: AnchorErrorCode.BLOCK_MERKLE_MISMATCH, blockHash: at.hash}, `block ${toDisplayHex(at.hash)}: its txids do not give its header's merkle root`);
      }
      await this.emit(w, {kind: "confirmed", txid: w.txid, inclusion: {block: at, header: block.header, txIndex: index, branch, confirmations: block.confirmations}});
      if (!w.cancelled && w.state === "mined" && w.block === at) {
        w.state = "confirmed";
        this.mined.delete(w);
      }
    }
  }

  /** The three steps at once, for owners with nothing to save in between. */
  async sync(tip: BlockRef, update: ChainUpdate | null, signal: AbortSignal): Promise<void> {
    await this.reconcile(tip, signal);
    if (update !== null) await this.follow(update, signal);
    await this.confirm(tip, signal);
  }

  private async scan(b: BlockRef, candidates: readonly Watched[], rescan: boolean, signal: AbortSignal): Promise<void> {
    if (!candidates.some((w) => w.state === "waiting" && !w.cancelled)) return;
    const block = await this.backend.getBlock(b.hash, signal);
    const txids = new Set(block.txids.map((t) => toHex(t)));
    for (const w of candidates) {
      if (w.cancelled || w.state !== "waiting" || !txids.has(w.txidHex)) continue;
      this.waiting.delete(w);
      w.state = "mined";
      w.block = b;
      this.mined.add(w);
      this.place(w);
      await this.emit(w, {kind: "mined", txid: w.txid, block: b, rescan});
    }
  }

  private toWaiting(w: Watched, sinceHeight: number): void {
    this.unplace(w);
    this.mined.delete(w);
    w.state = "waiting";
    w.block = null;
    w.sinceHeight = w.sinceHeight ?? sinceHeight;
    this.waiting.add(w);
  }

  private place(w: Watched): void {
    const key = toHex((w.block as BlockRef).hash);
    let set = this.byBlock.get(key);
    if (set === undefined) this.byBlock.set(key, (set = new Set()));
    set.add(w);
  }

  private unplace(w: Watched): void {
    if (w.block === null) return;
    const key = toHex(w.block.hash);
    const set = this.byBlock.get(key);
    set?.delete(w);
    if (set?.size === 0) this.byBlock.delete(key);
  }

  private async emit(w: Watched, e: TxEvent): Promise<void> {
    if (!w.cancelled) await w.onEvent(e);
  }

  /**
   * Where block `b` stands: on the node's active chain, gone (the node has a
   * chain with at least as much work that does not hold it), or unsure (the
   * node is syncing or reports less work: ask again later).
   */
  private async blockState(b: BlockRef, signal: AbortSignal): Promise<"active" | "gone" | "unsure"> {
    let header: BlockHeaderInfo | null = null;
    try {
      header = await this.backend.getBlockHeader(b.hash, signal);
    } catch (e) {
      if (!(e instanceof BitcoinError && e.code === BitcoinErrorCode.NOT_FOUND)) throw e;
    }
    if (header !== null && header.confirmations >= 1) {
      if (header.chainWork > this.maxWork) this.maxWork = header.chainWork;
      return "active";
    }
    const info = await this.backend.getChainInfo(signal);
    if (isSyncing(info)) return "unsure";
    if (header !== null) return info.chainWork >= header.chainWork ? "gone" : "unsure";
    // The node does not know the block: gone once its chain is as high and has as much work as any we saw.
    const gone = info.height >= b.height && info.chainWork >= this.maxWork;
    if (info.chainWork > this.maxWork) this.maxWork = info.chainWork;
    return gone ? "gone" : "unsure";
  }
}
