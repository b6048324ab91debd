/**
 * PollingChainView on the one Service lifecycle: its own poll loop starts,
 * stops, and starts again without losing track of the chain. (What a poll
 * reports, reorgs included, is in the shared backend suite.)
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {PollingChainView} from "../../../node/bitcoin/chain-view.ts";
import type {ChainUpdate} from "../../../node/bitcoin/chain-view.ts";
import {SimulatedBackend} from "../../../node/bitcoin/sim/backend.ts";
import {SimulatedChain} from "../../../node/bitcoin/sim/chain.ts";
import {SimulatedWatchWallets} from "../../../node/bitcoin/sim/watch-wallets.ts";
import {keyPairFromSeed, p2wpkhScript} from "../../../node/bitcoin/signing.ts";
import type {Logger, LogLevel} from "../../../node/logger.ts";
import {withTimeout} from "../../support/timeout.ts";
import {testClock} from "./helpers.ts";

const MINER = p2wpkhScript(keyPairFromSeed("chain view lifecycle miner").publicKey);

function simulated(): {chain: SimulatedChain; backend: SimulatedBackend} {
  const clock = testClock();
  const chain = new SimulatedChain({}, {clock});
  const wallets = new SimulatedWatchWallets(chain, () => Math.floor(clock.now() / 1000));
  return {chain, backend: new SimulatedBackend({wallet: "otsfed"}, {chain, wallets})};
}

/** The next update the view reports. */
function nextUpdate(view: PollingChainView, signal: AbortSignal): Promise<ChainUpdate> {
  return new Promise((resolve, reject) => {
    const off = view.onUpdate((u) => {
      off();
      resolve(u);
    });
    signal.addEventListener("abort", () => reject(new Error("no update")), {once: true});
  });
}

async function baseline(view: PollingChainView, signal: AbortSignal): Promise<void> {
  while (view.tip() === null) {
    signal.throwIfAborted();
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A logger that keeps every line's level and message. */
function recordingLogger(lines: Array<{level: LogLevel; msg: string}>): Logger {
  const at = (level: LogLevel) => (msg: string): void => void lines.push({level, msg});
  const logger: Logger = {error: at("error"), warn: at("warn"), info: at("info"), verbose: at("verbose"), debug: at("debug"), child: () => logger};
  return logger;
}

// ---
const lifecycle = suite("node/bitcoin/chain-view PollingChainView lifecycle");

lifecycle("should report blocks while started, none while stopped, and catch up when started again :: stop then start", withTimeout(10_000, async (signal) => {
  const {chain, backend} = simulated();
  const view = new PollingChainView({pollIntervalMs: 5}, {backend});
  try {
    assert.is(view.status, "stopped");
    await Promise.all([view.start(), view.start()]);
    assert.is(view.status, "started");
    await baseline(view, signal);
    assert.is(view.tip()?.height, chain.height());

    const first = nextUpdate(view, signal);
    const [b1] = chain.mine(1, MINER);
    const u1 = await first;
    assert.equal(u1.connected.map((b) => b.height), [b1!.height]);

    await view.stop();
    await view.stop();
    assert.is(view.status, "stopped");
    let reported = 0;
    const off = view.onUpdate(() => reported++);
    chain.mine(2, MINER);
    await new Promise((r) => setTimeout(r, 30));
    assert.is(reported, 0, "a stopped view does not poll");
    off();

    const caughtUp = nextUpdate(view, signal);
    await view.start();
    const u2 = await caughtUp;
    assert.equal(u2.connected.map((b) => b.height), [b1!.height + 1, b1!.height + 2], "the blocks mined while stopped, in order");
    assert.equal(u2.disconnected, []);
    assert.is(view.tip()?.height, chain.height());
  } finally {
    await view.stop();
  }
}));

lifecycle("should follow a reorg that happened while it was stopped :: restart across a reorg", withTimeout(10_000, async (signal) => {
  const {chain, backend} = simulated();
  const view = new PollingChainView({pollIntervalMs: 5}, {backend});
  try {
    await view.start();
    await baseline(view, signal);
    // The view remembers blocks from its baseline on: let it see two more.
    const seen = nextUpdate(view, signal);
    chain.mine(2, MINER);
    await seen;
    const old = view.tip();
    await view.stop();
    chain.reorg(2, 3, MINER);
    const u = nextUpdate(view, signal);
    await view.start();
    const update = await u;
    assert.is(update.disconnected.length, 2);
    assert.equal(update.disconnected[0]?.hash, old?.hash, "our old tip first");
    assert.is(update.connected.length, 3);
    assert.equal(view.tip()?.hash, chain.tip().hash);
  } finally {
    await view.stop();
  }
}));

// ---
const deep = suite("node/bitcoin/chain-view PollingChainView below its window");

deep("should re-anchor on the node's chain and keep reporting new blocks :: tip drops below every remembered height", withTimeout(10_000, async (signal) => {
  const {chain, backend} = simulated();
  const lines: Array<{level: LogLevel; msg: string}> = [];
  const view = new PollingChainView({maxReorgDepth: 3}, {backend, logger: recordingLogger(lines)});
  await view.pollNow(signal);
  chain.mine(6, MINER);
  await view.pollNow(signal);
  const before = view.tip() as NonNullable<ReturnType<PollingChainView["tip"]>>;
  // Five blocks replaced by one: the new tip is below the 3 heights the view remembers.
  chain.reorg(5, 1, MINER);
  assert.ok(chain.height() < before.height - 2);
  const u = await view.pollNow(signal);
  assert.ok(u !== null);
  assert.equal(u.disconnected.map((b) => b.height), [before.height, before.height - 1, before.height - 2], "every remembered block, tip first");
  assert.equal(u.disconnected[0]?.hash, before.hash);
  assert.is(u.connected.at(-1)?.height, chain.height());
  assert.equal(u.connected.at(-1)?.hash, chain.tip().hash);
  assert.equal(view.tip()?.hash, chain.tip().hash);
  const loud = (): Array<{level: LogLevel; msg: string}> => lines.filter((l) => l.level === "error" || l.level === "warn");
  assert.is(loud().length, 1, "the drop is logged once");
  assert.match(loud()[0]?.msg ?? "", /less work than ours/, "a chain with less work is not called a reorg");

  for (let i = 0; i < 3; i++) {
    const [b] = chain.mine(1, MINER);
    const next = await view.pollNow(signal);
    assert.ok(next !== null, "new blocks are reported again");
    assert.equal(next.connected.map((c) => c.height), [b!.height]);
    assert.equal(next.disconnected, []);
  }
  // A normal reorg within the (refilled) window is followed from its fork point.
  chain.reorg(2, 2, MINER);
  const r = await view.pollNow(signal);
  assert.is(r?.disconnected.length, 2);
  assert.is(r?.connected.length, 2);
  assert.is(loud().length, 1, "nothing more logged loudly");
}));

deep("should log a reorg deeper than its window as an error once and go on from the new chain :: more work, deeper than the window", withTimeout(10_000, async (signal) => {
  const {chain, backend} = simulated();
  const lines: Array<{level: LogLevel; msg: string}> = [];
  const view = new PollingChainView({maxReorgDepth: 3}, {backend, logger: recordingLogger(lines)});
  chain.mine(6, MINER);
  await view.pollNow(signal);
  chain.mine(1, MINER);
  await view.pollNow(signal);
  chain.reorg(5, 6, MINER);
  const u = await view.pollNow(signal);
  assert.is(u?.disconnected.length, 2, "all it remembered");
  assert.equal(view.tip()?.hash, chain.tip().hash);
  const [b] = chain.mine(1, MINER);
  assert.equal((await view.pollNow(signal))?.connected.map((c) => c.height), [b!.height]);
  const errors = lines.filter((l) => l.level === "error");
  assert.is(errors.length, 1);
  assert.match(errors[0]?.msg ?? "", /reorg deeper than the remembered window/);
}));

deep("should wait while the node is syncing and carry on once it has synced :: headers ahead of blocks", withTimeout(10_000, async (signal) => {
  const {chain, backend} = simulated();
  const view = new PollingChainView({}, {backend});
  chain.mine(3, MINER);
  await view.pollNow(signal);
  const before = view.tip();
  chain.mine(2, MINER);
  chain.simulateRestart(1, {syncing: true});
  assert.is(await view.pollNow(signal), null, "nothing reported while syncing");
  assert.equal(view.tip(), before, "the tip stays ours");
  chain.simulateResync();
  const u = await view.pollNow(signal);
  assert.equal(u?.disconnected, []);
  assert.equal(u?.connected.map((b) => b.height), [chain.height() - 1, chain.height()]);
}));

lifecycle.run();
deep.run();
