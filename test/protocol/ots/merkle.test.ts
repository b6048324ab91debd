import {suite} from "uvu";
import * as assert from "uvu/assert";
import {applyOps, catSha256, MerkleTree, toHex} from "../../../protocol/ots/index.ts";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

// ---

const tree = suite("protocol/ots MerkleTree");

const ROOTS = [
  "00",
  "b413f47d13ee2fe6c845b2ee141af81de858df4ec549a58b7970bb96645bc8d2",
  "e6aa639123d8aac95d13d365ec3779dade4b49c083a8fed97d7bfc0d89bb6a5e",
  "7699a4fdd6b8b6908a344f73b8f05c8e1400f7253f544602c442ff5c65504b24",
  "aaa9609d0c949fee22c1c941a4432f32dc1c2de939e4af25207f0dc62df0dbd8",
  "ebdb4245f648b7e77b60f4f8a99a6d0529d1d372f98f35478b3284f16da93c06",
  "ba4603a311279dea32e8958bfb660c86237157bf79e6bfee857803e811d91b8f",
];

tree("should match the reference roots for leaves 0..n-1 :: PROTOCOL-NOTES §1.6", () => {
  ROOTS.forEach((root, i) => {
    const leaves = Array.from({length: i + 1}, (_, j) => Uint8Array.of(j));
    assert.is(toHex(new MerkleTree(leaves).root), root, `n=${i + 1}`);
  });
});

tree("should give every leaf a path that evaluates to the root :: paths", () => {
  for (let n = 1; n <= 70; n++) {
    const leaves = Array.from({length: n}, (_, j) => Uint8Array.of(j, j >> 8, 7));
    const t = new MerkleTree(leaves);
    for (let i = 0; i < n; i++) assert.is(toHex(applyOps(t.path(i), leaves[i] as Uint8Array)), toHex(t.root), `n=${n} i=${i}`);
  }
});

tree("should carry an odd leaf up without an op :: odd node", () => {
  const t = new MerkleTree([Uint8Array.of(0), Uint8Array.of(1), Uint8Array.of(2), Uint8Array.of(3), Uint8Array.of(4)]);
  assert.is(t.path(4).length, 2); // one prepend+sha256 at the top only
  assert.is(t.path(0).length, 6);
});

tree("should refuse an empty leaf list :: errors", () => {
  assert.throws(() => new MerkleTree([]), RangeError);
});

tree.run();

// ---

const cat = suite("protocol/ots catSha256");

cat("should match the reference vectors :: test_timestamp.py", () => {
  const foobar = catSha256(enc("foo"), enc("bar"));
  assert.is(toHex(foobar), "c3ab8ff13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2");
  assert.is(toHex(catSha256(foobar, enc("baz"))), "23388b16c66f1fa37ef14af8eb081712d570813e2afb8c8ae86efa726f3b7276");
});

cat.run();
