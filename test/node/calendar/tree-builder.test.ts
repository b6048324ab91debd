import {suite} from "uvu";
import * as assert from "uvu/assert";
import {FlatMerkleTree} from "../../../protocol/ots/flat-merkle.ts";
import {buildMerkleTree, OFF_THREAD_LEAVES} from "../../../node/calendar/tree-builder.ts";
import {Rng} from "../../support/rng.ts";
import {withTimeout} from "../../support/timeout.ts";

const builder = suite("node/calendar tree-builder: big trees hashed on a worker thread");

builder("should give the same tree on a worker as inline :: sizes around the threshold", withTimeout(60_000, async () => {
  const rng = new Rng(4242);
  for (const n of [1, 3, OFF_THREAD_LEAVES - 1, OFF_THREAD_LEAVES, OFF_THREAD_LEAVES + 1, 3 * OFF_THREAD_LEAVES + 7]) {
    const leaves = rng.bytes(n * 32);
    const built = await buildMerkleTree(leaves);
    const inline = new FlatMerkleTree(leaves.slice());
    assert.equal(built.root, inline.root, `root of ${n}`);
    for (const i of [0, n - 1, Math.floor(n / 2)]) assert.equal(built.pathBytes(i), inline.pathBytes(i), `path ${i} of ${n}`);
    assert.ok(built.leaf(0).buffer === leaves.buffer, "the leaves are kept as level 0, not copied");
  }
}));

builder("should keep the event loop free while a big tree is hashed :: timer fires during a 200,000-leaf build", withTimeout(60_000, async () => {
  const leaves = new Rng(7).bytes(200_000 * 32);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  try {
    await buildMerkleTree(leaves);
  } finally {
    clearInterval(timer);
  }
  // Inline, the build would run as one synchronous block and no timer could fire.
  assert.ok(ticks > 0, `timer ticks during the build: ${ticks}`);
}));

builder.run();
