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

/** A txid, a block merkle node and a branch entry are all this long. */
export const BITCOIN_HASH_SIZE = 32;
/** 2^32 transactions would not fit a block; a longer branch is malformed. */
export const MAX_BITCOIN_BRANCH = 32;

/**
 * Bitcoin's block merkle tree over txids (internal byte order): an odd level
 * duplicates its last node (unlike the OpenTimestamps tree). Returns the root
 * and the sibling hashes from txid `index` upward, one per level, which is
 * all a proof for that txid needs (bitcoinBranchOps).
 */
export function bitcoinMerkleBranch(txids: readonly Uint8Array[], index: number): {root: Uint8Array; branch: Uint8Array[]} {
  if (!Number.isInteger(index) || index < 0 || index >= txids.length) throw new RangeError(`tx index ${index} out of range`);
  for (const t of txids) if (t.length !== BITCOIN_HASH_SIZE) throw new RangeError(`a txid is ${BITCOIN_HASH_SIZE} bytes, got ${t.length}`);
  const branch: Uint8Array[] = [];
  let level = txids.slice();
  let i = index;
  const pair = new Uint8Array(2 * BITCOIN_HASH_SIZE);
  while (level.length > 1) {
    if (level.length % 2 === 1) level.push(level[level.length - 1] as Uint8Array);
    branch.push(level[i % 2 === 0 ? i + 1 : i - 1] as Uint8Array);
    const next: Uint8Array[] = [];
    for (let j = 0; j < level.length; j += 2) {
      pair.set(level[j] as Uint8Array, 0);
      pair.set(level[j + 1] as Uint8Array, BITCOIN_HASH_SIZE);
      next.push(sha256d(pair));
    }
    level = next;
    i = Math.floor(i / 2);
  }
  return {root: level[0] as Uint8Array, branch};
}

/**
 * The ops a block merkle branch adds above txid `index`: per level,
 * `append(sibling)` when the index bit is 0 (our node is the left one), else
 * `prepend(sibling)`, then sha256, sha256. Requires `index < 2^branch.length`,
 * so every bit of the index is used and none is silently dropped.
 */
export function bitcoinBranchOps(index: number, branch: readonly Uint8Array[]): Op[] {
  if (branch.length > MAX_BITCOIN_BRANCH) throw new RangeError(`branch of ${branch.length} levels; at most ${MAX_BITCOIN_BRANCH}`);
  if (!Number.isInteger(index) || index < 0 || index >= 2 ** branch.length) throw new RangeError(`tx index ${index} does not fit a branch of ${branch.length} levels`);
  const ops: Op[] = [];
  let i = index;
  for (const sibling of branch) {
    if (sibling.length !== BITCOIN_HASH_SIZE) throw new RangeError(`a branch hash is ${BITCOIN_HASH_SIZE} bytes, got ${sibling.length}`);
    ops.push(i % 2 === 0 ? append(sibling) : prepend(sibling), SHA256, SHA256);
    // Division, not >>: an index may reach 2^32 - 1, past int32.
    i = Math.floor(i / 2);
  }
  return ops;
}

/** The block merkle root and the ops from txid `index` to it. */
export function bitcoinMerklePath(txids: readonly Uint8Array[], index: number): {root: Uint8Array; ops: Op[]} {
  const {root, branch} = bitcoinMerkleBranch(txids, index);
  return {root, ops: bitcoinBranchOps(index, branch)};
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
