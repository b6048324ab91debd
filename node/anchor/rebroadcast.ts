/**
 * Keeps each unconfirmed cycle's transaction in the node's mempool. Nodes
 * forget transactions (restarts, expiry, eviction), so once per block (and at
 * once after a start, which may have cut a broadcast short) each cycle is
 * looked up; when none of its versions is in the mempool the newest is sent
 * again. A coin the node says is gone for two blocks in a row has been spent
 * by something that is not ours: the cycle is to be given up.
 */
import {toDisplayHex} from "../../protocol/ots/bytes.ts";
import type {BitcoinBackend} from "../bitcoin/backend.ts";
import type {BlockRef} from "../bitcoin/chain-view.ts";
import {BitcoinError, BitcoinErrorCode} from "../bitcoin/errors.ts";
import type {Logger} from "../logger.ts";
import {describeError} from "./errors.ts";
import type {AnchorCycle, AnchorVersion} from "./state-file.ts";

/** What a check found: nothing to do, mined where nobody looked, or the coin spent elsewhere. */
export type MempoolCheck = "ok" | "in-chain" | "gone";

/** The mempool check of every unconfirmed cycle (see the module comment). */
export class Rebroadcaster {
  private readonly backend: BitcoinBackend;
  private readonly logger: Logger;
  /** Tip height at which each cycle's presence in the mempool was last checked. */
  private readonly checkedAt = new Map<number, number>();
  /** Cycles the node said it cannot relay (inputs gone), with the tip height when first seen. */
  private readonly missingSince = new Map<number, number>();

  constructor(modules: {backend: BitcoinBackend; logger: Logger}) {
    this.backend = modules.backend;
    this.logger = modules.logger;
  }

  /** Check cycle `c` (unmined) once per block: rebroadcast its newest version if the node has none. */
  async check<D>(c: AnchorCycle<D>, tip: BlockRef, signal: AbortSignal): Promise<MempoolCheck> {
    if (this.checkedAt.get(c.id) === tip.height) return "ok";
    this.checkedAt.set(c.id, tip.height);
    let inPool = false;
    for (let i = c.versions.length - 1; i >= 0 && !inPool; i--) inPool = (await this.backend.getMempoolEntry((c.versions[i] as AnchorVersion<D>).txid, signal)) !== null;
    if (inPool) {
      this.missingSince.delete(c.id);
      return "ok";
    }
    const v = c.versions[c.versions.length - 1] as AnchorVersion<D>;
    try {
      await this.backend.sendRawTransaction(v.tx, signal);
      this.missingSince.delete(c.id);
      this.logger.info("anchor: rebroadcast a transaction the node had forgotten", {txid: toDisplayHex(v.txid)});
    } catch (e) {
      if (e instanceof BitcoinError && e.code === BitcoinErrorCode.ALREADY_IN_CHAIN) return "in-chain";
      if (e instanceof BitcoinError && e.code === BitcoinErrorCode.MISSING_INPUTS) {
        const since = this.missingSince.get(c.id);
        if (since === undefined) this.missingSince.set(c.id, tip.height);
        else if (tip.height > since) return "gone";
      } else {
        this.logger.warn("anchor: rebroadcast refused", {txid: toDisplayHex(v.txid), error: describeError(e)});
      }
    }
    return "ok";
  }

  /** The cycle's coin is known to be spent by it (mined): no give-up pending. */
  minedNow(cycleId: number): void {
    this.missingSince.delete(cycleId);
  }

  /** The cycle is over: forget it. */
  forget(cycleId: number): void {
    this.checkedAt.delete(cycleId);
    this.missingSince.delete(cycleId);
  }
}
