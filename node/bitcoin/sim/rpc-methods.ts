/**
 * The JSON-RPC methods of the simulated chain, in bitcoind's dialect (result
 * shapes, error codes and messages as Bitcoin Core v28 returns them), for
 * every call `CoreRpcBackend` makes plus what the reference `ots verify
 * --bitcoin-node` uses and the regtest controls:
 *
 * chain: getblockchaininfo getblockcount getbestblockhash getblockhash
 *   getblockheader(verbose|raw) getblock(0|1) getrawtransaction gettxout
 * mempool: sendrawtransaction testmempoolaccept getmempoolentry getrawmempool
 *   estimatesmartfee
 * regtest: generatetoaddress invalidateblock reconsiderblock
 * wallets (watch-only descriptors): createwallet loadwallet unloadwallet
 *   listwallets importdescriptors listdescriptors listunspent
 *
 * Parameters may be positional or named, as in Core.
 */
import {bytesToHex, hexToBytes} from "@noble/hashes/utils.js";
import {script as bscript, type Transaction} from "bitcoinjs-lib";
import {hashToDisplayHex} from "../../../protocol/bitcoin/hash.ts";
import {scriptToAddress, addressToScript} from "../address.ts";
import {RpcCode} from "../rpc-errors.ts";
import type {Clock} from "../../clock.ts";
import {DEFAULT_MAX_FEE_RATE_SAT_VB, sendRawTransaction, testAccept} from "./broadcast.ts";
import {simulatedChainWork} from "./chain.ts";
import type {SimulatedBlock, SimulatedChain} from "./chain.ts";
import {btcNumberToSats, satsToBtcNumber} from "../money.ts";
import {classifyOutput} from "./policy.ts";
import {SimulatedRpcFailure} from "./rejection.ts";
import type {SimulatedWatchWallets} from "./watch-wallets.ts";

/** What the methods work on. */
export type SimulatedRpcContext = {chain: SimulatedChain; wallets: SimulatedWatchWallets; clock: Clock};

type Params = readonly unknown[] | Record<string, unknown>;

/** Method name → positional parameter names (for named-parameter requests and arity checks). */
const PARAM_NAMES: Record<string, readonly string[]> = {
  getblockchaininfo: [],
  getblockcount: [],
  getbestblockhash: [],
  getblockhash: ["height"],
  getblockheader: ["blockhash", "verbose"],
  getblock: ["blockhash", "verbosity"],
  getrawtransaction: ["txid", "verbose", "blockhash"],
  gettxout: ["txid", "n", "include_mempool"],
  sendrawtransaction: ["hexstring", "maxfeerate", "maxburnamount"],
  testmempoolaccept: ["rawtxs", "maxfeerate"],
  getmempoolentry: ["txid"],
  getrawmempool: ["verbose", "mempool_sequence"],
  estimatesmartfee: ["conf_target", "estimate_mode"],
  generatetoaddress: ["nblocks", "address", "maxtries"],
  invalidateblock: ["blockhash"],
  reconsiderblock: ["blockhash"],
  createwallet: ["wallet_name", "disable_private_keys", "blank", "passphrase", "avoid_reuse", "descriptors", "load_on_startup", "external_signer"],
  loadwallet: ["filename", "load_on_startup"],
  unloadwallet: ["wallet_name", "load_on_startup"],
  listwallets: [],
  importdescriptors: ["requests"],
  listdescriptors: ["private"],
  listunspent: ["minconf", "maxconf", "addresses", "include_unsafe", "query_options"],
};

const WALLET_METHODS = new Set(["importdescriptors", "listdescriptors", "listunspent"]);

function typeError(name: string, expected: string): SimulatedRpcFailure {
  return new SimulatedRpcFailure(RpcCode.TYPE_ERROR, `JSON value of type ${name} is not of expected type ${expected}`);
}

class Args {
  private readonly values: unknown[];
  constructor(method: string, params: Params) {
    const names = PARAM_NAMES[method] ?? [];
    if (Array.isArray(params)) {
      if (params.length > names.length) throw new SimulatedRpcFailure(RpcCode.MISC_ERROR, `${method}: too many parameters`);
      this.values = [...params];
    } else {
      for (const key of Object.keys(params)) if (!names.includes(key)) throw new SimulatedRpcFailure(RpcCode.MISC_ERROR, `Unknown named parameter ${key}`);
      this.values = names.map((n) => (params as Record<string, unknown>)[n]);
    }
  }
  has(i: number): boolean {
    return this.values[i] !== undefined && this.values[i] !== null;
  }
  raw(i: number): unknown {
    return this.values[i];
  }
  string(i: number, def?: string): string {
    const v = this.values[i];
    if (v === undefined || v === null) {
      if (def !== undefined) return def;
      throw new SimulatedRpcFailure(RpcCode.MISC_ERROR, `Missing required parameter ${i}`);
    }
    if (typeof v !== "string") throw typeError(typeof v === "number" ? "number" : typeof v, "string");
    return v;
  }
  number(i: number, def?: number): number {
    const v = this.values[i];
    if (v === undefined || v === null) {
      if (def !== undefined) return def;
      throw new SimulatedRpcFailure(RpcCode.MISC_ERROR, `Missing required parameter ${i}`);
    }
    if (typeof v !== "number" || !Number.isFinite(v)) throw typeError(typeof v, "number");
    return v;
  }
  bool(i: number, def: boolean): boolean {
    const v = this.values[i];
    if (v === undefined || v === null) return def;
    if (typeof v === "boolean") return v;
    // Core accepts 0/1 for the old "verbose" integer flags.
    if (typeof v === "number") return v !== 0;
    throw typeError(typeof v, "bool");
  }
}

function hash32(hex: string, what: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new SimulatedRpcFailure(RpcCode.INVALID_PARAMETER, `${what} must be of length 64 (not ${hex.length}, for '${hex}')`);
  return hex.toLowerCase();
}

function hexBytes(hex: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new SimulatedRpcFailure(RpcCode.DESERIALIZATION_ERROR, "TX decode failed. Make sure the tx has at least one input.");
  return hexToBytes(hex);
}

const REGTEST_DIFFICULTY = 4.656542373906925e-10;

function chainwork(height: number): string {
  return simulatedChainWork(height).toString(16).padStart(64, "0");
}

function blockHeaderJson(chain: SimulatedChain, b: SimulatedBlock): Record<string, unknown> {
  const next = chain.nextActive(b);
  const version = new DataView(b.header.buffer, b.header.byteOffset).getInt32(0, true);
  const out: Record<string, unknown> = {
    hash: b.id,
    confirmations: chain.reportedConfirmations(b),
    height: b.height,
    version,
    versionHex: (version >>> 0).toString(16).padStart(8, "0"),
    merkleroot: hashToDisplayHex(b.header.subarray(36, 68)),
    time: b.time,
    mediantime: chain.medianTimePast(b),
    nonce: new DataView(b.header.buffer, b.header.byteOffset).getUint32(76, true),
    bits: new DataView(b.header.buffer, b.header.byteOffset).getUint32(72, true).toString(16).padStart(8, "0"),
    difficulty: REGTEST_DIFFICULTY,
    chainwork: chainwork(b.height),
    nTx: b.txs.length,
  };
  if (b.parentId !== null) out.previousblockhash = b.parentId;
  if (next !== null) out.nextblockhash = next.id;
  return out;
}

function scriptPubKeyJson(script: Uint8Array): Record<string, unknown> {
  const type = classifyOutput(script);
  const names: Record<string, string> = {p2pkh: "pubkeyhash", p2sh: "scripthash", p2wpkh: "witness_v0_keyhash", p2wsh: "witness_v0_scripthash", p2tr: "witness_v1_taproot", anchor: "anchor", witness_unknown: "witness_unknown", nulldata: "nulldata", nonstandard: "nonstandard"};
  const out: Record<string, unknown> = {asm: safeAsm(script), desc: `raw(${bytesToHex(script)})`, hex: bytesToHex(script), type: names[type]};
  const address = scriptToAddress(script, "regtest");
  if (address !== null) out.address = address;
  return out;
}

function safeAsm(script: Uint8Array): string {
  try {
    return bscript.toASM(script);
  } catch {
    return "[error]";
  }
}

function txJson(tx: Transaction, chain: SimulatedChain, block: SimulatedBlock | null): Record<string, unknown> {
  const out: Record<string, unknown> = {
    txid: tx.getId(),
    hash: hashToDisplayHex(tx.getHash(true)),
    version: tx.version,
    size: tx.byteLength(),
    vsize: tx.virtualSize(),
    weight: tx.weight(),
    locktime: tx.locktime,
    vin: tx.ins.map((i) => {
      const witness = i.witness.length > 0 ? {txinwitness: i.witness.map(bytesToHex)} : {};
      if (tx.isCoinbase()) return {coinbase: bytesToHex(i.script), ...witness, sequence: i.sequence};
      return {txid: hashToDisplayHex(i.hash), vout: i.index, scriptSig: {asm: safeAsm(i.script), hex: bytesToHex(i.script)}, ...witness, sequence: i.sequence};
    }),
    vout: tx.outs.map((o, n) => ({value: satsToBtcNumber(o.value), n, scriptPubKey: scriptPubKeyJson(o.script)})),
    hex: bytesToHex(tx.toBuffer()),
  };
  if (block !== null) {
    out.blockhash = block.id;
    out.confirmations = Math.max(0, chain.confirmations(block));
    out.time = block.time;
    out.blocktime = block.time;
  }
  return out;
}

function blockOf(chain: SimulatedChain, hex: string): SimulatedBlock {
  const b = chain.reportedBlock(hash32(hex, "blockhash"));
  if (b === null) throw new SimulatedRpcFailure(RpcCode.INVALID_ADDRESS_OR_KEY, "Block not found");
  return b;
}

function feeRateParam(args: Args, i: number): number {
  // BTC/kvB → sat/vB.
  return args.has(i) ? args.number(i) * 1e5 : DEFAULT_MAX_FEE_RATE_SAT_VB;
}

/**
 * Runs one method. `wallet` is the `/wallet/<name>` of the request path (null
 * for "/"). Throws {@link SimulatedRpcFailure} with Core's code and message.
 */
export function callSimulatedRpc(ctx: SimulatedRpcContext, method: string, params: Params, wallet: string | null): unknown {
  const {chain, wallets} = ctx;
  if (!(method in PARAM_NAMES)) throw new SimulatedRpcFailure(RpcCode.METHOD_NOT_FOUND, "Method not found");
  const args = new Args(method, params);
  const tip = chain.reportedTip();
  if (WALLET_METHODS.has(method)) wallets.resolve(wallet);
  switch (method) {
    case "getblockchaininfo":
      return {
        chain: "regtest",
        blocks: tip.height,
        headers: chain.reportedSync().headers,
        bestblockhash: tip.id,
        difficulty: REGTEST_DIFFICULTY,
        time: tip.time,
        mediantime: chain.medianTimePast(tip),
        verificationprogress: 1,
        // Core leaves IBD while the tip is older than 24 hours (-maxtipage).
        initialblockdownload: chain.reportedSync().initialBlockDownload || tip.time < Math.floor(ctx.clock.now() / 1000) - 24 * 3600,
        chainwork: chainwork(tip.height),
        size_on_disk: 0,
        pruned: false,
        warnings: [],
      };
    case "getblockcount":
      return tip.height;
    case "getbestblockhash":
      return tip.id;
    case "getblockhash": {
      const height = args.number(0);
      const b = chain.reportedBlockAt(height);
      if (b === null) throw new SimulatedRpcFailure(RpcCode.INVALID_PARAMETER, "Block height out of range");
      return b.id;
    }
    case "getblockheader": {
      const b = blockOf(chain, args.string(0));
      return args.bool(1, true) ? blockHeaderJson(chain, b) : bytesToHex(b.header);
    }
    case "getblock": {
      const b = blockOf(chain, args.string(0));
      const verbosity = typeof args.raw(1) === "boolean" ? (args.bool(1, true) ? 1 : 0) : args.number(1, 1);
      const raw = chain.serializeBlock(b);
      if (verbosity === 0) return bytesToHex(raw);
      if (verbosity !== 1) throw new SimulatedRpcFailure(RpcCode.INVALID_PARAMETER, "simulated chain supports getblock verbosity 0 and 1 only");
      const stripped = 80 + 9 + b.txs.reduce((a, t) => a + t.byteLength(false), 0);
      return {...blockHeaderJson(chain, b), size: raw.length, strippedsize: stripped, weight: b.txs.reduce((a, t) => a + t.weight(), 80 * 4), tx: b.txs.map((t) => t.getId())};
    }
    case "getrawtransaction": {
      const txid = hash32(args.string(0), "parameter 1");
      const verbose = typeof args.raw(1) === "number" ? args.number(1) > 0 : args.bool(1, false);
      let blockId: string | undefined;
      if (args.has(2)) {
        const id = hash32(args.string(2), "parameter 3");
        if (chain.block(id) === null) throw new SimulatedRpcFailure(RpcCode.INVALID_ADDRESS_OR_KEY, "Block hash not found");
        blockId = id;
      }
      const found = chain.findTransaction(txid, blockId);
      if (found === null) {
        throw new SimulatedRpcFailure(
          RpcCode.INVALID_ADDRESS_OR_KEY,
          blockId === undefined ? "No such mempool or blockchain transaction. Use gettransaction for wallet transactions." : "No such transaction found in the provided block. Use gettransaction for wallet transactions.",
        );
      }
      if (!verbose) return bytesToHex(found.tx.toBuffer());
      const json = txJson(found.tx, chain, found.block);
      if (blockId !== undefined) json.in_active_chain = found.block !== null && chain.confirmations(found.block) > 0;
      return json;
    }
    case "gettxout": {
      const txid = hash32(args.string(0), "txid");
      const n = args.number(1);
      const includeMempool = args.bool(2, true);
      if (includeMempool && chain.mempoolSpender(txid, n) !== null) return null;
      const coin = chain.coin(txid, n);
      if (coin !== null) return {bestblock: tip.id, confirmations: tip.height - coin.height + 1, value: satsToBtcNumber(coin.value), scriptPubKey: scriptPubKeyJson(coin.script), coinbase: coin.coinbase};
      const out = includeMempool ? chain.mempoolEntry(txid)?.tx.outs[n] : undefined;
      if (out === undefined) return null;
      return {bestblock: tip.id, confirmations: 0, value: satsToBtcNumber(out.value), scriptPubKey: scriptPubKeyJson(out.script), coinbase: false};
    }
    case "sendrawtransaction": {
      const raw = hexBytes(args.string(0));
      const maxBurn = args.has(2) ? btcNumberToSats(args.number(2)) : 0n;
      return sendRawTransaction(chain, raw, feeRateParam(args, 1), maxBurn);
    }
    case "testmempoolaccept": {
      const rawtxs = args.raw(0);
      if (!Array.isArray(rawtxs)) throw typeError(typeof rawtxs, "array");
      if (rawtxs.length < 1 || rawtxs.length > 25) throw new SimulatedRpcFailure(RpcCode.INVALID_PARAMETER, "Array must contain between 1 and 25 transactions.");
      // Each transaction is checked on its own against the current mempool
      // (Core evaluates several as one package; we never send packages).
      return rawtxs.map((hex) => {
        if (typeof hex !== "string") throw typeError(typeof hex, "string");
        const v = testAccept(chain, hexBytes(hex), feeRateParam(args, 1));
        if (v.allowed) {
          return {txid: v.txid, wtxid: v.wtxid, allowed: true, vsize: v.vsize, fees: {base: satsToBtcNumber(v.fee), "effective-feerate": Number(((Number(v.fee) / v.vsize) * 1e-5).toFixed(8)), "effective-includes": [v.wtxid]}};
        }
        return {txid: v.txid, wtxid: v.wtxid, allowed: false, "reject-reason": v.rejectReason, "reject-details": v.rejectDetails};
      });
    }
    case "getmempoolentry": {
      const e = chain.mempoolEntry(hash32(args.string(0), "parameter 1"));
      if (e === null) throw new SimulatedRpcFailure(RpcCode.INVALID_ADDRESS_OR_KEY, "Transaction not in mempool");
      const spentby = chain.mempoolTxids().filter((id) => chain.mempoolEntry(id)?.parents.has(e.txid));
      const fee = satsToBtcNumber(e.fee);
      return {
        vsize: e.vsize,
        weight: e.weight,
        time: e.time,
        height: e.height,
        descendantcount: 1 + spentby.length,
        ancestorcount: 1 + e.parents.size,
        wtxid: e.wtxid,
        fees: {base: fee, modified: fee, ancestor: fee, descendant: fee},
        depends: [...e.parents],
        spentby,
        "bip125-replaceable": true,
        unbroadcast: false,
      };
    }
    case "getrawmempool":
      return chain.mempoolTxids();
    case "estimatesmartfee": {
      const target = args.number(0);
      if (!Number.isInteger(target) || target < 1 || target > 1008) throw new SimulatedRpcFailure(RpcCode.INVALID_PARAMETER, "Invalid conf_target, must be between 1 and 1008");
      const rate = chain.estimateFee();
      if (rate === null) return {errors: ["Insufficient data or no feerate found"], blocks: 0};
      return {feerate: Number((rate * 1e-5).toFixed(8)), blocks: Math.max(2, target)};
    }
    case "generatetoaddress": {
      const n = args.number(0);
      let script: Uint8Array;
      try {
        script = addressToScript(args.string(1), "regtest");
      } catch {
        throw new SimulatedRpcFailure(RpcCode.INVALID_ADDRESS_OR_KEY, "Error: Invalid address");
      }
      return chain.mine(n, script).map((b) => b.id);
    }
    case "invalidateblock":
      chain.invalidateBlock(hash32(args.string(0), "blockhash"));
      return null;
    case "reconsiderblock":
      chain.reconsiderBlock(hash32(args.string(0), "blockhash"));
      return null;
    case "createwallet": {
      const name = args.string(0);
      // A wallet with private keys holds none here: it exists so that the node's refusal of it can be tested.
      wallets.create(name, {privateKeys: !args.bool(1, false)});
      return {name};
    }
    case "loadwallet": {
      const name = args.string(0);
      wallets.load(name);
      return {name};
    }
    case "unloadwallet": {
      const name = args.has(0) ? args.string(0) : wallets.resolve(wallet);
      wallets.unload(name);
      return {};
    }
    case "listwallets":
      return wallets.list();
    case "importdescriptors": {
      const requests = args.raw(0);
      if (!Array.isArray(requests)) throw typeError(typeof requests, "array");
      const parsed = requests.map((r: unknown) => {
        const o = r as {desc?: unknown; timestamp?: unknown};
        if (typeof o?.desc !== "string") throw new SimulatedRpcFailure(RpcCode.TYPE_ERROR, "Descriptor not found.");
        if (o.timestamp !== "now" && typeof o.timestamp !== "number") throw new SimulatedRpcFailure(RpcCode.TYPE_ERROR, "Missing required timestamp field for key");
        return {desc: o.desc, timestamp: o.timestamp === "now" ? ("now" as const) : o.timestamp};
      });
      return wallets.importDescriptors(wallet, parsed);
    }
    case "listdescriptors":
      return {wallet_name: wallets.resolve(wallet), descriptors: wallets.listDescriptors(wallet).map((d) => ({...d, active: false}))};
    case "listunspent": {
      const minconf = args.number(0, 1);
      const maxconf = args.number(1, 9_999_999);
      const includeUnsafe = args.bool(3, true);
      return wallets
        .listUnspent(wallet, minconf, maxconf)
        .filter((u) => includeUnsafe || u.safe)
        .map((u) => {
          const address = scriptToAddress(u.script, "regtest");
          return {
            txid: u.txid,
            vout: u.vout,
            ...(address === null ? {} : {address}),
            scriptPubKey: bytesToHex(u.script),
            amount: satsToBtcNumber(u.value),
            confirmations: u.confirmations,
            spendable: false,
            solvable: true,
            desc: u.desc,
            parent_descs: [u.desc],
            safe: u.safe,
          };
        });
    }
    default:
      throw new SimulatedRpcFailure(RpcCode.METHOD_NOT_FOUND, "Method not found");
  }
}
