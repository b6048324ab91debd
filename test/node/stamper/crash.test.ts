/**
 * SIGKILL during each phase of a stamping cycle, then restart: the node in a
 * child process (crash-child.ts) kills itself at one stamper phase; the
 * simulated chain and its bitcoind-dialect RPC live in this process, so they
 * outlive the node. After a restart without the hook, every commitment must
 * get a valid proof, every stamp transaction of ours in the chain must be
 * journaled exactly once, and nothing may stay in the state file.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {spawn} from "node:child_process";
import type {ChildProcess} from "node:child_process";
import {mkdir, readFile, rm, writeFile} from "node:fs/promises";
import {join} from "node:path";
import {bytesEqual, fromHex, toHex} from "../../../protocol/ots/bytes.ts";
import {decodeTimestamp} from "../../../protocol/ots/timestamp.ts";
import {listAttestations} from "../../../protocol/ots/evaluate.ts";
import {decodeBlockHeader} from "../../../protocol/bitcoin/header.ts";
import {hashToDisplayHex, sha256d} from "../../../protocol/bitcoin/hash.ts";
import {RecordKind} from "../../../protocol/journal/record.ts";
import {scanSegment} from "../../../protocol/journal/segment.ts";
import {decodeStamp, decodeStampRevoked} from "../../../protocol/journal/stamp.ts";
import type {StampRecord} from "../../../protocol/journal/stamp.ts";
import type {SimulatedChain} from "../../../node/bitcoin/sim/chain.ts";
import type {SimulatedWallet} from "../../../node/bitcoin/sim/devnet-wallet.ts";
import type {SimulatedRpcServer} from "../../../node/bitcoin/sim/rpc-server.ts";
import {SimulatedBitcoin} from "../../../node/bitcoin/sim/simulated-bitcoin.ts";
import {nativeSha256} from "../../../node/hash.ts";
import {JOURNAL_DIR, listSegments} from "../../../node/calendar/journal-store.ts";
import {verifyJournal} from "../../../node/calendar/verify.ts";
import {systemClock} from "../../../node/clock.ts";
import type {StamperPhase} from "../../../node/stamper/stamper.ts";
import {Rng} from "../../support/rng.ts";
import {withTimeout} from "../../support/timeout.ts";
import {killChild as killNode, postDigest, proofLeaf, removeDir, ROOT, spawnNode, tempDir} from "../calendar/support.ts";
import type {CrashChildArgs} from "./crash-child.ts";

const CHILD = join(ROOT, "test/node/stamper/crash-child.ts");
const DIGESTS = 5;
/** Digests posted after the first version went out, so that a replacement covers more than the version it replaces. */
const LATE_DIGESTS = 2;
const FUNDING_SATS = 1_000_000n;
/** Bounds on waiting for the node: generous, since a loaded 2-core CI box is slow; never a timing assertion. */
const KILL_WAIT_MS = 15_000;
const PROOF_WAIT_MS = 20_000;
const MINE_EVERY_MS = 200;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// --- the child node --------------------------------------------------------------------

type Exit = {code: number | null; signal: NodeJS.Signals | null};
type Child = {proc: ChildProcess; lines: string[]; stderr: string[]; exited: Promise<Exit>};

function spawnChild(args: CrashChildArgs): Child {
  const proc = spawn(process.execPath, [CHILD, JSON.stringify(args)], {cwd: ROOT, stdio: ["ignore", "pipe", "pipe"]});
  const lines: string[] = [];
  const stderr: string[] = [];
  let buf = "";
  proc.stdout?.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  proc.stderr?.on("data", (d: Buffer) => stderr.push(d.toString()));
  const exited = new Promise<Exit>((resolve) => proc.on("exit", (code, signal) => resolve({code, signal})));
  return {proc, lines, stderr, exited};
}

function alive(c: Child): boolean {
  return c.proc.exitCode === null && c.proc.signalCode === null;
}

/** The last log lines, for assertion messages. */
function tail(c: Child, n = 15): string {
  return c.stderr.join("").split("\n").slice(-n).join("\n");
}

async function waitReady(c: Child, signal: AbortSignal): Promise<string> {
  for (;;) {
    signal.throwIfAborted();
    const line = c.lines.find((l) => l.startsWith('{"ready":'));
    if (line) return (JSON.parse(line) as {url: string}).url;
    if (!alive(c)) throw new Error(`child exited before it was ready:\n${tail(c)}`);
    await sleep(20);
  }
}

/** Log lines at level error. */
function errorLines(c: Child): string[] {
  return c.stderr.join("").split("\n").filter((l) => l.includes('"level":"error"'));
}

/** SIGKILL a child we started if it still runs, and wait for it. */
async function killChild(c: Child | null): Promise<void> {
  if (c === null) return;
  if (alive(c)) c.proc.kill("SIGKILL");
  await c.exited;
}

type StatusJson = {address: string | null; transactions: Array<{txid: string}>; in_flight: unknown[]; waiting: unknown[]; stamper_problems: Array<{kind: string; message: string; red: boolean}>};

async function status(url: string, signal: AbortSignal): Promise<StatusJson> {
  const r = await fetch(`${url}/`, {headers: {Accept: "application/json"}, signal});
  return (await r.json()) as StatusJson;
}

async function getProof(url: string, commitment: Uint8Array, signal: AbortSignal): Promise<{status: number; body: Uint8Array}> {
  const r = await fetch(`${url}/timestamp/${toHex(commitment)}`, {signal});
  return {status: r.status, body: new Uint8Array(await r.arrayBuffer())};
}

// --- the simulated chain ---------------------------------------------------------------

type Bitcoin = {chain: SimulatedChain; wallet: SimulatedWallet; rpc: SimulatedRpcServer; miner: Uint8Array};

async function startBitcoin(): Promise<Bitcoin> {
  const b = await SimulatedBitcoin.start({minerSeed: "crash test miner"}, {clock: systemClock});
  return {chain: b.chain, wallet: b.wallet, rpc: b.rpc, miner: b.minerScript};
}

/** Does `tx` spend an output paying `script`? */
function spendsFrom(chain: SimulatedChain, tx: {ins: Array<{hash: Uint8Array; index: number}>}, script: Uint8Array): boolean {
  return tx.ins.some((i) => {
    const prev = chain.findTransaction(hashToDisplayHex(i.hash));
    const out = prev?.tx.outs[i.index];
    return out !== undefined && bytesEqual(out.script, script);
  });
}

/** Txids (display hex) of the mempool's transactions spending from the stamping address. */
function ourMempool(chain: SimulatedChain, script: Uint8Array): string[] {
  return chain.mempoolTxids().filter((id) => {
    const e = chain.mempoolEntry(id);
    return e !== null && spendsFrom(chain, e.tx, script);
  });
}

/** Txids (display hex) of the active chain's transactions spending from the stamping address, from height `from`. */
function ourConfirmed(chain: SimulatedChain, script: Uint8Array, from: number): Array<{txid: string; height: number}> {
  const out: Array<{txid: string; height: number}> = [];
  for (let h = from; h <= chain.height(); h++) {
    const b = chain.blockAt(h) as NonNullable<ReturnType<SimulatedChain["blockAt"]>>;
    for (const tx of b.txs.slice(1)) if (spendsFrom(chain, tx, script)) out.push({txid: tx.getId(), height: h});
  }
  return out;
}

// --- what the node left on disk --------------------------------------------------------

/** The state file as saved (format version 2: the calendar's leaf count is in each version's description). */
type SavedState = {cycles: Array<{mined: unknown; versions: Array<{txid: string; description: {leaves: number}; height: number}>}>};

async function readState(dataDir: string): Promise<SavedState | null> {
  try {
    return JSON.parse(await readFile(join(dataDir, "stamper", "state.json"), "utf8")) as SavedState;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

/** Display txids of the saved versions, cycle by cycle. */
function savedTxids(s: SavedState | null): string[][] {
  return (s?.cycles ?? []).map((c) => c.versions.map((v) => hashToDisplayHex(fromHex(v.txid) as Uint8Array)));
}

type JournalStamps = {rounds: number[]; stamps: Array<{seq: number; record: StampRecord; txid: string}>; revoked: number[]};

/** Every ROUND, STAMP and STAMP_REVOKED record of a (stopped) node's journal. */
async function readJournal(dataDir: string): Promise<JournalStamps> {
  const dir = join(dataDir, JOURNAL_DIR);
  const segments = await listSegments(dir);
  const out: JournalStamps = {rounds: [], stamps: [], revoked: []};
  for (const [i, s] of segments.entries()) {
    const buf = new Uint8Array(await readFile(join(dir, s.file)));
    scanSegment(buf, {isLast: i === segments.length - 1, sha256: nativeSha256}, (r) => {
      if (r.kind === RecordKind.ROUND) out.rounds.push(r.seq);
      else if (r.kind === RecordKind.STAMP) {
        const record = decodeStamp(r.payload.slice());
        out.stamps.push({seq: r.seq, record, txid: hashToDisplayHex(sha256d(record.tx))});
      } else if (r.kind === RecordKind.STAMP_REVOKED) out.revoked.push(decodeStampRevoked(r.payload.slice()).stampSeq);
    });
  }
  return out;
}

// --- one crash --------------------------------------------------------------------------

/**
 * `replacement`: kill at the version that replaces one already broadcast,
 * rather than at a cycle's first. `mineWhileDown`: a block (taking the
 * mempool) comes while the node is down, so the restart must find what it
 * missed by rescanning; without it the restart sees the chain as it left it.
 */
type Case = {phase: StamperPhase; replacement: boolean; mineWhileDown: boolean; title: string};

/**
 * What the state file and the mempool must show right after the kill: it
 * proves the kill landed where intended. `before`: versions saved when the
 * kill was armed (0 for a first version).
 */
function checkAtKill(c: Case, before: number, state: SavedState | null, mempool: string[], confirmed: string[]): void {
  const saved = savedTxids(state);
  const versions = saved.flat();
  const leaves = (state?.cycles ?? []).flatMap((x) => x.versions.map((y) => y.description.leaves));
  // Earlier versions have the early digests; the replacement built after the late ones has those too.
  const expectLeaves = [...Array.from({length: before}, () => DIGESTS), c.replacement ? DIGESTS + LATE_DIGESTS : DIGESTS];
  const at = `${c.title}: state ${JSON.stringify(saved)} leaves ${JSON.stringify(leaves)}, mempool ${JSON.stringify(mempool)}, confirmed ${JSON.stringify(confirmed)}`;
  switch (c.phase) {
    case "version-built":
      // Built, not yet saved: the file holds only the earlier versions; the node has the newest of them.
      assert.is(versions.length, before, at);
      assert.equal(mempool, versions.slice(-1), at);
      break;
    case "version-saved":
      // Saved, never sent: the node still has the version before it, if any.
      assert.is(saved.length, 1, at);
      assert.equal(leaves, expectLeaves, at);
      assert.equal(mempool, versions.slice(before - 1, before), at);
      break;
    case "version-broadcast":
      assert.is(saved.length, 1, at);
      assert.equal(leaves, expectLeaves, at);
      assert.equal(mempool, versions.slice(-1), at);
      break;
    case "mined-saved":
      assert.is(saved.length, 1, at);
      assert.ok(state?.cycles[0]?.mined, at);
      assert.is(confirmed.length, 1, at);
      assert.ok(versions.includes(confirmed[0] as string), at);
      break;
    case "stamp-journaled":
      // Journaled, the state file not yet told: the restart must neither stamp again nor forget.
      assert.is(saved.length, 1, at);
      assert.ok(state?.cycles[0]?.mined, at);
      assert.is(confirmed.length, 1, at);
      break;
    case "cycle-closed":
      assert.is(saved.length, 0, at);
      assert.is(confirmed.length, 1, at);
      break;
  }
}

async function crashAndRecover(c: Case, signal: AbortSignal): Promise<void> {
  const dir = await tempDir("otsfed-crash-");
  const armFile = `${dir}.arm`;
  const btc = await startBitcoin();
  const {chain, miner} = btc;
  let child: Child | null = null;
  try {
    // 1. A node that will kill itself at the phase; nothing to stamp with yet.
    child = spawnChild({dataDir: dir, rpcUrl: btc.rpc.url, killAt: c.phase, armFile: c.replacement ? armFile : null});
    const url = await waitReady(child, signal);
    let address: string | null = null;
    // The address appears once the node has imported its descriptor into the watch-only wallet.
    while (address === null) {
      address = (await status(url, signal)).address;
      if (address === null) await sleep(20);
    }
    const script = SimulatedBitcoin.scriptOf(address);

    // 2. Digests first, so that the first transaction covers them all.
    const rng = new Rng(c.title.length * 7919 + c.phase.length);
    const commitments: Uint8Array[] = [];
    const post = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const digest = rng.bytes(32);
        const r = await postDigest(url, digest, signal);
        assert.is(r.status, 200);
        commitments.push(proofLeaf(r.body, digest).msg);
      }
    };
    await post(DIGESTS);

    // 3. Fund the address and drive the chain until the node dies at the phase.
    btc.wallet.fund(script, [FUNDING_SATS], {confirm: false});
    chain.mine(1, miner);
    const fundingHeight = chain.height();
    const deadline = Date.now() + KILL_WAIT_MS;
    let before = 0;
    let armed = false;
    for (;;) {
      const exit = await Promise.race([child.exited, sleep(MINE_EVERY_MS)]);
      if (exit !== undefined) break;
      if (Date.now() > deadline) assert.unreachable(`${c.title}: the node never got to ${c.phase}:\n${tail(child)}`);
      const pool = ourMempool(chain, script);
      if (c.phase.startsWith("version-")) {
        // A first version comes from the funding block alone. A replacement
        // needs a block without its predecessor; arm the kill only once the
        // newest version is out and built on the current tip (a version built
        // on a tip the stamper had not caught up with is replaced at once).
        if (!c.replacement || armed) continue;
        const cycle = (await readState(dir))?.cycles[0];
        const newest = cycle?.versions.at(-1);
        if (cycle === undefined || newest === undefined || newest.height !== chain.height()) continue;
        if (pool.length !== 1 || pool[0] !== hashToDisplayHex(fromHex(newest.txid) as Uint8Array)) continue;
        await post(LATE_DIGESTS);
        before = cycle.versions.length;
        await writeFile(armFile, "");
        armed = true;
        chain.mine(1, miner, {includeMempool: false});
      } else if (pool.length > 0 || ourConfirmed(chain, script, fundingHeight + 1).length > 0) {
        chain.mine(1, miner);
      }
    }
    const exit = await child.exited;
    assert.is(exit.signal, "SIGKILL", `${c.title}: exit ${JSON.stringify(exit)}\n${tail(child)}`);
    assert.ok(child.lines.includes(JSON.stringify({killing: c.phase})), `${c.title}: killed elsewhere: ${child.lines.join("\n")}`);
    assert.equal(errorLines(child), [], `${c.title}: errors logged before the kill`);
    checkAtKill(
      c,
      before,
      await readState(dir),
      ourMempool(chain, script),
      ourConfirmed(chain, script, fundingHeight + 1).map((t) => t.txid),
    );
    child = null;

    // 4. The chain may move on while the node is down (a version in the mempool gets mined).
    if (c.mineWhileDown) chain.mine(1, miner);

    // 5. Restart without the hook and mine until every commitment has its proof.
    child = spawnChild({dataDir: dir, rpcUrl: btc.rpc.url, killAt: null, armFile: null});
    const url2 = await waitReady(child, signal);
    const proofs = new Map<number, Uint8Array>();
    const proofDeadline = Date.now() + PROOF_WAIT_MS;
    while (proofs.size < commitments.length) {
      if (Date.now() > proofDeadline || !alive(child)) {
        assert.unreachable(`${c.title}: only ${proofs.size}/${commitments.length} proofs after restart; status ${JSON.stringify(await status(url2, signal).catch(() => null))}\n${tail(child)}`);
      }
      for (const [i, m] of commitments.entries()) {
        if (proofs.has(i)) continue;
        const r = await getProof(url2, m, signal);
        if (r.status === 200) proofs.set(i, r.body);
      }
      if (proofs.size < commitments.length) {
        chain.mine(1, miner);
        await sleep(MINE_EVERY_MS);
      }
    }
    // The cycle leaves the state file right after its STAMP is journaled; wait for that.
    for (;;) {
      const s = await status(url2, signal);
      if (s.in_flight.length === 0 && s.waiting.length === 0) break;
      if (Date.now() > proofDeadline) assert.unreachable(`${c.title}: cycles left after every proof: ${JSON.stringify(s)}`);
      await sleep(20);
    }
    const final = await status(url2, signal);
    assert.equal(final.stamper_problems, [], c.title);

    // 6. Every proof leads from its commitment to the merkle root of a block of the active chain.
    const heights = new Set<number>();
    for (const [i, m] of commitments.entries()) {
      const atts = listAttestations(decodeTimestamp(proofs.get(i) as Uint8Array, m));
      assert.is(atts.length, 1, `${c.title}: commitment ${i} has ${atts.length} attestations`);
      const a = atts[0] as (typeof atts)[number];
      assert.is(a.attestation.kind, "bitcoin", c.title);
      const height = (a.attestation as {height: number}).height;
      const block = chain.blockAt(height);
      assert.ok(block, `${c.title}: no block at ${height}`);
      assert.is(toHex(a.msg), toHex(decodeBlockHeader((block as {header: Uint8Array}).header).merkleRoot), `${c.title}: commitment ${i}'s proof does not reach block ${height}'s merkle root`);
      heights.add(height);
    }

    // 7. A clean stop.
    child.proc.kill("SIGTERM");
    const stopped = await child.exited;
    assert.is(stopped.code, 0, `${c.title}: SIGTERM exit ${JSON.stringify(stopped)}\n${tail(child)}`);
    assert.equal(errorLines(child), [], `${c.title}: errors logged after the restart`);
    child = null;

    // 8. Nothing double-spent, nothing forgotten: our spends in the chain are exactly the journaled stamps.
    const journal = await readJournal(dir);
    const live = journal.stamps.filter((s) => !journal.revoked.includes(s.seq));
    const onChain = ourConfirmed(chain, script, fundingHeight + 1);
    assert.equal(live.map((s) => s.txid).sort(), onChain.map((t) => t.txid).sort(), `${c.title}: stamps journaled vs stamp transactions in the chain`);
    assert.is(new Set(journal.stamps.map((s) => s.txid)).size, journal.stamps.length, `${c.title}: a transaction journaled twice`);
    assert.equal(final.transactions.map((t) => t.txid).sort(), live.map((s) => s.txid).sort(), `${c.title}: status 'transactions'`);
    for (const s of live) {
      const block = chain.blockAt(s.record.height);
      assert.ok(block && bytesEqual(block.hash, s.record.blockHash), `${c.title}: stamp ${s.txid} names a block not in the active chain`);
      assert.ok(heights.has(s.record.height), `${c.title}: no proof uses stamp ${s.txid}`);
    }
    // Every round in exactly one live stamp.
    for (const seq of journal.rounds) {
      const covering = live.filter((s) => s.record.ranges.some((r) => r.from <= seq && seq < r.to));
      assert.is(covering.length, 1, `${c.title}: round ${seq} is in ${covering.length} stamps`);
    }
    assert.is(live.reduce((a, s) => a + s.record.leaves, 0), journal.rounds.length, c.title);
    assert.equal(savedTxids(await readState(dir)), [], `${c.title}: state file still has cycles`);
    assert.equal((await verifyJournal(dir)).problems, [], c.title);
  } finally {
    await killChild(child);
    await btc.rpc.stop();
    await removeDir(dir);
    await rm(armFile, {force: true});
  }
}

// ---
const Crash = suite("node/stamper/stamper SIGKILL at each phase, then restart (child process)");

const CASES: Case[] = [
  {phase: "version-built", replacement: false, mineWhileDown: false, title: "version-built :: first version"},
  {phase: "version-saved", replacement: false, mineWhileDown: false, title: "version-saved :: first version, sent only after the restart"},
  {phase: "version-broadcast", replacement: false, mineWhileDown: true, title: "version-broadcast :: first version, mined while down"},
  {phase: "version-built", replacement: true, mineWhileDown: true, title: "version-built :: replacement, the version before mined while down"},
  {phase: "version-saved", replacement: true, mineWhileDown: false, title: "version-saved :: replacement never sent, the version before mined"},
  {phase: "version-broadcast", replacement: true, mineWhileDown: true, title: "version-broadcast :: replacement, mined while down"},
  {phase: "mined-saved", replacement: false, mineWhileDown: true, title: "mined-saved :: confirmed enough while down"},
  {phase: "stamp-journaled", replacement: false, mineWhileDown: false, title: "stamp-journaled :: STAMP written, the state file not yet"},
  {phase: "cycle-closed", replacement: false, mineWhileDown: false, title: "cycle-closed :: everything written"},
];

for (const c of CASES) {
  Crash(`should give every commitment one valid proof after a SIGKILL at ${c.title}`, withTimeout(45_000, (signal) => crashAndRecover(c, signal)));
}

// ---
const Damaged = suite("node/stamper/state-file damaged state (child process)");

Damaged("should refuse to start naming the file :: truncated state.json", withTimeout(30_000, async (signal) => {
  const dir = await tempDir("otsfed-crash-");
  const btc = await startBitcoin();
  let c: ReturnType<typeof spawnNode> | null = null;
  try {
    const stateDir = join(dir, "stamper");
    await mkdir(stateDir, {recursive: true});
    const whole = JSON.stringify({format: "otsfed-stamper-state", version: 1, nextCycleId: 2, lastCycleStartMs: 0, cycles: []}, null, 1);
    const truncated = whole.slice(0, whole.length - 20);
    await writeFile(join(stateDir, "state.json"), truncated);
    // As operators run it.
    c = spawnNode(["--data-dir", dir, "--listen", "127.0.0.1:0", "--bitcoin-rpc", btc.rpc.url]);
    const started = (): boolean => (c as NonNullable<typeof c>).logs.some((l) => l.includes('"calendar node started"'));
    while (c.proc.exitCode === null && c.proc.signalCode === null && !started()) {
      signal.throwIfAborted();
      await sleep(20);
    }
    assert.not.ok(started(), "the node must not start on a damaged state file");
    const exit = await c.exited;
    const out = c.stderr.join("") + c.logs.join("\n");
    assert.ok(exit.code !== 0 && exit.code !== null, `exit ${JSON.stringify(exit)}: ${out}`);
    assert.ok(out.includes(join(stateDir, "state.json")), out);
    // The refusal changed nothing.
    assert.is(await readFile(join(stateDir, "state.json"), "utf8"), truncated);
  } finally {
    if (c) await killNode(c);
    await btc.rpc.stop();
    await removeDir(dir);
  }
}));

Crash.run();
Damaged.run();
