/**
 * FundingWatch's refresh loop on the one Service lifecycle: it refreshes by
 * itself while started, not while stopped, and again once started anew.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {readFile} from "node:fs/promises";
import {join} from "node:path";
import type {BitcoinBackend} from "../../../node/bitcoin/backend.ts";
import {BitcoinError, BitcoinErrorCode} from "../../../node/bitcoin/errors.ts";
import {FUNDING_CHAIN_FILE} from "../../../node/bitcoin/funding-key.ts";
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
    assert.is(watch.status, "stopped");
    await Promise.all([watch.start(), watch.start()]);
    assert.is(watch.status, "started");
    await until("the first refresh", signal, () => watch.bitcoinStatus.error === null);
    const address = watch.bitcoinStatus.address as string;
    assert.match(address, /^bcrt1/);
    assert.is(watch.bitcoinStatus.balanceSats, 0n);

    wallet.fund(SimulatedBitcoin.scriptOf(address), [50_000n]);
    await until("the funds seen", signal, () => watch.bitcoinStatus.balanceSats === 50_000n);

    await watch.stop();
    await watch.stop();
    assert.is(watch.status, "stopped");
    wallet.fund(SimulatedBitcoin.scriptOf(address), [25_000n]);
    await new Promise((r) => setTimeout(r, 30));
    assert.is(watch.bitcoinStatus.balanceSats, 50_000n, "a stopped watch does not refresh");

    await watch.start();
    await until("the funds sent while stopped", signal, () => watch.bitcoinStatus.balanceSats === 75_000n);
    assert.is(watch.bitcoinStatus.height, chain.height());
    assert.is(watch.fundingKey?.address, address, "the same key after a restart");
    await watch.stop();
    // A refresh outside a run still works (the devnet refreshes before reporting ready).
    wallet.fund(SimulatedBitcoin.scriptOf(address), [5_000n]);
    await watch.refresh();
    assert.is(watch.bitcoinStatus.balanceSats, 80_000n);
  } finally {
    await watch.stop();
    await removeDir(dir);
  }
}));

// ---
const address = suite("node/bitcoin/funding-watch FundingWatch address");

/** The simulated backend with some calls replaced. */
function patched(backend: SimulatedBackend, calls: Partial<BitcoinBackend>): BitcoinBackend {
  return Object.assign(Object.create(backend) as BitcoinBackend, calls);
}

address("should show the address once started, before the first refresh finishes, and after a restart with bitcoind down :: new node then restart", withTimeout(15_000, async () => {
  const dir = await tempDir("otsfed-funding-");
  const clock = testClock();
  const chain = new SimulatedChain({}, {clock});
  const wallets = new SimulatedWatchWallets(chain, () => Math.floor(clock.now() / 1000));
  const backend = new SimulatedBackend({wallet: "otsfed"}, {chain, wallets});
  // The wallet calls hang until released: the first refresh cannot finish.
  let release = (): void => {};
  const held = new Promise<void>((r) => (release = r));
  const slow = patched(backend, {importWatchDescriptors: async (d, signal, o) => {
    await held;
    return backend.importWatchDescriptors(d, signal, o);
  }});
  const first = new FundingWatch({dataDir: dir, pollIntervalMs: 5, timeoutMs: 5_000}, {backend: slow, logger: nullLogger});
  let shown: string;
  try {
    await first.start();
    assert.is(first.bitcoinStatus.error, "not checked yet", "the first refresh has not finished");
    shown = first.bitcoinStatus.address as string;
    assert.match(shown, /^bcrt1q/, "a new node shows its address as soon as it is started");
    assert.ok(first.bitcoinStatus.descriptor?.startsWith("wpkh("));
    assert.is((await readFile(join(dir, FUNDING_CHAIN_FILE), "utf8")).trim(), "regtest", "the chain is remembered beside the key");
  } finally {
    release();
    await first.stop();
  }

  const down = patched(backend, {getChainInfo: async () => {
    throw BitcoinError.of(BitcoinErrorCode.UNAVAILABLE, "bitcoind is down (test)");
  }});
  const second = new FundingWatch({dataDir: dir, pollIntervalMs: 5, timeoutMs: 5_000}, {backend: down, logger: nullLogger});
  try {
    await second.start();
    assert.is(second.bitcoinStatus.address, shown, "the remembered chain's address, without bitcoind");
    await second.refresh();
    assert.match(second.bitcoinStatus.error as string, /^BITCOIN_UNAVAILABLE/);
    assert.is(second.bitcoinStatus.address, shown, "still shown while bitcoind is down");
  } finally {
    await second.stop();
    await removeDir(dir);
  }
}));

lifecycle.run();
address.run();
