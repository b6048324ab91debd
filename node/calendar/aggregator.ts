/**
 * The aggregator (PROTOCOL-NOTES §3.2, DESIGN §2): digests wait in a bounded
 * queue; a round takes everything queued, gives each digest a fresh 16-byte
 * nonce (leaf = sha256(digest ‖ nonce), so requesters learn nothing about
 * each other's digests and cannot choose what the calendar stores), builds
 * the OpenTimestamps merkle tree, journals the root and answers each waiter
 * with its partial proof once the record is durable.
 *
 * Group commit: a round closes as soon as the previous round's write has
 * finished (never two writes at once), so under load rounds grow and
 * latency stays near one fsync; `roundIntervalMs` sets a minimum time
 * between round starts for operators who want larger anonymity sets.
 */
import {randomBytes} from "node:crypto";
import {pending} from "../../protocol/ots/attestations.ts";
import {MerkleTree} from "../../protocol/ots/merkle.ts";
import {commitmentOp} from "../../protocol/journal/commitment.ts";
import {encodeAttestationLeaf, encodePartialProof} from "../../protocol/journal/proof.ts";
import {CalendarError} from "../../protocol/errors.ts";
import type {Clock} from "../clock.ts";
import type {Logger} from "../logger.ts";
import type {Metrics} from "../metrics.ts";
import type {Calendar} from "./calendar.ts";
import {nativeSha256} from "../hash.ts";
import type {AggregatorOptions} from "./options.ts";

export type AggregatorModules = {calendar: Calendar; logger: Logger; metrics: Metrics | null; clock: Clock};

export const AggregatorErrorCode = {
  /** The queue is full: come back later. */
  OVERLOADED: "AGGREGATOR_OVERLOADED",
  /** The node is shutting down and takes no new digests. */
  STOPPING: "AGGREGATOR_STOPPING",
  /** The round could not be journaled; nothing was acknowledged. */
  JOURNAL_FAILED: "AGGREGATOR_JOURNAL_FAILED",
  /** More than 64 bytes (PROTOCOL-NOTES §2.2). */
  DIGEST_TOO_LONG: "AGGREGATOR_DIGEST_TOO_LONG",
} as const;
export type AggregatorErrorCode = (typeof AggregatorErrorCode)[keyof typeof AggregatorErrorCode];
export class AggregatorError extends CalendarError<{code: AggregatorErrorCode}> {}

/** otsd's `MAX_DIGEST_LENGTH`. */
export const MAX_DIGEST_LENGTH = 64;
const NONCE_SIZE = 16;

type Waiter = {digest: Uint8Array; resolve: (proof: Uint8Array) => void; reject: (e: Error) => void};

export class Aggregator {
  private readonly opts: AggregatorOptions;
  private readonly calendar: Calendar;
  private readonly logger: Logger;
  private readonly metrics: Metrics | null;
  private readonly clock: Clock;
  private readonly url: () => string;
  private leaf: {url: string; bytes: Uint8Array} | null = null;
  private queue: Waiter[] = [];
  private inFlight: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastRoundStart = -Infinity;
  private status: "started" | "stopping" | "stopped" = "started";
  private idleWaiters: Array<() => void> = [];

  /**
   * `url` gives the calendar URL for Pending attestations; a function so a
   * node listening on port 0 can fill it in once it knows its port.
   */
  constructor(opts: AggregatorOptions, modules: AggregatorModules, url: () => string) {
    this.opts = opts;
    this.calendar = modules.calendar;
    this.logger = modules.logger;
    this.metrics = modules.metrics;
    this.clock = modules.clock;
    this.url = url;
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  /**
   * Queue a digest; resolves with the header-less partial proof once the
   * round holding it is durable. Rejects at once with OVERLOADED or STOPPING.
   */
  submit(digest: Uint8Array): Promise<Uint8Array> {
    if (digest.length > MAX_DIGEST_LENGTH) return Promise.reject(new AggregatorError({code: AggregatorErrorCode.DIGEST_TOO_LONG}, "digest too long"));
    if (this.status !== "started") {
      this.metrics?.digestsRejected.inc({reason: "stopping"});
      return Promise.reject(new AggregatorError({code: AggregatorErrorCode.STOPPING}, "shutting down"));
    }
    if (this.queue.length >= this.opts.maxQueue) {
      this.metrics?.digestsRejected.inc({reason: "overloaded"});
      return Promise.reject(new AggregatorError({code: AggregatorErrorCode.OVERLOADED}, "too many pending digests"));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({digest, resolve, reject});
      this.metrics?.queueDepth.set(this.queue.length);
      this.schedule();
    });
  }

  /** Start a round now if one may start; otherwise make sure one will. */
  private schedule(): void {
    if (this.inFlight || this.timer || this.queue.length === 0) return;
    const wait = this.status === "started" ? this.lastRoundStart + this.opts.roundIntervalMs - this.clock.now() : 0;
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, wait);
      return;
    }
    this.inFlight = this.round().finally(() => {
      this.inFlight = null;
      if (this.queue.length > 0) this.schedule();
      else for (const w of this.idleWaiters.splice(0)) w();
    });
  }

  private async round(): Promise<void> {
    const t0 = performance.now();
    this.lastRoundStart = this.clock.now();
    const batch = this.queue;
    this.queue = [];
    this.metrics?.queueDepth.set(0);
    const n = batch.length;
    const nonces = randomBytes(NONCE_SIZE * n);
    const leaves: Uint8Array[] = new Array(n);
    const buf = new Uint8Array(MAX_DIGEST_LENGTH + NONCE_SIZE);
    for (let i = 0; i < n; i++) {
      const d = (batch[i] as Waiter).digest;
      buf.set(d, 0);
      buf.set(nonces.subarray(i * NONCE_SIZE, (i + 1) * NONCE_SIZE), d.length);
      leaves[i] = nativeSha256(buf.subarray(0, d.length + NONCE_SIZE));
    }
    const tree = new MerkleTree(leaves);
    let seq: number;
    try {
      ({seq} = await this.calendar.commitRound(tree.root, n, this.clock.now()));
    } catch (e) {
      this.logger.error("round could not be journaled; its digests were not acknowledged", {digests: n}, e as Error);
      const err = new AggregatorError({code: AggregatorErrorCode.JOURNAL_FAILED}, "journal unavailable");
      for (const w of batch) w.reject(err);
      this.metrics?.digestsRejected.inc({reason: "journal"}, n);
      return;
    }
    const op = commitmentOp(this.calendar.tag, seq);
    const url = this.url();
    if (this.leaf?.url !== url) this.leaf = {url, bytes: encodeAttestationLeaf(pending(url))};
    const leaf = this.leaf.bytes;
    for (let i = 0; i < n; i++) {
      const w = batch[i] as Waiter;
      w.resolve(encodePartialProof(nonces.subarray(i * NONCE_SIZE, (i + 1) * NONCE_SIZE), tree.path(i), op, leaf));
    }
    const seconds = (performance.now() - t0) / 1000;
    this.metrics?.roundDigests.observe(n);
    this.metrics?.roundSeconds.observe(seconds);
    this.metrics?.digestsAccepted.inc(n);
    this.logger.verbose("round committed", {seq, digests: n, ms: Math.round(seconds * 1000)});
  }

  /**
   * Take no new digests, then finish the round in flight and commit every
   * digest already queued (ignoring the round interval), so everything
   * accepted is answered. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.status === "stopped") return;
    this.status = "stopping";
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.inFlight || this.queue.length > 0) {
      const idle = new Promise<void>((r) => this.idleWaiters.push(r));
      this.schedule();
      await idle;
    }
    this.status = "stopped";
  }
}
