import {suite} from "uvu";
import * as assert from "uvu/assert";
import {readFileSync} from "node:fs";
import {
  applyOps, bitcoinMerklePath, checkBitcoinAttestation, decodeTimestamp, encodeTimestamp, fromHex,
  listAttestations, makeBitcoinProof, OtsErrorCode, parseBlock, serializeWithoutWitness, sha256d, toDisplayHex, toHex,
} from "../../../protocol/ots/index.ts";
import {vectorPath} from "../../support/vectors.ts";
import {decodeBlockHeader} from "../../../protocol/bitcoin/header.ts";
import {otsErrorCode} from "../../support/errors.ts";

const block = (name: string): Uint8Array => fromHex(readFileSync(vectorPath(`python-opentimestamps/blocks/${name}`), "utf8").trim()) as Uint8Array;
const code = otsErrorCode;

function proveFromBlock(raw: Uint8Array, msg: Uint8Array, height: number): {ops: ReturnType<typeof makeBitcoinProof>; header: Uint8Array; txNoWitness: Uint8Array} {
  const b = parseBlock(raw);
  const txs = b.txs.map(serializeWithoutWitness);
  const txids = txs.map(sha256d);
  const txNoWitness = txs.find((t) => toHex(t).includes(toHex(msg))) as Uint8Array;
  assert.ok(txNoWitness, "the message is in some transaction");
  return {ops: makeBitcoinProof({txNoWitness, msg, blockTxids: txids, height}), header: b.header, txNoWitness};
}

// ---

const proof = suite("protocol/ots makeBitcoinProof");

proof("should build the regtest segwit proof over the non-witness serialization :: block 129", () => {
  const msg = fromHex("8e16cdc4bc8b6aae0a217d30662bf5bb7b732b0751746f587b411fecbc41574e") as Uint8Array;
  const {ops: p, header, txNoWitness} = proveFromBlock(block("block-000129-regtest-segwit.hex"), msg, 129);
  assert.is(txNoWitness.length, 149);
  const [pre, suf, s1, s2, sib, s3, s4] = p.ops;
  assert.is(pre?.kind, "prepend");
  assert.is(pre && "arg" in pre ? pre.arg.length : 0, 113);
  const prefixHex = pre && "arg" in pre ? toHex(pre.arg) : "";
  assert.ok(prefixHex.startsWith("0100000001bb7e") && prefixHex.endsWith("226a20"), prefixHex);
  assert.is(suf && "arg" in suf ? toHex(suf.arg) : "", "80000000");
  assert.equal([s1?.kind, s2?.kind], ["sha256", "sha256"]);
  assert.is(toDisplayHex(p.txid).slice(0, 8), "e0d19cc0");
  assert.is(sib?.kind, "prepend");
  assert.equal([s3?.kind, s4?.kind], ["sha256", "sha256"]);
  assert.is(p.ops.length, 7);
  assert.is(toDisplayHex(p.merkleRoot), "28a5b26b232d9dca49418abe0be60e375fd81729b44c676f44e585d4597ba5fb");
  assert.is(toHex(applyOps(p.ops, msg)), toHex(decodeBlockHeader(header).merkleRoot));
  const check = checkBitcoinAttestation(applyOps(p.ops, msg), header);
  assert.ok(check.ok);
  // The serialized proof ends in the attestation at the given height.
  const back = decodeTimestamp(encodeTimestamp(p.timestamp), msg);
  assert.equal(listAttestations(back).map((a) => a.attestation), [{kind: "bitcoin", height: 129}]);
});

proof("should prove a message in mainnet block 1 :: single-tx block", () => {
  const raw = block("block-000001-mainnet.hex");
  const b = parseBlock(raw);
  const coinbaseOut = b.txs[0]?.vout[0]?.script as Uint8Array;
  const pubkey = coinbaseOut.slice(1, 66);
  const {ops: p, header} = proveFromBlock(raw, pubkey, 1);
  assert.is(toDisplayHex(p.merkleRoot), "0e3e2357e806b6cdb1f70b54c3a3a17b6714ee1f0e68bebb44a74b1efd512098");
  assert.ok(checkBitcoinAttestation(applyOps(p.ops, pubkey), header).ok);
});

proof("should duplicate the odd last txid :: block 586, three transactions", () => {
  const raw = block("block-000586-mainnet.hex");
  const b = parseBlock(raw);
  assert.is(b.txs.length, 3);
  const msg = b.txs[1]?.vin[0]?.prevout.slice(0, 32) as Uint8Array;
  assert.is(toDisplayHex(msg).slice(0, 8), "c3f0bb69");
  const {ops: p, header} = proveFromBlock(raw, msg, 586);
  assert.is(toDisplayHex(p.merkleRoot), "197b3d968ce463aa5da7d8eeba8af35eba80ded4e4fe6808e6cc0dd1c069594d");
  assert.ok(checkBitcoinAttestation(applyOps(p.ops, msg), header).ok);
  // The last of three txids pairs with itself.
  const txids = b.txs.map((t) => sha256d(serializeWithoutWitness(t)));
  const last = bitcoinMerklePath(txids, 2);
  assert.is(toHex((last.ops[0] as {arg: Uint8Array}).arg), toHex(txids[2] as Uint8Array));
  assert.is(toHex(applyOps(last.ops, txids[2] as Uint8Array)), toHex(last.root));
});

proof("should refuse oversize transactions, absent messages and foreign txs :: errors", () => {
  const msg = new Uint8Array(32).fill(7);
  const big = new Uint8Array(4097);
  big.set(msg, 100);
  assert.is(code(() => makeBitcoinProof({txNoWitness: big, msg, blockTxids: [sha256d(big)], height: 1})), OtsErrorCode.TX_TOO_LARGE);
  const tx = new Uint8Array(200);
  assert.is(code(() => makeBitcoinProof({txNoWitness: tx, msg, blockTxids: [sha256d(tx)], height: 1})), OtsErrorCode.MSG_NOT_IN_TX);
  tx.set(msg, 50);
  assert.is(code(() => makeBitcoinProof({txNoWitness: tx, msg, blockTxids: [new Uint8Array(32)], height: 1})), OtsErrorCode.TX_NOT_IN_BLOCK);
  const fits = new Uint8Array(4096);
  fits.set(msg, 4000);
  assert.ok(makeBitcoinProof({txNoWitness: fits, msg, blockTxids: [sha256d(fits)], height: 1}));
});

proof.run();

// ---

const check = suite("protocol/ots checkBitcoinAttestation");

check("should refuse a message that is not the header's merkle root :: mismatch", () => {
  const header = parseBlock(block("block-000001-mainnet.hex")).header;
  const root = decodeBlockHeader(header).merkleRoot;
  assert.equal(checkBitcoinAttestation(root, header), {ok: true, time: 1231469665});
  const wrong = Uint8Array.from(root);
  wrong[0] = (wrong[0] as number) ^ 1;
  assert.equal(checkBitcoinAttestation(wrong, header), {ok: false, reason: "Digest does not match merkleroot"});
  // Display order is not internal order.
  assert.is(checkBitcoinAttestation(Uint8Array.from(root).reverse(), header).ok, false);
  assert.is(code(() => checkBitcoinAttestation(root, header.slice(0, 79))), OtsErrorCode.BAD_BLOCK_HEADER);
});

check.run();
