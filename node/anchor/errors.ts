/**
 * Typed errors of the anchoring engine (STYLE §4): one class, a bounded
 * `ANCHOR_*` code per failure, and per-code metadata. The codes are the only
 * error values allowed as metric labels.
 */
import {CalendarError} from "../../protocol/errors.ts";
import {BitcoinError} from "../bitcoin/errors.ts";

/** Bounded error codes. */
export const AnchorErrorCode = {
  /** The coin cannot pay the fee and leave non-dust change. */
  INSUFFICIENT_FUNDS: "ANCHOR_INSUFFICIENT_FUNDS",
  /** An anchor commits to exactly 32 bytes. */
  BAD_ROOT: "ANCHOR_BAD_ROOT",
  /** The transaction without witness is over the 4096 bytes a proof may hold. */
  TX_TOO_LARGE: "ANCHOR_TX_TOO_LARGE",
  /** A transaction we built or saved does not parse. */
  UNPARSEABLE_TX: "ANCHOR_UNPARSEABLE_TX",
  /** The block the chain says holds the transaction does not list it. */
  TX_NOT_IN_BLOCK: "ANCHOR_TX_NOT_IN_BLOCK",
  /** The block's txids do not hash to its header's merkle root. */
  BLOCK_MERKLE_MISMATCH: "ANCHOR_BLOCK_MERKLE_MISMATCH",
  /** The path root → txid → block does not end at the header's merkle root. */
  PATH_MISMATCH: "ANCHOR_PATH_MISMATCH",
  /** The durable state file is damaged. */
  BAD_STATE: "ANCHOR_BAD_STATE",
} as const;

/** One of {@link AnchorErrorCode}'s values. */
export type AnchorErrorCodeValue = (typeof AnchorErrorCode)[keyof typeof AnchorErrorCode];

/** Error metadata, discriminated by code. */
export type AnchorErrorType =
  | {code: typeof AnchorErrorCode.INSUFFICIENT_FUNDS; needSats: bigint; haveSats: bigint}
  | {code: typeof AnchorErrorCode.BAD_ROOT; length: number}
  | {code: typeof AnchorErrorCode.TX_TOO_LARGE; bytes: number}
  | {code: typeof AnchorErrorCode.UNPARSEABLE_TX; txid: Uint8Array | null}
  | {code: typeof AnchorErrorCode.TX_NOT_IN_BLOCK; txid: Uint8Array; blockHash: Uint8Array}
  | {code: typeof AnchorErrorCode.BLOCK_MERKLE_MISMATCH; blockHash: Uint8Array}
  | {code: typeof AnchorErrorCode.PATH_MISMATCH; txid: Uint8Array; blockHash: Uint8Array}
  | {code: typeof AnchorErrorCode.BAD_STATE; path: string | null};

/** The one error class of `node/anchor/`. */
export class AnchorError extends CalendarError<AnchorErrorType> {}

/** An error as logs and problem messages show it: `CODE: message` for the Bitcoin backends' errors, else its message. */
export function describeError(e: unknown): string {
  return e instanceof BitcoinError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
}
