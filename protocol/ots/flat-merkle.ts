/**
 * The OpenTimestamps merkle tree (merkle.ts, PROTOCOL-NOTES §1.6) laid out
 * flat for the stamper, which covers up to a million leaves per stamp: every
 * node is 32 bytes inside a contiguous buffer, with no object per node, so a
 * tree over n leaves costs about 2n × 32 bytes and the garbage collector sees
 * a handful of objects. Roots and paths are exactly MerkleTree's: pairs
 * (0,1), (2,3)… hash as sha256(left ‖ right) and an odd last node is carried
 * up unchanged with no op.
 */
import {sha256 as pureSha256} from "./hashes.ts";
import {append, OpTag, prepend, SHA256} from "./ops.ts";
import type {Op} from "./ops.ts";

/** A sha256 implementation: bytes in, 32 bytes out (node/ passes a native one). */
export type Sha256Fn = (data: Uint8Array) => Uint8Array;

const NODE = 32;
/**
 * One level of a path, encoded: `f0|f1 20 <sibling 32> 08`, i.e. encodeOp of
 * append|prepend(sibling) then of sha256. The argument length 32 is a
 * one-byte varuint, so every level is exactly this long.
 */
const PATH_LEVEL_BYTES = 1 + 1 + NODE + 1;

/** Nodes above the leaves: ⌈n/2⌉ + ⌈n/4⌉ + … + 1. */
function upperNodes(leaves: Uint8Array): number {
  if (leaves.length === 0 || leaves.length % NODE !== 0) throw new RangeError(`leaves must be a non-empty multiple of ${NODE} bytes, got ${leaves.length}`);
  let total = 0;
  for (let n = leaves.length / NODE; n > 1; n = Math.ceil(n / 2)) total += Math.ceil(n / 2);
  return total;
}

/**
 * Every level above the leaves, lowest first, in one buffer: pairs (0,1),
 * (2,3)… hash as sha256(left ‖ right), an odd last node is carried up.
 */
export function hashUpperLevels(leaves: Uint8Array, sha256: Sha256Fn = pureSha256): Uint8Array {
  const upper = new Uint8Array(upperNodes(leaves) * NODE);
  let cur = leaves;
  let at = 0;
  while (cur.length > NODE) {
    const nodes = cur.length / NODE;
    const next = upper.subarray(at, at + Math.ceil(nodes / 2) * NODE);
    // A pair is already contiguous in its level: hash the 64-byte view in place.
    for (let i = 0; i + 1 < nodes; i += 2) {
      const h = sha256(cur.subarray(i * NODE, (i + 2) * NODE));
      if (h.length !== NODE) throw new RangeError(`sha256 returned ${h.length} bytes`);
      next.set(h, (i / 2) * NODE);
    }
    if (nodes % 2 === 1) next.set(cur.subarray((nodes - 1) * NODE), ((nodes - 1) / 2) * NODE);
    at += next.length;
    cur = next;
  }
  return upper;
}

/** A built tree over `n` 32-byte leaves. */
export class FlatMerkleTree {
  /** Level 0 (the caller's leaves, kept) and the levels above it, each contiguous; the last holds only the root. */
  private readonly levels: Uint8Array[];

  /**
   * `leaves` holds n × 32 bytes (n ≥ 1). It is KEPT as level 0, not copied
   * (a million leaves are 32 MB): the caller must not change it afterwards.
   * Every level above it lives in one buffer: hashed here, or `upper` as
   * `hashUpperLevels` returned it elsewhere (node/ hashes big trees on a
   * worker thread so that the event loop keeps serving).
   */
  constructor(leaves: Uint8Array, sha256: Sha256Fn = pureSha256, upper?: Uint8Array) {
    const above = upper ?? hashUpperLevels(leaves, sha256);
    if (above.length !== upperNodes(leaves) * NODE) throw new RangeError(`upper levels must be ${upperNodes(leaves) * NODE} bytes, got ${above.length}`);
    const levels = [leaves];
    let at = 0;
    for (let n = leaves.length / NODE; n > 1; n = Math.ceil(n / 2)) {
      const next = above.subarray(at, at + Math.ceil(n / 2) * NODE);
      levels.push(next);
      at += next.length;
    }
    this.levels = levels;
  }

  get size(): number {
    return (this.levels[0] as Uint8Array).length / NODE;
  }

  /** A view of the root (the leaf itself for a one-leaf tree). */
  get root(): Uint8Array {
    return this.levels[this.levels.length - 1] as Uint8Array;
  }

  /** A view of leaf `index`. */
  leaf(index: number): Uint8Array {
    this.checkIndex(index);
    return (this.levels[0] as Uint8Array).subarray(index * NODE, (index + 1) * NODE);
  }

  /** The ops from leaf `index` to the root, equal to MerkleTree.path; the siblings are copies. */
  path(index: number): Op[] {
    const ops: Op[] = [];
    this.walk(index, (isLeft, sibling) => ops.push(isLeft ? append(sibling.slice()) : prepend(sibling.slice()), SHA256));
    return ops;
  }

  /**
   * The encoded ops of path(index), concatenated as encodeTimestamp writes a
   * linear path. Written directly (not through encodeOp) so serving a proof
   * builds no Op objects; the tests hold it equal to encoding path().
   */
  pathBytes(index: number): Uint8Array {
    // One walk straight into a buffer sized for the deepest path (this is
    // the hot path of serving proofs), trimmed to what was written.
    this.checkIndex(index);
    const out = new Uint8Array((this.levels.length - 1) * PATH_LEVEL_BYTES);
    let p = 0;
    let i = index;
    for (let lv = 0; lv < this.levels.length - 1; lv++) {
      const level = this.levels[lv] as Uint8Array;
      const isLeft = (i & 1) === 0;
      const s = isLeft ? i + 1 : i - 1;
      if (s * NODE < level.length) {
        out[p] = isLeft ? OpTag.append : OpTag.prepend;
        out[p + 1] = NODE;
        out.set(level.subarray(s * NODE, (s + 1) * NODE), p + 2);
        out[p + 2 + NODE] = OpTag.sha256;
        p += PATH_LEVEL_BYTES;
      }
      i = Math.floor(i / 2);
    }
    return out.subarray(0, p);
  }


  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) throw new RangeError(`leaf ${index} out of range`);
  }

  /** Call `level` for each level where leaf `index` has a sibling, bottom-up; a carried node has none. */
  private walk(index: number, level: (isLeft: boolean, sibling: Uint8Array) => void): void {
    this.checkIndex(index);
    let i = index;
    for (let lv = 0; lv < this.levels.length - 1; lv++) {
      const nodes = (this.levels[lv] as Uint8Array).length / NODE;
      const isLeft = i % 2 === 0;
      const s = isLeft ? i + 1 : i - 1;
      if (s < nodes) level(isLeft, (this.levels[lv] as Uint8Array).subarray(s * NODE, (s + 1) * NODE));
      i = Math.floor(i / 2);
    }
  }
}
