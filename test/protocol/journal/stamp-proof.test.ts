import {suite} from "uvu";
import * as assert from "uvu/assert";
import {hash} from "node:crypto";
import {bitcoin} from "../../../protocol/ots/attestations.ts";
import {bitcoinBranchOps, bitcoinMerkleBranch, bitcoinMerklePath} from "../../../protocol/ots/bitcoin.ts";
import {bytesEqual, toHex} from "../../../protocol/ots/bytes.ts";
import {FlatMerkleTree} from "../../../protocol/ots/flat-merkle.ts";
import type {Sha256Fn} from "../../../protocol/ots/flat-merkle.ts";
import {sha256, sha256d} from "../../../protocol/ots/hashes.ts";
import {applyOps, SHA256} from "../../../protocol/ots/ops.ts";
import {decodeTimestamp, encodeTimestamp, timestampFromPath} from "../../../protocol/ots/timestamp.ts";
import {listAttestations, maxPathLength} from "../../../protocol/ots/evaluate.ts";
import {bitcoinMerkleRoot} from "../../../protocol/bitcoin/merkle.ts";
import {calendarTag, roundCommitment} from "../../../protocol/journal/commitment.ts";
import {decodeStamp, encodeStamp} from "../../../protocol/journal/stamp.ts";
import type {SeqRange, StampRecord} from "../../../protocol/journal/stamp.ts";
import {encodeStampAnchor, maxStampProofSize, stampAnchorOps, stampMerkleRoot, stampProofBytes} from "../../../protocol/journal/stamp-proof.ts";
import {referenceAttestedMessages} from "../../support/reference.ts";
import {Rng} from "../../support/rng.ts";
import {withTimeout} from "../../support/timeout.ts";

const nativeSha256: Sha256Fn = (data) => hash("sha256", data, "buffer");
const TAG = calendarTag(new TextEncoder().encode("test-calendar"));

/** A stamp over real commitments, with a real block around its tx, as the stamper would journal it. */
type Built = {stamp: StampRecord; tree: FlatMerkleTree; commitments: Uint8Array[]; merkleRoot: Uint8Array};

/**
 * Rounds at some of the seqs inside random ranges (the others stand for
 * STAMP records), their commitments hashed into a tree, a tx holding the
 * root, and a block of random txids with the tx at `txIndex`.
 */
function buildStamp(rng: Rng, opts: {leaves: number; txLength: number; blockTxs: number}): Built {
  const roundSeqs: number[] = [];
  const ranges: SeqRange[] = [];
  let seq = rng.int(1000);
  while (roundSeqs.length < opts.leaves) {
    const from = seq;
    const want = Math.min(opts.leaves - roundSeqs.length, 1 + rng.int(40));
    for (let k = 0; k < want; k++) {
      roundSeqs.push(seq++);
      if (rng.int(10) === 0) seq++; // a STAMP record among the rounds: covered, not a leaf
    }
    ranges.push({from, to: seq});
    seq += 1 + rng.int(20);
  }
  const commitments = roundSeqs.map((s) => roundCommitment(rng.bytes(32), TAG, s));
  const leafBytes = new Uint8Array(commitments.length * 32);
  commitments.forEach((c, i) => leafBytes.set(sha256(c), i * 32));
  const tree = new FlatMerkleTree(leafBytes);
  return placeInBlock(rng, {ranges, leaves: opts.leaves, tree, commitments, txLength: opts.txLength, blockTxs: opts.blockTxs});
}

function placeInBlock(rng: Rng, a: {ranges: SeqRange[]; leaves: number; tree: FlatMerkleTree; commitments: Uint8Array[]; txLength: number; blockTxs: number}): Built {
  const root = a.tree.root.slice();
  const tx = rng.bytes(a.txLength);
  // At either edge sometimes: then only one of prepend/append is needed.
  const at = rng.pick([0, a.txLength - 32, rng.int(a.txLength - 32 + 1)]);
  tx.set(root, at);
  const txids = Array.from({length: a.blockTxs}, () => rng.bytes(32));
  const txIndex = rng.int(a.blockTxs);
  txids[txIndex] = sha256d(tx);
  const {root: merkleRoot, branch} = bitcoinMerkleBranch(txids, txIndex);
  const stamp: StampRecord = {
    ranges: a.ranges, leaves: a.leaves, root, tx, height: rng.int(1_000_000), blockHash: rng.bytes(32), txIndex, branch,
    feeSats: 1000 + rng.int(100_000), vsize: a.txLength + rng.int(100),
  };
  // Proofs are derived from the journaled bytes, so derive them from a decoded stamp.
  return {stamp: decodeStamp(encodeStamp(stamp)), tree: a.tree, commitments: a.commitments, merkleRoot};
}

/** The proof built the slow, obviously right way: a Timestamp tree, encoded. */
function expectedProof(b: Built, i: number): Uint8Array {
  const ops = [SHA256, ...b.tree.path(i), ...stampAnchorOps(b.stamp)];
  return encodeTimestamp(timestampFromPath(b.commitments[i] as Uint8Array, ops, [bitcoin(b.stamp.height)]));
}

/** Decode `proof` from the commitment: one Bitcoin attestation, on the block merkle root. */
function assertProves(b: Built, i: number, proof: Uint8Array, label: string): void {
  const atts = listAttestations(decodeTimestamp(proof, b.commitments[i] as Uint8Array));
  assert.is(atts.length, 1, `${label}: one attestation`);
  assert.equal(atts[0]?.attestation, {kind: "bitcoin", height: b.stamp.height}, `${label}: attestation`);
  assert.is(toHex(atts[0]?.msg as Uint8Array), toHex(b.merkleRoot), `${label}: reaches the block merkle root`);
}

// ---
const Branch = suite("protocol/ots/bitcoin bitcoinMerkleBranch/bitcoinBranchOps");

Branch("should give Bitcoin's merkle root and a branch that reaches it :: 1..40 txs, every index", () => {
  const rng = new Rng(21);
  for (let n = 1; n <= 40; n++) {
    const txids = Array.from({length: n}, () => rng.bytes(32));
    const expectedRoot = bitcoinMerkleRoot(txids) as Uint8Array;
    for (let i = 0; i < n; i++) {
      const {root, branch} = bitcoinMerkleBranch(txids, i);
      assert.is(toHex(root), toHex(expectedRoot), `n=${n} i=${i} root`);
      assert.is(branch.length, Math.ceil(Math.log2(n)), `n=${n} i=${i} one sibling per level`);
      const ops = bitcoinBranchOps(i, branch);
      assert.is(toHex(applyOps(ops, txids[i] as Uint8Array)), toHex(root), `n=${n} i=${i} branch evaluates`);
      assert.equal(bitcoinMerklePath(txids, i), {root, ops}, `n=${n} i=${i} path = branch ops`);
    }
  }
});

Branch("should append when the index bit is 0 and prepend when 1 :: index 0b101", () => {
  const branch = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), new Uint8Array(32).fill(3)];
  assert.equal(bitcoinBranchOps(5, branch).map((o) => o.kind), ["prepend", "sha256", "sha256", "append", "sha256", "sha256", "prepend", "sha256", "sha256"]);
  // Index 2^32 - 1 on a 32-level branch: every bit counts, past int32.
  const full = Array.from({length: 32}, () => new Uint8Array(32));
  assert.ok(bitcoinBranchOps(2 ** 32 - 1, full).every((o, k) => k % 3 !== 0 || o.kind === "prepend"));
});

Branch("should refuse indexes the branch cannot address and malformed hashes :: RangeError", () => {
  const h = new Uint8Array(32);
  assert.throws(() => bitcoinBranchOps(2, [h]), RangeError);
  assert.throws(() => bitcoinBranchOps(1, []), RangeError);
  assert.throws(() => bitcoinBranchOps(-1, [h]), RangeError);
  assert.throws(() => bitcoinBranchOps(0, [h.subarray(1)]), RangeError);
  assert.throws(() => bitcoinBranchOps(0, Array.from({length: 33}, () => h)), RangeError);
  assert.throws(() => bitcoinMerkleBranch([h, h], 2), RangeError);
  assert.throws(() => bitcoinMerkleBranch([], 0), RangeError);
  assert.throws(() => bitcoinMerkleBranch([h, h.subarray(1)], 0), RangeError);
});

Branch.run();

// ---
const Proof = suite("protocol/journal/stamp-proof stampProofBytes");

Proof("should equal the encoded Timestamp byte for byte and prove the block :: 40 random stamps, every leaf", () => {
  const rng = new Rng(22);
  for (let t = 0; t < 40; t++) {
    const b = buildStamp(rng, {leaves: 1 + rng.int(150), txLength: 150 + rng.int(100), blockTxs: 1 + rng.int(3000)});
    assert.is(toHex(stampMerkleRoot(b.stamp)), toHex(b.merkleRoot), `stamp ${t}: claimed merkle root`);
    const anchor = encodeStampAnchor(b.stamp);
    const bound = maxStampProofSize(b.stamp.leaves, b.stamp.tx.length, b.stamp.branch.length);
    for (let i = 0; i < b.tree.size; i++) {
      const proof = stampProofBytes(b.tree.pathBytes(i), anchor);
      assert.is(toHex(proof), toHex(expectedProof(b, i)), `stamp ${t} leaf ${i}: bytes`);
      assert.ok(proof.length <= bound, `stamp ${t} leaf ${i}: ${proof.length} within ${bound}`);
      if (i === 0 || i === b.tree.size - 1 || rng.int(10) === 0) assertProves(b, i, proof, `stamp ${t} leaf ${i}`);
    }
  }
});

Proof("should cover the edges :: one leaf, one-tx block, root at both ends of the tx", () => {
  const rng = new Rng(23);
  for (const [leaves, blockTxs] of [[1, 1], [1, 2], [2, 1], [3, 7]] as const) {
    for (let t = 0; t < 6; t++) {
      const b = buildStamp(rng, {leaves, txLength: 32 + rng.int(3) * 100, blockTxs});
      const anchor = encodeStampAnchor(b.stamp);
      for (let i = 0; i < b.tree.size; i++) {
        const proof = stampProofBytes(b.tree.pathBytes(i), anchor);
        assert.is(toHex(proof), toHex(expectedProof(b, i)), `leaves ${leaves} txs ${blockTxs} #${t} leaf ${i}`);
        assertProves(b, i, proof, `leaves ${leaves} txs ${blockTxs} #${t} leaf ${i}`);
      }
    }
  }
});

Proof("should refuse a stamp whose tx does not commit to its root :: txCommitmentOps", () => {
  const b = buildStamp(new Rng(24), {leaves: 3, txLength: 200, blockTxs: 4});
  assert.throws(() => stampAnchorOps({...b.stamp, root: new Uint8Array(32).fill(0x5a)}));
});

Proof("should be accepted and evaluated alike by the reference :: python-opentimestamps", withTimeout(60_000, async (signal) => {
  const rng = new Rng(25);
  const cases: Array<{b: Built; i: number; proof: Uint8Array}> = [];
  for (let t = 0; t < 8; t++) {
    const b = buildStamp(rng, {leaves: 1 + rng.int(300), txLength: 150 + rng.int(100), blockTxs: 1 + rng.int(2000)});
    const anchor = encodeStampAnchor(b.stamp);
    for (const i of [0, b.tree.size - 1, rng.int(b.tree.size)]) cases.push({b, i, proof: stampProofBytes(b.tree.pathBytes(i), anchor)});
  }
  const results = await referenceAttestedMessages(cases.map((c) => ({msg: c.b.commitments[c.i] as Uint8Array, body: c.proof})), signal);
  assert.is(results.length, cases.length);
  results.forEach((r, k) => {
    const c = cases[k] as (typeof cases)[number];
    assert.ok("ok" in r, `case ${k}: ${"error" in r ? r.error : ""}`);
    if (!("ok" in r)) return;
    assert.is(r.ok.reserialized, toHex(c.proof), `case ${k}: re-serializes identically`);
    assert.equal(r.ok.attestations, [{msg: toHex(c.b.merkleRoot), bitcoinHeight: c.b.stamp.height}], `case ${k}: attests the block merkle root`);
  });
}));

Proof.run();

// ---
const Size = suite("protocol/journal/stamp-proof maxStampProofSize");

Size("should keep the worst case under 10,000 bytes :: a million leaves, a 4096-byte tx, a 24-level branch", () => {
  assert.ok(maxStampProofSize(1_000_000, 4096, 24) < 10_000, `${maxStampProofSize(1_000_000, 4096, 24)}`);
  // Depth is ceil(log2(leaves)): 2^20 leaves need 20 levels, one more leaf 21.
  assert.is(maxStampProofSize(2 ** 20 + 1, 200, 12) - maxStampProofSize(2 ** 20, 200, 12), 35);
  assert.is(maxStampProofSize(1, 200, 0) - maxStampProofSize(1, 200, 1), -36);
});

Size("should keep real proofs under 10,000 bytes for a million commitments :: FlatMerkleTree of 1,000,000 leaves", () => {
  const rng = new Rng(26);
  const n = 1_000_000;
  const commitment = (i: number): Uint8Array => roundCommitment(nativeSha256(Uint8Array.of(i & 0xff, (i >> 8) & 0xff, i >> 16)), TAG, 5000 + i);
  const leaves = new Uint8Array(n * 32);
  for (let i = 0; i < n; i++) leaves.set(nativeSha256(commitment(i)), i * 32);
  const tree = new FlatMerkleTree(leaves, nativeSha256);
  assert.is(tree.size, n);
  const picks = [n - 1, 0, ...Array.from({length: 20}, () => rng.int(n))];
  const commitments: Uint8Array[] = [];
  for (const i of picks) commitments[i] = commitment(i);
  const b = placeInBlock(rng, {ranges: [{from: 5000, to: 5000 + n}], leaves: n, tree, commitments, txLength: 150 + rng.int(100), blockTxs: 3000 + rng.int(3000)});
  const anchor = encodeStampAnchor(b.stamp);
  const bound = maxStampProofSize(n, b.stamp.tx.length, b.stamp.branch.length);
  for (const i of picks) {
    const proof = stampProofBytes(tree.pathBytes(i), anchor);
    assert.ok(proof.length < 10_000, `leaf ${i}: ${proof.length} bytes`);
    assert.ok(proof.length <= bound, `leaf ${i}: ${proof.length} within ${bound}`);
    assertProves(b, i, proof, `leaf ${i}`);
    // Far inside python's 255-op limit on a path.
    assert.ok(maxPathLength(decodeTimestamp(proof, commitments[i] as Uint8Array)) < 100);
  }
  assert.ok(bytesEqual(stampMerkleRoot(b.stamp), b.merkleRoot));
});

Size.run();
