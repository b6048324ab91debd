import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {toHex} from "../../../protocol/ots/bytes.ts";
import {pending} from "../../../protocol/ots/attestations.ts";
import {MerkleTree} from "../../../protocol/ots/merkle.ts";
import {applyOps} from "../../../protocol/ots/ops.ts";
import {decodeTimestamp} from "../../../protocol/ots/timestamp.ts";
import {calendarTag, commitmentOp, parseCommitment, roundCommitment} from "../../../protocol/journal/commitment.ts";
import {encodeAttestationLeaf, encodePartialProof, partialProofOps} from "../../../protocol/journal/proof.ts";

// ---
const Commit = suite("protocol/journal/commitment roundCommitment/parseCommitment");
Commit("should be root ‖ tag ‖ seq and reachable by the commitment op :: seq 258", () => {
  const root = new Uint8Array(32).fill(0xaa);
  const tag = Uint8Array.of(1, 2, 3, 4);
  const c = roundCommitment(root, tag, 258);
  assert.is(toHex(c), "aa".repeat(32) + "01020304" + "0000000000000102");
  assert.is(toHex(applyOps([commitmentOp(tag, 258)], root)), toHex(c));
  const p = parseCommitment(c);
  assert.ok(p);
  assert.is(p.seq, 258);
  assert.is(toHex(p.tag), "01020304");
  assert.is(parseCommitment(c.subarray(1)), null);
});
Commit("should derive a stable 4-byte calendar tag :: domain separated", () => {
  const t = calendarTag(Uint8Array.of(1));
  assert.is(t.length, 4);
  assert.is(toHex(t), toHex(calendarTag(Uint8Array.of(1))));
  assert.is.not(toHex(t), toHex(calendarTag(Uint8Array.of(2))));
});
Commit.run();

// ---
const Proof = suite("protocol/journal/proof encodePartialProof");
Proof("should decode with the proof library and end at the commitment :: every leaf of a 5-leaf round", () => {
  const tag = Uint8Array.of(9, 9, 9, 9);
  const digests = Array.from({length: 5}, () => new Uint8Array(randomBytes(32)));
  const nonces = Array.from({length: 5}, () => new Uint8Array(randomBytes(16)));
  const leaves = digests.map((d, i) => applyOps(partialProofOps(nonces[i] as Uint8Array, [], commitmentOp(tag, 0)).slice(0, 2), d));
  const tree = new MerkleTree(leaves);
  const commitment = roundCommitment(tree.root, tag, 7);
  const leaf = encodeAttestationLeaf(pending("http://127.0.0.1:1"));
  for (let i = 0; i < 5; i++) {
    const bytes = encodePartialProof(nonces[i] as Uint8Array, tree.path(i), commitmentOp(tag, 7), leaf);
    const ts = decodeTimestamp(bytes, digests[i] as Uint8Array);
    let node = ts;
    while (node.opCount > 0) node = (node.ops[0] as [unknown, typeof ts])[1];
    assert.is(toHex(node.msg), toHex(commitment), `leaf ${i}`);
    assert.equal(node.attestations, [pending("http://127.0.0.1:1")]);
  }
});
Proof.run();
