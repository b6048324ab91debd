/**
 * Timestamp operations, the edges of a proof tree (PROTOCOL-NOTES §1.2,
 * python-opentimestamps `core/op.py`).
 */
import {ByteReader, ByteWriter, compareBytes, toHex} from "./bytes.ts";
import {otsError, OtsErrorCode} from "./errors.ts";
import {keccak256, ripemd160, sha1, sha256} from "./hashes.ts";

/** An op's input and result may be at most this long (`MAX_MSG_LENGTH`, `MAX_RESULT_LENGTH`). */
export const MAX_MSG_LENGTH = 4096;
export const MAX_RESULT_LENGTH = 4096;
/** hexlify doubles its input, so it takes at most half the result limit. */
export const MAX_HEXLIFY_INPUT = MAX_RESULT_LENGTH / 2;

export const OpTag = {
  sha1: 0x02,
  ripemd160: 0x03,
  sha256: 0x08,
  keccak256: 0x67,
  append: 0xf0,
  prepend: 0xf1,
  reverse: 0xf2,
  hexlify: 0xf3,
} as const;

export type CryptOpKind = "sha1" | "ripemd160" | "sha256" | "keccak256";
export type UnaryOpKind = CryptOpKind | "reverse" | "hexlify";
export type BinaryOpKind = "append" | "prepend";

/** One op. Binary ops carry their argument (1..4096 bytes). */
export type Op = {readonly kind: UnaryOpKind} | {readonly kind: BinaryOpKind; readonly arg: Uint8Array};

/** Digest length of each crypt op: the ops allowed as a detached file's file-hash op. */
export const CRYPT_DIGEST_LENGTH: Readonly<Record<CryptOpKind, number>> = {sha1: 20, ripemd160: 20, sha256: 32, keccak256: 32};

const TAG_TO_KIND = new Map<number, Op["kind"]>(Object.entries(OpTag).map(([k, v]) => [v, k as Op["kind"]]));

export const SHA256: Op = {kind: "sha256"};
export const append = (arg: Uint8Array): Op => ({kind: "append", arg});
export const prepend = (arg: Uint8Array): Op => ({kind: "prepend", arg});

export function isCryptOp(kind: Op["kind"]): kind is CryptOpKind {
  return kind in CRYPT_DIGEST_LENGTH;
}

export function opArg(op: Op): Uint8Array | null {
  return "arg" in op ? op.arg : null;
}

/**
 * Apply an op with the reference's checks: input ≤ 4096, result ≤ 4096 and
 * never empty (an empty result would let the commitment graph loop).
 */
export function applyOp(op: Op, msg: Uint8Array): Uint8Array {
  if (msg.length > MAX_MSG_LENGTH) throw otsError(OtsErrorCode.MSG_TOO_LONG, `Message too long; ${msg.length} > ${MAX_MSG_LENGTH}`);
  let r: Uint8Array;
  switch (op.kind) {
    case "sha256":
      r = sha256(msg);
      break;
    case "sha1":
      r = sha1(msg);
      break;
    case "ripemd160":
      r = ripemd160(msg);
      break;
    case "keccak256":
      r = keccak256(msg);
      break;
    case "append":
      r = new Uint8Array(msg.length + op.arg.length);
      r.set(msg, 0);
      r.set(op.arg, msg.length);
      break;
    case "prepend":
      r = new Uint8Array(msg.length + op.arg.length);
      r.set(op.arg, 0);
      r.set(msg, op.arg.length);
      break;
    case "reverse":
      if (msg.length === 0) throw otsError(OtsErrorCode.BAD_OP_INPUT, "Can't reverse an empty message");
      r = Uint8Array.from(msg).reverse();
      break;
    case "hexlify":
      if (msg.length === 0) throw otsError(OtsErrorCode.BAD_OP_INPUT, "Can't hexlify an empty message");
      if (msg.length > MAX_HEXLIFY_INPUT) throw otsError(OtsErrorCode.BAD_OP_INPUT, `Message too long; ${msg.length} > ${MAX_HEXLIFY_INPUT}`);
      r = new TextEncoder().encode(toHex(msg));
      break;
  }
  if (r.length > MAX_RESULT_LENGTH) throw otsError(OtsErrorCode.RESULT_TOO_LONG, `Result too long; ${r.length} > ${MAX_RESULT_LENGTH}`);
  if (r.length === 0) throw otsError(OtsErrorCode.BAD_OP_INPUT, "op result is empty");
  return r;
}

/** Apply a path of ops in order. */
export function applyOps(ops: readonly Op[], msg: Uint8Array): Uint8Array {
  let m = msg;
  for (const op of ops) m = applyOp(op, m);
  return m;
}

export function encodeOp(op: Op, w: ByteWriter): void {
  w.writeByte(OpTag[op.kind]);
  if ("arg" in op) w.writeVarbytes(op.arg);
}

/** Decode the op whose tag byte was already read (python `Op.deserialize_from_tag`). */
export function decodeOpFromTag(tag: number, r: ByteReader): Op {
  const kind = TAG_TO_KIND.get(tag);
  if (kind === undefined) throw otsError(OtsErrorCode.UNKNOWN_OP, `Unknown operation tag 0x${tag.toString(16).padStart(2, "0")}`, r.pos - 1);
  if (kind === "append" || kind === "prepend") return {kind, arg: Uint8Array.from(r.readVarbytes(MAX_RESULT_LENGTH, 1))};
  return {kind};
}

/** The reference sort: by tag byte, then by argument bytes. */
export function compareOps(a: Op, b: Op): number {
  const d = OpTag[a.kind] - OpTag[b.kind];
  if (d !== 0) return d;
  const aa = opArg(a);
  const ba = opArg(b);
  return aa && ba ? compareBytes(aa, ba) : 0;
}

/** A string that is equal for equal ops: a map key for merging by value. */
export function opKey(op: Op): string {
  const arg = opArg(op);
  return arg ? `${op.kind}:${toHex(arg)}` : op.kind;
}

/** `ots info` spelling: `sha256`, `append <hex>`. */
export function opToString(op: Op): string {
  const arg = opArg(op);
  return arg ? `${op.kind} ${toHex(arg)}` : op.kind;
}
