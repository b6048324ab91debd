/**
 * `npm run bench -- ingest [SECONDS] [CONNECTIONS]`: 64 keep-alive
 * connections POST random 32-byte digests for a fixed time, first against a
 * bare node:http server that only hashes the body (this machine's ceiling),
 * then against a calendar node (`otsfed node`, fsync on, data dir on disk).
 * Each server runs in its own child process; this process is the load
 * generator. Prints digests/s, p50/p99 latency, peak RSS of the server and
 * the ratio node/ceiling. Measures only: nothing passes or fails.
 */
import {spawn} from "node:child_process";
import type {ChildProcess} from "node:child_process";
import {randomBytes} from "node:crypto";
import {readFileSync} from "node:fs";
import {mkdtemp, rm} from "node:fs/promises";
import {Agent, request} from "node:http";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {fileURLToPath} from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

const CEILING_SERVER = `
import {createServer} from "node:http";
import {createHash} from "node:crypto";
const s = createServer({keepAlive: true}, (req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const h = createHash("sha256").update(Buffer.concat(chunks)).digest();
    res.writeHead(200, {"Content-Type": "application/octet-stream", "Content-Length": h.length});
    res.end(h);
  });
});
s.listen(0, "127.0.0.1", () => console.log(JSON.stringify({msg: "calendar node started", url: "http://127.0.0.1:" + s.address().port})));
`;

type Server = {proc: ChildProcess; url: string; exited: Promise<void>};

function startServer(args: string[]): Promise<Server> {
  const proc = spawn(process.execPath, args, {cwd: ROOT, stdio: ["ignore", "pipe", "inherit"]});
  const exited = new Promise<void>((r) => proc.on("exit", () => r()));
  return new Promise((resolve, reject) => {
    let buf = "";
    proc.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      const line = buf.split("\n").find((l) => l.includes('"calendar node started"'));
      if (line) resolve({proc, url: (JSON.parse(line) as {url: string}).url, exited});
    });
    proc.on("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

type Run = {requests: number; perSecond: number; p50: number; p99: number; errors: number; non200: number; peakRssMb: number};

/** Drive `connections` loops at `url` for `seconds` (after a 1 s warm-up); latencies in ms. */
async function drive(url: string, pid: number, seconds: number, connections: number): Promise<Run> {
  const u = new URL(url);
  const agent = new Agent({keepAlive: true, maxSockets: connections});
  const pool = randomBytes(32 * 4096);
  let lat = new Float64Array(1 << 20);
  let n = 0;
  let errors = 0;
  let non200 = 0;
  let measuring = false;
  let stop = false;
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 100);
  const one = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const body = pool.subarray((i % 4096) * 32, (i % 4096) * 32 + 32);
      const t0 = performance.now();
      const req = request({host: u.hostname, port: u.port, path: "/digest", method: "POST", agent, headers: {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": 32}}, (res) => {
        res.on("data", () => {});
        res.on("end", () => {
          if (measuring) {
            if (res.statusCode !== 200) non200++;
            if (n === lat.length) {
              const next = new Float64Array(lat.length * 2);
              next.set(lat);
              lat = next;
            }
            lat[n++] = performance.now() - t0;
          }
          resolve();
        });
      });
      req.on("error", () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  let counter = 0;
  const loops = Array.from({length: connections}, async () => {
    while (!stop) await one(counter++);
  });
  await new Promise((r) => setTimeout(r, 1000));
  measuring = true;
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  stop = true;
  await Promise.all(loops);
  clearInterval(sampler);
  agent.destroy();
  const sorted = lat.slice(0, n).sort();
  return {requests: n, perSecond: n / elapsed, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), errors, non200, peakRssMb: peak};
}

async function roundStats(url: string): Promise<{rounds: number; meanRound: number}> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const sum = Number(/^calendar_round_digests_sum (\S+)$/m.exec(text)?.[1] ?? NaN);
  const count = Number(/^calendar_round_digests_count (\S+)$/m.exec(text)?.[1] ?? NaN);
  return {rounds: count, meanRound: sum / count};
}

export async function main(args: string[]): Promise<Record<string, number | string>> {
  const seconds = Number(args[0] ?? 10);
  const connections = Number(args[1] ?? 64);
  console.log(`ingest: ${connections} keep-alive connections, ${seconds} s per server (after 1 s warm-up)`);

  const ceiling = await startServer(["--input-type=module", "-e", CEILING_SERVER]);
  const c = await drive(ceiling.url, ceiling.proc.pid as number, seconds, connections);
  ceiling.proc.kill("SIGTERM");
  await ceiling.exited;
  console.log(`ceiling (bare node:http + sha256): ${c.perSecond.toFixed(0)} req/s, p50 ${c.p50.toFixed(2)} ms, p99 ${c.p99.toFixed(2)} ms, RSS ${c.peakRssMb.toFixed(0)} MB`);

  const dir = await mkdtemp(join(tmpdir(), "otsfed-bench-ingest-"));
  try {
    const node = await startServer([join(ROOT, "node/cli/otsfed.ts"), "node", "--data-dir", dir, "--listen", "127.0.0.1:0", "--log-level", "info"]);
    const r = await drive(node.url, node.proc.pid as number, seconds, connections);
    const rs = await roundStats(node.url);
    node.proc.kill("SIGTERM");
    await node.exited;
    const ratio = r.perSecond / c.perSecond;
    console.log(`calendar node (fsync on):          ${r.perSecond.toFixed(0)} digests/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, RSS ${r.peakRssMb.toFixed(0)} MB`);
    console.log(`rounds ${rs.rounds} (mean ${rs.meanRound.toFixed(1)} digests/round); errors ${r.errors}, non-200 ${r.non200}`);
    console.log(`ratio node/ceiling ${ratio.toFixed(2)}   (targets: >= 20000 digests/s, p99 <= 50 ms, ratio >= 0.6, RSS <= 300 MB)`);
    return {
      seconds,
      connections,
      ceiling_per_s: Math.round(c.perSecond),
      ceiling_p50_ms: Number(c.p50.toFixed(2)),
      ceiling_p99_ms: Number(c.p99.toFixed(2)),
      digests_per_s: Math.round(r.perSecond),
      p50_ms: Number(r.p50.toFixed(2)),
      p99_ms: Number(r.p99.toFixed(2)),
      rss_mb: Math.round(r.peakRssMb),
      ratio: Number(ratio.toFixed(3)),
      rounds: rs.rounds,
      mean_round_digests: Number(rs.meanRound.toFixed(1)),
      errors: r.errors,
      non_200: r.non200,
    };
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}
