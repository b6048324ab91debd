/**
 * The stamper on the one Service lifecycle, inside a running node on the
 * simulated chain: stopped, it stamps nothing (digests are still accepted);
 * started again, it picks up the rounds committed meanwhile and the cycle it
 * left half-way, and keeps stamping.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {withTimeout} from "../../support/timeout.ts";
import {fetchTimestamp, inFlightVersions, MINER, sleep, startHarness, submit, until, waitForVersions} from "./harness.ts";

const digest = (): Uint8Array => new Uint8Array(randomBytes(32));

// ---
const lifecycle = suite("node/stamper/stamper Stamper lifecycle");

lifecycle("should stamp nothing while stopped, then stamp what came meanwhile and go on :: stop, start, stop mid-cycle, start", withTimeout(60_000, async () => {
  const h = await startHarness({stamper: {confirmations: 2}});
  try {
    const stamper = h.node.bitcoin!.stamper;
    assert.is(stamper.status, "started");
    await Promise.all([stamper.stop(), stamper.stop()]);
    assert.is(stamper.status, "stopped");

    const early = await submit(h.url, digest());
    h.chain.mine(1, MINER);
    // A few poll intervals (40 ms) with nothing to show for them.
    await sleep(200);
    assert.equal(inFlightVersions(h.node), [], "a stopped stamper builds nothing");
    assert.equal(h.chain.mempoolTxids(), []);

    await Promise.all([stamper.start(), stamper.start()]);
    assert.is(stamper.status, "started");
    const [txid] = await waitForVersions(h, 1);
    assert.is(inFlightVersions(h.node)[0]?.leaves, 1, "the round committed while stopped");

    // Stopped half-way: broadcast, not yet confirmed.
    await stamper.stop();
    const [block] = h.chain.mine(1, MINER);
    assert.ok(block?.txs.some((t) => t.getId() === txid), "mined while the stamper was stopped");
    const late = await submit(h.url, digest());
    await stamper.start();
    h.chain.mine(1, MINER);
    const proof = await until("the early commitment's proof", 15_000, async () => {
      const r = await fetchTimestamp(h.url, early);
      return r.status === 200 ? r : null;
    }, h.node);
    assert.is(proof.status, 200);
    assert.is((await fetchTimestamp(h.url, late)).text, "Pending confirmation in Bitcoin blockchain", "the later one waits for the next transaction");
    await waitForVersions(h, 1);
    assert.is(inFlightVersions(h.node)[0]?.leaves, 1, "the next transaction holds the round committed after the restart");
    h.chain.mine(2, MINER);
    await until("the late commitment's proof", 15_000, async () => (await fetchTimestamp(h.url, late)).status === 200, h.node);
  } finally {
    await h.close();
  }
}));

lifecycle.run();
