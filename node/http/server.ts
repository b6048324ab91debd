/**
 * The HTTP API server on node:http (PROTOCOL-NOTES §2, DESIGN §3): HTTP/1.1
 * with keep-alive at the origin root. It owns the connection side of every
 * reply and leaves the answers to the route table (router.ts,
 * routes/index.ts):
 *
 *   OPTIONS anything        204 with the CORS preflight headers
 *   GET/HEAD/POST a route   the route's handler
 *   other GET / other POST  404 "Not found" / "not found", max-age=3600
 *   other methods           405 with Allow
 *   unparseable requests    4xx with a reason and Connection: close (what
 *                           node's parser refuses before a request exists:
 *                           bad or conflicting Content-Length, bytes beyond
 *                           the declared body, oversized headers, slow bodies)
 *
 * and the request metrics, by each route's fixed label (status "aborted" for
 * a reply the connection closed before it was complete).
 *
 * Bounded against hostile clients (issue 11): at most `maxConnections`
 * connections (more are closed at accept), at most
 * MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION requests unanswered on one
 * connection (a client pipelining past that without reading is closed), and
 * node:http's own pause of a connection whose replies back up. A client that
 * half-closes after a complete request still gets its reply.
 *
 * A {@link Lifecycle}: `start()` listens; `stop()` stops accepting (new
 * work such as digests on kept-alive connections gets 503 with
 * `Connection: close`), waits, bounded, until every request in flight has
 * been answered (a digest waiting for its round included), then closes
 * every connection.
 */
import {createServer} from "node:http";
import type {IncomingMessage, Server, ServerResponse} from "node:http";
import type {Socket} from "node:net";
import {Lifecycle} from "../lifecycle.ts";
import type {Logger} from "../logger.ts";
import type {HttpMetrics} from "../metrics.ts";
import {statusClass} from "../metrics.ts";
import {HttpError, HttpErrorCode} from "./errors.ts";
import type {HttpOptions} from "./options.ts";
import {defaultHttpOptions, MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION, parseListen} from "./options.ts";
import {CacheControl, CORS_HEADERS, Reason, rawErrorResponse, sendText} from "./responses.ts";
import {Router} from "./router.ts";
import type {Route, RouteMatch} from "./router.ts";

/**
 * What the server uses: its route table (the calendar's, routes/index.ts
 * `apiRoutes`, or the stand-alone aggregator's,
 * routes/aggregator-routes.ts), a logger and the metrics. The table is
 * given, not imported here, so a daemon loads only its own route groups.
 */
export type ApiModules = {routes: readonly Route[]; logger: Logger; metrics: HttpMetrics | null};

/** The HTTP options (`maxConnections` by default the node's default), plus how long a stop waits for requests in flight. */
export type ApiServerOptions = Omit<HttpOptions, "maxConnections"> & {
  maxConnections?: number;
  /** How long `stop()` waits for requests in flight before it closes their connections, ms. */
  stopWaitMs?: number;
};

const DEFAULT_STOP_WAIT_MS = 5_000;

/** The calendar's HTTP API on node:http; see the module comment. */
export class ApiServer extends Lifecycle {
  private readonly opts: ApiServerOptions;
  private readonly logger: Logger;
  private readonly metrics: HttpMetrics | null;
  private readonly router: Router;
  private server: Server | null = null;
  private bound: {host: string; port: number} | null = null;
  private inFlight = 0;
  /** Requests each connection has unanswered (node:http queues pipelined replies; this bounds the queue). */
  private readonly unanswered = new WeakMap<Socket, number>();
  /** Called when the last request in flight is answered, while `stop()` waits for that. */
  private drained: (() => void) | null = null;

  constructor(opts: ApiServerOptions, modules: ApiModules) {
    super();
    this.opts = opts;
    this.logger = modules.logger;
    this.metrics = modules.metrics;
    this.router = new Router(modules.routes);
  }

  /** The bound address (port 0 → the real port); HTTP_NOT_LISTENING unless started. */
  get address(): {host: string; port: number} {
    if (this.bound === null) throw new HttpError(HttpErrorCode.NOT_LISTENING, "the HTTP API is not listening");
    return this.bound;
  }

  protected async onStart(): Promise<void> {
    const l = parseListen(this.opts.listen);
    if (!l) throw new HttpError(HttpErrorCode.BAD_LISTEN_ADDRESS, `bad listen address ${this.opts.listen}`);
    const server = createServer({keepAlive: true, requestTimeout: 30_000, headersTimeout: 10_000}, (req, res) => this.handle(req, res));
    server.keepAliveTimeout = 5_000;
    server.maxConnections = this.opts.maxConnections ?? defaultHttpOptions.maxConnections;
    // A client that half-closes (sends FIN) right after its request still
    // reads: node's default ends our side at once, so a digest journaled
    // meanwhile would never get its 200. With this, node marks the reply in
    // progress as the last one and closes after writing it (or at once when
    // nothing is in progress). The property is node:http's own (since 0.x,
    // read in its socketOnEnd) but missing from @types/node.
    (server as Server & {httpAllowHalfOpen: boolean}).httpAllowHalfOpen = true;
    server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => this.onClientError(err, socket));
    await new Promise<void>((resolve, reject) => {
      const refused = (e: NodeJS.ErrnoException): void => reject(new HttpError(HttpErrorCode.LISTEN_FAILED, `cannot listen on ${this.opts.listen}: ${e.code ?? e.message}`, {cause: e}));
      server.once("error", refused);
      server.listen(l.port, l.host, () => {
        server.off("error", refused);
        resolve();
      });
    });
    const addr = server.address();
    if (addr === null || typeof addr === "string") {
      server.close();
      throw new HttpError(HttpErrorCode.NO_TCP_ADDRESS, "server has no TCP address");
    }
    this.server = server;
    this.bound = {host: addr.address, port: addr.port};
    this.logger.info("http listening", {host: addr.address, port: addr.port});
  }

  protected async onStop(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    // Stop listening; idle keep-alive connections go now, busy ones once answered or at the bound.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await this.inFlightAnswered(this.opts.stopWaitMs ?? DEFAULT_STOP_WAIT_MS);
    server.closeAllConnections();
    await closed;
    this.server = null;
    this.bound = null;
  }

  /** Resolves once no request is in flight, or after `ms`. */
  private inFlightAnswered(ms: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.drained = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.drained = done;
    });
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    this.metrics?.httpRequests.inc({route: "other", status: "4xx"});
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
    this.logger.debug("http client error", {code: err.code ?? "unknown"});
    socket.end(rawErrorResponse(status, text, reason));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now();
    const method = req.method ?? "GET";
    const target = req.url ?? "/";
    const routable = method === "GET" || method === "HEAD" || method === "POST";
    const match = routable ? this.router.match(method, target) : null;
    const label = method === "OPTIONS" ? "options" : (match?.route.label ?? "other");
    if (!this.admit(req.socket)) {
      // Never answered: the connection is gone (or going) with every reply queued on it.
      this.metrics?.httpRequests.inc({route: label, status: "aborted"});
      return;
    }
    this.inFlight++;
    res.once("close", () => {
      if (--this.inFlight === 0) this.drained?.();
      this.unanswered.set(req.socket, (this.unanswered.get(req.socket) ?? 1) - 1);
      // A reply cut off by the connection closing is no 2xx, whatever statusCode says.
      this.metrics?.httpRequests.inc({route: label, status: res.writableFinished ? statusClass(res.statusCode) : "aborted"});
      this.metrics?.httpDuration.observe({route: label}, (performance.now() - t0) / 1000);
    });
    if (method === "OPTIONS") {
      res.writeHead(204, {...CORS_HEADERS, "Access-Control-Allow-Headers": "Content-Type, Accept", "Access-Control-Max-Age": 86400});
      res.end();
    } else if (!routable) sendText(res, 405, Reason.methodNotAllowed, {Allow: "GET, HEAD, POST, OPTIONS"});
    else if (match === null) sendText(res, 404, method === "POST" ? Reason.postNotFound : Reason.notFound, {"Cache-Control": CacheControl.hour});
    else this.dispatch(req, res, match);
  }

  /**
   * Count a request against its connection's bound; false (and the
   * connection destroyed) once it has more unanswered than
   * {@link MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION}. node:http pauses reading a
   * connection whose replies back up (needDrain, or queued reply bytes past
   * the socket's highWaterMark), but only between reads: one 64 kB read
   * holds hundreds of pipelined requests, each a handler run and a queued
   * reply (a digest one also a place in the round). Closing releases them all.
   */
  private admit(socket: Socket): boolean {
    if (socket.destroyed) return false;
    const unanswered = (this.unanswered.get(socket) ?? 0) + 1;
    if (unanswered > MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION) {
      this.logger.debug("http connection closed: too many requests unanswered", {limit: MAX_REQUESTS_IN_FLIGHT_PER_CONNECTION});
      socket.destroy();
      return false;
    }
    this.unanswered.set(socket, unanswered);
    return true;
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, {route, rest}: RouteMatch): void {
    const accepting = this.status === "started";
    if (route.refuseWhileStopping && !accepting) {
      res.setHeader("Connection", "close");
      sendText(res, 503, Reason.stopping, {"Retry-After": 1});
      return;
    }
    const failed = (e: unknown): void => {
      if (e instanceof HttpError && e.code === HttpErrorCode.CLIENT_ABORTED) {
        // The client's doing, and cheap to repeat: one debug line, no stack (a flood must not flood the log).
        this.logger.debug("http client aborted", {route: route.label});
        res.destroy();
        return;
      }
      // A bug, not an input problem: log it and answer rather than crash.
      this.logger.error("http handler failed", {route: route.label}, e as Error);
      if (!res.headersSent) sendText(res, 500, "internal error");
      else res.destroy();
    };
    try {
      const pending = route.handle({req, res, rest, accepting});
      if (pending) pending.catch(failed);
    } catch (e) {
      failed(e);
    }
  }
}
