/**
 * How the simulated chain refuses a transaction: Bitcoin Core's RPC code,
 * reject reason token and full message (`reason` or `reason, details`), so the
 * JSON-RPC endpoint can answer exactly as bitcoind does and the in-process
 * backend can map it through the same `rpc-errors.ts` table.
 */
import type {BitcoinError} from "../errors.ts";
import {RpcCode, bitcoinErrorFromRpc} from "../rpc-errors.ts";

/** A refusal in Core's terms. */
export type Rejection = {rpcCode: number; reason: string; message: string};

/** A mempool policy or consensus refusal (-26, or -25 for missing inputs, as `sendrawtransaction` reports them). */
export function rejection(reason: string, details?: string, rpcCode: number = RpcCode.VERIFY_REJECTED): Rejection {
  return {rpcCode, reason, message: details === undefined ? reason : `${reason}, ${details}`};
}

/** A script failure message in Core ≤ 29's form. */
export function scriptRejection(mandatory: boolean, scriptError: string): Rejection {
  const reason = mandatory ? "mandatory-script-verify-flag-failed" : "non-mandatory-script-verify-flag";
  return {rpcCode: RpcCode.VERIFY_REJECTED, reason, message: `${reason} (${scriptError})`};
}

/** Thrown by the simulated chain for any RPC-level failure (carries Core's code and message). */
export class SimulatedRpcFailure extends Error {
  readonly rpcCode: number;
  constructor(rpcCode: number, message: string) {
    super(message);
    this.rpcCode = rpcCode;
    this.name = "SimulatedRpcFailure";
  }
  /** The typed error a Core backend would raise for the same reply. */
  toBitcoinError(): BitcoinError {
    return bitcoinErrorFromRpc(this.rpcCode, this.message);
  }
}

/** Throwable form of a {@link Rejection}. */
export function failureOf(r: Rejection): SimulatedRpcFailure {
  return new SimulatedRpcFailure(r.rpcCode, r.message);
}
