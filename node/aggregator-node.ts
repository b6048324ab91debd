/**
 * The stand-alone aggregator's composition root (`otsfed aggregator`, the
 * TODO's "Stand-alone Aggregation Servers"), built like the calendar node's
 * (node/node.ts) on the one lifecycle: it takes digests exactly as a
 * calendar does (the same POST /digest route, limits and refusals), gathers
 * them into rounds with the calendar's own aggregator
 * (node/calendar/aggregator.ts), and instead of journaling each round's
 * root submits it to every upstream calendar (node/aggregator/), answering
 * each client with its proof once enough upstreams accepted: digest → nonce
 * → merkle path → round root → one branch per upstream, each ending in that
 * upstream's Pending attestation. It keeps no data: clients upgrade from
 * the upstreams, whether or not the aggregator is still running.
 *
 * Start, in dependency order: the upstream sink, the aggregator, the HTTP
 * API last. Stop, in reverse: HTTP stops accepting and answers every digest
 * in flight (the aggregator, still running, submits their rounds without
 * waiting for its round interval), the aggregator stops (committing
 * anything still queued), then the sink abandons requests left from earlier
 * rounds and closes its connections. Nothing is acknowledged that no
 * upstream holds.
 */
import {Registry} from "prom-client";
import {UpstreamCalendar} from "./aggregator/upstream-calendar.ts";
import {UpstreamRoundSink} from "./aggregator/upstream-round-sink.ts";
import type {AggregatorNodeOptions} from "./aggregator-options.ts";
import {Aggregator} from "./calendar/aggregator.ts";
import type {Clock} from "./clock.ts";
import type {AggregatorStatusInfo} from "./http/aggregator-status.ts";
import {aggregatorApiRoutes} from "./http/routes/aggregator-routes.ts";
import {ApiServer} from "./http/server.ts";
import {Lifecycle} from "./lifecycle.ts";
import type {Logger} from "./logger.ts";
import {createAggregatorMetrics} from "./metrics.ts";
import type {AggregatorMetrics} from "./metrics.ts";
import {readVersion} from "./version.ts";

/** What the aggregator is handed: a logger and the clock. */
export type AggregatorNodeModules = {logger: Logger; clock: Clock};

/** Where a started aggregator listens, and its URL (what clients are given). */
export type AggregatorAddress = {host: string; port: number; url: string};

/** A stand-alone aggregator; see the module comment. */
export class AggregatorNode extends Lifecycle<AggregatorAddress> {
  readonly metrics: AggregatorMetrics;
  readonly register: Registry;
  readonly upstreams: readonly UpstreamCalendar[];
  readonly sink: UpstreamRoundSink;
  readonly aggregator: Aggregator;
  readonly api: ApiServer;
  private readonly logger: Logger;
  private readonly opts: AggregatorNodeOptions;
  private url = "";

  private constructor(opts: AggregatorNodeOptions, modules: AggregatorNodeModules, version: string) {
    super();
    const {logger, clock} = modules;
    this.opts = opts;
    this.logger = logger;
    this.register = new Registry();
    const metrics = (this.metrics = createAggregatorMetrics(this.register));
    const upstreamLogger = logger.child({module: "upstream"});
    this.upstreams = opts.upstream.upstreams.map((url) => new UpstreamCalendar(url, version, {logger: upstreamLogger, metrics, clock}));
    this.sink = new UpstreamRoundSink(opts.upstream, {upstreams: this.upstreams, logger: upstreamLogger, metrics});
    this.aggregator = new Aggregator(opts.aggregator, {sink: this.sink, logger: logger.child({module: "aggregator"}), metrics, clock});
    const started = clock.now();
    const status = (): AggregatorStatusInfo => {
      const rounds = this.sink.report();
      return {
        version,
        url: this.url,
        upstreams: this.upstreams.map((u) => u.report()),
        minUpstreams: opts.upstream.minUpstreams,
        deadlineMs: opts.upstream.deadlineMs,
        queueDepth: this.aggregator.queueDepth,
        roundIntervalMs: opts.aggregator.roundIntervalMs,
        roundsAccepted: rounds.roundsAccepted,
        roundsFailed: rounds.roundsFailed,
        lastRound: rounds.last,
        uptimeSeconds: Math.floor((clock.now() - started) / 1000),
      };
    };
    this.api = new ApiServer(opts.http, {
      routes: aggregatorApiRoutes({aggregator: this.aggregator, aggregatorStatus: status, health: () => this.health(), warnings: () => this.warnings(), register: this.register}),
      logger: logger.child({module: "http"}),
      metrics,
    });
  }

  /** Build an aggregator, not yet listening (nothing to open: it keeps no data). */
  static async init(opts: AggregatorNodeOptions, modules: AggregatorNodeModules): Promise<AggregatorNode> {
    return new AggregatorNode(opts, modules, await readVersion());
  }

  /** The URL clients are given (known once it listens, when it listens on port 0). */
  get aggregatorUrl(): string {
    return this.url;
  }

  /**
   * /healthz 503: fewer upstreams accepting than a round needs, so every
   * round would be refused now.
   */
  health(): string | null {
    const healthy = this.upstreams.filter((u) => u.healthy).length;
    if (healthy >= this.opts.upstream.minUpstreams) return null;
    return `${healthy} of ${this.upstreams.length} upstream calendars accepting, ${this.opts.upstream.minUpstreams} needed: ${this.failing().join("; ")}`;
  }

  /** /healthz 200 "degraded: …": an upstream failing while enough others accept. */
  warnings(): string[] {
    return this.failing();
  }

  private failing(): string[] {
    return this.upstreams.filter((u) => !u.healthy).map((u) => `upstream ${u.url} failing (${u.report().lastError?.code ?? "unknown"})`);
  }

  protected async onStart(): Promise<AggregatorAddress> {
    await this.sink.start();
    await this.aggregator.start();
    await this.api.start();
    const addr = this.api.address;
    this.url = `http://${addr.host.includes(":") ? `[${addr.host}]` : addr.host}:${addr.port}`;
    this.logger.info("aggregator started", {url: this.url, upstreams: this.upstreams.map((u) => u.url), minUpstreams: this.opts.upstream.minUpstreams});
    return {...addr, url: this.url};
  }

  protected async onStop(): Promise<void> {
    // As the calendar node: HTTP first, answering the digests in flight,
    // whose rounds go out at once; then the aggregator; then the sink.
    this.aggregator.skipRoundInterval();
    try {
      await this.api.stop();
      await this.aggregator.stop();
    } finally {
      await this.sink.stop();
    }
    const rounds = this.sink.report();
    this.logger.info("aggregator stopped", {roundsAccepted: rounds.roundsAccepted, roundsFailed: rounds.roundsFailed});
  }
}
