/**
 * Signed checkpoints: "calendar `calendarId` had `length` records and chain
 * hash `chainHash`", signed with the calendar's Ed25519 identity key, so a
 * mirror can take segments from any peer and check them against the
 * origin's signature (DESIGN §2).
 *
 *   magic      8 bytes  "OTSFEDCP"
 *   version    1 byte   0x01
 *   calendarId varbytes 1..64
 *   length     uint64 BE  number of records covered (seqs 0..length-1)
 *   chainHash  32 bytes   chain hash after record length-1 (genesis if 0)
 *   signature  varbytes 64  Ed25519 over every byte before it
 *
 * Signing and verifying are injected: protocol/ holds no key code.
 */
import {bytesEqual} from "../ots/bytes.ts";
import {CHAIN_HASH_SIZE} from "./chain.ts";
import {journalError, JournalErrorCode} from "./errors.ts";
import {MAX_CALENDAR_ID_SIZE} from "./segment.ts";
import {readU64, readVaruintStrict, varuintSize, writeU64, writeVaruintAt} from "./varint.ts";

export const CHECKPOINT_MAGIC = new TextEncoder().encode("OTSFEDCP");
export const CHECKPOINT_VERSION = 1;
export const SIGNATURE_SIZE = 64;

export type CheckpointBody = {calendarId: Uint8Array; length: number; chainHash: Uint8Array};
export type Checkpoint = CheckpointBody & {signature: Uint8Array};

/** The bytes the signature covers. */
export function checkpointSigningBytes(c: CheckpointBody): Uint8Array {
  if (c.calendarId.length < 1 || c.calendarId.length > MAX_CALENDAR_ID_SIZE) throw new RangeError("calendar id must be 1..64 bytes");
  if (c.chainHash.length !== CHAIN_HASH_SIZE) throw new RangeError("chain hash must be 32 bytes");
  const out = new Uint8Array(CHECKPOINT_MAGIC.length + 1 + varuintSize(c.calendarId.length) + c.calendarId.length + 8 + CHAIN_HASH_SIZE);
  out.set(CHECKPOINT_MAGIC, 0);
  let p = CHECKPOINT_MAGIC.length;
  out[p++] = CHECKPOINT_VERSION;
  p = writeVaruintAt(out, p, c.calendarId.length);
  out.set(c.calendarId, p);
  p += c.calendarId.length;
  writeU64(out, p, c.length);
  out.set(c.chainHash, p + 8);
  return out;
}

export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  if (c.signature.length !== SIGNATURE_SIZE) throw new RangeError("signature must be 64 bytes");
  const body = checkpointSigningBytes(c);
  const out = new Uint8Array(body.length + 1 + SIGNATURE_SIZE);
  out.set(body, 0);
  out[body.length] = SIGNATURE_SIZE;
  out.set(c.signature, body.length + 1);
  return out;
}

/** Decode a checkpoint exactly (signature not checked: see verifyCheckpoint). */
export function decodeCheckpoint(buf: Uint8Array): Checkpoint {
  if (buf.length < CHECKPOINT_MAGIC.length + 1) throw journalError(JournalErrorCode.TRUNCATED, "checkpoint runs past the end", 0);
  if (!bytesEqual(buf.subarray(0, CHECKPOINT_MAGIC.length), CHECKPOINT_MAGIC)) throw journalError(JournalErrorCode.BAD_MAGIC, "not a checkpoint (bad magic)", 0);
  let p = CHECKPOINT_MAGIC.length;
  const version = buf[p++] as number;
  if (version !== CHECKPOINT_VERSION) throw journalError(JournalErrorCode.UNSUPPORTED_VERSION, `checkpoint version ${version}`, p - 1);
  const idLen = readVaruintStrict(buf, p, MAX_CALENDAR_ID_SIZE);
  if (idLen.value < 1) throw journalError(JournalErrorCode.BAD_LENGTH, "empty calendar id", p);
  p = idLen.end;
  if (p + idLen.value + 8 + CHAIN_HASH_SIZE > buf.length) throw journalError(JournalErrorCode.TRUNCATED, "checkpoint runs past the end", p);
  const calendarId = buf.slice(p, p + idLen.value);
  p += idLen.value;
  const length = readU64(buf, p);
  p += 8;
  const chainHash = buf.slice(p, p + CHAIN_HASH_SIZE);
  p += CHAIN_HASH_SIZE;
  const sigLen = readVaruintStrict(buf, p, SIGNATURE_SIZE);
  if (sigLen.value !== SIGNATURE_SIZE) throw journalError(JournalErrorCode.BAD_LENGTH, `signature is ${sigLen.value} bytes`, p);
  p = sigLen.end;
  if (p + SIGNATURE_SIZE > buf.length) throw journalError(JournalErrorCode.TRUNCATED, "checkpoint signature runs past the end", p);
  const signature = buf.slice(p, p + SIGNATURE_SIZE);
  p += SIGNATURE_SIZE;
  if (p !== buf.length) throw journalError(JournalErrorCode.TRAILING_BYTES, `${buf.length - p} bytes after the checkpoint`, p);
  return {calendarId, length, chainHash, signature};
}

/** Verify the signature with `verify(data, signature)` (the calendar's public key); throws BAD_SIGNATURE. */
export async function verifyCheckpoint(c: Checkpoint, verify: (data: Uint8Array, signature: Uint8Array) => boolean | Promise<boolean>): Promise<void> {
  if (!(await verify(checkpointSigningBytes(c), c.signature))) throw journalError(JournalErrorCode.BAD_SIGNATURE, `checkpoint at length ${c.length} has a bad signature`);
}
