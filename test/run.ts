/**
 * The project's test command (`npm test`).
 *
 * uvu on its own can report success when nothing ran: a throwing `before`
 * hook is swallowed and a file that registers no test still exits 0. So each
 * test file runs in its own Node.js process and this script reads uvu's
 * summary, failing when:
 *  - the type check fails;
 *  - a file exits non-zero, prints no summary, or is killed by its time limit;
 *  - a file reports Total 0, Passed < Total, or any Skipped test (`.only`/`.skip`);
 *  - a test file uses `suite.before(...)` (fallible setup belongs in the test).
 *
 * Usage: node test/run.ts [FILTER...]   (FILTER: substrings of test paths)
 * Env:   OTSFED_TEST_JOBS (parallel files, default 2),
 *        OTSFED_TEST_FILE_TIMEOUT_MS (default 600000), OTSFED_SKIP_TYPECHECK=1.
 */
import {spawn} from "node:child_process";
import {readdirSync, readFileSync, statSync} from "node:fs";
import {join, relative} from "node:path";
import {fileURLToPath} from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const filters = process.argv.slice(2);
const jobs = Math.max(1, Number(process.env.OTSFED_TEST_JOBS ?? 2));
const fileTimeoutMs = Number(process.env.OTSFED_TEST_FILE_TIMEOUT_MS ?? 600_000);

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith(".test.ts")) out.push(path);
  }
  return out;
}

type FileResult = {file: string; ok: boolean; total: number; passed: number; skipped: number; ms: number; reason: string; output: string};

function run(cmd: string, args: string[], timeoutMs: number): Promise<{code: number | null; signal: string | null; output: string; timedOut: boolean}> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {cwd: root, env: {...process.env, NO_COLOR: "1", FORCE_COLOR: "0"}, stdio: ["ignore", "pipe", "pipe"]});
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({code, signal, output, timedOut});
    });
  });
}

// uvu prints ANSI colours even with NO_COLOR in some terminals; strip them.
const stripAnsi = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, "");

function summaryField(output: string, name: string): number | null {
  const m = new RegExp(`^\\s*${name}:\\s+(\\d+)\\s*$`, "m").exec(output);
  return m ? Number(m[1]) : null;
}

async function runFile(file: string): Promise<FileResult> {
  const started = Date.now();
  const rel = relative(root, file);
  const r = await run(process.execPath, [file], fileTimeoutMs);
  const output = stripAnsi(r.output);
  const total = summaryField(output, "Total");
  const passed = summaryField(output, "Passed");
  const skipped = summaryField(output, "Skipped");
  const res: FileResult = {file: rel, ok: false, total: total ?? 0, passed: passed ?? 0, skipped: skipped ?? 0, ms: Date.now() - started, reason: "", output};
  if (r.timedOut) res.reason = `killed after ${fileTimeoutMs} ms`;
  else if (r.code !== 0) res.reason = `exited with ${r.code ?? r.signal}`;
  else if (total === null || passed === null || skipped === null) res.reason = "printed no uvu summary";
  else if (total === 0) res.reason = "ran no test";
  else if (passed < total) res.reason = `passed ${passed} of ${total}`;
  else if (skipped > 0) res.reason = `${skipped} skipped (remove .only/.skip)`;
  else res.ok = true;
  return res;
}

async function main(): Promise<number> {
  const started = Date.now();
  let files = findTests(join(root, "test"));
  if (filters.length > 0) files = files.filter((f) => filters.some((p) => f.includes(p)));
  if (files.length === 0) {
    console.error("test: no test files found");
    return 1;
  }

  const banned = files.filter((f) => /\.before\s*\(/.test(readFileSync(f, "utf8")));
  if (banned.length > 0) {
    console.error(`test: suite.before() hides setup failures in uvu; use before.each or set up inside the test:\n  ${banned.map((f) => relative(root, f)).join("\n  ")}`);
    return 1;
  }

  if (process.env.OTSFED_SKIP_TYPECHECK !== "1") {
    const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
    const t = await run(process.execPath, [tsc, "--noEmit", "-p", join(root, "tsconfig.json")], 600_000);
    if (t.code !== 0) {
      console.error(`typecheck failed:\n${t.output}`);
      return 1;
    }
    console.log("typecheck: ok");
  }

  const queue = [...files];
  const results: FileResult[] = [];
  async function worker(): Promise<void> {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
      const r = await runFile(f);
      results.push(r);
      const line = `${r.ok ? "ok  " : "FAIL"} ${r.file}  ${r.passed}/${r.total}  ${(r.ms / 1000).toFixed(1)}s${r.reason ? `  (${r.reason})` : ""}`;
      console.log(line);
      if (!r.ok || process.env.OTSFED_TEST_VERBOSE === "1") console.log(r.output.replace(/^/gm, "    "));
    }
  }
  await Promise.all(Array.from({length: Math.min(jobs, files.length)}, worker));

  const total = results.reduce((a, r) => a + r.total, 0);
  const passed = results.reduce((a, r) => a + r.passed, 0);
  const failedFiles = results.filter((r) => !r.ok);
  console.log(`\n${results.length} test files, ${total} tests, ${((Date.now() - started) / 1000).toFixed(1)}s`);
  if (failedFiles.length > 0) console.log(`failed files: ${failedFiles.map((r) => r.file).join(", ")}`);
  // The plain closing line CI reads. A file that failed without counting a
  // failed test (a crash, a swallowed hook) still counts as one failure.
  const failed = failedFiles.reduce((a, r) => a + Math.max(1, r.total - r.passed), 0);
  console.log(`${passed} passed, ${failed} failed`);
  return failedFiles.length === 0 ? 0 : 1;
}

process.exitCode = await main();
