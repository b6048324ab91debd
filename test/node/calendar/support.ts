/**
 * Shared helpers for calendar and HTTP tests: temp data dirs, an in-process
 * node on 127.0.0.1:0, a child-process node, raw HTTP over a socket, and the
 * check that a partial proof evaluates to a commitment.
 */
import {spawn} from "node:child_process";
import type {ChildProcess} from "node:child_process";
import {mkdtemp, rm} from "node:fs/promises";
import {connect} from "node:net";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {fileURLToPath} from "node:url";
import {toHex} from "../../../protocol/ots/bytes.ts";
import {decodeTimestamp, Timestamp} from "../../../protocol/ots/timestamp.ts";
import type {Attestation} from "../../../protocol/ots/attestations.ts";
import {CalendarRegistry, originTarget} from "../../../node/calendar/registry.ts";
import {JournalStore} from "../../../node/calendar/journal-store.ts";
import {loadOrCreateIdentity} from "../../../node/identity.ts";
import type {BitcoinBackend} from "../../../node/bitcoin/backend.ts";
import {systemClock} from "../../../node/clock.ts";
import {nullLogger} from "../../../node/logger.ts";
import {CalendarNode} from "../../../node/node.ts";
import {defaultNodeOptions} from "../../../node/options.ts";
import type {NodeOptions} from "../../../node/options.ts";

export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export async function tempDir(prefix = "otsfed-test-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, {recursive: true, force: true});
}

/** Every calendar of the data dir `dir` (its identity created if missing), with small segments; `.own` is the node's own. */
export async function openRegistry(dir: string, segmentBytes = 8192): Promise<CalendarRegistry> {
  const {identity} = await loadOrCreateIdentity(dir);
  return CalendarRegistry.open(dir, {segmentBytes}, {logger: nullLogger, metrics: null, identity});
}

/** The own calendar's journal of the data dir `dir` alone, without the index (a node killed between journal and index). */
export async function openOwnJournal(dir: string, segmentBytes = 8192): Promise<JournalStore> {
  const {identity} = await loadOrCreateIdentity(dir);
  return (await JournalStore.open(originTarget(dir, identity), {segmentBytes}, {logger: nullLogger, metrics: null})).store;
}

/** Options for a test node in `dataDir` on 127.0.0.1:0. */
export function testOptions(dataDir: string, patch: (o: NodeOptions) => void = () => {}): NodeOptions {
  const o = defaultNodeOptions();
  o.dataDir = dataDir;
  o.http.listen = "127.0.0.1:0";
  patch(o);
  return o;
}

/** An in-process node, started, with the Bitcoin backend given (none by default); the caller must `stop()` it. */
export async function startNode(opts: NodeOptions, bitcoin: BitcoinBackend | null = null): Promise<{node: CalendarNode; url: string}> {
  const node = await CalendarNode.init(opts, {logger: nullLogger, clock: systemClock, bitcoin});
  const {url} = await node.start();
  return {node, url};
}

/** Follow the single op path of a linear proof; returns the leaf message and its attestations. */
export function proofLeaf(proof: Uint8Array, digest: Uint8Array): {msg: Uint8Array; attestations: Attestation[]} {
  let node: Timestamp = decodeTimestamp(proof, digest);
  while (node.opCount > 0) {
    if (node.opCount !== 1 || node.attestationCount !== 0) throw new Error("proof is not a single path");
    node = (node.ops[0] as [unknown, Timestamp])[1];
  }
  return {msg: node.msg, attestations: node.attestations};
}

export async function postDigest(url: string, digest: Uint8Array, signal?: AbortSignal): Promise<{status: number; body: Uint8Array; headers: Headers}> {
  const r = await fetch(`${url}/digest`, {method: "POST", body: digest, headers: {"Content-Type": "application/x-www-form-urlencoded"}, signal: signal ?? null});
  return {status: r.status, body: new Uint8Array(await r.arrayBuffer()), headers: r.headers};
}

export async function getTimestamp(url: string, msg: Uint8Array, signal?: AbortSignal): Promise<{status: number; text: string; headers: Headers}> {
  const r = await fetch(`${url}/timestamp/${toHex(msg)}`, {signal: signal ?? null});
  return {status: r.status, text: await r.text(), headers: r.headers};
}

/** Send raw bytes on a fresh connection; resolve with everything read until the server closes or `idleMs` passes. */
export function rawRequest(url: string, data: string | Uint8Array, idleMs = 1500): Promise<string> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname);
    let out = "";
    let timer = setTimeout(() => sock.destroy(), idleMs);
    sock.on("data", (d: Buffer) => {
      out += d.toString("latin1");
      clearTimeout(timer);
      timer = setTimeout(() => sock.destroy(), idleMs);
    });
    sock.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      if (out) resolve(out);
      else reject(e);
    });
    sock.write(data);
  });
}

/** A node in a child process (`otsfed node`), with its JSON log lines collected. */
export type ChildNode = {proc: ChildProcess; url: string; logs: string[]; stderr: string[]; exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>};

export function spawnNode(args: string[], env: NodeJS.ProcessEnv = {}): {proc: ChildProcess; logs: string[]; stderr: string[]; exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>} {
  const proc = spawn(process.execPath, [join(ROOT, "node/cli/otsfed.ts"), "node", ...args], {cwd: ROOT, env: {...process.env, ...env}, stdio: ["ignore", "pipe", "pipe"]});
  const logs: string[] = [];
  const stderr: string[] = [];
  let buf = "";
  proc.stdout?.on("data", (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      logs.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  proc.stderr?.on("data", (d: Buffer) => stderr.push(d.toString()));
  const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) => proc.on("exit", (code, signal) => resolve({code, signal})));
  return {proc, logs, stderr, exited};
}

/** Start a child node on 127.0.0.1:0 and wait for its "calendar node started" line. */
export async function startChildNode(dataDir: string, signal: AbortSignal, extra: string[] = []): Promise<ChildNode> {
  const c = spawnNode(["--data-dir", dataDir, "--listen", "127.0.0.1:0", "--log-level", "info", ...extra]);
  for (;;) {
    signal.throwIfAborted();
    const line = c.logs.find((l) => l.includes('"calendar node started"'));
    if (line) return {...c, url: (JSON.parse(line) as {url: string}).url};
    const done = await Promise.race([c.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 20))]);
    if (done) throw new Error(`node exited before starting: ${c.stderr.join("")}`);
  }
}

/** Kill a child we started (by its own handle) and wait for it to exit. */
export async function killChild(c: {proc: ChildProcess; exited: Promise<unknown>}, sig: NodeJS.Signals = "SIGKILL"): Promise<void> {
  if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill(sig);
  await c.exited;
}
