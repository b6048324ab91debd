/**
 * The Bitcoin backend interface (DESIGN.md §4): what calendars need from a
 * Bitcoin node and nothing more. Two implementations: `CoreRpcBackend`
 * (Bitcoin Core JSON-RPC, production) and `SimulatedBackend` (the in-process
 * simulated regtest chain, for the devnet and tests).
 *
 * Conventions:
 * - hashes and txids are `Uint8Array` in internal byte order (the order inside
 *   serialized data, the reverse of the hex bitcoind prints);
 * - amounts are satoshis as `bigint`; feerates are sat/vB as `number`;
 * - every call takes an AbortSignal and is also bounded by the backend's own
 *   timeout (`timeoutMs` option); failures are {@link BitcoinError}s.
 *
 * New blocks and reorgs are reported by `PollingChainView` (chain-view.ts),
 * which works over any backend.
 */
import type {BitcoinError} from "./errors.ts";

/** Which implementation a backend is; shown in logs and on the status page. */
export type BitcoinBackendKind = "core-rpc" | "simulated";

/** State of the active chain. */
export type ChainInfo = {
  /** "main", "test", "testnet4", "signet" or "regtest" (as `getblockchaininfo` says). */
  chain: string;
  height: number;
  bestBlockHash: Uint8Array;
  /** Median time past of the tip, seconds. */
  medianTime: number;
  initialBlockDownload: boolean;
  /** Height of the best header the node knows (`headers`); above `height` while it is still syncing blocks. */
  headers: number;
  /** Total work of the active chain (`chainwork`). */
  chainWork: bigint;
};

/** True while the node is still catching up (IBD, or headers ahead of blocks): its tip is not yet its chain's. */
export function isSyncing(info: ChainInfo): boolean {
  return info.initialBlockDownload || info.headers > info.height;
}

/** A block header with its place in the chain. */
export type BlockHeaderInfo = {
  hash: Uint8Array;
  height: number;
  /** The 80 raw header bytes. */
  header: Uint8Array;
  /** Header time, Unix seconds. */
  time: number;
  /** Confirmations on the active chain; -1 when the block is not on it (stale, invalid, or a header the node has not connected yet). */
  confirmations: number;
  /** Total work of the chain up to and including this block (`chainwork`). */
  chainWork: bigint;
};

/** A block header plus the txids of its transactions in block order. */
export type BlockInfo = BlockHeaderInfo & {txids: Uint8Array[]};

/** A transaction as the node stores it (with witness). */
export type RawTransaction = {
  txid: Uint8Array;
  /** Serialized transaction including witness data. */
  tx: Uint8Array;
  /** The block that contains it, or null while unconfirmed. */
  blockHash: Uint8Array | null;
  confirmations: number;
};

/** Outcome of `testmempoolaccept` for one transaction. */
export type MempoolAcceptResult =
  | {allowed: true; txid: Uint8Array; wtxid: Uint8Array; vsize: number; feeSats: bigint}
  | {allowed: false; txid: Uint8Array; wtxid: Uint8Array; rejectReason: string; error: BitcoinError};

/** A mempool entry. */
export type MempoolEntry = {
  txid: Uint8Array;
  wtxid: Uint8Array;
  vsize: number;
  weight: number;
  feeSats: bigint;
  /** Time it entered the mempool, Unix seconds. */
  time: number;
  /** Chain height when it entered. */
  height: number;
  /** Unconfirmed parents (txids). */
  depends: Uint8Array[];
};

/** An unspent output looked up by outpoint (`gettxout`). */
export type TxOut = {valueSats: bigint; scriptPubKey: Uint8Array; confirmations: number; coinbase: boolean};

/** `estimatesmartfee` result. */
export type FeeEstimate = {feeRate: number; blocks: number};

/** An unspent output of the node's stamping descriptor. */
export type Utxo = {
  txid: Uint8Array;
  vout: number;
  valueSats: bigint;
  scriptPubKey: Uint8Array;
  /** 0 while in the mempool. */
  confirmations: number;
  /** Core's `safe`: confirmed, or an unconfirmed output of our own transaction. */
  safe: boolean;
};

/** Options of `sendRawTransaction`. */
export type BroadcastOptions = {
  /** Refuse feerates above this many sat/vB (Core's `maxfeerate`, default 10 000 sat/vB = 0.1 BTC/kvB); 0 disables. */
  maxFeeRate?: number;
};

/** Options of `importWatchDescriptors`. */
export type ImportOptions = {
  /** Rescan blocks from this Unix time (seconds), or "now" for a fresh key (no rescan). */
  rescanSince: number | "now";
};

/** A small, typed view of a Bitcoin node. */
export interface BitcoinBackend {
  readonly kind: BitcoinBackendKind;

  /** Chain name, tip height and hash, IBD flag (`getblockchaininfo`). */
  getChainInfo(signal: AbortSignal): Promise<ChainInfo>;
  /** Hash of the active-chain block at `height`; HEIGHT_OUT_OF_RANGE past the tip. */
  getBlockHash(height: number, signal: AbortSignal): Promise<Uint8Array>;
  /** Header of any known block (also stale ones); NOT_FOUND otherwise. */
  getBlockHeader(hash: Uint8Array, signal: AbortSignal): Promise<BlockHeaderInfo>;
  /** Header and txids of a block; NOT_FOUND for unknown blocks. */
  getBlock(hash: Uint8Array, signal: AbortSignal): Promise<BlockInfo>;
  /**
   * A transaction from the mempool, or from `blockHash` when given (Core
   * without -txindex finds confirmed transactions only that way); NOT_FOUND otherwise.
   */
  getRawTransaction(txid: Uint8Array, signal: AbortSignal, blockHash?: Uint8Array): Promise<RawTransaction>;
  /**
   * An unspent output by outpoint (`gettxout`), or null when spent or unknown;
   * with `includeMempool` (default) mempool outputs count and mempool spends hide outputs.
   * Donation checks use it to see what a donated transaction spends.
   */
  getTxOut(txid: Uint8Array, vout: number, signal: AbortSignal, includeMempool?: boolean): Promise<TxOut | null>;
  /**
   * Broadcasts a transaction; resolves to its txid. Re-sending a transaction
   * already in the mempool succeeds (as in Core); refusals are typed errors.
   */
  sendRawTransaction(tx: Uint8Array, signal: AbortSignal, opts?: BroadcastOptions): Promise<Uint8Array>;
  /** Would the mempool take it? Refusals are returned, not thrown. */
  testMempoolAccept(tx: Uint8Array, signal: AbortSignal): Promise<MempoolAcceptResult>;
  /** The mempool entry, or null when the transaction is not in the mempool. */
  getMempoolEntry(txid: Uint8Array, signal: AbortSignal): Promise<MempoolEntry | null>;
  /** Feerate estimate for confirmation within `confTarget` blocks, or null when the node has no estimate yet. */
  estimateFeeRate(confTarget: number, signal: AbortSignal): Promise<FeeEstimate | null>;
  /**
   * Makes the node watch our stamping descriptors (`wpkh(<pubkey>)#checksum`):
   * creates/loads the watch-only wallet and imports what is missing. Idempotent.
   */
  importWatchDescriptors(descriptors: readonly string[], signal: AbortSignal, opts?: ImportOptions): Promise<void>;
  /** Unspent outputs of the watched descriptors, confirmed and in the mempool. */
  listUnspent(signal: AbortSignal, opts?: {minConf?: number}): Promise<Utxo[]>;
}
