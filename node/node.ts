/**
 * The composition root (STYLE §9): builds a calendar node from its options
 * and the modules it is handed — logger, clock and the Bitcoin backend
 * (Bitcoin Core's JSON-RPC in production, the simulated chain in tests and
 * the devnet, or none) — and runs its parts on the one lifecycle.
 *
 * Start, in dependency order: storage (index lock, journal recovery, index
 * sync; opened already by `init`), the stamper's durable state, the
 * aggregator, the funding watch and the stamper, and the HTTP API last, so
 * nothing is accepted before every part can serve it. Stop, in reverse:
 * HTTP stops accepting and answers every digest in flight (the aggregator,
 * still running, commits them), the aggregator stops, then the Bitcoin
 * parts, then the journals and the index close. Nothing acknowledged is
 * lost; nothing accepted is left unanswered. A stopped node can be started
 * again: storage is reopened and the parts rebuilt.
 */
import {mkdir} from "node:fs/promises";
import {Registry} from "prom-client";
import {toHex} from "../protocol/ots/bytes.ts";
import type {BitcoinBackend} from "./bitcoin/backend.ts";
import {defaultFundingWatchOptions, FundingWatch} from "./bitcoin/funding-watch.ts";
import {Aggregator} from "./calendar/aggregator.ts";
import type {Calendar} from "./calendar/calendar.ts";
import {CalendarRoundSink} from "./calendar/calendar-round-sink.ts";
import {CalendarRegistry} from "./calendar/registry.ts";
import type {Clock} from "./clock.ts";
import {apiRoutes} from "./http/routes/index.ts";
import {ApiServer} from "./http/server.ts";
import type {StatusInfo} from "./http/status.ts";
import {loadOrCreateIdentity} from "./identity.ts";
import type {Identity} from "./identity.ts";
import {Lifecycle} from "./lifecycle.ts";
import type {Logger} from "./logger.ts";
import {createMetrics} from "./metrics.ts";
import type {Metrics} from "./metrics.ts";
import type {NodeOptions} from "./options.ts";
import {Stamper} from "./stamper/stamper.ts";
import {AggregatorError, AggregatorErrorCode} from "./calendar/aggregator.ts";
import {OptionsError, OptionsErrorCode} from "./config/option-spec.ts";
import type {FederationDefinition} from "./federation/definition.ts";
import {defaultFederationTimings, Federation} from "./federation/federation.ts";
import {createFederationMetrics} from "./federation/metrics.ts";
import type {FederationMetrics} from "./federation/metrics.ts";

/** One set of federation metrics per registry: a restarted node keeps its counters (and prom-client refuses a name twice). */
const federationMetrics = new WeakMap<Registry, FederationMetrics>();
function federationMetricsFor(register: Registry): FederationMetrics {
  let m = federationMetrics.get(register);
  if (m === undefined) federationMetrics.set(register, (m = createFederationMetrics(register)));
  return m;
}
import type {StamperPhase} from "./stamper/stamper.ts";
import {readVersion} from "./version.ts";

export type NodeModules = {
  logger: Logger;
  clock: Clock;
  /**
   * The Bitcoin node the calendar stamps through, or null (no stamping:
   * commitments stay pending). Whoever made it owns it: the node never
   * closes it.
   */
  bitcoin: BitcoinBackend | null;
  /** Test hook: told of each stamping phase (crash tests kill the process there). */
  onStamperPhase?: (phase: StamperPhase) => void;
  /** The federation definition the node joins (`--federation FILE`, parsed); none: it runs alone. */
  federation?: FederationDefinition | null;
  /** Test and bench hook: federation timings (how often heads are gossiped and mirrors probe). */
  federationTimings?: Partial<typeof defaultFederationTimings>;
};

/**
 * Largest journal segment a federated node may write: a catch-up piece runs
 * at most to the next sealed segment's checkpoint, and a mirror's segment
 * can hold one more piece than this, so every reply stays within one
 * 32 MiB record batch.
 */
export const MAX_FEDERATED_SEGMENT_BYTES = 16 * 1024 * 1024;

/** Where a started node listens, and the URL in its Pending attestations. */
export type NodeAddress = {host: string; port: number; url: string};

/** The parts built over one opening of storage. */
type Parts = {
  calendars: CalendarRegistry;
  aggregator: Aggregator;
  api: ApiServer;
  bitcoin: {backend: BitcoinBackend; funding: FundingWatch; stamper: Stamper} | null;
  federation: Federation | null;
};

export class CalendarNode extends Lifecycle<NodeAddress> {
  readonly identity: Identity;
  readonly metrics: Metrics;
  readonly register: Registry;
  private readonly opts: NodeOptions;
  private readonly modules: NodeModules;
  private readonly logger: Logger;
  private readonly version: string;
  private parts: Parts | null;
  private url: string;
  private bound: {host: string; port: number} | null = null;

  private constructor(opts: NodeOptions, modules: NodeModules, identity: Identity, register: Registry, metrics: Metrics, version: string, parts: Parts) {
    super();
    this.opts = opts;
    this.modules = modules;
    this.logger = modules.logger;
    this.identity = identity;
    this.register = register;
    this.metrics = metrics;
    this.version = version;
    this.url = opts.http.url;
    this.parts = parts;
  }

  /** Open storage (verifying and recovering every journal) and build the node, not yet listening. */
  static async init(opts: NodeOptions, modules: NodeModules): Promise<CalendarNode> {
    const {logger} = modules;
    await mkdir(opts.dataDir, {recursive: true});
    const {identity, created} = await loadOrCreateIdentity(opts.dataDir);
    logger.info(created ? "identity created" : "identity loaded", {peerId: identity.peerId});
    const register = new Registry();
    const metrics = createMetrics(register);
    const version = await readVersion();
    // A node is built once its parts are: assemble is shared with restarts.
    const holder: {node: CalendarNode | null} = {node: null};
    const parts = await assemble(opts, modules, identity, metrics, register, version, () => holder.node?.url ?? opts.http.url);
    const node = new CalendarNode(opts, modules, identity, register, metrics, version, parts);
    holder.node = node;
    return node;
  }

  private get built(): Parts {
    if (this.parts === null) throw new Error("the node's parts are built at start");
    return this.parts;
  }

  /** Every calendar this node holds: its own and its mirrors. */
  get calendars(): CalendarRegistry {
    return this.built.calendars;
  }

  /** The node's own calendar. */
  get calendar(): Calendar {
    return this.built.calendars.own;
  }

  get aggregator(): Aggregator {
    return this.built.aggregator;
  }

  get api(): ApiServer {
    return this.built.api;
  }

  /** The Bitcoin node, stamping funds and stamper, when the node was given a Bitcoin backend. */
  get bitcoin(): Parts["bitcoin"] {
    return this.built.bitcoin;
  }

  /** The node's part in its federation, when it joined one. */
  get federation(): Federation | null {
    return this.built.federation;
  }

  /** The URL in the node's Pending attestations (known once it listens, when it listens on port 0). */
  get calendarUrl(): string {
    return this.url;
  }

  /** Starts the parts; `start()` resolves with where the node listens. */
  protected async onStart(): Promise<NodeAddress> {
    // A node stopped before is rebuilt over freshly opened storage.
    this.parts ??= await assemble(this.opts, this.modules, this.identity, this.metrics, this.register, this.version, () => this.url);
    const {aggregator, api, bitcoin, federation} = this.parts;
    await aggregator.start();
    await bitcoin?.funding.start();
    await bitcoin?.stamper.start();
    await federation?.start();
    await api.start();
    const addr = api.address;
    // Without --url the URL is where it listens, learnt only now on port 0 (tests, devnets), anew at each start.
    if (this.opts.http.url === "") this.url = `http://${addr.host.includes(":") ? `[${addr.host}]` : addr.host}:${addr.port}`;
    this.bound = addr;
    this.logger.info("calendar node started", {url: this.url, peerId: this.identity.peerId, journalRecords: this.parts.calendars.own.length, mirrors: this.parts.calendars.mirrors().length});
    return {...addr, url: this.url};
  }

  protected async onStop(): Promise<void> {
    const parts = this.parts;
    if (parts === null) return;
    const {calendars, aggregator, api, bitcoin, federation} = parts;
    try {
      // HTTP first: it takes no new digests and answers those in flight,
      // which the aggregator, still running, commits without waiting for its
      // round interval (no later digest could join their round). Then the
      // aggregator stops, committing anything else queued.
      aggregator.skipRoundInterval();
      await api.stop();
      await aggregator.stop();
      // Before storage closes: imports in flight finish, no stream reads a closed journal.
      await federation?.stop();
      await bitcoin?.stamper.stop();
      await bitcoin?.funding.stop();
    } finally {
      await calendars.close();
      this.parts = null;
    }
    this.logger.info("calendar node stopped", {journalRecords: calendars.own.length, chainHash: toHex(calendars.own.store.chainHash), address: this.bound});
  }
}

/**
 * Open storage and build every part over it. The stamper's state file is
 * read here: a damaged one stops the node before it starts (it may hold the
 * only record of a broadcast).
 */
async function assemble(opts: NodeOptions, modules: NodeModules, identity: Identity, metrics: Metrics, register: Registry, version: string, url: () => string): Promise<Parts> {
  const {logger, clock} = modules;
  const definition = modules.federation ?? null;
  if (definition !== null) checkFederatedStart(definition, identity, opts);
  const mirrorOnly = definition !== null && opts.federation.mirrorOnly;
  const calendars = await CalendarRegistry.open(opts.dataDir, opts.journal, {logger: logger.child({module: "calendar"}), metrics, identity});
  try {
    const calendar = calendars.own;
    let bitcoin: Parts["bitcoin"] = null;
    // A mirror takes no digests, so it has nothing to stamp.
    if (modules.bitcoin !== null && !mirrorOnly) {
      const backend = modules.bitcoin;
      const funding = new FundingWatch({...defaultFundingWatchOptions, dataDir: opts.dataDir}, {backend, logger: logger.child({module: "bitcoin"})});
      const stamper = new Stamper(opts.stamper, {
        calendar,
        backend,
        fundingKey: () => funding.fundingKey,
        walletProblem: () => funding.walletProblem,
        dataDir: opts.dataDir,
        logger: logger.child({module: "stamper"}),
        metrics,
        clock,
        ...(modules.onStamperPhase ? {onPhase: modules.onStamperPhase} : {}),
      });
      await stamper.load();
      bitcoin = {backend, funding, stamper};
    }
    const sink = new CalendarRoundSink({calendar, url});
    const aggregator = new Aggregator(opts.aggregator, {sink, logger: logger.child({module: "aggregator"}), metrics, clock});
    const started = clock.now();
    const status = (): StatusInfo => {
      const stamper = bitcoin ? bitcoin.stamper.report() : null;
      return {
        version,
        calendarId: identity.peerId,
        uri: url(),
        // Without a stamper: the journal length (all rounds, unless the node stamped in an earlier life).
        pendingCommitments: stamper ? stamper.pendingCommitments : calendar.length,
        journalRecords: calendar.length,
        journalSegments: calendar.store.segmentCount,
        journalBytes: calendar.store.bytes,
        chainHash: toHex(calendar.store.chainHash),
        queueDepth: aggregator.queueDepth,
        roundIntervalMs: opts.aggregator.roundIntervalMs,
        uptimeSeconds: Math.floor((clock.now() - started) / 1000),
        bitcoin: bitcoin ? bitcoin.funding.bitcoinStatus : null,
        stamper,
      };
    };
    const federation =
      definition === null
        ? null
        : new Federation(
            {definition, listen: opts.federation.p2pListen, mirrorOnly, ...defaultFederationTimings, ...modules.federationTimings},
            {identity, registry: calendars, dataDir: opts.dataDir, logger: logger.child({module: "federation"}), clock, metrics: federationMetricsFor(register)},
          );
    const health = (): string | null => (calendar.store.failure ? "journal write failed" : (bitcoin?.stamper.health() ?? federation?.health() ?? null));
    const warnings = (): string[] => bitcoin?.stamper.warnings() ?? [];
    // A mirror answers for every calendar but takes no digests: they belong at a member.
    const digests = mirrorOnly ? {submit: () => Promise.reject(new AggregatorError({code: AggregatorErrorCode.NOT_ACCEPTING}, "this node is a mirror"))} : aggregator;
    const routes = apiRoutes({aggregator: digests, commitments: calendars, journals: calendars, register, status: () => ({...status(), federation: federation?.report() ?? null}), health, warnings, stamper: bitcoin?.stamper ?? null});
    const api = new ApiServer(opts.http, {routes, logger: logger.child({module: "http"}), metrics});
    return {calendars, aggregator, api, bitcoin, federation};
  } catch (e) {
    await calendars.close().catch(() => {});
    throw e;
  }
}

/**
 * Refuse to join a federation the node cannot take part in: a member must
 * be named in the definition (a non-member runs as a mirror), and segments
 * must stay small enough for every catch-up reply to be one batch.
 */
function checkFederatedStart(def: FederationDefinition, identity: Identity, opts: NodeOptions): void {
  const member = def.members.some((m) => m.calendarId === identity.peerId);
  if (!member && !opts.federation.mirrorOnly) {
    throw new OptionsError(OptionsErrorCode.CONFLICT, `${opts.federation.file || "the federation definition"} does not name this node (${identity.peerId}) as a member: add it with 'otsfed federation add-member', or run it as a mirror (--mirror-only)`);
  }
  if (opts.journal.segmentBytes > MAX_FEDERATED_SEGMENT_BYTES) {
    throw new OptionsError(OptionsErrorCode.CONFLICT, `--segment-bytes ${opts.journal.segmentBytes} is over ${MAX_FEDERATED_SEGMENT_BYTES}, the most a federated node may use (catch-up replies run from one segment checkpoint to the next)`);
  }
}
