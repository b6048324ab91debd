/**
 * `otsfed aggregator` as operators run it: the real binary in a child
 * process in front of a calendar-like upstream on 127.0.0.1, its JSON log
 * lines, a digest through it, a clean stop on SIGTERM, and its refusals as
 * one line with the documented exit codes.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {execFile, spawn} from "node:child_process";
import {createServer} from "node:net";
import {fileURLToPath} from "node:url";
import {devnetInstructions} from "../../../node/cli/commands/devnet.ts";
import {withTimeout} from "../../support/timeout.ts";
import {proofLeaf} from "../calendar/support.ts";
import {answersLikeOtsd, fakeCalendar} from "../aggregator/support.ts";

const CLI = fileURLToPath(new URL("../../../node/cli/otsfed.ts", import.meta.url));

function otsfed(args: string[], signal: AbortSignal): Promise<{code: number; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], {signal}, (err, stdout, stderr) => resolve({code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr}));
  });
}

// ---
const Cli = suite("node/cli otsfed aggregator");

Cli("should serve digests through the upstream, log JSON lines and stop cleanly on SIGTERM :: the real binary", withTimeout(30_000, async (signal) => {
  const upstream = await fakeCalendar(answersLikeOtsd());
  const child = spawn(process.execPath, [CLI, "aggregator", "--upstream", upstream.url, "--listen", "127.0.0.1:0", "--log-level", "verbose"], {stdio: ["ignore", "pipe", "pipe"], signal});
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  try {
    const lines: Array<Record<string, unknown>> = [];
    let buf = "";
    const started = new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        buf += d.toString();
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>;
          buf = buf.slice(nl + 1);
          lines.push(line);
          if (line.msg === "aggregator started") resolve(line.url as string);
        }
      });
      child.on("exit", (code) => reject(new Error(`aggregator exited ${code} before it started`)));
    });
    const url = await started;
    const digest = new Uint8Array(32).fill(3);
    const r = await fetch(`${url}/digest`, {method: "POST", body: digest, headers: {"Content-Type": "application/x-www-form-urlencoded"}, signal});
    assert.is(r.status, 200);
    assert.equal(proofLeaf(new Uint8Array(await r.arrayBuffer()), digest).attestations, [{kind: "pending", uri: upstream.url}]);
    child.kill("SIGTERM");
    assert.is(await exited, 0);
    const msgs = lines.map((l) => l.msg);
    for (const m of ["http listening", "aggregator started", "round committed", "stopping", "aggregator stopped"]) assert.ok(msgs.includes(m), `${m} in ${JSON.stringify(msgs)}`);
    const round = lines.find((l) => l.msg === "round committed");
    assert.is(round?.upstreams, 1);
    assert.is(round?.digests, 1);
    assert.is(upstream.requests(), 1);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await upstream.close();
  }
}));

Cli("should refuse a bad start in one line with the documented exit code :: no upstream, unknown flag, port in use, --help", withTimeout(30_000, async (signal) => {
  const none = await otsfed(["aggregator"], signal);
  assert.is(none.code, 2);
  assert.is(none.stderr.trim(), `otsfed aggregator: OPTIONS_REQUIRED: no upstream calendar: give --upstream URL (repeatable), OTSFED_UPSTREAMS or "upstreams" in the config file`);
  const unknown = await otsfed(["aggregator", "--upstream", "http://127.0.0.1:1", "--data-dir", "/x"], signal);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /^otsfed aggregator: OPTIONS_UNKNOWN: unknown flag '--data-dir'/);
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, "127.0.0.1", () => r()));
  try {
    const port = (taken.address() as {port: number}).port;
    const busy = await otsfed(["aggregator", "--upstream", "http://127.0.0.1:1", "--listen", `127.0.0.1:${port}`, "--log-level", "error"], signal);
    assert.is(busy.code, 1);
    assert.is(busy.stderr.trim(), `otsfed aggregator: HTTP_LISTEN_FAILED: cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
  } finally {
    taken.close();
  }
  const help = await otsfed(["--help"], signal);
  assert.match(help.stdout, "aggregator --upstream URL");
  const options = await otsfed(["aggregator", "--help-options"], signal);
  assert.is(options.code, 0);
  assert.match(options.stdout, "--upstream (repeatable)");
}));

Cli("should tell devnet users how to stamp through the aggregator and upgrade at the calendar :: devnetInstructions", () => {
  const text = devnetInstructions("http://127.0.0.1:1000", "http://u:p@127.0.0.1:2000", "/tmp/x", 5_000, "http://127.0.0.1:3000");
  const lines = text.split("\n").map((l) => l.trim());
  assert.ok(lines.includes("aggregator:      http://127.0.0.1:3000   (status page: http://127.0.0.1:3000/)"), text);
  assert.ok(lines.includes("ots stamp -c http://127.0.0.1:3000 -m 1 FILE"), text);
  assert.ok(lines.includes("ots --whitelist http://127.0.0.1:1000 --bitcoin-node http://u:p@127.0.0.1:2000 verify FILE.ots"), text);
  assert.not.match(devnetInstructions("http://127.0.0.1:1000", "http://u:p@127.0.0.1:2000", "/tmp/x", 5_000), "aggregator");
});

Cli.run();
