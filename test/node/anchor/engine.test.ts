/**
 * The anchoring engine on its own: a fixed 32-byte root, no calendar, the
 * simulated chain in process. Confirmation at K with a path that checks
 * against the block header, a reorg before K, a reorg deeper than K, a
 * restart in the middle of a cycle, a transaction the engine did not build,
 * and its lifecycle.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {readFile} from "node:fs/promises";
import {join} from "node:path";
import {Transaction} from "bitcoinjs-lib";
import {decodeBlockHeader} from "../../../protocol/bitcoin/header.ts";
import {hashToDisplayHex, sha256d} from "../../../protocol/bitcoin/hash.ts";
import {bitcoinBranchOps, txCommitmentOps} from "../../../protocol/ots/bitcoin.ts";
import {bytesEqual, toHex} from "../../../protocol/ots/bytes.ts";
import {applyOps} from "../../../protocol/ots/ops.ts";
import type {AnchorConfirmation} from "../../../node/anchor/client.ts";
import type {TxEvent} from "../../../node/anchor/tx-watcher.ts";
import {withTimeout} from "../../support/timeout.ts";
import {removeDir, tempDir} from "../calendar/support.ts";
import {engineRig, K, startRig} from "./engine-rig.ts";
import type {EngineRig, Label} from "./engine-rig.ts";
import {buildSpend} from "../bitcoin/helpers.ts";
import {donorSpend, MINER} from "./support.ts";

const ROOT = Uint8Array.from({length: 32}, (_, i) => 0xa0 ^ i);

async function withRig(fn: (r: EngineRig, signal: AbortSignal) => Promise<void>, signal: AbortSignal): Promise<void> {
  const dir = await tempDir("otsfed-anchor-engine-");
  const r = await engineRig(dir, ROOT, signal);
  try {
    await fn(r, signal);
  } finally {
    await r.engine.stop();
    await removeDir(dir);
  }
}

/** The txids (display hex) of the engine's in-flight versions, cycle by cycle. */
function inFlight(r: EngineRig): string[][] {
  return r.engine.cycles().map((c) => c.versions.map((v) => Transaction.fromBuffer(Buffer.from(v.tx)).getId()));
}

/** Everything a confirmation claims, checked against the chain: the path root → txid → block ends at the header's merkle root. */
function checkConfirmation(r: EngineRig, c: AnchorConfirmation<Label>): void {
  const block = r.chain.blockAt(c.height);
  assert.ok(block, `block ${c.height} in the active chain`);
  assert.ok(bytesEqual(block.hash, c.blockHash), "the block hash");
  assert.equal(c.header, block.header, "the block's header");
  assert.ok(bytesEqual(c.root, ROOT), "the root asked for");
  assert.ok(bytesEqual(sha256d(c.tx), c.txid), "tx is the transaction without witness");
  assert.ok(bytesEqual(block.txs[c.txIndex]!.getHash(), c.txid), "at its index in the block");
  const merkleRoot = applyOps([...txCommitmentOps(c.tx, c.root), ...bitcoinBranchOps(c.txIndex, c.branch)], c.root);
  assert.ok(bytesEqual(merkleRoot, decodeBlockHeader(block.header).merkleRoot), "root → txid → block merkle root");
  assert.ok(c.confirmations >= K, `${c.confirmations} confirmations`);
  const tx = Transaction.fromBuffer(Buffer.from(c.tx));
  assert.is(toHex(tx.outs.at(-1)!.script), `6a20${toHex(ROOT)}`, "OP_RETURN <root> last");
  const input = tx.ins[0]!;
  const spent = r.chain.findTransaction(hashToDisplayHex(input.hash))!.tx.outs[input.index]!.value;
  assert.is(c.feeSats, spent - tx.outs.reduce((a, o) => a + o.value, 0n), "the fee it paid");
  assert.ok(c.vsize >= tx.virtualSize(), "vsize an upper bound (worst-case signature)");
  assert.ok(Math.abs(c.feeRate - Number(c.feeSats) / c.vsize) < 1e-9);
}

// ---
const engine = suite("node/anchor/engine AnchorEngine");

engine("should anchor a root and report it K deep with a path that checks against the block header :: fixed root, no calendar", withTimeout(20_000, (signal) => withRig(async (r) => {
  await startRig(r);
  assert.equal(r.phases, ["version-built", "version-saved", "version-broadcast"]);
  const [[txid]] = inFlight(r) as [[string]];
  assert.ok(r.chain.mempoolEntry(txid), "broadcast");
  assert.equal(r.client.kepts.map((k) => [k.first, k.broadcast, k.index]), [[true, true, 0]]);
  const [block] = r.chain.mine(1, MINER);
  await r.tick();
  assert.equal(r.engine.cycles()[0]?.mined?.height, block!.height);
  assert.is(r.phases.at(-1), "mined-saved");
  r.chain.mine(K - 2, MINER);
  await r.tick();
  assert.is(r.client.confirmations.length, 0, `${K - 1} confirmations are not enough`);
  r.chain.mine(1, MINER);
  await r.tick();
  assert.is(r.client.confirmations.length, 1);
  const c = r.client.confirmations[0]!;
  checkConfirmation(r, c);
  assert.is(c.height, block!.height);
  assert.equal(c.description, {label: "fixed root", version: 1}, "the description handed back");
  assert.equal([c.version, c.versions], [0, 1]);
  assert.equal(r.engine.cycles(), []);
  assert.equal(r.phases.slice(-2), ["mined-saved", "cycle-closed"]);
  const saved = JSON.parse(await readFile(join(r.stateDir, "state.json"), "utf8")) as {version: number; cycles: unknown[]};
  assert.equal([saved.version, saved.cycles], [2, []], "nothing left in the state file");
  // Nothing more to anchor: more blocks bring nothing.
  r.chain.mine(2, MINER);
  await r.tick();
  assert.is(r.client.confirmations.length, 1);
  assert.equal(r.engine.cycles(), []);
}, signal)));

engine("should put a version back to waiting when a reorg before K removes its block, then confirm it in the new branch :: reorg before K", withTimeout(20_000, (signal) => withRig(async (r) => {
  await startRig(r);
  const [[txid]] = inFlight(r) as [[string]];
  const [b1] = r.chain.mine(1, MINER);
  await r.tick();
  assert.is(r.engine.cycles()[0]?.mined?.height, b1!.height);
  r.chain.reorg(1, 2, MINER, {includeMempool: false});
  await r.tick();
  assert.is(r.engine.cycles()[0]?.mined, null, "waiting again");
  assert.ok(r.chain.mempoolEntry(txid), "back in the mempool");
  assert.equal(inFlight(r), [[txid]], "no new version: a cycle once mined takes no replacement");
  const [b2] = r.chain.mine(1, MINER);
  await r.tick();
  r.chain.mine(K - 1, MINER);
  await r.tick();
  const c = r.client.confirmations[0];
  assert.ok(c, "confirmed");
  checkConfirmation(r, c);
  assert.is(c.height, b2!.height);
  assert.not.ok(bytesEqual(c.blockHash, b1!.hash), "in the new branch's block");
  assert.is(Transaction.fromBuffer(Buffer.from(c.tx)).getId(), txid, "the same transaction");
}, signal)));

engine("should report a reorg deeper than K of an anchor it confirmed, to a client that watches it :: deep reorg", withTimeout(20_000, (signal) => withRig(async (r) => {
  const events: TxEvent[] = [];
  // As the calendar does with a journaled stamp: follow it once recorded.
  r.client.onConfirmed = (c) => void r.engine.watch(c.txid, (e) => void events.push(e), {state: "confirmed", block: {hash: c.blockHash, height: c.height}});
  await startRig(r);
  r.chain.mine(K, MINER);
  await r.tick();
  const c = r.client.confirmations[0];
  assert.ok(c, "confirmed");
  await r.tick();
  assert.equal(events, [], "the recorded block is on the chain");
  r.chain.reorg(K + 1, K + 2, MINER, {includeMempool: false});
  await r.tick();
  assert.is(events.length, 1);
  const e = events[0]!;
  assert.ok(e.kind === "reorged", e.kind);
  assert.ok(e.kind === "reorged" && bytesEqual(e.block.hash, c.blockHash) && e.block.height === c.height, "names the block that left");
  assert.ok(e.kind === "reorged" && e.tip.height === r.chain.height());
}, signal)));

engine("should lose nothing across a restart in the middle of a cycle :: a new engine on the same state dir confirms the earlier version", withTimeout(20_000, (signal) => withRig(async (r) => {
  await startRig(r);
  const [[v1]] = inFlight(r) as [[string]];
  const v1tx = r.chain.mempoolEntry(v1)!.tx;
  r.chain.mine(1, MINER, {includeMempool: false});
  await r.tick();
  const [[, v2]] = inFlight(r) as [[string, string]];
  assert.ok(v2 && v2 !== v1, "a replacement on the new block");
  assert.ok(r.chain.mempoolEntry(v2));
  await r.engine.stop();

  // While it is down, a miner that never saw v2 confirms v1.
  r.chain.mineWith([v1tx], MINER);
  const b = r.reopen();
  await b.engine.load();
  assert.equal(inFlight(b), [[v1, v2]], "both versions read back");
  await startRig(b);
  try {
    assert.is(b.engine.cycles()[0]?.mined?.version, 0, "found v1 in the block mined while down");
    assert.is(b.client.nextCalls, 0, "no new content asked for while the coin's spend is in flight");
    b.chain.mine(K - 1, MINER);
    await b.tick();
    const c = b.client.confirmations[0];
    assert.ok(c, "confirmed after the restart");
    checkConfirmation(b, c);
    assert.is(Transaction.fromBuffer(Buffer.from(c.tx)).getId(), v1);
    assert.equal([c.version, c.versions], [0, 2]);
    assert.equal(c.description, {label: "fixed root", version: 1}, "v1's own description");
    // One spend of the coin in the chain, no second one anywhere.
    assert.equal(b.chain.mempoolTxids(), []);
  } finally {
    await b.engine.stop();
  }
}, signal)));

engine("should send a version saved but never sent once a new engine starts :: crash between save and broadcast", withTimeout(20_000, (signal) => withRig(async (r) => {
  await r.engine.stop();
  const dir = r.stateDir;
  // An engine whose broadcast never happens: the phase hook throws right after the save.
  const a = r.reopen((p) => {
    if (p === "version-saved") throw new Error("simulated crash after the save");
  });
  await startRig(a);
  await a.engine.stop();
  const [[saved]] = inFlight(a) as [[string]];
  assert.equal(a.chain.mempoolTxids(), [], "never sent");
  assert.is(a.stateDir, dir);
  const b = a.reopen();
  await startRig(b);
  try {
    assert.equal(b.chain.mempoolTxids(), [saved], "sent by the new engine at once");
    b.chain.mine(K, MINER);
    await b.tick();
    assert.is(Transaction.fromBuffer(Buffer.from(b.client.confirmations[0]!.tx)).getId(), saved);
  } finally {
    await b.engine.stop();
  }
}, signal)));

engine("should follow a transaction it did not build :: a donor's spend, watched through the engine", withTimeout(20_000, (signal) => withRig(async (r) => {
  await startRig(r);
  const tx = donorSpend(r, new Uint8Array(32).fill(0x5d));
  const events: TxEvent[] = [];
  r.engine.watch(tx.getHash(), (e) => void events.push(e));
  await r.backend.sendRawTransaction(tx.toBuffer(), signal);
  const [b1] = r.chain.mine(1, MINER);
  await r.tick();
  r.chain.mine(K - 1, MINER);
  await r.tick();
  assert.equal(events.map((e) => e.kind), ["mined", "confirmed"]);
  const e = events[1]!;
  if (e.kind !== "confirmed") throw new Error(e.kind);
  assert.is(e.inclusion.block.height, b1!.height);
  assert.ok(bytesEqual(applyOps(bitcoinBranchOps(e.inclusion.txIndex, e.inclusion.branch), tx.getHash()), decodeBlockHeader(r.chain.blockAt(b1!.height)!.header).merkleRoot));
  // The engine's own anchor went through the same blocks.
  assert.is(r.client.confirmations.length, 1);
}, signal)));

engine("should give up a cycle whose coin something else spent, then anchor with a new coin :: coin spent elsewhere", withTimeout(20_000, (signal) => withRig(async (r) => {
  await startRig(r);
  const cycle = r.engine.cycles()[0]!;
  const [[ours]] = inFlight(r) as [[string]];
  // Another spend of the same coin by the same key (another wallet holding it, say), paying far more.
  const other = buildSpend([{txid: cycle.input.txid, vout: cycle.input.vout, value: cycle.input.valueSats, script: r.key.script, key: r.key.key, type: "p2wpkh"}], [{script: r.key.script, value: cycle.input.valueSats - 20_000n}]);
  await r.backend.sendRawTransaction(other.toBuffer(), signal);
  assert.is(r.chain.mempoolEntry(ours), null, "ours replaced");
  r.chain.mine(1, MINER);
  await r.tick();
  assert.equal(r.client.droppedCycles, [], "one block of a missing coin is not enough");
  r.chain.mine(1, MINER);
  await r.tick();
  assert.equal(r.client.droppedCycles, [cycle.id], "given up on the second block");
  const next = r.engine.cycles();
  assert.is(next.length, 1, "a new cycle with the other spend's output");
  assert.is(next[0]?.id, cycle.id + 1);
  assert.ok(bytesEqual(next[0]!.input.txid, other.getHash()));
  r.chain.mine(K, MINER);
  await r.tick();
  assert.is(r.client.confirmations[0]?.cycle, cycle.id + 1);
}, signal)));

engine("should stop and start again and keep anchoring :: restartable lifecycle", withTimeout(20_000, (signal) => withRig(async (r) => {
  assert.is(r.engine.status, "stopped");
  await Promise.all([r.engine.start(), r.engine.start()]);
  assert.is(r.engine.status, "started");
  await Promise.all([r.engine.stop(), r.engine.stop()]);
  assert.is(r.engine.status, "stopped");
  r.chain.mine(1, MINER);
  await startRig(r);
  assert.is(inFlight(r).length, 1, "anchoring after a restart of the same instance");
  await r.engine.stop();
  r.chain.mine(K, MINER);
  await startRig(r);
  assert.is(r.client.confirmations.length, 1, "blocks mined while stopped are followed once started");
  checkConfirmation(r, r.client.confirmations[0]!);
}, signal)));

engine.run();
