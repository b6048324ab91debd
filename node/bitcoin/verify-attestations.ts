/**
 * Client-side verification of OpenTimestamps Bitcoin attestations against a
 * node's headers, as `ots verify` does (PROTOCOL-NOTES §4.3): for each
 * `BitcoinBlockHeaderAttestation(height)` the message reached by the proof
 * must be 32 bytes and equal the merkle root of the block at that height, in
 * internal byte order. Attestations are checked in ascending height order.
 *
 * A block that does not exist and a message that does not match are results
 * (`ok: false` with the reason `ots` prints); a node that cannot be reached is
 * an error (a typed {@link BitcoinError}), because nothing was verified.
 */
import {bytesEqual} from "../../protocol/bitcoin/hash.ts";
import {decodeBlockHeader} from "../../protocol/bitcoin/header.ts";
import type {BitcoinBackend} from "./backend.ts";
import {CoreRpcBackend} from "./core-rpc.ts";
import {BitcoinError, BitcoinErrorCode} from "./errors.ts";

/** A Bitcoin attestation with the message the proof computes for it. */
export type BitcoinAttestationToVerify = {msg: Uint8Array; height: number};

/** The verdict for one attestation. */
export type AttestationVerdict =
  | {height: number; ok: true; blockHash: Uint8Array; time: number}
  | {height: number; ok: false; reason: string};

/** Where headers come from: a backend, or a bitcoind JSON-RPC URL (optionally with a cookie file). */
export type HeaderSource = BitcoinBackend | {rpcUrl: string; cookieFile?: string | null};

/** Options. */
export type VerifyOptions = {signal: AbortSignal; timeoutMs?: number};

/**
 * Verifies each attestation; results come back in ascending height order
 * (ties keep input order). Throws a {@link BitcoinError} when the node fails.
 */
export async function verifyBitcoinAttestations(attestations: readonly BitcoinAttestationToVerify[], source: HeaderSource, opts: VerifyOptions): Promise<AttestationVerdict[]> {
  const owned = "rpcUrl" in source ? new CoreRpcBackend({url: source.rpcUrl, cookieFile: source.cookieFile ?? null, timeoutMs: opts.timeoutMs ?? 30_000}) : null;
  const backend: BitcoinBackend = owned ?? (source as BitcoinBackend);
  try {
    const sorted = [...attestations].sort((a, b) => a.height - b.height);
    const out: AttestationVerdict[] = [];
    for (const a of sorted) out.push(await verifyOne(a, backend, opts.signal));
    return out;
  } finally {
    owned?.close();
  }
}

async function verifyOne(a: BitcoinAttestationToVerify, backend: BitcoinBackend, signal: AbortSignal): Promise<AttestationVerdict> {
  let blockHash: Uint8Array;
  try {
    blockHash = await backend.getBlockHash(a.height, signal);
  } catch (e) {
    if (!(e instanceof BitcoinError && e.code === BitcoinErrorCode.HEIGHT_OUT_OF_RANGE)) throw e;
    const tip = await backend.getChainInfo(signal);
    return {height: a.height, ok: false, reason: `Bitcoin block height ${a.height} not found; ${tip.height} is highest known block`};
  }
  const {header} = await backend.getBlockHeader(blockHash, signal);
  const decoded = decodeBlockHeader(header);
  if (a.msg.length !== 32) return {height: a.height, ok: false, reason: `Expected digest with length 32 bytes; got ${a.msg.length} bytes`};
  if (!bytesEqual(a.msg, decoded.merkleRoot)) return {height: a.height, ok: false, reason: "Digest does not match merkleroot"};
  return {height: a.height, ok: true, blockHash, time: decoded.time};
}
