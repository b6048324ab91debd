/**
 * Journal segments: the journal is a sequence of files, each an immutable
 * run of records once the next one starts, so segments can be served,
 * cached and verified independently (DESIGN §2).
 *
 * Header (protocol/journal/README.md "Segments"):
 *
 *   magic       8 bytes  "OTSFEDJL"
 *   version     1 byte   0x01
 *   calendarId  varbytes 1..64 bytes (the calendar's libp2p peer id bytes)
 *   firstSeq    uint64 BE, sequence number of the segment's first record
 *   prevChain   32 bytes, chain hash after record firstSeq-1 (genesis for 0)
 *   crc         uint32 BE, CRC-32C of the header bytes before it
 *
 * then frames (record.ts) back to back until the end of the file.
 */
import {bytesEqual} from "../ots/bytes.ts";
import {nextChainHash, CHAIN_HASH_SIZE} from "./chain.ts";
import type {Sha256} from "./chain.ts";
import {crc32c} from "./crc32c.ts";
import {JournalError, journalError, JournalErrorCode} from "./errors.ts";
import {decodeFrame, isKnownKind, isOptionalKind, RecordKind} from "./record.ts";
import type {RecordFrame} from "./record.ts";
import {decodeRound} from "./round.ts";
import {decodeStamp, decodeStampRevoked} from "./stamp.ts";

const PAYLOAD_DECODERS = new Map<number, (payload: Uint8Array) => unknown>([
  [RecordKind.ROUND, decodeRound],
  [RecordKind.STAMP, decodeStamp],
  [RecordKind.STAMP_REVOKED, decodeStampRevoked],
]);
import {readU32, readU64, readVaruintStrict, varuintSize, writeU32, writeU64, writeVaruintAt} from "./varint.ts";

export const SEGMENT_MAGIC = new TextEncoder().encode("OTSFEDJL");
export const SEGMENT_VERSION = 1;
export const MAX_CALENDAR_ID_SIZE = 64;

export type SegmentHeader = {
  calendarId: Uint8Array;
  firstSeq: number;
  prevChain: Uint8Array;
};

export function encodeSegmentHeader(h: SegmentHeader): Uint8Array {
  if (h.calendarId.length < 1 || h.calendarId.length > MAX_CALENDAR_ID_SIZE) throw new RangeError("calendar id must be 1..64 bytes");
  if (h.prevChain.length !== CHAIN_HASH_SIZE) throw new RangeError("prevChain must be 32 bytes");
  const out = new Uint8Array(SEGMENT_MAGIC.length + 1 + varuintSize(h.calendarId.length) + h.calendarId.length + 8 + CHAIN_HASH_SIZE + 4);
  out.set(SEGMENT_MAGIC, 0);
  let p = SEGMENT_MAGIC.length;
  out[p++] = SEGMENT_VERSION;
  p = writeVaruintAt(out, p, h.calendarId.length);
  out.set(h.calendarId, p);
  p += h.calendarId.length;
  writeU64(out, p, h.firstSeq);
  p += 8;
  out.set(h.prevChain, p);
  p += CHAIN_HASH_SIZE;
  writeU32(out, p, crc32c(out, 0, p));
  return out;
}

/** Decode the header at the start of `buf`; returns it and its size. */
export function decodeSegmentHeader(buf: Uint8Array): {header: SegmentHeader; size: number} {
  if (buf.length < SEGMENT_MAGIC.length + 1) throw journalError(JournalErrorCode.TRUNCATED, "segment header runs past the end", 0);
  if (!bytesEqual(buf.subarray(0, SEGMENT_MAGIC.length), SEGMENT_MAGIC)) throw journalError(JournalErrorCode.BAD_MAGIC, "not a journal segment (bad magic)", 0);
  let p = SEGMENT_MAGIC.length;
  const version = buf[p++] as number;
  if (version !== SEGMENT_VERSION) throw journalError(JournalErrorCode.UNSUPPORTED_VERSION, `segment version ${version}, this code reads ${SEGMENT_VERSION}`, p - 1);
  const idLen = readVaruintStrict(buf, p, MAX_CALENDAR_ID_SIZE);
  if (idLen.value < 1) throw journalError(JournalErrorCode.BAD_LENGTH, "empty calendar id", p);
  p = idLen.end;
  if (p + idLen.value + 8 + CHAIN_HASH_SIZE + 4 > buf.length) throw journalError(JournalErrorCode.TRUNCATED, "segment header runs past the end", p);
  const calendarId = buf.slice(p, p + idLen.value);
  p += idLen.value;
  const firstSeq = readU64(buf, p);
  p += 8;
  const prevChain = buf.slice(p, p + CHAIN_HASH_SIZE);
  p += CHAIN_HASH_SIZE;
  if (crc32c(buf, 0, p) !== readU32(buf, p)) throw journalError(JournalErrorCode.CHECKSUM_MISMATCH, "segment header checksum mismatch", 0);
  return {header: {calendarId, firstSeq, prevChain}, size: p + 4};
}

/** One record as a scan yields it. `payload`/`body` are views into the segment bytes. */
export type ScannedRecord = RecordFrame & {
  seq: number;
  /** Byte offset of the frame inside its segment. */
  offset: number;
  /** Chain hash after this record. */
  chainHash: Uint8Array;
};

/** A cut-off end of the last segment: bytes a crash left that hold no complete record. */
export type TornTail = {offset: number; length: number};

export type SegmentScan = {
  header: SegmentHeader;
  headerSize: number;
  records: number;
  /** Offset after the last good record: where the next record goes. */
  end: number;
  /** Sequence number the next record gets. */
  nextSeq: number;
  /** Chain hash after the last good record (prevChain if none). */
  chainHash: Uint8Array;
  /** Non-null only for the last segment, when it ends in a torn write. */
  torn: TornTail | null;
};

export type ScanOptions = {
  /** Only the last segment may end in a torn tail; anywhere else it is corruption. */
  isLast: boolean;
  sha256?: Sha256;
  /** Checked against the header when given. */
  expect?: {calendarId: Uint8Array; firstSeq: number; prevChain: Uint8Array};
  /** Told each record's byte offset, in order (cheaper than `onRecord` when that is all a caller keeps). */
  onOffset?: (offset: number) => void;
};

/**
 * The rule every reader applies to a record's content: a known kind's
 * payload must decode exactly (so a bad one stops the reader, naming the
 * record, instead of a proof being derived from it later), and a critical
 * kind this version does not know is refused. Optional kinds pass.
 */
export function checkRecordPayload(kind: number, payload: Uint8Array, seq: number, offset: number): void {
  const decode = PAYLOAD_DECODERS.get(kind);
  if (decode !== undefined) {
    try {
      decode(payload);
    } catch (e) {
      if (e instanceof JournalError) throw journalError(e.code, `record ${seq}: ${e.message}`, offset);
      throw e;
    }
  } else if (!isKnownKind(kind) && !isOptionalKind(kind)) {
    throw journalError(JournalErrorCode.UNKNOWN_CRITICAL_KIND, `record ${seq} has critical kind ${kind} this version does not know`, offset);
  }
}

/** Start of the run of zero bytes that ends `buf` (buf.length if its last byte is non-zero). */
function trailingZeroStart(buf: Uint8Array, from: number): number {
  let z = buf.length;
  while (z > from && buf[z - 1] === 0) z--;
  return z;
}

/**
 * Is the failure at `p` a torn write? We append whole group-commit batches
 * and fsync before acknowledging, so a crash can leave (a) a frame cut short
 * at the end of the file, or (b) space the filesystem extended but never
 * filled, which reads as zeros. Both are cut. A complete frame that fails
 * its checksum with non-zero bytes up to its end is corruption: it may be an
 * acknowledged record, and we never silently drop one.
 */
function isTornAt(buf: Uint8Array, p: number, err: JournalError): boolean {
  if (err.code === JournalErrorCode.TRUNCATED) return true;
  const z = trailingZeroStart(buf, p);
  if (p >= z) return true;
  try {
    decodeFrame(buf.subarray(0, z), p);
    return false;
  } catch (e) {
    return e instanceof JournalError && e.code === JournalErrorCode.TRUNCATED;
  }
}

/**
 * Verify a whole segment: header, every frame's checksum, known payloads,
 * the critical-kind rule and the hash chain, calling `onRecord` for each
 * record in order. Throws a JournalError with the byte offset on anything
 * wrong, except a torn tail of the last segment, which is reported in
 * `torn` (the caller cuts it).
 */
export function scanSegment(buf: Uint8Array, opts: ScanOptions, onRecord?: (r: ScannedRecord) => void): SegmentScan {
  const {header, size} = decodeSegmentHeader(buf);
  if (opts.expect) {
    if (!bytesEqual(header.calendarId, opts.expect.calendarId)) throw journalError(JournalErrorCode.WRONG_CALENDAR, "segment belongs to another calendar", SEGMENT_MAGIC.length + 1);
    if (header.firstSeq !== opts.expect.firstSeq) throw journalError(JournalErrorCode.BROKEN_CHAIN, `segment starts at record ${header.firstSeq}, expected ${opts.expect.firstSeq}`, 0);
    if (!bytesEqual(header.prevChain, opts.expect.prevChain)) throw journalError(JournalErrorCode.BROKEN_CHAIN, "segment's previous chain hash does not match the journal before it", 0);
  }
  let chain = header.prevChain;
  let seq = header.firstSeq;
  let p = size;
  let torn: TornTail | null = null;
  while (p < buf.length) {
    let frame: RecordFrame;
    try {
      frame = decodeFrame(buf, p);
    } catch (e) {
      if (e instanceof JournalError && opts.isLast && isTornAt(buf, p, e)) {
        torn = {offset: p, length: buf.length - p};
        break;
      }
      throw e;
    }
    checkRecordPayload(frame.kind, frame.payload, seq, p);
    chain = nextChainHash(chain, frame.body, opts.sha256);
    opts.onOffset?.(p);
    onRecord?.({...frame, seq, offset: p, chainHash: chain});
    seq++;
    p = frame.end;
  }
  return {header, headerSize: size, records: seq - header.firstSeq, end: p, nextSeq: seq, chainHash: chain, torn};
}
