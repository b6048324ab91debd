/**
 * The node as operators run it: `otsfed node` in a child process, killed
 * with SIGKILL under load, stopped with SIGTERM, started on a damaged journal.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {readFile, writeFile} from "node:fs/promises";
import {join} from "node:path";
import {bytesEqual, toHex} from "../../../protocol/ots/bytes.ts";
import {segmentFileName} from "../../../node/calendar/journal-store.ts";
import {verifyJournal} from "../../../node/calendar/verify.ts";
import {withTimeout} from "../../support/timeout.ts";
import {getTimestamp, killChild, postDigest, proofLeaf, removeDir, spawnNode, startChildNode, tempDir} from "./support.ts";
import type {ChildNode} from "./support.ts";

type Acked = {digest: Uint8Array; proof: Uint8Array};

/** Post random digests from `workers` loops until `stop` is set; collect every 200, telling `onAck` after each. */
async function load(url: string, workers: number, acked: Acked[], stop: {done: boolean}, onAck: () => void = () => {}): Promise<void> {
  await Promise.all(
    Array.from({length: workers}, async () => {
      while (!stop.done) {
        const digest = new Uint8Array(randomBytes(32));
        try {
          const r = await postDigest(url, digest);
          if (r.status === 200) {
            acked.push({digest, proof: r.body});
            onAck();
          }
        } catch {
          return; // the node is gone
        }
      }
    }),
  );
}

/** Every acknowledged digest: its proof evaluates to a commitment the node reports pending. */
async function checkAllPending(url: string, acked: Acked[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({length: 8}, async () => {
      while (next < acked.length) {
        const a = acked[next++] as Acked;
        const leaf = proofLeaf(a.proof, a.digest);
        const g = await getTimestamp(url, leaf.msg);
        assert.is(g.text, "Pending confirmation in Bitcoin blockchain", `acknowledged digest ${toHex(a.digest)} lost`);
      }
    }),
  );
}

/** The node's status page as JSON. */
async function statusJson(url: string): Promise<{queue_depth: number}> {
  return (await (await fetch(`${url}/`, {headers: {Accept: "application/json"}})).json()) as {queue_depth: number};
}

// ---
const Daemon = suite("node/cli/commands/node otsfed node (child process)");

Daemon("should never lose an acknowledged digest when SIGKILLed under load :: 4 kills at random moments", withTimeout(120_000, async (signal) => {
  const dir = await tempDir();
  const acked: Acked[] = [];
  let child: ChildNode | null = null;
  try {
    for (let round = 0; round < 4; round++) {
      child = await startChildNode(dir, signal);
      await checkAllPending(child.url, acked);
      const before = acked.length;
      const stop = {done: false};
      // A random moment under load: after a random number of acknowledgements, mid-round or between rounds.
      const killAt = before + 20 + Math.floor(Math.random() * 400);
      let reached = (): void => {};
      const killTime = new Promise<void>((r) => (reached = r));
      const running = load(child.url, 16, acked, stop, () => acked.length >= killAt && reached());
      await Promise.race([killTime, running]);
      child.proc.kill("SIGKILL");
      const exit = await child.exited;
      assert.is(exit.signal, "SIGKILL");
      stop.done = true;
      await running;
      assert.ok(acked.length > before, `round ${round}: some digests were acknowledged before the kill`);
    }
    child = await startChildNode(dir, signal);
    await checkAllPending(child.url, acked);
    await killChild(child, "SIGTERM");
    const r = await verifyJournal(dir);
    assert.equal(r.problems, []);
  } finally {
    if (child) await killChild(child);
    await removeDir(dir);
  }
}));

Daemon("should finish the round in flight and exit 0 on SIGTERM :: queued digests all answered", withTimeout(60_000, async (signal) => {
  const dir = await tempDir();
  let child: ChildNode | null = null;
  try {
    child = await startChildNode(dir, signal, ["--round-interval", "1s"]);
    const url = child.url;
    // The first digest opens a round at once; the next ones wait for the interval.
    assert.is((await postDigest(url, new Uint8Array(32))).status, 200);
    const digests = Array.from({length: 20}, () => new Uint8Array(randomBytes(32)));
    const replies = digests.map((d) => postDigest(url, d));
    // SIGTERM once all twenty wait in the queue for the next round.
    while ((await statusJson(url)).queue_depth < digests.length) signal.throwIfAborted();
    child.proc.kill("SIGTERM");
    const answered = await Promise.all(replies);
    const exit = await child.exited;
    assert.is(exit.code, 0, child.stderr.join(""));
    assert.equal(answered.map((a) => a.status), digests.map(() => 200));
    assert.ok(child.logs.some((l) => l.includes('"calendar node stopped"')));
    child = await startChildNode(dir, signal);
    for (const [i, a] of answered.entries()) {
      const leaf = proofLeaf(a.body, digests[i] as Uint8Array);
      assert.is((await getTimestamp(child.url, leaf.msg)).text, "Pending confirmation in Bitcoin blockchain");
    }
    await killChild(child, "SIGTERM");
    const r = await verifyJournal(dir);
    assert.equal(r.problems, []);
    assert.ok(r.checkpointsVerified >= 1, "latest.ckpt written at the clean stop");
  } finally {
    if (child) await killChild(child);
    await removeDir(dir);
  }
}));

Daemon("should refuse to start on a corrupted journal naming segment and offset :: exit 1", withTimeout(60_000, async (signal) => {
  const dir = await tempDir();
  let child: ChildNode | null = null;
  try {
    child = await startChildNode(dir, signal);
    for (let i = 0; i < 5; i++) await postDigest(child.url, new Uint8Array(32).fill(i));
    await killChild(child, "SIGTERM");
    child = null;
    const seg = join(dir, "journal", segmentFileName(0));
    const bytes = await readFile(seg);
    const at = bytes.length - 60;
    bytes[at] = (bytes[at] as number) ^ 0x10;
    await writeFile(seg, bytes);
    const c = spawnNode(["--data-dir", dir, "--listen", "127.0.0.1:0"]);
    const exit = await c.exited;
    assert.is(exit.code, 1);
    const err = c.stderr.join("");
    assert.ok(err.includes(`journal segment ${segmentFileName(0)} at offset`), err);
    assert.ok(err.includes("JOURNAL_CHECKSUM_MISMATCH"), err);
    // Nothing was changed by the refusal.
    assert.ok(bytesEqual(new Uint8Array(await readFile(seg)), new Uint8Array(bytes)));
  } finally {
    if (child) await killChild(child);
    await removeDir(dir);
  }
}));

Daemon("should fail at start with a clear message on bad configuration :: unknown key, bad flag value", withTimeout(30_000, async () => {
  const dir = await tempDir();
  try {
    const cfg = join(dir, "node.json");
    await writeFile(cfg, JSON.stringify({dataDir: dir, listn: "127.0.0.1:1"}));
    const a = spawnNode(["--config", cfg]);
    const b = spawnNode(["--data-dir", dir, "--max-queue", "zero"]);
    const [aExit, bExit] = await Promise.all([a.exited, b.exited]);
    assert.is(aExit.code, 2);
    assert.ok(a.stderr.join("").includes(`config file ${cfg}: unknown key 'listn'`), a.stderr.join(""));
    assert.is(bExit.code, 2);
    assert.ok(b.stderr.join("").includes("flag --max-queue: must be an integer"), b.stderr.join(""));
  } finally {
    await removeDir(dir);
  }
}));

Daemon.run();
