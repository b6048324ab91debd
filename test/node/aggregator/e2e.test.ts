/**
 * End to end through a stand-alone aggregator in front of two otsfed
 * calendar nodes on the SIMULATED chain: the npm `opentimestamps` client and
 * the reference `ots` client (../shared/tools/ots) stamp through the
 * aggregator, each proof has a branch per upstream, the calendars stamp, and
 * both clients upgrade from the upstreams directly (the aggregator stopped
 * by then: it keeps nothing) and verify against the chain's JSON-RPC, with
 * `ots verify` and `otsfed verify`. The aggregator's reply itself is read
 * and re-serialized byte for byte by Debian's python3-opentimestamps.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {execFile} from "node:child_process";
import {randomBytes} from "node:crypto";
import {readFile, writeFile} from "node:fs/promises";
import {createRequire} from "node:module";
import {join} from "node:path";
import {fileURLToPath} from "node:url";
import {toHex} from "../../../protocol/ots/bytes.ts";
import {decodeDetached} from "../../../protocol/ots/detached.ts";
import {listAttestations} from "../../../protocol/ots/evaluate.ts";
import {decodeTimestamp} from "../../../protocol/ots/timestamp.ts";
import type {Timestamp} from "../../../protocol/ots/timestamp.ts";
import {CoreRpcBackend} from "../../../node/bitcoin/core-rpc.ts";
import {SimulatedBitcoin} from "../../../node/bitcoin/sim/simulated-bitcoin.ts";
import {systemClock} from "../../../node/clock.ts";
import {nullLogger} from "../../../node/logger.ts";
import {CalendarNode} from "../../../node/node.ts";
import {defaultStamperOptions} from "../../../node/stamper/options.ts";
import {referenceAttestedMessages, referenceRoundTrip} from "../../support/reference.ts";
import {withTimeout} from "../../support/timeout.ts";
import {getTimestamp, postDigest, removeDir, tempDir, testOptions} from "../calendar/support.ts";
import {aggregatorOptions, nodeFor, pendingLeaves, startAggregator} from "./support.ts";

type OtsFile = {serializeToBytes(): Uint8Array};
type OtsJs = {
  Ops: {OpSHA256: new () => unknown};
  DetachedTimestampFile: {fromBytes(op: unknown, bytes: Uint8Array): OtsFile; deserialize(bytes: Uint8Array): OtsFile};
  Calendar: {UrlWhitelist: new (urls: string[]) => unknown};
  stamp(files: unknown, options: {calendars: string[]; m: number}): Promise<void>;
  upgrade(file: unknown, options: {whitelist: unknown}): Promise<boolean>;
};
const OTS = createRequire(import.meta.url)("opentimestamps") as OtsJs;
const OTS_CLI = fileURLToPath(new URL("../../../../shared/tools/ots", import.meta.url));
const OTSFED = fileURLToPath(new URL("../../../node/cli/otsfed.ts", import.meta.url));

function run(file: string, args: string[], signal: AbortSignal, cwd?: string): Promise<{code: number; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    execFile(file, args, {signal, ...(cwd ? {cwd} : {})}, (err, stdout, stderr) => resolve({code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr}));
  });
}

/** Each Pending leaf of a proof: the upstream it names and the commitment to upgrade there. */
function commitments(ts: Timestamp): Map<string, Uint8Array> {
  return new Map(pendingLeaves(ts).map((l) => [l.uri, l.msg]));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---
const e2e = suite("node/aggregator end to end: two calendars on the simulated chain, npm opentimestamps and the reference ots client");

e2e("should stamp through the aggregator with a branch per upstream, then upgrade from the upstreams and verify :: npm client, ots 0.7.2, K = 2", withTimeout(180_000, async (signal) => {
  const dir = await tempDir("otsfed-aggregator-e2e-");
  const bitcoin = await SimulatedBitcoin.start({minerSeed: "aggregator e2e miner"}, {clock: systemClock});
  const backend = new CoreRpcBackend({url: bitcoin.url});
  const nodes: CalendarNode[] = [];
  let aggregatorStop: (() => Promise<void>) | null = null;
  try {
    const urls: string[] = [];
    for (const name of ["one", "two"]) {
      const opts = testOptions(join(dir, name), (o) => {
        o.bitcoin.rpcUrl = bitcoin.url;
        o.stamper = {...defaultStamperOptions, intervalMs: 0, confirmations: 2, pollIntervalMs: 40, fee: {...defaultStamperOptions.fee}};
      });
      // Each calendar reaches the simulated chain through the Core backend operators use.
      const node = await CalendarNode.init(opts, {logger: nullLogger, clock: systemClock, bitcoin: backend});
      nodes.push(node);
      const {url} = await node.start();
      urls.push(url);
      await node.bitcoin?.funding.refresh();
      const address = node.bitcoin?.funding.bitcoinStatus.address;
      if (!address) throw new Error("the calendar did not learn its stamping address");
      bitcoin.fund(address, 10_000_000n);
    }
    const {aggregator, url: agg} = await startAggregator(aggregatorOptions(urls));
    aggregatorStop = () => aggregator.stop();

    // The aggregator's own reply: python reads it from the digest and writes it back byte for byte.
    const digest = new Uint8Array(randomBytes(32));
    const posted = await postDigest(agg, digest);
    assert.is(posted.status, 200);
    const [ref] = await referenceAttestedMessages([{msg: digest, body: posted.body}], signal);
    assert.ok(ref && "ok" in ref, JSON.stringify(ref));
    assert.is(ref.ok.reserialized, toHex(posted.body), "python re-serializes the aggregator's reply identically");
    const ours = commitments(decodeTimestamp(posted.body, digest));
    assert.equal(ref.ok.attestations.map((a) => a.msg).sort(), [...ours.values()].map(toHex).sort(), "python reaches the same commitments");

    // The npm client and the reference client stamp through the aggregator.
    const contentA = randomBytes(500);
    const contentB = Buffer.from(`hello through the aggregator ${toHex(new Uint8Array(randomBytes(8)))}\n`);
    const fileA = OTS.DetachedTimestampFile.fromBytes(new OTS.Ops.OpSHA256(), new Uint8Array(contentA));
    await OTS.stamp(fileA, {calendars: [agg], m: 1});
    const pathA = join(dir, "a.txt");
    await writeFile(pathA, contentA);
    await writeFile(`${pathA}.ots`, fileA.serializeToBytes());
    const pathB = join(dir, "b.txt");
    await writeFile(pathB, contentB);
    const stamped = await run(OTS_CLI, ["--no-cache", "stamp", "-c", agg, "-m", "1", pathB], signal);
    assert.is(stamped.code, 0, stamped.stdout + stamped.stderr);

    const files = [`${pathA}.ots`, `${pathB}.ots`];
    const pending = new Map<string, Map<string, Uint8Array>>();
    for (const f of files) {
      const bytes = new Uint8Array(await readFile(f));
      const d = decodeDetached(bytes);
      const c = commitments(d.timestamp);
      assert.equal([...c.keys()].sort(), [...urls].sort(), `${f}: a Pending branch per upstream`);
      for (const [url, msg] of c) assert.is((await getTimestamp(url, msg)).text, "Pending confirmation in Bitcoin blockchain", `${f}: ${url} holds its commitment`);
      pending.set(f, c);
      // The two branches fork at one node: the round root both upstreams were sent.
      const forks: Timestamp[] = [];
      const walk = (t: Timestamp): void => {
        if (t.opCount > 1) forks.push(t);
        for (const [, child] of t.ops) walk(child);
      };
      walk(d.timestamp);
      assert.is(forks.length, 1, `${f}: one fork`);
      assert.is(forks[0]?.msg.length, 32, `${f}: at a 32-byte round root`);
      assert.ok(nodeFor(d.timestamp, forks[0]?.msg as Uint8Array), f);
    }
    const roundTrip = await referenceRoundTrip(await Promise.all(files.map(async (f) => new Uint8Array(await readFile(f)))), signal);
    for (const [i, f] of files.entries()) assert.equal(roundTrip[i], {ok: toHex(new Uint8Array(await readFile(f)))}, `${f}: python reads and writes it back unchanged`);

    // The aggregator's part is over: clients upgrade from the upstreams alone.
    await aggregator.stop();
    aggregatorStop = null;

    // Both calendars stamp; mine until every commitment has its complete proof at its calendar.
    const all = [...pending.values()].flatMap((c) => [...c.entries()]);
    for (let i = 0; ; i++) {
      signal.throwIfAborted();
      for (const n of nodes) n.bitcoin?.stamper.poke();
      const done = await Promise.all(all.map(([url, msg]) => getTimestamp(url, msg)));
      if (done.every((r) => r.status === 200)) break;
      if (i % 5 === 4) bitcoin.mine(1);
      await sleep(40);
    }
    /** The block height each upstream's completed proof of a commitment attests. */
    const heightAt = async (url: string, msg: Uint8Array): Promise<number> => {
      const r = await fetch(`${url}/timestamp/${toHex(msg)}`);
      const att = listAttestations(decodeTimestamp(new Uint8Array(await r.arrayBuffer()), msg)).map((a) => a.attestation);
      const b = att.find((a) => a.kind === "bitcoin");
      if (b?.kind !== "bitcoin") throw new Error("no Bitcoin attestation");
      return b.height;
    };

    // The npm client upgrades from each upstream named in its proof.
    const whitelist = new OTS.Calendar.UrlWhitelist(urls);
    const upgradedA = OTS.DetachedTimestampFile.deserialize(new Uint8Array(await readFile(`${pathA}.ots`)));
    assert.is(await OTS.upgrade(upgradedA, {whitelist}), true);
    await writeFile(`${pathA}.ots`, upgradedA.serializeToBytes());
    // The reference client too.
    const whitelistFlags = urls.flatMap((u) => ["--whitelist", u]);
    const up = await run(OTS_CLI, ["--no-cache", ...whitelistFlags, "upgrade", `${pathB}.ots`], signal);
    assert.is(up.code, 0, up.stdout + up.stderr);
    assert.match(up.stdout + up.stderr, "Success! Timestamp complete");
    for (const url of urls) assert.match(up.stderr, `Got 1 attestation(s) from ${url}`, "the reference client asked each upstream");

    const rpc = `${bitcoin.url}/`;
    for (const f of files) {
      const atts = listAttestations(decodeDetached(new Uint8Array(await readFile(f))).timestamp).map((a) => a.attestation);
      assert.is(atts.filter((a) => a.kind === "pending").length, 2, `${f}: both Pending attestations kept`);
      const heights = atts.flatMap((a) => (a.kind === "bitcoin" ? [a.height] : []));
      const expected = await Promise.all([...(pending.get(f) as Map<string, Uint8Array>)].map(([url, msg]) => heightAt(url, msg)));
      // The JS client merges every upstream's completion; python's merges only
      // attestations it has not got yet, and two Bitcoin attestations of the
      // same height are equal to it, so it keeps one per block.
      if (f === files[0]) assert.equal(heights.sort(), expected.sort(), `${f}: each branch completed by its upstream`);
      else assert.equal(heights.sort(), [...new Set(expected)].sort(), `${f}: each block's attestation, as python merges them`);
      const ref = await run(OTS_CLI, ["--no-cache", ...whitelistFlags, "--btc-regtest", "--bitcoin-node", rpc, "verify", f], signal);
      assert.is(ref.code, 0, `${f}: ${ref.stdout}${ref.stderr}`);
      assert.match(ref.stdout + ref.stderr, /Success! Bitcoin block \d+ attests existence as of/);
      const otsfed = await run(process.execPath, [OTSFED, "verify", f, "--bitcoin-rpc", bitcoin.url], signal);
      assert.is(otsfed.code, 0, `${f}: ${otsfed.stdout}${otsfed.stderr}`);
      assert.match(otsfed.stdout, /Success! Bitcoin block \d+ attests existence as of/);
    }
  } finally {
    await aggregatorStop?.().catch(() => {});
    for (const n of nodes) await n.stop().catch(() => {});
    backend.close();
    await bitcoin.stop().catch(() => {});
    await removeDir(dir);
  }
}));

e2e.run();
