import {suite} from "uvu";
import * as assert from "uvu/assert";
import {execFile} from "node:child_process";
import {mkdtemp, rm, writeFile} from "node:fs/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {fileURLToPath} from "node:url";
import {readdir} from "node:fs/promises";
import type {Command} from "../../../node/cli/command.ts";
import {main, runCommand} from "../../../node/cli/main.ts";
import {infoCommand} from "../../../node/cli/commands/info.ts";
import {verifyCommand} from "../../../node/cli/commands/verify.ts";
import {withTimeout} from "../../support/timeout.ts";
import {allOtsVectors, vectorPath} from "../../support/vectors.ts";

const CLI = fileURLToPath(new URL("../../../node/cli/otsfed.ts", import.meta.url));

type Run = {code: number; stdout: string; stderr: string};

/** The real binary in a child process: exit codes and what reaches the terminal. */
function otsfed(args: string[], signal: AbortSignal): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], {signal, maxBuffer: 4 << 20}, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({code, stdout, stderr});
    });
  });
}

/** A command run in this process with its output captured and its failures printed by main.ts's own mapping. */
async function inProcess(cmd: Command, args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCommand(cmd, args, {stdout: (l) => out.push(`${l}\n`), stderr: (l) => err.push(`${l}\n`)});
  return {code, stdout: out.join(""), stderr: err.join("")};
}

/** `otsfed ARGV` in this process (main.ts, as the binary runs it). */
async function mainInProcess(argv: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, {stdout: (l) => out.push(`${l}\n`), stderr: (l) => err.push(`${l}\n`)});
  return {code, stdout: out.join(""), stderr: err.join("")};
}

const INVALID = new Set(allOtsVectors().filter((v) => v.includes("/invalid/")));
const noStackTrace = (s: string): boolean => !/^\s+at /m.test(s) && s.trim().split("\n").length === 1;

// ---

const info = suite("node/cli otsfed info");

info("should print a tree for every valid vector and one line for each invalid one :: all vectors, in process", withTimeout(30_000, async () => {
  for (const v of allOtsVectors()) {
    const r = await inProcess(infoCommand, [vectorPath(v)]);
    if (INVALID.has(v)) {
      assert.is(r.code, 1, v);
      assert.ok(noStackTrace(r.stderr), `${v}: ${r.stderr}`);
      assert.match(r.stderr, /OTS_[A-Z_]+/, v);
    } else {
      assert.is(r.code, 0, `${v}: ${r.stderr}`);
      assert.match(r.stdout, /^File (sha256|sha1|ripemd160|keccak256) hash: [0-9a-f]+\nTimestamp:\n/, v);
      assert.match(r.stdout, /verify [A-Za-z]+Attestation\(/, v);
    }
  }
}));

info("should give a one-line error for missing, empty and garbage files :: bad input, in process", withTimeout(30_000, async () => {
  const dir = await mkdtemp(join(tmpdir(), "otsfed-cli-"));
  try {
    await writeFile(join(dir, "empty.ots"), new Uint8Array(0));
    await writeFile(join(dir, "junk.ots"), new TextEncoder().encode("not a proof at all\n"));
    for (const f of ["missing.ots", "empty.ots", "junk.ots"]) {
      const r = await inProcess(infoCommand, [join(dir, f)]);
      assert.is(r.code, 1, f);
      assert.ok(noStackTrace(r.stderr), `${f}: ${r.stderr}`);
    }
    const usage = await inProcess(infoCommand, []);
    assert.is(usage.code, 2);
    assert.ok(noStackTrace(usage.stderr), usage.stderr);
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}));

info("should exit 0, 1 or 2 with one-line errors :: the binary: a tree, an invalid proof, a missing file, usage, unknown command", withTimeout(60_000, async (signal) => {
  const valid = allOtsVectors().find((v) => !INVALID.has(v)) as string;
  const invalid = [...INVALID][0] as string;
  const [tree, bad, missing, usage, unknown] = await Promise.all([
    otsfed(["info", vectorPath(valid)], signal),
    otsfed(["info", vectorPath(invalid)], signal),
    otsfed(["info", join(tmpdir(), "otsfed-no-such-file.ots")], signal),
    otsfed(["info"], signal),
    otsfed(["frobnicate"], signal),
  ]);
  assert.is(tree.code, 0, tree.stderr);
  assert.match(tree.stdout, /^File (sha256|sha1|ripemd160|keccak256) hash: [0-9a-f]+\nTimestamp:\n/);
  assert.is(bad.code, 1);
  assert.ok(noStackTrace(bad.stderr), bad.stderr);
  assert.match(bad.stderr, /^otsfed info: OTS_[A-Z_]+: /);
  assert.is(missing.code, 1);
  assert.ok(noStackTrace(missing.stderr), missing.stderr);
  assert.match(missing.stderr, /^otsfed info: cannot read .*: ENOENT$/m);
  assert.is(usage.code, 2);
  assert.ok(noStackTrace(usage.stderr), usage.stderr);
  assert.is(unknown.code, 2);
  assert.ok(noStackTrace(unknown.stderr), unknown.stderr);
}));

info.run();

// ---

const verify = suite("node/cli otsfed verify");

verify("should check the target and say no Bitcoin node was consulted :: complete proof", withTimeout(30_000, async () => {
  const r = await inProcess(verifyCommand, [vectorPath("opentimestamps-client/examples/hello-world.txt.ots")]);
  assert.is(r.code, 1);
  assert.match(r.stdout, /Target matches the proof: sha256 03ba204e/);
  assert.match(r.stdout, /BitcoinBlockHeaderAttestation\(358391\) attests merkle root 8a1b66ec/);
  assert.match(r.stderr, /No Bitcoin node was consulted/);
}));

verify("should refuse a target that does not match :: --target and --digest", withTimeout(30_000, async () => {
  const proof = vectorPath("opentimestamps-client/examples/hello-world.txt.ots");
  const wrongFile = await inProcess(verifyCommand, [proof, "--target", vectorPath("opentimestamps-client/examples/empty")]);
  assert.is(wrongFile.code, 1);
  assert.match(wrongFile.stderr, /File does not match original!/);
  const wrongDigest = await inProcess(verifyCommand, [proof, "--digest", "00".repeat(32)]);
  assert.is(wrongDigest.code, 1);
  assert.match(wrongDigest.stderr, /File does not match original!/);
  const rightDigest = await inProcess(verifyCommand, [proof, "--digest", "03ba204e50d126e4674c005e04d82e84c21366780af1f43bd54a37816b6ab340"]);
  assert.match(rightDigest.stdout, /Target matches/);
  const sha1 = await inProcess(verifyCommand, [vectorPath("opentimestamps-client/examples/sha1/a-or-b.ots"), "--target", vectorPath("opentimestamps-client/examples/sha1/b")]);
  assert.match(sha1.stdout, /Target matches the proof: sha1 /);
  const bad = await inProcess(verifyCommand, [proof, "--digest", "xyz"]);
  assert.is(bad.code, 2);
  assert.ok(noStackTrace(bad.stderr), bad.stderr);
}));

verify.run();

// ---

const cli = suite("node/cli/main main");

const HELLO = vectorPath("opentimestamps-client/examples/hello-world.txt.ots");

cli("should refuse a bad --bitcoin-rpc as a usage error on one line, before reading or creating anything :: verify and node; no credentials, no scheme, not a URL, https", withTimeout(30_000, async () => {
  const dir = await mkdtemp(join(tmpdir(), "otsfed-cli-"));
  try {
    const cases: Array<{url: string; code: string; says: RegExp}> = [
      {url: "http://127.0.0.1:8332", code: "OPTIONS_REQUIRED", says: /--bitcoin-rpc needs credentials: http:\/\/USER:PASS@HOST:PORT, or --bitcoin-cookie FILE$/},
      {url: "127.0.0.1:8332", code: "OPTIONS_BAD_VALUE", says: /flag --bitcoin-rpc: must be a URL like/},
      {url: "not a url", code: "OPTIONS_BAD_VALUE", says: /flag --bitcoin-rpc: must be a URL like/},
      {url: "https://u:p@127.0.0.1:8332", code: "OPTIONS_BAD_VALUE", says: /flag --bitcoin-rpc: https is not supported/},
    ];
    for (const [i, c] of cases.entries()) {
      const v = await mainInProcess(["verify", HELLO, "--bitcoin-rpc", c.url]);
      assert.is(v.code, 2, `verify ${c.url}: ${v.stderr}`);
      assert.ok(noStackTrace(v.stderr), v.stderr);
      assert.match(v.stderr, new RegExp(`^otsfed verify: ${c.code}: `), c.url);
      assert.match(v.stderr.trim(), c.says, c.url);
      assert.is(v.stdout, "", `verify ${c.url}: refused before reading the proof`);
      const dataDir = join(dir, `node-${i}`);
      const n = await mainInProcess(["node", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--bitcoin-rpc", c.url]);
      assert.is(n.code, 2, `node ${c.url}: ${n.stderr}`);
      assert.ok(noStackTrace(n.stderr), n.stderr);
      assert.match(n.stderr, new RegExp(`^otsfed node: ${c.code}: `), c.url);
    }
    assert.equal(await readdir(dir), [], "no data dir, identity.key, journal/ or index/ was created");
    // A cookie file stands in for the credentials.
    const cookie = await mainInProcess(["verify", HELLO, "--bitcoin-rpc", "http://127.0.0.1:1", "--bitcoin-cookie", join(dir, "no-such-cookie")]);
    assert.is(cookie.code, 1, cookie.stderr);
    assert.match(cookie.stderr, /^otsfed verify: Bitcoin node: /m);
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}));

cli("should refuse a journal that is not there on one line with exit 1 :: missing directory, plain file", withTimeout(10_000, async () => {
  const dir = await mkdtemp(join(tmpdir(), "otsfed-cli-"));
  try {
    const missing = await mainInProcess(["journal", "verify", join(dir, "nope")]);
    assert.is(missing.code, 1);
    assert.ok(noStackTrace(missing.stderr), missing.stderr);
    assert.match(missing.stderr, /^otsfed journal verify: cannot read .*nope: ENOENT\n$/);
    await writeFile(join(dir, "plain"), "x");
    const plain = await mainInProcess(["journal", "verify", join(dir, "plain")]);
    assert.is(plain.code, 1);
    assert.ok(noStackTrace(plain.stderr), plain.stderr);
    assert.match(plain.stderr, /^otsfed journal verify: .*plain is not a directory/);
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}));

cli("should keep every help line within 80 columns :: otsfed --help, each command's --help, node --help-options", withTimeout(10_000, async () => {
  const outputs = [await mainInProcess(["--help"])];
  for (const c of ["devnet", "node", "info", "verify", "journal verify", "reindex"]) outputs.push(await mainInProcess([...c.split(" "), "--help"]));
  outputs.push(await mainInProcess(["node", "--help-options"]));
  for (const o of outputs) {
    assert.is(o.code, 0, o.stderr);
    for (const line of o.stdout.split("\n")) assert.ok(line.length <= 80, `${line.length} columns: ${line}`);
  }
}));

cli("should print a typed failure of the real binary as one line, without a stack or node's version :: otsfed node --bitcoin-rpc https://…", withTimeout(30_000, async (signal) => {
  const dir = await mkdtemp(join(tmpdir(), "otsfed-cli-"));
  try {
    const r = await otsfed(["node", "--data-dir", join(dir, "d"), "--bitcoin-rpc", "https://u:p@127.0.0.1:8332"], signal);
    assert.is(r.code, 2, r.stderr);
    assert.ok(noStackTrace(r.stderr), r.stderr);
    assert.not.match(r.stderr, /Node\.js v/);
    assert.match(r.stderr, /^otsfed node: OPTIONS_BAD_VALUE: flag --bitcoin-rpc: https is not supported/);
    assert.equal(await readdir(dir), []);
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}));

cli.run();
