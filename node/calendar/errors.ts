import {CalendarError} from "../../protocol/errors.ts";
import type {JournalErrorCode} from "../../protocol/journal/errors.ts";

/**
 * The journal on disk is damaged somewhere a crash cannot explain. The node
 * refuses to start: nothing is padded, skipped or cut. The message names the
 * segment file and byte offset so an operator can inspect it
 * (`otsfed journal verify DIR`).
 */
export class JournalCorruptionError extends CalendarError<{code: JournalErrorCode; segment: string; offset: number}> {}

/** Codes for store-level failures that are not format errors. */
export const StoreErrorCode = {
  /** A journal write or fsync failed; the store refuses further appends until restarted. */
  WRITE_FAILED: "STORE_WRITE_FAILED",
  /** The journal was written by another identity than the one in the data dir. */
  IDENTITY_MISMATCH: "STORE_IDENTITY_MISMATCH",
  /** The index was written by an incompatible schema version. */
  INDEX_SCHEMA: "STORE_INDEX_SCHEMA",
  /** LevelDB cannot open the index (damaged files): it is rebuilt from the journals. */
  INDEX_DAMAGED: "STORE_INDEX_DAMAGED",
  /** Another process holds the index (LevelDB lock): a node is already running on this data dir. */
  IN_USE: "STORE_IN_USE",
  /** A STAMP record disagrees with the rounds it claims to cover (root or count). */
  STAMP_INCONSISTENT: "STORE_STAMP_INCONSISTENT",
  /** The store is closed. */
  CLOSED: "STORE_CLOSED",
  /** A write the journal's role forbids: a mirror never writes its own records, an origin never imports. */
  READ_ONLY: "STORE_READ_ONLY",
  /** Two writes at once: the journal takes one at a time (a bug in the caller). */
  CONCURRENT_WRITE: "STORE_CONCURRENT_WRITE",
  /** A stamp tree could not be hashed (its worker thread failed). */
  TREE_WORKER_FAILED: "STORE_TREE_WORKER_FAILED",
  /** A calendar the registry cannot hold: unknown, already held, a tag another held calendar has, or an id without an Ed25519 key. */
  UNKNOWN_CALENDAR: "STORE_UNKNOWN_CALENDAR",
} as const;
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

export class StoreError extends CalendarError<{code: StoreErrorCode}> {}
