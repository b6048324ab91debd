/**
 * `npm run bench -- query [SECONDS] [CONNECTIONS] [ROUNDS] [--cpu-prof]`:
 * GET /timestamp/<commitment> for completed proofs, 64 keep-alive
 * connections (default) asking for random stamped commitments for SECONDS
 * (default 10, after a 1 s warm-up), first against a bare node:http server
 * answering a fixed 1,100-byte body (this machine's ceiling), then against a
 * calendar node (`otsfed node`) whose ROUNDS (default 100,000) commitments
 * are all stamped (one transaction, K = 6 confirmations on the simulated
 * chain, as in bench/stamp.ts). Each server runs in its own child process;
 * this process is the load generator (as in bench/ingest.ts). Prints
 * requests/s, p50/p99 latency, the ratio node/ceiling and the node's peak
 * RSS. Targets (issue): >= 15,000/s, ratio >= 0.5. Measures only.
 * `--cpu-prof` writes the node's CPU profile to $TMPDIR/otsfed-bench-profiles/.
 */
import {mkdtemp, rm} from "node:fs/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {firstOk, statusUntil} from "./_calendar-client.ts";
import {ChildServer, startCalendarNode} from "./_child.ts";
import {drive} from "./_load.ts";
import type {Run} from "./_load.ts";
import {commitmentHex, writeRoundJournal} from "./_rounds.ts";
import {SimulatedBitcoin} from "../node/bitcoin/sim/simulated-bitcoin.ts";
import {systemClock} from "../node/clock.ts";
import type {Figures} from "./run.ts";

const CONFIRMATIONS = 6;
/** About a complete proof from a million-leaf stamp (bench/stamp.ts measures ~850 bytes) plus headroom. */
const CEILING_BODY_BYTES = 1_100;

const CEILING_SERVER = `
import {createServer} from "node:http";
const body = Buffer.alloc(${CEILING_BODY_BYTES}, 0xab);
const s = createServer({keepAlive: true}, (req, res) => {
  res.writeHead(200, {"Content-Type": "application/octet-stream", "Content-Length": body.length});
  res.end(body);
});
s.listen(0, "127.0.0.1", () => console.log(JSON.stringify({msg: "ceiling listening", url: "http://127.0.0.1:" + s.address().port})));
`;

const pct = (x: number): string => `${Math.round(x * 100)}%`;

function describeRun(label: string, r: Run): string {
  return `${label} ${Math.round(r.perSecond)} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, body ${r.meanBytes.toFixed(0)} bytes, RSS ${r.peakRssMb.toFixed(0)} MB; CPU server ${pct(r.serverCpu)}, load generator ${pct(r.clientCpu)} of a core; non-200 ${r.non200}, errors ${r.errors}`;
}

export async function main(args: string[]): Promise<Figures> {
  const positional = args.filter((a) => !a.startsWith("--"));
  const seconds = Number(positional[0] ?? 10);
  const connections = Number(positional[1] ?? 64);
  const rounds = Number(positional[2] ?? 100_000);
  const profileDir = join(tmpdir(), "otsfed-bench-profiles");
  const nodeFlags = args.includes("--cpu-prof") ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  if (nodeFlags.length > 0) console.log(`node CPU profiles go to ${profileDir}`);
  console.log(`query: ${connections} keep-alive connections, ${seconds} s per server (after 1 s warm-up), ${rounds} stamped commitments`);

  const ceiling = new ChildServer(["--input-type=module", "-e", CEILING_SERVER]);
  const ceilingUrl = (await ceiling.waitFor("ceiling listening")).obj.url as string;
  // A request line as long as the node's (a 44-byte commitment in hex); the body ignores it.
  const ceilingPath = `/timestamp/${"00".repeat(44)}`;
  let c: Run;
  try {
    c = await drive(ceilingUrl, seconds, connections, () => ceilingPath, {rssMb: () => ceiling.memory().rssMb, cpuSeconds: () => ceiling.cpuSeconds()});
  } finally {
    await ceiling.stop();
  }
  console.log(describeRun(`ceiling (bare node:http, ${CEILING_BODY_BYTES}-byte body):`, c));

  const base = await mkdtemp(join(tmpdir(), "otsfed-bench-query-"));
  const dataDir = join(base, "calendar");
  const bitcoin = await SimulatedBitcoin.start({minerSeed: "bench miner"}, {clock: systemClock});
  let node: ChildServer | null = null;
  try {
    const journal = await writeRoundJournal(dataDir, rounds);
    const paths = Array.from({length: rounds}, (_, seq) => `/timestamp/${commitmentHex(journal, seq)}`);
    // Production's poll interval, so the stamper's polling weighs what it will.
    const started = await startCalendarNode(["--data-dir", dataDir, "--listen", "127.0.0.1:0", "--bitcoin-rpc", bitcoin.url, "--stamp-interval", "1s", "--confirmations", String(CONFIRMATIONS), "--log-level", "info"], nodeFlags);
    node = started.server;
    const url = started.url;
    const address = (await statusUntil(url, (s) => typeof s.address === "string" && s.address.length > 0)).address as string;
    bitcoin.fund(address, 10_000_000n);
    // The version shows in the status once saved, before it is sent: wait for the broadcast itself.
    const sent = await node.waitFor("stamper: stamp transaction broadcast", 120_000);
    if (sent.obj.commitments !== rounds) throw new Error(`the stamp covers ${String(sent.obj.commitments)} commitments, expected ${rounds}`);
    const [block] = bitcoin.mine(CONFIRMATIONS);
    if (!block || block.txs.length < 2) throw new Error("the block did not take the stamp transaction");
    await node.waitFor("stamper: stamp confirmed; proofs served", 120_000);
    await firstOk(url, paths[0] as string);
    console.log(`  ${rounds} commitments stamped; serving their proofs`);

    const served = node;
    const r = await drive(url, seconds, connections, () => paths[Math.floor(Math.random() * rounds)] as string, {rssMb: () => served.memory().rssMb, cpuSeconds: () => served.cpuSeconds()});
    const ratio = r.perSecond / c.perSecond;
    console.log(describeRun("calendar node, completed proofs:", r));
    console.log(`ratio node/ceiling ${ratio.toFixed(2)}   (targets: >= 15000 req/s, ratio >= 0.5)`);
    return {
      seconds,
      connections,
      rounds,
      ceiling_per_s: Math.round(c.perSecond),
      ceiling_p50_ms: Number(c.p50.toFixed(2)),
      ceiling_p99_ms: Number(c.p99.toFixed(2)),
      ceiling_server_cpu: Number(c.serverCpu.toFixed(2)),
      ceiling_client_cpu: Number(c.clientCpu.toFixed(2)),
      requests_per_s: Math.round(r.perSecond),
      p50_ms: Number(r.p50.toFixed(2)),
      p99_ms: Number(r.p99.toFixed(2)),
      proof_mean_bytes: Number(r.meanBytes.toFixed(1)),
      node_cpu: Number(r.serverCpu.toFixed(2)),
      client_cpu: Number(r.clientCpu.toFixed(2)),
      ratio: Number(ratio.toFixed(3)),
      rss_mb: Math.round(r.peakRssMb),
      errors: r.errors,
      non_200: r.non200,
    };
  } finally {
    await node?.stop();
    await bitcoin.stop();
    await rm(base, {recursive: true, force: true});
  }
}
