/**
 * The OpenTimestamps merkle tree (PROTOCOL-NOTES §1.6, python
 * `make_merkle_tree` with `cat_sha256`), used by clients, the aggregator and
 * the stamper. Pairs (0,1), (2,3)…; the left node takes `append(right)`, the
 * right node `prepend(left)`, both then `sha256`; an odd last node is carried
 * up unchanged (not duplicated as in Bitcoin). Upstream guarantees it never
 * changes, and federated nodes depend on agreeing on it.
 */
import {sha256} from "./hashes.ts";
import {append, prepend, SHA256} from "./ops.ts";
import type {Op} from "./ops.ts";

/** sha256(left ‖ right). */
export function catSha256(left: Uint8Array, right: Uint8Array): Uint8Array {
  const buf = new Uint8Array(left.length + right.length);
  buf.set(left, 0);
  buf.set(right, left.length);
  return sha256(buf);
}

/**
 * A built tree. It keeps every level so a leaf's path costs O(log n) and
 * nothing per leaf is stored up front (a stamp can cover a million leaves).
 */
export class MerkleTree {
  /** levels[0] are the leaves; the last level holds only the root. */
  private readonly levels: Uint8Array[][];

  constructor(leaves: readonly Uint8Array[]) {
    if (leaves.length === 0) throw new RangeError("a merkle tree needs at least one leaf");
    const levels: Uint8Array[][] = [leaves.slice()];
    let cur = levels[0] as Uint8Array[];
    while (cur.length > 1) {
      const next: Uint8Array[] = [];
      for (let i = 0; i + 1 < cur.length; i += 2) next.push(catSha256(cur[i] as Uint8Array, cur[i + 1] as Uint8Array));
      if (cur.length % 2 === 1) next.push(cur[cur.length - 1] as Uint8Array);
      levels.push(next);
      cur = next;
    }
    this.levels = levels;
  }

  get size(): number {
    return (this.levels[0] as Uint8Array[]).length;
  }

  get root(): Uint8Array {
    return (this.levels[this.levels.length - 1] as Uint8Array[])[0] as Uint8Array;
  }

  leaf(index: number): Uint8Array {
    const l = (this.levels[0] as Uint8Array[])[index];
    if (l === undefined) throw new RangeError(`leaf ${index} out of range`);
    return l;
  }

  /** The ops from leaf `index` to the root. */
  path(index: number): Op[] {
    this.leaf(index);
    const ops: Op[] = [];
    let i = index;
    for (let lv = 0; lv < this.levels.length - 1; lv++) {
      const level = this.levels[lv] as Uint8Array[];
      if (i % 2 === 0) {
        // A lone last node is carried up with no op.
        if (i + 1 < level.length) ops.push(append(level[i + 1] as Uint8Array), SHA256);
      } else {
        ops.push(prepend(level[i - 1] as Uint8Array), SHA256);
      }
      i = Math.floor(i / 2);
    }
    return ops;
  }
}
