/**
 * The stamper against the simulated chain in the situations the issue
 * names: an earlier replacement version confirms, reorgs before and after K
 * confirmations, running out of funds, the Bitcoin node going away, and the
 * fee schedule as broadcast. Blocks are mined by the test; the node polls.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {readFile, rm, writeFile} from "node:fs/promises";
import {join} from "node:path";
import {decodeBlockHeader} from "../../../protocol/bitcoin/header.ts";
import {bytesEqual} from "../../../protocol/ots/bytes.ts";
import {listAttestations} from "../../../protocol/ots/evaluate.ts";
import {decodeTimestamp} from "../../../protocol/ots/timestamp.ts";
import {withTimeout} from "../../support/timeout.ts";
import type {Harness} from "./harness.ts";
import {fetchTimestamp, healthz, inFlightVersions, MINER, sleep, startHarness, statusJson, submit, until, waitForVersions} from "./harness.ts";

/** Wait for 200s on all commitments; check each proof ends at the active chain's header at its height. Returns the heights. */
async function expectProofs(h: Harness, commitments: Uint8Array[], ms = 15_000): Promise<number[]> {
  const bodies = await until("proofs for every commitment", ms, async () => {
    const r = await Promise.all(commitments.map((c) => fetchTimestamp(h.url, c)));
    return r.every((x) => x.status === 200) ? r.map((x) => x.body) : null;
  }, h.node);
  return bodies.map((body, i) => {
    const [a] = listAttestations(decodeTimestamp(body, commitments[i] as Uint8Array));
    assert.ok(a && a.attestation.kind === "bitcoin", "a Bitcoin attestation");
    const height = (a.attestation as {height: number}).height;
    const block = h.chain.blockAt(height);
    assert.ok(block, `block ${height} is in the active chain`);
    assert.ok(bytesEqual(a.msg, decodeBlockHeader(block.header).merkleRoot), `proof ${i} ends at block ${height}'s merkle root`);
    return height;
  });
}

/** Mine a block every `everyMs` while `fn` runs. */
async function mining<T>(h: Harness, fn: () => Promise<T>, everyMs = 60): Promise<T> {
  let on = true;
  const loop = (async () => {
    while (on) {
      h.chain.mine(1, MINER);
      await sleep(everyMs);
    }
  })();
  try {
    return await fn();
  } finally {
    on = false;
    await loop;
  }
}

const digest = (): Uint8Array => new Uint8Array(randomBytes(32));

const scenarios = suite("node/stamper scenarios on the simulated chain");

scenarios("should follow an earlier replacement version that a miner confirms :: v1 mined after v2 was broadcast", withTimeout(60_000, async () => {
  const h = await startHarness({stamper: {confirmations: 2}, fundSats: null});
  try {
    const first = [await submit(h.url, digest()), await submit(h.url, digest())];
    h.fund(1_000_000n);
    const [v1] = await waitForVersions(h, 1);
    const v1tx = h.chain.mempoolEntry(v1 as string)?.tx;
    assert.ok(v1tx, "version 1 in the mempool");
    const later = await submit(h.url, digest());
    h.chain.mine(1, MINER, {includeMempool: false});
    const [, v2] = await waitForVersions(h, 2);
    assert.is.not(v2, v1);
    assert.is(inFlightVersions(h.node)[1]?.leaves, 3, "the replacement covers the new commitment too");
    assert.ok(inFlightVersions(h.node)[1]!.feeSats > inFlightVersions(h.node)[0]!.feeSats, "and pays more");

    // A miner that never saw v2 confirms v1.
    const block = h.chain.mineWith([v1tx], MINER);
    assert.is(h.chain.mempoolEntry(v2 as string), null, "v2 is now a conflict");
    const waiting = await until("v1 seen as mined", 10_000, async () => {
      const r = await fetchTimestamp(h.url, first[0] as Uint8Array);
      return r.text.startsWith("Timestamped") ? r.text : null;
    }, h.node);
    assert.is(waiting, `Timestamped by transaction ${v1}; waiting for 2 confirmations`);
    assert.is((await fetchTimestamp(h.url, later)).text, "Pending confirmation in Bitcoin blockchain", "v1 does not cover the later commitment");

    const heights = await mining(h, () => expectProofs(h, [...first, later]));
    assert.is(heights[0], block.height);
    assert.is(heights[1], block.height);
    assert.ok((heights[2] as number) > block.height, "the later commitment went into the next transaction");
    const s = await statusJson(h.url);
    const txids = (s.transactions as Array<{txid: string}>).map((t) => t.txid);
    assert.ok(txids.includes(v1 as string), "v1 is a journaled stamp");
    assert.ok(!txids.includes(v2 as string), "v2 never is");
  } finally {
    await h.close();
  }
}));

scenarios("should put a stamp back to waiting when a reorg before K removes its block, then follow it into the new branch", withTimeout(60_000, async () => {
  const h = await startHarness({stamper: {confirmations: 3}});
  try {
    const c = await submit(h.url, digest());
    const [txid] = await waitForVersions(h, 1);
    const [b1] = h.chain.mine(1, MINER);
    await until("mined", 10_000, async () => (await fetchTimestamp(h.url, c)).text.startsWith("Timestamped"), h.node);

    // Reorg one block away with an empty replacement branch: the tx returns to the mempool.
    h.chain.reorg(1, 2, MINER, {includeMempool: false});
    assert.ok(h.chain.mempoolEntry(txid as string), "the stamp is back in the mempool");
    await until("back to pending", 10_000, async () => {
      const r = await fetchTimestamp(h.url, c);
      return r.text === "Pending confirmation in Bitcoin blockchain" ? r.text : null;
    }, h.node);
    // Waiting for a block again with the same transaction: neither forgotten nor replaced by a new one.
    assert.is(h.node.bitcoin?.stamper.report().waiting.length, 0);
    assert.equal(inFlightVersions(h.node).map((v) => v.txid), [txid], "the same transaction in flight again");
    const pending = await statusJson(h.url);
    assert.is(pending.pending_commitments, 0, "the commitment is still in a transaction");
    assert.is(pending.unanchored_commitments, 1);

    const [height] = await mining(h, () => expectProofs(h, [c]));
    assert.ok((height as number) > b1!.height, "the proof names the block of the new branch");
    assert.ok(h.chain.blockAt(height as number)?.txs.some((t) => t.getId() === txid), "the same transaction, re-mined");
    const health = await healthz(h.url);
    assert.is(health.status, 200);
  } finally {
    await h.close();
  }
}));

scenarios("should follow a stamp into a competing block at the same height :: reorg that re-mines it at once", withTimeout(60_000, async () => {
  const h = await startHarness({stamper: {confirmations: 2}});
  try {
    const c = await submit(h.url, digest());
    const [txid] = await waitForVersions(h, 1);
    const [b1] = h.chain.mine(1, MINER);
    await until("mined", 10_000, async () => (await fetchTimestamp(h.url, c)).text.startsWith("Timestamped"), h.node);
    const change = h.chain.reorg(1, 1, MINER, {includeMempool: true});
    const replacement = change.connected[0];
    assert.ok(replacement && replacement.height === b1!.height && replacement.id !== b1!.id);
    assert.ok(replacement.txs.some((t) => t.getId() === txid), "the competing block holds the same stamp");
    h.chain.mine(1, MINER);
    const [height] = await expectProofs(h, [c]);
    assert.is(height, b1!.height);
  } finally {
    await h.close();
  }
}));

scenarios("should revoke a stamp whose block a reorg deeper than K removes, turn health red, then stamp again", withTimeout(90_000, async () => {
  const h = await startHarness({stamper: {confirmations: 2}});
  try {
    const c = await submit(h.url, digest());
    await waitForVersions(h, 1);
    const [stampBlock] = h.chain.mine(1, MINER);
    h.chain.mine(1, MINER);
    const [before] = await expectProofs(h, [c]);
    assert.is(before, stampBlock!.height);
    assert.is((await healthz(h.url)).status, 200);

    // Three blocks deep, replaced by four empty ones: the stamp had 2 confirmations.
    h.chain.reorg(3, 4, MINER, {includeMempool: false});
    const withdrawn = await until("the proof withdrawn", 10_000, async () => {
      const r = await fetchTimestamp(h.url, c);
      return r.status === 404 ? r.text : null;
    }, h.node);
    assert.is(withdrawn, "Pending confirmation in Bitcoin blockchain");
    const red = await healthz(h.url);
    assert.is(red.status, 503);
    assert.match(red.text, /reorg deeper than 2 confirmations/);
    const s = await statusJson(h.url);
    assert.ok((s.stamper_problems as Array<{kind: string; red: boolean}>).some((p) => p.kind === "deep-reorg" && p.red));
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    assert.match(metrics, /calendar_stamper_deep_reorgs_total 1/);
    assert.match(metrics, /calendar_stamper_problem\{kind="deep-reorg"\} 1/);

    // The chain moves on; the commitment is stamped again and health recovers.
    const [after] = await mining(h, () => expectProofs(h, [c], 30_000));
    assert.ok((after as number) > (before as number));
    await until("health green again", 10_000, async () => (await healthz(h.url)).status === 200, h.node);
  } finally {
    await h.close();
  }
}));

scenarios("should name every stamp a deep reorg removed and their commitments in total :: two stamps in one reorg", withTimeout(90_000, async () => {
  const h = await startHarness({stamper: {confirmations: 2}});
  try {
    const txids: string[] = [];
    const commitments: Uint8Array[] = [];
    for (let i = 0; i < 2; i++) {
      const c = await submit(h.url, digest());
      commitments.push(c);
      const [txid] = await waitForVersions(h, 1);
      txids.push(txid as string);
      h.chain.mine(2, MINER);
      await expectProofs(h, [c]);
    }
    assert.is.not(txids[0], txids[1]);

    // Five blocks deep, both stamp blocks in it, replaced by six empty ones.
    h.chain.reorg(5, 6, MINER, {includeMempool: false});
    const red = await until("both stamps revoked", 10_000, async () => {
      const r = await healthz(h.url);
      return r.status === 503 && txids.every((t) => r.text.includes(t)) ? r : null;
    }, h.node);
    assert.match(red.text, /removed 2 stamps/);
    assert.match(red.text, /; 2 commitments lost their proofs/, "the total of both stamps");
    const s = await statusJson(h.url);
    const deep = (s.stamper_problems as Array<{kind: string; message: string}>).filter((p) => p.kind === "deep-reorg");
    assert.is(deep.length, 1, "one problem of the kind");
    for (const t of txids) assert.ok(deep[0]?.message.includes(t), `the status page names ${t}`);
    assert.match(await (await fetch(`${h.url}/metrics`)).text(), /calendar_stamper_deep_reorgs_total 2/);

    await mining(h, () => expectProofs(h, commitments, 30_000));
    await until("health green again", 10_000, async () => (await healthz(h.url)).status === 200, h.node);
  } finally {
    await h.close();
  }
}));

scenarios("should keep a journaled stamp while bitcoind comes back lower and re-syncs the same blocks :: restart from an older state", withTimeout(60_000, async () => {
  const h = await startHarness({stamper: {confirmations: 2}});
  try {
    const c = await submit(h.url, digest());
    await waitForVersions(h, 1);
    h.chain.mine(2, MINER);
    const [height] = await expectProofs(h, [c]);
    // bitcoind restarted from an old flushed state: height 1, our block unknown to it.
    h.chain.simulateRestart(1);
    await sleep(300);
    // Then syncing (headers ahead of blocks), then the same blocks again and a new one.
    h.chain.simulateRestart(2, {syncing: true});
    await sleep(300);
    h.chain.simulateResync();
    h.chain.mine(1, MINER);
    await sleep(300);
    const r = await fetchTimestamp(h.url, c);
    assert.is(r.status, 200, "the proof is still served");
    assert.is((await healthz(h.url)).status, 200);
    assert.match(await (await fetch(`${h.url}/metrics`)).text(), /calendar_stamper_deep_reorgs_total 0/);
    assert.equal(await expectProofs(h, [c]), [height]);
  } finally {
    await h.close();
  }
}));

scenarios("should keep accepting digests when out of funds, say so, and stamp once funded", withTimeout(60_000, async () => {
  const h = await startHarness({stamper: {confirmations: 2}, fundSats: null});
  try {
    const c = await submit(h.url, digest());
    const warned = await until("the out-of-funds warning", 10_000, async () => {
      const r = await healthz(h.url);
      return r.text.includes("out of funds") ? r : null;
    }, h.node);
    assert.is(warned.status, 200, "degraded, not down: the calendar still takes digests");
    assert.match(warned.text, /^degraded: out of funds: send bitcoin to bcrt1/);
    const s = await statusJson(h.url);
    assert.ok((s.stamper_problems as Array<{kind: string}>).some((p) => p.kind === "funds"));
    assert.is(s.pending_commitments, 1);
    assert.match(await (await fetch(`${h.url}/metrics`)).text(), /calendar_stamper_problem\{kind="funds"\} 1/);
    const more = await submit(h.url, digest());
    await sleep(100);
    assert.is((await fetchTimestamp(h.url, c)).text, "Pending confirmation in Bitcoin blockchain");

    h.fund(500_000n);
    await waitForVersions(h, 1);
    assert.is(inFlightVersions(h.node)[0]?.leaves, 2);
    await mining(h, () => expectProofs(h, [c, more]));
    assert.is((await healthz(h.url)).text, "ok");
    assert.match(await (await fetch(`${h.url}/metrics`)).text(), /calendar_stamper_problem\{kind="funds"\} 0/);
  } finally {
    await h.close();
  }
}));

scenarios("should report a coin too small for the fee as out of funds :: 600 sats", withTimeout(60_000, async () => {
  const h = await startHarness({stamper: {confirmations: 2, fallbackFeeRate: 5}, fundSats: 600n});
  try {
    await submit(h.url, digest());
    const warned = await until("the out-of-funds warning", 10_000, async () => {
      const r = await healthz(h.url);
      return r.text.includes("out of funds") ? r.text : null;
    }, h.node);
    assert.match(warned, /stamping needs \d+ sats/);
    assert.is(inFlightVersions(h.node).length, 0);
  } finally {
    await h.close();
  }
}));

scenarios("should ride out the Bitcoin node going away and stamp when it is back", withTimeout(60_000, async () => {
  const h = await startHarness({stamper: {confirmations: 2}});
  try {
    await h.node.bitcoin?.funding.refresh();
    await h.rpc.stop();
    const c = await submit(h.url, digest());
    const warned = await until("the Bitcoin node warning", 15_000, async () => {
      const r = await healthz(h.url);
      return r.text.includes("Bitcoin node unavailable") ? r : null;
    }, h.node);
    assert.is(warned.status, 200);
    assert.is((await fetchTimestamp(h.url, c)).text, "Pending confirmation in Bitcoin blockchain");
    await h.rpc.start();
    await mining(h, () => expectProofs(h, [c]), 150);
    await until("health ok", 10_000, async () => (await healthz(h.url)).text === "ok", h.node);
  } finally {
    await h.close();
  }
}));

scenarios("should raise the feerate on every block to the maximum by the deadline and stop there", withTimeout(60_000, async () => {
  const fee = {maxFeeRate: 20, deadlineBlocks: 4, maxFeeSats: 100_000n, incrementalRelayFeeRate: 1};
  const h = await startHarness({stamper: {confirmations: 2, fallbackFeeRate: 2, fee}});
  try {
    await submit(h.url, digest());
    await waitForVersions(h, 1);
    for (let n = 2; n <= 5; n++) {
      h.chain.mine(1, MINER, {includeMempool: false});
      await waitForVersions(h, n);
    }
    const rates = inFlightVersions(h.node).map((v) => v.feeRate);
    for (let i = 1; i < rates.length; i++) assert.ok((rates[i] as number) > (rates[i - 1] as number), `monotone: ${rates.join(", ")}`);
    assert.ok(Math.abs((rates[4] as number) - 20) < 0.5, `the maximum at the deadline: ${rates.join(", ")}`);
    assert.ok(rates.every((r) => r <= 20.5), "never above the maximum");
    // At the cap, further blocks bring no new version, only a warning.
    h.chain.mine(1, MINER, {includeMempool: false});
    const warned = await until("the fee-cap warning", 10_000, async () => {
      const r = await healthz(h.url);
      return r.text.includes("fee limit") ? r.text : null;
    }, h.node);
    assert.is(inFlightVersions(h.node).length, 5);
    assert.match(warned, new RegExp(`^degraded: stamp ${inFlightVersions(h.node)[4]!.txid} waits at the fee limit \\(\\d+\\.\\d\\d sat/vB, \\d+ sats\\)`), "names the newest version, its feerate and fee");
    const mempool = inFlightVersions(h.node).filter((v) => h.chain.mempoolEntry(v.txid) !== null);
    assert.is(mempool.length, 1, "only the newest version is in the mempool");
  } finally {
    await h.close();
  }
}));

scenarios("should serve the same proofs after a restart, rebuilt from the journal :: clean stop, then index deleted", withTimeout(60_000, async () => {
  const h = await startHarness({stamper: {confirmations: 2}});
  try {
    const cs = [await submit(h.url, digest()), await submit(h.url, digest()), await submit(h.url, digest())];
    await mining(h, () => expectProofs(h, cs));
    const before = await Promise.all(cs.map((c) => fetchTimestamp(h.url, c)));
    await h.restart();
    const warm = await Promise.all(cs.map((c) => fetchTimestamp(h.url, c)));
    for (const [i, r] of warm.entries()) assert.equal(r.body, before[i]?.body, `proof ${i} after a restart`);
    await h.node.stop();
    await rm(join(h.dir, "data", "index"), {recursive: true});
    await h.restart();
    const rebuilt = await Promise.all(cs.map((c) => fetchTimestamp(h.url, c)));
    for (const [i, r] of rebuilt.entries()) assert.equal(r.body, before[i]?.body, `proof ${i} after an index rebuild`);
    assert.is((await healthz(h.url)).text, "ok");
  } finally {
    await h.close();
  }
}));

/** Rewrite a stopped node's state.json as otsfed's version-1 writer would have written it. */
async function downgradeStateFile(dataDir: string): Promise<void> {
  const path = join(dataDir, "stamper", "state.json");
  type V2 = {version: number; cycles: Array<{versions: Array<Record<string, unknown> & {description: {ranges: unknown; leaves: unknown}}>}>};
  const json = JSON.parse(await readFile(path, "utf8")) as V2;
  const v1 = {
    ...json,
    version: 1,
    cycles: json.cycles.map((c) => ({
      ...c,
      versions: c.versions.map(({description, ...v}) => ({txid: v.txid, tx: v.tx, root: v.root, ranges: description.ranges, leaves: description.leaves, feeRate: v.feeRate, feeSats: v.feeSats, vsize: v.vsize, height: v.height, timeMs: v.timeMs})),
    })),
  };
  await writeFile(path, JSON.stringify(v1, null, 1) + "\n");
}

scenarios("should confirm the stamp in flight across an upgrade from a version-1 state file, losing nothing :: v1 state.json, unconfirmed stamp", withTimeout(60_000, async () => {
  // Funded only once both are in, so that one transaction covers them.
  const h = await startHarness({stamper: {confirmations: 2}, fundSats: null});
  try {
    const cs = [await submit(h.url, digest()), await submit(h.url, digest())];
    h.fund(1_000_000n);
    const [txid] = await waitForVersions(h, 1);
    assert.is(inFlightVersions(h.node)[0]?.leaves, 2);
    // An operator running the old otsfed stops it with this stamp unconfirmed, and upgrades.
    await h.node.stop();
    const dataDir = join(h.dir, "data");
    await downgradeStateFile(dataDir);
    await h.restart();
    assert.equal(inFlightVersions(h.node).map((v) => [v.txid, v.leaves]), [[txid, 2]], "the version-1 cycle is the one in flight");
    const heights = await mining(h, () => expectProofs(h, cs));
    const block = h.chain.blockAt(heights[0] as number);
    assert.ok(block?.txs.some((t) => t.getId() === txid), "proved by the transaction broadcast before the upgrade");
    assert.is(heights[1], heights[0]);
    const s = await statusJson(h.url);
    assert.equal((s.transactions as Array<{txid: string}>).map((t) => t.txid), [txid], "one stamp journaled, no second spend");
    const saved = JSON.parse(await readFile(join(dataDir, "stamper", "state.json"), "utf8")) as {version: number};
    assert.is(saved.version, 2, "rewritten as version 2");
  } finally {
    await h.close();
  }
}));

scenarios.run();
