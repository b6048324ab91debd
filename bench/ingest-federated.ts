/**
 * `npm run bench -- ingest-federated [SECONDS] [CONNECTIONS]`: POST /digest
 * load (Debian's wrk, a fresh random 32-byte body per request, keep-alive)
 * at a calendar node alone, then, in the same run, at the same kind of node
 * as member 0 of a 3-member federation whose two other members mirror its
 * journal live (each `otsfed node --federation …` in its own process, on
 * this same 2-core machine, so their import work competes with the loaded
 * node for the CPU). Prints digests/s, p50/p99 and the ratio
 * federated/alone (target, issue 12: >= 0.8), with each process's CPU.
 * Measures only.
 */
import {writeFile} from "node:fs/promises";
import {join} from "node:path";
import {encodeFederationDefinition} from "../node/federation/definition.ts";
import {planFederation} from "../test/node/federation/support.ts";
import {removeDir} from "../test/node/calendar/support.ts";
import {ChildServer, OTSFED} from "./_child.ts";
import {wrkAvailable, wrkDigests} from "./_wrk-aggregator.ts";
import type {Figures} from "./run.ts";

async function startNode(args: string[]): Promise<{server: ChildServer; url: string}> {
  const server = new ChildServer([OTSFED, "node", ...args]);
  const started = await server.waitFor("calendar node started");
  return {server, url: started.obj.url as string};
}

export async function main(args: string[]): Promise<Figures> {
  const seconds = Number(args[0] ?? 10);
  const connections = Number(args[1] ?? 64);
  if (!(await wrkAvailable())) throw new Error("wrk is not installed: apt-get install -y wrk");
  const {def, members} = await planFederation(3, "ingest", () => {});
  try {
    console.log(`ingest-federated: wrk, ${connections} keep-alive connections, 2 threads, ${seconds} s per run`);
    // Alone: member 0's data dir, no federation.
    const alone = await startNode(["--data-dir", join(members[0]!.dataDir, "alone"), "--listen", "127.0.0.1:0", "--log-level", "info"]);
    const c0 = alone.server.cpuSeconds();
    const a = await wrkDigests(alone.url, {seconds, connections, threads: 2});
    const aloneCpu = (alone.server.cpuSeconds() - c0) / a.seconds;
    await alone.server.stop();
    console.log(`  node alone:          ${Math.round(a.perSecond)} digests/s, p50 ${a.p50.toFixed(2)} ms, p99 ${a.p99.toFixed(2)} ms, node CPU ${Math.round(aloneCpu * 100)}% of a core; non-2xx ${a.non2xx}`);

    const file = join(members[0]!.dataDir, "..", `federation-${process.pid}.json`);
    await writeFile(file, encodeFederationDefinition(def));
    const nodes = [];
    for (const m of members) nodes.push(await startNode(["--data-dir", m.dataDir, "--listen", `127.0.0.1:${m.httpPort}`, "--url", m.url, "--federation", file, "--p2p-listen", `/ip4/127.0.0.1/tcp/${m.p2pPort}`, "--log-level", "info"]));
    // Let the members connect.
    await new Promise((r) => setTimeout(r, 3_000));
    const before = nodes.map((n) => n.server.cpuSeconds());
    const f = await wrkDigests(nodes[0]!.url, {seconds, connections, threads: 2});
    const cpu = nodes.map((n, i) => (n.server.cpuSeconds() - (before[i] as number)) / f.seconds);
    // Every record reached both mirrors?
    const status = async (url: string): Promise<{federation: {mirrors: Array<{calendar: string; length: number}>}; journal_records: number}> => (await (await fetch(`${url}/`, {headers: {Accept: "application/json"}})).json()) as never;
    await new Promise((r) => setTimeout(r, 2_000));
    const origin = await status(nodes[0]!.url);
    const mirrored = await Promise.all(nodes.slice(1).map(async (n) => (await status(n.url)).federation.mirrors.find((m) => m.calendar === members[0]!.peerId)?.length ?? 0));
    for (const n of nodes) await n.server.stop();
    const ratio = f.perSecond / a.perSecond;
    console.log(`  node with 2 mirrors: ${Math.round(f.perSecond)} digests/s, p50 ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms, CPU node ${Math.round((cpu[0] ?? 0) * 100)}%, mirrors ${cpu.slice(1).map((x) => Math.round(x * 100)).join("% / ")}% of a core; non-2xx ${f.non2xx}`);
    console.log(`  mirrors hold ${mirrored.join(" and ")} of the origin's ${origin.journal_records} records 2 s after the load`);
    console.log(`  ratio federated/alone ${ratio.toFixed(2)} (target >= 0.8)`);
    return {seconds, connections, alone_per_s: Math.round(a.perSecond), alone_p99_ms: Number(a.p99.toFixed(2)), federated_per_s: Math.round(f.perSecond), federated_p99_ms: Number(f.p99.toFixed(2)), ratio: Number(ratio.toFixed(3)), node_cpu: Number((cpu[0] ?? 0).toFixed(2)), mirror_cpu: Number(((cpu[1] ?? 0) + (cpu[2] ?? 0)).toFixed(2))};
  } finally {
    for (const m of members) await removeDir(m.dataDir);
  }
}
