import {SimulatedBackend} from "../../../node/bitcoin/sim/backend.ts";
import {SimulatedChain} from "../../../node/bitcoin/sim/chain.ts";
import {SimulatedWallet} from "../../../node/bitcoin/sim/devnet-wallet.ts";
import {SimulatedWatchWallets} from "../../../node/bitcoin/sim/watch-wallets.ts";
import {runBackendSuite} from "./backend-suite.ts";
import {testClock} from "./helpers.ts";

// The shared backend suite against the in-process simulated backend.
runBackendSuite("node/bitcoin/sim SimulatedBackend", async (chainOpts) => {
  const clock = testClock();
  const chain = new SimulatedChain(chainOpts ?? {}, {clock});
  const wallets = new SimulatedWatchWallets(chain, () => Math.floor(clock.now() / 1000));
  const backend = new SimulatedBackend({wallet: "otsfed"}, {chain, wallets});
  return {backend, chain, wallet: new SimulatedWallet(chain), close: async () => chain.stop()};
});
