/**
 * The composition root (STYLE §9): builds a calendar node from its options
 * and starts its parts in dependency order — identity, calendar storage
 * (index lock, journal recovery, index sync), aggregator, HTTP API — and
 * stops them in reverse: HTTP stops accepting, the aggregator commits every
 * digest it accepted, their replies go out, then the journal and the index
 * close. Nothing acknowledged is lost; nothing accepted is left unanswered.
 */
import {mkdir, readFile} from "node:fs/promises";
import {Registry} from "prom-client";
import {toHex} from "../protocol/ots/bytes.ts";
import {Aggregator} from "./calendar/aggregator.ts";
import {Calendar} from "./calendar/calendar.ts";
import type {Clock} from "./clock.ts";
import {ApiServer} from "./http/server.ts";
import type {StatusInfo} from "./http/status.ts";
import {loadOrCreateIdentity} from "./identity.ts";
import type {Identity} from "./identity.ts";
import type {Logger} from "./logger.ts";
import {createMetrics} from "./metrics.ts";
import type {Metrics} from "./metrics.ts";
import type {NodeOptions} from "./options.ts";
import {CoreRpcBackend} from "./bitcoin/core-rpc.ts";
import {defaultFundingWatchOptions, FundingWatch} from "./bitcoin/funding-watch.ts";
import {Stamper} from "./stamper/stamper.ts";
import type {StamperPhase} from "./stamper/stamper.ts";

export type NodeModules = {
  logger: Logger;
  clock: Clock;
  /** Test hook: told of each stamping phase (crash tests kill the process there). */
  onStamperPhase?: (phase: StamperPhase) => void;
};

async function readVersion(): Promise<string> {
  try {
    const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8")) as {version?: unknown};
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

export class CalendarNode {
  readonly identity: Identity;
  readonly calendar: Calendar;
  readonly aggregator: Aggregator;
  readonly api: ApiServer;
  readonly metrics: Metrics;
  readonly register: Registry;
  /** The Bitcoin node, stamping funds and stamper, when a Bitcoin backend is configured. */
  readonly bitcoin: {backend: CoreRpcBackend; funding: FundingWatch; stamper: Stamper} | null;
  private readonly logger: Logger;
  private url: string;
  private address: {host: string; port: number} | null = null;
  private status: "stopped" | "starting" | "started" | "stopping" = "stopped";
  private stopping: Promise<void> | null = null;

  private constructor(opts: NodeOptions, modules: NodeModules, identity: Identity, calendar: Calendar, register: Registry, metrics: Metrics, version: string) {
    const {logger, clock} = modules;
    this.logger = logger;
    this.identity = identity;
    this.calendar = calendar;
    this.register = register;
    this.metrics = metrics;
    this.url = opts.http.url;
    this.bitcoin = null;
    if (opts.bitcoin.rpcUrl !== null) {
      const blog = logger.child({module: "bitcoin"});
      const backend = new CoreRpcBackend({url: opts.bitcoin.rpcUrl, cookieFile: opts.bitcoin.cookieFile, wallet: opts.bitcoin.wallet}, {logger: blog});
      const funding = new FundingWatch({...defaultFundingWatchOptions, dataDir: opts.dataDir}, {backend, logger: blog});
      const stamper = new Stamper(opts.stamper, {
        calendar,
        backend,
        fundingKey: () => funding.fundingKey,
        dataDir: opts.dataDir,
        logger: logger.child({module: "stamper"}),
        metrics,
        clock,
        ...(modules.onStamperPhase ? {onPhase: modules.onStamperPhase} : {}),
      });
      this.bitcoin = {backend, funding, stamper};
    }
    const bitcoin = this.bitcoin;
    this.aggregator = new Aggregator(opts.aggregator, {calendar, logger: logger.child({module: "aggregator"}), metrics, clock}, () => this.url);
    const started = clock.now();
    const status = (): StatusInfo => {
      const stamper = bitcoin ? bitcoin.stamper.report() : null;
      return {
        version,
        calendarId: identity.peerId,
        uri: this.url,
        // Without a stamper: the journal length (all rounds, unless the node stamped in an earlier life).
        pendingCommitments: stamper ? stamper.pendingCommitments : calendar.store.length,
        journalRecords: calendar.store.length,
        journalSegments: calendar.store.segmentCount,
        journalBytes: calendar.store.bytes,
        chainHash: toHex(calendar.store.chainHash),
        queueDepth: this.aggregator.queueDepth,
        roundIntervalMs: opts.aggregator.roundIntervalMs,
        uptimeSeconds: Math.floor((clock.now() - started) / 1000),
        bitcoin: bitcoin ? bitcoin.funding.status : null,
        stamper,
      };
    };
    const health = (): string | null => (calendar.store.failure ? "journal write failed" : (bitcoin?.stamper.health() ?? null));
    const warnings = (): string[] => bitcoin?.stamper.warnings() ?? [];
    this.api = new ApiServer(opts.http, {aggregator: this.aggregator, calendar, logger: logger.child({module: "http"}), metrics, register, status, health, warnings, stamper: bitcoin?.stamper ?? null});
  }

  /** Open storage (verifying and recovering the journal) and build the node, not yet listening. */
  static async init(opts: NodeOptions, modules: NodeModules): Promise<CalendarNode> {
    const {logger} = modules;
    await mkdir(opts.dataDir, {recursive: true});
    const {identity, created} = await loadOrCreateIdentity(opts.dataDir);
    logger.info(created ? "identity created" : "identity loaded", {peerId: identity.peerId});
    const register = new Registry();
    const metrics = createMetrics(register);
    const calendar = await Calendar.open(opts.dataDir, opts.journal, {logger: logger.child({module: "calendar"}), metrics, identity});
    try {
      const node = new CalendarNode(opts, modules, identity, calendar, register, metrics, await readVersion());
      // Refuses to start on a damaged stamper state file: it may hold the only record of a broadcast.
      await node.bitcoin?.stamper.load();
      return node;
    } catch (e) {
      await calendar.close().catch(() => {});
      throw e;
    }
  }

  /** Start listening; resolves with the bound address. */
  async start(): Promise<{host: string; port: number; url: string}> {
    if (this.status !== "stopped") throw new Error(`node is ${this.status}`);
    this.status = "starting";
    const addr = await this.api.start();
    // A node listening on port 0 learns its URL only now (tests, devnets).
    if (this.url === "") this.url = `http://${addr.host.includes(":") ? `[${addr.host}]` : addr.host}:${addr.port}`;
    this.address = addr;
    await this.bitcoin?.funding.start();
    await this.bitcoin?.stamper.start();
    this.status = "started";
    this.logger.info("calendar node started", {url: this.url, peerId: this.identity.peerId, journalRecords: this.calendar.store.length});
    return {...addr, url: this.url};
  }

  get calendarUrl(): string {
    return this.url;
  }

  /** Graceful stop, in reverse start order. Idempotent; concurrent calls share one stop. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      this.status = "stopping";
      const closed = this.api.beginStop();
      await this.aggregator.stop();
      await this.api.finish();
      await closed;
      if (this.bitcoin) {
        await this.bitcoin.stamper.stop();
        await this.bitcoin.funding.stop();
        this.bitcoin.backend.close();
      }
      await this.calendar.close();
      this.status = "stopped";
      this.logger.info("calendar node stopped", {journalRecords: this.calendar.store.length, chainHash: toHex(this.calendar.store.chainHash), address: this.address});
    })();
    return this.stopping;
  }
}
