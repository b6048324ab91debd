import {suite} from "uvu";
import * as assert from "uvu/assert";
import {spawn} from "node:child_process";
import {toHex} from "../../../protocol/ots/bytes.ts";
import {proofLeaf} from "../calendar/support.ts";
import {fileURLToPath} from "node:url";
import {withTimeout} from "../../support/timeout.ts";

const CLI = fileURLToPath(new URL("../../../node/cli/otsfed.ts", import.meta.url));

/** A JSON-RPC call to the simulated chain, authenticating with the URL's user and password as bitcoind clients do. */
async function rpcCall(rpcUrl: string, method: string, params: unknown[], signal: AbortSignal, path = "/"): Promise<unknown> {
  const u = new URL(rpcUrl);
  const res = await fetch(`${u.protocol}//${u.host}${path}`, {
    method: "POST",
    headers: {Authorization: `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64")}`},
    body: JSON.stringify({jsonrpc: "1.0", id: 1, method, params}),
    signal,
  });
  const body = (await res.json()) as {result: unknown; error: unknown};
  if (body.error !== null) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
  return body.result;
}

// ---

const devnet = suite("node/cli otsfed devnet");

devnet("should print one ready line, serve a calendar on the simulated chain and stop cleanly on SIGINT :: --json", withTimeout(60_000, async (signal) => {
  const child = spawn(process.execPath, [CLI, "devnet", "--nodes", "1", "--json", "--block-interval", "500"], {stdio: ["ignore", "pipe", "pipe"], signal});
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
    // Funded and confirmed before ready (the stamper spends only confirmed
    // coins); checked before any digest arrives, so nothing has been stamped.
    const status = (await (await fetch(`${cal}/`, {headers: {Accept: "application/json"}, signal})).json()) as Record<string, unknown>;
    assert.is(status.bitcoin_chain, "regtest");
    assert.ok((status.balance_sats as number) > 0, "the devnet funds the calendar's stamping address");
    const confirmed = (await rpcCall(ready.bitcoinRpc, "listunspent", [1, 9_999_999, [status.address]], signal, "/wallet/otsfed")) as Array<{confirmations: number}>;
    assert.ok(confirmed.length > 0 && confirmed.every((u) => u.confirmations >= 1), "the funding is confirmed by the time the devnet is ready");
    const digest = new Uint8Array(32).fill(9);
    const posted = await fetch(`${cal}/digest`, {method: "POST", body: digest, signal});
    assert.is(posted.status, 200);
    // The devnet stamps on its own: the proof completes a few blocks later.
    const commitment = proofLeaf(new Uint8Array(await posted.arrayBuffer()), digest).msg;
    let proof: Response | null = null;
    for (let i = 0; i < 300 && proof?.status !== 200; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      proof = await fetch(`${cal}/timestamp/${toHex(commitment)}`, {signal});
      await proof.arrayBuffer();
    }
    assert.is(proof?.status, 200, "the devnet completed the proof");
    // The simulated chain answers bitcoind's calls.
    assert.ok((await rpcCall(ready.bitcoinRpc, "getblockcount", [], signal)) as number > 100);
    child.kill("SIGINT");
    assert.is(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}));

devnet("should print copy-paste commands with the real calendar and RPC URLs, which serve :: human output", withTimeout(60_000, async (signal) => {
  const child = spawn(process.execPath, [CLI, "devnet", "--nodes", "1", "--block-interval", "500", "--log-level", "warn"], {stdio: ["ignore", "pipe", "pipe"], signal});
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    const text = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("Ctrl-C stops everything.")) resolve(out);
      });
      child.on("exit", (code) => reject(new Error(`devnet exited ${code} before it was ready: ${out}`)));
    });
    const cal = /calendar: +(http:\/\/127\.0\.0\.1:\d+) /.exec(text)?.[1];
    const rpc = /simulated chain: +(http:\/\/[^@\s]+@127\.0\.0\.1:\d+) /.exec(text)?.[1];
    if (cal === undefined || rpc === undefined) throw new Error(`no calendar or RPC URL in:\n${text}`);
    const lines = text.split("\n").map((l) => l.trim());
    // The reference client: -m 1 with one calendar; --whitelist and
    // --bitcoin-node are global options, before the subcommand.
    assert.ok(lines.includes(`ots stamp -c ${cal} -m 1 FILE`), text);
    assert.ok(lines.some((l) => l.startsWith(`ots --whitelist ${cal} upgrade FILE.ots`)), text);
    assert.match(text, `ots upgrade -c ${cal} FILE.ots`);
    assert.ok(lines.includes(`ots --whitelist ${cal} --bitcoin-node ${rpc} verify FILE.ots`), text);
    assert.ok(lines.includes(`npx otsfed verify --bitcoin-rpc ${rpc} FILE.ots`), text);
    assert.match(text, "2 confirmations");
    assert.not.match(text, /stamper is not built|stay 'Pending/);
    // The printed URLs are the ones that serve.
    const status = (await (await fetch(`${cal}/`, {headers: {Accept: "application/json"}, signal})).json()) as Record<string, unknown>;
    assert.is(status.uri, cal);
    assert.ok((await rpcCall(rpc, "getblockcount", [], signal)) as number > 100);
    child.kill("SIGINT");
    assert.is(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}));

devnet("should run a stand-alone aggregator in front of the calendar whose proofs the calendar completes :: --aggregator --json", withTimeout(60_000, async (signal) => {
  const child = spawn(process.execPath, [CLI, "devnet", "--nodes", "1", "--json", "--aggregator", "--block-interval", "500"], {stdio: ["ignore", "pipe", "pipe"], signal});
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    let out = "";
    const ready = await new Promise<{event: string; calendars: string[]; aggregator: string}>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf("\n");
        if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as {event: string; calendars: string[]; aggregator: string});
      });
      child.on("exit", (code) => reject(new Error(`devnet exited ${code} before it was ready`)));
    });
    assert.is(ready.event, "ready");
    assert.match(ready.aggregator, /^http:\/\/127\.0\.0\.1:\d+$/);
    const cal = ready.calendars[0] as string;
    assert.is.not(ready.aggregator, cal);
    const digest = new Uint8Array(32).fill(7);
    const posted = await fetch(`${ready.aggregator}/digest`, {method: "POST", body: digest, signal});
    assert.is(posted.status, 200);
    // The proof goes through the aggregator's round to the calendar, whose Pending attestation it ends in.
    const commitment = proofLeaf(new Uint8Array(await posted.arrayBuffer()), digest).msg;
    const status = (await (await fetch(`${ready.aggregator}/`, {headers: {Accept: "application/json"}, signal})).json()) as {upstreams: Array<{url: string}>};
    assert.equal(status.upstreams.map((u) => u.url), [cal]);
    let proof: Response | null = null;
    for (let i = 0; i < 300 && proof?.status !== 200; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      proof = await fetch(`${cal}/timestamp/${toHex(commitment)}`, {signal});
      await proof.arrayBuffer();
    }
    assert.is(proof?.status, 200, "the calendar completed the proof of the aggregator's round");
    child.kill("SIGINT");
    assert.is(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}));

devnet.run();
