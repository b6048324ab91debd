/**
 * End to end on the simulated chain: the npm `opentimestamps` client stamps
 * against a node, the node anchors the commitments in one transaction,
 * blocks are mined, and after K confirmations the client's upgrade gets the
 * complete proof; the upgraded files verify with `otsfed verify` against the
 * chain's JSON-RPC and with Debian's python3-opentimestamps against the same
 * headers, fetched through the same JSON-RPC with python-bitcoinlib as the
 * reference `ots verify` does.
 */
import {suite} from "uvu";
import * as assert from "uvu/assert";
import {execFile} from "node:child_process";
import {randomBytes} from "node:crypto";
import {writeFile} from "node:fs/promises";
import {createRequire} from "node:module";
import {join} from "node:path";
import {fileURLToPath} from "node:url";
import {decodeDetached} from "../../../protocol/ots/detached.ts";
import {listAttestations} from "../../../protocol/ots/evaluate.ts";
import {decodeTimestamp} from "../../../protocol/ots/timestamp.ts";
import {decodeBlockHeader} from "../../../protocol/bitcoin/header.ts";
import {bytesEqual, toHex} from "../../../protocol/ots/bytes.ts";
import {REFERENCE_PYTHON} from "../../support/reference.ts";
import {withTimeout} from "../../support/timeout.ts";
import {fetchTimestamp, inFlightVersions, MINER, sleep, startHarness, statusJson, until, waitForVersions} from "./harness.ts";

type OtsFile = {serializeToBytes(): Uint8Array};
type OtsJs = {
  Ops: {OpSHA256: new () => unknown};
  DetachedTimestampFile: {fromBytes(op: unknown, bytes: Uint8Array): OtsFile};
  stamp(files: unknown, options: {calendars: string[]; m: number}): Promise<void>;
  upgrade(file: unknown, options: {calendars: string[]}): Promise<boolean>;
};
const OTS = createRequire(import.meta.url)("opentimestamps") as OtsJs;
const CLI = fileURLToPath(new URL("../../../node/cli/otsfed.ts", import.meta.url));

/** What `ots verify` does after reading the file: for each Bitcoin attestation, ask bitcoind for the header and check the merkle root. */
const PYTHON_VERIFY = `
import sys
import bitcoin.rpc
from opentimestamps.core.serialize import StreamDeserializationContext
from opentimestamps.core.timestamp import DetachedTimestampFile
from opentimestamps.core.notary import BitcoinBlockHeaderAttestation
proxy = bitcoin.rpc.Proxy(service_url=sys.argv[1])
for path in sys.argv[2:]:
    with open(path, 'rb') as f:
        d = DetachedTimestampFile.deserialize(StreamDeserializationContext(f))
    found = 0
    for msg, att in d.timestamp.all_attestations():
        if isinstance(att, BitcoinBlockHeaderAttestation):
            header = proxy.getblockheader(proxy.getblockhash(att.height))
            print(path, att.height, att.verify_against_blockheader(msg, header))
            found += 1
    assert found == 1, found
`;

function run(file: string, args: string[], signal: AbortSignal): Promise<{code: number; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    execFile(file, args, {signal}, (err, stdout, stderr) => resolve({code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr}));
  });
}

function pendingCommitment(file: OtsFile): Uint8Array {
  const d = decodeDetached(new Uint8Array(file.serializeToBytes()));
  const pending = listAttestations(d.timestamp).filter((a) => a.attestation.kind === "pending");
  if (pending.length !== 1) throw new Error(`expected one pending attestation, got ${pending.length}`);
  return (pending[0] as {msg: Uint8Array}).msg;
}

const e2e = suite("node/stamper end to end: npm opentimestamps client, simulated chain, otsfed verify, python3-opentimestamps");

e2e("should anchor stamped files in one transaction and serve proofs the reference verifies :: 3 files, K = 3", withTimeout(90_000, async (signal) => {
  // Funded only once all three are in, so that one transaction covers them.
  const h = await startHarness({stamper: {confirmations: 3}, fundSats: null});
  try {
    const contents = [randomBytes(64), Buffer.from("hello otsfed\n"), randomBytes(3000)];
    const files = contents.map((c) => OTS.DetachedTimestampFile.fromBytes(new OTS.Ops.OpSHA256(), new Uint8Array(c)));
    // One at a time: three rounds, three commitments, one transaction.
    for (const f of files) await OTS.stamp(f, {calendars: [h.url], m: 1});
    const commitments = files.map(pendingCommitment);
    h.fund(1_000_000n);

    // One transaction covers all three; its reason shows while it waits.
    const reasons = new Set([(await fetchTimestamp(h.url, commitments[0] as Uint8Array)).text]);
    const [txid] = await waitForVersions(h, 1);
    assert.is(inFlightVersions(h.node)[0]?.leaves, 3);
    h.chain.mine(1, MINER);
    const minedAt = h.chain.tip().height;
    assert.ok(h.chain.blockAt(minedAt)?.txs.some((t) => t.getId() === txid), "the block holds the stamp");
    const waiting = await until("the node to see the stamp mined", 10_000, async () => {
      const r = await fetchTimestamp(h.url, commitments[0] as Uint8Array);
      return r.text.startsWith("Timestamped") ? r.text : null;
    }, h.node);
    assert.is(waiting, `Timestamped by transaction ${txid}; waiting for 3 confirmations`);
    for (const c of commitments) assert.is((await fetchTimestamp(h.url, c)).text, waiting, "all three in the same transaction");

    // Still 404 until the third confirmation.
    h.chain.mine(1, MINER);
    h.node.bitcoin?.stamper.poke();
    await sleep(150);
    assert.is((await fetchTimestamp(h.url, commitments[0] as Uint8Array)).status, 404, "two confirmations are not enough");
    h.chain.mine(1, MINER);
    const proofs = await until("the proofs", 10_000, async () => {
      const r = await Promise.all(commitments.map((c) => fetchTimestamp(h.url, c)));
      return r.every((x) => x.status === 200) ? r.map((x) => x.body) : null;
    }, h.node);
    for (const [i, p] of proofs.entries()) {
      assert.ok(p.length < 10_000, `proof ${i} is ${p.length} bytes`);
      const att = listAttestations(decodeTimestamp(p, commitments[i] as Uint8Array));
      assert.is(att.length, 1);
      const a = att[0] as {msg: Uint8Array; attestation: {kind: string; height?: number}};
      assert.is(a.attestation.kind, "bitcoin");
      assert.is(a.attestation.height, minedAt);
      assert.ok(bytesEqual(a.msg, decodeBlockHeader(h.chain.blockAt(minedAt)!.header).merkleRoot), "the proof ends at the header's merkle root");
    }

    // The client upgrades from the calendar, as it would from any otsd.
    const paths: string[] = [];
    for (const [i, f] of files.entries()) {
      assert.is(await OTS.upgrade(f, {calendars: [h.url]}), true, `file ${i} upgraded`);
      const kinds = listAttestations(decodeDetached(new Uint8Array(f.serializeToBytes())).timestamp).map((a) => a.attestation.kind).sort();
      assert.equal(kinds, ["bitcoin", "pending"], `file ${i} keeps its Pending attestation and gains the Bitcoin one`);
      const path = join(h.dir, `file${i}.ots`);
      await writeFile(path, f.serializeToBytes());
      await writeFile(join(h.dir, `file${i}`), contents[i] as Buffer);
      paths.push(path);
      const ours = await run(process.execPath, [CLI, "verify", path, "--bitcoin-rpc", h.rpc.url], signal);
      assert.is(ours.code, 0, ours.stdout + ours.stderr);
      assert.match(ours.stdout, new RegExp(`Success! Bitcoin block ${minedAt} attests existence as of`));
    }
    const py = await run(REFERENCE_PYTHON, ["-c", PYTHON_VERIFY, h.rpc.url, ...paths], signal);
    assert.is(py.code, 0, py.stderr);
    const lines = py.stdout.trim().split("\n");
    assert.is(lines.length, 3, py.stdout);
    const blockTime = h.chain.blockAt(minedAt)!.time;
    for (const line of lines) assert.is(line.split(" ").slice(1).join(" "), `${minedAt} ${blockTime}`, line);

    // The status page tells the story with otsd's keys.
    const s = await statusJson(h.url);
    assert.is(s.pending_commitments, 0);
    assert.is(s.txs_waiting_for_confirmation, 0);
    assert.is(s.most_recent_tx, null);
    assert.is(s.tip, null);
    const txs = s.transactions as Array<{txid: string; height: number; commitments: number; fee_sats: number}>;
    assert.is(txs.length, 1);
    assert.is(txs[0]?.txid, txid);
    assert.is(txs[0]?.height, minedAt);
    assert.is(txs[0]?.commitments, 3);
    assert.ok((txs[0]?.fee_sats ?? 0) > 0);
    assert.equal([...reasons], ["Pending confirmation in Bitcoin blockchain"]);
    assert.is(toHex(commitments[0] as Uint8Array).length, 88);
  } finally {
    await h.close();
  }
}));

e2e.run();
