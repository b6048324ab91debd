/**
 * The SIMULATED chain in process for the anchor tests: chain, watch-only
 * wallets, a SimulatedBackend passed straight to what is tested (no JSON-RPC
 * in between), a wallet with coins, and a frozen test clock.
 */
import type {Transaction} from "bitcoinjs-lib";
import {SimulatedBackend} from "../../../node/bitcoin/sim/backend.ts";
import {SimulatedChain} from "../../../node/bitcoin/sim/chain.ts";
import {SimulatedWallet} from "../../../node/bitcoin/sim/devnet-wallet.ts";
import {SimulatedWatchWallets} from "../../../node/bitcoin/sim/watch-wallets.ts";
import {keyPairFromSeed, opReturnScript, p2wpkhScript} from "../../../node/bitcoin/signing.ts";
import {buildSpend, testClock} from "../bitcoin/helpers.ts";

/** The script the tests' blocks pay. */
export const MINER = p2wpkhScript(keyPairFromSeed("anchor tests miner").publicKey);

/** What the tests get. */
export type SimulatedSetup = {
  clock: ReturnType<typeof testClock>;
  chain: SimulatedChain;
  backend: SimulatedBackend;
  wallet: SimulatedWallet;
};

/** A fresh simulated chain with a funded wallet. */
export function simulatedChain(): SimulatedSetup {
  const clock = testClock();
  const chain = new SimulatedChain({}, {clock});
  const wallets = new SimulatedWatchWallets(chain, () => Math.floor(clock.now() / 1000));
  const backend = new SimulatedBackend({wallet: "otsfed"}, {chain, wallets});
  const wallet = new SimulatedWallet(chain);
  wallet.ensureMatureCoins();
  return {clock, chain, backend, wallet};
}

const DONOR = keyPairFromSeed("anchor tests donor");

/**
 * A transaction the test builds itself, as a donor would: a confirmed coin
 * of the donor's key (from the wallet), spent into `OP_RETURN <data>` and
 * change. Signed, not yet broadcast.
 */
export function donorSpend(sim: SimulatedSetup, data: Uint8Array): Transaction {
  const script = p2wpkhScript(DONOR.publicKey);
  const [coin] = sim.wallet.fund(script, [50_000n]);
  if (coin === undefined) throw new Error("the simulated wallet paid nothing");
  return buildSpend([{txid: coin.txid, vout: coin.vout, value: coin.value, script, key: DONOR, type: "p2wpkh"}], [{script: opReturnScript(data), value: 0n}, {script, value: coin.value - 500n}]);
}
