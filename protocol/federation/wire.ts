/**
 * The federation's messages, byte for byte (README "Federation over
 * libp2p"): what members gossip and what a catch-up stream carries. Pure:
 * every decoder is bounded by the caller's byte limit before it allocates,
 * refuses anything not exactly in form with a typed WireError, and checks
 * everything that needs no key and no state. Signatures are the caller's
 * (protocol/ holds no key code); continuity with the receiver's copy is the
 * receiver's.
 *
 * Every message starts with `version (1) ‖ kind (1)`:
 *
 *   1 PIECE    flags (1: bit 0 = prevChain present) ‖ fromSeq u64 ‖ [prevChain 32]
 *              ‖ varuint framesLength ‖ frames ‖ head (checkpoint, to the end)
 *   2 HEAD     head (checkpoint, to the end)
 *   3 REQUEST  varbytes calendarId (1..64) ‖ fromSeq u64 ‖ maxBytes u32 ‖ [prevChain 32]
 *              (prevChain: the asker's chain hash at fromSeq, so an origin can cut
 *              and sign a piece anywhere without re-reading what came before)
 *   4 END      varbytes reason (UTF-8, 0..256; empty: nothing beyond my newest head)
 *
 * A PIECE is a record batch (protocol/journal/batch.ts) with the origin's
 * signed head at its end: gossiped as records are written (with prevChain,
 * so it verifies without any state), and sent in catch-up replies and over
 * HTTP (where the receiver's own chain hash is the start).
 */
import {bytesEqual} from "../ots/bytes.ts";
import {decodeRecordBatch, checkBatchHead, MAX_BATCH_BYTES} from "../journal/batch.ts";
import type {BatchRecord} from "../journal/batch.ts";
import {CHAIN_HASH_SIZE} from "../journal/chain.ts";
import type {Sha256} from "../journal/chain.ts";
import {decodeCheckpoint, encodeCheckpoint} from "../journal/checkpoint.ts";
import type {Checkpoint} from "../journal/checkpoint.ts";
import {MAX_CALENDAR_ID_SIZE} from "../journal/segment.ts";
import {readU32, readU64, readVaruintStrict, varuintSize, writeU32, writeU64, writeVaruintAt} from "../journal/varint.ts";
import {CalendarError} from "../errors.ts";

export const WIRE_VERSION = 1;

export const WireKind = {PIECE: 1, HEAD: 2, REQUEST: 3, END: 4} as const;
export type WireKind = (typeof WireKind)[keyof typeof WireKind];

/** Largest record batch gossiped in one message: a round's records, never a segment. */
export const MAX_GOSSIP_FRAMES_BYTES = 1024 * 1024;
/** A checkpoint is at most 8 + 1 + 1 + 64 + 8 + 32 + 1 + 64 bytes; the rest is piece framing. */
const MAX_CHECKPOINT_BYTES = 179;
const PIECE_OVERHEAD = 2 + 1 + 8 + CHAIN_HASH_SIZE + 5 + MAX_CHECKPOINT_BYTES;
/** Largest gossip message on a records topic: checked before anything is decoded. */
export const MAX_GOSSIP_MESSAGE_BYTES = MAX_GOSSIP_FRAMES_BYTES + PIECE_OVERHEAD;
/** Largest head message. */
export const MAX_HEAD_MESSAGE_BYTES = 2 + MAX_CHECKPOINT_BYTES;
/** Largest catch-up reply message (one batch of at most MAX_BATCH_BYTES). */
export const MAX_REPLY_MESSAGE_BYTES = MAX_BATCH_BYTES + PIECE_OVERHEAD;
/** Largest catch-up request. */
export const MAX_REQUEST_MESSAGE_BYTES = 2 + 1 + MAX_CALENDAR_ID_SIZE + 8 + 4 + CHAIN_HASH_SIZE;
export const MAX_END_REASON_BYTES = 256;

export const WireErrorCode = {
  /** Over the limit for where it arrived: refused before decoding. */
  TOO_LARGE: "WIRE_TOO_LARGE",
  /** The bytes end inside the message. */
  TRUNCATED: "WIRE_TRUNCATED",
  /** A version this code does not read. */
  UNSUPPORTED_VERSION: "WIRE_UNSUPPORTED_VERSION",
  /** Another kind of message than the channel carries. */
  WRONG_KIND: "WIRE_WRONG_KIND",
  /** A field outside its range (flags, lengths, UTF-8). */
  BAD_FIELD: "WIRE_BAD_FIELD",
  /** Bytes after the message. */
  TRAILING_BYTES: "WIRE_TRAILING_BYTES",
  /** The piece's records do not hash from its start to its head (a substituted, cut or reordered record). */
  BAD_PIECE: "WIRE_BAD_PIECE",
} as const;
export type WireErrorCode = (typeof WireErrorCode)[keyof typeof WireErrorCode];
export class WireError extends CalendarError<{code: WireErrorCode}> {}

function wireError(code: WireErrorCode, message: string): WireError {
  return new WireError({code}, message);
}

/** A run of a calendar's records from `fromSeq`, ending at the origin's signed head. */
export type JournalPiece = {
  fromSeq: number;
  /** Chain hash after record fromSeq-1, when the sender includes it (gossip always does). */
  prevChain: Uint8Array | null;
  /** Frames back to back, as in a segment. */
  frames: Uint8Array;
  head: Checkpoint;
};

export type CatchUpRequest = {calendarId: Uint8Array; fromSeq: number; maxBytes: number; prevChain: Uint8Array | null};

export type WireMessage =
  | {kind: typeof WireKind.PIECE; piece: JournalPiece}
  | {kind: typeof WireKind.HEAD; head: Checkpoint}
  | {kind: typeof WireKind.REQUEST; request: CatchUpRequest}
  | {kind: typeof WireKind.END; reason: string};

function header(kind: WireKind, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out[0] = WIRE_VERSION;
  out[1] = kind;
  return out;
}

export function encodePiece(piece: JournalPiece): Uint8Array {
  if (piece.frames.length === 0 || piece.frames.length > MAX_BATCH_BYTES) throw new RangeError(`a piece holds 1..${MAX_BATCH_BYTES} bytes of frames`);
  if (piece.prevChain !== null && piece.prevChain.length !== CHAIN_HASH_SIZE) throw new RangeError("prevChain must be 32 bytes");
  const head = encodeCheckpoint(piece.head);
  const size = 2 + 1 + 8 + (piece.prevChain ? CHAIN_HASH_SIZE : 0) + varuintSize(piece.frames.length) + piece.frames.length + head.length;
  const out = header(WireKind.PIECE, size);
  let p = 2;
  out[p++] = piece.prevChain ? 1 : 0;
  writeU64(out, p, piece.fromSeq);
  p += 8;
  if (piece.prevChain) {
    out.set(piece.prevChain, p);
    p += CHAIN_HASH_SIZE;
  }
  p = writeVaruintAt(out, p, piece.frames.length);
  out.set(piece.frames, p);
  out.set(head, p + piece.frames.length);
  return out;
}

export function encodeHead(head: Checkpoint): Uint8Array {
  const c = encodeCheckpoint(head);
  const out = header(WireKind.HEAD, 2 + c.length);
  out.set(c, 2);
  return out;
}

export function encodeRequest(r: CatchUpRequest): Uint8Array {
  if (r.calendarId.length < 1 || r.calendarId.length > MAX_CALENDAR_ID_SIZE) throw new RangeError("calendar id must be 1..64 bytes");
  if (!Number.isInteger(r.maxBytes) || r.maxBytes < 1 || r.maxBytes > MAX_BATCH_BYTES) throw new RangeError(`maxBytes must be 1..${MAX_BATCH_BYTES}`);
  if (r.prevChain !== null && r.prevChain.length !== CHAIN_HASH_SIZE) throw new RangeError("prevChain must be 32 bytes");
  const out = header(WireKind.REQUEST, 2 + varuintSize(r.calendarId.length) + r.calendarId.length + 12 + (r.prevChain ? CHAIN_HASH_SIZE : 0));
  let p = writeVaruintAt(out, 2, r.calendarId.length);
  out.set(r.calendarId, p);
  p += r.calendarId.length;
  writeU64(out, p, r.fromSeq);
  writeU32(out, p + 8, r.maxBytes);
  if (r.prevChain) out.set(r.prevChain, p + 12);
  return out;
}

export function encodeEnd(reason: string): Uint8Array {
  const text = new TextEncoder().encode(reason);
  if (text.length > MAX_END_REASON_BYTES) throw new RangeError(`an end reason is at most ${MAX_END_REASON_BYTES} bytes`);
  const out = header(WireKind.END, 2 + varuintSize(text.length) + text.length);
  out.set(text, writeVaruintAt(out, 2, text.length));
  return out;
}

/** Run a journal decoder, turning its errors (a bad checkpoint) into the wire's. */
function checkpointAt(buf: Uint8Array, p: number): Checkpoint {
  try {
    return decodeCheckpoint(buf.subarray(p));
  } catch (e) {
    if (e instanceof CalendarError) throw wireError(WireErrorCode.BAD_FIELD, `bad head: ${e.message} (${e.code})`);
    throw e;
  }
}

function varuint(buf: Uint8Array, p: number, max: number, what: string): {value: number; end: number} {
  try {
    return readVaruintStrict(buf, p, max);
  } catch (e) {
    if (e instanceof CalendarError) throw wireError(p >= buf.length ? WireErrorCode.TRUNCATED : WireErrorCode.BAD_FIELD, `bad ${what}: ${e.message}`);
    throw e;
  }
}

/**
 * Decode one message of at most `limit` bytes (the channel's limit; the
 * size is checked before anything else). `expect` lists the kinds the
 * channel carries; any other is WRONG_KIND.
 */
export function decodeWireMessage(buf: Uint8Array, limit: number, expect: readonly WireKind[]): WireMessage {
  if (buf.length > limit) throw wireError(WireErrorCode.TOO_LARGE, `message of ${buf.length} bytes, over ${limit}`);
  if (buf.length < 2) throw wireError(WireErrorCode.TRUNCATED, "message shorter than its header");
  if (buf[0] !== WIRE_VERSION) throw wireError(WireErrorCode.UNSUPPORTED_VERSION, `wire version ${buf[0]} (this otsfed reads ${WIRE_VERSION})`);
  const kind = buf[1] as number;
  if (!(expect as readonly number[]).includes(kind)) throw wireError(WireErrorCode.WRONG_KIND, `message kind ${kind} where ${expect.join(" or ")} was expected`);
  switch (kind) {
    case WireKind.PIECE: {
      if (buf.length < 11) throw wireError(WireErrorCode.TRUNCATED, "piece shorter than its header");
      const flags = buf[2] as number;
      if (flags > 1) throw wireError(WireErrorCode.BAD_FIELD, `piece flags ${flags}`);
      let fromSeq: number;
      try {
        fromSeq = readU64(buf, 3);
      } catch {
        throw wireError(WireErrorCode.BAD_FIELD, "piece fromSeq beyond 2^53");
      }
      let p = 11;
      let prevChain: Uint8Array | null = null;
      if (flags & 1) {
        if (p + CHAIN_HASH_SIZE > buf.length) throw wireError(WireErrorCode.TRUNCATED, "piece ends inside prevChain");
        prevChain = buf.slice(p, p + CHAIN_HASH_SIZE);
        p += CHAIN_HASH_SIZE;
      }
      const n = varuint(buf, p, MAX_BATCH_BYTES, "frames length");
      if (n.value < 1) throw wireError(WireErrorCode.BAD_FIELD, "empty piece");
      if (n.end + n.value > buf.length) throw wireError(WireErrorCode.TRUNCATED, "piece ends inside its frames");
      const frames = buf.subarray(n.end, n.end + n.value);
      const head = checkpointAt(buf, n.end + n.value);
      return {kind, piece: {fromSeq, prevChain, frames, head}};
    }
    case WireKind.HEAD:
      return {kind, head: checkpointAt(buf, 2)};
    case WireKind.REQUEST: {
      const n = varuint(buf, 2, MAX_CALENDAR_ID_SIZE, "calendar id length");
      if (n.value < 1) throw wireError(WireErrorCode.BAD_FIELD, "empty calendar id");
      if (n.end + n.value + 12 > buf.length) throw wireError(WireErrorCode.TRUNCATED, "request ends early");
      const calendarId = buf.slice(n.end, n.end + n.value);
      let p = n.end + n.value;
      let fromSeq: number;
      try {
        fromSeq = readU64(buf, p);
      } catch {
        throw wireError(WireErrorCode.BAD_FIELD, "request fromSeq beyond 2^53");
      }
      const maxBytes = readU32(buf, p + 8);
      p += 12;
      if (maxBytes < 1 || maxBytes > MAX_BATCH_BYTES) throw wireError(WireErrorCode.BAD_FIELD, `request maxBytes ${maxBytes} outside 1..${MAX_BATCH_BYTES}`);
      let prevChain: Uint8Array | null = null;
      if (buf.length - p === CHAIN_HASH_SIZE) {
        prevChain = buf.slice(p, p + CHAIN_HASH_SIZE);
        p += CHAIN_HASH_SIZE;
      }
      if (p !== buf.length) throw wireError(WireErrorCode.TRAILING_BYTES, `${buf.length - p} bytes after the request`);
      return {kind, request: {calendarId, fromSeq, maxBytes, prevChain}};
    }
    case WireKind.END: {
      const n = varuint(buf, 2, MAX_END_REASON_BYTES, "reason length");
      if (n.end + n.value !== buf.length) throw wireError(n.end + n.value > buf.length ? WireErrorCode.TRUNCATED : WireErrorCode.TRAILING_BYTES, "end message length does not match its reason");
      let reason: string;
      try {
        reason = new TextDecoder("utf-8", {fatal: true}).decode(buf.subarray(n.end));
      } catch {
        throw wireError(WireErrorCode.BAD_FIELD, "end reason is not UTF-8");
      }
      return {kind, reason};
    }
    default:
      throw wireError(WireErrorCode.WRONG_KIND, `message kind ${kind}`);
  }
}

/**
 * Check a piece's records against its head with no state but `start` (the
 * receiver's end, or the piece's own prevChain for gossip): every frame
 * decodes strictly and the records hash from `start` to the head's chain
 * hash at exactly the head's length, for `calendarId`. Returns the decoded
 * records. Throws JournalError (frames, chain) or WireError.
 */
export function checkPiece(piece: JournalPiece, calendarId: Uint8Array, start: {fromSeq: number; prevChain: Uint8Array}, sha256?: Sha256): BatchRecord[] {
  if (start.fromSeq !== piece.fromSeq) throw wireError(WireErrorCode.BAD_PIECE, `piece starts at record ${piece.fromSeq}, expected ${start.fromSeq}`);
  const records = decodeRecordBatch(piece.frames, start, sha256);
  checkBatchHead(records, start, calendarId, piece.head);
  return records;
}

/** Two heads of one calendar at one length with different chain hashes: its operator forked the journal. */
export function isEquivocation(a: Checkpoint, b: Checkpoint): boolean {
  return bytesEqual(a.calendarId, b.calendarId) && a.length === b.length && !bytesEqual(a.chainHash, b.chainHash);
}
