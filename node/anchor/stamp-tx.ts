/**
 * The anchoring transaction (DESIGN.md §4): one P2WPKH input, a change output,
 * then `OP_RETURN <32-byte root>` last, version 2, nLockTime at the current
 * height (anti fee-sniping, as otsd). With the OP_RETURN last, the proof's
 * suffix is just the 4-byte nLockTime.
 */
import {Transaction} from "bitcoinjs-lib";
import {serializeWithoutWitness, parseTransaction, MAX_MSG_LENGTH} from "../../protocol/ots/index.ts";
import {opReturnScript, p2wpkhScript, signP2wpkhInput} from "../bitcoin/signing.ts";
import type {KeyPair} from "../bitcoin/signing.ts";
import {AnchorError, AnchorErrorCode} from "./errors.ts";
import {feeForVsize} from "./fee-schedule.ts";

/** P2WPKH dust at Core's 3 sat/vB dust relay feerate. */
export const P2WPKH_DUST_SATS = 294n;
/**
 * BIP125 opt-in signalling. Full-RBF is Core's default now, but nodes that
 * still honour opt-in (Knots, older Core) relay our replacements only with it.
 */
export const RBF_SEQUENCE = 0xfffffffd;

/** The coin a stamp spends. */
export type StampInput = {txid: Uint8Array; vout: number; valueSats: bigint};

/** A built, signed stamp transaction. */
export type StampTransaction = {
  /** Serialized with witness, ready to broadcast. */
  tx: Uint8Array;
  /** Serialized without witness: what proofs commit to (the txid preimage). */
  txNoWitness: Uint8Array;
  txid: Uint8Array;
  vsize: number;
  feeSats: bigint;
  feeRate: number;
  changeSats: bigint;
};

function insufficientFunds(needSats: bigint, haveSats: bigint): AnchorError {
  return new AnchorError({code: AnchorErrorCode.INSUFFICIENT_FUNDS, needSats, haveSats}, `stamping needs ${needSats} sats (fee and non-dust change), the input holds ${haveSats}`);
}

function assemble(input: StampInput, key: KeyPair, root: Uint8Array, lockTime: number, changeSats: bigint): Transaction {
  const tx = new Transaction();
  tx.version = 2;
  tx.locktime = lockTime;
  // bitcoinjs wants the prevout hash in internal byte order, as we keep txids.
  tx.addInput(input.txid, input.vout, RBF_SEQUENCE);
  tx.addOutput(p2wpkhScript(key.publicKey), changeSats);
  tx.addOutput(opReturnScript(root), 0n);
  signP2wpkhInput(tx, 0, key, input.valueSats);
  return tx;
}

/**
 * Build and sign a stamp for `root` paying `feeRate` sat/vB. The size is
 * taken with a worst-case (72-byte) signature so the feerate is never below
 * the one asked for. Throws AnchorError: INSUFFICIENT_FUNDS when the coin
 * cannot pay the fee and keep non-dust change, BAD_ROOT, TX_TOO_LARGE.
 */
export function buildStampTransaction(args: {input: StampInput; key: KeyPair; root: Uint8Array; feeRate: number; lockTime: number}): StampTransaction {
  if (args.root.length !== 32) throw new AnchorError({code: AnchorErrorCode.BAD_ROOT, length: args.root.length}, "a stamp commits to a 32-byte root");
  const probe = assemble(args.input, args.key, args.root, args.lockTime, args.input.valueSats);
  // A 72-byte DER signature plus sighash byte is the longest low-S encoding.
  const sigLen = (probe.ins[0]?.witness[0] as Uint8Array).length;
  const vsize = Math.ceil((probe.weight() + (73 - sigLen)) / 4);
  const feeSats = feeForVsize(args.feeRate, vsize);
  const changeSats = args.input.valueSats - feeSats;
  if (changeSats < P2WPKH_DUST_SATS) throw insufficientFunds(feeSats + P2WPKH_DUST_SATS, args.input.valueSats);
  const tx = assemble(args.input, args.key, args.root, args.lockTime, changeSats);
  const raw = tx.toBuffer();
  const parsed = parseTransaction(raw);
  if (parsed === null) throw new AnchorError({code: AnchorErrorCode.UNPARSEABLE_TX, txid: null}, "bitcoinjs produced a transaction we cannot parse");
  const txNoWitness = serializeWithoutWitness(parsed);
  // One input and two outputs are ~125 bytes; the proof limit is far away.
  if (txNoWitness.length > MAX_MSG_LENGTH) throw new AnchorError({code: AnchorErrorCode.TX_TOO_LARGE, bytes: txNoWitness.length}, "stamp transaction over 4096 bytes without witness");
  return {tx: raw, txNoWitness, txid: tx.getHash(), vsize, feeSats, feeRate: Number(feeSats) / vsize, changeSats};
}
