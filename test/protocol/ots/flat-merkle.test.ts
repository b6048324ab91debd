import {suite} from "uvu";
import * as assert from "uvu/assert";
import {hash} from "node:crypto";
import {FlatMerkleTree} from "../../../protocol/ots/flat-merkle.ts";
import {applyOps, ByteWriter, encodeOp, MerkleTree, sha256, toHex} from "../../../protocol/ots/index.ts";
import type {Op} from "../../../protocol/ots/index.ts";
import {Rng} from "../../support/rng.ts";

const nativeSha256 = (data: Uint8Array): Uint8Array => hash("sha256", data, "buffer");

function encodeOps(ops: readonly Op[]): Uint8Array {
  const w = new ByteWriter();
  for (const op of ops) encodeOp(op, w);
  return w.finish();
}

function flatLeaves(leaves: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(leaves.length * 32);
  leaves.forEach((l, i) => out.set(l, i * 32));
  return out;
}

/** Compare the flat tree with MerkleTree on every leaf: root, leaf, path and pathBytes. */
function assertSameTree(leaves: readonly Uint8Array[], sha = sha256): void {
  const n = leaves.length;
  const ref = new MerkleTree(leaves);
  const flat = new FlatMerkleTree(flatLeaves(leaves), sha);
  assert.is(flat.size, n, `n=${n} size`);
  assert.is(toHex(flat.root), toHex(ref.root), `n=${n} root`);
  for (let i = 0; i < n; i++) {
    const path = flat.path(i);
    assert.equal(path, ref.path(i), `n=${n} i=${i} path`);
    assert.is(toHex(flat.pathBytes(i)), toHex(encodeOps(path)), `n=${n} i=${i} pathBytes`);
    assert.is(toHex(flat.leaf(i)), toHex(leaves[i] as Uint8Array), `n=${n} i=${i} leaf`);
    assert.is(toHex(applyOps(path, flat.leaf(i))), toHex(flat.root), `n=${n} i=${i} evaluates to the root`);
  }
}

// ---

const Flat = suite("protocol/ots/flat-merkle FlatMerkleTree");

Flat("should equal MerkleTree for every size 1..70 :: root, every path and pathBytes", () => {
  const rng = new Rng(1);
  for (let n = 1; n <= 70; n++) assertSameTree(Array.from({length: n}, () => rng.bytes(32)));
});

Flat("should equal MerkleTree for big random sizes :: 1000..5000 leaves", () => {
  const rng = new Rng(2);
  for (const n of [1023, 1024, 1025, 1000 + rng.int(4000), 1000 + rng.int(4000)]) {
    assertSameTree(Array.from({length: n}, () => rng.bytes(32)), nativeSha256);
  }
});

Flat("should give the same tree with the pure and a native sha256 :: injected hash", () => {
  const leaves = new Rng(3).bytes(32 * 77);
  const a = new FlatMerkleTree(leaves);
  const b = new FlatMerkleTree(leaves, nativeSha256);
  assert.is(toHex(a.root), toHex(b.root));
  assert.is(toHex(a.pathBytes(76)), toHex(b.pathBytes(76)));
});

Flat("should keep the leaves as level 0 without copying :: documented ownership", () => {
  const leaves = new Rng(4).bytes(32 * 5);
  const t = new FlatMerkleTree(leaves);
  assert.is(t.leaf(2).buffer, leaves.buffer);
  assert.is(toHex(t.leaf(2)), toHex(leaves.subarray(64, 96)));
});

Flat("should have a one-leaf tree whose root is the leaf and whose path is empty :: n=1", () => {
  const leaf = new Rng(5).bytes(32);
  const t = new FlatMerkleTree(leaf);
  assert.is(toHex(t.root), toHex(leaf));
  assert.equal(t.path(0), []);
  assert.is(t.pathBytes(0).length, 0);
});

Flat("should carry an odd last leaf up with no op :: n=5, leaf 4", () => {
  const t = new FlatMerkleTree(new Rng(6).bytes(32 * 5));
  assert.is(t.path(4).length, 2);
  assert.is(t.pathBytes(4).length, 35);
  assert.is(t.path(0).length, 6);
});

Flat("should hand out path arguments that do not alias the tree :: copies", () => {
  const t = new FlatMerkleTree(new Rng(7).bytes(32 * 4));
  const before = toHex(t.root);
  const op = t.path(0)[0] as {arg: Uint8Array};
  op.arg.fill(0);
  assert.is(toHex(t.root), before);
  assert.equal(t.path(0)[0], new MerkleTree([t.leaf(0), t.leaf(1), t.leaf(2), t.leaf(3)]).path(0)[0]);
});

Flat("should refuse bad leaves and bad indexes :: errors", () => {
  assert.throws(() => new FlatMerkleTree(new Uint8Array(0)), RangeError);
  assert.throws(() => new FlatMerkleTree(new Uint8Array(33)), RangeError);
  assert.throws(() => new FlatMerkleTree(new Uint8Array(64), () => new Uint8Array(31)), RangeError);
  const t = new FlatMerkleTree(new Uint8Array(96));
  for (const bad of [-1, 3, 1.5, Number.NaN]) {
    assert.throws(() => t.leaf(bad), RangeError, `leaf ${bad}`);
    assert.throws(() => t.path(bad), RangeError, `path ${bad}`);
    assert.throws(() => t.pathBytes(bad), RangeError, `pathBytes ${bad}`);
  }
});

Flat.run();
