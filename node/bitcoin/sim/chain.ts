/**
 * The simulated regtest chain: a faithful, in-process stand-in for
 * `bitcoind -regtest` used by the devnet and tests (DESIGN.md §4).
 *
 * Real data throughout: transactions are parsed with bitcoinjs-lib, inputs
 * must exist and be unspent, P2WPKH and P2TR key-path signatures are
 * verified, fees are computed; blocks have real 80-byte headers, real merkle
 * roots and witness commitments, regtest proof of work (bits 0x207fffff, the
 * nonce is ground), a coinbase with the BIP34 height, and times from the
 * injected clock that always exceed the median time past.
 *
 * Mempool acceptance follows Bitcoin Core's order of checks and its reject
 * reasons (see policy.ts for the standardness rules and what is left out):
 * CheckTransaction → standardness → finality → already in mempool →
 * conflicts → inputs (missing/spent, maturity, value) → input standardness →
 * min relay fee → replacement rules (BIP125 as in Core v28, full RBF by
 * default) → script verification.
 *
 * Reorgs: `invalidateBlock` disconnects a block and its descendants (their
 * transactions go back to the mempool when still valid), `mine` then builds a
 * competing branch, and `reconsiderBlock` makes the old branch eligible again;
 * the most-work valid chain (first seen on ties) is always active.
 */
import {bytesToHex} from "@noble/hashes/utils.js";
import {Block, script as bscript, Transaction} from "bitcoinjs-lib";
import {bytesEqual, hashToDisplayHex, sha256d} from "../../../protocol/bitcoin/hash.ts";
import {blockHeaderHash, checkProofOfWork, encodeBlockHeader} from "../../../protocol/bitcoin/header.ts";
import {bitcoinMerkleRoot} from "../../../protocol/bitcoin/merkle.ts";
import type {Clock} from "../../clock.ts";
import {nullLogger, type Logger} from "../../logger.ts";
import {RpcCode} from "../rpc-errors.ts";
import {REGTEST_BITS, regtestGenesis} from "./genesis.ts";
import {formatFeeRate, formatMoney} from "../money.ts";
import {checkStandardTx, classifyOutput, type PolicyOptions} from "./policy.ts";
import {SimulatedRpcFailure, failureOf, rejection, scriptRejection, type Rejection} from "./rejection.ts";
import {verifyInput, type Prevout} from "./script-verify.ts";

/** Options of the simulated chain (Core's defaults unless said otherwise). */
export type SimulatedChainOptions = PolicyOptions & {
  /** Minimum relay feerate, sat/vB. Core ≤ 29: 1; v30: 0.1. We keep 1 (what the network relays reliably). */
  minRelayFeeRate: number;
  /** Incremental relay feerate for replacements, sat/vB (Core ≤ 29: 1). */
  incrementalRelayFeeRate: number;
  /** Replace any mempool transaction, signalling or not (Core ≥ 28: true). */
  fullRbf: boolean;
  /** Blocks before a coinbase output may be spent (consensus: 100). */
  coinbaseMaturity: number;
  /** Feerate `estimatesmartfee` answers, sat/vB, or null for "Insufficient data" (regtest's usual answer). */
  feeEstimate: number | null;
  /** Mine a block every this many ms once started (null: only on demand). */
  miningIntervalMs: number | null;
};

/** Defaults: Bitcoin Core v28/v29 policy on regtest. */
export const defaultSimulatedChainOptions: SimulatedChainOptions = {
  minRelayFeeRate: 1,
  incrementalRelayFeeRate: 1,
  dustRelayFeeRate: 3,
  maxDatacarrierBytes: 83,
  fullRbf: true,
  coinbaseMaturity: 100,
  feeEstimate: null,
  miningIntervalMs: null,
};

/** Injected dependencies. */
export type SimulatedChainModules = {clock: Clock; logger?: Logger};

/** A block known to the simulated chain (active, stale or invalid). */
export type SimulatedBlock = {
  hash: Uint8Array;
  /** Display hex of the hash (map key). */
  id: string;
  header: Uint8Array;
  height: number;
  parentId: string | null;
  time: number;
  txs: Transaction[];
  /** Order of arrival, for first-seen tie breaks. */
  seq: number;
};

/** An unspent output in the chain state. */
export type Coin = {value: bigint; script: Uint8Array; height: number; coinbase: boolean; blockTime: number};

/** A mempool transaction. */
export type SimulatedMempoolEntry = {
  tx: Transaction;
  txid: string;
  wtxid: string;
  fee: bigint;
  vsize: number;
  weight: number;
  /** Entry time, Unix seconds. */
  time: number;
  /** Chain height at entry. */
  height: number;
  /** Unconfirmed parents (txids, display hex). */
  parents: Set<string>;
};

/** Result of a mempool acceptance attempt. */
export type AcceptResult = {ok: true; entry: SimulatedMempoolEntry; replaced: string[]} | {ok: false; txid: string; wtxid: string; rejection: Rejection};

/** An update of the active chain (for subscribers such as the RPC server's logs). */
export type ChainChange = {disconnected: SimulatedBlock[]; connected: SimulatedBlock[]};

const MAX_MONEY = 21_000_000n * 100_000_000n;
const MAX_BLOCK_WEIGHT = 4_000_000;
const COINBASE_RESERVED_WEIGHT = 4_000;
const REGTEST_HALVING_INTERVAL = 150;
const LOCKTIME_THRESHOLD = 500_000_000;
const SEQUENCE_FINAL = 0xffffffff;
const BIP125_MAX_SIGNAL = 0xfffffffd;
const ZERO32 = new Uint8Array(32);

type Undo = {spent: Array<[string, Coin]>};

const outpointKey = (txid: string, vout: number): string => `${txid}:${vout}`;
const txidOfInput = (hash: Uint8Array): string => hashToDisplayHex(hash);

/** Work of the chain up to `height`: each regtest block (bits 0x207fffff) adds 2 units. */
export function simulatedChainWork(height: number): bigint {
  return BigInt(height + 1) * 2n;
}

/** The simulated regtest chain (see the module comment). */
export class SimulatedChain {
  readonly opts: SimulatedChainOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly blocks = new Map<string, SimulatedBlock>();
  private readonly children = new Map<string, string[]>();
  private readonly invalid = new Set<string>();
  private readonly undo = new Map<string, Undo>();
  private readonly active: SimulatedBlock[] = [];
  private readonly utxos = new Map<string, Coin>();
  /** txid → id of the active block containing it (as with -txindex=1). */
  private readonly txIndex = new Map<string, string>();
  private readonly mempool = new Map<string, SimulatedMempoolEntry>();
  private readonly mempoolSpends = new Map<string, string>();
  private readonly listeners = new Set<(change: ChainChange) => void>();
  private seq = 0;
  private extraNonce = 0;
  private feeEstimate: number | null;
  status: "stopped" | "started" = "stopped";
  private controller: AbortController | null = null;
  private miningScript: Uint8Array | null = null;
  /** bitcoind back from an older state (`simulateRestart`): what it reports, until `simulateResync`. */
  private restarted: {height: number; syncing: boolean} | null = null;

  constructor(opts: Partial<SimulatedChainOptions>, modules: SimulatedChainModules) {
    this.opts = {...defaultSimulatedChainOptions, ...opts};
    this.clock = modules.clock;
    this.logger = modules.logger ?? nullLogger;
    this.feeEstimate = this.opts.feeEstimate;
    const {coinbase, header} = regtestGenesis();
    const hash = blockHeaderHash(header);
    const genesis: SimulatedBlock = {hash, id: hashToDisplayHex(hash), header, height: 0, parentId: null, time: 1296688602, txs: [coinbase], seq: this.seq++};
    this.blocks.set(genesis.id, genesis);
    // The genesis coinbase is not spendable (not in the UTXO set), as in Core.
    this.active.push(genesis);
    this.txIndex.set(coinbase.getId(), genesis.id);
  }

  // --- lifecycle: interval mining ---------------------------------------------------------

  /** Starts interval mining to `script` when `miningIntervalMs` is set. Idempotent. */
  start(script: Uint8Array): void {
    if (this.status === "started") return;
    this.status = "started";
    this.controller = new AbortController();
    this.miningScript = script;
    const interval = this.opts.miningIntervalMs;
    if (interval === null) return;
    const signal = this.controller.signal;
    const tick = (): void => {
      if (signal.aborted) return;
      try {
        this.mine(1, this.miningScript ?? script);
      } catch (e) {
        this.logger.error("simulated chain: interval mining failed", {}, e as Error);
      }
      const t = setTimeout(tick, interval);
      signal.addEventListener("abort", () => clearTimeout(t), {once: true});
    };
    const t = setTimeout(tick, interval);
    signal.addEventListener("abort", () => clearTimeout(t), {once: true});
    this.logger.info("simulated chain: interval mining started", {intervalMs: interval});
  }

  /** Stops interval mining. Idempotent. */
  stop(): void {
    if (this.status === "stopped") return;
    this.status = "stopped";
    this.controller?.abort();
    this.controller = null;
  }

  /** Calls `listener` after every change of the active chain; returns the unsubscribe function. */
  onChange(listener: (change: ChainChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // --- reads ------------------------------------------------------------------------------

  /** The active tip. */
  tip(): SimulatedBlock {
    return this.active[this.active.length - 1] as SimulatedBlock;
  }

  /** Active chain height. */
  height(): number {
    return this.active.length - 1;
  }

  /** The active block at `height`, or null past the tip. */
  blockAt(height: number): SimulatedBlock | null {
    return Number.isInteger(height) && height >= 0 ? (this.active[height] ?? null) : null;
  }

  /** Any known block by display-hex id. */
  block(id: string): SimulatedBlock | null {
    return this.blocks.get(id.toLowerCase()) ?? null;
  }

  /** Confirmations of a block on the active chain, -1 when it is not on it. */
  confirmations(b: SimulatedBlock): number {
    return this.active[b.height]?.id === b.id ? this.height() - b.height + 1 : -1;
  }

  /** The next active block after `b`, if `b` is active and not the tip. */
  nextActive(b: SimulatedBlock): SimulatedBlock | null {
    return this.confirmations(b) > 0 ? (this.active[b.height + 1] ?? null) : null;
  }

  // --- what bitcoind reports: the whole active chain, or less after a simulated restart ---

  /**
   * Make the node report the active chain only up to `height`, as bitcoind
   * does after a restart from an older flushed state: a lower tip, the blocks
   * above it unknown — or, with `syncing`, known as headers not yet connected
   * (confirmations -1, `headers` above `blocks`, initialblockdownload). The
   * chain itself is unchanged; `simulateResync` ends it (the same blocks again).
   */
  simulateRestart(height: number, opts: {syncing?: boolean} = {}): void {
    if (!Number.isInteger(height) || height < 0 || height > this.height()) throw new RangeError("restart height out of range");
    this.restarted = {height, syncing: opts.syncing ?? false};
  }

  /** The node has connected its blocks again: it reports the whole active chain. */
  simulateResync(): void {
    this.restarted = null;
  }

  /** The tip the node reports. */
  reportedTip(): SimulatedBlock {
    return this.active[this.reportedHeight()] as SimulatedBlock;
  }

  /** The height the node reports. */
  reportedHeight(): number {
    return this.restarted === null ? this.height() : Math.min(this.restarted.height, this.height());
  }

  /** `headers` and whether the node says it is in initial block download. */
  reportedSync(): {headers: number; initialBlockDownload: boolean} {
    const syncing = this.restarted?.syncing === true;
    return {headers: syncing ? this.height() : this.reportedHeight(), initialBlockDownload: syncing};
  }

  /** The block at `height` on the chain the node reports, or null. */
  reportedBlockAt(height: number): SimulatedBlock | null {
    return height <= this.reportedHeight() ? this.blockAt(height) : null;
  }

  /** A block the node knows by id (not one above its tip after a restart without headers), or null. */
  reportedBlock(id: string): SimulatedBlock | null {
    const b = this.block(id);
    if (b === null || this.restarted === null || this.restarted.syncing) return b;
    return this.confirmations(b) > 0 && b.height > this.reportedHeight() ? null : b;
  }

  /** Confirmations as the node reports them: -1 off its chain, also for headers it has not connected. */
  reportedConfirmations(b: SimulatedBlock): number {
    const c = this.confirmations(b);
    if (c < 0 || b.height > this.reportedHeight()) return -1;
    return this.reportedHeight() - b.height + 1;
  }

  /** Median time past of the last 11 blocks ending at `b` (BIP113). */
  medianTimePast(b: SimulatedBlock): number {
    const times: number[] = [];
    let cur: SimulatedBlock | null = b;
    for (let i = 0; i < 11 && cur !== null; i++) {
      times.push(cur.time);
      cur = cur.parentId === null ? null : (this.blocks.get(cur.parentId) ?? null);
    }
    times.sort((x, y) => x - y);
    return times[Math.floor(times.length / 2)] as number;
  }

  /** Full serialized block (with witnesses), as `getblock <hash> 0` returns it. */
  serializeBlock(b: SimulatedBlock): Uint8Array {
    const block = Block.fromBuffer(b.header);
    block.transactions = b.txs;
    return block.toBuffer();
  }

  /** A transaction by txid: from the mempool, or (txindex) from the active chain; restricted to `blockId` when given. */
  findTransaction(txid: string, blockId?: string): {tx: Transaction; block: SimulatedBlock | null} | null {
    if (blockId !== undefined) {
      const b = this.block(blockId);
      const tx = b?.txs.find((t) => t.getId() === txid);
      return b !== null && tx !== undefined ? {tx, block: b} : null;
    }
    const entry = this.mempool.get(txid);
    if (entry !== undefined) return {tx: entry.tx, block: null};
    const id = this.txIndex.get(txid);
    const b = id === undefined ? null : this.block(id);
    const tx = b?.txs.find((t) => t.getId() === txid);
    return b !== null && tx !== undefined ? {tx, block: b} : null;
  }

  /** A mempool entry by txid. */
  mempoolEntry(txid: string): SimulatedMempoolEntry | null {
    return this.mempool.get(txid) ?? null;
  }

  /** Mempool txids in acceptance order. */
  mempoolTxids(): string[] {
    return [...this.mempool.keys()];
  }

  /** The txid spending an outpoint in the mempool, if any. */
  mempoolSpender(txid: string, vout: number): string | null {
    return this.mempoolSpends.get(outpointKey(txid, vout)) ?? null;
  }

  /** A confirmed unspent output. */
  coin(txid: string, vout: number): Coin | null {
    return this.utxos.get(outpointKey(txid, vout)) ?? null;
  }

  /** All confirmed unspent outputs whose script satisfies `match`. */
  coinsWhere(match: (script: Uint8Array) => boolean): Array<{txid: string; vout: number; coin: Coin}> {
    const out: Array<{txid: string; vout: number; coin: Coin}> = [];
    for (const [key, coin] of this.utxos) {
      if (!match(coin.script)) continue;
      const i = key.lastIndexOf(":");
      out.push({txid: key.slice(0, i), vout: Number(key.slice(i + 1)), coin});
    }
    return out;
  }

  /** Current `estimatesmartfee` answer in sat/vB (null: no estimate). */
  estimateFee(): number | null {
    return this.feeEstimate;
  }

  /** Sets what `estimatesmartfee` answers. */
  setFeeEstimate(satPerVb: number | null): void {
    this.feeEstimate = satPerVb;
  }

  // --- mempool ----------------------------------------------------------------------------

  /** Parses raw bytes as bitcoind does (-22 "TX decode failed" on any error, trailing bytes included). */
  decode(raw: Uint8Array): Transaction {
    try {
      return Transaction.fromBuffer(raw);
    } catch {
      throw new SimulatedRpcFailure(RpcCode.DESERIALIZATION_ERROR, "TX decode failed. Make sure the tx has at least one input.");
    }
  }

  /** Runs every acceptance check; with `testOnly` the mempool is left unchanged (`testmempoolaccept`). */
  accept(tx: Transaction, testOnly = false): AcceptResult {
    const txid = tx.getId();
    const wtxid = hashToDisplayHex(tx.getHash(true));
    const fail = (r: Rejection): AcceptResult => ({ok: false, txid, wtxid, rejection: r});

    const consensus = this.checkTransaction(tx);
    if (consensus !== null) return fail(consensus);
    if (tx.isCoinbase()) return fail(rejection("coinbase"));
    const standard = checkStandardTx(tx, this.opts);
    if (standard !== null) return fail(standard);
    const nextHeight = this.height() + 1;
    if (!this.isFinal(tx, nextHeight, this.medianTimePast(this.tip()))) return fail(rejection("non-final"));

    const existing = this.mempool.get(txid);
    if (existing !== undefined) return fail(rejection(existing.wtxid === wtxid ? "txn-already-in-mempool" : "txn-same-nonwitness-data-in-mempool"));

    // Direct conflicts: mempool transactions spending one of our inputs.
    const conflicts = new Set<string>();
    for (const input of tx.ins) {
      const spender = this.mempoolSpends.get(outpointKey(txidOfInput(input.hash), input.index));
      if (spender === undefined) continue;
      if (!this.opts.fullRbf && !this.signalsRbf(spender)) return fail(rejection("txn-mempool-conflict"));
      conflicts.add(spender);
    }
    const evicted = this.withDescendants(conflicts);

    for (let i = 0; i < tx.outs.length; i++) if (this.utxos.has(outpointKey(txid, i))) return fail(rejection("txn-already-known"));

    const prevouts: Prevout[] = [];
    const parents = new Set<string>();
    let valueIn = 0n;
    for (const input of tx.ins) {
      const prevTxid = txidOfInput(input.hash);
      const key = outpointKey(prevTxid, input.index);
      if (evicted.has(prevTxid)) return fail(rejection("bad-txns-spends-conflicting-tx", `${txid} spends conflicting transaction ${prevTxid}`));
      const coin = this.utxos.get(key);
      if (coin !== undefined) {
        const depth = nextHeight - coin.height;
        if (coin.coinbase && depth < this.opts.coinbaseMaturity) return fail(rejection("bad-txns-premature-spend-of-coinbase", `tried to spend coinbase at depth ${depth}`));
        prevouts.push({script: coin.script, value: coin.value});
        valueIn += coin.value;
        continue;
      }
      const parent = this.mempool.get(prevTxid);
      const out = parent?.tx.outs[input.index];
      if (parent === undefined || out === undefined) return fail(rejection("bad-txns-inputs-missingorspent", undefined, RpcCode.VERIFY_ERROR));
      parents.add(prevTxid);
      prevouts.push({script: out.script, value: out.value});
      valueIn += out.value;
    }
    const valueOut = tx.outs.reduce((a, o) => a + o.value, 0n);
    if (valueIn < valueOut) return fail(rejection("bad-txns-in-belowout", `value in (${formatMoney(valueIn)}) < value out (${formatMoney(valueOut)})`));
    for (const p of prevouts) {
      const type = classifyOutput(p.script);
      if (type === "nonstandard" || type === "witness_unknown" || type === "nulldata") return fail(rejection("bad-txns-nonstandard-inputs"));
    }

    const fee = valueIn - valueOut;
    const vsize = tx.virtualSize();
    const minFee = this.feeFor(this.opts.minRelayFeeRate, vsize);
    if (fee < minFee) return fail(rejection("min relay fee not met", `${fee} < ${minFee}`));

    if (conflicts.size > 0) {
      const r = this.replacementChecks(txid, fee, vsize, conflicts, evicted, parents);
      if (r !== null) return fail(r);
    }

    for (let i = 0; i < tx.ins.length; i++) {
      const failure = verifyInput(tx, i, prevouts);
      if (failure !== null) return fail(scriptRejection(failure.mandatory, failure.error));
    }

    const entry: SimulatedMempoolEntry = {tx, txid, wtxid, fee, vsize, weight: tx.weight(), time: Math.floor(this.clock.now() / 1000), height: this.height(), parents};
    if (testOnly) return {ok: true, entry, replaced: [...evicted]};
    for (const id of evicted) this.removeFromMempool(id);
    this.addToMempool(entry);
    if (evicted.size > 0) this.logger.debug("simulated chain: replaced mempool transactions", {txid, replaced: [...evicted]});
    return {ok: true, entry, replaced: [...evicted]};
  }

  /** Accepts or throws Core's RPC error (`sendrawtransaction` without the RPC wrapper). */
  submit(tx: Transaction): SimulatedMempoolEntry {
    const r = this.accept(tx);
    if (!r.ok) throw failureOf(r.rejection);
    return r.entry;
  }

  private feeFor(satPerVb: number, vsize: number): bigint {
    // CFeeRate::GetFee: rate in sat/kvB × size / 1000, truncated.
    return (BigInt(Math.round(satPerVb * 1000)) * BigInt(vsize)) / 1000n;
  }

  private checkTransaction(tx: Transaction): Rejection | null {
    if (tx.ins.length === 0) return rejection("bad-txns-vin-empty");
    if (tx.outs.length === 0) return rejection("bad-txns-vout-empty");
    if (tx.byteLength(false) * 4 > MAX_BLOCK_WEIGHT) return rejection("bad-txns-oversize");
    let total = 0n;
    for (const o of tx.outs) {
      if (o.value < 0n) return rejection("bad-txns-vout-negative");
      if (o.value > MAX_MONEY) return rejection("bad-txns-vout-toolarge");
      total += o.value;
      if (total > MAX_MONEY) return rejection("bad-txns-txouttotal-toolarge");
    }
    const seen = new Set<string>();
    for (const input of tx.ins) {
      const key = outpointKey(txidOfInput(input.hash), input.index);
      if (seen.has(key)) return rejection("bad-txns-inputs-duplicate");
      seen.add(key);
    }
    if (!tx.isCoinbase() && tx.ins.some((i) => bytesEqual(i.hash, ZERO32) && i.index === 0xffffffff)) return rejection("bad-txns-prevout-null");
    return null;
  }

  private isFinal(tx: Transaction, height: number, mtp: number): boolean {
    if (tx.locktime === 0) return true;
    const limit = tx.locktime < LOCKTIME_THRESHOLD ? height : mtp;
    if (tx.locktime < limit) return true;
    return tx.ins.every((i) => i.sequence === SEQUENCE_FINAL);
  }

  private signalsRbf(txid: string): boolean {
    const entry = this.mempool.get(txid);
    if (entry === undefined) return false;
    if (entry.tx.ins.some((i) => i.sequence <= BIP125_MAX_SIGNAL)) return true;
    // Inherited signalling: an unconfirmed ancestor that signals.
    return [...entry.parents].some((p) => this.signalsRbf(p));
  }

  private withDescendants(roots: Set<string>): Set<string> {
    const out = new Set<string>(roots);
    let grew = true;
    while (grew) {
      grew = false;
      for (const entry of this.mempool.values()) {
        if (out.has(entry.txid)) continue;
        if ([...entry.parents].some((p) => out.has(p))) {
          out.add(entry.txid);
          grew = true;
        }
      }
    }
    return out;
  }

  // BIP125 as implemented by Core v28 (PaysMoreThanConflicts, HasNoNewUnconfirmed, PaysForRBF).
  private replacementChecks(txid: string, fee: bigint, vsize: number, conflicts: Set<string>, evicted: Set<string>, parents: Set<string>): Rejection | null {
    const newRate = (fee * 1000n) / BigInt(vsize);
    for (const id of conflicts) {
      const old = this.mempool.get(id) as SimulatedMempoolEntry;
      const oldRate = (old.fee * 1000n) / BigInt(old.vsize);
      if (newRate <= oldRate) {
        return rejection("insufficient fee", `rejecting replacement ${txid}; new feerate ${formatFeeRate(newRate)} <= old feerate ${formatFeeRate(oldRate)}`);
      }
    }
    const originalParents = new Set<string>();
    for (const id of conflicts) for (const p of (this.mempool.get(id) as SimulatedMempoolEntry).parents) originalParents.add(p);
    for (const p of parents) {
      if (!originalParents.has(p)) return rejection("replacement-adds-unconfirmed", `replacement ${txid} adds unconfirmed input, idx 0`);
    }
    let evictedFees = 0n;
    for (const id of evicted) evictedFees += (this.mempool.get(id) as SimulatedMempoolEntry).fee;
    if (fee < evictedFees) return rejection("insufficient fee", `rejecting replacement ${txid}, less fees than conflicting txs; ${formatMoney(fee)} < ${formatMoney(evictedFees)}`);
    const additional = fee - evictedFees;
    const required = this.feeFor(this.opts.incrementalRelayFeeRate, vsize);
    if (additional < required) {
      return rejection("insufficient fee", `rejecting replacement ${txid}, not enough additional fees to relay; ${formatMoney(additional)} < ${formatMoney(required)}`);
    }
    return null;
  }

  private addToMempool(entry: SimulatedMempoolEntry): void {
    this.mempool.set(entry.txid, entry);
    for (const input of entry.tx.ins) this.mempoolSpends.set(outpointKey(txidOfInput(input.hash), input.index), entry.txid);
  }

  private removeFromMempool(txid: string): void {
    const entry = this.mempool.get(txid);
    if (entry === undefined) return;
    this.mempool.delete(txid);
    for (const input of entry.tx.ins) {
      const key = outpointKey(txidOfInput(input.hash), input.index);
      if (this.mempoolSpends.get(key) === txid) this.mempoolSpends.delete(key);
    }
  }

  // --- mining -----------------------------------------------------------------------------

  /**
   * Mines `n` blocks on the active tip paying `script`; with `includeMempool`
   * (default) each block takes the mempool in acceptance order (parents
   * first) up to the block weight limit. Returns the new blocks.
   */
  mine(n: number, script: Uint8Array, opts: {includeMempool?: boolean} = {}): SimulatedBlock[] {
    const out: SimulatedBlock[] = [];
    for (let i = 0; i < n; i++) {
      const txs = opts.includeMempool === false ? [] : this.selectForBlock();
      const block = this.buildBlock(this.tip(), script, txs);
      this.addBlock(block);
      out.push(block);
    }
    return out;
  }

  /**
   * Mines one block holding exactly `txs` (after the coinbase), as a miner
   * whose mempool differs from ours would: one that still has an earlier
   * version of a replaced transaction, say. Their inputs must be unspent in
   * the active chain (or created earlier in `txs`); mempool transactions that
   * conflict with them are dropped when the block connects.
   */
  mineWith(txs: readonly Transaction[], script: Uint8Array): SimulatedBlock {
    const created = new Set<string>();
    for (const tx of txs) {
      for (const input of tx.ins) {
        const prev = hashToDisplayHex(input.hash);
        if (this.coin(prev, input.index) === null && !created.has(`${prev}:${input.index}`)) throw new RangeError(`mineWith: ${tx.getId()} spends ${prev}:${input.index}, which is not unspent in the active chain`);
      }
      tx.outs.forEach((_, i) => created.add(`${tx.getId()}:${i}`));
    }
    const block = this.buildBlock(this.tip(), script, [...txs]);
    this.addBlock(block);
    return block;
  }

  private selectForBlock(): Transaction[] {
    const chosen: Transaction[] = [];
    const taken = new Set<string>();
    let weight = COINBASE_RESERVED_WEIGHT;
    for (const entry of this.mempool.values()) {
      if ([...entry.parents].some((p) => !taken.has(p))) continue;
      if (weight + entry.weight > MAX_BLOCK_WEIGHT) continue;
      weight += entry.weight;
      taken.add(entry.txid);
      chosen.push(entry.tx);
    }
    return chosen;
  }

  private subsidy(height: number): bigint {
    const halvings = Math.floor(height / REGTEST_HALVING_INTERVAL);
    return halvings >= 64 ? 0n : 5_000_000_000n >> BigInt(halvings);
  }

  private buildBlock(parent: SimulatedBlock, script: Uint8Array, txs: Transaction[]): SimulatedBlock {
    const height = parent.height + 1;
    let fees = 0n;
    for (const tx of txs) fees += this.mempool.get(tx.getId())?.fee ?? 0n;

    // BIP34: the height is the first push of the coinbase scriptSig; an extra
    // nonce keeps coinbases of competing branches distinct.
    const heightPush = height <= 16 ? (height === 0 ? 0x00 : 0x50 + height) : bscript.number.encode(height);
    const nonce = new Uint8Array(4);
    new DataView(nonce.buffer).setUint32(0, this.extraNonce++, true);
    const coinbase = new Transaction();
    coinbase.version = 2;
    coinbase.addInput(ZERO32, 0xffffffff, SEQUENCE_FINAL, bscript.compile([heightPush, nonce]));
    coinbase.addOutput(script, this.subsidy(height) + fees);
    // BIP141 witness commitment: coinbase wtxid counts as zero, reserved value all zero.
    const witnessRoot = bitcoinMerkleRoot([ZERO32, ...txs.map((t) => t.getHash(true))]) as Uint8Array;
    const commitment = sha256d(Uint8Array.from([...witnessRoot, ...ZERO32]));
    coinbase.addOutput(Uint8Array.from([0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed, ...commitment]), 0n);
    coinbase.setWitness(0, [ZERO32]);

    const all = [coinbase, ...txs];
    const time = Math.max(Math.floor(this.clock.now() / 1000), this.medianTimePast(parent) + 1);
    const fields = {version: 0x20000000, prevHash: parent.hash, merkleRoot: Block.calculateMerkleRoot(all), time, bits: REGTEST_BITS, nonce: 0};
    let header = encodeBlockHeader(fields);
    while (!checkProofOfWork(header)) {
      fields.nonce++;
      header = encodeBlockHeader(fields);
    }
    const hash = blockHeaderHash(header);
    return {hash, id: hashToDisplayHex(hash), header, height, parentId: parent.id, time, txs: all, seq: this.seq++};
  }

  private addBlock(block: SimulatedBlock): void {
    this.blocks.set(block.id, block);
    if (block.parentId !== null) this.children.set(block.parentId, [...(this.children.get(block.parentId) ?? []), block.id]);
    if (this.invalid.size === 0 && block.parentId === this.tip().id) {
      // Fast path: with nothing invalidated the active tip has the most work,
      // so a child of it is the new best tip.
      this.connect(block);
      for (const l of this.listeners) l({disconnected: [], connected: [block]});
      return;
    }
    this.activateBestChain();
  }

  // --- reorgs -----------------------------------------------------------------------------

  /** Marks a block (and so its descendants) invalid and re-selects the best chain (`invalidateblock`). */
  invalidateBlock(id: string): void {
    const b = this.block(id);
    if (b === null) throw new SimulatedRpcFailure(RpcCode.INVALID_ADDRESS_OR_KEY, "Block not found");
    if (b.height === 0) throw new SimulatedRpcFailure(RpcCode.MISC_ERROR, "Cannot invalidate genesis block");
    this.invalid.add(b.id);
    this.activateBestChain();
  }

  /** Clears invalidity of a block, its ancestors and descendants and re-selects the best chain (`reconsiderblock`). */
  reconsiderBlock(id: string): void {
    const b = this.block(id);
    if (b === null) throw new SimulatedRpcFailure(RpcCode.INVALID_ADDRESS_OR_KEY, "Block not found");
    for (let cur: SimulatedBlock | null = b; cur !== null; cur = cur.parentId === null ? null : this.block(cur.parentId)) this.invalid.delete(cur.id);
    const stack = [b.id];
    while (stack.length > 0) {
      const next = stack.pop() as string;
      this.invalid.delete(next);
      stack.push(...(this.children.get(next) ?? []));
    }
    this.activateBestChain();
  }

  /** Convenience reorg: invalidate the block `depth` below the tip + 1 and mine `length` replacement blocks. */
  reorg(depth: number, length: number, script: Uint8Array, opts: {includeMempool?: boolean} = {}): ChainChange {
    const fork = this.blockAt(this.height() - depth + 1);
    if (fork === null || depth < 1) throw new RangeError("reorg depth out of range");
    const disconnected = this.active.slice(fork.height).reverse();
    this.invalidateBlock(fork.id);
    const connected = this.mine(length, script, opts);
    return {disconnected, connected};
  }

  /** Ids of explicitly invalidated blocks and all their descendants. */
  private invalidClosure(): Set<string> {
    const out = new Set<string>();
    const stack = [...this.invalid];
    while (stack.length > 0) {
      const id = stack.pop() as string;
      if (out.has(id)) continue;
      out.add(id);
      stack.push(...(this.children.get(id) ?? []));
    }
    return out;
  }

  private activateBestChain(): void {
    const tip = this.tip();
    // Most work = greatest height (all blocks have regtest bits); on equal
    // height the active tip stays, otherwise the first seen wins.
    const bad = this.invalidClosure();
    let best: SimulatedBlock | null = null;
    for (const b of this.blocks.values()) {
      if (bad.has(b.id)) continue;
      if (best === null || b.height > best.height || (b.height === best.height && b.seq < best.seq)) best = b;
    }
    if (best === null) return;
    if (!bad.has(tip.id) && tip.height === best.height) best = tip;
    if (best.id === tip.id) return;

    // Path from the new tip down to the fork point on the active chain.
    const path: SimulatedBlock[] = [];
    let cur: SimulatedBlock = best;
    while (this.active[cur.height]?.id !== cur.id) {
      path.push(cur);
      cur = this.blocks.get(cur.parentId as string) as SimulatedBlock;
    }
    const fork = cur;
    const disconnected: SimulatedBlock[] = [];
    while (this.tip().id !== fork.id) disconnected.push(this.disconnectTip());
    const connected = path.reverse();
    for (const b of connected) this.connect(b);

    // Disconnected transactions go back to the mempool if still valid, then
    // the old mempool is re-checked against the new chain (Core's
    // MaybeUpdateMempoolForReorg); failures are dropped.
    if (disconnected.length > 0) {
      const old = [...this.mempool.values()].map((e) => e.tx);
      this.mempool.clear();
      this.mempoolSpends.clear();
      const resurrect = disconnected
        .slice()
        .reverse()
        .flatMap((b) => b.txs.slice(1));
      for (const tx of [...resurrect, ...old]) {
        const r = this.accept(tx);
        if (!r.ok && r.rejection.reason !== "txn-already-in-mempool") this.logger.debug("simulated chain: dropped transaction after reorg", {txid: tx.getId(), reason: r.rejection.reason});
      }
      this.logger.info("simulated chain: reorg", {disconnected: disconnected.length, connected: connected.length, height: this.height()});
    }
    const change: ChainChange = {disconnected, connected};
    for (const l of this.listeners) l(change);
  }

  private connect(b: SimulatedBlock): void {
    const spent: Array<[string, Coin]> = [];
    for (const tx of b.txs) {
      const txid = tx.getId();
      if (!tx.isCoinbase()) {
        for (const input of tx.ins) {
          const key = outpointKey(txidOfInput(input.hash), input.index);
          const coin = this.utxos.get(key);
          if (coin === undefined) throw new Error(`simulated chain: block ${b.id} spends missing ${key}`);
          spent.push([key, coin]);
          this.utxos.delete(key);
        }
      }
      tx.outs.forEach((o, i) => {
        // OP_RETURN outputs are provably unspendable and never enter the UTXO set.
        if (o.script[0] === 0x6a) return;
        this.utxos.set(outpointKey(txid, i), {value: o.value, script: o.script, height: b.height, coinbase: tx.isCoinbase(), blockTime: b.time});
      });
      this.txIndex.set(txid, b.id);
      // Confirmed: leaves the mempool, and so does anything it conflicts with.
      this.removeFromMempool(txid);
      if (!tx.isCoinbase()) {
        const conflicting = new Set<string>();
        for (const input of tx.ins) {
          const spender = this.mempoolSpends.get(outpointKey(txidOfInput(input.hash), input.index));
          if (spender !== undefined) conflicting.add(spender);
        }
        for (const id of this.withDescendants(conflicting)) this.removeFromMempool(id);
      }
    }
    this.undo.set(b.id, {spent});
    this.active.push(b);
  }

  private disconnectTip(): SimulatedBlock {
    const b = this.active.pop() as SimulatedBlock;
    for (const tx of b.txs) {
      const txid = tx.getId();
      tx.outs.forEach((_, i) => this.utxos.delete(outpointKey(txid, i)));
      if (this.txIndex.get(txid) === b.id) this.txIndex.delete(txid);
    }
    for (const [key, coin] of (this.undo.get(b.id) as Undo).spent) this.utxos.set(key, coin);
    this.undo.delete(b.id);
    return b;
  }

  /** Short description for logs. */
  describe(): Record<string, unknown> {
    return {backend: "simulated", height: this.height(), tip: this.tip().id, mempool: this.mempool.size, tipHeader: bytesToHex(this.tip().header).slice(0, 16)};
  }
}
