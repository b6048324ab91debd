/**
 * `npm run bench -- stamp [ROUNDS] [CONNECTIONS] [--cpu-prof]`: 1,000,000
 * pending commitments (default) anchored by one Bitcoin transaction, and
 * how soon their proofs are served once it has K = 6 confirmations.
 *
 * The calendar node runs as `otsfed node` in a child process (so its peak
 * RSS, the kernel's VmHWM, is its own), stamping through its Core backend
 * against the simulated chain's JSON-RPC in this process, which mines when
 * told. The data dir is written directly with ROUNDS rounds (as the reindex
 * bench does). Then:
 *
 *   - the node starts (index rebuild, stamper loads the unanchored rounds);
 *   - its address is funded (one block): the stamper builds the ROUNDS-leaf
 *     tree and the transaction and broadcasts it;
 *   - a block takes it, 4 more follow (each seen by the stamper, as blocks
 *     ten minutes apart would be), then the 6th: t0;
 *   - (a) t0 → the first GET /timestamp/<commitment> answering 200, polled
 *     every 10 ms. All proofs become servable at once (with the STAMP record),
 *     so this is the time from the K-th confirmation to every proof served;
 *   - (b) every one of the ROUNDS proofs fetched over CONNECTIONS keep-alive
 *     connections: each must be 200 and < 10,000 bytes; then 1,000 of
 *     them, at random, are checked end to end against the block;
 *   - (c) the node restarted: spawn → listening → first 200, the proof tree
 *     rebuilt from the journal on that first request (cold);
 *   - (d) peak RSS of the node process, first run and restarted run.
 *
 * Targets (issue): (a) <= 10 s, (d) <= 1 GB. Measures only.
 * `--cpu-prof` writes the node's CPU profiles (one per run) to $TMPDIR/otsfed-bench-profiles/.
 */
import {mkdtemp, rm} from "node:fs/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {fromHex} from "../protocol/ots/bytes.ts";
import {statusUntil, firstOk} from "./_calendar-client.ts";
import {startCalendarNode} from "./_child.ts";
import type {ChildServer} from "./_child.ts";
import {sweep} from "./_load.ts";
import {checkStampProof} from "./_verify-proof.ts";
import {commitmentHex, writeRoundJournal} from "./_rounds.ts";
import {SimulatedBitcoin} from "../node/bitcoin/sim/simulated-bitcoin.ts";
import {systemClock} from "../node/clock.ts";
import type {Figures} from "./run.ts";

const CONFIRMATIONS = 6;
const MAX_PROOF_BYTES = 10_000;
/** Proofs checked end to end after the sweep. */
const VERIFY_SAMPLE = 1_000;

const s2 = (ms: number): number => Number((ms / 1000).toFixed(2));

/** When the start-up log lines arrived, seconds after spawn: where a start spends its time. */
function startPhases(node: ChildServer): string {
  const phases: Array<[string, string]> = [
    ["journal opened", "journal verified"],
    ["index ready", "index ready"],
    ["stamper loaded", "stamper loaded"],
    ["calendar node started", "listening"],
  ];
  return phases
    .map(([msg, label]) => {
      const l = node.lines.find((x) => x.msg === msg);
      return l ? `${label} ${((l.at - node.spawnedAt) / 1000).toFixed(2)} s` : null;
    })
    .filter((x) => x !== null)
    .join(", ");
}

export async function main(args: string[]): Promise<Figures> {
  const positional = args.filter((a) => !a.startsWith("--"));
  const rounds = Number(positional[0] ?? 1_000_000);
  const connections = Number(positional[1] ?? 64);
  const profileDir = join(tmpdir(), "otsfed-bench-profiles");
  const nodeFlags = args.includes("--cpu-prof") ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  if (nodeFlags.length > 0) console.log(`node CPU profiles go to ${profileDir}`);
  const base = await mkdtemp(join(tmpdir(), "otsfed-bench-stamp-"));
  const dataDir = join(base, "calendar");
  const bitcoin = await SimulatedBitcoin.start({minerSeed: "bench miner"}, {clock: systemClock});
  let node: ChildServer | null = null;
  try {
    console.log(`stamp: ${rounds} rounds in ${dataDir}, K = ${CONFIRMATIONS}, ${connections} connections for the sweep`);
    const journal = await writeRoundJournal(dataDir, rounds);
    console.log(`  journal written in ${journal.seconds.toFixed(1)} s (${(journal.bytes / 1e6).toFixed(1)} MB)`);
    const path = (seq: number): string => `/timestamp/${commitmentHex(journal, seq)}`;
    const probe = path(Math.floor(Math.random() * rounds));
    // `--stamp-interval 1s` is the least the CLI takes; the first cycle starts at once either way (as with 0).
    const nodeArgs = ["--data-dir", dataDir, "--listen", "127.0.0.1:0", "--bitcoin-rpc", bitcoin.url, "--stamp-interval", "1s", "--confirmations", String(CONFIRMATIONS), "--bitcoin-poll-interval", "100ms", "--log-level", "info"];

    // --- start: index rebuild, stamper load ---
    const first = await startCalendarNode(nodeArgs, nodeFlags);
    node = first.server;
    const url = first.url;
    const logTime = (msg: string): number => node?.lines.find((l) => l.msg === msg)?.time ?? NaN;
    const indexReady = node.lines.find((l) => l.msg === "index ready");
    const startS = (first.startedAt - node.spawnedAt) / 1000;
    const loadMs = logTime("stamper loaded") - logTime("index ready");
    console.log(`  node listening ${startS.toFixed(2)} s after spawn (index ${String(indexReady?.obj.mode)} ${Number(indexReady?.obj.seconds ?? 0).toFixed(2)} s; stamper load of ${rounds} unanchored rounds ${(loadMs / 1000).toFixed(2)} s); RSS ${node.memory().rssMb.toFixed(0)} MB`);
    console.log(`      after spawn: ${startPhases(node)}`);

    // --- fund, then the first broadcast: tree + transaction ---
    const address = (await statusUntil(url, (s) => typeof s.address === "string" && s.address.length > 0)).address as string;
    bitcoin.fund(address, 10_000_000n);
    const funded = performance.now();
    const inFlight = await statusUntil(url, (s) => (s.in_flight?.[0]?.versions.length ?? 0) > 0, 10);
    const sawInFlight = performance.now();
    const broadcast = await node.waitFor("stamper: stamp transaction broadcast");
    const version = inFlight.in_flight?.[0]?.versions[0];
    if (version?.commitments !== rounds) throw new Error(`the first version covers ${version?.commitments} commitments, expected ${rounds}`);
    const buildS = (broadcast.at - funded) / 1000;
    console.log(`  funding block → broadcast of the ${rounds}-leaf stamp: ${buildS.toFixed(2)} s (log line), in_flight (version saved) seen after ${((sawInFlight - funded) / 1000).toFixed(2)} s; RSS ${node.memory().rssMb.toFixed(0)} MB`);

    // --- K confirmations, the stamper seeing each block as it comes ---
    const [block] = bitcoin.mine(1);
    if (!block || block.txs.length < 2) throw new Error("the block did not take the stamp transaction");
    await statusUntil(url, (s) => (s.waiting?.[0]?.confirmations ?? 0) >= 1);
    bitcoin.mine(CONFIRMATIONS - 2);
    await statusUntil(url, (s) => (s.waiting?.[0]?.confirmations ?? 0) >= CONFIRMATIONS - 1);
    bitcoin.mine(1);
    const t0 = performance.now();
    const ok = await firstOk(url, probe, 10);
    const servedS = (ok.at - t0) / 1000;
    const confirmedLine = await node.waitFor("stamper: stamp confirmed; proofs served");
    console.log(`  (a) ${CONFIRMATIONS}th confirmation → first 200: ${servedS.toFixed(3)} s (${ok.tries} polls; "proofs served" logged after ${((confirmedLine.at - t0) / 1000).toFixed(3)} s; proof ${ok.bytes} bytes)  target <= 10 s`);

    // --- every proof ---
    let okCount = 0;
    let bad = 0;
    let firstBad = "";
    let maxBytes = 0;
    let sumBytes = 0;
    let sweepPeak = 0;
    const sampler = setInterval(() => (sweepPeak = Math.max(sweepPeak, node?.memory().rssMb ?? 0)), 100);
    const sw = await sweep(url, rounds, connections, path, (i, r) => {
      if (r.status === 200 && r.bytes < MAX_PROOF_BYTES) {
        okCount++;
        sumBytes += r.bytes;
        if (r.bytes > maxBytes) maxBytes = r.bytes;
      } else {
        bad++;
        if (firstBad === "") firstBad = `seq ${i}: ${r.status}, ${r.bytes} bytes`;
      }
    });
    clearInterval(sampler);
    const sweepRate = rounds / sw.seconds;
    console.log(`  (b) all ${rounds} proofs over ${connections} connections: ${sw.seconds.toFixed(1)} s = ${Math.round(sweepRate)}/s; ${okCount} × 200 under ${MAX_PROOF_BYTES} bytes, ${bad} not${firstBad ? ` (first: ${firstBad})` : ""}, ${sw.errors} connection errors; size max ${maxBytes}, mean ${(sumBytes / Math.max(1, okCount)).toFixed(1)} bytes`);
    // Proven end to end (commitment → block merkle root at the attested height), a random sample.
    let verified = 0;
    let firstInvalid = "";
    for (let k = 0; k < VERIFY_SAMPLE; k++) {
      const seq = Math.floor(Math.random() * rounds);
      const hex = commitmentHex(journal, seq);
      const body = new Uint8Array(await (await fetch(`${url}/timestamp/${hex}`)).arrayBuffer());
      const r = checkStampProof(body, fromHex(hex) as Uint8Array, bitcoin.chain);
      if ("height" in r && r.height === block.height) verified++;
      else if (firstInvalid === "") firstInvalid = `seq ${seq}: ${"error" in r ? r.error : `attests height ${r.height}, stamp is in ${block.height}`}`;
    }
    console.log(`      ${verified} of ${VERIFY_SAMPLE} random proofs verified against block ${block.height}'s merkle root${firstInvalid ? `; first failure ${firstInvalid}` : ""}`);
    const firstRun = node.memory();
    await node.stop();
    node = null;

    // --- restart: the proof tree comes back from the journal on first use ---
    let restart: Figures;
    let restartPeakMb = 0;
    try {
      const second = await startCalendarNode(nodeArgs, nodeFlags);
      node = second.server;
      const cold = await firstOk(second.url, probe, 10);
      const listenS = (second.startedAt - node.spawnedAt) / 1000;
      const serveS = (cold.at - second.startedAt) / 1000;
      restartPeakMb = node.memory().peakMb;
      console.log(`  (c) restart: listening ${listenS.toFixed(2)} s after spawn, first 200 ${serveS.toFixed(2)} s later (tree rebuilt from the journal), ${((cold.at - node.spawnedAt) / 1000).toFixed(2)} s in all`);
      console.log(`      after spawn: ${startPhases(node)}`);
      restart = {
        restart_listen_s: Number(listenS.toFixed(2)),
        restart_listen_to_first_200_s: Number(serveS.toFixed(2)),
        restart_spawn_to_first_200_s: Number(((cold.at - node.spawnedAt) / 1000).toFixed(2)),
      };
      await node.stop();
    } catch (e) {
      // Reported, not fatal: the figures above still stand.
      const message = e instanceof Error ? e.message : String(e);
      console.log(`  (c) restart FAILED: ${message}`);
      restart = {restart_error: message};
      await node?.stop();
    }
    node = null;
    console.log(`  (d) node peak RSS (VmHWM): ${firstRun.peakMb.toFixed(0)} MB first run (start, stamp, sweep; ${sweepPeak.toFixed(0)} MB during the sweep), ${restartPeakMb.toFixed(0)} MB restarted (cold tree)  target <= 1024 MB`);
    return {
      rounds,
      connections,
      journal_mb: Number((journal.bytes / 1e6).toFixed(1)),
      node_start_s: Number(startS.toFixed(2)),
      stamper_load_s: s2(loadMs),
      fund_to_broadcast_s: Number(buildS.toFixed(2)),
      kth_confirmation_to_first_200_s: Number(servedS.toFixed(3)),
      sweep_s: Number(sw.seconds.toFixed(1)),
      sweep_per_s: Math.round(sweepRate),
      sweep_ok: okCount,
      sweep_bad: bad,
      sweep_errors: sw.errors,
      proofs_verified: verified,
      proofs_verify_sample: VERIFY_SAMPLE,
      proof_max_bytes: maxBytes,
      proof_mean_bytes: Number((sumBytes / Math.max(1, okCount)).toFixed(1)),
      ...restart,
      peak_rss_mb: Math.round(firstRun.peakMb),
      sweep_peak_rss_mb: Math.round(sweepPeak),
      restart_peak_rss_mb: Math.round(restartPeakMb),
    };
  } finally {
    await node?.stop();
    await bitcoin.stop();
    await rm(base, {recursive: true, force: true});
  }
}
