/**
 * Keeps the node's view of its Bitcoin backend and stamping funds current for
 * the status page, `/healthz` and logs: which backend, which chain and height,
 * the funding address and descriptor, and the balance.
 *
 * bitcoind may be down or warming up when the node starts, and may go away
 * later; the calendar must keep accepting digests regardless, so this runs as
 * a background loop that records the last error instead of failing start-up.
 * The funding key belongs to a chain (its address prefix does), so it is
 * loaded once the backend has said which chain it is on.
 *
 * Its loop runs on the one Service lifecycle (node/lifecycle.ts): start and
 * stop are idempotent and restartable, each run with its own signal.
 */
import type {BitcoinBackend} from "./backend.ts";
import {BitcoinError} from "./errors.ts";
import {loadOrCreateFundingKey} from "./funding-key.ts";
import type {FundingKey} from "./funding-key.ts";
import type {ChainName} from "./address.ts";
import {Lifecycle, runEvery} from "../lifecycle.ts";
import type {LifecycleStatus} from "../lifecycle.ts";
import type {Logger} from "../logger.ts";
import {hashToDisplayHex} from "../../protocol/bitcoin/hash.ts";

/** Options (plain data). */
export type FundingWatchOptions = {
  dataDir: string;
  /** How often to refresh, ms. */
  pollIntervalMs: number;
  /** Per-refresh time limit, ms. */
  timeoutMs: number;
};

/** Defaults (the data dir has none). */
export const defaultFundingWatchOptions: Omit<FundingWatchOptions, "dataDir"> = {pollIntervalMs: 10_000, timeoutMs: 30_000};

/** Dependencies. */
export type FundingWatchModules = {backend: BitcoinBackend; logger: Logger};

/** What the status page shows about Bitcoin. */
export type BitcoinStatus = {
  backend: BitcoinBackend["kind"];
  chain: string | null;
  height: number | null;
  bestBlock: string | null;
  address: string | null;
  descriptor: string | null;
  /** Confirmed plus unconfirmed, satoshis; null until known. */
  balanceSats: bigint | null;
  /** The last refresh's failure (a BITCOIN_* code and message), or null when it worked. */
  error: string | null;
};

const CHAINS: readonly string[] = ["main", "test", "testnet4", "signet", "regtest"];

/**
 * The refresh loop. A part of its own rather than FundingWatch's base class
 * only because FundingWatch's `status` is the Bitcoin status callers read
 * (node/devnet.ts among them), which a Lifecycle's `status` would shadow.
 */
class RefreshLoop extends Lifecycle {
  private readonly intervalMs: number;
  private readonly refresh: () => Promise<void>;
  private loop: Promise<void> | null = null;

  constructor(intervalMs: number, refresh: () => Promise<void>) {
    super();
    this.intervalMs = intervalMs;
    this.refresh = refresh;
  }

  /** The current run's signal (aborted while stopped). */
  get runSignal(): AbortSignal {
    return this.signal;
  }

  protected async onStart(signal: AbortSignal): Promise<void> {
    this.loop = runEvery(this.intervalMs, signal, () => this.refresh());
  }

  protected async onStop(): Promise<void> {
    await this.loop;
    this.loop = null;
  }
}

/** The Bitcoin backend and stamping funds as the status page shows them (see the module comment). */
export class FundingWatch {
  private readonly opts: FundingWatchOptions;
  private readonly backend: BitcoinBackend;
  private readonly logger: Logger;
  private readonly loop: RefreshLoop;
  private key: FundingKey | null = null;
  private imported = false;
  /** Refreshes run one after another: two at once would race to create Core's wallet. */
  private queue: Promise<void> = Promise.resolve();
  private state: BitcoinStatus;

  constructor(opts: FundingWatchOptions, modules: FundingWatchModules) {
    this.opts = opts;
    this.backend = modules.backend;
    this.logger = modules.logger;
    this.state = {backend: modules.backend.kind, chain: null, height: null, bestBlock: null, address: null, descriptor: null, balanceSats: null, error: "not checked yet"};
    this.loop = new RefreshLoop(opts.pollIntervalMs, () => this.refresh());
  }

  /** The last refresh's view of Bitcoin. */
  get status(): BitcoinStatus {
    return {...this.state};
  }

  /** The stamping key, once the backend has said which chain it is on. */
  get fundingKey(): FundingKey | null {
    return this.key;
  }

  /** One refresh, after any already running; never throws (failures land in `status.error`). */
  refresh(): Promise<void> {
    this.queue = this.queue.then(() => this.refreshNow());
    return this.queue;
  }

  private async refreshNow(): Promise<void> {
    // While the loop runs, stop() cuts a refresh short; outside a run (before
    // the first start, in tests and the devnet) only the time limit bounds it.
    const running = this.loop.status === "starting" || this.loop.status === "started";
    const run = running ? this.loop.runSignal : null;
    const signal = run ? AbortSignal.any([run, AbortSignal.timeout(this.opts.timeoutMs)]) : AbortSignal.timeout(this.opts.timeoutMs);
    try {
      const info = await this.backend.getChainInfo(signal);
      if (!CHAINS.includes(info.chain)) throw new Error(`unknown chain '${info.chain}'`);
      if (this.key === null) {
        this.key = await loadOrCreateFundingKey(this.opts.dataDir, info.chain as ChainName);
        this.logger.info("stamping funds address", {address: this.key.address, descriptor: this.key.descriptor, chain: info.chain});
      }
      if (!this.imported) {
        await this.backend.importWatchDescriptors([this.key.descriptor], signal, {rescanSince: "now"});
        this.imported = true;
      }
      const utxos = await this.backend.listUnspent(signal, {minConf: 0});
      const balanceSats = utxos.reduce((a, u) => a + u.valueSats, 0n);
      const wasDown = this.state.error !== null;
      this.state = {
        backend: this.backend.kind,
        chain: info.chain,
        height: info.height,
        bestBlock: hashToDisplayHex(info.bestBlockHash),
        address: this.key.address,
        descriptor: this.key.descriptor,
        balanceSats,
        error: null,
      };
      if (wasDown) this.logger.info("bitcoin backend reachable", {backend: this.backend.kind, chain: info.chain, height: info.height});
    } catch (e) {
      if (run?.aborted) return;
      const message = e instanceof BitcoinError ? `${e.code}: ${e.message}` : (e as Error).message;
      if (this.state.error !== message) this.logger.warn("bitcoin backend unavailable", {backend: this.backend.kind, error: message});
      this.state = {...this.state, error: message};
    }
  }

  /** Whether the refresh loop runs. */
  get loopStatus(): LifecycleStatus {
    return this.loop.status;
  }

  /** Start refreshing every `pollIntervalMs` (the first at once). Idempotent. */
  start(): Promise<void> {
    return this.loop.start();
  }

  /** Stop refreshing and wait for the refresh in progress. Idempotent; `start()` may follow. */
  stop(): Promise<void> {
    return this.loop.stop();
  }
}
