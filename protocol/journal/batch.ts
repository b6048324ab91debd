/**
 * Record batches: a run of frames that extends a calendar's journal, as a
 * mirror receives it (replication gossip, a catch-up reply, an import) with
 * the origin's signed head (checkpoint.ts) at its end.
 *
 * A batch is accepted only if every frame decodes strictly (checksums,
 * minimal varuints, known payloads exact, no unknown critical kind), it
 * starts exactly where the receiver's copy ends, and hashing it onto the
 * receiver's chain hash gives the head's chain hash at the head's length.
 * The head's signature is the caller's to check (protocol/ holds no key
 * code): with it, a batch is the origin's own records, whoever relayed it.
 * Unlike a segment scan there is no torn-tail allowance: a cut frame is a
 * bad batch.
 */
import {bytesEqual} from "../ots/bytes.ts";
import {nextChainHash} from "./chain.ts";
import type {Sha256} from "./chain.ts";
import type {CheckpointBody} from "./checkpoint.ts";
import {journalError, JournalErrorCode} from "./errors.ts";
import {decodeFrame} from "./record.ts";
import {checkRecordPayload} from "./segment.ts";

/** Most bytes one batch may hold: a catch-up reply of about a segment, never an unbounded allocation. */
export const MAX_BATCH_BYTES = 32 * 1024 * 1024;

/** One record of a batch; `frame` and `payload` are views into the batch bytes. */
export type BatchRecord = {
  seq: number;
  kind: number;
  payload: Uint8Array;
  /** The whole frame (kind ‖ length ‖ payload ‖ crc), as it is written to a segment. */
  frame: Uint8Array;
  /** Chain hash after this record. */
  chainHash: Uint8Array;
};

/** Where the receiver's copy of the journal ends. */
export type BatchStart = {fromSeq: number; prevChain: Uint8Array};

/**
 * Decode `bytes` as frames following `start`, computing each record's
 * chain hash. Throws a JournalError (offset = byte position in `bytes`) on
 * any malformed frame; an empty or oversized batch is BAD_LENGTH.
 */
export function decodeRecordBatch(bytes: Uint8Array, start: BatchStart, sha256?: Sha256): BatchRecord[] {
  if (bytes.length === 0) throw journalError(JournalErrorCode.BAD_LENGTH, "empty record batch", 0);
  if (bytes.length > MAX_BATCH_BYTES) throw journalError(JournalErrorCode.BAD_LENGTH, `record batch of ${bytes.length} bytes, over ${MAX_BATCH_BYTES}`, 0);
  const out: BatchRecord[] = [];
  let chain = start.prevChain;
  let seq = start.fromSeq;
  for (let p = 0; p < bytes.length; ) {
    const f = decodeFrame(bytes, p);
    checkRecordPayload(f.kind, f.payload, seq, p);
    chain = nextChainHash(chain, f.body, sha256);
    out.push({seq, kind: f.kind, payload: f.payload, frame: bytes.subarray(p, f.end), chainHash: chain});
    seq++;
    p = f.end;
  }
  return out;
}

/**
 * Check that `records` (decoded from `start`) end exactly at `head`, the
 * origin's signed statement of its journal: same calendar, the batch starts
 * at the receiver's end and stops at the head's length, and the chain hash
 * there is the head's. Throws WRONG_CALENDAR, BROKEN_CHAIN or BAD_LENGTH.
 */
export function checkBatchHead(records: readonly BatchRecord[], start: BatchStart, calendarId: Uint8Array, head: CheckpointBody): void {
  if (!bytesEqual(head.calendarId, calendarId)) throw journalError(JournalErrorCode.WRONG_CALENDAR, "the head names another calendar");
  const end = start.fromSeq + records.length;
  if (head.length !== end) {
    throw journalError(JournalErrorCode.BROKEN_CHAIN, `the head covers ${head.length} records but the batch runs from ${start.fromSeq} to ${end}`);
  }
  const last = records[records.length - 1];
  const chain = last === undefined ? start.prevChain : last.chainHash;
  if (!bytesEqual(chain, head.chainHash)) throw journalError(JournalErrorCode.BROKEN_CHAIN, `the batch does not chain to the head's hash at length ${head.length}`);
}
