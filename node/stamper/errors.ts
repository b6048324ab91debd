/**
 * Typed errors of the calendar's stamping policy (STYLE §4); the anchoring
 * engine's own are in node/anchor/errors.ts.
 */
import {CalendarError} from "../../protocol/errors.ts";

/** Bounded error codes. */
export const StamperErrorCode = {
  /** A confirmed stamp's ranges do not hold as many unanchored rounds as it has leaves: journaling it would derive wrong proofs. */
  ROUNDS_MISMATCH: "STAMPER_ROUNDS_MISMATCH",
} as const;

/** Error metadata, discriminated by code. */
export type StamperErrorType = {code: typeof StamperErrorCode.ROUNDS_MISMATCH; txid: Uint8Array; leaves: number; unanchored: number};

/** The one error class of `node/stamper/`. */
export class StamperError extends CalendarError<StamperErrorType> {}
