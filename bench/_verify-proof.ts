/**
 * A served proof checked end to end against the simulated chain: from the
 * commitment, its ops must reach the merkle root of the block its single
 * Bitcoin attestation names. Returns that height, or why not.
 */
import {decodeBlockHeader} from "../protocol/bitcoin/header.ts";
import {bytesEqual} from "../protocol/ots/bytes.ts";
import {listAttestations} from "../protocol/ots/evaluate.ts";
import {decodeTimestamp} from "../protocol/ots/timestamp.ts";
import type {SimulatedChain} from "../node/bitcoin/sim/chain.ts";

export function checkStampProof(proof: Uint8Array, commitment: Uint8Array, chain: SimulatedChain): {height: number} | {error: string} {
  let attested;
  try {
    attested = listAttestations(decodeTimestamp(proof, commitment));
  } catch (e) {
    return {error: `does not decode: ${e instanceof Error ? e.message : String(e)}`};
  }
  const [only] = attested;
  if (attested.length !== 1 || only === undefined || only.attestation.kind !== "bitcoin") return {error: `expected one Bitcoin attestation, got ${attested.map((a) => a.attestation.kind).join(", ")}`};
  const height = only.attestation.height;
  const block = chain.blockAt(height);
  if (block === null) return {error: `no block at height ${height}`};
  if (!bytesEqual(decodeBlockHeader(block.header).merkleRoot, only.msg)) return {error: `does not reach block ${height}'s merkle root`};
  return {height};
}
