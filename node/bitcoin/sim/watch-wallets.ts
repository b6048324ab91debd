/**
 * Bitcoin Core's descriptor wallets, as far as our funding design uses them
 * (see node/bitcoin/README.md): watch-only wallets that import a calendar's
 * `wpkh(<pubkey>)#checksum` descriptor and list its unspent outputs. Wallets
 * hold no keys; the calendar signs with its own key.
 *
 * Semantics copied from Core: `createwallet` fails when the wallet exists,
 * `loadwallet` fails when it does not (-18) or is loaded (-35); calls to an
 * unknown `/wallet/<name>` fail with -18; a descriptor imported with
 * timestamp "now" sees only later transactions, a numeric timestamp rescans
 * blocks from 2 hours before it (Core's TIMESTAMP_WINDOW); `listunspent`
 * includes mempool outputs (0 confirmations) and leaves out outputs spent in
 * the mempool; an unconfirmed output is "safe" only when its transaction
 * spends nothing but the wallet's own coins. A wallet created with private
 * keys enabled holds none here, but refuses public descriptors as Core does
 * (-4 "Cannot import descriptor without private keys to a wallet with
 * private keys enabled"), so the node's handling of that mistake is tested.
 */
import {hexToBytes} from "@noble/hashes/utils.js";
import {bytesEqual, hashToDisplayHex} from "../../../protocol/bitcoin/hash.ts";
import {checkDescriptorChecksum} from "../../../protocol/bitcoin/descriptor-checksum.ts";
import {BitcoinCodecError} from "../../../protocol/bitcoin/errors.ts";
import {addressToScript} from "../address.ts";
import {PRIVATE_KEYS_ENABLED_MESSAGE} from "../errors.ts";
import {RpcCode} from "../rpc-errors.ts";
import {p2trScript, p2wpkhScript} from "../signing.ts";
import type {SimulatedChain} from "./chain.ts";
import {SimulatedRpcFailure} from "./rejection.ts";

/** Core's rescan window before an import timestamp, seconds. */
const TIMESTAMP_WINDOW = 2 * 60 * 60;

type ImportedDescriptor = {desc: string; script: Uint8Array; timestamp: number; sinceHeight: number; rescan: boolean};
/** `privateKeys`: created without disable_private_keys (a misconfiguration our node must report; it holds no keys here). */
type WalletState = {name: string; descriptors: ImportedDescriptor[]; privateKeys: boolean};

/** One `importdescriptors` request. */
export type ImportRequest = {desc: string; timestamp: number | "now"};

/** One `importdescriptors` result, as Core returns it. */
export type ImportResult = {success: true} | {success: false; error: {code: number; message: string}};

/** One `listunspent` row (amounts in satoshis; the RPC layer formats BTC). */
export type WalletUtxo = {txid: string; vout: number; value: bigint; script: Uint8Array; confirmations: number; safe: boolean; desc: string};

/** Parses the single-key descriptors the simulated chain understands into an output script. */
export function descriptorScript(descWithChecksum: string): Uint8Array {
  let desc: string;
  try {
    desc = checkDescriptorChecksum(descWithChecksum);
  } catch (e) {
    throw new SimulatedRpcFailure(RpcCode.INVALID_ADDRESS_OR_KEY, e instanceof BitcoinCodecError ? e.message : "Invalid descriptor");
  }
  const m = /^(wpkh|tr|addr|raw)\((.*)\)$/.exec(desc);
  if (m === null) throw new SimulatedRpcFailure(RpcCode.INVALID_ADDRESS_OR_KEY, "simulated chain supports only wpkh(KEY), tr(KEY), addr(ADDRESS) and raw(HEX) descriptors");
  const [, kind, arg] = m as unknown as [string, string, string];
  // Key origin info ("[fingerprint/path]") does not change the script.
  const key = arg.replace(/^\[[0-9a-fA-F]{8}(\/[0-9]+['h]?)*\]/, "");
  try {
    if (kind === "addr") return addressToScript(arg, "regtest");
    if (kind === "raw") return hexToBytes(arg);
    if (/^[0-9a-fA-F]{66}$/.test(key)) return kind === "wpkh" ? p2wpkhScript(hexToBytes(key)) : p2trScript(hexToBytes(key));
    if (kind === "tr" && /^[0-9a-fA-F]{64}$/.test(key)) return p2trScript(hexToBytes(key));
  } catch {
    throw new SimulatedRpcFailure(RpcCode.INVALID_ADDRESS_OR_KEY, `key '${key}' is not valid`);
  }
  if (/^[cK5L9][1-9A-HJ-NP-Za-km-z]{50,51}$/.test(key)) {
    throw new SimulatedRpcFailure(RpcCode.WALLET_ERROR, "Cannot import private keys to a wallet with private keys disabled");
  }
  throw new SimulatedRpcFailure(RpcCode.INVALID_ADDRESS_OR_KEY, "simulated chain supports only single hex public keys in descriptors");
}

/** The watch-only descriptor wallets of a simulated chain. */
export class SimulatedWatchWallets {
  private readonly chain: SimulatedChain;
  private readonly now: () => number;
  private readonly onDisk = new Map<string, WalletState>();
  private readonly loaded = new Set<string>();

  /** `now` gives Unix seconds (the chain's clock). */
  constructor(chain: SimulatedChain, now: () => number) {
    this.chain = chain;
    this.now = now;
  }

  /**
   * `createwallet` (blank, descriptors): watch-only unless `privateKeys`,
   * which only serves to present the wallet Core would refuse our imports into.
   */
  create(name: string, opts: {privateKeys?: boolean} = {}): void {
    if (this.onDisk.has(name)) {
      throw new SimulatedRpcFailure(RpcCode.WALLET_ERROR, `Wallet file verification failed. Failed to create database path '${name}'. Database already exists.`);
    }
    this.onDisk.set(name, {name, descriptors: [], privateKeys: opts.privateKeys ?? false});
    this.loaded.add(name);
  }

  /** `loadwallet`. */
  load(name: string): void {
    if (!this.onDisk.has(name)) {
      throw new SimulatedRpcFailure(RpcCode.WALLET_NOT_FOUND, `Wallet file verification failed. Failed to load database path '${name}'. Path does not exist.`);
    }
    if (this.loaded.has(name)) throw new SimulatedRpcFailure(RpcCode.WALLET_ALREADY_LOADED, `Wallet "${name}" is already loaded.`);
    this.loaded.add(name);
  }

  /** `unloadwallet`. */
  unload(name: string): void {
    if (!this.loaded.delete(name)) throw new SimulatedRpcFailure(RpcCode.WALLET_NOT_FOUND, "Requested wallet does not exist or is not loaded");
  }

  /** `listwallets`: loaded wallet names. */
  list(): string[] {
    return [...this.loaded];
  }

  /** Resolves the wallet of a request: `/wallet/<name>`, or the only loaded wallet. */
  resolve(name: string | null): string {
    if (name !== null) {
      if (!this.loaded.has(name)) throw new SimulatedRpcFailure(RpcCode.WALLET_NOT_FOUND, "Requested wallet does not exist or is not loaded");
      return name;
    }
    if (this.loaded.size === 1) return [...this.loaded][0] as string;
    if (this.loaded.size === 0) {
      throw new SimulatedRpcFailure(
        RpcCode.WALLET_NOT_FOUND,
        "No wallet is loaded. Load a wallet using loadwallet or create a new one with createwallet. (Note: A default wallet is no longer automatically created)",
      );
    }
    throw new SimulatedRpcFailure(RpcCode.WALLET_NOT_SPECIFIED, "Wallet file not specified (must request wallet RPC through /wallet/<filename> uri-path).");
  }

  private state(name: string | null): WalletState {
    return this.onDisk.get(this.resolve(name)) as WalletState;
  }

  /** `importdescriptors`: per-request results; re-importing a descriptor updates it. */
  importDescriptors(name: string | null, requests: readonly ImportRequest[]): ImportResult[] {
    const w = this.state(name);
    return requests.map((r) => {
      try {
        const script = descriptorScript(r.desc);
        // Core refuses public-only descriptors in a wallet with private keys (RPC_WALLET_ERROR).
        if (w.privateKeys) throw new SimulatedRpcFailure(RpcCode.WALLET_ERROR, PRIVATE_KEYS_ENABLED_MESSAGE);
        const rescan = r.timestamp !== "now";
        const timestamp = r.timestamp === "now" ? this.now() : r.timestamp;
        const entry: ImportedDescriptor = {desc: r.desc, script, timestamp, sinceHeight: this.chain.height(), rescan};
        const i = w.descriptors.findIndex((d) => d.desc === r.desc);
        if (i >= 0) w.descriptors[i] = entry;
        else w.descriptors.push(entry);
        return {success: true};
      } catch (e) {
        if (e instanceof SimulatedRpcFailure) return {success: false, error: {code: e.rpcCode, message: e.message}};
        throw e;
      }
    });
  }

  /** `listdescriptors`: the imported descriptors with their timestamps. */
  listDescriptors(name: string | null): Array<{desc: string; timestamp: number}> {
    return this.state(name).descriptors.map((d) => ({desc: d.desc, timestamp: d.timestamp}));
  }

  private owner(w: WalletState, script: Uint8Array): ImportedDescriptor | null {
    return w.descriptors.find((d) => bytesEqual(d.script, script)) ?? null;
  }

  /** `listunspent minconf maxconf`, unsafe outputs included (the caller filters on `safe`). */
  listUnspent(name: string | null, minConf = 1, maxConf = 9_999_999): WalletUtxo[] {
    const w = this.state(name);
    const out: WalletUtxo[] = [];
    const tip = this.chain.height();
    for (const {txid, vout, coin} of this.chain.coinsWhere((s) => this.owner(w, s) !== null)) {
      const d = this.owner(w, coin.script) as ImportedDescriptor;
      const seen = coin.height > d.sinceHeight || (d.rescan && coin.blockTime >= d.timestamp - TIMESTAMP_WINDOW);
      if (!seen || this.chain.mempoolSpender(txid, vout) !== null) continue;
      const confirmations = tip - coin.height + 1;
      if (confirmations < minConf || confirmations > maxConf) continue;
      out.push({txid, vout, value: coin.value, script: coin.script, confirmations, safe: true, desc: d.desc});
    }
    if (minConf <= 0) {
      for (const txid of this.chain.mempoolTxids()) {
        const entry = this.chain.mempoolEntry(txid);
        if (entry === null) continue;
        const fromMe = entry.tx.ins.every((input) => {
          const prevTxid = hashToDisplayHex(input.hash);
          const prev = this.chain.coin(prevTxid, input.index)?.script ?? this.chain.mempoolEntry(prevTxid)?.tx.outs[input.index]?.script ?? null;
          return prev !== null && this.owner(w, prev) !== null;
        });
        entry.tx.outs.forEach((o, vout) => {
          const d = this.owner(w, o.script);
          if (d === null || this.chain.mempoolSpender(txid, vout) !== null) return;
          out.push({txid, vout, value: o.value, script: o.script, confirmations: 0, safe: fromMe, desc: d.desc});
        });
      }
    }
    return out;
  }
}
