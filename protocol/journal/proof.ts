/**
 * The partial proof `POST /digest` returns (PROTOCOL-NOTES §2.2), written
 * directly as bytes. It is one linear path, so its canonical encoding is just
 * the ops in order then the attestation (no 0xff forks); writing it this way
 * avoids re-hashing every step as building a Timestamp tree would:
 *
 *   f0 10 <nonce16> 08               append nonce, sha256   (the round's leaf)
 *   [(f0|f1) 20 <sibling32> 08]*     merkle path to the root
 *   f0 0c <tag4 ‖ seq8>              append → the 44-byte commitment
 *   00 <pending attestation>         PendingAttestation(calendar URL)
 */
import {ByteWriter} from "../ots/bytes.ts";
import {encodeAttestation} from "../ots/attestations.ts";
import type {Attestation} from "../ots/attestations.ts";
import {append, encodeOp, SHA256} from "../ots/ops.ts";
import type {Op} from "../ots/ops.ts";

/** `00 ‖ attestation`, the leaf bytes every reply of a calendar ends with. */
export function encodeAttestationLeaf(a: Attestation): Uint8Array {
  const w = new ByteWriter(64);
  w.writeByte(0x00);
  encodeAttestation(a, w);
  return w.finish();
}

/** The ops from a submitted digest to the commitment. */
export function partialProofOps(nonce: Uint8Array, path: readonly Op[], commitmentOp: Op): Op[] {
  return [append(nonce), SHA256, ...path, commitmentOp];
}

/** Encode digest → nonce → path → commitment → attestation leaf as a header-less timestamp. */
export function encodePartialProof(nonce: Uint8Array, path: readonly Op[], commitmentOp: Op, leaf: Uint8Array): Uint8Array {
  const w = new ByteWriter(64 + path.length * 36 + leaf.length);
  for (const op of partialProofOps(nonce, path, commitmentOp)) encodeOp(op, w);
  w.writeBytes(leaf);
  return w.finish();
}
