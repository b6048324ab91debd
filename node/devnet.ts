/**
 * The local devnet (`otsfed devnet`, `npm start`): the SIMULATED regtest
 * chain with its bitcoind-dialect JSON-RPC endpoint, mining on an interval,
 * and a calendar node on 127.0.0.1 that talks to that endpoint through the
 * same Bitcoin Core backend operators use, its stamping address funded by
 * the simulated devnet wallet. Everything stops on `stop()`.
 *
 * The calendar stamps with the devnet's stamper settings (a stamp every few
 * seconds, proofs complete after 2 confirmations), so with a block every 5 s
 * a proof can be upgraded about 10-15 s after it was stamped.
 *
 * With `aggregator`, a stand-alone aggregator (devnet-aggregator.ts) runs
 * in front of the calendar too: digests posted to it reach the calendar one
 * round at a time, and their proofs are upgraded from the calendar.
 */
import {mkdtemp, rm} from "node:fs/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {coreRpcBackendFromOptions} from "./bitcoin/core-rpc.ts";
import type {CoreRpcBackend} from "./bitcoin/core-rpc.ts";
import {SimulatedBitcoin} from "./bitcoin/sim/simulated-bitcoin.ts";
import type {Clock} from "./clock.ts";
import type {Logger} from "./logger.ts";
import {startDevnetAggregator} from "./devnet-aggregator.ts";
import type {DevnetAggregator} from "./devnet-aggregator.ts";
import {CalendarNode} from "./node.ts";
import {defaultNodeOptions} from "./options.ts";
import {devnetStamperOptions} from "./stamper/options.ts";

export type DevnetOptions = {
  /** Where calendars keep their data; null: a fresh temporary directory, removed at stop. */
  dataDir: string | null;
  /** Simulated block interval, ms. */
  blockIntervalMs: number;
  /** Host the services listen on. */
  host: string;
  /** First calendar port; 0 picks free ports. */
  calendarPort: number;
  /** Also run a stand-alone aggregator in front of the calendars (on a free port). */
  aggregator: boolean;
};

export const defaultDevnetOptions: DevnetOptions = {dataDir: null, blockIntervalMs: 5_000, host: "127.0.0.1", calendarPort: 0, aggregator: false};

export type DevnetModules = {logger: Logger; clock: Clock};

export type DevnetInfo = {calendars: string[]; bitcoinRpc: string; dataDir: string; aggregator: string | null};

/** Coins the devnet wallet sends each calendar's stamping address at start. */
const CALENDAR_FUNDING_SATS = 10_000_000n;

export class Devnet {
  private readonly opts: DevnetOptions;
  private readonly modules: DevnetModules;
  private bitcoin: SimulatedBitcoin | null = null;
  private node: CalendarNode | null = null;
  private backend: CoreRpcBackend | null = null;
  private aggregator: DevnetAggregator | null = null;
  private ownedDir: string | null = null;

  constructor(opts: DevnetOptions, modules: DevnetModules) {
    this.opts = opts;
    this.modules = modules;
  }

  async start(): Promise<DevnetInfo> {
    const {logger, clock} = this.modules;
    const dataDir = this.opts.dataDir ?? (this.ownedDir = await mkdtemp(join(tmpdir(), "otsfed-devnet-")));
    const bitcoin = (this.bitcoin = await SimulatedBitcoin.start({miningIntervalMs: this.opts.blockIntervalMs, minerSeed: "devnet miner"}, {clock, logger}));

    const opts = defaultNodeOptions();
    opts.dataDir = join(dataDir, "calendar-1");
    opts.http.listen = `${this.opts.host}:${this.opts.calendarPort}`;
    opts.bitcoin.rpcUrl = bitcoin.url;
    opts.stamper = {...devnetStamperOptions, fee: {...devnetStamperOptions.fee}};
    // The calendar reaches the simulated chain the way operators reach Bitcoin Core: over its JSON-RPC.
    const backend = (this.backend = coreRpcBackendFromOptions(opts.bitcoin, logger.child({calendar: 1, module: "bitcoin"})));
    const node = (this.node = await CalendarNode.init(opts, {logger: logger.child({calendar: 1}), clock, bitcoin: backend}));
    const {url} = await node.start();
    await node.bitcoin?.funding.refresh();
    const address = node.bitcoin?.funding.bitcoinStatus.address;
    if (address) {
      // Confirmed before reporting ready: the stamper spends only confirmed coins.
      bitcoin.fund(address, CALENDAR_FUNDING_SATS);
      await node.bitcoin?.funding.refresh();
    }
    bitcoin.startMining();
    if (this.opts.aggregator) this.aggregator = await startDevnetAggregator([url], {host: this.opts.host, port: 0}, {logger: logger.child({aggregator: 1}), clock});
    return {calendars: [url], bitcoinRpc: bitcoin.url, dataDir, aggregator: this.aggregator?.url ?? null};
  }

  /** Stops the aggregator (answering what it took), the calendar (durably), the chain and its endpoint; removes a temporary data dir. */
  async stop(): Promise<void> {
    await this.aggregator?.stop();
    this.aggregator = null;
    await this.node?.stop();
    this.backend?.close();
    await this.bitcoin?.stop();
    if (this.ownedDir) await rm(this.ownedDir, {recursive: true, force: true});
    this.ownedDir = null;
  }
}
