/**
 * Where the aggregator sends each round: the one thing it needs from
 * whatever stands behind it. A calendar journals the round's root
 * (calendar-round-sink.ts); a stand-alone aggregator forwards it to
 * calendars upstream (node/aggregator/upstream-round-sink.ts). Either way each client's proof is its own path to the
 * root (nonce, merkle path) followed by the bytes the sink returns.
 */
import type {LogContext} from "../logger.ts";

/** What a sink gives back for a round it made durable. */
export type RoundReceipt = {
  /**
   * The serialized timestamp from the round's root on, without a header:
   * ops and attestations, e.g. a calendar's `append(tag ‖ seq)` and its
   * `PendingAttestation(url)`. The same for every client of the round: a
   * linear path followed by this subtree serializes as the concatenation.
   */
  tail: Uint8Array;
  /** What the aggregator's round log line says about the round, e.g. `{seq}`. */
  logContext: LogContext;
};

/** Takes the aggregator's rounds. */
export interface RoundSink {
  /**
   * Durably commit a round: its 32-byte merkle `root`, over `leaves`
   * digests, closed at `timeMs`. Resolves only once the round is durable;
   * rejects when it could not be recorded, and then no digest of the round
   * is acknowledged. A rejection with an `AggregatorError` carries its own
   * code to the clients (e.g. AGGREGATOR_UPSTREAMS_UNAVAILABLE); any other
   * is reported as AGGREGATOR_JOURNAL_FAILED.
   */
  commitRound(root: Uint8Array, leaves: number, timeMs: number): Promise<RoundReceipt>;
}
