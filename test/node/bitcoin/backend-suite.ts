/**
 * The ONE behavioural suite every BitcoinBackend must pass. It runs against
 * the in-process simulated backend and against CoreRpcBackend talking HTTP
 * to the simulated chain's JSON-RPC server (see the two *.test.ts files).
 * The simulated chain itself is the test's "miner": it mines, reorgs and
 * hands out coins; everything else goes through the backend under test.
 */
import {Block} from "bitcoinjs-lib";
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {addDescriptorChecksum} from "../../../protocol/bitcoin/descriptor-checksum.ts";
import {bytesEqual, hashToDisplayHex, sha256d} from "../../../protocol/bitcoin/hash.ts";
import {decodeBlockHeader} from "../../../protocol/bitcoin/header.ts";
import {bitcoinMerkleRoot} from "../../../protocol/bitcoin/merkle.ts";
import {bytesToHex} from "@noble/hashes/utils.js";
import type {BitcoinBackend} from "../../../node/bitcoin/backend.ts";
import {PollingChainView, type ChainUpdate} from "../../../node/bitcoin/chain-view.ts";
import {BitcoinError, BitcoinErrorCode, type BitcoinErrorCodeValue} from "../../../node/bitcoin/errors.ts";
import {keyPairFromSeed, opReturnScript, p2trScript, p2wpkhScript, type KeyPair} from "../../../node/bitcoin/signing.ts";
import type {SimulatedChain, SimulatedChainOptions} from "../../../node/bitcoin/sim/chain.ts";
import type {SimulatedWallet} from "../../../node/bitcoin/sim/devnet-wallet.ts";
import {withTimeout} from "../../support/timeout.ts";
import {buildSpend, bytes32, stampTx, type SpendInput} from "./helpers.ts";

/** What a factory gives each test. */
export type BackendFixture = {backend: BitcoinBackend; chain: SimulatedChain; wallet: SimulatedWallet; close(): Promise<void>};

/** Creates a fresh chain and a backend over it. */
export type BackendFactory = (chainOpts?: Partial<SimulatedChainOptions>) => Promise<BackendFixture>;

async function rejects(p: Promise<unknown>, code: BitcoinErrorCodeValue, reason?: string): Promise<BitcoinError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, BitcoinError, `expected a BitcoinError, got ${String(e)}`);
    const err = e as BitcoinError;
    assert.is(err.code, code, `code for: ${err.message}`);
    if (reason !== undefined) assert.is(err.type.reason, reason, `reason for: ${err.message}`);
    return err;
  }
  assert.unreachable(`expected ${code}`);
  throw new Error("unreachable");
}

function fundedInput(fx: BackendFixture, key: KeyPair, type: "p2wpkh" | "p2tr", value = 100_000n): SpendInput {
  const script = type === "p2wpkh" ? p2wpkhScript(key.publicKey) : p2trScript(key.publicKey);
  const [out] = fx.wallet.fund(script, [value]);
  if (out === undefined) throw new Error("funding failed");
  return {txid: out.txid, vout: out.vout, value: out.value, script, key, type};
}

/** Registers and runs the suite for one backend. */
export function runBackendSuite(name: string, factory: BackendFactory): void {
  const test = suite(name);
  const minerScript = p2wpkhScript(keyPairFromSeed("suite-miner").publicKey);
  const withFixture = (ms: number, fn: (fx: BackendFixture, signal: AbortSignal) => Promise<void>, chainOpts?: Partial<SimulatedChainOptions>) =>
    withTimeout(ms, async (signal) => {
      const fx = await factory(chainOpts);
      try {
        await fn(fx, signal);
      } finally {
        await fx.close();
      }
    });

  test("should round trip blocks and headers :: hashes, heights, merkle roots", withFixture(20_000, async (fx, signal) => {
    const key = keyPairFromSeed("roundtrip");
    fundedInput(fx, key, "p2wpkh");
    const info = await fx.backend.getChainInfo(signal);
    assert.is(info.chain, "regtest");
    assert.is(info.height, fx.chain.height());
    assert.ok(bytesEqual(info.bestBlockHash, fx.chain.tip().hash));
    assert.is(hashToDisplayHex(await fx.backend.getBlockHash(0, signal)), "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206");
    for (const height of [1, info.height - 1, info.height]) {
      const hash = await fx.backend.getBlockHash(height, signal);
      const h = await fx.backend.getBlockHeader(hash, signal);
      assert.is(h.header.length, 80, `header length at ${height}`);
      assert.ok(bytesEqual(sha256d(h.header), hash), `header hash = double sha256 at ${height}`);
      assert.is(h.height, height);
      assert.is(h.confirmations, info.height - height + 1);
      const decoded = decodeBlockHeader(h.header);
      assert.ok(bytesEqual(decoded.prevHash, await fx.backend.getBlockHash(height - 1, signal)), `prev hash at ${height}`);
      assert.is(h.time, decoded.time);
      const b = await fx.backend.getBlock(hash, signal);
      assert.ok(bytesEqual(bitcoinMerkleRoot(b.txids) as Uint8Array, decoded.merkleRoot), `merkle root matches txids at ${height}`);
      // The same block, checked independently by bitcoinjs-lib (merkle and witness commitment).
      const full = Block.fromBuffer(fx.chain.serializeBlock(fx.chain.block(hashToDisplayHex(hash)) ?? fx.chain.tip()));
      assert.ok(full.checkTxRoots(), `bitcoinjs accepts tx roots at ${height}`);
      assert.ok(full.checkProofOfWork(), `proof of work at ${height}`);
    }
    const last = await fx.backend.getBlock(info.bestBlockHash, signal);
    assert.is(last.txids.length, 2, "coinbase + funding tx");
    await rejects(fx.backend.getBlockHash(info.height + 1, signal), BitcoinErrorCode.HEIGHT_OUT_OF_RANGE);
    await rejects(fx.backend.getBlockHeader(bytes32(7), signal), BitcoinErrorCode.NOT_FOUND);
  }));

  for (const type of ["p2wpkh", "p2tr"] as const) {
    test(`should accept, mine and find a signed stamp transaction :: ${type} with OP_RETURN`, withFixture(20_000, async (fx, signal) => {
      const key = keyPairFromSeed(`stamp-${type}`);
      const input = fundedInput(fx, key, type);
      const tx = stampTx(input, bytes32(0xab), input.script, 500n);
      const raw = tx.toBuffer();
      const test = await fx.backend.testMempoolAccept(raw, signal);
      assert.ok(test.allowed, `testmempoolaccept: ${test.allowed ? "" : test.rejectReason}`);
      if (test.allowed) assert.is(test.feeSats, 500n);
      const txid = await fx.backend.sendRawTransaction(raw, signal);
      assert.ok(bytesEqual(txid, tx.getHash()));
      assert.ok(bytesEqual(await fx.backend.sendRawTransaction(raw, signal), txid), "re-sending a mempool tx succeeds");
      const entry = await fx.backend.getMempoolEntry(txid, signal);
      assert.ok(entry !== null);
      assert.is(entry?.feeSats, 500n);
      assert.is(entry?.vsize, tx.virtualSize());
      const pending = await fx.backend.getRawTransaction(txid, signal);
      assert.is(pending.blockHash, null);
      assert.is(bytesToHex(pending.tx), bytesToHex(raw));
      const [block] = fx.chain.mine(1, minerScript);
      const found = await fx.backend.getRawTransaction(txid, signal, block?.hash);
      assert.ok(found.blockHash !== null && bytesEqual(found.blockHash, block?.hash as Uint8Array));
      assert.is(found.confirmations, 1);
      const b = await fx.backend.getBlock(block?.hash as Uint8Array, signal);
      assert.ok(b.txids.some((t) => bytesEqual(t, txid)), "txid in block");
      assert.is(await fx.backend.getMempoolEntry(txid, signal), null);
      const change = await fx.backend.getTxOut(txid, 1, signal);
      assert.is(change?.valueSats, input.value - 500n);
      assert.is(await fx.backend.getTxOut(txid, 0, signal), null, "OP_RETURN is not a UTXO");
      await rejects(fx.backend.sendRawTransaction(raw, signal), BitcoinErrorCode.ALREADY_IN_CHAIN);
    }));
  }

  test("should refuse invalid and non-standard transactions :: typed errors", withFixture(30_000, async (fx, signal) => {
    const key = keyPairFromSeed("refusals");
    const input = fundedInput(fx, key, "p2wpkh");
    const change = input.script;
    const send = (outputs: Array<{script: Uint8Array; value: bigint}>) => fx.backend.sendRawTransaction(buildSpend([input], outputs).toBuffer(), signal);

    // Bad signature: flip one bit of the DER signature's s value.
    const bad = stampTx(input, bytes32(1), change, 500n);
    const sig = Uint8Array.from(bad.ins[0]?.witness[0] as Uint8Array);
    sig[sig.length - 3] = (sig[sig.length - 3] as number) ^ 1;
    bad.setWitness(0, [sig, key.publicKey]);
    await rejects(fx.backend.sendRawTransaction(bad.toBuffer(), signal), BitcoinErrorCode.SCRIPT_VERIFY_FAILED, "mandatory-script-verify-flag-failed");
    const wrongKey = buildSpend([{...input, key: keyPairFromSeed("someone else")}], [{script: change, value: input.value - 500n}]);
    await rejects(fx.backend.sendRawTransaction(wrongKey.toBuffer(), signal), BitcoinErrorCode.SCRIPT_VERIFY_FAILED);

    await rejects(send([{script: opReturnScript(bytes32(2)), value: 0n}, {script: change, value: 293n}]), BitcoinErrorCode.NON_STANDARD, "dust");
    await rejects(send([{script: opReturnScript(new Uint8Array(81)), value: 0n}, {script: change, value: input.value - 1000n}]), BitcoinErrorCode.NON_STANDARD, "scriptpubkey");
    await rejects(
      send([{script: opReturnScript(bytes32(3)), value: 0n}, {script: opReturnScript(bytes32(4)), value: 0n}, {script: change, value: input.value - 1000n}]),
      BitcoinErrorCode.NON_STANDARD,
      "multi-op-return",
    );
    await rejects(send([{script: opReturnScript(bytes32(5)), value: 0n}, {script: change, value: input.value - 50n}]), BitcoinErrorCode.MIN_RELAY_FEE_NOT_MET, "min relay fee not met");
    await rejects(send([{script: change, value: input.value + 1n}]), BitcoinErrorCode.INVALID_TX, "bad-txns-in-belowout");
    const verdict = await fx.backend.testMempoolAccept(buildSpend([input], [{script: change, value: 293n}]).toBuffer(), signal);
    assert.is(verdict.allowed, false);
    if (!verdict.allowed) {
      assert.is(verdict.rejectReason, "dust");
      assert.is(verdict.error.code, BitcoinErrorCode.NON_STANDARD);
    }
    await rejects(fx.backend.sendRawTransaction(Uint8Array.from([1, 2, 3]), signal), BitcoinErrorCode.TX_DECODE_FAILED);

    // Double spend: spend, confirm, spend the same output again.
    await send([{script: opReturnScript(bytes32(6)), value: 0n}, {script: change, value: input.value - 500n}]);
    fx.chain.mine(1, minerScript);
    await rejects(send([{script: opReturnScript(bytes32(7)), value: 0n}, {script: change, value: input.value - 5000n}]), BitcoinErrorCode.MISSING_INPUTS);
    const missing = await fx.backend.testMempoolAccept(buildSpend([input], [{script: change, value: input.value - 5000n}]).toBuffer(), signal);
    assert.is(missing.allowed ? "allowed" : missing.rejectReason, "missing-inputs");
  }));

  test("should apply replacement rules :: low fee refused, higher fee and feerate accepted", withFixture(20_000, async (fx, signal) => {
    const key = keyPairFromSeed("rbf");
    const input = fundedInput(fx, key, "p2wpkh");
    const first = stampTx(input, bytes32(1), input.script, 300n);
    const firstId = await fx.backend.sendRawTransaction(first.toBuffer(), signal);
    const same = stampTx(input, bytes32(2), input.script, 300n);
    await rejects(fx.backend.sendRawTransaction(same.toBuffer(), signal), BitcoinErrorCode.INSUFFICIENT_FEE, "insufficient fee");
    // Higher feerate but an increment below incremental relay fee × vsize.
    const tooSmall = stampTx(input, bytes32(3), input.script, 300n + BigInt(first.virtualSize()) - 1n);
    await rejects(fx.backend.sendRawTransaction(tooSmall.toBuffer(), signal), BitcoinErrorCode.INSUFFICIENT_FEE);
    assert.ok((await fx.backend.getMempoolEntry(firstId, signal)) !== null, "original still in mempool");
    const bumped = stampTx(input, bytes32(4), input.script, 300n + BigInt(first.virtualSize()));
    const bumpedId = await fx.backend.sendRawTransaction(bumped.toBuffer(), signal);
    assert.is(await fx.backend.getMempoolEntry(firstId, signal), null, "replaced tx left the mempool");
    assert.ok((await fx.backend.getMempoolEntry(bumpedId, signal)) !== null);
    const [block] = fx.chain.mine(1, minerScript);
    const b = await fx.backend.getBlock(block?.hash as Uint8Array, signal);
    assert.ok(b.txids.some((t) => bytesEqual(t, bumpedId)));
  }));

  test("should refuse a conflicting spend without replacement :: txn-mempool-conflict when full RBF is off", withFixture(20_000, async (fx, signal) => {
    const key = keyPairFromSeed("conflict");
    const input = {...fundedInput(fx, key, "p2wpkh"), sequence: 0xfffffffe};
    await fx.backend.sendRawTransaction(stampTx(input, bytes32(1), input.script, 300n).toBuffer(), signal);
    await rejects(fx.backend.sendRawTransaction(stampTx(input, bytes32(2), input.script, 3000n).toBuffer(), signal), BitcoinErrorCode.CONFLICT, "txn-mempool-conflict");
  }, {fullRbf: false}));

  test("should report a reorg to a chain-view subscriber :: disconnected blocks and resurrected txs", withFixture(20_000, async (fx, signal) => {
    const key = keyPairFromSeed("reorg");
    const input = fundedInput(fx, key, "p2wpkh");
    const view = new PollingChainView({}, {backend: fx.backend});
    const updates: ChainUpdate[] = [];
    view.onUpdate((u) => updates.push(u));
    assert.is(await view.pollNow(signal), null, "baseline");
    const stamp = stampTx(input, bytes32(9), input.script, 400n);
    await fx.backend.sendRawTransaction(stamp.toBuffer(), signal);
    const old = fx.chain.mine(2, minerScript);
    const grown = await view.pollNow(signal);
    assert.is(grown?.connected.length, 2);
    assert.is(grown?.disconnected.length, 0);
    const change = fx.chain.reorg(2, 3, minerScript, {includeMempool: false});
    const u = await view.pollNow(signal);
    assert.ok(u !== null);
    assert.equal(u?.disconnected.map((b) => hashToDisplayHex(b.hash)), [...old].reverse().map((b) => b.id), "disconnected, tip first");
    assert.equal(u?.connected.map((b) => hashToDisplayHex(b.hash)), change.connected.map((b) => b.id), "connected, ascending");
    assert.is(u?.tip.height, fx.chain.height());
    assert.is(updates.length, 2);
    assert.ok((await fx.backend.getMempoolEntry(stamp.getHash(), signal)) !== null, "stamp back in the mempool");
    const stale = await fx.backend.getBlockHeader(old[0]?.hash as Uint8Array, signal);
    assert.is(stale.confirmations, -1, "stale block is off the active chain");
    // Reconsider the old branch: it is now shorter, so the new branch stays active.
    fx.chain.reconsiderBlock(old[0]?.id as string);
    assert.is(await view.pollNow(signal), null);
  }));

  test("should find the stamping funds :: watch-only descriptor and listUnspent", withFixture(20_000, async (fx, signal) => {
    const key = keyPairFromSeed("funds");
    const desc = addDescriptorChecksum(`wpkh(${bytesToHex(key.publicKey)})`);
    await fx.backend.importWatchDescriptors([desc], signal);
    await fx.backend.importWatchDescriptors([desc], signal);
    const script = p2wpkhScript(key.publicKey);
    const [out] = fx.wallet.fund(script, [250_000n]);
    const utxos = await fx.backend.listUnspent(signal);
    assert.is(utxos.length, 1);
    assert.ok(bytesEqual(utxos[0]?.txid as Uint8Array, out?.txid as Uint8Array));
    assert.is(utxos[0]?.valueSats, 250_000n);
    assert.is(utxos[0]?.confirmations, 1);
    assert.ok(utxos[0]?.safe);
    // Spend it with change back: the change shows as a safe 0-conf output.
    const input: SpendInput = {txid: out?.txid as Uint8Array, vout: 0, value: 250_000n, script, key, type: "p2wpkh"};
    await fx.backend.sendRawTransaction(stampTx(input, bytes32(1), script, 400n).toBuffer(), signal);
    const after = await fx.backend.listUnspent(signal);
    assert.is(after.length, 1);
    assert.is(after[0]?.confirmations, 0);
    assert.is(after[0]?.valueSats, 250_000n - 400n);
    assert.ok(after[0]?.safe, "own change is safe");
    await rejects(fx.backend.importWatchDescriptors([`wpkh(${bytesToHex(key.publicKey)})#aaaaaaaa`], signal), BitcoinErrorCode.WALLET_ERROR);
  }));

  test("should estimate fees :: none on a quiet regtest, then the configured rate", withFixture(10_000, async (fx, signal) => {
    assert.is(await fx.backend.estimateFeeRate(6, signal), null);
    fx.chain.setFeeEstimate(12.5);
    const e = await fx.backend.estimateFeeRate(6, signal);
    assert.ok(e !== null && Math.abs(e.feeRate - 12.5) < 1e-9, `feeRate ${e?.feeRate}`);
  }));

  test.run();
}
