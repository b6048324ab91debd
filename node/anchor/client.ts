/**
 * The contract between the anchoring engine and whoever asks it to anchor
 * (the calendar's stamper; a federation leader; …). The engine knows what a
 * version anchors only as its 32-byte root and the client's description of
 * it (opaque to the engine, kept durably, handed back on confirmation); the
 * client decides what goes into each version and what a confirmation means.
 */
import type {AnchorCycle, AnchorVersion} from "./state-file.ts";

/** What the next version commits to. */
export type AnchorContent<D> = {
  /** The 32 bytes the transaction's OP_RETURN carries. */
  root: Uint8Array;
  /** What `root` commits to, in the client's terms; stored with the version. */
  description: D;
};

/**
 * A version K deep: where it is, and the path root → txid → block that a
 * proof through it carries (the transaction without witness, then the block
 * merkle branch), checked against the block header before it is reported.
 */
export type AnchorConfirmation<D> = {
  cycle: number;
  /** Which version of the cycle confirmed (0: the first) and how many it had. */
  version: number;
  versions: number;
  txid: Uint8Array;
  root: Uint8Array;
  description: D;
  /** The transaction without witness (its hash is the txid). */
  tx: Uint8Array;
  blockHash: Uint8Array;
  height: number;
  /** The 80-byte header whose merkle root the path reaches. */
  header: Uint8Array;
  txIndex: number;
  /** Sibling txids from the transaction up to the merkle root. */
  branch: Uint8Array[];
  /** As the node counted them when the confirmation was read (at least K). */
  confirmations: number;
  feeSats: bigint;
  feeRate: number;
  vsize: number;
};

/** A version saved and sent (`broadcast`), or saved with its sending's outcome unknown (kept all the same). */
export type AnchorKept<D> = {cycle: AnchorCycle<D>; version: AnchorVersion<D>; index: number; first: boolean; broadcast: boolean};

/** Why the engine cannot anchor right now; the client words it for its operators. */
export type AnchorProblem =
  /** The Bitcoin node is down, warming up or timing out. */
  | {kind: "bitcoin-node"; error: unknown}
  /** No spendable coin: nothing at all, or only unconfirmed sats waiting to confirm. */
  | {kind: "funds"; reason: "empty"; address: string}
  | {kind: "funds"; reason: "unconfirmed"; unconfirmedSats: bigint; address: string}
  /** The coin cannot pay the fee and leave non-dust change (an AnchorError INSUFFICIENT_FUNDS). */
  | {kind: "funds"; reason: "insufficient"; error: Error; address: string}
  /** The newest version waits at the fee limit: no valid replacement under the caps. */
  | {kind: "fee-cap"; txid: Uint8Array; feeRate: number; feeSats: bigint}
  /** Anything else a tick threw (logged at error). */
  | {kind: "internal"; error: unknown};

/** The kinds of {@link AnchorProblem}. */
export type AnchorProblemKind = AnchorProblem["kind"];

/**
 * Points in a cycle where a crash is most interesting; tests kill the
 * process at each and check that a restart loses nothing.
 */
export type AnchorPhase = "version-built" | "version-saved" | "version-broadcast" | "mined-saved" | "cycle-closed";

/**
 * What the engine asks of its client, from its one loop (never two calls at
 * once). Only `hasWork`, `next` and `confirmed` are required.
 */
export interface AnchorClient<D> {
  /** Cheap: is there anything to anchor that none of `inFlight` may still confirm? Asked before a coin is picked for a new cycle. */
  hasWork(inFlight: readonly AnchorCycle<D>[]): boolean;
  /**
   * The content of the next version: a new cycle's first (`replacing` null),
   * or the replacement of `replacing`'s newest version. `others` are the
   * other cycles in flight, whose content may still confirm. Null: nothing
   * to anchor.
   */
  next(replacing: AnchorCycle<D> | null, others: readonly AnchorCycle<D>[]): Promise<AnchorContent<D> | null>;
  /**
   * A version is K deep. Record it durably, then resolve: the engine forgets
   * the cycle only afterwards, so a crash in between brings the same
   * confirmation again after the restart (be idempotent). A throw leaves
   * the cycle as it is; the confirmation comes again on the next tick.
   */
  confirmed(confirmation: AnchorConfirmation<D>): Promise<void>;
  /** A version was saved and sent (or may have been). */
  kept?(e: AnchorKept<D>): void;
  /** A cycle was given up (its coin was spent by something else): its content is in flight no more. */
  dropped?(cycle: AnchorCycle<D>): void;
  /** A problem began (or its details changed). */
  problem?(p: AnchorProblem): void;
  /** A problem of this kind is over (told also when there was none). */
  resolved?(kind: AnchorProblemKind): void;
  /** A tick ended. */
  ticked?(): void;
}
