/**
 * `npm run bench -- aggregator [SECONDS] [CONNECTIONS]` (defaults 10, 64):
 * the stand-alone aggregator in front of one calendar against the calendar
 * alone, in the same run. A calendar node (`otsfed node`, fsync on) and an
 * aggregator (`otsfed aggregator --upstream <calendar>`) run in child
 * processes of their own; Debian's `wrk` drives POST /digest over
 * CONNECTIONS keep-alive connections with a fresh random 32-byte body per
 * request (bench/_wrk-aggregator.ts), first at the calendar, then at the
 * aggregator.
 *
 * Prints client digests/s both ways and their ratio, p50/p99 latency, the
 * upstream requests/s the aggregator made (target: the round rate, not the
 * digest rate) beside its rounds/s, the aggregator's RSS, and each server's
 * CPU use beside its rate. Measures only: nothing passes or fails.
 */
import {mkdtemp, rm} from "node:fs/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {ChildServer, OTSFED, startCalendarNode} from "./_child.ts";
import {wrkAvailable, wrkDigests} from "./_wrk-aggregator.ts";
import type {WrkRun} from "./_wrk-aggregator.ts";

/** A counter's value in a Prometheus text page (summed over the series matching `labels`), 0 if absent. */
async function metric(url: string, name: string, labels = ""): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels !== "" && !line.includes(labels)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

/**
 * A measured wrk run after a 1 s warm-up (JIT, connections, the first
 * rounds), with the CPU each server used meanwhile (share of one core) and
 * how much each of `counters` grew over the measured run alone.
 */
async function measured(target: string, servers: ChildServer[], seconds: number, connections: number, counters: () => Promise<number[]>): Promise<{run: WrkRun; cpu: number[]; grew: number[]}> {
  await wrkDigests(target, {seconds: 1, connections, threads: 2});
  const before = servers.map((s) => s.cpuSeconds());
  const countedBefore = await counters();
  const run = await wrkDigests(target, {seconds, connections, threads: 2});
  const cpu = servers.map((s, i) => (s.cpuSeconds() - (before[i] as number)) / run.seconds);
  const countedAfter = await counters();
  return {run, cpu, grew: countedAfter.map((c, i) => c - (countedBefore[i] as number))};
}

const pct = (x: number): string => `${Math.round(x * 100)} %`;

export async function main(args: string[]): Promise<Record<string, number | string>> {
  const seconds = Number(args[0] ?? 10);
  const connections = Number(args[1] ?? 64);
  if (!(await wrkAvailable())) throw new Error("bench/aggregator needs wrk: apt-get install -y wrk");
  console.log(`aggregator: ${connections} keep-alive connections (wrk, 2 threads), ${seconds} s each (after 1 s warm-up): the calendar alone, then the aggregator in front of it`);
  const dir = await mkdtemp(join(tmpdir(), "otsfed-bench-aggregator-"));
  let calendar: ChildServer | null = null;
  let aggregator: ChildServer | null = null;
  try {
    const cal = await startCalendarNode(["--data-dir", dir, "--listen", "127.0.0.1:0", "--log-level", "info"]);
    calendar = cal.server;

    // 1. The calendar alone.
    const alone = await measured(cal.url, [calendar], seconds, connections, async () => [await metric(cal.url, "calendar_round_digests_count")]);
    const calRounds = alone.grew[0] as number;
    console.log(
      `calendar alone:           ${alone.run.perSecond.toFixed(0)} digests/s, p50 ${alone.run.p50.toFixed(2)} ms, p99 ${alone.run.p99.toFixed(2)} ms; ${(calRounds / alone.run.seconds).toFixed(0)} rounds/s; calendar CPU ${pct(alone.cpu[0] as number)}; non-2xx ${alone.run.non2xx}, socket errors ${alone.run.socketErrors}`,
    );

    // 2. The aggregator in front of it.
    aggregator = new ChildServer([OTSFED, "aggregator", "--upstream", cal.url, "--listen", "127.0.0.1:0", "--log-level", "info"]);
    const started = await aggregator.waitFor("aggregator started");
    const agg = started.obj.url as string;
    const through = await measured(agg, [aggregator, calendar], seconds, connections, async () => [
      // What the calendar saw: every POST /digest it answered (each one of the aggregator's upstream requests).
      await metric(cal.url, "calendar_http_requests_total", 'route="digest"'),
      await metric(agg, "calendar_upstream_rounds_total"),
      await metric(agg, "calendar_upstream_requests_total"),
    ]);
    const [upstreamRequests, rounds, attempts] = through.grew as [number, number, number];
    const mem = aggregator.memory();
    const ratio = through.run.perSecond / alone.run.perSecond;
    const window = through.run.seconds;
    console.log(
      `through the aggregator:   ${through.run.perSecond.toFixed(0)} digests/s, p50 ${through.run.p50.toFixed(2)} ms, p99 ${through.run.p99.toFixed(2)} ms; aggregator CPU ${pct(through.cpu[0] as number)}, calendar CPU ${pct(through.cpu[1] as number)}; non-2xx ${through.run.non2xx}, socket errors ${through.run.socketErrors}`,
    );
    console.log(
      `upstream: ${upstreamRequests} POST /digest at the calendar for ${rounds} rounds (≈ ${(upstreamRequests / window).toFixed(0)} requests/s vs ${(rounds / window).toFixed(0)} rounds/s; ${attempts} attempts counted by the aggregator), mean ${(through.run.requests / Math.max(1, rounds)).toFixed(1)} digests/round`,
    );
    console.log(`aggregator RSS ${mem.rssMb.toFixed(0)} MB (peak ${mem.peakMb.toFixed(0)} MB); ratio aggregator/calendar ${ratio.toFixed(2)}`);
    return {
      seconds,
      connections,
      calendar_per_s: Math.round(alone.run.perSecond),
      calendar_p50_ms: Number(alone.run.p50.toFixed(2)),
      calendar_p99_ms: Number(alone.run.p99.toFixed(2)),
      calendar_cpu: Number((alone.cpu[0] as number).toFixed(2)),
      calendar_rounds_per_s: Math.round(calRounds / alone.run.seconds),
      aggregator_per_s: Math.round(through.run.perSecond),
      aggregator_p50_ms: Number(through.run.p50.toFixed(2)),
      aggregator_p99_ms: Number(through.run.p99.toFixed(2)),
      aggregator_cpu: Number((through.cpu[0] as number).toFixed(2)),
      calendar_cpu_behind_aggregator: Number((through.cpu[1] as number).toFixed(2)),
      ratio: Number(ratio.toFixed(3)),
      upstream_requests: upstreamRequests,
      rounds,
      upstream_requests_per_s: Math.round(upstreamRequests / window),
      rounds_per_s: Math.round(rounds / window),
      mean_round_digests: Number((through.run.requests / Math.max(1, rounds)).toFixed(1)),
      aggregator_rss_mb: Math.round(mem.rssMb),
      aggregator_peak_rss_mb: Math.round(mem.peakMb),
      non_2xx: alone.run.non2xx + through.run.non2xx,
      socket_errors: alone.run.socketErrors + through.run.socketErrors,
    };
  } finally {
    await aggregator?.stop();
    await calendar?.stop();
    await rm(dir, {recursive: true, force: true});
  }
}
