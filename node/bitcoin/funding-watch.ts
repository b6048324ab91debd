/**
 * Keeps the node's view of its Bitcoin backend and stamping funds current for
 * the status page, `/healthz` and logs: which backend, which chain and height,
 * the funding address and descriptor, and the balance.
 *
 * bitcoind may be down or warming up when the node starts, and may go away
 * later; the calendar must keep accepting digests regardless, so this runs as
 * a background loop that records the last error instead of failing start-up.
 * The funding key's address depends on the chain, so the chain the backend
 * last reported is remembered beside the key (`bitcoin-chain`): on start the
 * key is loaded for that chain and the address shown at once. A node that
 * never reached bitcoind asks it once, briefly, before `start()` resolves,
 * so that a new node shows its address as soon as it answers when bitcoind
 * is up; otherwise the address comes with the first refresh that reaches it.
 * If bitcoind turns out to be on another chain, the node's word wins.
 *
 * It is a part on the one Service lifecycle (node/lifecycle.ts): start and
 * stop are idempotent and restartable, each run with its own signal; the
 * Bitcoin status is `bitcoinStatus`, apart from the lifecycle's `status`.
 */
import type {BitcoinBackend} from "./backend.ts";
import {BitcoinError, BitcoinErrorCode} from "./errors.ts";
import {isChainName, loadOrCreateFundingKey, readRememberedChain, rememberChain} from "./funding-key.ts";
import type {FundingKey} from "./funding-key.ts";
import type {ChainName} from "./address.ts";
import {Lifecycle, runEvery} from "../lifecycle.ts";
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

/** How long `start()` waits for a node that never reached bitcoind to hear which chain it is on. */
const FIRST_CONTACT_MS = 3_000;

/** The Bitcoin backend and stamping funds as the status page shows them (see the module comment). */
export class FundingWatch extends Lifecycle {
  private readonly opts: FundingWatchOptions;
  private readonly backend: BitcoinBackend;
  private readonly logger: Logger;
  private loop: Promise<void> | null = null;
  private key: FundingKey | null = null;
  /** The chain `key`'s address is for. */
  private keyChain: ChainName | null = null;
  private imported = false;
  /** The last import's refusal of the wallet itself (private keys enabled), until an import works. */
  private unusable: BitcoinError | null = null;
  /** The chain file says what the node last reported (checked once per chain). */
  private chainRemembered = false;
  /** Refreshes run one after another: two at once would race to create Core's wallet. */
  private queue: Promise<void> = Promise.resolve();
  private shown: BitcoinStatus;

  constructor(opts: FundingWatchOptions, modules: FundingWatchModules) {
    super();
    this.opts = opts;
    this.backend = modules.backend;
    this.logger = modules.logger;
    this.shown = {backend: modules.backend.kind, chain: null, height: null, bestBlock: null, address: null, descriptor: null, balanceSats: null, error: "not checked yet"};
  }

  /**
   * Before the loop: the key for the remembered chain, or (never in contact
   * yet) for the chain bitcoind names within FIRST_CONTACT_MS. Failures are
   * left to the loop, which reports them.
   */
  private prepare(signal: AbortSignal): Promise<void> {
    this.queue = this.queue.then(async () => {
      if (this.key !== null) return;
      try {
        const remembered = await readRememberedChain(this.opts.dataDir);
        if (remembered !== null) return await this.useChain(remembered, false);
        const info = await this.backend.getChainInfo(AbortSignal.any([signal, AbortSignal.timeout(FIRST_CONTACT_MS)]));
        if (isChainName(info.chain)) await this.useChain(info.chain, true);
      } catch (e) {
        this.logger.debug("bitcoin: stamping address not known before the first refresh", {error: (e as Error).message});
      }
    });
    return this.queue;
  }

  /** Loads the key for `chain` (again, when the node turns out to be on another chain); `fromNode`: the node said so, remember it. */
  private async useChain(chain: ChainName, fromNode: boolean): Promise<void> {
    if (this.key === null || this.keyChain !== chain) {
      if (this.keyChain !== null) this.logger.warn("bitcoin node is on another chain than remembered; its address changes", {was: this.keyChain, chain});
      this.key = await loadOrCreateFundingKey(this.opts.dataDir, chain);
      this.keyChain = chain;
      this.imported = false;
      this.shown = {...this.shown, address: this.key.address, descriptor: this.key.descriptor};
      this.logger.info("stamping funds address", {address: this.key.address, descriptor: this.key.descriptor, chain});
    }
    if (fromNode && !this.chainRemembered) {
      if ((await readRememberedChain(this.opts.dataDir)) !== chain) await rememberChain(this.opts.dataDir, chain);
      this.chainRemembered = true;
    }
  }

  /** The last refresh's view of Bitcoin (the status page's; `status` is the lifecycle's). */
  get bitcoinStatus(): BitcoinStatus {
    return {...this.shown};
  }

  /**
   * Why the `--bitcoin-wallet` wallet cannot watch our key (BITCOIN_WALLET_UNUSABLE,
   * `reason` = its name), or null. Not a node outage: only the operator fixes it.
   */
  get walletProblem(): BitcoinError | null {
    return this.unusable;
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
    const running = this.status === "starting" || this.status === "started";
    const run = running ? this.signal : null;
    const signal = run ? AbortSignal.any([run, AbortSignal.timeout(this.opts.timeoutMs)]) : AbortSignal.timeout(this.opts.timeoutMs);
    try {
      const info = await this.backend.getChainInfo(signal);
      if (!isChainName(info.chain)) throw new Error(`unknown chain '${info.chain}'`);
      if (this.keyChain !== info.chain) this.chainRemembered = false;
      await this.useChain(info.chain, true);
      const key = this.key as FundingKey;
      if (!this.imported) {
        try {
          await this.backend.importWatchDescriptors([key.descriptor], signal, {rescanSince: "now"});
        } catch (e) {
          if (e instanceof BitcoinError && e.code === BitcoinErrorCode.WALLET_UNUSABLE) {
            if (this.unusable === null) this.logger.error("bitcoin wallet unusable: it has private keys enabled; the node needs a watch-only wallet", {wallet: e.type.reason, error: e.message});
            this.unusable = e;
          }
          throw e;
        }
        this.unusable = null;
        this.imported = true;
      }
      const utxos = await this.backend.listUnspent(signal, {minConf: 0});
      const balanceSats = utxos.reduce((a, u) => a + u.valueSats, 0n);
      const wasDown = this.shown.error !== null;
      this.shown = {
        backend: this.backend.kind,
        chain: info.chain,
        height: info.height,
        bestBlock: hashToDisplayHex(info.bestBlockHash),
        address: key.address,
        descriptor: key.descriptor,
        balanceSats,
        error: null,
      };
      if (wasDown) this.logger.info("bitcoin backend reachable", {backend: this.backend.kind, chain: info.chain, height: info.height});
    } catch (e) {
      if (run?.aborted) return;
      const message = e instanceof BitcoinError ? `${e.code}: ${e.message}` : (e as Error).message;
      if (this.shown.error !== message && this.unusable !== e) this.logger.warn("bitcoin backend unavailable", {backend: this.backend.kind, error: message});
      this.shown = {...this.shown, error: message};
    }
  }

  /** Refreshes every `pollIntervalMs` (the first at once), after the key for the remembered chain is loaded. */
  protected async onStart(signal: AbortSignal): Promise<void> {
    await this.prepare(signal);
    this.loop = runEvery(this.opts.pollIntervalMs, signal, () => this.refresh());
  }

  /** Waits for the refresh in progress. */
  protected async onStop(): Promise<void> {
    await this.loop;
    this.loop = null;
  }
}
