/**
 * The transaction watcher following transactions nobody's engine built: the
 * test signs and broadcasts a donor-like spend (one input, OP_RETURN, change)
 * on the in-process simulated chain, drives a PollingChainView by hand and
 * checks every event, the inclusion proof against the block header, reorgs
 * before and after K, and what a reconcile finds after the fact.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {decodeBlockHeader} from "../../../protocol/bitcoin/header.ts";
import {bitcoinBranchOps} from "../../../protocol/ots/bitcoin.ts";
import {bytesEqual, toHex} from "../../../protocol/ots/bytes.ts";
import {applyOps} from "../../../protocol/ots/ops.ts";
import {AnchorError, AnchorErrorCode} from "../../../node/anchor/errors.ts";
import {TxWatcher} from "../../../node/anchor/tx-watcher.ts";
import type {TxEvent, TxWatchStart} from "../../../node/anchor/tx-watcher.ts";
import {PollingChainView} from "../../../node/bitcoin/chain-view.ts";
import {withTimeout} from "../../support/timeout.ts";
import {donorSpend, MINER, simulatedChain} from "./support.ts";
import type {SimulatedSetup} from "./support.ts";

const K = 3;

type Rig = SimulatedSetup & {
  watcher: TxWatcher;
  view: PollingChainView;
  /** One round of what an owner's loop does: poll, then reconcile, follow, confirm. */
  sync(signal: AbortSignal): Promise<void>;
  /** Watch `txid`, recording its events (kind@height). */
  record(txid: Uint8Array, start?: TxWatchStart): {events: TxEvent[]; summary(): string[]; cancel(): void};
};

async function rig(): Promise<Rig> {
  const sim = simulatedChain();
  const watcher = new TxWatcher({confirmations: K, reorgWindow: 20, maxRescanBlocks: 1000}, {backend: sim.backend});
  const view = new PollingChainView({}, {backend: sim.backend});
  return {
    ...sim,
    watcher,
    view,
    async sync(signal) {
      const update = await view.pollNow(signal);
      await watcher.sync(view.tip()!, update, signal);
    },
    record(txid, start) {
      const events: TxEvent[] = [];
      const w = watcher.watch(txid, (e) => void events.push(e), start);
      const heightOf = (e: TxEvent): number => (e.kind === "confirmed" ? e.inclusion.block.height : e.block.height);
      return {events, summary: () => events.map((e) => `${e.kind}@${heightOf(e)}`), cancel: () => w.cancel()};
    },
  };
}

/** The inclusion proof of a confirmed event must lead from the txid to its block's merkle root. */
function checkInclusion(r: Rig, e: TxEvent): void {
  if (e.kind !== "confirmed") throw new Error(`expected confirmed, got ${e.kind}`);
  const {inclusion} = e;
  const block = r.chain.blockAt(inclusion.block.height);
  assert.ok(block && bytesEqual(block.hash, inclusion.block.hash), "the block is in the active chain");
  assert.equal(inclusion.header, block.header);
  assert.ok(bytesEqual(applyOps(bitcoinBranchOps(inclusion.txIndex, inclusion.branch), e.txid), decodeBlockHeader(block.header).merkleRoot), "txid → branch → header merkle root");
  assert.ok(inclusion.confirmations >= K);
}

// ---
const watcher = suite("node/anchor/tx-watcher TxWatcher");

watcher("should report a donor's transaction mined, then confirmed at K with a branch to the header :: one block at a time", withTimeout(15_000, async (signal) => {
  const r = await rig();
  await r.sync(signal);
  const tx = donorSpend(r, new Uint8Array(32).fill(7));
  const rec = r.record(tx.getHash());
  await r.backend.sendRawTransaction(tx.toBuffer(), signal);
  await r.sync(signal);
  assert.equal(rec.summary(), []);
  const [b1] = r.chain.mine(1, MINER);
  await r.sync(signal);
  assert.equal(rec.summary(), [`mined@${b1!.height}`]);
  assert.is((rec.events[0] as {rescan: boolean}).rescan, false);
  r.chain.mine(K - 2, MINER);
  await r.sync(signal);
  assert.equal(rec.summary(), [`mined@${b1!.height}`], `not yet: ${K - 1} confirmations`);
  r.chain.mine(1, MINER);
  await r.sync(signal);
  assert.equal(rec.summary(), [`mined@${b1!.height}`, `confirmed@${b1!.height}`]);
  checkInclusion(r, rec.events[1] as TxEvent);
  r.chain.mine(2, MINER);
  await r.sync(signal);
  assert.is(rec.events.length, 2, "confirmed is reported once");
}));

watcher("should take a transaction back to waiting when its block leaves before K, then follow it into the new branch :: reorg before K", withTimeout(15_000, async (signal) => {
  const r = await rig();
  await r.sync(signal);
  const tx = donorSpend(r, new Uint8Array(32).fill(8));
  const rec = r.record(tx.getHash());
  await r.backend.sendRawTransaction(tx.toBuffer(), signal);
  const [b1] = r.chain.mine(1, MINER);
  await r.sync(signal);
  r.chain.reorg(1, 2, MINER, {includeMempool: false});
  assert.ok(r.chain.mempoolEntry(tx.getId()), "back in the mempool");
  await r.sync(signal);
  assert.equal(rec.summary(), [`mined@${b1!.height}`, `unmined@${b1!.height}`]);
  const [b2] = r.chain.mine(1, MINER);
  await r.sync(signal);
  r.chain.mine(K - 1, MINER);
  await r.sync(signal);
  assert.equal(rec.summary(), [`mined@${b1!.height}`, `unmined@${b1!.height}`, `mined@${b2!.height}`, `confirmed@${b2!.height}`]);
  checkInclusion(r, rec.events[3] as TxEvent);
}));

watcher("should report a reorg deeper than K, and confirm the transaction again where it lands :: deep reorg", withTimeout(15_000, async (signal) => {
  const r = await rig();
  await r.sync(signal);
  const tx = donorSpend(r, new Uint8Array(32).fill(9));
  const rec = r.record(tx.getHash());
  await r.backend.sendRawTransaction(tx.toBuffer(), signal);
  const [b1] = r.chain.mine(K, MINER);
  await r.sync(signal);
  assert.equal(rec.summary(), [`mined@${b1!.height}`, `confirmed@${b1!.height}`], "mined and K deep in one update");
  r.chain.reorg(K + 1, K + 2, MINER, {includeMempool: false});
  await r.sync(signal);
  const reorged = rec.events[2];
  assert.equal(rec.summary().slice(2), [`reorged@${b1!.height}`]);
  assert.ok(reorged?.kind === "reorged" && reorged.tip.height === r.chain.height() && !reorged.rescan);
  const [b2] = r.chain.mine(K, MINER);
  await r.sync(signal);
  assert.equal(rec.summary().slice(3), [`mined@${b2!.height}`, `confirmed@${b2!.height}`]);
}));

watcher("should find on reconcile what happened while nobody watched :: already mined, a confirmed block gone, a deep one left alone", withTimeout(15_000, async (signal) => {
  const r = await rig();
  const tx = donorSpend(r, new Uint8Array(32).fill(10));
  const from = r.chain.height();
  await r.backend.sendRawTransaction(tx.toBuffer(), signal);
  const [b1] = r.chain.mine(K, MINER);
  // A journaled-stamp-like watch whose block a reorg took while we were away, and one too deep to check.
  const gone = r.chain.mine(1, MINER)[0]!;
  const ancient = r.chain.blockAt(1)!;
  r.chain.reorg(1, 2, MINER);
  const found = r.record(tx.getHash(), {state: "waiting", sinceHeight: from});
  const lost = r.record(new Uint8Array(32).fill(0xaa), {state: "confirmed", block: {hash: gone.hash, height: gone.height}});
  const old = r.record(new Uint8Array(32).fill(0xbb), {state: "confirmed", block: {hash: new Uint8Array(32).fill(1), height: ancient.height}});
  await r.sync(signal);
  assert.equal(found.summary(), [`mined@${b1!.height}`, `confirmed@${b1!.height}`]);
  assert.is((found.events[0] as {rescan: boolean}).rescan, true);
  checkInclusion(r, found.events[1] as TxEvent);
  assert.equal(lost.summary(), [`reorged@${gone.height}`]);
  assert.is((lost.events[0] as {rescan: boolean}).rescan, true);
  assert.equal(old.summary(), [], "deeper than the reorg window: not checked");
  // Checked once: further syncs add nothing.
  await r.sync(signal);
  assert.is(found.events.length + lost.events.length + old.events.length, 3);
}));

watcher("should stop reporting a cancelled watch, and need no block fetch for confirmed ones :: cancel", withTimeout(15_000, async (signal) => {
  const r = await rig();
  await r.sync(signal);
  const tx = donorSpend(r, new Uint8Array(32).fill(11));
  const rec = r.record(tx.getHash());
  await r.backend.sendRawTransaction(tx.toBuffer(), signal);
  rec.cancel();
  rec.cancel();
  assert.is(r.watcher.size, 0);
  r.chain.mine(K, MINER);
  await r.sync(signal);
  assert.equal(rec.events, []);
  // Many confirmed watches cost no getBlock per new block.
  for (let i = 0; i < 50; i++) r.record(new Uint8Array(32).fill(i), {state: "confirmed", block: {hash: r.chain.tip().hash, height: r.chain.height()}});
  await r.sync(signal);
  let fetched = 0;
  const getBlock = r.backend.getBlock.bind(r.backend);
  r.backend.getBlock = (hash, s) => (fetched++, getBlock(hash, s));
  r.chain.mine(3, MINER);
  await r.sync(signal);
  assert.is(fetched, 0, toHex(r.chain.tip().hash));
}));

watcher("should refuse, typed, a block that does not hold the transaction or its header's merkle root, and report it once the node answers right :: TX_NOT_IN_BLOCK, BLOCK_MERKLE_MISMATCH", withTimeout(15_000, async (signal) => {
  const r = await rig();
  await r.sync(signal);
  const tx = donorSpend(r, new Uint8Array(32).fill(12));
  const rec = r.record(tx.getHash());
  await r.backend.sendRawTransaction(tx.toBuffer(), signal);
  r.chain.mine(K, MINER);
  const getBlock = r.backend.getBlock.bind(r.backend);
  const codeOf = async (): Promise<string> => {
    try {
      await r.sync(signal);
      return "none";
    } catch (e) {
      if (!(e instanceof AnchorError)) throw e;
      return e.code;
    }
  };
  let lie: "drop" | "swap" | null = "drop";
  r.backend.getBlock = async (hash, s) => {
    const b = await getBlock(hash, s);
    if (lie === "drop" && rec.events.length > 0) return {...b, txids: b.txids.filter((t) => !bytesEqual(t, tx.getHash()))};
    if (lie === "swap" && rec.events.length > 0) return {...b, txids: [...b.txids, b.txids[0]!]};
    return b;
  };
  assert.is(await codeOf(), AnchorErrorCode.TX_NOT_IN_BLOCK);
  assert.equal(rec.summary().map((x) => x.split("@")[0]), ["mined"], "still mined, not confirmed");
  lie = "swap";
  assert.is(await codeOf(), AnchorErrorCode.BLOCK_MERKLE_MISMATCH);
  lie = null;
  assert.is(await codeOf(), "none");
  assert.equal(rec.summary().map((x) => x.split("@")[0]), ["mined", "confirmed"]);
}));

// ---
const lowerTip = suite("node/anchor/tx-watcher TxWatcher and a node that restarts");

lowerTip("should not take a lower tip or a syncing node for a reorg, and still report one with more work :: restart from an older state, then a real reorg", withTimeout(15_000, async (signal) => {
  const r = await rig();
  await r.sync(signal);
  const tx = donorSpend(r, new Uint8Array(32).fill(11));
  const mined = r.record(tx.getHash());
  await r.backend.sendRawTransaction(tx.toBuffer(), signal);
  const [b1] = r.chain.mine(K, MINER);
  await r.sync(signal);
  assert.equal(mined.summary(), [`mined@${b1!.height}`, `confirmed@${b1!.height}`]);
  // A second, fresh watch of the same block as a journaled stamp, checked by reconcile (as after our own restart).
  const journaled = r.record(tx.getHash(), {state: "confirmed", block: {hash: b1!.hash, height: b1!.height}});

  // bitcoind back from an older state at height 0: a lower tip, our block unknown to it.
  r.chain.simulateRestart(0);
  assert.is((await r.backend.getChainInfo(signal)).height, 0);
  await r.sync(signal);
  await r.sync(signal);
  // Then syncing: headers known (confirmations -1), blocks not yet connected.
  r.chain.simulateRestart(1, {syncing: true});
  const syncing = await r.backend.getChainInfo(signal);
  assert.ok(syncing.initialBlockDownload && syncing.headers > syncing.height);
  assert.is((await r.backend.getBlockHeader(b1!.hash, signal)).confirmations, -1);
  await r.sync(signal);
  // The same blocks again.
  r.chain.simulateResync();
  await r.sync(signal);
  r.chain.mine(1, MINER);
  await r.sync(signal);
  assert.equal(mined.summary(), [`mined@${b1!.height}`, `confirmed@${b1!.height}`], "no reorg through the restart");
  assert.equal(journaled.summary(), [], "nor for the journaled watch");

  // A real reorg, to a chain with more work without our block: reported.
  r.chain.reorg(r.chain.height() - b1!.height + 1, r.chain.height() - b1!.height + 2, MINER, {includeMempool: false});
  await r.sync(signal);
  assert.equal(journaled.summary(), [`reorged@${b1!.height}`]);
  assert.equal(mined.summary().slice(2), [`reorged@${b1!.height}`]);
}));

watcher.run();
lowerTip.run();
