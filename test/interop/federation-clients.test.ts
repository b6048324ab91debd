/**
 * The real OpenTimestamps clients, unchanged, against a federation: stamp
 * at member A with the npm `opentimestamps` library and with the reference
 * Python client (../shared/tools/ots, 0.7.2), let A stamp on the simulated
 * chain, switch A off, upgrade from member B (which mirrors A's journal,
 * STAMP record included), and verify — with both clients' own verifiers.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {execFile} from "node:child_process";
import {randomBytes} from "node:crypto";
import {readFile, writeFile} from "node:fs/promises";
import {createRequire} from "node:module";
import {join} from "node:path";
import {fileURLToPath} from "node:url";
import {CoreRpcBackend} from "../../node/bitcoin/core-rpc.ts";
import {SimulatedBitcoin} from "../../node/bitcoin/sim/simulated-bitcoin.ts";
import {systemClock} from "../../node/clock.ts";
import type {CalendarNode} from "../../node/node.ts";
import {decodeDetached} from "../../protocol/ots/detached.ts";
import {listAttestations} from "../../protocol/ots/evaluate.ts";
import {bytesEqual} from "../../protocol/ots/bytes.ts";
import {withTimeout} from "../support/timeout.ts";
import {tempDir, removeDir} from "../node/calendar/support.ts";
import {fetchTimestamp} from "../node/stamper/harness.ts";
import {planFederation, startMember, stopAll, waitFor} from "../node/federation/support.ts";

type OtsFile = {serializeToBytes(): Uint8Array};
type OtsJs = {
  Ops: {OpSHA256: new () => unknown};
  DetachedTimestampFile: {fromBytes(op: unknown, bytes: Uint8Array): OtsFile; deserialize(bytes: Uint8Array): OtsFile};
  stamp(files: unknown, options: {calendars: string[]; m: number}): Promise<void>;
  upgrade(file: unknown, options: {calendars: string[]}): Promise<boolean>;
};
const OTS = createRequire(import.meta.url)("opentimestamps") as OtsJs;
const REFERENCE_OTS = fileURLToPath(new URL("../../../shared/tools/ots", import.meta.url));
const CLI = fileURLToPath(new URL("../../node/cli/otsfed.ts", import.meta.url));

function run(file: string, args: string[], signal: AbortSignal, cwd?: string): Promise<{code: number; out: string}> {
  return new Promise((resolve) => {
    execFile(file, args, {signal, cwd, env: {...process.env, HOME: cwd ?? process.env["HOME"] ?? "/tmp"}}, (err, stdout, stderr) => resolve({code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: stdout + stderr}));
  });
}

function pendingCommitment(bytes: Uint8Array): Uint8Array {
  const pending = listAttestations(decodeDetached(bytes).timestamp).filter((a) => a.attestation.kind === "pending");
  if (pending.length !== 1) throw new Error(`expected one pending attestation, got ${pending.length}`);
  return (pending[0] as {msg: Uint8Array}).msg;
}

const test = suite("interop: real OpenTimestamps clients stamp at one member and upgrade from another");

test(
  "npm opentimestamps and the reference ots client: stamp at A, A switched off, upgrade from B, verify",
  withTimeout(120_000, async (signal) => {
    const work = await tempDir("otsfed-fedclients-");
    const bitcoin = await SimulatedBitcoin.start({}, {clock: systemClock});
    const {def, members} = await planFederation(3, "clients", (o) => {
      o.bitcoin.rpcUrl = bitcoin.url;
      o.stamper = {...o.stamper, intervalMs: 0, confirmations: 2, pollIntervalMs: 40};
    });
    const backends = members.map(() => new CoreRpcBackend({url: bitcoin.url}));
    const nodes: Array<CalendarNode | null> = [];
    try {
      for (const [i, m] of members.entries()) nodes.push(await startMember(m, def, backends[i]!));
      const [a, b] = nodes as [CalendarNode, CalendarNode];
      const aUrl = members[0]!.url;
      const bUrl = members[1]!.url;

      // Stamped at A by both clients, before A has funds: one transaction will cover both.
      const jsContent = randomBytes(200);
      const jsFile = OTS.DetachedTimestampFile.fromBytes(new OTS.Ops.OpSHA256(), new Uint8Array(jsContent));
      await OTS.stamp(jsFile, {calendars: [aUrl], m: 1});
      const pyPath = join(work, "hello.txt");
      await writeFile(pyPath, `hello federation ${randomBytes(8).toString("hex")}\n`);
      const stamped = await run(REFERENCE_OTS, ["--no-cache", "stamp", "-c", aUrl, "-m", "1", pyPath], signal, work);
      assert.is(stamped.code, 0, stamped.out);
      const commitments = [pendingCommitment(new Uint8Array(jsFile.serializeToBytes())), pendingCommitment(new Uint8Array(await readFile(`${pyPath}.ots`)))];

      // A stamps; K = 2 confirmations.
      await a.bitcoin!.funding.refresh();
      bitcoin.fund(a.bitcoin!.funding.bitcoinStatus.address!, 5_000_000n);
      await waitFor("A's transaction", () => (a.bitcoin!.stamper.report().inFlight.length > 0), signal, 25);
      // A version is saved before it is broadcast: keep mining until it is in, and deep enough.
      await waitFor("complete proofs at A", async () => {
        bitcoin.mine(1);
        a.bitcoin!.stamper.poke();
        return (await Promise.all(commitments.map((c) => fetchTimestamp(aUrl, c)))).every((r) => r.status === 200);
      }, signal, 200);
      // B serves exactly A's bytes, from its mirror of A's journal.
      await waitFor("complete proofs at B", async () => (await Promise.all(commitments.map((c) => fetchTimestamp(bUrl, c)))).every((r) => r.status === 200), signal, 50);
      for (const c of commitments) assert.ok(bytesEqual((await fetchTimestamp(aUrl, c)).body, (await fetchTimestamp(bUrl, c)).body), "B's proof is A's, byte for byte");

      // A is switched off; the clients upgrade from B.
      await a.stop();
      nodes[0] = null;
      assert.is(await OTS.upgrade(jsFile, {calendars: [bUrl]}), true, "npm client upgraded from B");
      const kinds = listAttestations(decodeDetached(new Uint8Array(jsFile.serializeToBytes())).timestamp).map((x) => x.attestation.kind).sort();
      assert.equal(kinds, ["bitcoin", "pending"]);
      const jsPath = join(work, "js.bin");
      await writeFile(jsPath, jsContent);
      await writeFile(`${jsPath}.ots`, jsFile.serializeToBytes());
      const upgraded = await run(REFERENCE_OTS, ["--no-cache", "upgrade", "-c", bUrl, `${pyPath}.ots`], signal, work);
      assert.is(upgraded.code, 0, upgraded.out);
      assert.match(upgraded.out, /Success! Timestamp complete/);

      // Verified by the reference client against the chain, and by otsfed.
      for (const path of [pyPath, jsPath]) {
        const v = await run(REFERENCE_OTS, ["--no-cache", "--btc-regtest", "--bitcoin-node", bitcoin.url, "verify", `${path}.ots`], signal, work);
        assert.is(v.code, 0, v.out);
        assert.match(v.out, /Success! Bitcoin block \d+ attests existence as of/);
        const ours = await run(process.execPath, [CLI, "verify", `${path}.ots`, "--bitcoin-rpc", bitcoin.url], signal, work);
        assert.is(ours.code, 0, ours.out);
      }
      void b;
    } finally {
      await stopAll(nodes, members);
      for (const be of backends) be.close();
      await bitcoin.stop();
      await removeDir(work);
    }
  }),
);

test.run();
