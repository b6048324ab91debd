/**
 * `sendrawtransaction` and `testmempoolaccept` of the simulated chain, with
 * Bitcoin Core's order of checks and errors (rpc/mempool.cpp,
 * node/transaction.cpp): decode (-22), burn limit (-25), already in the
 * mempool (success), outputs already in the UTXO set (-27), mempool checks
 * (-26, or -25 for missing inputs), then the `maxfeerate` limit (-25).
 */
import {hashToDisplayHex} from "../../../protocol/bitcoin/hash.ts";
import type {MempoolAcceptResult} from "../backend.ts";
import {bitcoinErrorFromRejectReason, RpcCode} from "../rpc-errors.ts";
import type {SimulatedChain} from "./chain.ts";
import {displayHexToHash} from "../../../protocol/bitcoin/hash.ts";
import {failureOf, SimulatedRpcFailure} from "./rejection.ts";

/** Core's default `maxfeerate`: 0.10 BTC/kvB = 10 000 sat/vB. */
export const DEFAULT_MAX_FEE_RATE_SAT_VB = 10_000;

const MAX_FEE_MESSAGE = "Fee exceeds maximum configured by user (e.g. -maxtxfee, maxfeerate)";

/** One `testmempoolaccept` verdict in Core's terms. */
export type TestAcceptVerdict = {
  txid: string;
  wtxid: string;
  allowed: boolean;
  vsize: number;
  fee: bigint;
  /** Core's `reject-reason` ("missing-inputs" for missing inputs) and `reject-details`. */
  rejectReason: string | null;
  rejectDetails: string | null;
};

function exceedsMaxFee(fee: bigint, vsize: number, maxFeeRateSatVb: number): boolean {
  return maxFeeRateSatVb > 0 && fee > (BigInt(Math.round(maxFeeRateSatVb * 1000)) * BigInt(vsize)) / 1000n;
}

/** Runs `testmempoolaccept` for one raw transaction. */
export function testAccept(chain: SimulatedChain, raw: Uint8Array, maxFeeRateSatVb: number): TestAcceptVerdict {
  const tx = chain.decode(raw);
  const r = chain.accept(tx, true);
  if (!r.ok) {
    const reason = r.rejection.reason === "bad-txns-inputs-missingorspent" ? "missing-inputs" : r.rejection.reason;
    return {txid: r.txid, wtxid: r.wtxid, allowed: false, vsize: tx.virtualSize(), fee: 0n, rejectReason: reason, rejectDetails: r.rejection.message};
  }
  const {entry} = r;
  if (exceedsMaxFee(entry.fee, entry.vsize, maxFeeRateSatVb)) {
    return {txid: entry.txid, wtxid: entry.wtxid, allowed: false, vsize: entry.vsize, fee: entry.fee, rejectReason: "max-fee-exceeded", rejectDetails: MAX_FEE_MESSAGE};
  }
  return {txid: entry.txid, wtxid: entry.wtxid, allowed: true, vsize: entry.vsize, fee: entry.fee, rejectReason: null, rejectDetails: null};
}

/** The typed form of {@link testAccept} used by the in-process backend. */
export function testMempoolAccept(chain: SimulatedChain, raw: Uint8Array, maxFeeRateSatVb: number): MempoolAcceptResult {
  const v = testAccept(chain, raw, maxFeeRateSatVb);
  const txid = displayHexToHash(v.txid);
  const wtxid = displayHexToHash(v.wtxid);
  if (v.allowed) return {allowed: true, txid, wtxid, vsize: v.vsize, feeSats: v.fee};
  const reason = v.rejectReason as string;
  return {allowed: false, txid, wtxid, rejectReason: reason, error: bitcoinErrorFromRejectReason(reason, v.rejectDetails ?? undefined)};
}

/** Runs `sendrawtransaction`; returns the txid (display hex) or throws Core's RPC error. */
export function sendRawTransaction(chain: SimulatedChain, raw: Uint8Array, maxFeeRateSatVb: number, maxBurnSats: bigint): string {
  const tx = chain.decode(raw);
  for (const o of tx.outs) {
    if (o.script[0] === 0x6a && o.value > maxBurnSats) throw new SimulatedRpcFailure(RpcCode.VERIFY_ERROR, "Unspendable output exceeds maximum configured by user (maxburnamount)");
  }
  const txid = tx.getId();
  const inPool = chain.mempoolEntry(txid);
  // Already in the mempool with the same witness: Core re-announces it and succeeds.
  if (inPool !== null && inPool.wtxid === hashToDisplayHex(tx.getHash(true))) return txid;
  for (let i = 0; i < tx.outs.length; i++) {
    if (chain.coin(txid, i) !== null) throw new SimulatedRpcFailure(RpcCode.VERIFY_ALREADY_IN_CHAIN, "Transaction outputs already in utxo set");
  }
  const test = chain.accept(tx, true);
  if (!test.ok) throw failureOf(test.rejection);
  if (exceedsMaxFee(test.entry.fee, test.entry.vsize, maxFeeRateSatVb)) throw new SimulatedRpcFailure(RpcCode.VERIFY_ERROR, MAX_FEE_MESSAGE);
  chain.submit(tx);
  return txid;
}
