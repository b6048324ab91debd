import {suite} from "uvu";
import * as assert from "uvu/assert";
import {resolveNodeOptions} from "../../../node/options.ts";
import {SimulatedChain} from "../../../node/bitcoin/sim/chain.ts";
import {SimulatedWallet} from "../../../node/bitcoin/sim/devnet-wallet.ts";
import {SimulatedRpcServer} from "../../../node/bitcoin/sim/rpc-server.ts";
import {SimulatedWatchWallets} from "../../../node/bitcoin/sim/watch-wallets.ts";
import {keyPairFromSeed, p2wpkhScript} from "../../../node/bitcoin/signing.ts";
import {addDescriptorChecksum} from "../../../protocol/bitcoin/descriptor-checksum.ts";
import {toHex} from "../../../protocol/ots/bytes.ts";
import {decodeSegwitAddress} from "../../../protocol/bitcoin/segwit-address.ts";
import {withTimeout} from "../../support/timeout.ts";
import {coreRpcBackendFromOptions} from "../../../node/bitcoin/core-rpc.ts";
import {BitcoinError, BitcoinErrorCode} from "../../../node/bitcoin/errors.ts";
import {defaultStamperOptions} from "../../../node/stamper/options.ts";
import {postDigest, removeDir, startNode, tempDir, testOptions} from "../calendar/support.ts";
import {testClock} from "./helpers.ts";

type StatusJson = Record<string, unknown>;

async function status(url: string, signal: AbortSignal): Promise<StatusJson> {
  const r = await fetch(`${url}/`, {headers: {Accept: "application/json"}, signal});
  return (await r.json()) as StatusJson;
}

// ---

const wiring = suite("node/node CalendarNode :: --bitcoin-rpc");

wiring("should show the funding address, descriptor and balance from Bitcoin Core's RPC :: simulated chain", withTimeout(30_000, async (signal) => {
  const dir = await tempDir();
  const clock = testClock();
  const chain = new SimulatedChain({}, {clock});
  const wallets = new SimulatedWatchWallets(chain, () => clock.now() / 1000);
  const rpc = new SimulatedRpcServer({user: "u", password: "p"}, {chain, wallets, clock});
  chain.mine(101, p2wpkhScript(keyPairFromSeed("miner").publicKey));
  await rpc.start();
  assert.match(rpc.url, /^http:\/\/u:p@127\.0\.0\.1:\d+$/);
  const opts = testOptions(dir, (o) => (o.bitcoin.rpcUrl = rpc.url));
  const backend = coreRpcBackendFromOptions(opts.bitcoin);
  const {node, url} = await startNode(opts, backend);
  try {
    await node.bitcoin?.funding.refresh();
    let s = await status(url, signal);
    assert.is(s.bitcoin_backend, "core-rpc");
    assert.is(s.bitcoin_error, null, String(s.bitcoin_error));
    assert.is(s.bitcoin_chain, "regtest");
    assert.is(s.bitcoin_error, null);
    assert.is(s.block_height, 101);
    assert.is(s.balance_sats, 0);
    const address = s.address as string;
    assert.match(address, /^bcrt1q/);
    assert.match(s.funding_descriptor as string, /^wpkh\(0[23][0-9a-f]{64}\)#[a-z0-9]{8}$/);
    // Send coins to the address shown: the node sees them through Core's watch-only wallet.
    const program = decodeSegwitAddress("bcrt", address).program;
    new SimulatedWallet(chain).fund(Uint8Array.of(0x00, 0x14, ...program), [25_000n]);
    await node.bitcoin?.funding.refresh();
    s = await status(url, signal);
    assert.is(s.balance_sats, 25_000);
    assert.is(s.balance, 0.00025);
    const html = await (await fetch(`${url}/`, {signal})).text();
    assert.ok(html.includes(address), "the HTML status page shows the address");

    // bitcoind going away does not stop the calendar.
    await rpc.stop();
    await node.bitcoin?.funding.refresh();
    s = await status(url, signal);
    assert.match(s.bitcoin_error as string, /^BITCOIN_UNAVAILABLE/);
    const posted = await postDigest(url, new Uint8Array(32).fill(1), signal);
    assert.is(posted.status, 200);
    await rpc.start();
    await node.bitcoin?.funding.refresh();
    assert.is((await status(url, signal)).bitcoin_error, null);
  } finally {
    await node.stop();
    backend?.close();
    await rpc.stop();
    await removeDir(dir);
  }
}));

wiring("should take the Bitcoin settings from flags, environment and config :: options", withTimeout(10_000, async () => {
  const o = await resolveNodeOptions(["--data-dir", "/d", "--bitcoin-rpc", "http://u:p@127.0.0.1:18443", "--bitcoin-wallet", "cal1"], {});
  assert.equal(o.bitcoin, {rpcUrl: "http://u:p@127.0.0.1:18443", cookieFile: null, wallet: "cal1"});
  const e = await resolveNodeOptions(["--data-dir", "/d"], {OTSFED_BITCOIN_RPC: "http://127.0.0.1:8332", OTSFED_BITCOIN_COOKIE: "/var/lib/bitcoind/.cookie"});
  assert.equal(e.bitcoin, {rpcUrl: "http://127.0.0.1:8332", cookieFile: "/var/lib/bitcoind/.cookie", wallet: "otsfed"});
  const f = await resolveNodeOptions(["--data-dir", "/d", "--config", "/etc/otsfed.json"], {}, async () => JSON.stringify({bitcoinRpc: "http://127.0.0.1:8332", bitcoinWallet: "w"}));
  assert.is(f.bitcoin.rpcUrl, "http://127.0.0.1:8332");
  for (const [args, re] of [
    [["--data-dir", "/d", "--bitcoin-rpc", "ftp://x"], /flag --bitcoin-rpc: must be a URL/],
    [["--data-dir", "/d", "--bitcoin-rpc", "http://127.0.0.1:8332/wallet/x"], /no path/],
    [["--data-dir", "/d", "--bitcoin-cookie", "/c"], /--bitcoin-cookie needs --bitcoin-rpc/],
    [["--data-dir", "/d", "--bitcoin-rpc", "http://h:1", "--bitcoin-wallet", "a b"], /--bitcoin-wallet: must be/],
  ] as const) {
    try {
      await resolveNodeOptions([...args], {});
      assert.unreachable(args.join(" "));
    } catch (err) {
      assert.match((err as Error).message, re);
    }
  }
}));

wiring("should report a Core wallet with private keys as a wallet problem with its remedy, not as out of funds :: --bitcoin-wallet with private keys", withTimeout(30_000, async (signal) => {
  const dir = await tempDir();
  const clock = testClock();
  const chain = new SimulatedChain({}, {clock});
  const wallets = new SimulatedWatchWallets(chain, () => clock.now() / 1000);
  // What `bitcoin-cli createwallet otsfed` (keys enabled, the default) leaves behind.
  wallets.create("otsfed", {privateKeys: true});
  const rpc = new SimulatedRpcServer({user: "u", password: "p"}, {chain, wallets, clock});
  chain.mine(101, p2wpkhScript(keyPairFromSeed("miner").publicKey));
  await rpc.start();
  const opts = testOptions(dir, (o) => {
    o.bitcoin.rpcUrl = rpc.url;
    o.stamper = {...defaultStamperOptions, intervalMs: 0, confirmations: 1, pollIntervalMs: 20};
  });
  const backend = coreRpcBackendFromOptions(opts.bitcoin);
  const {node, url} = await startNode(opts, backend);
  try {
    // Core's answer, through the Core backend: RPC_WALLET_ERROR and its message.
    const refused = await backend?.importWatchDescriptors([addDescriptorChecksum(`wpkh(${toHex(keyPairFromSeed("any key").publicKey)})`)], signal).then(() => null, (e: unknown) => e);
    assert.instance(refused, BitcoinError);
    assert.is((refused as BitcoinError).code, BitcoinErrorCode.WALLET_UNUSABLE);
    assert.is((refused as BitcoinError).type.rpcCode, -4);
    assert.match((refused as BitcoinError).message, /Cannot import descriptor without private keys to a wallet with private keys enabled/);

    await node.bitcoin?.funding.refresh();
    assert.is((await postDigest(url, new Uint8Array(32).fill(7), signal)).status, 200);
    let health = "";
    while (!health.includes("createwallet")) {
      signal.throwIfAborted();
      await new Promise((r) => setTimeout(r, 10));
      const r = await fetch(`${url}/healthz`, {signal});
      health = await r.text();
      assert.is(r.status, 200, "degraded: digests are still accepted");
    }
    assert.match(health, /wallet 'otsfed' has private keys enabled/);
    assert.ok(health.includes("bitcoin-cli createwallet otsfed-watch disable_private_keys=true blank=true"), health);
    assert.not.match(health, /out of funds/);
    const s = await status(url, signal);
    const problems = s.stamper_problems as Array<{kind: string; message: string}>;
    assert.equal(problems.map((p) => p.kind), ["wallet"]);
    assert.match(s.bitcoin_error as string, /^BITCOIN_WALLET_UNUSABLE/);
    const metrics = await (await fetch(`${url}/metrics`, {signal})).text();
    assert.match(metrics, /calendar_stamper_problem\{kind="wallet"\} 1/);
  } finally {
    await node.stop();
    backend?.close();
    await rpc.stop();
    await removeDir(dir);
  }
}));

wiring.run();
