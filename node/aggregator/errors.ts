/**
 * Typed errors of the stand-alone aggregator's upstream calendars (STYLE §4):
 * why one upstream did not take one round. The codes are the
 * `calendar_upstream_requests_total{result}` labels and what the status
 * page and /healthz show; they never carry the upstream's bytes.
 */
import {CalendarError} from "../../protocol/errors.ts";

/** Why an upstream calendar's answer was not taken: the `UPSTREAM_…` codes. */
export const UpstreamErrorCode = {
  /** No connection, or the connection failed before a complete reply (refused, reset, DNS, TLS). Retried. */
  UNREACHABLE: "UPSTREAM_UNREACHABLE",
  /** No complete reply before the round's deadline. */
  TIMEOUT: "UPSTREAM_TIMEOUT",
  /** An HTTP status other than 200. 5xx, 408 and 429 are retried; other 4xx are not. */
  STATUS: "UPSTREAM_STATUS",
  /** A reply body over MAX_UPSTREAM_REPLY_BYTES (declared or sent); the connection is cut at the limit. */
  REPLY_TOO_LARGE: "UPSTREAM_REPLY_TOO_LARGE",
  /** A body that is not a timestamp rooted at the round's root (the protocol/ots decoder refused it). */
  REPLY_INVALID: "UPSTREAM_REPLY_INVALID",
  /** A timestamp with an attestation that is not Pending: no calendar can have anything else for a fresh root. */
  REPLY_NOT_PENDING: "UPSTREAM_REPLY_NOT_PENDING",
  /**
   * A timestamp whose shape would break a client's proof: an attestation at
   * its root or beside ops, more ops on a path than MAX_UPSTREAM_REPLY_DEPTH,
   * more attestations than MAX_UPSTREAM_REPLY_ATTESTATIONS, or a branch
   * that collides with another upstream's.
   */
  REPLY_BAD_SHAPE: "UPSTREAM_REPLY_BAD_SHAPE",
  /** The proofs of the round would pass the client's 10,000-byte limit with this upstream's branch in it. */
  PROOF_TOO_LARGE: "UPSTREAM_PROOF_TOO_LARGE",
  /** The aggregator is stopping: the request was abandoned. */
  STOPPING: "UPSTREAM_STOPPING",
  /** Handling the reply failed in a way that is a bug of ours (logged at error); the round goes on without it. */
  INTERNAL: "UPSTREAM_INTERNAL",
} as const;
export type UpstreamErrorCode = (typeof UpstreamErrorCode)[keyof typeof UpstreamErrorCode];

/** Error metadata: the code, and for UPSTREAM_STATUS the HTTP status. */
export type UpstreamErrorType = {code: Exclude<UpstreamErrorCode, typeof UpstreamErrorCode.STATUS>} | {code: typeof UpstreamErrorCode.STATUS; status: number};

/** One upstream calendar did not take one round; `message` says why in words fit for a log line. */
export class UpstreamError extends CalendarError<UpstreamErrorType> {
  /** Worth another attempt within the round's deadline: the failure may be gone in a moment. */
  get retryable(): boolean {
    const t = this.type;
    if (t.code === UpstreamErrorCode.UNREACHABLE) return true;
    if (t.code === UpstreamErrorCode.STATUS) return t.status >= 500 || t.status === 408 || t.status === 429;
    return false;
  }
}

/** An UpstreamError of a code without metadata. */
export function upstreamError(code: Exclude<UpstreamErrorCode, typeof UpstreamErrorCode.STATUS>, message: string): UpstreamError {
  return new UpstreamError({code}, message);
}
