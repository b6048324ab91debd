/**
 * Journal record framing (protocol/journal/README.md "Records"):
 *
 *   kind     varuint, minimal, 1..2^32-1 (0 is never written)
 *   length   varuint, minimal, 0..MAX_RECORD_PAYLOAD
 *   payload  `length` bytes, laid out per kind
 *   crc      uint32 BE, CRC-32C of kind ‖ length ‖ payload
 *
 * Kinds 1..63 are critical: a reader that does not know one must stop
 * (it would otherwise derive wrong proofs). Kinds 64 and up are optional: a
 * reader checks their checksum and chains them, then skips them. This is how
 * later versions add records without a format version bump.
 */
import {crc32c} from "./crc32c.ts";
import {journalError, JournalErrorCode} from "./errors.ts";
import {readU32, readVaruintStrict, varuintSize, writeU32, writeVaruintAt} from "./varint.ts";

/** Record kinds. Reserved kinds are documented here so no one reuses their numbers. */
export const RecordKind = {
  /** One aggregation round: its time, size and merkle root (payload: round.ts). */
  ROUND: 1,
  /**
   * A confirmed stamp: the round seqs it covers, the OTS merkle root over
   * them, the non-witness transaction, the block and its merkle branch; every
   * covered commitment's proof is derived from it. Written only after K
   * confirmations (payload: stamp.ts encodeStamp).
   */
  STAMP: 2,
  /** A STAMP whose block left the best chain (reorg); its rounds are pending again (payload: stamp.ts encodeStampRevoked). */
  STAMP_REVOKED: 3,
  /** Reserved (optional kind): an operator or software note, UTF-8, never needed for a proof. */
  NOTE: 64,
} as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

/** Kinds below this are critical; from it on, optional (skippable). */
export const FIRST_OPTIONAL_KIND = 64;
/** Largest kind number: keeps the kind varuint within 5 bytes. */
export const MAX_KIND = 0xffffffff;
/**
 * Largest payload. A stamp with a 4096-byte transaction, a block branch and
 * a federation path fits many times over; a bad length can't make a reader
 * allocate more.
 */
export const MAX_RECORD_PAYLOAD = 1 << 16;
/** CRC bytes after each record. */
export const RECORD_CRC_SIZE = 4;

/** A decoded frame. `body` (kind ‖ length ‖ payload) is what the hash chain covers. */
export type RecordFrame = {
  kind: number;
  payload: Uint8Array;
  body: Uint8Array;
  /** Offset just after the frame's CRC. */
  end: number;
};

/** True for kinds a reader may skip when it does not know them. */
export function isOptionalKind(kind: number): boolean {
  return kind >= FIRST_OPTIONAL_KIND;
}

/** Whether this code version understands `kind`. */
export function isKnownKind(kind: number): boolean {
  return kind === RecordKind.ROUND || kind === RecordKind.STAMP || kind === RecordKind.STAMP_REVOKED;
}

/** Encoded size of a frame with a payload of `payloadLength` bytes. */
export function frameSize(kind: number, payloadLength: number): number {
  return varuintSize(kind) + varuintSize(payloadLength) + payloadLength + RECORD_CRC_SIZE;
}

/** Write one frame into `out` at `pos`; returns the position after it. */
export function writeFrame(out: Uint8Array, pos: number, kind: number, payload: Uint8Array): number {
  if (!Number.isInteger(kind) || kind < 1 || kind > MAX_KIND) throw new RangeError(`bad record kind ${kind}`);
  if (payload.length > MAX_RECORD_PAYLOAD) throw new RangeError(`record payload ${payload.length} over ${MAX_RECORD_PAYLOAD}`);
  const start = pos;
  pos = writeVaruintAt(out, pos, kind);
  pos = writeVaruintAt(out, pos, payload.length);
  out.set(payload, pos);
  pos += payload.length;
  writeU32(out, pos, crc32c(out, start, pos));
  return pos + RECORD_CRC_SIZE;
}

/** Encode one frame as fresh bytes. */
export function encodeFrame(kind: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(frameSize(kind, payload.length));
  writeFrame(out, 0, kind, payload);
  return out;
}

/**
 * Decode the frame at `pos`. Throws TRUNCATED when the bytes end inside it
 * (the caller decides whether that is a torn tail), and CHECKSUM_MISMATCH,
 * ZERO_KIND, BAD_VARUINT or BAD_LENGTH when it is complete but wrong.
 * Unknown kinds are returned; the caller applies the critical/optional rule.
 */
export function decodeFrame(buf: Uint8Array, pos: number): RecordFrame {
  const k = readVaruintStrict(buf, pos, MAX_KIND);
  if (k.value === 0) throw journalError(JournalErrorCode.ZERO_KIND, "record kind 0", pos);
  const l = readVaruintStrict(buf, k.end, MAX_RECORD_PAYLOAD);
  const payloadEnd = l.end + l.value;
  if (payloadEnd + RECORD_CRC_SIZE > buf.length) throw journalError(JournalErrorCode.TRUNCATED, "record runs past the end", pos);
  const stored = readU32(buf, payloadEnd);
  if (crc32c(buf, pos, payloadEnd) !== stored) throw journalError(JournalErrorCode.CHECKSUM_MISMATCH, "record checksum mismatch", pos);
  return {kind: k.value, payload: buf.subarray(l.end, payloadEnd), body: buf.subarray(pos, payloadEnd), end: payloadEnd + RECORD_CRC_SIZE};
}
