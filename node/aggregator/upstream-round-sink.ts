/**
 * The stand-alone aggregator's {@link RoundSink}: a round is durable once at
 * least `minUpstreams` upstream calendars accepted its root (each answered
 * 200 with a timestamp that passed upstream-reply.ts, so each holds the root
 * in its own journal), and every client's proof goes on from the root with
 * one branch per accepting upstream: that upstream's reply, ending in its
 * PendingAttestation. The client upgrades each branch from its calendar
 * directly; the aggregator keeps nothing.
 *
 * One request per upstream per round, whatever the number of digests. A
 * round's requests run in parallel and it ends at the first of:
 * - every upstream has answered or given up;
 * - at least `minUpstreams` accepted and every upstream still running is
 *   failing (failed an attempt this round, or its last round), so a dead or
 *   slow upstream holds up a round only until its first failure;
 * - the deadline: whatever has been accepted by then is what there is.
 * Fewer than `minUpstreams` accepted: the round is refused with
 * AGGREGATOR_UPSTREAMS_UNAVAILABLE and its clients get 503 + Retry-After.
 *
 * A failing upstream whose request from an earlier round is still running
 * gets no new one (that request is its probe: when it answers, the upstream
 * is healthy again and the next round waits for it), so a slow upstream
 * never has more than one request in flight, whatever the round rate.
 * Requests left running when a round ends keep their deadline; their
 * replies only update the upstream's health.
 *
 * The tail is the canonical encoding (python-opentimestamps' order: forks
 * sorted by op, then argument) of the root with every accepted reply merged
 * under it, so a client's proof is byte for byte what the reference client
 * would write for the same tree. A branch that would push a client's proof
 * past 10,000 bytes, or collide with another's, is left out.
 *
 * A {@link Lifecycle}: stopping abandons requests still running from earlier
 * rounds; stop it after the aggregator, whose stop commits every queued
 * digest through this sink.
 */
import {encodeTimestamp, Timestamp} from "../../protocol/ots/timestamp.ts";
import {AggregatorError, AggregatorErrorCode} from "../calendar/aggregator.ts";
import type {RoundReceipt, RoundSink} from "../calendar/round-sink.ts";
import {Lifecycle} from "../lifecycle.ts";
import type {Logger} from "../logger.ts";
import type {AggregatorMetrics} from "../metrics.ts";
import {UpstreamError, upstreamError, UpstreamErrorCode} from "./errors.ts";
import type {UpstreamOptions} from "./options.ts";
import type {UpstreamCalendar, UpstreamOutcome} from "./upstream-calendar.ts";
import {checkProofBranch} from "./upstream-reply.ts";

/** What the sink uses: the upstream calendars (in configured order), a logger and the metrics. */
export type UpstreamRoundSinkModules = {upstreams: readonly UpstreamCalendar[]; logger: Logger; metrics: AggregatorMetrics | null};

/** What the sink does with rounds: how many upstreams must accept, by when, with how many attempts. */
export type UpstreamRoundSinkOptions = Pick<UpstreamOptions, "minUpstreams" | "deadlineMs" | "maxAttempts">;

/**
 * Python's client reads at most 10,000 bytes of a calendar's reply
 * (PROTOCOL-NOTES §2.1); a longer proof would be cut and fail to parse.
 */
export const MAX_CLIENT_PROOF_BYTES = 9_999;

/** `append(nonce16)` (18 bytes) and `sha256` (1): the start of every client's proof (aggregator.ts). */
const NONCE_OPS_BYTES = 19;
/** One merkle step: `append|prepend` with a 32-byte sibling (34 bytes), then `sha256`. */
const MERKLE_STEP_BYTES = 35;

/** Merkle steps on the longest path of a tree over `leaves` leaves (odd nodes carried up): ceil(log2 leaves). */
function merkleDepth(leaves: number): number {
  let depth = 0;
  for (let width = leaves; width > 1; width = Math.ceil(width / 2)) depth++;
  return depth;
}

/** The most a round's tail may take so that the longest client proof of a round of `leaves` stays within the client's limit. */
export function tailBudget(leaves: number): number {
  return MAX_CLIENT_PROOF_BYTES - NONCE_OPS_BYTES - MERKLE_STEP_BYTES * merkleDepth(leaves);
}

/** What the last round did, for the status page. */
export type LastRound = {atMs: number; digests: number; accepted: string[]; failed: Array<{url: string; code: string}>} | null;

/** Upstream calendars as the aggregator's round sink; see the module comment. */
export class UpstreamRoundSink extends Lifecycle implements RoundSink {
  private readonly opts: UpstreamRoundSinkOptions;
  private readonly upstreams: readonly UpstreamCalendar[];
  private readonly logger: Logger;
  private readonly metrics: AggregatorMetrics | null;
  private last: LastRound = null;
  private rounds = {accepted: 0, failed: 0};
  /** The last round was refused (for logging the change of state only). */
  private refusing = false;

  constructor(opts: UpstreamRoundSinkOptions, modules: UpstreamRoundSinkModules) {
    super();
    this.opts = opts;
    this.upstreams = modules.upstreams;
    this.logger = modules.logger;
    this.metrics = modules.metrics;
  }

  /** The last round's outcome and the counts since start. */
  report(): {last: LastRound; roundsAccepted: number; roundsFailed: number} {
    return {last: this.last, roundsAccepted: this.rounds.accepted, roundsFailed: this.rounds.failed};
  }

  protected async onStart(): Promise<void> {}

  protected async onStop(): Promise<void> {
    // The run's signal is aborted: requests still running end at once (as STOPPING).
    for (const u of this.upstreams) u.close();
  }

  async commitRound(root: Uint8Array, leaves: number, timeMs: number): Promise<RoundReceipt> {
    const outcomes = await this.collect(root);
    const tree = new Timestamp(root);
    const accepted: string[] = [];
    const failed: Array<{url: string; code: string}> = [];
    const budget = tailBudget(leaves);
    for (const [i, u] of this.upstreams.entries()) {
      const o = outcomes[i] as UpstreamOutcome | null;
      if (o === null) {
        failed.push({url: u.url, code: "skipped"});
        continue;
      }
      if (!o.ok) {
        failed.push({url: u.url, code: o.error.code});
        continue;
      }
      const refused = this.addBranch(tree, o.reply, budget);
      if (refused) {
        this.logger.warn("upstream reply left out of the round", {upstream: u.url, code: refused.code, reason: refused.message});
        this.metrics?.upstreamRequests.inc({upstream: u.url, result: refused.code});
        failed.push({url: u.url, code: refused.code});
        continue;
      }
      accepted.push(u.url);
    }
    this.last = {atMs: timeMs, digests: leaves, accepted, failed};
    this.metrics?.roundUpstreams.observe(accepted.length);
    if (accepted.length < this.opts.minUpstreams) {
      this.rounds.failed++;
      this.metrics?.upstreamRounds.inc({result: "failed"});
      const why = failed.map((f) => `${f.url}: ${f.code}`).join(", ");
      const message = `${accepted.length} of ${this.upstreams.length} upstream calendars accepted the round, ${this.opts.minUpstreams} needed (${why})`;
      // Once per change of state: while upstreams are down every round fails, as fast as clients retry.
      if (!this.refusing) this.logger.warn("rounds refused: too few upstream calendars accepting; clients get 503", {accepted: accepted.length, needed: this.opts.minUpstreams, reason: message});
      this.refusing = true;
      throw new AggregatorError({code: AggregatorErrorCode.UPSTREAMS_UNAVAILABLE}, message);
    }
    if (this.refusing) this.logger.info("rounds accepted again", {upstreams: accepted.length});
    this.refusing = false;
    this.rounds.accepted++;
    this.metrics?.upstreamRounds.inc({result: "accepted"});
    return {tail: encodeTimestamp(tree), logContext: {upstreams: accepted.length, ...(failed.length > 0 ? {failed: failed.map((f) => f.code)} : {})}};
  }

  /**
   * Merge one accepted reply under the root, unless the merged tree would
   * break a client's proof (a shared node with an attestation beside ops)
   * or pass the size budget; returns why it was left out, or null.
   */
  private addBranch(tree: Timestamp, reply: Timestamp, budget: number): UpstreamError | null {
    const merged = tree.clone();
    merged.merge(reply);
    try {
      checkProofBranch(merged);
    } catch (e) {
      if (e instanceof UpstreamError) return upstreamError(UpstreamErrorCode.REPLY_BAD_SHAPE, `collides with another upstream's branch: ${e.message}`);
      throw e;
    }
    const size = encodeTimestamp(merged).length;
    if (size > budget) return upstreamError(UpstreamErrorCode.PROOF_TOO_LARGE, `the round's branches would take ${size} bytes, over the ${budget} a client's proof leaves them`);
    tree.merge(reply);
    return null;
  }

  /**
   * Send the root to every upstream that may take it and wait as the module
   * comment says; one outcome per upstream, in order, null for one skipped
   * or still running when the round ended.
   */
  private collect(root: Uint8Array): Promise<Array<UpstreamOutcome | null>> {
    const deadline = performance.now() + this.opts.deadlineMs;
    const n = this.upstreams.length;
    const outcomes: Array<UpstreamOutcome | null> = new Array(n).fill(null);
    const running = new Set<number>();
    return new Promise((resolve) => {
      let ended = false;
      const timer = setTimeout(() => end(), this.opts.deadlineMs);
      const end = (): void => {
        if (ended) return;
        ended = true;
        clearTimeout(timer);
        // Snapshot: a reply arriving after this is not in the round's proofs.
        resolve(outcomes.slice());
      };
      const decide = (): void => {
        if (ended) return;
        if (running.size === 0) return end();
        const accepted = outcomes.filter((o) => o?.ok === true).length;
        if (accepted >= this.opts.minUpstreams && [...running].every((i) => !(this.upstreams[i] as UpstreamCalendar).healthy)) end();
      };
      for (const [i, u] of this.upstreams.entries()) {
        // A failing upstream with a request still running gets none: that request is its probe.
        if (!u.healthy && u.inFlight > 0) {
          this.metrics?.upstreamRequests.inc({upstream: u.url, result: "skipped"});
          continue;
        }
        running.add(i);
        void u.submit(root, deadline, this.opts.maxAttempts, this.signal, decide).then((o) => {
          running.delete(i);
          if (!ended) outcomes[i] = o;
          decide();
        });
      }
      decide();
    });
  }
}
