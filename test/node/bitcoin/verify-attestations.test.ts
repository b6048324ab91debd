import {suite} from "uvu";
import * as assert from "uvu/assert";
import {mkdtemp, readFile, rm, stat} from "node:fs/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {decodeBlockHeader} from "../../../protocol/bitcoin/header.ts";
import {BitcoinError, BitcoinErrorCode} from "../../../node/bitcoin/errors.ts";
import {FUNDING_KEY_FILE, loadOrCreateFundingKey} from "../../../node/bitcoin/funding-key.ts";
import {SimulatedBackend} from "../../../node/bitcoin/sim/backend.ts";
import {SimulatedChain} from "../../../node/bitcoin/sim/chain.ts";
import {SimulatedRpcServer} from "../../../node/bitcoin/sim/rpc-server.ts";
import {SimulatedWatchWallets} from "../../../node/bitcoin/sim/watch-wallets.ts";
import {keyPairFromSeed, p2wpkhScript} from "../../../node/bitcoin/signing.ts";
import {verifyBitcoinAttestations} from "../../../node/bitcoin/verify-attestations.ts";
import {withTimeout} from "../../support/timeout.ts";
import {testClock} from "./helpers.ts";

const verify = suite("node/bitcoin/verify-attestations verifyBitcoinAttestations");

verify("should check messages against merkle roots :: backend and RPC URL", withTimeout(15_000, async (signal) => {
  const clock = testClock();
  const chain = new SimulatedChain({}, {clock});
  const wallets = new SimulatedWatchWallets(chain, () => clock.now() / 1000);
  chain.mine(5, p2wpkhScript(keyPairFromSeed("v").publicKey));
  const b3 = chain.blockAt(3);
  const root3 = decodeBlockHeader(b3?.header as Uint8Array).merkleRoot;
  const attestations = [
    {msg: root3, height: 3},
    {msg: root3, height: 2},
    {msg: root3, height: 9},
    {msg: root3.slice(1), height: 3},
  ];
  const backend = new SimulatedBackend({wallet: "w"}, {chain, wallets});
  const server = new SimulatedRpcServer({}, {chain, wallets, clock});
  await server.start();
  try {
    for (const source of [backend, {rpcUrl: server.url}]) {
      const r = await verifyBitcoinAttestations(attestations, source, {signal});
      assert.equal(r.map((v) => v.height), [2, 3, 3, 9], "ascending heights");
      assert.equal(r[0], {height: 2, ok: false, reason: "Digest does not match merkleroot"});
      assert.equal(r[1], {height: 3, ok: true, blockHash: b3?.hash, time: b3?.time});
      assert.equal(r[2], {height: 3, ok: false, reason: "Expected digest with length 32 bytes; got 31 bytes"});
      assert.equal(r[3], {height: 9, ok: false, reason: "Bitcoin block height 9 not found; 5 is highest known block"});
    }
  } finally {
    await server.stop();
  }
  try {
    await verifyBitcoinAttestations(attestations, {rpcUrl: server.url}, {signal, timeoutMs: 2_000});
    assert.unreachable("node is down");
  } catch (e) {
    assert.instance(e, BitcoinError);
    assert.is((e as BitcoinError).code, BitcoinErrorCode.UNAVAILABLE);
  }
}));

verify.run();

// ---

const fundingKey = suite("node/bitcoin/funding-key loadOrCreateFundingKey");

fundingKey("should create the key once, privately, and derive descriptors :: regtest", withTimeout(10_000, async () => {
  const dir = await mkdtemp(join(tmpdir(), "otsfed-key-"));
  try {
    const first = await loadOrCreateFundingKey(dir, "regtest", (n) => new Uint8Array(n).fill(7));
    const again = await loadOrCreateFundingKey(dir, "regtest", () => assert.unreachable("must not make a new key") as never);
    assert.is(again.descriptor, first.descriptor);
    assert.is((await stat(join(dir, FUNDING_KEY_FILE))).mode & 0o777, 0o600);
    assert.is((await readFile(join(dir, FUNDING_KEY_FILE), "utf8")).trim(), "07".repeat(32));
    assert.match(first.address, /^bcrt1q/);
    assert.match(first.descriptor, /^wpkh\(0[23][0-9a-f]{64}\)#[a-z0-9]{8}$/);
    assert.match(first.privateDescriptor, /^wpkh\(c[1-9A-HJ-NP-Za-km-z]{51}\)#[a-z0-9]{8}$/);
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}));

fundingKey.run();
