/**
 * Input script verification of the simulated chain, for the spends calendars
 * and donors make: P2WPKH (BIP143 sighash, ECDSA) and P2TR key path (BIP341
 * sighash, BIP340 Schnorr). Failures carry Bitcoin Core's script error
 * strings and whether a consensus ("mandatory") or only a policy flag failed,
 * as Core reports them in "mandatory-script-verify-flag-failed (…)".
 *
 * Other prevout types (P2PKH, P2SH, P2WSH, tapscript paths) are refused with
 * an explicit "not verified by the simulated chain" error rather than accepted
 * unchecked.
 */
import * as ecc from "@bitcoinerlab/secp256k1";
import {crypto as bcrypto, script as bscript, Transaction} from "bitcoinjs-lib";
import {bytesEqual} from "../../../protocol/bitcoin/hash.ts";
import {classifyOutput} from "./policy.ts";

/** A spent output: its script and value. */
export type Prevout = {script: Uint8Array; value: bigint};

/** A failed input: Core's script error text and whether consensus rules (not only policy) fail. */
export type ScriptFailure = {mandatory: boolean; error: string};

const MAX_SCRIPT_ELEMENT_SIZE = 520;
const SECP256K1_HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** BIP66 strict DER check of `sig ‖ hashtype` (Core's IsValidSignatureEncoding). */
export function isValidSignatureEncoding(sig: Uint8Array): boolean {
  if (sig.length < 9 || sig.length > 73) return false;
  if (sig[0] !== 0x30 || sig[1] !== sig.length - 3) return false;
  const lenR = sig[3] as number;
  if (5 + lenR >= sig.length) return false;
  const lenS = sig[5 + lenR] as number;
  if (lenR + lenS + 7 !== sig.length) return false;
  if (sig[2] !== 0x02 || lenR === 0 || ((sig[4] as number) & 0x80) !== 0) return false;
  if (lenR > 1 && sig[4] === 0x00 && ((sig[5] as number) & 0x80) === 0) return false;
  if (sig[lenR + 4] !== 0x02 || lenS === 0 || ((sig[lenR + 6] as number) & 0x80) !== 0) return false;
  if (lenS > 1 && sig[lenR + 6] === 0x00 && ((sig[lenR + 7] as number) & 0x80) === 0) return false;
  return true;
}

function bigIntOf(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

const EVAL_FALSE = "Script evaluated without error but finished with a false/empty top stack element";

function verifyP2wpkh(tx: Transaction, index: number, prevout: Prevout): ScriptFailure | null {
  const input = tx.ins[index] as Transaction["ins"][number];
  const program = prevout.script.subarray(2);
  if (input.script.length !== 0) return {mandatory: true, error: "Witness requires empty scriptSig"};
  if (input.witness.length === 0) return {mandatory: true, error: "Witness program was passed an empty witness"};
  if (input.witness.length !== 2) return {mandatory: true, error: "Witness program hash mismatch"};
  const [sig, pubkey] = input.witness as [Uint8Array, Uint8Array];
  if (sig.length > MAX_SCRIPT_ELEMENT_SIZE || pubkey.length > MAX_SCRIPT_ELEMENT_SIZE) return {mandatory: true, error: "Push value size limit exceeded"};
  if (!bytesEqual(bcrypto.hash160(pubkey), program)) return {mandatory: true, error: "Witness program hash mismatch"};
  // OP_CHECKSIG on an empty signature pushes false: the script fails.
  if (sig.length === 0) return {mandatory: true, error: EVAL_FALSE};
  if (!isValidSignatureEncoding(sig)) return {mandatory: true, error: "Non-canonical DER signature"};
  const hashType = sig[sig.length - 1] as number;
  const baseType = hashType & ~Transaction.SIGHASH_ANYONECANPAY;
  if (baseType < Transaction.SIGHASH_ALL || baseType > Transaction.SIGHASH_SINGLE) return {mandatory: false, error: "Signature hash type missing or not understood"};
  const decoded = bscript.signature.decode(sig);
  if (bigIntOf(decoded.signature.subarray(32)) > SECP256K1_HALF_N) return {mandatory: false, error: "Non-canonical signature: S value is unnecessarily high"};
  if (!((pubkey.length === 33 && (pubkey[0] === 0x02 || pubkey[0] === 0x03)) || (pubkey.length === 65 && pubkey[0] === 0x04))) {
    return {mandatory: false, error: "Public key is neither compressed or uncompressed"};
  }
  if (pubkey.length !== 33) return {mandatory: false, error: "Using non-compressed keys in segwit"};
  // BIP143 script code of P2WPKH is the P2PKH script of the program.
  const scriptCode = bscript.compile([0x76, 0xa9, program, 0x88, 0xac]);
  const sighash = tx.hashForWitnessV0(index, scriptCode, prevout.value, hashType);
  if (!ecc.isPoint(pubkey) || !ecc.verify(sighash, pubkey, decoded.signature)) {
    // Under policy flags NULLFAIL fires first; under consensus flags the
    // script ends with false, which is what Core then reports as mandatory.
    return {mandatory: true, error: EVAL_FALSE};
  }
  return null;
}

const TAPROOT_HASH_TYPES = new Set([0x00, 0x01, 0x02, 0x03, 0x81, 0x82, 0x83]);

function verifyP2trKeyPath(tx: Transaction, index: number, prevouts: Prevout[]): ScriptFailure | null {
  const input = tx.ins[index] as Transaction["ins"][number];
  const prevout = prevouts[index] as Prevout;
  if (input.script.length !== 0) return {mandatory: true, error: "Witness requires empty scriptSig"};
  const stack = input.witness;
  if (stack.length === 0) return {mandatory: true, error: "Witness program was passed an empty witness"};
  if (stack.length !== 1) {
    return {mandatory: false, error: "simulated chain verifies only P2TR key-path spends (script path or annex given)"};
  }
  const sig = stack[0] as Uint8Array;
  if (sig.length !== 64 && sig.length !== 65) return {mandatory: true, error: "Invalid Schnorr signature size"};
  const hashType = sig.length === 65 ? (sig[64] as number) : Transaction.SIGHASH_DEFAULT;
  if ((sig.length === 65 && hashType === 0) || !TAPROOT_HASH_TYPES.has(hashType)) return {mandatory: true, error: "Invalid Schnorr signature hash type"};
  if ((hashType & 0x03) === Transaction.SIGHASH_SINGLE && index >= tx.outs.length) return {mandatory: true, error: "Invalid Schnorr signature hash type"};
  const sighash = tx.hashForWitnessV1(index, prevouts.map((p) => p.script), prevouts.map((p) => p.value), hashType);
  const outputKey = prevout.script.subarray(2);
  if (!ecc.isXOnlyPoint(outputKey) || !ecc.verifySchnorr(sighash, outputKey, sig.subarray(0, 64))) return {mandatory: true, error: "Invalid Schnorr signature"};
  return null;
}

/**
 * Verifies input `index` of `tx` against all spent outputs (BIP341 signs all
 * prevouts). Returns null when the input is valid.
 */
export function verifyInput(tx: Transaction, index: number, prevouts: Prevout[]): ScriptFailure | null {
  const prevout = prevouts[index];
  if (prevout === undefined) return {mandatory: true, error: "missing prevout"};
  switch (classifyOutput(prevout.script)) {
    case "p2wpkh":
      return verifyP2wpkh(tx, index, prevout);
    case "p2tr":
      return verifyP2trKeyPath(tx, index, prevouts);
    default:
      return {mandatory: false, error: "simulated chain verifies only P2WPKH and P2TR key-path spends"};
  }
}
