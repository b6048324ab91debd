/**
 * `SimulatedBackend`: the {@link BitcoinBackend} interface served in-process
 * by a {@link SimulatedChain}. Refusals carry Bitcoin Core's RPC codes and
 * messages and go through the same `rpc-errors.ts` mapping as the Core
 * backend, so both raise identical typed errors.
 *
 * Calls run synchronously on the chain; each still checks its AbortSignal
 * first, so an aborted caller gets BITCOIN_ABORTED as with the Core backend.
 */
import {hashToDisplayHex} from "../../../protocol/bitcoin/hash.ts";
import type {
  BitcoinBackend,
  BlockHeaderInfo,
  BlockInfo,
  BroadcastOptions,
  ChainInfo,
  FeeEstimate,
  ImportOptions,
  MempoolAcceptResult,
  MempoolEntry,
  RawTransaction,
  TxOut,
  Utxo,
} from "../backend.ts";
import {BitcoinError, BitcoinErrorCode, importFailure} from "../errors.ts";
import {displayHexToHash} from "../../../protocol/bitcoin/hash.ts";
import {simulatedChainWork} from "./chain.ts";
import type {SimulatedBlock, SimulatedChain} from "./chain.ts";
import {sendRawTransaction, testMempoolAccept, DEFAULT_MAX_FEE_RATE_SAT_VB} from "./broadcast.ts";
import {SimulatedRpcFailure} from "./rejection.ts";
import {RpcCode} from "../rpc-errors.ts";
import type {SimulatedWatchWallets} from "./watch-wallets.ts";

/** Options of {@link SimulatedBackend}. */
export type SimulatedBackendOptions = {
  /** Watch-only wallet used by `importWatchDescriptors`/`listUnspent` (as `--bitcoin-wallet`). */
  wallet: string;
};

/** Dependencies. */
export type SimulatedBackendModules = {chain: SimulatedChain; wallets: SimulatedWatchWallets};

/** In-process backend over the simulated chain. */
export class SimulatedBackend implements BitcoinBackend {
  readonly kind = "simulated" as const;
  private readonly chain: SimulatedChain;
  private readonly wallets: SimulatedWatchWallets;
  private readonly wallet: string;

  constructor(opts: SimulatedBackendOptions, modules: SimulatedBackendModules) {
    this.chain = modules.chain;
    this.wallets = modules.wallets;
    this.wallet = opts.wallet;
  }

  // Runs one call: abort check, then Core-coded failures become typed errors.
  private run<T>(signal: AbortSignal, fn: () => T): Promise<T> {
    if (signal.aborted) return Promise.reject(BitcoinError.of(BitcoinErrorCode.ABORTED, "simulated backend call aborted"));
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e instanceof SimulatedRpcFailure ? e.toBitcoinError() : e);
    }
  }

  private blockOrThrow(hash: Uint8Array): SimulatedBlock {
    const b = this.chain.reportedBlock(hashToDisplayHex(hash));
    if (b === null) throw new SimulatedRpcFailure(RpcCode.INVALID_ADDRESS_OR_KEY, "Block not found");
    return b;
  }

  private headerInfo(b: SimulatedBlock): BlockHeaderInfo {
    return {hash: b.hash, height: b.height, header: b.header, time: b.time, confirmations: this.chain.reportedConfirmations(b), chainWork: simulatedChainWork(b.height)};
  }

  getChainInfo(signal: AbortSignal): Promise<ChainInfo> {
    return this.run(signal, () => {
      const tip = this.chain.reportedTip();
      const {headers, initialBlockDownload} = this.chain.reportedSync();
      return {chain: "regtest", height: tip.height, bestBlockHash: tip.hash, medianTime: this.chain.medianTimePast(tip), initialBlockDownload, headers, chainWork: simulatedChainWork(tip.height)};
    });
  }

  getBlockHash(height: number, signal: AbortSignal): Promise<Uint8Array> {
    return this.run(signal, () => {
      const b = this.chain.reportedBlockAt(height);
      if (b === null) throw new SimulatedRpcFailure(RpcCode.INVALID_PARAMETER, "Block height out of range");
      return b.hash;
    });
  }

  getBlockHeader(hash: Uint8Array, signal: AbortSignal): Promise<BlockHeaderInfo> {
    return this.run(signal, () => this.headerInfo(this.blockOrThrow(hash)));
  }

  getBlock(hash: Uint8Array, signal: AbortSignal): Promise<BlockInfo> {
    return this.run(signal, () => {
      const b = this.blockOrThrow(hash);
      return {...this.headerInfo(b), txids: b.txs.map((t) => t.getHash())};
    });
  }

  getRawTransaction(txid: Uint8Array, signal: AbortSignal, blockHash?: Uint8Array): Promise<RawTransaction> {
    return this.run(signal, () => {
      const id = hashToDisplayHex(txid);
      if (blockHash !== undefined) this.blockOrThrow(blockHash);
      const found = this.chain.findTransaction(id, blockHash === undefined ? undefined : hashToDisplayHex(blockHash));
      if (found === null) throw new SimulatedRpcFailure(RpcCode.INVALID_ADDRESS_OR_KEY, "No such mempool or blockchain transaction. Use gettransaction for wallet transactions.");
      const confirmations = found.block === null ? 0 : Math.max(0, this.chain.confirmations(found.block));
      return {txid: found.tx.getHash(), tx: found.tx.toBuffer(), blockHash: found.block?.hash ?? null, confirmations};
    });
  }

  getTxOut(txid: Uint8Array, vout: number, signal: AbortSignal, includeMempool = true): Promise<TxOut | null> {
    return this.run(signal, () => {
      const id = hashToDisplayHex(txid);
      if (includeMempool && this.chain.mempoolSpender(id, vout) !== null) return null;
      const coin = this.chain.coin(id, vout);
      if (coin !== null) return {valueSats: coin.value, scriptPubKey: coin.script, confirmations: this.chain.height() - coin.height + 1, coinbase: coin.coinbase};
      const out = includeMempool ? this.chain.mempoolEntry(id)?.tx.outs[vout] : undefined;
      return out === undefined ? null : {valueSats: out.value, scriptPubKey: out.script, confirmations: 0, coinbase: false};
    });
  }

  sendRawTransaction(tx: Uint8Array, signal: AbortSignal, opts: BroadcastOptions = {}): Promise<Uint8Array> {
    return this.run(signal, () => displayHexToHash(sendRawTransaction(this.chain, tx, opts.maxFeeRate ?? DEFAULT_MAX_FEE_RATE_SAT_VB, 0n)));
  }

  testMempoolAccept(tx: Uint8Array, signal: AbortSignal): Promise<MempoolAcceptResult> {
    return this.run(signal, () => testMempoolAccept(this.chain, tx, DEFAULT_MAX_FEE_RATE_SAT_VB));
  }

  getMempoolEntry(txid: Uint8Array, signal: AbortSignal): Promise<MempoolEntry | null> {
    return this.run(signal, () => {
      const e = this.chain.mempoolEntry(hashToDisplayHex(txid));
      if (e === null) return null;
      return {txid: e.tx.getHash(), wtxid: e.tx.getHash(true), vsize: e.vsize, weight: e.weight, feeSats: e.fee, time: e.time, height: e.height, depends: [...e.parents].map(displayHexToHash)};
    });
  }

  estimateFeeRate(confTarget: number, signal: AbortSignal): Promise<FeeEstimate | null> {
    return this.run(signal, () => {
      if (!Number.isInteger(confTarget) || confTarget < 1 || confTarget > 1008) throw new SimulatedRpcFailure(RpcCode.INVALID_PARAMETER, "Invalid conf_target, must be between 1 and 1008");
      const rate = this.chain.estimateFee();
      return rate === null ? null : {feeRate: rate, blocks: Math.max(2, confTarget)};
    });
  }

  importWatchDescriptors(descriptors: readonly string[], signal: AbortSignal, opts: ImportOptions = {rescanSince: "now"}): Promise<void> {
    return this.run(signal, () => {
      if (!this.wallets.list().includes(this.wallet)) {
        try {
          this.wallets.load(this.wallet);
        } catch (e) {
          if (!(e instanceof SimulatedRpcFailure) || e.rpcCode !== RpcCode.WALLET_NOT_FOUND) throw e;
          this.wallets.create(this.wallet);
        }
      }
      const have = new Set(this.wallets.listDescriptors(this.wallet).map((d) => d.desc));
      const missing = descriptors.filter((d) => !have.has(d));
      const results = this.wallets.importDescriptors(this.wallet, missing.map((desc) => ({desc, timestamp: opts.rescanSince})));
      results.forEach((r, i) => {
        // Same error as CoreRpcBackend raises for a failed import.
        if (!r.success) throw importFailure(this.wallet, missing[i] as string, r.error);
      });
    });
  }

  listUnspent(signal: AbortSignal, opts: {minConf?: number} = {}): Promise<Utxo[]> {
    return this.run(signal, () =>
      this.wallets.listUnspent(this.wallet, opts.minConf ?? 0).map((u) => ({
        txid: displayHexToHash(u.txid),
        vout: u.vout,
        valueSats: u.value,
        scriptPubKey: u.script,
        confirmations: u.confirmations,
        safe: u.safe,
      })),
    );
  }
}
