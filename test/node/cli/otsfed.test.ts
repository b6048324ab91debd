import {suite} from "uvu";
import * as assert from "uvu/assert";
import {execFile} from "node:child_process";
import {mkdtemp, rm, writeFile} from "node:fs/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {fileURLToPath} from "node:url";
import {withTimeout} from "../../support/timeout.ts";
import {allOtsVectors, vectorPath} from "../../support/vectors.ts";

const CLI = fileURLToPath(new URL("../../../node/cli/otsfed.ts", import.meta.url));

type Run = {code: number; stdout: string; stderr: string};

function otsfed(args: string[], signal: AbortSignal): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], {signal, maxBuffer: 4 << 20}, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({code, stdout, stderr});
    });
  });
}

const INVALID = new Set(allOtsVectors().filter((v) => v.includes("/invalid/")));
const noStackTrace = (s: string): boolean => !/^\s+at /m.test(s) && s.trim().split("\n").length === 1;

// ---

const info = suite("node/cli otsfed info");

info("should print a tree for every valid vector and one line for each invalid one :: all vectors", withTimeout(120_000, async (signal) => {
  for (const v of allOtsVectors()) {
    const r = await otsfed(["info", vectorPath(v)], signal);
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

info("should give a one-line error for missing, empty and garbage files :: bad input", withTimeout(30_000, async (signal) => {
  const dir = await mkdtemp(join(tmpdir(), "otsfed-cli-"));
  try {
    await writeFile(join(dir, "empty.ots"), new Uint8Array(0));
    await writeFile(join(dir, "junk.ots"), new TextEncoder().encode("not a proof at all\n"));
    for (const f of ["missing.ots", "empty.ots", "junk.ots"]) {
      const r = await otsfed(["info", join(dir, f)], signal);
      assert.is(r.code, 1, f);
      assert.ok(noStackTrace(r.stderr), `${f}: ${r.stderr}`);
    }
    const usage = await otsfed(["info"], signal);
    assert.is(usage.code, 2);
    assert.ok(noStackTrace(usage.stderr), usage.stderr);
    const unknown = await otsfed(["frobnicate"], signal);
    assert.is(unknown.code, 2);
  } finally {
    await rm(dir, {recursive: true, force: true});
  }
}));

info.run();

// ---

const verify = suite("node/cli otsfed verify");

verify("should check the target and say no Bitcoin node was consulted :: complete proof", withTimeout(30_000, async (signal) => {
  const r = await otsfed(["verify", vectorPath("opentimestamps-client/examples/hello-world.txt.ots")], signal);
  assert.is(r.code, 1);
  assert.match(r.stdout, /Target matches the proof: sha256 03ba204e/);
  assert.match(r.stdout, /BitcoinBlockHeaderAttestation\(358391\) attests merkle root 8a1b66ec/);
  assert.match(r.stderr, /No Bitcoin node was consulted/);
}));

verify("should refuse a target that does not match :: --target and --digest", withTimeout(30_000, async (signal) => {
  const proof = vectorPath("opentimestamps-client/examples/hello-world.txt.ots");
  const wrongFile = await otsfed(["verify", proof, "--target", vectorPath("opentimestamps-client/examples/empty")], signal);
  assert.is(wrongFile.code, 1);
  assert.match(wrongFile.stderr, /File does not match original!/);
  const wrongDigest = await otsfed(["verify", proof, "--digest", "00".repeat(32)], signal);
  assert.is(wrongDigest.code, 1);
  assert.match(wrongDigest.stderr, /File does not match original!/);
  const rightDigest = await otsfed(["verify", proof, "--digest", "03ba204e50d126e4674c005e04d82e84c21366780af1f43bd54a37816b6ab340"], signal);
  assert.match(rightDigest.stdout, /Target matches/);
  const sha1 = await otsfed(["verify", vectorPath("opentimestamps-client/examples/sha1/a-or-b.ots"), "--target", vectorPath("opentimestamps-client/examples/sha1/b")], signal);
  assert.match(sha1.stdout, /Target matches the proof: sha1 /);
  const bad = await otsfed(["verify", proof, "--digest", "xyz"], signal);
  assert.is(bad.code, 2);
  assert.ok(noStackTrace(bad.stderr), bad.stderr);
}));

verify.run();
