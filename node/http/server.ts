/**
 * The OpenTimestamps calendar HTTP API at the origin root (PROTOCOL-NOTES §2,
 * DESIGN §3), HTTP/1.1 with keep-alive on node:http:
 *
 *   POST /digest            0..64-byte body, any Content-Type → 200 partial proof
 *   GET  /timestamp/<hex>   200 complete proof | 404 "Pending confirmation in Bitcoin blockchain"
 *                           | 404 "Timestamped by transaction <txid>; waiting for K confirmations"
 *                           | 404 "Not found" | 400 bad hex
 *   GET  /tip               200 the 32-byte merkle tip of the newest unconfirmed stamp | 404 empty
 *   GET  /                  status page (HTML, or JSON for Accept: application/json)
 *   GET  /healthz           200 "ok" or "degraded: <warnings>" | 503 with the reason
 *   GET  /metrics           Prometheus text
 *
 * Anything malformed gets a 4xx with a reason, including what node's HTTP
 * parser refuses before a request exists (bad or conflicting
 * Content-Length, bytes beyond the declared body, oversized headers).
 */
import {createServer} from "node:http";
import type {IncomingMessage, Server, ServerResponse} from "node:http";
import type {Socket} from "node:net";
import type {Registry} from "prom-client";
import type {Aggregator} from "../calendar/aggregator.ts";
import {AggregatorError, AggregatorErrorCode, MAX_DIGEST_LENGTH} from "../calendar/aggregator.ts";
import type {CalendarRegistry} from "../calendar/registry.ts";
import type {Logger} from "../logger.ts";
import type {Metrics, Route} from "../metrics.ts";
import {statusClass} from "../metrics.ts";
import type {HttpOptions} from "./options.ts";
import {parseListen} from "./options.ts";
import {CacheControl, CORS_HEADERS, Reason, rawErrorResponse, send, sendText} from "./responses.ts";
import {statusHtml, statusJson} from "./status.ts";
import type {StatusInfo} from "./status.ts";

export type ApiModules = {
  aggregator: Aggregator;
  calendars: CalendarRegistry;
  logger: Logger;
  metrics: Metrics | null;
  register: Registry | null;
  status: () => StatusInfo;
  /** Null when healthy, else why not (journal failed, deep reorg): /healthz answers 503. */
  health: () => string | null;
  /** Problems that leave the calendar serving (out of funds, Bitcoin node down): /healthz stays 200 but says so. */
  warnings?: () => string[];
  /** The stamper's view, when there is one. */
  stamper?: {waitingReason(seq: number): string | null; tip(): Uint8Array | null} | null;
};

/** Hex of either case, as Python's unhexlify takes it; Node's decoder after the check (the hot path of GET /timestamp). */
function decodeHex(s: string): Uint8Array | null {
  return s.length % 2 === 0 && /^[0-9a-fA-F]*$/.test(s) ? Buffer.from(s, "hex") : null;
}

/** Longest hex we even try to decode: twice the 4096-byte message limit. */
const MAX_TIMESTAMP_HEX = 2 * 4096;

export class ApiServer {
  private readonly opts: HttpOptions;
  private readonly m: ApiModules;
  private readonly server: Server;
  private status: "stopped" | "started" | "stopping" = "stopped";
  private inFlight = 0;

  constructor(opts: HttpOptions, modules: ApiModules) {
    this.opts = opts;
    this.m = modules;
    this.server = createServer({keepAlive: true, requestTimeout: 30_000, headersTimeout: 10_000}, (req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 5_000;
    this.server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => this.onClientError(err, socket));
  }

  /** Listen; resolves with the bound address (port 0 → the real port). */
  async start(): Promise<{host: string; port: number}> {
    if (this.status !== "stopped") throw new Error("ApiServer already started");
    const l = parseListen(this.opts.listen);
    if (!l) throw new Error(`bad listen address ${this.opts.listen}`);
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(l.port, l.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    this.status = "started";
    const addr = this.server.address();
    if (addr === null || typeof addr === "string") throw new Error("server has no TCP address");
    this.m.logger.info("http listening", {host: addr.address, port: addr.port});
    return {host: addr.address, port: addr.port};
  }

  /**
   * Stop accepting connections; new requests on open keep-alive connections
   * get 503 with `Connection: close`. Requests already accepted (digests
   * waiting for their round) are answered before `finish()` closes the rest.
   */
  beginStop(): Promise<void> {
    if (this.status !== "started") return Promise.resolve();
    this.status = "stopping";
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    return closed;
  }

  /** Wait (bounded) for in-flight replies to be written, then drop every connection. Idempotent. */
  async finish(waitMs = 5_000): Promise<void> {
    const until = Date.now() + waitMs;
    while (this.inFlight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    this.server.closeAllConnections();
    this.status = "stopped";
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    this.m.metrics?.httpRequests.inc({route: "other", status: "4xx"});
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    let status = 400;
    let text = "Bad Request";
    let reason = "malformed HTTP request";
    switch (err.code) {
      case "HPE_INVALID_CONTENT_LENGTH":
      case "HPE_UNEXPECTED_CONTENT_LENGTH":
        reason = Reason.invalidLength;
        break;
      case "HPE_HEADER_OVERFLOW":
        status = 431;
        text = "Request Header Fields Too Large";
        reason = "request headers too large";
        break;
      case "ERR_HTTP_REQUEST_TIMEOUT":
        status = 408;
        text = "Request Timeout";
        reason = "request timed out";
        break;
    }
    this.m.logger.debug("http client error", {code: err.code ?? "unknown"});
    socket.end(rawErrorResponse(status, text, reason));
  }

  private route(method: string, path: string): Route {
    if (method === "OPTIONS") return "options";
    if (path === "/digest") return "digest";
    if (path.startsWith("/timestamp/")) return "timestamp";
    if (path === "/tip") return "tip";
    if (path === "/") return "status";
    if (path === "/healthz") return "healthz";
    if (path === "/metrics") return "metrics";
    return "other";
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now();
    const method = req.method ?? "GET";
    const path = req.url ?? "/";
    const route = this.route(method, path);
    this.inFlight++;
    res.once("close", () => {
      this.inFlight--;
      this.m.metrics?.httpRequests.inc({route, status: statusClass(res.statusCode)});
      this.m.metrics?.httpDuration.observe({route}, (performance.now() - t0) / 1000);
    });
    if (this.status !== "started" && route === "digest") {
      res.setHeader("Connection", "close");
      sendText(res, 503, Reason.stopping, {"Retry-After": 1});
      return;
    }
    this.dispatch(req, res, method, path, route).catch((e: unknown) => {
      // A bug, not an input problem: log it and answer rather than crash.
      this.m.logger.error("http handler failed", {route}, e as Error);
      if (!res.headersSent) sendText(res, 500, "internal error");
      else res.destroy();
    });
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, method: string, path: string, route: Route): Promise<void> {
    if (method === "OPTIONS") {
      res.writeHead(204, {...CORS_HEADERS, "Access-Control-Allow-Headers": "Content-Type, Accept", "Access-Control-Max-Age": 86400});
      res.end();
      return;
    }
    if (method === "POST") {
      if (route === "digest") return this.postDigest(req, res);
      sendText(res, 404, Reason.postNotFound, {"Cache-Control": CacheControl.hour});
      return;
    }
    if (method !== "GET" && method !== "HEAD") {
      sendText(res, 405, Reason.methodNotAllowed, {Allow: "GET, HEAD, POST, OPTIONS"});
      return;
    }
    switch (route) {
      case "timestamp":
        return this.getTimestamp(res, path.slice("/timestamp/".length));
      case "tip": {
        const tip = this.m.stamper?.tip() ?? null;
        // otsd's idle answer is a 404 with an empty body and no Cache-Control.
        if (tip === null) send(res, 404, "", "text/plain");
        else send(res, 200, tip, "application/octet-stream", {"Cache-Control": CacheControl.tip});
        return;
      }
      case "status": {
        const s = this.m.status();
        const json = req.headers.accept === "application/json";
        const body = json ? statusJson(s) : statusHtml(s);
        send(res, 200, body, json ? "application/json" : "text/html; charset=utf-8", {"Cache-Control": CacheControl.status, Vary: "Accept"});
        return;
      }
      case "healthz": {
        const problem = this.status === "started" ? this.m.health() : "stopping";
        const warnings = this.m.warnings?.() ?? [];
        if (problem !== null) sendText(res, 503, problem, {"Cache-Control": "no-store"});
        else if (warnings.length > 0) sendText(res, 200, `degraded: ${warnings.join("; ")}`, {"Cache-Control": "no-store"});
        else sendText(res, 200, "ok", {"Cache-Control": "no-store"});
        return;
      }
      case "metrics": {
        if (!this.m.register) {
          sendText(res, 404, Reason.notFound);
          return;
        }
        send(res, 200, await this.m.register.metrics(), this.m.register.contentType, {"Cache-Control": "no-store"});
        return;
      }
      default:
        sendText(res, 404, Reason.notFound, {"Cache-Control": CacheControl.hour});
    }
  }

  private async postDigest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // node's parser has already refused non-numeric, negative or conflicting
    // Content-Length values (onClientError); here the header is absent or valid.
    if (req.headers["transfer-encoding"] !== undefined) {
      res.setHeader("Connection", "close");
      sendText(res, 400, Reason.chunked);
      return;
    }
    const cl = req.headers["content-length"];
    if (cl === undefined || !/^\d+$/.test(cl)) {
      res.setHeader("Connection", "close");
      sendText(res, 400, Reason.invalidLength);
      return;
    }
    if (Number(cl) > MAX_DIGEST_LENGTH) {
      // Do not read a body we will refuse; close so its bytes are not parsed as a request.
      res.setHeader("Connection", "close");
      sendText(res, 400, Reason.digestTooLong);
      return;
    }
    const digest = await readBody(req, MAX_DIGEST_LENGTH);
    if (digest === null) {
      res.setHeader("Connection", "close");
      sendText(res, 400, Reason.digestTooLong);
      return;
    }
    let proof: Uint8Array;
    try {
      proof = await this.m.aggregator.submit(digest);
    } catch (e) {
      if (e instanceof AggregatorError) {
        if (e.code === AggregatorErrorCode.OVERLOADED) sendText(res, 503, Reason.overloaded, {"Retry-After": 1});
        else if (e.code === AggregatorErrorCode.STOPPING) {
          res.setHeader("Connection", "close");
          sendText(res, 503, Reason.stopping, {"Retry-After": 1});
        } else if (e.code === AggregatorErrorCode.DIGEST_TOO_LONG) sendText(res, 400, Reason.digestTooLong);
        else sendText(res, 503, Reason.journal, {"Retry-After": 10});
        return;
      }
      throw e;
    }
    send(res, 200, proof, "application/octet-stream");
  }

  private async getTimestamp(res: ServerResponse, hex: string): Promise<void> {
    const msg = hex.length <= MAX_TIMESTAMP_HEX ? decodeHex(hex) : null;
    if (msg === null) {
      sendText(res, 400, Reason.badHex, {"Cache-Control": CacheControl.year});
      return;
    }
    const found = await this.m.calendars.lookup(msg);
    if (found?.status.state === "stamped") {
      send(res, 200, found.status.proof, "application/octet-stream", {"Cache-Control": CacheControl.year});
      return;
    }
    // Only the own calendar's stamper knows a mined-but-not-deep-enough stamp; a mirror's commitment is simply pending.
    const waiting = found !== null && found.calendar.role === "origin" ? (this.m.stamper?.waitingReason(found.status.seq) ?? null) : null;
    const reason = found === null ? Reason.notFound : (waiting ?? Reason.pending);
    sendText(res, 404, reason, {"Cache-Control": CacheControl.minute});
  }
}

/** Read a request body of at most `max` bytes; null if more arrives (cannot happen with a checked Content-Length, kept as a guard). */
function readBody(req: IncomingMessage, max: number): Promise<Uint8Array | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let len = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      len += c.length;
      if (len > max) over = true;
      else chunks.push(c);
    });
    req.on("end", () => resolve(over ? null : new Uint8Array(Buffer.concat(chunks, len))));
    req.on("error", reject);
  });
}
