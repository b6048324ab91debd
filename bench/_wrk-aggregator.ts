/**
 * POST /digest load with Debian's `wrk` (apt-get install -y wrk), for
 * bench/aggregator.ts: `connections` keep-alive connections on `threads`
 * threads, each request a fresh random 32-byte body made by a Lua script,
 * so the load generator is a separate C process whose cost is not ours to
 * measure. The script's `done` hook prints the figures as one JSON line,
 * read here (latencies in ms).
 */
import {execFile} from "node:child_process";
import {mkdtemp, rm, writeFile} from "node:fs/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";

/** What one wrk run measured. */
export type WrkRun = {requests: number; seconds: number; perSecond: number; p50: number; p99: number; non2xx: number; socketErrors: number};

/**
 * Each thread seeds its own generator (setup numbers the threads), builds
 * a random 32-byte body per request, and wrk.format keeps Content-Length
 * right; `done` reports the totals and percentiles (microseconds) as JSON.
 */
const SCRIPT = `
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end
function init(args)
  math.randomseed(os.time() * 1000 + (id or 0) * 7919)
end
local bytes = {}
request = function()
  for i = 1, 32 do bytes[i] = string.char(math.random(0, 255)) end
  return wrk.format("POST", "/digest", {["Content-Type"] = "application/x-www-form-urlencoded"}, table.concat(bytes))
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"wrk":1,"requests":%d,"duration_us":%d,"status_errors":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99)))
end
`;

/** Whether `wrk` runs here; the bench says how to install it otherwise. */
export function wrkAvailable(): Promise<boolean> {
  return new Promise((resolve) => execFile("wrk", ["--version"], (err, stdout, stderr) => resolve(err === null || /^wrk /m.test(stdout + stderr))));
}

/** Drive `url`'s POST /digest for `seconds` with wrk. */
export async function wrkDigests(url: string, {seconds, connections, threads}: {seconds: number; connections: number; threads: number}): Promise<WrkRun> {
  const dir = await mkdtemp(join(tmpdir(), "otsfed-wrk-"));
  try {
    const script = join(dir, "digest.lua");
    await writeFile(script, SCRIPT);
    const args = ["-t", String(threads), "-c", String(connections), "-d", `${seconds}s`, "--timeout", "10s", "-s", script, url];
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile("wrk", args, {maxBuffer: 1 << 20}, (err, out, errOut) => (err ? reject(new Error(`wrk failed: ${err.message} ${errOut}`)) : resolve(out))),
    );
    const line = stdout.split("\n").find((l) => l.startsWith('{"wrk":1'));
    if (line === undefined) throw new Error(`wrk printed no figures:\n${stdout}`);
    const r = JSON.parse(line) as {requests: number; duration_us: number; status_errors: number; socket_errors: number; p50_us: number; p99_us: number};
    const s = r.duration_us / 1e6;
    return {requests: r.requests, seconds: s, perSecond: r.requests / s, p50: r.p50_us / 1000, p99: r.p99_us / 1000, non2xx: r.status_errors, socketErrors: r.socket_errors};
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}
