/**
 * Maps Bitcoin Core's JSON-RPC errors to {@link BitcoinError} codes.
 *
 * Core reports a refused transaction as an RPC error whose message starts
 * with the reject reason (`state.ToString()`: "reason" or "reason, details"),
 * and `testmempoolaccept` reports the bare reason. Both go through
 * {@link bitcoinErrorFromRejectReason}, so callers branch on the typed code,
 * never on text. Codes from Core's `src/rpc/protocol.h`.
 */
import {BitcoinError, BitcoinErrorCode, type BitcoinErrorCodeValue} from "./errors.ts";

/** Bitcoin Core's RPC error codes that we meet (src/rpc/protocol.h). */
export const RpcCode = {
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  PARSE_ERROR: -32700,
  MISC_ERROR: -1,
  TYPE_ERROR: -3,
  WALLET_ERROR: -4,
  INVALID_ADDRESS_OR_KEY: -5,
  INVALID_PARAMETER: -8,
  CLIENT_NOT_CONNECTED: -9,
  CLIENT_IN_INITIAL_DOWNLOAD: -10,
  WALLET_NOT_FOUND: -18,
  WALLET_NOT_SPECIFIED: -19,
  DESERIALIZATION_ERROR: -22,
  VERIFY_ERROR: -25,
  VERIFY_REJECTED: -26,
  VERIFY_ALREADY_IN_CHAIN: -27,
  IN_WARMUP: -28,
  WALLET_ALREADY_LOADED: -35,
} as const;

// Reject reasons of IsStandardTx / PreChecks that mean "not standard" (policy, not consensus).
const NON_STANDARD_REASONS = new Set([
  "dust",
  "scriptpubkey",
  "multi-op-return",
  "datacarrier",
  "tx-size",
  "tx-size-small",
  "version",
  "scriptsig-size",
  "scriptsig-not-pushonly",
  "bare-multisig",
  "bad-txns-nonstandard-inputs",
  "bad-witness-nonstandard",
  "too-long-mempool-chain",
  "too-many-ephemeral-dust",
]);

const SCRIPT_VERIFY_PREFIXES = [
  "mandatory-script-verify-flag-failed",
  "non-mandatory-script-verify-flag",
  "mempool-script-verify-flag-failed",
  "block-script-verify-flag-failed",
];

/** The leading reason token of Core's "reason, details" / "reason (details)" message. */
export function rejectReasonToken(message: string): string {
  const m = /^[^,(]*/.exec(message);
  return (m?.[0] ?? message).trim();
}

function classifyReason(reason: string, message: string): BitcoinErrorCodeValue | null {
  if (reason === "insufficient fee") return BitcoinErrorCode.INSUFFICIENT_FEE;
  if (reason === "min relay fee not met" || reason === "mempool min fee not met") return BitcoinErrorCode.MIN_RELAY_FEE_NOT_MET;
  if (reason === "txn-mempool-conflict" || reason === "bad-txns-spends-conflicting-tx") return BitcoinErrorCode.CONFLICT;
  if (reason === "txn-already-in-mempool" || reason === "txn-same-nonwitness-data-in-mempool") return BitcoinErrorCode.ALREADY_IN_MEMPOOL;
  if (reason === "txn-already-known" || reason.startsWith("Transaction already in block chain") || reason.startsWith("Transaction outputs already in utxo set")) {
    return BitcoinErrorCode.ALREADY_IN_CHAIN;
  }
  if (reason === "bad-txns-inputs-missingorspent" || reason === "missing-inputs" || reason === "Missing inputs") return BitcoinErrorCode.MISSING_INPUTS;
  if (SCRIPT_VERIFY_PREFIXES.some((p) => reason.startsWith(p))) return BitcoinErrorCode.SCRIPT_VERIFY_FAILED;
  if (NON_STANDARD_REASONS.has(reason)) return BitcoinErrorCode.NON_STANDARD;
  if (reason === "max-fee-exceeded" || message.startsWith("Fee exceeds maximum configured by user")) return BitcoinErrorCode.MAX_FEE_EXCEEDED;
  if (reason.startsWith("bad-txns-") || reason === "non-final" || reason === "non-BIP68-final" || reason === "coinbase" || reason === "bad-txns-premature-spend-of-coinbase") {
    return BitcoinErrorCode.INVALID_TX;
  }
  return null;
}

/**
 * Typed error for a `testmempoolaccept` reject reason (and optional
 * `reject-details`, Core ≥ 28).
 */
export function bitcoinErrorFromRejectReason(reason: string, details?: string): BitcoinError {
  const message = details ?? reason;
  const code = classifyReason(reason, message) ?? BitcoinErrorCode.TX_REJECTED;
  return BitcoinError.of(code, message, {reason});
}

/** Typed error for a JSON-RPC `error` object from bitcoind (or the simulated chain). */
export function bitcoinErrorFromRpc(rpcCode: number, message: string): BitcoinError {
  const meta = {rpcCode};
  switch (rpcCode) {
    case RpcCode.IN_WARMUP:
      return BitcoinError.of(BitcoinErrorCode.WARMING_UP, message, meta);
    case RpcCode.CLIENT_IN_INITIAL_DOWNLOAD:
      return BitcoinError.of(BitcoinErrorCode.WARMING_UP, message, meta);
    case RpcCode.INVALID_PARAMETER:
      if (/height out of range/i.test(message)) return BitcoinError.of(BitcoinErrorCode.HEIGHT_OUT_OF_RANGE, message, meta);
      return BitcoinError.of(BitcoinErrorCode.RPC_ERROR, message, meta);
    case RpcCode.INVALID_ADDRESS_OR_KEY:
      if (/not found|no such|not in mempool/i.test(message)) return BitcoinError.of(BitcoinErrorCode.NOT_FOUND, message, meta);
      return BitcoinError.of(BitcoinErrorCode.RPC_ERROR, message, meta);
    case RpcCode.WALLET_NOT_FOUND:
      return BitcoinError.of(BitcoinErrorCode.WALLET_NOT_FOUND, message, meta);
    case RpcCode.WALLET_ERROR:
    case RpcCode.WALLET_NOT_SPECIFIED:
    case RpcCode.WALLET_ALREADY_LOADED:
      return BitcoinError.of(BitcoinErrorCode.WALLET_ERROR, message, meta);
    case RpcCode.DESERIALIZATION_ERROR:
      return BitcoinError.of(BitcoinErrorCode.TX_DECODE_FAILED, message, meta);
    case RpcCode.VERIFY_ALREADY_IN_CHAIN:
      return BitcoinError.of(BitcoinErrorCode.ALREADY_IN_CHAIN, message, {rpcCode, reason: "txn-already-known"});
    case RpcCode.VERIFY_ERROR:
    case RpcCode.VERIFY_REJECTED: {
      const reason = rejectReasonToken(message);
      const code = classifyReason(reason, message) ?? BitcoinErrorCode.TX_REJECTED;
      return BitcoinError.of(code, message, {rpcCode, reason});
    }
    default:
      return BitcoinError.of(BitcoinErrorCode.RPC_ERROR, message, meta);
  }
}
