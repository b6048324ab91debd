import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {systemClock} from "../../node/clock.ts";
import {nullLogger} from "../../node/logger.ts";
import {CalendarNode} from "../../node/node.ts";
import {withTimeout} from "../support/timeout.ts";
import {getTimestamp, postDigest, proofLeaf, removeDir, tempDir, testOptions} from "./calendar/support.ts";

// ---
const node = suite("node/node CalendarNode");

node("should stop and start again on the same data dir, answering for what it acknowledged :: restartable", withTimeout(30_000, async () => {
  const dir = await tempDir();
  try {
    const n = await CalendarNode.init(testOptions(dir), {logger: nullLogger, clock: systemClock, bitcoin: null});
    const first = await n.start();
    assert.is(n.status, "started");
    const digest = new Uint8Array(randomBytes(32));
    const r = await postDigest(first.url, digest);
    assert.is(r.status, 200);
    const commitment = proofLeaf(r.body, digest).msg;
    assert.equal(await n.start(), first, "starting a started node is a no-op with the same address");
    await n.stop();
    assert.is(n.status, "stopped");
    await n.stop();
    const second = await n.start();
    try {
      assert.is(n.calendar.length, 1, "the journal was reopened");
      assert.is((await getTimestamp(second.url, commitment)).text, "Pending confirmation in Bitcoin blockchain");
      const again = await postDigest(second.url, new Uint8Array(randomBytes(32)));
      assert.is(again.status, 200);
      assert.is(n.calendar.length, 2);
    } finally {
      await n.stop();
    }
  } finally {
    await removeDir(dir);
  }
}));

node.run();
