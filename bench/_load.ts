/**
 * GET load over `connections` keep-alive connections (node:http Agent),
 * as bench/ingest.ts drives POST /digest: either every path once
 * (`sweep`: proves each answer) or random paths for a fixed time (`drive`:
 * requests/s and latency percentiles).
 */
import {Agent, request} from "node:http";

export type Reply = {status: number; bytes: number; ms: number};

/** One GET; the body is counted, not kept. Rejects on a connection error. */
export function get(agent: Agent, base: URL, path: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = request({host: base.hostname, port: base.port, path, method: "GET", agent}, (res) => {
      let bytes = 0;
      res.on("data", (c: Buffer) => (bytes += c.length));
      res.on("end", () => resolve({status: res.statusCode ?? 0, bytes, ms: performance.now() - t0}));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** GET `path(0..n-1)` once each and hand every reply to `check`; returns the wall time. */
export async function sweep(url: string, n: number, connections: number, path: (i: number) => string, check: (i: number, r: Reply) => void): Promise<{seconds: number; errors: number}> {
  const base = new URL(url);
  const agent = new Agent({keepAlive: true, maxSockets: connections});
  let next = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({length: connections}, async () => {
      for (let i = next++; i < n; i = next++) {
        try {
          check(i, await get(agent, base, path(i)));
        } catch {
          errors++;
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return {seconds, errors};
}

export type Run = {
  requests: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
  non200: number;
  meanBytes: number;
  peakRssMb: number;
  /** Share of one core the server used while measured (1 = a full core: the server is the limit). */
  serverCpu: number;
  /** Share of one core this process (the load generator) used meanwhile. */
  clientCpu: number;
};

/** What `drive` watches on the server: its RSS (MB) and CPU time (s). */
export type ServerProbe = {rssMb(): number; cpuSeconds(): number};

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

/**
 * `connections` loops GET `path(k)` (k counts up; the caller randomises)
 * for `seconds` after a 1 s warm-up; latencies in ms. The server's RSS is
 * sampled every 100 ms for the peak; its CPU time and ours are taken at the
 * start and end of the measured window.
 */
export async function drive(url: string, seconds: number, connections: number, path: (k: number) => string, server: ServerProbe): Promise<Run> {
  const base = new URL(url);
  const agent = new Agent({keepAlive: true, maxSockets: connections});
  let lat = new Float64Array(1 << 20);
  let n = 0;
  let errors = 0;
  let non200 = 0;
  let bytes = 0;
  let measuring = false;
  let stop = false;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, server.rssMb())), 100);
  let k = 0;
  const loops = Array.from({length: connections}, async () => {
    while (!stop) {
      try {
        const r = await get(agent, base, path(k++));
        if (!measuring) continue;
        if (r.status !== 200) non200++;
        bytes += r.bytes;
        if (n === lat.length) {
          const grown = new Float64Array(lat.length * 2);
          grown.set(lat);
          lat = grown;
        }
        lat[n++] = r.ms;
      } catch {
        errors++;
      }
    }
  });
  await new Promise((r) => setTimeout(r, 1000));
  measuring = true;
  const t0 = performance.now();
  const serverCpu0 = server.cpuSeconds();
  const clientCpu0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const serverCpu = (server.cpuSeconds() - serverCpu0) / elapsed;
  const clientUsage = process.cpuUsage(clientCpu0);
  const clientCpu = (clientUsage.user + clientUsage.system) / 1e6 / elapsed;
  stop = true;
  await Promise.all(loops);
  clearInterval(sampler);
  agent.destroy();
  const sorted = lat.slice(0, n).sort();
  return {requests: n, perSecond: n / elapsed, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), errors, non200, meanBytes: n > 0 ? bytes / n : 0, peakRssMb: peak, serverCpu, clientCpu};
}
