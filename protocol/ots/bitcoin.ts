/**
 * Bitcoin proofs (PROTOCOL-NOTES §3.5, python `make_timestamp_from_block_tx`):
 * message → transaction → txid → block merkle root → BitcoinBlockHeaderAttestation.
 */
import {bytesEqual, toDisplayHex} from "./bytes.ts";
import {bitcoin} from "./attestations.ts";
import {otsError, OtsErrorCode} from "./errors.ts";
import {sha256d} from "./hashes.ts";
import {append, MAX_MSG_LENGTH, prepend, SHA256} from "./ops.ts";
import type {Op} from "./ops.ts";
import {timestampFromPath} from "./timestamp.ts";
import type {Timestamp} from "./timestamp.ts";
import {BLOCK_HEADER_LENGTH, decodeBlockHeader} from "../bitcoin/header.ts";

/**
 * Bitcoin's block merkle tree over txids (internal byte order): an odd level
 * duplicates its last node. Returns the root and the ops from txid `index`
 * to it (`append|prepend sibling`, sha256, sha256 per level).
 */
export function bitcoinMerklePath(txids: readonly Uint8Array[], index: number): {root: Uint8Array; ops: Op[]} {
  if (index < 0 || index >= txids.length) throw new RangeError(`tx index ${index} out of range`);
  const ops: Op[] = [];
  let level = txids.slice();
  let i = index;
  while (level.length > 1) {
    if (level.length % 2 === 1) level.push(level[level.length - 1] as Uint8Array);
    const sibling = level[i ^ 1] as Uint8Array;
    ops.push(i % 2 === 0 ? append(sibling) : prepend(sibling), SHA256, SHA256);
    const next: Uint8Array[] = [];
    for (let j = 0; j < level.length; j += 2) {
      const buf = new Uint8Array(64);
      buf.set(level[j] as Uint8Array, 0);
      buf.set(level[j + 1] as Uint8Array, 32);
      next.push(sha256d(buf));
    }
    level = next;
    i >>= 1;
  }
  return {root: level[0] as Uint8Array, ops};
}

/** The ops from `msg` to the txid of `txNoWitness`: prepend prefix, append suffix, sha256d. */
export function txCommitmentOps(txNoWitness: Uint8Array, msg: Uint8Array): Op[] {
  if (txNoWitness.length > MAX_MSG_LENGTH) {
    throw otsError(OtsErrorCode.TX_TOO_LARGE, `transaction is ${txNoWitness.length} bytes without witness; proofs allow ${MAX_MSG_LENGTH}`);
  }
  const at = indexOf(txNoWitness, msg);
  if (at < 0) throw otsError(OtsErrorCode.MSG_NOT_IN_TX, "the transaction does not contain the message");
  const prefix = txNoWitness.slice(0, at);
  const suffix = txNoWitness.slice(at + msg.length);
  // An empty prepend/append is not a valid op; where the message sits at an
  // edge of the transaction there is simply nothing to add on that side.
  const ops: Op[] = [];
  if (prefix.length > 0) ops.push(prepend(prefix));
  if (suffix.length > 0) ops.push(append(suffix));
  ops.push(SHA256, SHA256);
  return ops;
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  if (needle.length === 0) return -1;
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

export type BitcoinProof = {
  /** The timestamp rooted at `msg`, ending in the Bitcoin attestation. */
  timestamp: Timestamp;
  /** The ops alone, message → merkle root. */
  ops: Op[];
  txid: Uint8Array;
  merkleRoot: Uint8Array;
};

/**
 * Build the proof that `msg`, committed to by `txNoWitness`, existed when the
 * block at `height` with txids `blockTxids` (in block order) was mined.
 */
export function makeBitcoinProof(args: {txNoWitness: Uint8Array; msg: Uint8Array; blockTxids: readonly Uint8Array[]; height: number}): BitcoinProof {
  const txOps = txCommitmentOps(args.txNoWitness, args.msg);
  const txid = sha256d(args.txNoWitness);
  const index = args.blockTxids.findIndex((t) => bytesEqual(t, txid));
  if (index < 0) throw otsError(OtsErrorCode.TX_NOT_IN_BLOCK, `transaction ${toDisplayHex(txid)} is not in the block`);
  const merkle = bitcoinMerklePath(args.blockTxids, index);
  const ops = [...txOps, ...merkle.ops];
  return {timestamp: timestampFromPath(args.msg, ops, [bitcoin(args.height)]), ops, txid, merkleRoot: merkle.root};
}

/** Result of checking a Bitcoin attestation's message against a block header. */
export type BitcoinAttestationCheck = {ok: true; time: number} | {ok: false; reason: string};

/** The attested message must be the header's merkle root, in internal byte order. */
export function checkBitcoinAttestation(msg: Uint8Array, header: Uint8Array): BitcoinAttestationCheck {
  if (header.length !== BLOCK_HEADER_LENGTH) throw otsError(OtsErrorCode.BAD_BLOCK_HEADER, `a block header is 80 bytes, got ${header.length}`);
  const h = decodeBlockHeader(header);
  if (msg.length !== 32) return {ok: false, reason: `attested message is ${msg.length} bytes, a merkle root is 32`};
  if (!bytesEqual(msg, h.merkleRoot)) return {ok: false, reason: "Digest does not match merkleroot"};
  return {ok: true, time: h.time};
}
