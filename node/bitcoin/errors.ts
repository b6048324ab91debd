/**
 * Typed errors of the Bitcoin backends (STYLE.md §4).
 *
 * Both backends raise the same codes: the Core backend maps bitcoind's
 * JSON-RPC errors through `rpc-errors.ts`, and the simulated chain raises
 * Core's own codes and messages which go through the same mapping.
 */
import {CalendarError} from "../../protocol/errors.ts";

/** Bounded error codes (the only error values allowed as metric labels). */
export const BitcoinErrorCode = {
  /** The endpoint cannot be reached (connection refused/reset, DNS, HTTP 5xx without JSON). */
  UNAVAILABLE: "BITCOIN_UNAVAILABLE",
  /** bitcoind answers but is still starting (RPC error -28). */
  WARMING_UP: "BITCOIN_WARMING_UP",
  /** The call exceeded its time limit. */
  TIMEOUT: "BITCOIN_TIMEOUT",
  /** The caller's AbortSignal fired. */
  ABORTED: "BITCOIN_ABORTED",
  /** HTTP 401/403: wrong user, password or cookie. */
  AUTH_FAILED: "BITCOIN_AUTH_FAILED",
  /** The RPC URL or credentials settings cannot work (not http, no user:password and no cookie file). */
  BAD_CONFIG: "BITCOIN_BAD_CONFIG",
  /** The reply is not the JSON we expect. */
  BAD_RESPONSE: "BITCOIN_BAD_RESPONSE",
  /** Any other RPC error (see `rpcCode`). */
  RPC_ERROR: "BITCOIN_RPC_ERROR",
  /** Block, transaction or mempool entry not found (-5). */
  NOT_FOUND: "BITCOIN_NOT_FOUND",
  /** `getblockhash` past the tip (-8 "Block height out of range"). */
  HEIGHT_OUT_OF_RANGE: "BITCOIN_HEIGHT_OUT_OF_RANGE",
  /** The wallet is not loaded or does not exist (-18). */
  WALLET_NOT_FOUND: "BITCOIN_WALLET_NOT_FOUND",
  /** Other wallet errors (-4, -19, -35). */
  WALLET_ERROR: "BITCOIN_WALLET_ERROR",
  /**
   * The `--bitcoin-wallet` wallet cannot watch our descriptor: it has private
   * keys enabled (importdescriptors -4 "Cannot import descriptor without
   * private keys to a wallet with private keys enabled"). `reason` is the wallet's name.
   */
  WALLET_UNUSABLE: "BITCOIN_WALLET_UNUSABLE",
  /** The transaction does not parse (-22). */
  TX_DECODE_FAILED: "BITCOIN_TX_DECODE_FAILED",
  /** Replacement refused: fee or feerate not above the replaced transactions' ("insufficient fee"). */
  INSUFFICIENT_FEE: "BITCOIN_INSUFFICIENT_FEE",
  /** Below the minimum relay feerate ("min relay fee not met", "mempool min fee not met"). */
  MIN_RELAY_FEE_NOT_MET: "BITCOIN_MIN_RELAY_FEE_NOT_MET",
  /** Spends an output already spent in the mempool, without replacement ("txn-mempool-conflict"). */
  CONFLICT: "BITCOIN_CONFLICT",
  /** Already in the mempool ("txn-already-in-mempool", "txn-same-nonwitness-data-in-mempool"). */
  ALREADY_IN_MEMPOOL: "BITCOIN_ALREADY_IN_MEMPOOL",
  /** Already confirmed (-27, "txn-already-known"). */
  ALREADY_IN_CHAIN: "BITCOIN_ALREADY_IN_CHAIN",
  /** Refused by standardness policy; `reason` is Core's (dust, scriptpubkey, multi-op-return, tx-size, datacarrier…). */
  NON_STANDARD: "BITCOIN_NON_STANDARD",
  /** Inputs missing or already spent in the chain (-25 "bad-txns-inputs-missingorspent"). */
  MISSING_INPUTS: "BITCOIN_MISSING_INPUTS",
  /** Script or signature verification failed ("mandatory-script-verify-flag-failed …"). */
  SCRIPT_VERIFY_FAILED: "BITCOIN_SCRIPT_VERIFY_FAILED",
  /** Consensus-invalid or non-final ("bad-txns-…", "non-final", premature coinbase spend). */
  INVALID_TX: "BITCOIN_INVALID_TX",
  /** The feerate exceeds the `maxfeerate` safety limit of `sendrawtransaction`. */
  MAX_FEE_EXCEEDED: "BITCOIN_MAX_FEE_EXCEEDED",
  /** Refused by the mempool for another reason (see `reason`). */
  TX_REJECTED: "BITCOIN_TX_REJECTED",
} as const;

/** One of {@link BitcoinErrorCode}'s values. */
export type BitcoinErrorCodeValue = (typeof BitcoinErrorCode)[keyof typeof BitcoinErrorCode];

/**
 * Error metadata. `rpcCode` is bitcoind's numeric code when the error came from
 * JSON-RPC; `reason` is Core's reject reason token (e.g. "dust") when there is one.
 */
export type BitcoinErrorType = {code: BitcoinErrorCodeValue; rpcCode: number | null; reason: string | null};

/** The one error class of the Bitcoin backends. */
export class BitcoinError extends CalendarError<BitcoinErrorType> {
  /** Shorthand constructor. */
  static of(code: BitcoinErrorCodeValue, message: string, meta: {rpcCode?: number; reason?: string} = {}): BitcoinError {
    return new BitcoinError({code, rpcCode: meta.rpcCode ?? null, reason: meta.reason ?? null}, message);
  }
}

/** Core's importdescriptors error for a public descriptor in a wallet with private keys (v28 wallet/rpc/backup.cpp). */
export const PRIVATE_KEYS_ENABLED_MESSAGE = "Cannot import descriptor without private keys to a wallet with private keys enabled";

/**
 * The error of a failed `importdescriptors` request (both backends raise the
 * same): WALLET_UNUSABLE when the wallet has private keys, which no retry
 * fixes, WALLET_ERROR otherwise.
 */
export function importFailure(wallet: string, desc: string, error: {code?: number; message?: string}): BitcoinError {
  const message = error.message ?? "unknown error";
  const meta = error.code === undefined ? {} : {rpcCode: error.code};
  if (message.includes(PRIVATE_KEYS_ENABLED_MESSAGE)) {
    return BitcoinError.of(BitcoinErrorCode.WALLET_UNUSABLE, `wallet '${wallet}' has private keys enabled and cannot watch the stamping descriptor: ${message}`, {...meta, reason: wallet});
  }
  return BitcoinError.of(BitcoinErrorCode.WALLET_ERROR, `importdescriptors failed for ${desc}: ${message}`, meta);
}

/** True for errors after which retrying later can succeed (node down, warming up, timeout). */
export function isTransientBitcoinError(e: unknown): boolean {
  return (
    e instanceof BitcoinError &&
    (e.code === BitcoinErrorCode.UNAVAILABLE || e.code === BitcoinErrorCode.WARMING_UP || e.code === BitcoinErrorCode.TIMEOUT)
  );
}
