import {suite} from "uvu";
import * as assert from "uvu/assert";
import {spawn} from "node:child_process";
import {randomBytes} from "node:crypto";
import {fileURLToPath} from "node:url";
import {toHex} from "../../../protocol/ots/bytes.ts";
import {proofLeaf} from "../calendar/support.ts";
import {withTimeout} from "../../support/timeout.ts";

const CLI = fileURLToPath(new URL("../../../node/cli/otsfed.ts", import.meta.url));

type Ready = {event: string; calendars: string[]; bitcoinRpc: string; federation: string; nodes: Array<{url: string; p2p: string[]; pid: number; dataDir: string}>};

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const test = suite("node/cli otsfed devnet --nodes 3");

test(
  "three calendars, each its own process: stamped at node 0, the complete proof served alike by nodes 1 and 2, node 0 killed and node 1 still answers, all stopped with the parent",
  withTimeout(120_000, async (signal) => {
    const child = spawn(process.execPath, [CLI, "devnet", "--nodes", "3", "--json", "--block-interval", "500"], {stdio: ["ignore", "pipe", "pipe"], signal});
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    let pids: number[] = [];
    try {
      let out = "";
      const ready = await new Promise<Ready>((resolve, reject) => {
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          const nl = out.indexOf("\n");
          if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as Ready);
        });
        child.stderr.resume();
        child.on("exit", (code) => reject(new Error(`devnet exited ${code} before it was ready`)));
      });
      assert.is(ready.event, "ready");
      assert.is(ready.nodes.length, 3);
      assert.equal(ready.calendars, ready.nodes.map((n) => n.url));
      pids = ready.nodes.map((n) => n.pid);
      for (const n of ready.nodes) {
        assert.match(n.url, /^http:\/\/127\.0\.0\.1:\d+$/);
        assert.match(n.p2p[0] as string, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/);
        assert.ok(n.pid > 0 && n.pid !== child.pid && alive(n.pid), "its own process");
        assert.match(n.dataDir, /node\d$/);
      }
      const [a, b, c] = ready.nodes as [Ready["nodes"][number], Ready["nodes"][number], Ready["nodes"][number]];
      const digest = randomBytes(32);
      const posted = await fetch(`${a.url}/digest`, {method: "POST", body: digest, signal});
      assert.is(posted.status, 200);
      const hex = toHex(proofLeaf(new Uint8Array(await posted.arrayBuffer()), digest).msg);
      // Node 0 stamps its calendar; its STAMP record reaches the others, which then serve the same proof.
      let proofs: Uint8Array[] = [];
      for (let i = 0; i < 400; i++) {
        const rs = await Promise.all([a, b, c].map((n) => fetch(`${n.url}/timestamp/${hex}`, {signal})));
        if (rs.every((r) => r.status === 200)) {
          proofs = await Promise.all(rs.map(async (r) => new Uint8Array(await r.arrayBuffer())));
          break;
        }
        await Promise.all(rs.map((r) => r.arrayBuffer()));
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.is(proofs.length, 3, "a complete proof at every node");
      assert.equal(toHex(proofs[1]!), toHex(proofs[0]!));
      assert.equal(toHex(proofs[2]!), toHex(proofs[0]!));
      // Node 0 dies; node 1 still answers for its commitment.
      process.kill(a.pid, "SIGKILL");
      for (let i = 0; i < 100 && alive(a.pid); i++) await new Promise((r) => setTimeout(r, 50));
      assert.not.ok(alive(a.pid));
      const after = await fetch(`${b.url}/timestamp/${hex}`, {signal});
      assert.is(after.status, 200);
      assert.equal(toHex(new Uint8Array(await after.arrayBuffer())), toHex(proofs[0]!));
      child.kill("SIGINT");
      assert.is(await exited, 0);
      for (const pid of pids) assert.not.ok(alive(pid), `node ${pid} stopped with the parent`);
    } finally {
      child.kill("SIGKILL");
      for (const pid of pids) if (alive(pid)) process.kill(pid, "SIGKILL");
    }
  }),
);

test.run();
