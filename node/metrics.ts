/**
 * Every Prometheus metric of a calendar node and of the stand-alone
 * aggregator, created in one place (STYLE §14). Names carry the `calendar_` prefix and a unit suffix; label
 * values come from small fixed sets only (route names, status classes).
 */
import {Counter, Gauge, Histogram, collectDefaultMetrics} from "prom-client";
import type {Registry} from "prom-client";

// Route labels come from the HTTP route table (node/http/router.ts): a fixed set, never the raw path.
/**
 * Status classes as metric labels; "aborted": the connection closed before
 * the reply was complete (a client that went away mid-request, or a
 * connection the server closed for misbehaving), whatever status had been set.
 */
export type StatusClass = "2xx" | "3xx" | "4xx" | "5xx" | "aborted";

/** The label of a reply's status code (never "aborted"; the server decides that from the connection). */
export function statusClass(code: number): StatusClass {
  return code >= 500 ? "5xx" : code >= 400 ? "4xx" : code >= 300 ? "3xx" : "2xx";
}

/** HTTP request counts and durations, by route label: the API server's (node/http/server.ts), in every otsfed daemon. */
function httpMetrics(registers: Registry[]): {httpRequests: Counter<"route" | "status">; httpDuration: Histogram<"route">} {
  return {
    httpRequests: new Counter({name: "calendar_http_requests_total", help: "HTTP requests by route and status class", labelNames: ["route", "status"] as const, registers}),
    httpDuration: new Histogram({
      name: "calendar_http_request_duration_seconds",
      help: "HTTP request handling time by route",
      labelNames: ["route"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
  };
}

/** Digests and rounds: the aggregator's (node/calendar/aggregator.ts), whatever its round sink. */
function roundMetrics(registers: Registry[]): {digestsAccepted: Counter; digestsRejected: Counter<"reason">; queueDepth: Gauge; roundDigests: Histogram; roundSeconds: Histogram} {
  return {
    digestsAccepted: new Counter({name: "calendar_digests_accepted_total", help: "Digests acknowledged with a durable partial proof", registers}),
    digestsRejected: new Counter({name: "calendar_digests_rejected_total", help: "Digests refused, by reason", labelNames: ["reason"] as const, registers}),
    queueDepth: new Gauge({name: "calendar_aggregator_queue_depth", help: "Digests waiting for a round", registers}),
    roundDigests: new Histogram({name: "calendar_round_digests", help: "Digests per aggregation round", buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000, 50000], registers}),
    roundSeconds: new Histogram({
      name: "calendar_round_duration_seconds",
      help: "Time from closing a round to its being durable (journaled, or accepted by enough upstream calendars)",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 5],
      registers,
    }),
  };
}

/** What the HTTP API server records. */
export type HttpMetrics = ReturnType<typeof httpMetrics>;
/** What the aggregator records. */
export type RoundMetrics = ReturnType<typeof roundMetrics>;

export function createMetrics(register: Registry): HttpMetrics &
  RoundMetrics & {
    fsyncSeconds: Histogram;
    journalBytes: Gauge;
    journalRecords: Gauge;
    journalSegments: Gauge;
    indexLookups: Counter<"result">;
    stamperPending: Gauge;
    stamperUnanchored: Gauge;
    stamperUnconfirmedVersions: Gauge;
    stamperWaiting: Gauge;
    stamperProblem: Gauge<"kind">;
    stamperDeepReorgs: Counter;
    stampBroadcasts: Counter<"kind">;
    stamps: Counter;
    stampedCommitments: Counter;
    stampFeeSats: Counter;
  } {
  const registers = [register];
  collectDefaultMetrics({register, prefix: "calendar_process_"});
  return {
    ...httpMetrics(registers),
    ...roundMetrics(registers),
    fsyncSeconds: new Histogram({name: "calendar_journal_fsync_duration_seconds", help: "Journal write+fdatasync time", buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5], registers}),
    journalBytes: new Gauge({name: "calendar_journal_bytes", help: "Bytes in all journal segments", registers}),
    journalRecords: new Gauge({name: "calendar_journal_records", help: "Records in the journal (its length)", registers}),
    journalSegments: new Gauge({name: "calendar_journal_segments", help: "Journal segment files", registers}),
    indexLookups: new Counter({name: "calendar_index_lookups_total", help: "Commitment lookups by result", labelNames: ["result"] as const, registers}),
    stamperPending: new Gauge({name: "calendar_stamper_pending_commitments", help: "Commitments in no stamp transaction yet", registers}),
    stamperUnanchored: new Gauge({name: "calendar_stamper_unanchored_commitments", help: "Commitments without a journaled stamp (pending, in flight or waiting for confirmations)", registers}),
    stamperUnconfirmedVersions: new Gauge({name: "calendar_stamper_unconfirmed_versions", help: "Broadcast versions of unconfirmed stamp transactions", registers}),
    stamperWaiting: new Gauge({name: "calendar_stamper_waiting_transactions", help: "Mined stamp transactions waiting for enough confirmations", registers}),
    stamperProblem: new Gauge({
      name: "calendar_stamper_problem",
      help: "1 while the stamper has this kind of problem (bitcoin-node, funds, wallet, fee-cap, deep-reorg, internal)",
      labelNames: ["kind"] as const,
      registers,
    }),
    stamperDeepReorgs: new Counter({name: "calendar_stamper_deep_reorgs_total", help: "Journaled stamps revoked because their block left the best chain", registers}),
    stampBroadcasts: new Counter({name: "calendar_stamp_broadcasts_total", help: "Stamp transaction versions broadcast (first or replacement)", labelNames: ["kind"] as const, registers}),
    stamps: new Counter({name: "calendar_stamps_total", help: "Stamps journaled after enough confirmations", registers}),
    stampedCommitments: new Counter({name: "calendar_stamped_commitments_total", help: "Commitments given complete proofs", registers}),
    stampFeeSats: new Counter({name: "calendar_stamp_fees_sats_total", help: "Fees paid by confirmed stamps, satoshis", registers}),
  };
}


/**
 * The stand-alone aggregator's metrics (`otsfed aggregator`,
 * node/aggregator-node.ts): the same HTTP, digest and round series as a
 * calendar node's, so one dashboard reads both, plus its upstream calendars.
 * The `upstream` label is an upstream's URL as the operator configured it:
 * a fixed list of at most MAX_UPSTREAMS, never anything a peer sends.
 */
export function createAggregatorMetrics(register: Registry): HttpMetrics &
  RoundMetrics & {
    upstreamRequests: Counter<"upstream" | "result">;
    upstreamSeconds: Histogram<"upstream">;
    upstreamUp: Gauge<"upstream">;
    upstreamRounds: Counter<"result">;
    roundUpstreams: Histogram;
  } {
  const registers = [register];
  collectDefaultMetrics({register, prefix: "calendar_process_"});
  return {
    ...httpMetrics(registers),
    ...roundMetrics(registers),
    upstreamRequests: new Counter({
      name: "calendar_upstream_requests_total",
      help: "POST /digest attempts to each upstream calendar, by result (accepted, or an UPSTREAM_ error code)",
      labelNames: ["upstream", "result"] as const,
      registers,
    }),
    upstreamSeconds: new Histogram({
      name: "calendar_upstream_request_duration_seconds",
      help: "Time from sending a round's root to an upstream calendar to its valid reply",
      labelNames: ["upstream"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    upstreamUp: new Gauge({name: "calendar_upstream_up", help: "1 while an upstream calendar accepted its last round, 0 while it is failing", labelNames: ["upstream"] as const, registers}),
    upstreamRounds: new Counter({name: "calendar_upstream_rounds_total", help: "Rounds by result: accepted (by at least the minimum of upstreams) or failed (their digests got 503)", labelNames: ["result"] as const, registers}),
    roundUpstreams: new Histogram({name: "calendar_round_upstreams", help: "Upstream calendars whose reply went into a round's proofs", buckets: [0, 1, 2, 3, 4, 6, 8, 16], registers}),
  };
}

/** What a stand-alone aggregator records. */
export type AggregatorMetrics = ReturnType<typeof createAggregatorMetrics>;

export type Metrics = ReturnType<typeof createMetrics>;
