/**
 * The simulated regtest chain and its bitcoind-dialect JSON-RPC endpoint in
 * the bench process, funded like the devnet (node/devnet.ts): the bench
 * mines blocks when it wants them, the calendar node (a child process)
 * talks to the endpoint through its ordinary Core backend.
 */
import {decodeSegwitAddress} from "../protocol/bitcoin/segwit-address.ts";
import {SimulatedChain} from "../node/bitcoin/sim/chain.ts";
import type {SimulatedBlock} from "../node/bitcoin/sim/chain.ts";
import {SimulatedWallet} from "../node/bitcoin/sim/devnet-wallet.ts";
import {SimulatedRpcServer} from "../node/bitcoin/sim/rpc-server.ts";
import {SimulatedWatchWallets} from "../node/bitcoin/sim/watch-wallets.ts";
import {keyPairFromSeed, p2wpkhScript} from "../node/bitcoin/signing.ts";
import {systemClock} from "../node/clock.ts";

/** What node/devnet.ts gives a calendar. */
const FUNDING_SATS = 10_000_000n;

export class BenchBitcoin {
  readonly chain: SimulatedChain;
  readonly rpc: SimulatedRpcServer;
  private readonly wallet: SimulatedWallet;
  private readonly minerScript = p2wpkhScript(keyPairFromSeed("bench miner").publicKey);

  private constructor(chain: SimulatedChain, rpc: SimulatedRpcServer, wallet: SimulatedWallet) {
    this.chain = chain;
    this.rpc = rpc;
    this.wallet = wallet;
  }

  static async start(): Promise<BenchBitcoin> {
    const clock = systemClock;
    const chain = new SimulatedChain({}, {clock});
    const wallet = new SimulatedWallet(chain);
    wallet.ensureMatureCoins();
    const wallets = new SimulatedWatchWallets(chain, () => clock.now() / 1000);
    const rpc = new SimulatedRpcServer({}, {chain, wallets, clock});
    await rpc.start();
    return new BenchBitcoin(chain, rpc, wallet);
  }

  get url(): string {
    return this.rpc.url;
  }

  /** Send the calendar's stamping address (bcrt1q…) its coins and confirm them in one block. */
  fund(address: string): void {
    const program = decodeSegwitAddress("bcrt", address).program;
    this.wallet.fund(Uint8Array.of(0x00, program.length, ...program), [FUNDING_SATS], {confirm: false});
    this.chain.mine(1, this.minerScript);
  }

  /** Mine `n` blocks, each taking the mempool. */
  mine(n: number): SimulatedBlock[] {
    return this.chain.mine(n, this.minerScript);
  }

  async stop(): Promise<void> {
    await this.rpc.stop();
  }
}
