/**
 * FundingWatch's refresh loop on the one Service lifecycle: it refreshes by
 * itself while started, not while stopped, and again once started anew.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {FundingWatch} from "../../../node/bitcoin/funding-watch.ts";
import {SimulatedBackend} from "../../../node/bitcoin/sim/backend.ts";
import {SimulatedChain} from "../../../node/bitcoin/sim/chain.ts";
import {SimulatedWallet} from "../../../node/bitcoin/sim/devnet-wallet.ts";
import {SimulatedWatchWallets} from "../../../node/bitcoin/sim/watch-wallets.ts";
import {SimulatedBitcoin} from "../../../node/bitcoin/sim/simulated-bitcoin.ts";
import {nullLogger} from "../../../node/logger.ts";
import {withTimeout} from "../../support/timeout.ts";
import {removeDir, tempDir} from "../calendar/support.ts";
import {testClock} from "./helpers.ts";

async function until(what: string, signal: AbortSignal, check: () => boolean): Promise<void> {
  while (!check()) {
    if (signal.aborted) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

// ---
const lifecycle = suite("node/bitcoin/funding-watch FundingWatch lifecycle");

lifecycle("should refresh while started, not while stopped, and again after a restart :: stop then start", withTimeout(15_000, async (signal) => {
  const dir = await tempDir("otsfed-funding-");
  const clock = testClock();
  const chain = new SimulatedChain({}, {clock});
  const wallets = new SimulatedWatchWallets(chain, () => Math.floor(clock.now() / 1000));
  const backend = new SimulatedBackend({wallet: "otsfed"}, {chain, wallets});
  const wallet = new SimulatedWallet(chain);
  const watch = new FundingWatch({dataDir: dir, pollIntervalMs: 5, timeoutMs: 5_000}, {backend, logger: nullLogger});
  try {
    assert.is(watch.loopStatus, "stopped");
    await Promise.all([watch.start(), watch.start()]);
    assert.is(watch.loopStatus, "started");
    await until("the first refresh", signal, () => watch.status.error === null);
    const address = watch.status.address as string;
    assert.match(address, /^bcrt1/);
    assert.is(watch.status.balanceSats, 0n);

    wallet.fund(SimulatedBitcoin.scriptOf(address), [50_000n]);
    await until("the funds seen", signal, () => watch.status.balanceSats === 50_000n);

    await watch.stop();
    await watch.stop();
    assert.is(watch.loopStatus, "stopped");
    wallet.fund(SimulatedBitcoin.scriptOf(address), [25_000n]);
    await new Promise((r) => setTimeout(r, 30));
    assert.is(watch.status.balanceSats, 50_000n, "a stopped watch does not refresh");

    await watch.start();
    await until("the funds sent while stopped", signal, () => watch.status.balanceSats === 75_000n);
    assert.is(watch.status.height, chain.height());
    assert.is(watch.fundingKey?.address, address, "the same key after a restart");
    await watch.stop();
    // A refresh outside a run still works (the devnet refreshes before reporting ready).
    wallet.fund(SimulatedBitcoin.scriptOf(address), [5_000n]);
    await watch.refresh();
    assert.is(watch.status.balanceSats, 80_000n);
  } finally {
    await watch.stop();
    await removeDir(dir);
  }
}));

lifecycle.run();
