/**
 * A minimal JSON-RPC client for bitcoind over HTTP (node:http, keep-alive).
 *
 * - Credentials from the URL (`http://user:pass@host:port`) or from Core's
 *   cookie file, re-read after a 401 (bitcoind writes a new cookie at every
 *   start) and when the file was missing (bitcoind not running yet).
 * - Every call has a time limit and takes the caller's AbortSignal.
 * - Failures are typed: connection refused/reset → UNAVAILABLE, 401/403 →
 *   AUTH_FAILED, time limit → TIMEOUT, caller abort → ABORTED, RPC errors
 *   through `rpc-errors.ts` (-28 → WARMING_UP, …).
 * - A request on a kept-alive socket the server has meanwhile closed is
 *   retried once on a fresh connection (a restarted bitcoind must not cost a
 *   failed call).
 */
import {readFile} from "node:fs/promises";
import {Agent, request, type IncomingMessage} from "node:http";
import {BitcoinError, BitcoinErrorCode} from "./errors.ts";
import {bitcoinErrorFromRpc} from "./rpc-errors.ts";

/** Options of {@link JsonRpcClient}. */
export type JsonRpcClientOptions = {
  /** `http://[user:pass@]host:port` */
  url: string;
  /** Path of bitcoind's `.cookie` (used when the URL has no password). */
  cookieFile: string | null;
  /** Per-call time limit, ms. */
  timeoutMs: number;
  /** Largest reply accepted, bytes; a bigger one is cut off as BAD_RESPONSE (a broken or hostile endpoint must not exhaust memory). */
  maxReplyBytes?: number;
};

/**
 * Default reply cap: far above anything we ask for (a full block's txids
 * are ~300 kB of JSON, a 4 MB transaction 8 MB of hex), far below harm.
 */
export const DEFAULT_MAX_REPLY_BYTES = 32 * 1024 * 1024;

/** One call of a batch. */
export type RpcCall = {method: string; params: unknown[]};

/** Result of one call of a batch. */
export type RpcOutcome = {ok: true; result: unknown} | {ok: false; error: BitcoinError};

const TRANSIENT_NET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "ECONNABORTED"]);

type HttpReply = {status: number; body: string};

/** JSON-RPC over HTTP to bitcoind (see the module comment). */
export class JsonRpcClient {
  private readonly host: string;
  private readonly port: number;
  private readonly urlAuth: string | null;
  private readonly opts: JsonRpcClientOptions;
  private readonly agent = new Agent({keepAlive: true, maxSockets: 8});
  private cookieAuth: string | null = null;
  private nextId = 1;

  constructor(opts: JsonRpcClientOptions) {
    this.opts = opts;
    const url = new URL(opts.url);
    if (url.protocol !== "http:") throw BitcoinError.of(BitcoinErrorCode.BAD_CONFIG, `bitcoin RPC URL must be http:// (got ${url.protocol})`);
    this.host = url.hostname.replace(/^\[|\]$/g, "");
    this.port = url.port === "" ? 8332 : Number(url.port);
    this.urlAuth = url.username !== "" || url.password !== "" ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` : null;
    if (this.urlAuth === null && opts.cookieFile === null) throw BitcoinError.of(BitcoinErrorCode.BAD_CONFIG, "bitcoin RPC needs user:password in the URL or a cookie file");
  }

  /** `host:port` for logs (never the credentials). */
  get endpoint(): string {
    return `${this.host}:${this.port}`;
  }

  /** Closes idle keep-alive sockets. The client stays usable. */
  close(): void {
    this.agent.destroy();
  }

  /** One call; RPC errors are thrown as typed errors. `wallet` selects `/wallet/<name>`. */
  async call(method: string, params: unknown[], signal: AbortSignal, wallet: string | null = null): Promise<unknown> {
    const id = this.nextId++;
    const reply = await this.post(JSON.stringify({jsonrpc: "1.0", id, method, params}), wallet, signal);
    const body = this.parse(reply);
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw BitcoinError.of(BitcoinErrorCode.BAD_RESPONSE, `bitcoind: unexpected reply to ${method}`);
    return this.outcome(body as Record<string, unknown>, method);
  }

  /** Several calls in one HTTP request; each outcome is returned, in order. */
  async batch(calls: readonly RpcCall[], signal: AbortSignal, wallet: string | null = null): Promise<RpcOutcome[]> {
    const first = this.nextId;
    this.nextId += calls.length;
    const payload = calls.map((c, i) => ({jsonrpc: "1.0", id: first + i, method: c.method, params: c.params}));
    const reply = await this.post(JSON.stringify(payload), wallet, signal);
    const body = this.parse(reply);
    if (!Array.isArray(body)) throw BitcoinError.of(BitcoinErrorCode.BAD_RESPONSE, "bitcoind: batch reply is not an array");
    const byId = new Map<unknown, Record<string, unknown>>();
    for (const r of body) if (r !== null && typeof r === "object") byId.set((r as Record<string, unknown>).id, r as Record<string, unknown>);
    return calls.map((c, i) => {
      const r = byId.get(first + i);
      if (r === undefined) return {ok: false, error: BitcoinError.of(BitcoinErrorCode.BAD_RESPONSE, `bitcoind: no reply to ${c.method} in batch`)};
      try {
        return {ok: true, result: this.outcome(r, c.method)};
      } catch (e) {
        return {ok: false, error: e as BitcoinError};
      }
    });
  }

  private outcome(body: Record<string, unknown>, method: string): unknown {
    const error = body.error;
    if (error !== null && error !== undefined) {
      const e = error as {code?: unknown; message?: unknown};
      if (typeof e.code !== "number") throw BitcoinError.of(BitcoinErrorCode.BAD_RESPONSE, `bitcoind: malformed error in reply to ${method}`);
      throw bitcoinErrorFromRpc(e.code, typeof e.message === "string" ? e.message : "");
    }
    if (!("result" in body)) throw BitcoinError.of(BitcoinErrorCode.BAD_RESPONSE, `bitcoind: reply to ${method} has no result`);
    return body.result;
  }

  private parse(reply: HttpReply): unknown {
    if (reply.status === 401 || reply.status === 403) throw BitcoinError.of(BitcoinErrorCode.AUTH_FAILED, `bitcoind at ${this.endpoint} refused the credentials (HTTP ${reply.status})`);
    try {
      return JSON.parse(reply.body);
    } catch {
      // Core answers some overload conditions with plain text (503 "Work queue depth exceeded").
      const code = reply.status >= 500 ? BitcoinErrorCode.UNAVAILABLE : BitcoinErrorCode.BAD_RESPONSE;
      throw BitcoinError.of(code, `bitcoind at ${this.endpoint}: HTTP ${reply.status} without JSON body`);
    }
  }

  private async auth(refresh: boolean): Promise<string> {
    if (this.urlAuth !== null) return this.urlAuth;
    if (this.cookieAuth === null || refresh) {
      try {
        this.cookieAuth = (await readFile(this.opts.cookieFile as string, "utf8")).trim();
      } catch {
        // bitcoind removes its cookie when it stops: treat as "down".
        throw BitcoinError.of(BitcoinErrorCode.UNAVAILABLE, "bitcoind cookie file is missing (is bitcoind running?)");
      }
    }
    return this.cookieAuth;
  }

  private async post(body: string, wallet: string | null, signal: AbortSignal): Promise<HttpReply> {
    if (signal.aborted) throw BitcoinError.of(BitcoinErrorCode.ABORTED, "bitcoin RPC call aborted");
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const combined = AbortSignal.any([signal, timeout]);
    const path = wallet === null ? "/" : `/wallet/${encodeURIComponent(wallet)}`;
    let reply = await this.send(path, body, await this.auth(false), combined, signal, timeout, true);
    if ((reply.status === 401 || reply.status === 403) && this.urlAuth === null) {
      reply = await this.send(path, body, await this.auth(true), combined, signal, timeout, true);
    }
    return reply;
  }

  private send(path: string, body: string, auth: string, combined: AbortSignal, caller: AbortSignal, timeout: AbortSignal, mayRetry: boolean): Promise<HttpReply> {
    return new Promise<HttpReply>((resolve, reject) => {
      let refused = false;
      const req = request({
        host: this.host,
        port: this.port,
        path,
        method: "POST",
        agent: this.agent,
        signal: combined,
        headers: {
          "Content-Type": "application/json",
          "Content-Length": Buffer.byteLength(body),
          Authorization: `Basic ${Buffer.from(auth).toString("base64")}`,
        },
      });
      req.on("response", (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        const max = this.opts.maxReplyBytes ?? DEFAULT_MAX_REPLY_BYTES;
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > max) {
            // Stop reading and drop the socket: it cannot be reused mid-reply.
            refused = true;
            req.destroy();
            reject(BitcoinError.of(BitcoinErrorCode.BAD_RESPONSE, `bitcoind at ${this.endpoint}: reply over ${max} bytes, refused`));
            return;
          }
          chunks.push(c);
        });
        res.on("end", () => resolve({status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8")}));
        res.on("error", (e) => reject(this.mapNetError(e, caller, timeout)));
      });
      req.on("error", (e: NodeJS.ErrnoException) => {
        if (refused) return;
        const stale = req.reusedSocket && (e.code === "ECONNRESET" || e.code === "EPIPE") && !combined.aborted;
        if (stale && mayRetry) {
          this.send(path, body, auth, combined, caller, timeout, false).then(resolve, reject);
          return;
        }
        reject(this.mapNetError(e, caller, timeout));
      });
      req.end(body);
    });
  }

  private mapNetError(e: NodeJS.ErrnoException, caller: AbortSignal, timeout: AbortSignal): BitcoinError {
    if (caller.aborted) return BitcoinError.of(BitcoinErrorCode.ABORTED, "bitcoin RPC call aborted");
    if (timeout.aborted) return BitcoinError.of(BitcoinErrorCode.TIMEOUT, `bitcoind at ${this.endpoint} did not answer within ${this.opts.timeoutMs} ms`);
    if (e.code !== undefined && TRANSIENT_NET_CODES.has(e.code)) return BitcoinError.of(BitcoinErrorCode.UNAVAILABLE, `bitcoind at ${this.endpoint} unreachable (${e.code})`);
    return BitcoinError.of(BitcoinErrorCode.UNAVAILABLE, `bitcoind at ${this.endpoint} unreachable (${e.message})`);
  }
}
