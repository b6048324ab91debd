/**
 * Keys, output scripts and input signing for the two spend types calendars
 * and donors use: P2WPKH (BIP143 + ECDSA, low-S, RFC 6979) and P2TR key path
 * (BIP341 + BIP340 Schnorr). Pure functions over bitcoinjs-lib transactions;
 * no global ECC registration (`initEccLib`) is needed.
 */
import * as ecc from "@bitcoinerlab/secp256k1";
import {sha256} from "@noble/hashes/sha2.js";
import {crypto as bcrypto, script as bscript, Transaction} from "bitcoinjs-lib";

/** A secp256k1 key pair; `publicKey` is the 33-byte compressed point. */
export type KeyPair = {privateKey: Uint8Array; publicKey: Uint8Array};

/** A key pair from 32 secret bytes (throws when they are not a valid scalar). */
export function keyPairFromPrivateKey(privateKey: Uint8Array): KeyPair {
  const publicKey = ecc.isPrivate(privateKey) ? ecc.pointFromScalar(privateKey, true) : null;
  if (publicKey === null) throw new Error("invalid secp256k1 private key");
  return {privateKey: Uint8Array.from(privateKey), publicKey};
}

/** A deterministic key pair from a label, for tests and the simulated devnet only. */
export function keyPairFromSeed(seed: string): KeyPair {
  return keyPairFromPrivateKey(sha256(new TextEncoder().encode(`otsfed simulated key:${seed}`)));
}

/** P2WPKH output script `0 <hash160(pubkey)>`. */
export function p2wpkhScript(publicKey: Uint8Array): Uint8Array {
  return bscript.compile([0x00, bcrypto.hash160(publicKey)]);
}

/** The BIP341 output key (x-only) of a key-path-only taproot output for `publicKey`. */
export function taprootOutputKey(publicKey: Uint8Array): {xOnly: Uint8Array; parity: 0 | 1} {
  const internal = publicKey.length === 33 ? publicKey.subarray(1) : publicKey;
  const tweaked = ecc.xOnlyPointAddTweak(internal, bcrypto.taggedHash("TapTweak", internal));
  if (tweaked === null) throw new Error("taproot tweak failed");
  return {xOnly: tweaked.xOnlyPubkey, parity: tweaked.parity};
}

/** P2TR output script `1 <output key>` for a key-path-only taproot output. */
export function p2trScript(publicKey: Uint8Array): Uint8Array {
  return bscript.compile([0x51, taprootOutputKey(publicKey).xOnly]);
}

/** `OP_RETURN <data>` (one push). */
export function opReturnScript(data: Uint8Array): Uint8Array {
  return bscript.compile([bscript.OPS.OP_RETURN, data]);
}

/** Signs input `index` spending a P2WPKH output of `value` sats (SIGHASH_ALL); sets its witness. */
export function signP2wpkhInput(tx: Transaction, index: number, key: KeyPair, value: bigint): void {
  const scriptCode = bscript.compile([0x76, 0xa9, bcrypto.hash160(key.publicKey), 0x88, 0xac]);
  const sighash = tx.hashForWitnessV0(index, scriptCode, value, Transaction.SIGHASH_ALL);
  const sig = ecc.sign(sighash, key.privateKey);
  tx.setWitness(index, [bscript.signature.encode(sig, Transaction.SIGHASH_ALL), key.publicKey]);
}

/**
 * Signs input `index` by the taproot key path (SIGHASH_DEFAULT). BIP341 signs
 * every spent output, so all prevouts (script and value) are needed.
 * Auxiliary randomness is all-zero so signatures are reproducible.
 */
export function signP2trKeyPathInput(tx: Transaction, index: number, key: KeyPair, prevouts: readonly {script: Uint8Array; value: bigint}[]): void {
  const internal = key.publicKey.subarray(1);
  // BIP340 keys have even y: negate the secret when the point's y is odd.
  const secret = key.publicKey[0] === 0x03 ? ecc.privateNegate(key.privateKey) : key.privateKey;
  const tweaked = ecc.privateAdd(secret, bcrypto.taggedHash("TapTweak", internal));
  if (tweaked === null) throw new Error("taproot tweak failed");
  const {parity} = taprootOutputKey(key.publicKey);
  const signingKey = parity === 1 ? ecc.privateNegate(tweaked) : tweaked;
  const sighash = tx.hashForWitnessV1(index, prevouts.map((p) => p.script), prevouts.map((p) => p.value), Transaction.SIGHASH_DEFAULT);
  tx.setWitness(index, [ecc.signSchnorr(sighash, signingKey, new Uint8Array(32))]);
}
