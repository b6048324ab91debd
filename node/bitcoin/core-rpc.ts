/**
 * `CoreRpcBackend`: the {@link BitcoinBackend} over Bitcoin Core's JSON-RPC
 * (v28 or newer), what operators run in production.
 *
 * Read calls that need two answers (a header's JSON and its raw bytes) go in
 * one JSON-RPC batch. Replies are checked, not trusted: raw headers must hash
 * to the requested block, a block's txids must give the header's merkle
 * root, a raw transaction must hash to the requested txid.
 *
 * Funding (see README.md): the node's own key is watched by a watch-only
 * descriptor wallet in Core (`--bitcoin-wallet`, default "otsfed"), created
 * and loaded on demand; Core only finds coins, the node signs itself.
 */
import {hexToBytes, bytesToHex} from "@noble/hashes/utils.js";
import {Transaction} from "bitcoinjs-lib";
import {bytesEqual, displayHexToHash, hashToDisplayHex} from "../../protocol/bitcoin/hash.ts";
import {blockHeaderHash, decodeBlockHeader} from "../../protocol/bitcoin/header.ts";
import {bitcoinMerkleRoot} from "../../protocol/bitcoin/merkle.ts";
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
} from "./backend.ts";
import {BitcoinError, BitcoinErrorCode, importFailure} from "./errors.ts";
import {JsonRpcClient} from "./json-rpc-client.ts";
import {nullLogger, type Logger} from "../logger.ts";
import {bitcoinErrorFromRejectReason} from "./rpc-errors.ts";
import {btcNumberToSats} from "./money.ts";
import type {BitcoinOptions} from "./options.ts";

/** Options of {@link CoreRpcBackend} (plain data; `--bitcoin-rpc`, `--bitcoin-cookie`, `--bitcoin-wallet`). */
export type CoreRpcBackendOptions = {
  /** `http://user:pass@host:port`, or `http://host:port` with `cookieFile`. */
  url: string;
  /** bitcoind's `.cookie` file (used when the URL carries no password). */
  cookieFile: string | null;
  /** Watch-only descriptor wallet holding the stamping descriptor. */
  wallet: string;
  /** Time limit of every call, ms. */
  timeoutMs: number;
};

/** Defaults (the URL must be given). */
export const defaultCoreRpcBackendOptions: Omit<CoreRpcBackendOptions, "url"> = {cookieFile: null, wallet: "otsfed", timeoutMs: 30_000};

/** Dependencies. */
export type CoreRpcBackendModules = {logger?: Logger};

type Json = Record<string, unknown>;

/** Core's `chainwork`: 64 hex digits. */
function work(v: unknown, what: string): bigint {
  if (typeof v !== "string" || !/^[0-9a-f]{1,64}$/i.test(v)) throw bad(what);
  return BigInt(`0x${v}`);
}

function bad(what: string): BitcoinError {
  return BitcoinError.of(BitcoinErrorCode.BAD_RESPONSE, `bitcoind: unexpected ${what}`);
}

function obj(v: unknown, what: string): Json {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw bad(what);
  return v as Json;
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string") throw bad(what);
  return v;
}

function num(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw bad(what);
  return v;
}

function hash(v: unknown, what: string): Uint8Array {
  try {
    return displayHexToHash(str(v, what));
  } catch {
    throw bad(what);
  }
}

function hex(v: unknown, what: string): Uint8Array {
  const s = str(v, what);
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw bad(what);
  return hexToBytes(s);
}

/** Bitcoin Core JSON-RPC backend (see the module comment). */
export class CoreRpcBackend implements BitcoinBackend {
  readonly kind = "core-rpc" as const;
  private readonly client: JsonRpcClient;
  private readonly wallet: string;
  private readonly logger: Logger;

  constructor(opts: Pick<CoreRpcBackendOptions, "url"> & Partial<CoreRpcBackendOptions>, modules: CoreRpcBackendModules = {}) {
    const o = {...defaultCoreRpcBackendOptions, ...opts};
    this.client = new JsonRpcClient({url: o.url, cookieFile: o.cookieFile, timeoutMs: o.timeoutMs});
    this.wallet = o.wallet;
    this.logger = modules.logger ?? nullLogger;
  }

  /** `host:port` for logs and the status page. */
  get endpoint(): string {
    return this.client.endpoint;
  }

  /** Releases idle sockets. Idempotent; later calls open new ones. */
  close(): void {
    this.client.close();
  }

  async getChainInfo(signal: AbortSignal): Promise<ChainInfo> {
    const r = obj(await this.client.call("getblockchaininfo", [], signal), "getblockchaininfo reply");
    return {
      chain: str(r.chain, "chain"),
      height: num(r.blocks, "blocks"),
      bestBlockHash: hash(r.bestblockhash, "bestblockhash"),
      medianTime: num(r.mediantime, "mediantime"),
      initialBlockDownload: r.initialblockdownload === true,
      headers: num(r.headers, "headers"),
      chainWork: work(r.chainwork, "chainwork"),
    };
  }

  async getBlockHash(height: number, signal: AbortSignal): Promise<Uint8Array> {
    return hash(await this.client.call("getblockhash", [height], signal), "getblockhash reply");
  }

  // Header JSON (height, confirmations) and raw bytes in one round trip.
  private async headerPair(blockHash: Uint8Array, signal: AbortSignal, withBlock: boolean): Promise<{info: BlockHeaderInfo; block: Json | null}> {
    const id = hashToDisplayHex(blockHash);
    const calls = [
      {method: "getblockheader", params: [id, false]},
      withBlock ? {method: "getblock", params: [id, 1]} : {method: "getblockheader", params: [id, true]},
    ];
    const [raw, verbose] = await this.client.batch(calls, signal);
    if (raw === undefined || verbose === undefined) throw bad("batch reply");
    if (!raw.ok) throw raw.error;
    if (!verbose.ok) throw verbose.error;
    const header = hex(raw.result, "raw header");
    if (header.length !== 80 || !bytesEqual(blockHeaderHash(header), blockHash)) throw bad("header: it does not hash to the requested block");
    const v = obj(verbose.result, "block header");
    const info = {hash: blockHash, height: num(v.height, "height"), header, time: decodeBlockHeader(header).time, confirmations: num(v.confirmations, "confirmations"), chainWork: work(v.chainwork, "chainwork")};
    return {info, block: withBlock ? v : null};
  }

  async getBlockHeader(blockHash: Uint8Array, signal: AbortSignal): Promise<BlockHeaderInfo> {
    return (await this.headerPair(blockHash, signal, false)).info;
  }

  async getBlock(blockHash: Uint8Array, signal: AbortSignal): Promise<BlockInfo> {
    const {info, block} = await this.headerPair(blockHash, signal, true);
    const tx = (block as Json).tx;
    if (!Array.isArray(tx)) throw bad("block tx list");
    const txids = tx.map((t) => hash(t, "txid"));
    const root = bitcoinMerkleRoot(txids);
    if (root === null || !bytesEqual(root, decodeBlockHeader(info.header).merkleRoot)) throw bad("block: txids do not match the header's merkle root");
    return {...info, txids};
  }

  async getRawTransaction(txid: Uint8Array, signal: AbortSignal, blockHash?: Uint8Array): Promise<RawTransaction> {
    const params: unknown[] = [hashToDisplayHex(txid), true];
    if (blockHash !== undefined) params.push(hashToDisplayHex(blockHash));
    const r = obj(await this.client.call("getrawtransaction", params, signal), "getrawtransaction reply");
    const tx = hex(r.hex, "transaction hex");
    let parsed: Transaction;
    try {
      parsed = Transaction.fromBuffer(tx);
    } catch {
      throw bad("transaction encoding");
    }
    if (!bytesEqual(parsed.getHash(), txid)) throw bad("transaction: it does not hash to the requested txid");
    const inBlock = typeof r.blockhash === "string" && (typeof r.confirmations === "number" || r.in_active_chain === true);
    return {txid, tx, blockHash: inBlock ? hash(r.blockhash, "blockhash") : null, confirmations: typeof r.confirmations === "number" ? r.confirmations : 0};
  }

  async getTxOut(txid: Uint8Array, vout: number, signal: AbortSignal, includeMempool = true): Promise<TxOut | null> {
    const r = await this.client.call("gettxout", [hashToDisplayHex(txid), vout, includeMempool], signal);
    if (r === null) return null;
    const o = obj(r, "gettxout reply");
    const spk = obj(o.scriptPubKey, "scriptPubKey");
    return {valueSats: btcNumberToSats(num(o.value, "value")), scriptPubKey: hex(spk.hex, "script"), confirmations: num(o.confirmations, "confirmations"), coinbase: o.coinbase === true};
  }

  async sendRawTransaction(tx: Uint8Array, signal: AbortSignal, opts: BroadcastOptions = {}): Promise<Uint8Array> {
    const params: unknown[] = [bytesToHex(tx)];
    // sat/vB → BTC/kvB (Core's unit for maxfeerate).
    if (opts.maxFeeRate !== undefined) params.push(Number((opts.maxFeeRate * 1e-5).toFixed(8)));
    return hash(await this.client.call("sendrawtransaction", params, signal), "txid");
  }

  async testMempoolAccept(tx: Uint8Array, signal: AbortSignal): Promise<MempoolAcceptResult> {
    const r = await this.client.call("testmempoolaccept", [[bytesToHex(tx)]], signal);
    if (!Array.isArray(r) || r.length !== 1) throw bad("testmempoolaccept reply");
    const v = obj(r[0], "testmempoolaccept entry");
    const txid = hash(v.txid, "txid");
    const wtxid = hash(v.wtxid, "wtxid");
    if (v.allowed === true) {
      const fees = obj(v.fees, "fees");
      return {allowed: true, txid, wtxid, vsize: num(v.vsize, "vsize"), feeSats: btcNumberToSats(num(fees.base, "fee"))};
    }
    const reason = str(v["reject-reason"], "reject-reason");
    const details = typeof v["reject-details"] === "string" ? v["reject-details"] : undefined;
    return {allowed: false, txid, wtxid, rejectReason: reason, error: bitcoinErrorFromRejectReason(reason, details)};
  }

  async getMempoolEntry(txid: Uint8Array, signal: AbortSignal): Promise<MempoolEntry | null> {
    let r: Json;
    try {
      r = obj(await this.client.call("getmempoolentry", [hashToDisplayHex(txid)], signal), "getmempoolentry reply");
    } catch (e) {
      if (e instanceof BitcoinError && e.code === BitcoinErrorCode.NOT_FOUND) return null;
      throw e;
    }
    const fees = obj(r.fees, "fees");
    const depends = Array.isArray(r.depends) ? r.depends.map((d) => hash(d, "depends")) : [];
    return {
      txid,
      wtxid: hash(r.wtxid, "wtxid"),
      vsize: num(r.vsize, "vsize"),
      weight: num(r.weight, "weight"),
      feeSats: btcNumberToSats(num(fees.base, "fee")),
      time: num(r.time, "time"),
      height: num(r.height, "height"),
      depends,
    };
  }

  async estimateFeeRate(confTarget: number, signal: AbortSignal): Promise<FeeEstimate | null> {
    const r = obj(await this.client.call("estimatesmartfee", [confTarget], signal), "estimatesmartfee reply");
    if (typeof r.feerate !== "number") return null;
    // BTC/kvB → sat/vB.
    return {feeRate: r.feerate * 1e5, blocks: num(r.blocks, "blocks")};
  }

  async importWatchDescriptors(descriptors: readonly string[], signal: AbortSignal, opts: ImportOptions = {rescanSince: "now"}): Promise<void> {
    const loaded = await this.client.call("listwallets", [], signal);
    if (!Array.isArray(loaded)) throw bad("listwallets reply");
    if (!loaded.includes(this.wallet)) {
      try {
        await this.client.call("loadwallet", [this.wallet], signal);
        this.logger.info("bitcoin: loaded watch-only wallet", {wallet: this.wallet});
      } catch (e) {
        if (!(e instanceof BitcoinError && e.code === BitcoinErrorCode.WALLET_NOT_FOUND)) throw e;
        // disable_private_keys, blank, no passphrase, no avoid_reuse, descriptors, load_on_startup.
        await this.client.call("createwallet", [this.wallet, true, true, "", false, true, true], signal);
        this.logger.info("bitcoin: created watch-only wallet", {wallet: this.wallet});
      }
    }
    const listed = obj(await this.client.call("listdescriptors", [], signal, this.wallet), "listdescriptors reply");
    const have = new Set<string>((Array.isArray(listed.descriptors) ? listed.descriptors : []).map((d) => str(obj(d, "descriptor").desc, "desc")));
    const missing = descriptors.filter((d) => !have.has(d));
    if (missing.length === 0) return;
    const results = await this.client.call("importdescriptors", [missing.map((desc) => ({desc, timestamp: opts.rescanSince}))], signal, this.wallet);
    if (!Array.isArray(results)) throw bad("importdescriptors reply");
    results.forEach((r, i) => {
      const o = obj(r, "import result");
      if (o.success !== true) {
        const err = o.error === undefined ? {} : obj(o.error, "import error");
        throw importFailure(this.wallet, missing[i] as string, {
          ...(typeof err.code === "number" ? {code: err.code} : {}),
          ...(typeof err.message === "string" ? {message: err.message} : {}),
        });
      }
    });
    this.logger.info("bitcoin: imported watch-only descriptors", {wallet: this.wallet, count: missing.length});
  }

  async listUnspent(signal: AbortSignal, opts: {minConf?: number} = {}): Promise<Utxo[]> {
    // include_unsafe = true: we report `safe` and let the caller decide.
    const r = await this.client.call("listunspent", [opts.minConf ?? 0, 9_999_999, [], true], signal, this.wallet);
    if (!Array.isArray(r)) throw bad("listunspent reply");
    return r.map((u) => {
      const o = obj(u, "utxo");
      return {
        txid: hash(o.txid, "txid"),
        vout: num(o.vout, "vout"),
        valueSats: btcNumberToSats(num(o.amount, "amount")),
        scriptPubKey: hex(o.scriptPubKey, "scriptPubKey"),
        confirmations: num(o.confirmations, "confirmations"),
        safe: o.safe === true,
      };
    });
  }
}

/**
 * The production backend the node's options name: Bitcoin Core's JSON-RPC
 * at `--bitcoin-rpc` (with `--bitcoin-cookie`, `--bitcoin-wallet`), or null
 * when none is configured. The caller owns it and closes it.
 */
export function coreRpcBackendFromOptions(o: BitcoinOptions, logger?: Logger): CoreRpcBackend | null {
  if (o.rpcUrl === null) return null;
  return new CoreRpcBackend({url: o.rpcUrl, cookieFile: o.cookieFile, wallet: o.wallet}, logger ? {logger} : {});
}
