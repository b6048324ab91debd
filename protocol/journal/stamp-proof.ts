/**
 * Proofs derived from a STAMP record (stamp.ts), what `GET /timestamp/<commitment>`
 * serves once the stamp has K confirmations (PROTOCOL-NOTES §2.3). One linear
 * path, written directly as bytes like proof.ts does:
 *
 *   08                                    sha256: commitment → its leaf
 *   [(f0|f1) 20 <sibling32> 08]*          OTS tree path, leaf → stamp root   (FlatMerkleTree.pathBytes)
 *   [f1 <prefix>] [f0 <suffix>] 08 08     root → txid                        ┐
 *   [(f0|f1) 20 <sibling32> 08 08]*       txid → block merkle root           │ the anchor: the same for
 *   00 0588960d73d71901 <height>          BitcoinBlockHeaderAttestation      ┘ every leaf, cached per stamp
 */
import {bitcoin} from "../ots/attestations.ts";
import {bitcoinBranchOps, txCommitmentOps} from "../ots/bitcoin.ts";
import {ByteWriter} from "../ots/bytes.ts";
import {applyOps, encodeOp, OpTag} from "../ots/ops.ts";
import type {Op} from "../ots/ops.ts";
import {encodeAttestationLeaf} from "./proof.ts";
import {MAX_STAMP_HEIGHT} from "./stamp.ts";
import type {StampRecord} from "./stamp.ts";
import {varuintSize} from "./varint.ts";

/** Ops from the stamp's root to the block merkle root: txCommitmentOps(tx, root) then bitcoinBranchOps(txIndex, branch). */
export function stampAnchorOps(s: StampRecord): Op[] {
  return [...txCommitmentOps(s.tx, s.root), ...bitcoinBranchOps(s.txIndex, s.branch)];
}

/** The block merkle root this stamp claims (the stamper compares it with the header's before journaling). */
export function stampMerkleRoot(s: StampRecord): Uint8Array {
  return applyOps(stampAnchorOps(s), s.root);
}

/**
 * The encoded timestamp rooted at the stamp's root: the anchor ops, then the
 * BitcoinBlockHeaderAttestation(height). Computed once per stamp and cached
 * by callers.
 */
export function encodeStampAnchor(s: StampRecord): Uint8Array {
  const w = new ByteWriter(s.tx.length + 64 + s.branch.length * 36);
  for (const op of stampAnchorOps(s)) encodeOp(op, w);
  w.writeBytes(encodeAttestationLeaf(bitcoin(s.height)));
  return w.finish();
}

/**
 * A complete proof body for `GET /timestamp/<commitment>`: the timestamp
 * rooted at the commitment, i.e. the sha256 op (commitment → leaf), the
 * leaf's tree path (FlatMerkleTree.pathBytes), then the anchor bytes.
 */
export function stampProofBytes(pathBytes: Uint8Array, anchor: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + pathBytes.length + anchor.length);
  out[0] = OpTag.sha256;
  out.set(pathBytes, 1);
  out.set(anchor, 1 + pathBytes.length);
  return out;
}

/** Bytes of a bitcoin attestation leaf at the highest height a stamp may carry. */
const MAX_ATTESTATION_LEAF = encodeAttestationLeaf(bitcoin(MAX_STAMP_HEIGHT)).length;
/** One OTS tree level: `f0|f1 20 <32> 08`. */
const TREE_LEVEL_BYTES = 1 + 1 + 32 + 1;
/** One block merkle level: `f0|f1 20 <32> 08 08`. */
const BRANCH_LEVEL_BYTES = 1 + 1 + 32 + 2;

/**
 * An upper bound of stampProofBytes' length for any leaf of a stamp with
 * `leaves` leaves, a `txLength`-byte tx and a `branchLength`-level branch (to
 * assert proofs stay far below what clients accept).
 */
export function maxStampProofSize(leaves: number, txLength: number, branchLength: number): number {
  let depth = 0;
  while (2 ** depth < leaves) depth++;
  // The tx minus the 32-byte root is split into prefix and suffix, each its own op (tag, varuint length, bytes).
  const outside = Math.max(0, txLength - 32);
  const txOps = 2 * (1 + varuintSize(outside)) + outside + 2;
  return 1 + depth * TREE_LEVEL_BYTES + txOps + branchLength * BRANCH_LEVEL_BYTES + MAX_ATTESTATION_LEAF;
}
