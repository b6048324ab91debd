import {suite} from "uvu";
import * as assert from "uvu/assert";
import * as ecc from "@bitcoinerlab/secp256k1";
import {script as bscript, Transaction} from "bitcoinjs-lib";
import {bytesEqual, makeBitcoinProof, sha256, toHex} from "../../../protocol/ots/index.ts";
import {keyPairFromSeed, p2wpkhScript} from "../../../node/bitcoin/signing.ts";
import {AnchorError, AnchorErrorCode} from "../../../node/anchor/errors.ts";
import {buildStampTransaction, RBF_SEQUENCE} from "../../../node/anchor/stamp-tx.ts";

const key = keyPairFromSeed("stamp-tx test");
const input = {txid: sha256(Uint8Array.of(1)), vout: 3, valueSats: 100_000n};
const root = sha256(Uint8Array.of(2));

// ---

const build = suite("node/anchor/stamp-tx buildStampTransaction");

build("should build one signed P2WPKH input, change, then OP_RETURN root :: shape", () => {
  const s = buildStampTransaction({input, key, root, feeRate: 3, lockTime: 840_000});
  const tx = Transaction.fromBuffer(Buffer.from(s.tx));
  assert.is(tx.version, 2);
  assert.is(tx.locktime, 840_000);
  assert.is(tx.ins.length, 1);
  assert.is(tx.ins[0]?.sequence, RBF_SEQUENCE);
  assert.is(tx.ins[0]?.script.length, 0);
  assert.is(tx.outs.length, 2);
  assert.is(toHex(tx.outs[0]?.script as Uint8Array), toHex(p2wpkhScript(key.publicKey)));
  assert.is(toHex(tx.outs[1]?.script as Uint8Array), `6a20${toHex(root)}`);
  assert.is(tx.outs[1]?.value, 0n);
  assert.is(s.changeSats + s.feeSats, input.valueSats);
  assert.ok(bytesEqual(s.txid, tx.getHash()));
  // Signature checks out against BIP143's sighash.
  const [sig, pub] = tx.ins[0]?.witness as Uint8Array[];
  const scriptCode = bscript.compile([0x76, 0xa9, bscript.decompile(p2wpkhScript(key.publicKey))?.[1] as Uint8Array, 0x88, 0xac]);
  const hash = tx.hashForWitnessV0(0, scriptCode, input.valueSats, Transaction.SIGHASH_ALL);
  assert.ok(ecc.verify(hash, pub as Uint8Array, bscript.signature.decode(sig as Uint8Array).signature));
});

build("should pay at least the feerate asked :: fee", () => {
  for (const rate of [1, 2.5, 10, 77.7]) {
    const s = buildStampTransaction({input, key, root, feeRate: rate, lockTime: 1});
    const actualVsize = Transaction.fromBuffer(Buffer.from(s.tx)).virtualSize();
    assert.ok(Number(s.feeSats) / actualVsize >= rate, `rate ${rate}`);
    assert.ok(actualVsize <= s.vsize, "estimated vsize is an upper bound");
  }
});

build("should make a proof whose suffix is the 4-byte nLockTime :: proof", () => {
  const s = buildStampTransaction({input, key, root, feeRate: 2, lockTime: 0x01020304});
  assert.ok(s.txNoWitness.length < 130, `${s.txNoWitness.length} bytes without witness`);
  const p = makeBitcoinProof({txNoWitness: s.txNoWitness, msg: root, blockTxids: [sha256(Uint8Array.of(9)), s.txid], height: 7});
  const suffix = p.ops[1];
  assert.is(suffix && "arg" in suffix ? toHex(suffix.arg) : "", "04030201");
  assert.ok(bytesEqual(p.txid, s.txid));
});

build("should refuse when the fee would leave dust change :: insufficient funds", () => {
  assert.throws(() => buildStampTransaction({input: {...input, valueSats: 500n}, key, root, feeRate: 5, lockTime: 1}), (e: unknown) => e instanceof AnchorError && e.code === AnchorErrorCode.INSUFFICIENT_FUNDS && e.type.code === AnchorErrorCode.INSUFFICIENT_FUNDS && e.type.haveSats === 500n && e.name === "AnchorError");
});

build.run();
