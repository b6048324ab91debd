import {sha256d} from "./hash.ts";

/**
 * Bitcoin's block merkle root over txids in internal byte order: pairs are
 * double-SHA-256'd and an odd last node is paired with itself (unlike the
 * OpenTimestamps tree, which carries it up). An empty list has no root.
 */
export function bitcoinMerkleRoot(txids: readonly Uint8Array[]): Uint8Array | null {
  if (txids.length === 0) return null;
  let level = txids.slice();
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Uint8Array;
      const right = level[i + 1] ?? left;
      const pair = new Uint8Array(64);
      pair.set(left, 0);
      pair.set(right, 32);
      next.push(sha256d(pair));
    }
    level = next;
  }
  return level[0] as Uint8Array;
}
