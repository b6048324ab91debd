/**
 * The ROUND record payload (kind 1): one aggregation round.
 *
 *   time    varuint  unix time in milliseconds when the round closed
 *   leaves  varuint  number of digests aggregated (≥ 1)
 *   root    32 bytes OpenTimestamps merkle root over the nonced digests
 *
 * The round's commitment is derived from the root, the calendar tag and the
 * record's sequence number (commitment.ts), so it is not stored.
 */
import {journalError, JournalErrorCode} from "./errors.ts";
import {readVaruintStrict, varuintSize, writeVaruintAt} from "./varint.ts";

export const ROUND_ROOT_SIZE = 32;
/** Generous bound on a round's size; the aggregator's queue is far smaller. */
export const MAX_ROUND_LEAVES = 1 << 30;

export type RoundRecord = {
  /** Unix time in milliseconds when the round closed. */
  timeMs: number;
  /** Digests in the round. */
  leaves: number;
  /** Merkle root, 32 bytes. */
  root: Uint8Array;
};

export function encodeRound(r: RoundRecord): Uint8Array {
  if (r.root.length !== ROUND_ROOT_SIZE) throw new RangeError(`round root must be ${ROUND_ROOT_SIZE} bytes`);
  if (r.leaves < 1 || r.leaves > MAX_ROUND_LEAVES) throw new RangeError(`round leaves out of range: ${r.leaves}`);
  const out = new Uint8Array(varuintSize(r.timeMs) + varuintSize(r.leaves) + ROUND_ROOT_SIZE);
  let p = writeVaruintAt(out, 0, r.timeMs);
  p = writeVaruintAt(out, p, r.leaves);
  out.set(r.root, p);
  return out;
}

/** Decode a ROUND payload exactly; the root is a view into `payload`. */
export function decodeRound(payload: Uint8Array): RoundRecord {
  try {
    const t = readVaruintStrict(payload, 0, Number.MAX_SAFE_INTEGER);
    const l = readVaruintStrict(payload, t.end, MAX_ROUND_LEAVES);
    if (l.value < 1) throw journalError(JournalErrorCode.BAD_PAYLOAD, "round with no leaves", t.end);
    if (payload.length !== l.end + ROUND_ROOT_SIZE) throw journalError(JournalErrorCode.BAD_PAYLOAD, `round payload is ${payload.length} bytes, expected ${l.end + ROUND_ROOT_SIZE}`);
    return {timeMs: t.value, leaves: l.value, root: payload.subarray(l.end)};
  } catch (e) {
    // Inside a checksummed frame a short payload is a malformed record, not a torn tail.
    if (e instanceof Error && "code" in e && e.code === JournalErrorCode.TRUNCATED) throw journalError(JournalErrorCode.BAD_PAYLOAD, "round payload too short");
    throw e;
  }
}
