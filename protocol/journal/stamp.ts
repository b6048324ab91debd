/**
 * The STAMP record payload (kind 2): a set of rounds anchored in a Bitcoin
 * block, with everything every covered commitment's proof is derived from
 * (protocol/journal/README.md "Stamps"), and STAMP_REVOKED (kind 3).
 *
 *   rangeCount  varuint  1..MAX_STAMP_RANGES
 *   per range:  from varuint, count varuint (≥ 1)    seqs [from, from+count)
 *   leaves      varuint  1..2^32, ROUND records inside the ranges (≤ seqs covered)
 *   root        32       OTS merkle root over sha256(commitment) of those rounds
 *   txLength    varuint  1..4096, then the tx without witness (contains root)
 *   height      varuint  0..2^32-1
 *   blockHash   32       internal byte order
 *   txIndex     varuint  < 2^branchCount
 *   branchCount varuint  0..32, then 32 × branchCount sibling hashes, txid level first
 *   feeSats     varuint  ≤ 21 million BTC
 *   vsize       varuint  txLength..1,000,000
 *
 * Journal seqs are shared by every record kind, so a range may also cover
 * STAMP records; those are not leaves. Which seqs are rounds is the
 * journal's business; the payload only keeps the ranges canonical (sorted,
 * disjoint, non-adjacent) so one set of rounds has one encoding.
 */
import {MAX_BITCOIN_BRANCH} from "../ots/bitcoin.ts";
import {MAX_MSG_LENGTH} from "../ots/ops.ts";
import {JournalError, journalError, JournalErrorCode} from "./errors.ts";
import {MAX_RECORD_PAYLOAD} from "./record.ts";
import {readVaruintStrict, varuintSize, writeVaruintAt} from "./varint.ts";

/** Half-open journal sequence range [from, to). */
export type SeqRange = {from: number; to: number};

/** A confirmed stamp (kind 2). Decoded byte fields are views into the payload. */
export type StampRecord = {
  /** Sorted, each non-empty, disjoint and non-adjacent (adjacent ranges are merged); 1..MAX_STAMP_RANGES. */
  ranges: SeqRange[];
  /** ROUND records inside the ranges: the tree's leaves, 1..2^32. */
  leaves: number;
  /** The OTS merkle root over the leaves, 32 bytes. */
  root: Uint8Array;
  /** The transaction serialized without witness (the txid preimage), 1..4096 bytes, containing `root`. */
  tx: Uint8Array;
  /** Height of the block that holds the tx. */
  height: number;
  /** That block's hash, 32 bytes, internal byte order. */
  blockHash: Uint8Array;
  /** The tx's position in the block. */
  txIndex: number;
  /** Block merkle branch: sibling hashes from the txid level upward, 0..32 × 32 bytes; txIndex < 2^branch.length. */
  branch: Uint8Array[];
  /** Fee paid, in satoshis. */
  feeSats: number;
  /** The tx's virtual size in vbytes. */
  vsize: number;
};

/** A revoked stamp (kind 3): its block left the best chain, so its rounds are pending again. */
export type StampRevokedRecord = {
  /** Seq of the STAMP record revoked. */
  stampSeq: number;
  /** Chain height when the reorg was seen. */
  height: number;
};

/**
 * Most ranges in one stamp. With every other field at its limit a valid
 * stamp still fits a record: ranges take at most 4096 × 8 bytes of `from`
 * plus about 26.6 KB of counts (counts share 2^53 seqs, so few can be long),
 * about 64.6 KB in all against MAX_RECORD_PAYLOAD's 65,536.
 */
export const MAX_STAMP_RANGES = 4096;
/** Most leaves in one stamp. */
export const MAX_STAMP_LEAVES = 2 ** 32;
/** The tx must be a valid op argument, so a proof through it can be read (PROTOCOL-NOTES §3.5 size limit). */
export const MAX_STAMP_TX_LENGTH = MAX_MSG_LENGTH;
/** Bitcoin's nHeight is a 32-bit field. */
export const MAX_STAMP_HEIGHT = 0xffffffff;
/** 21 million BTC in satoshis: no fee can exceed it. */
export const MAX_STAMP_FEE_SATS = 21_000_000 * 100_000_000;
/** A block's weight limit (4,000,000 WU) in vbytes: no tx is larger. */
export const MAX_STAMP_VSIZE = 1_000_000;
/** Root, block hash and branch entries. */
export const STAMP_HASH_SIZE = 32;

/**
 * Why `s` is not a valid stamp, or null. Shared by the encoder (RangeError)
 * and the decoder (BAD_PAYLOAD) so both enforce the same rules.
 */
function stampProblem(s: StampRecord): string | null {
  const r = rangesProblem(s.ranges);
  if (r !== null) return r;
  if (!inRange(s.leaves, 1, MAX_STAMP_LEAVES)) return `stamp leaves out of range: ${s.leaves}`;
  let covered = 0;
  for (const x of s.ranges) covered += x.to - x.from;
  if (s.leaves > covered) return `stamp has ${s.leaves} leaves but its ranges cover ${covered} records`;
  if (s.root.length !== STAMP_HASH_SIZE) return `stamp root is ${s.root.length} bytes, not ${STAMP_HASH_SIZE}`;
  if (s.tx.length < 1 || s.tx.length > MAX_STAMP_TX_LENGTH) return `stamp tx is ${s.tx.length} bytes, allowed 1..${MAX_STAMP_TX_LENGTH}`;
  if (!containsBytes(s.tx, s.root)) return "stamp tx does not contain the root";
  if (!inRange(s.height, 0, MAX_STAMP_HEIGHT)) return `stamp height out of range: ${s.height}`;
  if (s.blockHash.length !== STAMP_HASH_SIZE) return `stamp block hash is ${s.blockHash.length} bytes, not ${STAMP_HASH_SIZE}`;
  if (s.branch.length > MAX_BITCOIN_BRANCH) return `stamp branch has ${s.branch.length} levels, at most ${MAX_BITCOIN_BRANCH}`;
  for (const b of s.branch) if (b.length !== STAMP_HASH_SIZE) return `stamp branch hash is ${b.length} bytes, not ${STAMP_HASH_SIZE}`;
  // A branch of L levels addresses 2^L txs; a larger index would lose bits.
  if (!inRange(s.txIndex, 0, 2 ** s.branch.length - 1)) return `stamp tx index ${s.txIndex} does not fit a branch of ${s.branch.length} levels`;
  if (!inRange(s.feeSats, 0, MAX_STAMP_FEE_SATS)) return `stamp fee out of range: ${s.feeSats}`;
  // weight = 3 × base + total ≥ 4 × base, so the vsize is never below the non-witness size.
  if (!inRange(s.vsize, s.tx.length, MAX_STAMP_VSIZE)) return `stamp vsize ${s.vsize} out of range ${s.tx.length}..${MAX_STAMP_VSIZE}`;
  return null;
}

function rangesProblem(ranges: readonly SeqRange[]): string | null {
  if (ranges.length < 1 || ranges.length > MAX_STAMP_RANGES) return `stamp has ${ranges.length} ranges, allowed 1..${MAX_STAMP_RANGES}`;
  let prevTo = -1;
  for (const {from, to} of ranges) {
    if (!inRange(from, 0, Number.MAX_SAFE_INTEGER) || !inRange(to, 0, Number.MAX_SAFE_INTEGER)) return `bad range [${from}, ${to})`;
    if (to <= from) return `empty range [${from}, ${to})`;
    // `from === prevTo` would be two adjacent ranges: canonical form merges them.
    if (from <= prevTo) return `range [${from}, ${to}) overlaps, touches or precedes the one before`;
    prevTo = to;
  }
  return null;
}

function inRange(v: number, min: number, max: number): boolean {
  return Number.isSafeInteger(v) && v >= min && v <= max;
}

function containsBytes(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/** Encode a STAMP payload; throws RangeError on an invalid stamp (including one too big for a record). */
export function encodeStamp(s: StampRecord): Uint8Array {
  const problem = stampProblem(s);
  if (problem !== null) throw new RangeError(problem);
  let size = varuintSize(s.ranges.length);
  for (const r of s.ranges) size += varuintSize(r.from) + varuintSize(r.to - r.from);
  size += varuintSize(s.leaves) + STAMP_HASH_SIZE + varuintSize(s.tx.length) + s.tx.length + varuintSize(s.height) + STAMP_HASH_SIZE;
  size += varuintSize(s.txIndex) + varuintSize(s.branch.length) + STAMP_HASH_SIZE * s.branch.length + varuintSize(s.feeSats) + varuintSize(s.vsize);
  // Unreachable for a valid stamp (see MAX_STAMP_RANGES); kept so a change of limits cannot write a record no reader takes.
  if (size > MAX_RECORD_PAYLOAD) throw new RangeError(`stamp payload is ${size} bytes, a record holds ${MAX_RECORD_PAYLOAD}`);
  const out = new Uint8Array(size);
  let p = writeVaruintAt(out, 0, s.ranges.length);
  for (const r of s.ranges) {
    p = writeVaruintAt(out, p, r.from);
    p = writeVaruintAt(out, p, r.to - r.from);
  }
  p = writeVaruintAt(out, p, s.leaves);
  out.set(s.root, p);
  p = writeVaruintAt(out, p + STAMP_HASH_SIZE, s.tx.length);
  out.set(s.tx, p);
  p = writeVaruintAt(out, p + s.tx.length, s.height);
  out.set(s.blockHash, p);
  p = writeVaruintAt(out, p + STAMP_HASH_SIZE, s.txIndex);
  p = writeVaruintAt(out, p, s.branch.length);
  for (const b of s.branch) {
    out.set(b, p);
    p += STAMP_HASH_SIZE;
  }
  p = writeVaruintAt(out, p, s.feeSats);
  writeVaruintAt(out, p, s.vsize);
  return out;
}

/**
 * Decode a STAMP payload exactly. Anything wrong (short, trailing bytes,
 * non-minimal or out-of-range numbers, a rule of StampRecord broken) is a
 * JournalError BAD_PAYLOAD. Counts are checked against the bytes left before
 * anything is allocated. Byte fields are views into `payload`.
 */
export function decodeStamp(payload: Uint8Array): StampRecord {
  return asBadPayload("stamp", () => {
    let p = 0;
    const uint = (max: number): number => {
      const r = readVaruintStrict(payload, p, max);
      p = r.end;
      return r.value;
    };
    const bytes = (n: number, what: string): Uint8Array => {
      if (n > payload.length - p) throw journalError(JournalErrorCode.BAD_PAYLOAD, `stamp ${what} runs past the end`, p);
      p += n;
      return payload.subarray(p - n, p);
    };
    const rangeCount = uint(MAX_STAMP_RANGES);
    // Each range takes at least two bytes.
    if (rangeCount * 2 > payload.length - p) throw journalError(JournalErrorCode.BAD_PAYLOAD, `stamp claims ${rangeCount} ranges, more than the bytes left`, p);
    const ranges: SeqRange[] = [];
    for (let i = 0; i < rangeCount; i++) {
      const from = uint(Number.MAX_SAFE_INTEGER);
      const count = uint(Number.MAX_SAFE_INTEGER - from);
      ranges.push({from, to: from + count});
    }
    const leaves = uint(MAX_STAMP_LEAVES);
    const root = bytes(STAMP_HASH_SIZE, "root");
    const tx = bytes(uint(MAX_STAMP_TX_LENGTH), "tx");
    const height = uint(MAX_STAMP_HEIGHT);
    const blockHash = bytes(STAMP_HASH_SIZE, "block hash");
    const txIndex = uint(MAX_STAMP_LEAVES - 1);
    const branchCount = uint(MAX_BITCOIN_BRANCH);
    const branchBytes = bytes(branchCount * STAMP_HASH_SIZE, "branch");
    const branch: Uint8Array[] = [];
    for (let i = 0; i < branchCount; i++) branch.push(branchBytes.subarray(i * STAMP_HASH_SIZE, (i + 1) * STAMP_HASH_SIZE));
    const feeSats = uint(MAX_STAMP_FEE_SATS);
    const vsize = uint(MAX_STAMP_VSIZE);
    if (p !== payload.length) throw journalError(JournalErrorCode.BAD_PAYLOAD, `${payload.length - p} trailing bytes after the stamp`, p);
    const s: StampRecord = {ranges, leaves, root, tx, height, blockHash, txIndex, branch, feeSats, vsize};
    const problem = stampProblem(s);
    if (problem !== null) throw journalError(JournalErrorCode.BAD_PAYLOAD, problem);
    return s;
  });
}

/** Encode a STAMP_REVOKED payload: `stampSeq varuint ‖ height varuint`. */
export function encodeStampRevoked(r: StampRevokedRecord): Uint8Array {
  if (!inRange(r.stampSeq, 0, Number.MAX_SAFE_INTEGER)) throw new RangeError(`revoked stamp seq out of range: ${r.stampSeq}`);
  if (!inRange(r.height, 0, MAX_STAMP_HEIGHT)) throw new RangeError(`revocation height out of range: ${r.height}`);
  const out = new Uint8Array(varuintSize(r.stampSeq) + varuintSize(r.height));
  writeVaruintAt(out, writeVaruintAt(out, 0, r.stampSeq), r.height);
  return out;
}

/** Decode a STAMP_REVOKED payload exactly; anything wrong is BAD_PAYLOAD. */
export function decodeStampRevoked(payload: Uint8Array): StampRevokedRecord {
  return asBadPayload("stamp revocation", () => {
    const s = readVaruintStrict(payload, 0, Number.MAX_SAFE_INTEGER);
    const h = readVaruintStrict(payload, s.end, MAX_STAMP_HEIGHT);
    if (h.end !== payload.length) throw journalError(JournalErrorCode.BAD_PAYLOAD, `${payload.length - h.end} trailing bytes after the stamp revocation`, h.end);
    return {stampSeq: s.value, height: h.value};
  });
}

/** True if `seq` lies in one of the (sorted, disjoint) ranges; binary search. */
export function rangesInclude(ranges: readonly SeqRange[], seq: number): boolean {
  // Find the last range starting at or before seq; only it can hold seq.
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((ranges[mid] as SeqRange).from <= seq) lo = mid + 1;
    else hi = mid;
  }
  const r = ranges[lo - 1];
  return r !== undefined && seq < r.to;
}

/**
 * Inside a checksummed frame a short payload or a bad varuint is a malformed
 * record, not a torn tail (round.ts does the same for TRUNCATED): report
 * every failure as BAD_PAYLOAD, keeping the message and offset.
 */
function asBadPayload<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    if (e instanceof JournalError && e.code !== JournalErrorCode.BAD_PAYLOAD) {
      throw new JournalError({...e.type, code: JournalErrorCode.BAD_PAYLOAD}, `${what}: ${e.message}`);
    }
    throw e;
  }
}
