import {suite} from "uvu";
import * as assert from "uvu/assert";
import {Block, script as bscript} from "bitcoinjs-lib";
import {decodeBlockHeader, checkProofOfWork} from "../../../protocol/bitcoin/header.ts";
import {SimulatedChain} from "../../../node/bitcoin/sim/chain.ts";
import {SimulatedWallet} from "../../../node/bitcoin/sim/devnet-wallet.ts";
import {dustThreshold} from "../../../node/bitcoin/sim/policy.ts";
import {keyPairFromSeed, p2trScript, p2wpkhScript} from "../../../node/bitcoin/signing.ts";
import {withTimeout} from "../../support/timeout.ts";
import {buildSpend, bytes32, stampTx, testClock} from "./helpers.ts";

const miner = p2wpkhScript(keyPairFromSeed("miner").publicKey);

const chain = suite("node/bitcoin/sim SimulatedChain");

chain("should start at the regtest genesis and mine real blocks :: PoW, BIP34, witness commitment", () => {
  const c = new SimulatedChain({}, {clock: testClock()});
  assert.is(c.tip().id, "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206");
  const blocks = c.mine(20, miner);
  for (const b of blocks) {
    assert.ok(checkProofOfWork(b.header), `pow at ${b.height}`);
    assert.is(decodeBlockHeader(b.header).bits, 0x207fffff);
    const full = Block.fromBuffer(c.serializeBlock(b));
    assert.ok(full.checkTxRoots(), `roots at ${b.height}`);
    const cbScript = b.txs[0]?.ins[0]?.script as Uint8Array;
    const first = bscript.decompile(cbScript)?.[0];
    const height = typeof first === "number" ? first - 0x50 : bscript.number.decode(first as Uint8Array);
    assert.is(height, b.height, "BIP34 height");
  }
});

chain("should move block times forward past the median time past :: frozen and moving clock", () => {
  const clock = testClock();
  const c = new SimulatedChain({}, {clock});
  const frozen = c.mine(15, miner);
  for (let i = 1; i < frozen.length; i++) {
    const b = frozen[i] as (typeof frozen)[number];
    assert.ok(b.time > c.medianTimePast(frozen[i - 1] as typeof b), `time > MTP at ${b.height}`);
    assert.ok(b.time >= (frozen[i - 1] as typeof b).time, "monotone");
  }
  clock.advance(3_600_000);
  const [later] = c.mine(1, miner);
  assert.is(later?.time, Math.floor(clock.now() / 1000));
});

chain("should refuse premature coinbase spends and replace only non-signalling txs with full RBF :: policy", () => {
  const c = new SimulatedChain({}, {clock: testClock()});
  const key = keyPairFromSeed("cb");
  const script = p2wpkhScript(key.publicKey);
  const [b] = c.mine(1, script);
  c.mine(50, miner);
  const cb = b?.txs[0];
  const spend = buildSpend([{txid: cb?.getHash() as Uint8Array, vout: 0, value: cb?.outs[0]?.value as bigint, script, key, type: "p2wpkh"}], [{script, value: 1_000_000n}]);
  const r = c.accept(spend);
  assert.is(r.ok ? "accepted" : r.rejection.reason, "bad-txns-premature-spend-of-coinbase");

  // Full RBF (default): a non-signalling tx is replaceable.
  const w = new SimulatedWallet(c);
  const [out] = w.fund(p2trScript(key.publicKey), [100_000n]);
  const input = {txid: out?.txid as Uint8Array, vout: 0, value: 100_000n, script: p2trScript(key.publicKey), key, type: "p2tr" as const, sequence: 0xffffffff};
  c.submit(stampTx(input, bytes32(1), input.script, 200n));
  const repl = c.accept(stampTx(input, bytes32(2), input.script, 400n));
  assert.ok(repl.ok, repl.ok ? "" : repl.rejection.message);
});

chain("should compute Core's dust thresholds :: P2PKH 546, P2WPKH 294, P2TR 330", () => {
  const p2pkh = bscript.compile([0x76, 0xa9, new Uint8Array(20), 0x88, 0xac]);
  assert.is(dustThreshold(p2pkh, 3), 546n);
  assert.is(dustThreshold(p2wpkhScript(keyPairFromSeed("d").publicKey), 3), 294n);
  assert.is(dustThreshold(p2trScript(keyPairFromSeed("d").publicKey), 3), 330n);
});

chain("should mine on an interval until stopped :: abortable", withTimeout(10_000, async () => {
  const c = new SimulatedChain({miningIntervalMs: 20}, {clock: testClock()});
  try {
    c.start(miner);
    c.start(miner);
    await new Promise((r) => setTimeout(r, 150));
    assert.ok(c.height() >= 2, `mined ${c.height()}`);
  } finally {
    c.stop();
    c.stop();
  }
  const h = c.height();
  await new Promise((r) => setTimeout(r, 80));
  assert.is(c.height(), h, "no blocks after stop");
}));

chain.run();
