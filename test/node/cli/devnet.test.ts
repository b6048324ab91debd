import {suite} from "uvu";
import * as assert from "uvu/assert";
import {spawn} from "node:child_process";
import {fileURLToPath} from "node:url";
import {withTimeout} from "../../support/timeout.ts";

const CLI = fileURLToPath(new URL("../../../node/cli/otsfed.ts", import.meta.url));

// ---

const devnet = suite("node/cli otsfed devnet");

devnet("should print one ready line, serve a calendar on the simulated chain and stop cleanly on SIGINT :: --json", withTimeout(60_000, async (signal) => {
  const child = spawn(process.execPath, [CLI, "devnet", "--json", "--block-interval", "500"], {stdio: ["ignore", "pipe", "pipe"], signal});
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    let out = "";
    const ready = await new Promise<{event: string; calendars: string[]; bitcoinRpc: string}>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf("\n");
        if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as {event: string; calendars: string[]; bitcoinRpc: string});
      });
      child.on("exit", (code) => reject(new Error(`devnet exited ${code} before it was ready`)));
    });
    assert.is(ready.event, "ready");
    assert.is(ready.calendars.length, 1);
    assert.match(ready.calendars[0] as string, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(ready.bitcoinRpc, /^http:\/\/[^@]+@127\.0\.0\.1:\d+$/);
    const cal = ready.calendars[0] as string;
    const posted = await fetch(`${cal}/digest`, {method: "POST", body: new Uint8Array(32).fill(9), signal});
    assert.is(posted.status, 200);
    const status = (await (await fetch(`${cal}/`, {headers: {Accept: "application/json"}, signal})).json()) as Record<string, unknown>;
    assert.is(status.bitcoin_chain, "regtest");
    assert.ok((status.balance_sats as number) > 0, "the devnet funds the calendar's stamping address");
    // The simulated chain answers bitcoind's calls.
    const u = new URL(ready.bitcoinRpc);
    const rpc = await fetch(`${u.protocol}//${u.host}/`, {
      method: "POST",
      headers: {Authorization: `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64")}`},
      body: JSON.stringify({jsonrpc: "1.0", id: 1, method: "getblockcount", params: []}),
      signal,
    });
    assert.ok(((await rpc.json()) as {result: number}).result > 100);
    child.kill("SIGINT");
    assert.is(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}));

devnet.run();
