import {suite} from "uvu";
import * as assert from "uvu/assert";
import {mkdtemp, rm} from "node:fs/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {CoreRpcBackend} from "../../../node/bitcoin/core-rpc.ts";
import {PollingChainView} from "../../../node/bitcoin/chain-view.ts";
import {BitcoinError, BitcoinErrorCode, type BitcoinErrorCodeValue} from "../../../node/bitcoin/errors.ts";
import {SimulatedChain} from "../../../node/bitcoin/sim/chain.ts";
import {SimulatedWallet} from "../../../node/bitcoin/sim/devnet-wallet.ts";
import {SimulatedRpcServer} from "../../../node/bitcoin/sim/rpc-server.ts";
import {SimulatedWatchWallets} from "../../../node/bitcoin/sim/watch-wallets.ts";
import {keyPairFromSeed, p2wpkhScript} from "../../../node/bitcoin/signing.ts";
import {withTimeout} from "../../support/timeout.ts";
import {runBackendSuite} from "./backend-suite.ts";
import {testClock} from "./helpers.ts";

function simulated(chainOpts = {}, serverOpts = {}) {
  const clock = testClock();
  const chain = new SimulatedChain(chainOpts, {clock});
  const wallets = new SimulatedWatchWallets(chain, () => Math.floor(clock.now() / 1000));
  const server = new SimulatedRpcServer({user: "alice", password: "s3cret:pw", ...serverOpts}, {chain, wallets, clock});
  return {clock, chain, wallets, server};
}

// The shared backend suite against CoreRpcBackend over HTTP to the simulated bitcoind.
runBackendSuite("node/bitcoin CoreRpcBackend (HTTP to SimulatedRpcServer)", async (chainOpts) => {
  const {chain, server} = simulated(chainOpts ?? {});
  await server.start();
  const backend = new CoreRpcBackend({url: server.url, wallet: "otsfed", timeoutMs: 5_000});
  return {
    backend,
    chain,
    wallet: new SimulatedWallet(chain),
    close: async () => {
      backend.close();
      await server.stop();
    },
  };
});

// ---

async function rejects(p: Promise<unknown>, code: BitcoinErrorCodeValue): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, BitcoinError);
    assert.is((e as BitcoinError).code, code, (e as Error).message);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

const availability = suite("node/bitcoin CoreRpcBackend availability");

availability("should survive the endpoint going away and coming back :: typed unavailable, same port, calls resume", withTimeout(20_000, async (signal) => {
  const {chain, server} = simulated();
  await server.start();
  const backend = new CoreRpcBackend({url: server.url, timeoutMs: 3_000});
  const view = new PollingChainView({}, {backend});
  try {
    const port = server.port;
    // Out of initial block download (a genesis tip is too old): the view takes its baseline.
    chain.mine(1, p2wpkhScript(keyPairFromSeed("m").publicKey));
    await view.pollNow(signal);
    assert.is(view.tip()?.height, 1);
    assert.is((await backend.getChainInfo(signal)).height, 1);
    await server.stop();
    await rejects(backend.getChainInfo(signal), BitcoinErrorCode.UNAVAILABLE);
    await rejects(backend.getBlockHash(0, signal), BitcoinErrorCode.UNAVAILABLE);
    await rejects(view.pollNow(signal), BitcoinErrorCode.UNAVAILABLE);
    chain.mine(2, p2wpkhScript(keyPairFromSeed("m").publicKey));
    await server.start();
    assert.is(server.port, port, "restarted on the same port");
    assert.is((await backend.getChainInfo(signal)).height, 3);
    const u = await view.pollNow(signal);
    assert.is(u?.connected.length, 2, "the view catches up after the outage");
  } finally {
    backend.close();
    await server.stop();
  }
}));

availability("should report warm-up, bad credentials and a missing cookie :: typed errors", withTimeout(20_000, async (signal) => {
  const dir = await mkdtemp(join(tmpdir(), "otsfed-cookie-"));
  const cookieFile = join(dir, ".cookie");
  const {server} = simulated({}, {user: "__cookie__", password: "c0ffee", cookieFile});
  await server.start();
  const port = server.port;
  const viaCookie = new CoreRpcBackend({url: `http://127.0.0.1:${port}`, cookieFile, timeoutMs: 3_000});
  const wrong = new CoreRpcBackend({url: `http://__cookie__:nope@127.0.0.1:${port}`, timeoutMs: 3_000});
  try {
    assert.is((await viaCookie.getChainInfo(signal)).chain, "regtest");
    await rejects(wrong.getChainInfo(signal), BitcoinErrorCode.AUTH_FAILED);
    server.setWarmup("Loading block index…");
    await rejects(viaCookie.getChainInfo(signal), BitcoinErrorCode.WARMING_UP);
    server.setWarmup(null);
    await server.stop();
    // bitcoind removes its cookie on shutdown: "unavailable", not a crash.
    await rejects(viaCookie.getChainInfo(signal), BitcoinErrorCode.UNAVAILABLE);
    await server.start();
    assert.is((await viaCookie.getChainInfo(signal)).height, 0);
  } finally {
    viaCookie.close();
    wrong.close();
    await server.stop();
    await rm(dir, {recursive: true, force: true});
  }
}));

availability("should time out and honour the caller's abort :: TIMEOUT and ABORTED", withTimeout(20_000, async (signal) => {
  const {createServer} = await import("node:net");
  // A listener that accepts and never answers.
  const sockets = new Set<import("node:net").Socket>();
  const silent = createServer((s) => sockets.add(s));
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  const port = (silent.address() as import("node:net").AddressInfo).port;
  const backend = new CoreRpcBackend({url: `http://u:p@127.0.0.1:${port}`, timeoutMs: 300});
  try {
    await rejects(backend.getChainInfo(signal), BitcoinErrorCode.TIMEOUT);
    const ac = new AbortController();
    const p = backend.getChainInfo(ac.signal);
    setTimeout(() => ac.abort(), 50);
    await rejects(p, BitcoinErrorCode.ABORTED);
  } finally {
    backend.close();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  }
}));

availability.run();
