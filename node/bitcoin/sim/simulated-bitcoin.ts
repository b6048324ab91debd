/**
 * The SIMULATED Bitcoin network in one piece, for the devnet, tests and
 * benchmarks: the regtest chain, a wallet with mature coins to hand out,
 * the watch-only wallets and the bitcoind-dialect JSON-RPC server on
 * 127.0.0.1 that calendar nodes reach through their ordinary Core backend.
 * Blocks come on demand (`mine`) or, with `miningIntervalMs`, by themselves.
 */
import {decodeSegwitAddress} from "../../../protocol/bitcoin/segwit-address.ts";
import {keyPairFromSeed, p2wpkhScript} from "../signing.ts";
import type {Clock} from "../../clock.ts";
import type {Logger} from "../../logger.ts";
import {SimulatedChain} from "./chain.ts";
import type {SimulatedBlock} from "./chain.ts";
import {SimulatedWallet} from "./devnet-wallet.ts";
import {SimulatedRpcServer} from "./rpc-server.ts";
import type {SimulatedRpcServerOptions} from "./rpc-server.ts";
import {SimulatedWatchWallets} from "./watch-wallets.ts";

export type SimulatedBitcoinOptions = {
  /** Mine a block this often, ms; 0: only when `mine` is called. */
  miningIntervalMs: number;
  /** Seed of the key the miner's coinbases pay. */
  minerSeed: string;
  rpc: Partial<SimulatedRpcServerOptions>;
};

export const defaultSimulatedBitcoinOptions: SimulatedBitcoinOptions = {miningIntervalMs: 0, minerSeed: "simulated miner", rpc: {}};

export class SimulatedBitcoin {
  readonly chain: SimulatedChain;
  readonly wallet: SimulatedWallet;
  readonly rpc: SimulatedRpcServer;
  readonly minerScript: Uint8Array;

  private constructor(chain: SimulatedChain, wallet: SimulatedWallet, rpc: SimulatedRpcServer, minerScript: Uint8Array) {
    this.chain = chain;
    this.wallet = wallet;
    this.rpc = rpc;
    this.minerScript = minerScript;
  }

  /** Build the chain (with spendable coins for the wallet) and start its JSON-RPC server; interval mining starts with `startMining`. */
  static async start(opts: Partial<SimulatedBitcoinOptions>, modules: {clock: Clock; logger?: Logger}): Promise<SimulatedBitcoin> {
    const o = {...defaultSimulatedBitcoinOptions, ...opts};
    const {clock} = modules;
    const chainLogger = modules.logger?.child({module: "simulated-chain"});
    const chain = new SimulatedChain({miningIntervalMs: o.miningIntervalMs}, {clock, ...(chainLogger ? {logger: chainLogger} : {})});
    const wallet = new SimulatedWallet(chain);
    // Coinbase outputs mature after 100 blocks: the wallet mines its own first.
    wallet.ensureMatureCoins();
    const wallets = new SimulatedWatchWallets(chain, () => clock.now() / 1000);
    const rpcLogger = modules.logger?.child({module: "simulated-rpc"});
    const rpc = new SimulatedRpcServer(o.rpc, {chain, wallets, clock, ...(rpcLogger ? {logger: rpcLogger} : {})});
    await rpc.start();
    return new SimulatedBitcoin(chain, wallet, rpc, p2wpkhScript(keyPairFromSeed(o.minerSeed).publicKey));
  }

  /** `http://user:password@127.0.0.1:port`, what `--bitcoin-rpc` takes. */
  get url(): string {
    return this.rpc.url;
  }

  /** The output script of a regtest segwit address (bcrt1…). */
  static scriptOf(address: string): Uint8Array {
    const program = decodeSegwitAddress("bcrt", address).program;
    return Uint8Array.of(0x00, program.length, ...program);
  }

  /** Send `sats` to `address` (a calendar's stamping address) and confirm it in one block. */
  fund(address: string, sats: bigint): void {
    this.wallet.fund(SimulatedBitcoin.scriptOf(address), [sats], {confirm: false});
    this.chain.mine(1, this.minerScript);
  }

  /** Mine `n` blocks (taking the mempool unless told not to). */
  mine(n: number, opts: {includeMempool?: boolean} = {}): SimulatedBlock[] {
    return this.chain.mine(n, this.minerScript, opts);
  }

  /** Start mining on the configured interval. */
  startMining(): void {
    this.chain.start(this.minerScript);
  }

  /** Stop mining and the JSON-RPC server. */
  async stop(): Promise<void> {
    this.chain.stop();
    await this.rpc.stop();
  }
}
