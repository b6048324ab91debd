/**
 * One upstream calendar as the stand-alone aggregator talks to it: `POST
 * /digest` with a round's 32-byte root, exactly as an OpenTimestamps client
 * submits a digest (PROTOCOL-NOTES §2.1, §2.4: the URL joined as python's
 * `urljoin(url, 'digest')`, the client's Accept and form Content-Type, a raw
 * body), over node's own http/https Agent with keep-alive, and the reply
 * checked by upstream-reply.ts before anyone sees it.
 *
 * Bounds: one attempt at a time per call, each ending at the round's
 * deadline at the latest; at most `maxAttempts` per round, retried (after a
 * short backoff) only for failures that may pass (connection refused or
 * reset, 5xx, 408, 429); a reply body is read up to
 * MAX_UPSTREAM_REPLY_BYTES and the connection cut beyond; a few pooled
 * sockets, idle ones closed after IDLE_SOCKET_MS, before the upstream would
 * close them itself (otsfed: 5 s; nginx: 75 s).
 *
 * It keeps the upstream's health as the round sink needs it: failing from
 * its first failed attempt (so a round does not wait for its retries once
 * enough others accepted) until its next accepted reply.
 */
import {Agent as HttpAgent, request as httpRequest} from "node:http";
import type {ClientRequest, IncomingMessage} from "node:http";
import {Agent as HttpsAgent, request as httpsRequest} from "node:https";
import type {Timestamp} from "../../protocol/ots/timestamp.ts";
import type {Clock} from "../clock.ts";
import {sleep} from "../lifecycle.ts";
import type {Logger} from "../logger.ts";
import type {AggregatorMetrics} from "../metrics.ts";
import {UpstreamError, upstreamError, UpstreamErrorCode} from "./errors.ts";
import {decodeUpstreamReply, MAX_UPSTREAM_REPLY_BYTES} from "./upstream-reply.ts";

/** Idle keep-alive sockets are closed after this, ms: before otsfed's own 5 s keep-alive timeout closes them under a request. */
const IDLE_SOCKET_MS = 4_000;
/** Sockets per upstream: a round has at most one request in flight to each, plus a probe still running from an earlier round. */
const MAX_SOCKETS = 4;
/** First retry backoff, ms, doubled per attempt up to MAX_BACKOFF_MS. */
const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 500;

/** What an upstream calendar uses. */
export type UpstreamCalendarModules = {logger: Logger; metrics: AggregatorMetrics | null; clock: Clock};

/** An upstream's state, for the status page and /healthz. */
export type UpstreamReport = {
  url: string;
  /** False from a failed attempt until the next accepted reply. */
  healthy: boolean;
  /** Requests to it right now. */
  inFlight: number;
  /** Attempts whose reply went into a round's proofs / that failed, since start. */
  accepted: number;
  failed: number;
  /** The latest failure: its code, why, and when (ms since the epoch); null if none since start. */
  lastError: {code: string; message: string; atMs: number} | null;
  /** When it last accepted a root (ms since the epoch), and how long that took, ms. */
  lastAcceptedAtMs: number | null;
  lastLatencyMs: number | null;
};

/** The reply a call got, or why it got none; `attempts` counts every try. */
export type UpstreamOutcome = {ok: true; reply: Timestamp; attempts: number; ms: number} | {ok: false; error: UpstreamError; attempts: number};

/** Time left before `deadline` (a performance.now() value), ms. */
const remaining = (deadline: number): number => deadline - performance.now();

/** One upstream calendar; see the module comment. */
export class UpstreamCalendar {
  /** As configured: what logs, metrics and the status page name it by. */
  readonly url: string;
  private readonly digestUrl: URL;
  private readonly agent: HttpAgent;
  private readonly send: typeof httpRequest;
  private readonly headers: Record<string, string | number>;
  private readonly logger: Logger;
  private readonly metrics: AggregatorMetrics | null;
  private readonly clock: Clock;
  private state: Omit<UpstreamReport, "url" | "inFlight"> = {healthy: true, accepted: 0, failed: 0, lastError: null, lastAcceptedAtMs: null, lastLatencyMs: null};
  private calls = 0;

  constructor(url: string, version: string, modules: UpstreamCalendarModules) {
    this.url = url;
    // python's urljoin(url, 'digest'): `https://h` and `https://h/` give
    // `https://h/digest`, `https://h/cal/` gives `https://h/cal/digest`.
    this.digestUrl = new URL("digest", url);
    const https = this.digestUrl.protocol === "https:";
    const agentOptions = {keepAlive: true, maxSockets: MAX_SOCKETS, maxFreeSockets: MAX_SOCKETS, timeout: IDLE_SOCKET_MS, scheduling: "lifo" as const};
    this.agent = https ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.send = https ? httpsRequest : httpRequest;
    this.headers = {
      // What the reference client sends (PROTOCOL-NOTES §2.1); keep-alive is ours.
      Accept: "application/vnd.opentimestamps.v1",
      "Content-Type": "application/x-www-form-urlencoded",
      "User-Agent": `otsfed-aggregator/${version}`,
      "Content-Length": 32,
    };
    this.logger = modules.logger.child({upstream: url});
    this.metrics = modules.metrics;
    this.clock = modules.clock;
    this.metrics?.upstreamUp.set({upstream: url}, 1);
  }

  get healthy(): boolean {
    return this.state.healthy;
  }

  /** Calls in progress (each at most one attempt at a time). */
  get inFlight(): number {
    return this.calls;
  }

  report(): UpstreamReport {
    return {url: this.url, inFlight: this.calls, ...this.state, lastError: this.state.lastError && {...this.state.lastError}};
  }

  /**
   * Submit a round's root: attempts until one is accepted, a failure not
   * worth retrying, `maxAttempts`, the `deadline` (a performance.now()
   * value) or `stop` aborting. Never rejects. `onChange` is called after
   * every attempt, so a round can re-decide whether to wait for this
   * upstream.
   */
  async submit(root: Uint8Array, deadline: number, maxAttempts: number, stop: AbortSignal, onChange: () => void): Promise<UpstreamOutcome> {
    this.calls++;
    const t0 = performance.now();
    let attempts = 0;
    try {
      for (;;) {
        attempts++;
        let reused = false;
        try {
          const body = await this.attempt(root, deadline, stop, (r) => (reused = r));
          const reply = decodeUpstreamReply(body, root);
          const ms = performance.now() - t0;
          this.accepted(ms);
          return {ok: true, reply, attempts, ms};
        } catch (caught) {
          // Anything but an UpstreamError is a bug of ours: logged as one, and the round goes on without this reply.
          if (!(caught instanceof UpstreamError)) this.logger.error("upstream reply handling failed", {}, caught as Error);
          const e = caught instanceof UpstreamError ? caught : upstreamError(UpstreamErrorCode.INTERNAL, "the reply could not be handled (a bug, logged)");
          this.failedAttempt(e);
          onChange();
          const again = e.retryable && attempts < maxAttempts && !stop.aborted;
          // A kept-alive socket the upstream closed as we reused it is no sign of trouble: retry at once.
          const wait = reused && e.code === UpstreamErrorCode.UNREACHABLE ? 0 : Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (attempts - 1));
          if (!again || remaining(deadline) <= wait) return {ok: false, error: e, attempts};
          await sleep(wait, stop);
        }
      }
    } finally {
      this.calls--;
      onChange();
    }
  }

  /** Close every pooled socket (at stop; requests still running fail as UNREACHABLE or STOPPING). */
  close(): void {
    this.agent.destroy();
  }

  private accepted(ms: number): void {
    this.state.accepted++;
    this.state.lastAcceptedAtMs = this.clock.now();
    this.state.lastLatencyMs = Math.round(ms);
    this.metrics?.upstreamRequests.inc({upstream: this.url, result: "accepted"});
    this.metrics?.upstreamSeconds.observe({upstream: this.url}, ms / 1000);
    if (!this.state.healthy) {
      this.logger.info("upstream calendar accepting again", {ms: Math.round(ms)});
      this.state.healthy = true;
      this.metrics?.upstreamUp.set({upstream: this.url}, 1);
    }
  }

  private failedAttempt(e: UpstreamError): void {
    this.state.failed++;
    this.state.lastError = {code: e.code, message: e.message, atMs: this.clock.now()};
    this.metrics?.upstreamRequests.inc({upstream: this.url, result: e.code});
    if (this.state.healthy && e.code !== UpstreamErrorCode.STOPPING) {
      // Once per change of state: a dead upstream must not write a line per round.
      this.logger.warn("upstream calendar failing", {code: e.code, reason: e.message});
      this.state.healthy = false;
      this.metrics?.upstreamUp.set({upstream: this.url}, 0);
    } else this.logger.debug("upstream attempt failed", {code: e.code, reason: e.message});
  }

  /** One POST: the raw reply body of a 200, or an UpstreamError. `reusedSocket` is told whether a kept-alive socket carried it. */
  private attempt(root: Uint8Array, deadline: number, stop: AbortSignal, reusedSocket: (reused: boolean) => void): Promise<Uint8Array> {
    const left = remaining(deadline);
    if (stop.aborted) return Promise.reject(upstreamError(UpstreamErrorCode.STOPPING, "the aggregator is stopping"));
    if (left <= 0) return Promise.reject(upstreamError(UpstreamErrorCode.TIMEOUT, "no time left before the round's deadline"));
    return new Promise((resolve, reject) => {
      const timeout = AbortSignal.timeout(Math.ceil(left));
      const signal = AbortSignal.any([stop, timeout]);
      let settled = false;
      const fail = (e: UpstreamError, keepConnection = false): void => {
        if (settled) return;
        settled = true;
        if (!keepConnection) req.destroy();
        reject(e);
      };
      // An abort (deadline or stop) destroys the request; say which it was.
      const aborted = (): UpstreamError =>
        stop.aborted ? upstreamError(UpstreamErrorCode.STOPPING, "the aggregator is stopping") : upstreamError(UpstreamErrorCode.TIMEOUT, `no complete reply within the round's deadline`);
      const req: ClientRequest = this.send(this.digestUrl, {method: "POST", agent: this.agent, headers: this.headers, signal});
      req.on("socket", () => reusedSocket(req.reusedSocket));
      req.on("error", (e: NodeJS.ErrnoException) => fail(signal.aborted ? aborted() : upstreamError(UpstreamErrorCode.UNREACHABLE, `${e.code ?? "connection failed"}`)));
      req.on("response", (res: IncomingMessage) => this.readReply(res, signal, aborted, fail, (body) => {
        if (settled) return;
        settled = true;
        resolve(body);
      }));
      req.end(root);
    });
  }

  /** Read a reply: a 200's body up to the limit, anything else refused with its status (its body drained only when small). */
  private readReply(res: IncomingMessage, signal: AbortSignal, aborted: () => UpstreamError, fail: (e: UpstreamError, keepConnection?: boolean) => void, done: (body: Uint8Array) => void): void {
    const status = res.statusCode ?? 0;
    const declared = res.headers["content-length"] === undefined ? null : Number(res.headers["content-length"]);
    if (status !== 200) {
      // A small error body is drained to keep the connection; a large or unbounded one is not worth it.
      const keep = declared !== null && declared <= MAX_UPSTREAM_REPLY_BYTES;
      if (keep) res.resume();
      fail(new UpstreamError({code: UpstreamErrorCode.STATUS, status}, `HTTP ${status}`), keep);
      return;
    }
    if (declared !== null && declared > MAX_UPSTREAM_REPLY_BYTES) {
      fail(upstreamError(UpstreamErrorCode.REPLY_TOO_LARGE, `declared a reply of ${declared} bytes, over ${MAX_UPSTREAM_REPLY_BYTES}`));
      return;
    }
    const chunks: Buffer[] = [];
    let length = 0;
    res.on("data", (c: Buffer) => {
      length += c.length;
      if (length > MAX_UPSTREAM_REPLY_BYTES) fail(upstreamError(UpstreamErrorCode.REPLY_TOO_LARGE, `sent more than ${MAX_UPSTREAM_REPLY_BYTES} bytes`));
      else chunks.push(c);
    });
    res.on("end", () => done(new Uint8Array(Buffer.concat(chunks, length))));
    res.on("error", () => fail(signal.aborted ? aborted() : upstreamError(UpstreamErrorCode.UNREACHABLE, "connection closed before the reply was complete")));
    res.on("close", () => {
      if (!res.complete) fail(signal.aborted ? aborted() : upstreamError(UpstreamErrorCode.UNREACHABLE, "connection closed before the reply was complete"));
    });
  }
}
