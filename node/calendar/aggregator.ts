/**
 * The aggregator (PROTOCOL-NOTES §3.2, DESIGN §2): digests wait in a bounded
 * queue; a round takes everything queued, gives each digest a fresh 16-byte
 * nonce (leaf = sha256(digest ‖ nonce), so requesters learn nothing about
 * each other's digests and cannot choose what is committed), builds the
 * OpenTimestamps merkle tree, hands the root to its {@link RoundSink} and
 * answers each waiter once the sink says the round is durable, with its
 * header-less proof: `append(nonce) sha256`, its merkle path, then the
 * sink's tail (for a calendar: `append(tag ‖ seq)` and the Pending
 * attestation).
 *
 * Group commit: a round closes as soon as the previous round's commit has
 * finished (never two at once), so under load rounds grow and latency stays
 * near one fsync; `roundIntervalMs` sets a minimum time between round
 * starts for operators who want larger anonymity sets.
 *
 * A {@link Lifecycle}: it takes digests only once started; `stop()` takes no
 * new ones and commits every digest already queued before it resolves.
 */
import {randomBytes} from "node:crypto";
import {ByteWriter} from "../../protocol/ots/bytes.ts";
import {MerkleTree} from "../../protocol/ots/merkle.ts";
import {append, encodeOp, SHA256} from "../../protocol/ots/ops.ts";
import type {Op} from "../../protocol/ots/ops.ts";
import {CalendarError} from "../../protocol/errors.ts";
import type {Clock} from "../clock.ts";
import {nativeSha256} from "../hash.ts";
import {Lifecycle, Waker} from "../lifecycle.ts";
import type {Logger} from "../logger.ts";
import type {RoundMetrics} from "../metrics.ts";
import type {AggregatorOptions} from "./options.ts";
import type {RoundReceipt, RoundSink} from "./round-sink.ts";

/** What the aggregator uses: where rounds go, a logger, the metrics and the clock. */
export type AggregatorModules = {sink: RoundSink; logger: Logger; metrics: RoundMetrics | null; clock: Clock};

/** Why a digest was not acknowledged: the `AGGREGATOR_…` codes. */
export const AggregatorErrorCode = {
  /** The queue is full: come back later. */
  OVERLOADED: "AGGREGATOR_OVERLOADED",
  /** Not running (not started, or shutting down): it takes no new digests. */
  STOPPING: "AGGREGATOR_STOPPING",
  /** The sink could not make the round durable (a calendar: the journal failed); nothing was acknowledged. */
  JOURNAL_FAILED: "AGGREGATOR_JOURNAL_FAILED",
  /** More than 64 bytes (PROTOCOL-NOTES §2.2). */
  DIGEST_TOO_LONG: "AGGREGATOR_DIGEST_TOO_LONG",
  /** This node takes no digests at all (a mirror: they belong at a member calendar). */
  NOT_ACCEPTING: "AGGREGATOR_NOT_ACCEPTING",
  /**
   * A stand-alone aggregator's sink (node/aggregator/): fewer upstream
   * calendars than the minimum accepted the round within its deadline;
   * nothing was acknowledged, the client should retry.
   */
  UPSTREAMS_UNAVAILABLE: "AGGREGATOR_UPSTREAMS_UNAVAILABLE",
} as const;
export type AggregatorErrorCode = (typeof AggregatorErrorCode)[keyof typeof AggregatorErrorCode];
/** A digest refused or not acknowledged; the HTTP API maps its code to a reply. */
export class AggregatorError extends CalendarError<{code: AggregatorErrorCode}> {}

/** otsd's `MAX_DIGEST_LENGTH`. */
export const MAX_DIGEST_LENGTH = 64;
const NONCE_SIZE = 16;

type Waiter = {digest: Uint8Array; resolve: (proof: Uint8Array) => void; reject: (e: Error) => void};

/** `append(nonce) sha256 <path> ‖ tail`: one client's proof from its digest, as one linear path into the sink's subtree. */
function encodeProof(nonce: Uint8Array, path: readonly Op[], tail: Uint8Array): Uint8Array {
  const w = new ByteWriter(20 + path.length * 36 + tail.length);
  encodeOp(append(nonce), w);
  encodeOp(SHA256, w);
  for (const op of path) encodeOp(op, w);
  w.writeBytes(tail);
  return w.finish();
}

/** Gathers digests into rounds; see the module comment. */
export class Aggregator extends Lifecycle {
  private readonly opts: AggregatorOptions;
  private readonly sink: RoundSink;
  private readonly logger: Logger;
  private readonly metrics: RoundMetrics | null;
  private readonly clock: Clock;
  private queue: Waiter[] = [];
  private inFlight: Promise<void> | null = null;
  /** A round is due once the round interval has passed: this cuts that wait short. */
  private readonly intervalWait = new Waker();
  private waitingForInterval = false;
  private ignoreInterval = false;
  private lastRoundStart = -Infinity;
  private idleWaiters: Array<() => void> = [];

  constructor(opts: AggregatorOptions, modules: AggregatorModules) {
    super();
    this.opts = opts;
    this.sink = modules.sink;
    this.logger = modules.logger;
    this.metrics = modules.metrics;
    this.clock = modules.clock;
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  /**
   * Queue a digest; resolves with the header-less proof once the round
   * holding it is durable. Rejects at once with DIGEST_TOO_LONG, OVERLOADED
   * or STOPPING (not started, or stopping); with JOURNAL_FAILED when the
   * sink could not commit its round.
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

  /**
   * Until the next start, let rounds follow each other without the round
   * interval, starting with whatever is queued now. For shutdown: once the
   * HTTP API takes no new digests, nothing will make a later round larger,
   * and the replies in flight should not wait for it.
   */
  skipRoundInterval(): void {
    this.ignoreInterval = true;
    this.intervalWait.wake();
  }

  protected async onStart(): Promise<void> {
    this.ignoreInterval = false;
  }

  /**
   * Take no new digests (the status says so), then finish the round in
   * flight and commit every digest already queued, ignoring the round
   * interval (the run's aborted signal ends its wait), so everything
   * accepted is answered.
   */
  protected async onStop(): Promise<void> {
    if (this.inFlight || this.queue.length > 0) {
      const idle = new Promise<void>((r) => this.idleWaiters.push(r));
      this.schedule();
      await idle;
    }
  }

  /** Start a round now if one may start; otherwise make sure one will. */
  private schedule(): void {
    if (this.inFlight || this.waitingForInterval || this.queue.length === 0) return;
    const wait = this.status === "started" && !this.ignoreInterval ? this.lastRoundStart + this.opts.roundIntervalMs - this.clock.now() : 0;
    if (wait > 0) {
      this.waitingForInterval = true;
      void this.intervalWait.wait(wait, this.signal).then(() => {
        this.waitingForInterval = false;
        this.schedule();
      });
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
    let receipt: RoundReceipt;
    try {
      receipt = await this.sink.commitRound(tree.root, n, this.clock.now());
    } catch (e) {
      // A sink that knows why says so with an AggregatorError (a stand-alone
      // aggregator: its upstreams did not accept; it logs the change of
      // state itself, so each refused round is only a verbose line here);
      // anything else is the calendar's journal failing.
      const known = e instanceof AggregatorError;
      const err = known ? e : new AggregatorError({code: AggregatorErrorCode.JOURNAL_FAILED}, "journal unavailable");
      if (known) this.logger.verbose("round not accepted; its digests were not acknowledged", {digests: n, code: err.code, reason: err.message});
      else this.logger.error("round could not be journaled; its digests were not acknowledged", {digests: n}, e as Error);
      for (const w of batch) w.reject(err);
      this.metrics?.digestsRejected.inc({reason: err.code === AggregatorErrorCode.UPSTREAMS_UNAVAILABLE ? "upstreams" : "journal"}, n);
      return;
    }
    for (let i = 0; i < n; i++) {
      (batch[i] as Waiter).resolve(encodeProof(nonces.subarray(i * NONCE_SIZE, (i + 1) * NONCE_SIZE), tree.path(i), receipt.tail));
    }
    const seconds = (performance.now() - t0) / 1000;
    this.metrics?.roundDigests.observe(n);
    this.metrics?.roundSeconds.observe(seconds);
    this.metrics?.digestsAccepted.inc(n);
    this.logger.verbose("round committed", {...receipt.logContext, digests: n, ms: Math.round(seconds * 1000)});
  }
}
