/**
 * `npm run bench -- gossip [RATES] [SECONDS] [NODES]`: NODES (default 8)
 * members of one federation on loopback libp2p, each in its own process;
 * one origin writes rounds at each rate of RATES (default "100,2000"
 * rounds/s) for SECONDS (default 5). For every round: the time from its
 * durable write at the origin (journal fdatasync done, indexed) to the
 * moment it is durable and servable (imported, fdatasync'ed, indexed) at
 * EVERY other member — p50 / p99 / max. Target (issue 12): p99 <= 250 ms at
 * both rates. All processes share this machine's two cores, so the
 * figures include that contention. Measures only.
 */
import {sleep} from "../node/lifecycle.ts";
import {planFederation} from "../test/node/federation/support.ts";
import {removeDir} from "../test/node/calendar/support.ts";
import {Member} from "./_member-process.ts";
import type {Reply} from "./_member-process.ts";
import type {Figures} from "./run.ts";

function quantile(sorted: number[], q: number): number {
  return sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);
}

async function runRate(rate: number, seconds: number, n: number): Promise<Figures> {
  const {def, members} = await planFederation(n, `gossip${rate}`);
  const procs = members.map(() => new Member());
  try {
    const origin = members[0]!.peerId;
    await Promise.all(procs.map((p, i) => p.ask({type: "start", opts: members[i]!.opts, def, origin}, "started")));
    // Everyone connected to everyone, and a few gossipsub heartbeats for the mesh.
    for (let t = 0; t < 100; t++) {
      const r = await Promise.all(procs.map((p) => p.ask({type: "report"}, "report")));
      if (r.every((x) => x.connected === n)) break;
      await sleep(200);
    }
    await sleep(3_000);
    const before = await Promise.all(procs.map((p) => p.ask({type: "report"}, "report")));
    const tw = performance.now();
    const written = await procs[0]!.ask({type: "write", rate, seconds}, "written");
    const length = written.length as number;
    let reports: Reply[] = [];
    for (let t = 0; t < 300; t++) {
      reports = await Promise.all(procs.map((p) => p.ask({type: "report"}, "report")));
      if (reports.slice(1).every((r) => (r.times as number[]).length >= length)) break;
      await sleep(100);
    }
    const wrote = reports[0]!.times as Array<number | null>;
    const latencies: number[] = [];
    let missing = 0;
    for (let seq = length - (written.rounds as number); seq < length; seq++) {
      const t0 = wrote[seq];
      if (t0 == null) continue;
      let worst = 0;
      let all = true;
      for (const r of reports.slice(1)) {
        const t1 = (r.times as Array<number | null>)[seq];
        if (t1 == null) all = false;
        else worst = Math.max(worst, t1 - t0);
      }
      if (all) latencies.push(worst);
      else missing++;
    }
    latencies.sort((a, b) => a - b);
    const achieved = (written.rounds as number) / (written.seconds as number);
    const pieces = reports.slice(1).reduce((a, r) => a + (r.pieces as number), 0) / (n - 1);
    const cpuOf = (r: Reply): number => ((r.cpu as {user: number; system: number}).user + (r.cpu as {user: number; system: number}).system) / 1e6;
    const wall = (performance.now() - tw) / 1000;
    const cpu = reports.map((r, i) => cpuOf(r) - cpuOf(before[i]!));
    console.log(`  CPU while writing and delivering (${wall.toFixed(1)} s): origin ${Math.round((100 * (cpu[0] ?? 0)) / wall)}% of a core, each other member ${cpu.slice(1).map((c) => Math.round((100 * c) / wall)).join("/")}%; all ${Math.round((100 * cpu.reduce((a, b) => a + b, 0)) / wall)}% of the machine's 200%`);
    const f = {rate, achieved: Math.round(achieved), rounds: written.rounds as number, missing, p50Ms: quantile(latencies, 0.5), p99Ms: quantile(latencies, 0.99), maxMs: latencies.at(-1) ?? NaN, piecesPerMember: Math.round(pieces)};
    console.log(`  ${rate} rounds/s (origin achieved ${f.achieved}/s): ${latencies.length}/${f.rounds} rounds at every member (${missing} missing); p50 ${f.p50Ms.toFixed(1)} ms, p99 ${f.p99Ms.toFixed(1)} ms, max ${f.maxMs.toFixed(1)} ms; ${f.piecesPerMember} gossip pieces per member`);
    return f;
  } finally {
    await Promise.all(procs.map((p) => p.ask({type: "stop"}, "never").catch(() => {})));
    for (const m of members) await removeDir(m.dataDir);
  }
}

export async function main(args: string[]): Promise<Figures> {
  const rates = (args[0] ?? "100,2000").split(",").map(Number);
  const seconds = Number(args[1] ?? 5);
  const n = Number(args[2] ?? 8);
  console.log(`gossip: ${n} members, one process each, on loopback libp2p; one origin writes rounds for ${seconds} s at each rate; latency = origin's durable write -> durable and indexed at all ${n - 1} others`);
  const figures: Figures = {nodes: n, seconds};
  for (const rate of rates) {
    const f = await runRate(rate, seconds, n);
    for (const [k, v] of Object.entries(f)) if (k !== "rate") figures[`${k}_${rate}`] = typeof v === "number" ? Math.round(v * 10) / 10 : v;
  }
  return figures;
}
