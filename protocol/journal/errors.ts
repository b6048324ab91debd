import {CalendarError} from "../errors.ts";

/** Every way a journal segment, record or checkpoint can fail to decode or verify (protocol/journal/README.md). */
export const JournalErrorCode = {
  /** The bytes end inside a header or a record frame. */
  TRUNCATED: "JOURNAL_TRUNCATED",
  /** A segment or checkpoint does not start with its magic bytes. */
  BAD_MAGIC: "JOURNAL_BAD_MAGIC",
  /** A format version this code does not read. */
  UNSUPPORTED_VERSION: "JOURNAL_UNSUPPORTED_VERSION",
  /** A varuint in non-minimal form or above its limit. */
  BAD_VARUINT: "JOURNAL_BAD_VARUINT",
  /** A length field outside its allowed range. */
  BAD_LENGTH: "JOURNAL_BAD_LENGTH",
  /** A record or header whose CRC32C does not match its bytes. */
  CHECKSUM_MISMATCH: "JOURNAL_CHECKSUM_MISMATCH",
  /** Kind 0, which is never written (so zero-filled space never parses as a record). */
  ZERO_KIND: "JOURNAL_ZERO_KIND",
  /** A critical record kind (1..63) this code does not know: written by newer software. */
  UNKNOWN_CRITICAL_KIND: "JOURNAL_UNKNOWN_CRITICAL_KIND",
  /** A known record kind whose payload does not parse exactly. */
  BAD_PAYLOAD: "JOURNAL_BAD_PAYLOAD",
  /** A segment that belongs to another calendar. */
  WRONG_CALENDAR: "JOURNAL_WRONG_CALENDAR",
  /** A segment whose first sequence number or previous chain hash does not continue the one before it. */
  BROKEN_CHAIN: "JOURNAL_BROKEN_CHAIN",
  /** A checkpoint whose signature does not verify. */
  BAD_SIGNATURE: "JOURNAL_BAD_SIGNATURE",
  /** Bytes after a complete structure. */
  TRAILING_BYTES: "JOURNAL_TRAILING_BYTES",
} as const;
export type JournalErrorCode = (typeof JournalErrorCode)[keyof typeof JournalErrorCode];

/** A typed journal error; `offset` is the byte position inside the segment or checkpoint where known. */
export class JournalError extends CalendarError<{code: JournalErrorCode; offset?: number}> {}

/** Build a typed journal error, appending the offset to the message when given. */
export function journalError(code: JournalErrorCode, message: string, offset?: number): JournalError {
  return new JournalError(offset === undefined ? {code} : {code, offset}, offset === undefined ? message : `${message} (at byte ${offset})`);
}
