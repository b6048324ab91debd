/**
 * `SimulatedRpcServer`: the simulated chain's JSON-RPC endpoint on
 * 127.0.0.1, in bitcoind's HTTP dialect, so that `CoreRpcBackend` and the
 * reference `ots verify --bitcoin-node URL` can talk to it unchanged.
 *
 * As in Bitcoin Core (httprpc.cpp):
 * - POST only; HTTP basic auth (user/password, or a cookie file written at
 *   start and removed at stop); a wrong login gets 401 with an empty body;
 * - legacy (1.0/1.1) requests: `{"result","error","id"}`, with HTTP 500 for
 *   errors, 404 for "Method not found" and 400 for invalid requests;
 * - JSON-RPC 2.0 requests: HTTP 200, `result` or `error` only;
 * - batches: an array of replies with HTTP 200;
 * - `/wallet/<name>` selects the wallet of wallet calls;
 * - while "warming up" every call fails with -28 and the set message.
 */
import {rm, writeFile} from "node:fs/promises";
import {createServer, type IncomingMessage, type Server, type ServerResponse} from "node:http";
import type {AddressInfo} from "node:net";
import type {Clock} from "../../clock.ts";
import {nullLogger, type Logger} from "../../logger.ts";
import {RpcCode} from "../rpc-errors.ts";
import type {SimulatedChain} from "./chain.ts";
import {SimulatedRpcFailure} from "./rejection.ts";
import {callSimulatedRpc} from "./rpc-methods.ts";
import type {SimulatedWatchWallets} from "./watch-wallets.ts";

/** Options of {@link SimulatedRpcServer}. */
export type SimulatedRpcServerOptions = {
  /** Port on 127.0.0.1; 0 picks a free port at first start (kept for restarts). */
  port: number;
  user: string;
  password: string;
  /** Write `user:password` here while running, like bitcoind's `.cookie` (null: none). */
  cookieFile: string | null;
  /** Largest request body accepted, bytes. */
  maxBodyBytes: number;
};

/** Defaults. */
export const defaultSimulatedRpcServerOptions: SimulatedRpcServerOptions = {
  port: 0,
  user: "simulated",
  password: "simulated",
  cookieFile: null,
  maxBodyBytes: 32 * 1024 * 1024,
};

/** Dependencies. */
export type SimulatedRpcServerModules = {chain: SimulatedChain; wallets: SimulatedWatchWallets; clock: Clock; logger?: Logger};

type RpcRequest = {method?: unknown; params?: unknown; id?: unknown; jsonrpc?: unknown};
type RpcReply = {status: number; body: Record<string, unknown>};

/** The simulated chain's JSON-RPC server (see the module comment). */
export class SimulatedRpcServer {
  status: "stopped" | "starting" | "started" | "stopping" = "stopped";
  private readonly opts: SimulatedRpcServerOptions;
  private readonly modules: SimulatedRpcServerModules;
  private readonly logger: Logger;
  private server: Server | null = null;
  private boundPort: number;
  private warmupMessage: string | null = null;

  constructor(opts: Partial<SimulatedRpcServerOptions>, modules: SimulatedRpcServerModules) {
    this.opts = {...defaultSimulatedRpcServerOptions, ...opts};
    this.modules = modules;
    this.logger = modules.logger ?? nullLogger;
    this.boundPort = this.opts.port;
  }

  /** The port (after the first start). */
  get port(): number {
    return this.boundPort;
  }

  /** `http://user:password@127.0.0.1:port` (what `--bitcoin-rpc` takes). */
  get url(): string {
    return `http://${encodeURIComponent(this.opts.user)}:${encodeURIComponent(this.opts.password)}@127.0.0.1:${this.boundPort}`;
  }

  /** Makes every call fail with -28 and `message` ("Loading block index…"), or back to normal with null. */
  setWarmup(message: string | null): void {
    this.warmupMessage = message;
  }

  /** Listens on 127.0.0.1 (same port as before on restarts). Idempotent. */
  async start(): Promise<void> {
    if (this.status !== "stopped") return;
    this.status = "starting";
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 30_000;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(this.boundPort, "127.0.0.1", () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (e) {
      this.status = "stopped";
      throw e;
    }
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    if (this.opts.cookieFile !== null) await writeFile(this.opts.cookieFile, `${this.opts.user}:${this.opts.password}`, {mode: 0o600});
    this.status = "started";
    this.logger.info("simulated bitcoind JSON-RPC listening", {port: this.boundPort});
  }

  /** Closes the listener and every open connection. Idempotent. */
  async stop(): Promise<void> {
    if (this.status !== "started") return;
    this.status = "stopping";
    const server = this.server as Server;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    if (this.opts.cookieFile !== null) await rm(this.opts.cookieFile, {force: true});
    this.status = "stopped";
    this.logger.info("simulated bitcoind JSON-RPC stopped", {port: this.boundPort});
  }

  private authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization ?? "";
    if (!header.startsWith("Basic ")) return false;
    const decoded = Buffer.from(header.slice(6), "base64").toString("utf8");
    return decoded === `${this.opts.user}:${this.opts.password}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== "POST") {
      res.writeHead(405, {"Content-Type": "text/plain"}).end("JSONRPC server handles only POST requests");
      return;
    }
    if (!this.authorized(req)) {
      // Core sleeps here against brute force; an empty 401 is what clients see.
      res.writeHead(401, {"WWW-Authenticate": 'Basic realm="jsonrpc"'}).end();
      req.resume();
      return;
    }
    const path = decodeURIComponent((req.url ?? "/").split("?")[0] as string);
    let wallet: string | null = null;
    if (path.startsWith("/wallet/")) wallet = path.slice("/wallet/".length);
    else if (path !== "/" && path !== "") {
      res.writeHead(404).end();
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > this.opts.maxBodyBytes) {
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        this.send(res, {status: 500, body: {result: null, error: {code: RpcCode.PARSE_ERROR, message: "Parse error"}, id: null}});
        return;
      }
      if (Array.isArray(parsed)) {
        const replies = parsed.map((r: unknown) => this.reply(r as RpcRequest, wallet).body);
        this.sendJson(res, 200, replies);
      } else if (parsed !== null && typeof parsed === "object") {
        this.send(res, this.reply(parsed as RpcRequest, wallet));
      } else {
        this.send(res, {status: 400, body: {result: null, error: {code: RpcCode.INVALID_REQUEST, message: "Top-level object parse error"}, id: null}});
      }
    });
  }

  private reply(req: RpcRequest, wallet: string | null): RpcReply {
    const id = req.id ?? null;
    const v2 = req.jsonrpc === "2.0";
    const error = (code: number, message: string): RpcReply => {
      const status = v2 ? 200 : code === RpcCode.INVALID_REQUEST ? 400 : code === RpcCode.METHOD_NOT_FOUND ? 404 : 500;
      return {status, body: v2 ? {jsonrpc: "2.0", error: {code, message}, id} : {result: null, error: {code, message}, id}};
    };
    if (typeof req.method !== "string") return error(RpcCode.INVALID_REQUEST, "Method must be a string");
    const params = req.params ?? [];
    if (typeof params !== "object" || params === null) return error(RpcCode.INVALID_REQUEST, "Params must be an array or object");
    if (this.warmupMessage !== null) return error(RpcCode.IN_WARMUP, this.warmupMessage);
    try {
      const result = callSimulatedRpc(this.modules, req.method, params as unknown[] | Record<string, unknown>, wallet);
      return {status: 200, body: v2 ? {jsonrpc: "2.0", result, id} : {result, error: null, id}};
    } catch (e) {
      if (e instanceof SimulatedRpcFailure) return error(e.rpcCode, e.message);
      this.logger.error("simulated bitcoind: internal error", {method: req.method}, e as Error);
      return error(RpcCode.MISC_ERROR, (e as Error).message);
    }
  }

  private send(res: ServerResponse, reply: RpcReply): void {
    this.sendJson(res, reply.status, reply.body);
  }

  private sendJson(res: ServerResponse, status: number, body: unknown): void {
    const text = `${JSON.stringify(body)}\n`;
    res.writeHead(status, {"Content-Type": "application/json", "Content-Length": Buffer.byteLength(text)}).end(text);
  }
}
