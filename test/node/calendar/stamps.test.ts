import {suite} from "uvu";
import * as assert from "uvu/assert";
import {rm} from "node:fs/promises";
import {join} from "node:path";
import {Level} from "level";
import {bitcoin} from "../../../protocol/ots/attestations.ts";
import {bitcoinBranchOps, bitcoinMerkleBranch, txCommitmentOps} from "../../../protocol/ots/bitcoin.ts";
import {parseTransaction, serializeWithoutWitness} from "../../../protocol/ots/bitcoin-tx.ts";
import {bytesEqual, toHex} from "../../../protocol/ots/bytes.ts";
import {FlatMerkleTree} from "../../../protocol/ots/flat-merkle.ts";
import {sha256} from "../../../protocol/ots/hashes.ts";
import {SHA256} from "../../../protocol/ots/ops.ts";
import {encodeTimestamp, timestampFromPath} from "../../../protocol/ots/timestamp.ts";
import {roundCommitment} from "../../../protocol/journal/commitment.ts";
import {RecordKind} from "../../../protocol/journal/record.ts";
import {encodeStamp, encodeStampRevoked} from "../../../protocol/journal/stamp.ts";
import type {SeqRange, StampRecord} from "../../../protocol/journal/stamp.ts";
import {encodeStampAnchor, stampMerkleRoot} from "../../../protocol/journal/stamp-proof.ts";
import {keyPairFromSeed} from "../../../node/bitcoin/signing.ts";
import type {Calendar} from "../../../node/calendar/calendar.ts";
import {INDEX_DIR, INDEX_SCHEMA_VERSION} from "../../../node/calendar/commitment-index.ts";
import {StoreError, StoreErrorCode} from "../../../node/calendar/errors.ts";
import {StampDirectory} from "../../../node/calendar/stamp-directory.ts";
import type {LiveStamp} from "../../../node/calendar/stamp-directory.ts";
import {leafIndexOf, makeProofSet, StampProofCache, stampKey} from "../../../node/calendar/stamp-proofs.ts";
import type {StampProofSet, StampProofSource} from "../../../node/calendar/stamp-proofs.ts";
import {buildStampTransaction} from "../../../node/anchor/stamp-tx.ts";
import {referenceAttestedMessages} from "../../support/reference.ts";
import {withTimeout} from "../../support/timeout.ts";
import {openOwnJournal, openRegistry, proofLeaf, removeDir, tempDir} from "./support.ts";

const key = keyPairFromSeed("calendar stamps test");
const h = (s: string): Uint8Array => sha256(new TextEncoder().encode(s));

/** Commit `n` rounds with distinct roots; returns their commitments by seq. */
async function commitRounds(cal: Calendar, n: number, into: Map<number, Uint8Array>): Promise<void> {
  for (let i = 0; i < n; i++) {
    const {seq, commitment} = await cal.commitRound(h(`root ${cal.store.length} ${i}`), 1 + (i % 3), 1000 + i);
    into.set(seq, commitment);
  }
}

/** A real stamp over `ranges`: its tree, its transaction, and a block holding it at `txIndex`. */
type Built = {record: StampRecord; merkleRoot: Uint8Array; seqs: number[]; leaves: Uint8Array; tree: FlatMerkleTree};

async function buildStamp(cal: Calendar, ranges: SeqRange[], height: number, opts: {txIndex?: number; blockTxs?: number} = {}): Promise<Built> {
  const {seqs, leaves} = await cal.readRoundLeaves(ranges);
  const tree = new FlatMerkleTree(leaves, sha256);
  const root = tree.root.slice();
  const st = buildStampTransaction({input: {txid: h(`coin ${height}`), vout: 1, valueSats: 100_000n}, key, root, feeRate: 3, lockTime: height - 1});
  // The journal keeps the transaction without witness: its txid preimage.
  const parsed = parseTransaction(st.tx);
  if (parsed === null) throw new Error("cannot parse our own stamp transaction");
  const tx = serializeWithoutWitness(parsed);
  assert.ok(bytesEqual(tx, st.txNoWitness));
  const txIndex = opts.txIndex ?? 2;
  const txids = Array.from({length: opts.blockTxs ?? 5}, (_, i) => (i === txIndex ? st.txid : h(`block ${height} tx ${i}`)));
  const {root: merkleRoot, branch} = bitcoinMerkleBranch(txids, txIndex);
  const record: StampRecord = {ranges, leaves: seqs.length, root, tx, height, blockHash: h(`block ${height}`), txIndex, branch, feeSats: Number(st.feeSats), vsize: st.vsize};
  assert.ok(bytesEqual(stampMerkleRoot(record), merkleRoot), "the record's anchor reaches the block's merkle root");
  return {record, merkleRoot, seqs: Array.from(seqs), leaves, tree};
}

function warmOf(b: Built): {seqs: Float64Array; leaves: Uint8Array; tree: FlatMerkleTree} {
  return {seqs: Float64Array.from(b.seqs), leaves: b.leaves, tree: b.tree};
}

/** The proof the long way: every op spelled out, then the library's encoder. */
function longWayProof(b: Built, commitment: Uint8Array, leafIndex: number): Uint8Array {
  const r = b.record;
  const ops = [SHA256, ...b.tree.path(leafIndex), ...txCommitmentOps(r.tx, r.root), ...bitcoinBranchOps(r.txIndex, r.branch)];
  return encodeTimestamp(timestampFromPath(commitment, ops, [bitcoin(r.height)]));
}

/** `lookup` says stamped with a proof from the commitment to the block's merkle root, equal to the long way. */
async function assertStamped(cal: Calendar, b: Built, seq: number, commitment: Uint8Array, what: string): Promise<Uint8Array> {
  const st = await cal.lookup(commitment);
  if (st === null || st.state !== "stamped") throw new Error(`${what}: seq ${seq} is ${st === null ? "null" : st.state}, not stamped`);
  assert.is(st.seq, seq, what);
  assert.ok(bytesEqual(st.stamp.txid, sha256(sha256(b.record.tx))), `${what}: stamp txid`);
  const {msg, attestations} = proofLeaf(st.proof, commitment);
  assert.is(toHex(msg), toHex(b.merkleRoot), `${what}: seq ${seq} reaches the block merkle root`);
  assert.equal(attestations, [bitcoin(b.record.height)], `${what}: seq ${seq} attestation`);
  const i = b.seqs.indexOf(seq);
  assert.ok(i >= 0, `${what}: seq ${seq} is a leaf`);
  assert.is(toHex(st.proof), toHex(longWayProof(b, commitment, i)), `${what}: seq ${seq} equals the long way`);
  return st.proof;
}

function liveSummary(cal: Calendar): string[] {
  return cal.stamps
    .all()
    .sort((a, b) => a.pos.seq - b.pos.seq)
    .map((s) => `${s.pos.seq}/${s.pos.segment}/${s.pos.offset} ${JSON.stringify(s.ranges)} ${s.leaves} ${toHex(s.txid)} ${toHex(s.blockHash)} ${s.height} ${s.feeSats} ${s.vsize}`);
}

async function allLookups(cal: Calendar, commitments: Map<number, Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for (const [seq, c] of [...commitments].sort((a, b) => a[0] - b[0])) {
    const st = await cal.lookup(c);
    out.push(st === null ? `${seq} null` : st.state === "stamped" ? `${seq} stamped@${st.stamp.pos.seq} ${toHex(st.proof)}` : `${seq} pending`);
  }
  return out;
}

async function expectRefusal(p: Promise<unknown>, check: (e: unknown) => boolean, what: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.ok(check(e), `${what}: unexpected error ${String(e)}`);
    return;
  }
  assert.unreachable(`${what}: accepted`);
}

const isStampInconsistent = (e: unknown): boolean => e instanceof StoreError && e.code === StoreErrorCode.STAMP_INCONSISTENT;

// ---
const stamped = suite("node/calendar/calendar Calendar stamps");

stamped("should serve complete proofs for stamped commitments and pending for the rest :: warm commitStamp", withTimeout(30_000, async () => {
  const dir = await tempDir();
  try {
    const reg = await openRegistry(dir);
    const cal = reg.own;
    try {
      const commitments = new Map<number, Uint8Array>();
      await commitRounds(cal, 20, commitments);
      const a = await buildStamp(cal, [{from: 0, to: 8}, {from: 12, to: 15}], 101);
      assert.is(a.record.leaves, 11);
      const live = await cal.commitStamp(a.record, warmOf(a));
      assert.is(live.pos.seq, 20, "the STAMP is the next record");
      assert.equal(live.ranges, a.record.ranges);
      assert.is(cal.store.length, 21);
      assert.is(cal.stamps.size, 1);
      assert.is(cal.stamps.covering(5)?.pos.seq, 20);
      assert.is(cal.stamps.covering(9), null);
      assert.equal(cal.stamps.inBlock(a.record.blockHash).map((s) => s.pos.seq), [20]);
      assert.equal(cal.uncoveredRanges(), [{from: 8, to: 12}, {from: 15, to: 21}]);

      for (const [seq, c] of commitments) {
        const inside = a.seqs.includes(seq);
        if (inside) await assertStamped(cal, a, seq, c, "warm");
        else assert.equal(await cal.lookup(c), {state: "pending", seq}, `seq ${seq} stays pending`);
      }
      // The reference implementation reads one of these proofs and finds the same attested merkle root.
      const c3 = commitments.get(3) as Uint8Array;
      const st = await cal.lookup(c3);
      assert.ok(st?.state === "stamped");
      const [ref] = await referenceAttestedMessages([{msg: c3, body: st.proof}]);
      assert.equal(ref, {ok: {reserialized: toHex(st.proof), attestations: [{msg: toHex(a.merkleRoot), bitcoinHeight: 101}]}});
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

stamped("should refuse forged commitments inside a stamped range :: forged", withTimeout(30_000, async () => {
  const dir = await tempDir();
  try {
    const reg = await openRegistry(dir);
    const cal = reg.own;
    try {
      const commitments = new Map<number, Uint8Array>();
      await commitRounds(cal, 10, commitments);
      const a = await buildStamp(cal, [{from: 0, to: 10}], 7);
      await cal.commitStamp(a.record, warmOf(a));
      for (const seq of [0, 4, 9]) {
        // Right tag and seq, another root.
        const forged = roundCommitment(h(`forged ${seq}`), cal.tag, seq);
        assert.is(await cal.lookup(forged), null, `forged root at ${seq}`);
        const flipped = Uint8Array.from(commitments.get(seq) as Uint8Array);
        flipped[31] = (flipped[31] as number) ^ 0x80;
        assert.is(await cal.lookup(flipped), null, `flipped bit at ${seq}`);
      }
      // The STAMP record's own seq is not a round.
      assert.is(await cal.lookup(roundCommitment(h("x"), cal.tag, 10)), null);
      // Past the end, another calendar's tag, wrong size.
      assert.is(await cal.lookup(roundCommitment(h("x"), cal.tag, 11)), null);
      assert.is(await cal.lookup(roundCommitment((commitments.get(1) as Uint8Array).subarray(0, 32), Uint8Array.of(1, 2, 3, 4), 1)), null);
      assert.is(await cal.lookup((commitments.get(1) as Uint8Array).subarray(0, 43)), null);
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

stamped("should skip STAMP records inside a range and build the tree from the journal :: cold commitStamp", withTimeout(30_000, async () => {
  const dir = await tempDir();
  try {
    const reg = await openRegistry(dir);
    const cal = reg.own;
    try {
      const commitments = new Map<number, Uint8Array>();
      await commitRounds(cal, 20, commitments);
      const a = await buildStamp(cal, [{from: 0, to: 8}, {from: 12, to: 15}], 101);
      await cal.commitStamp(a.record, warmOf(a)); // record 20
      await commitRounds(cal, 5, commitments); // 21..25
      // One range runs over record 20 (a STAMP): not a leaf.
      const b = await buildStamp(cal, [{from: 8, to: 12}, {from: 15, to: 26}], 102, {txIndex: 0, blockTxs: 1});
      assert.is(b.record.leaves, 4 + 10);
      assert.not.ok(b.seqs.includes(20));
      assert.is(b.record.branch.length, 0, "a block holding only our transaction");
      const live = await cal.commitStamp(b.record);
      assert.is(live.pos.seq, 26);
      assert.equal(cal.uncoveredRanges(), [{from: 26, to: 27}]);
      for (const [seq, c] of commitments) await assertStamped(cal, a.seqs.includes(seq) ? a : b, seq, c, "cold");
      assert.equal(cal.stamps.recent(5).map((s) => s.pos.seq), [26, 20]);
      assert.equal(cal.stamps.recent(1).map((s) => s.pos.seq), [26]);
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

stamped("should refuse ranges that overlap a live stamp, writing nothing :: overlap", withTimeout(30_000, async () => {
  const dir = await tempDir();
  try {
    const reg = await openRegistry(dir);
    const cal = reg.own;
    try {
      const commitments = new Map<number, Uint8Array>();
      await commitRounds(cal, 30, commitments);
      const a = await buildStamp(cal, [{from: 5, to: 10}, {from: 20, to: 22}], 50);
      await cal.commitStamp(a.record, warmOf(a));
      const length = cal.store.length;
      const overlapping: SeqRange[][] = [
        [{from: 5, to: 10}], // the same
        [{from: 0, to: 6}], // over its start
        [{from: 9, to: 12}], // over its end
        [{from: 6, to: 7}], // inside
        [{from: 0, to: 30}], // around both
        [{from: 0, to: 2}, {from: 21, to: 25}], // second range overlaps
        [{from: 11, to: 19}, {from: 21, to: 22}],
      ];
      for (const ranges of overlapping) {
        const b = await buildStamp(cal, ranges, 51);
        await expectRefusal(cal.commitStamp(b.record, warmOf(b)), (e) => e instanceof StoreError && e.code === StoreErrorCode.STAMP_INCONSISTENT && /overlaps a live stamp/.test(e.message), `warm ${JSON.stringify(ranges)}`);
        await expectRefusal(cal.commitStamp(b.record), (e) => e instanceof StoreError && e.code === StoreErrorCode.STAMP_INCONSISTENT && /overlaps a live stamp/.test(e.message), `cold ${JSON.stringify(ranges)}`);
      }
      assert.is(cal.store.length, length, "nothing journaled");
      // Touching is not overlapping.
      const c = await buildStamp(cal, [{from: 0, to: 5}, {from: 10, to: 20}, {from: 22, to: 30}], 52);
      await cal.commitStamp(c.record, warmOf(c));
      assert.equal(cal.uncoveredRanges(), [{from: 30, to: 32}]);
      for (const [seq, cm] of commitments) await assertStamped(cal, a.seqs.includes(seq) ? a : c, seq, cm, "touching stamps");
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

stamped("should refuse a record whose root or leaf count does not match its rounds, writing nothing :: warm", withTimeout(30_000, async () => {
  const dir = await tempDir();
  try {
    const reg = await openRegistry(dir);
    const cal = reg.own;
    try {
      const commitments = new Map<number, Uint8Array>();
      await commitRounds(cal, 12, commitments);
      const good = await buildStamp(cal, [{from: 0, to: 12}], 60);
      // A well-formed record for other rounds (its tx holds its own root), handed the real tree.
      const other = await buildStamp(cal, [{from: 0, to: 11}], 61);
      const wrongRoot: StampRecord = {...other.record, ranges: good.record.ranges, leaves: 12};
      await expectRefusal(cal.commitStamp(wrongRoot, warmOf(good)), isStampInconsistent, "root of other rounds");
      const wrongCount: StampRecord = {...good.record, leaves: 11};
      await expectRefusal(cal.commitStamp(wrongCount, warmOf(good)), isStampInconsistent, "leaf count");
      assert.is(cal.store.length, 12, "nothing journaled");
      assert.is(cal.stamps.size, 0);
      for (const [seq, c] of commitments) assert.equal(await cal.lookup(c), {state: "pending", seq});
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

// Without a warm tree the record is checked against a tree built from its
// rounds: a wrong one would make every lookup in its ranges fail forever.
stamped("should refuse a record whose root or leaf count does not match its rounds, writing nothing :: cold", withTimeout(30_000, async () => {
  const dir = await tempDir();
  try {
    const reg = await openRegistry(dir);
    const cal = reg.own;
    try {
      const commitments = new Map<number, Uint8Array>();
      await commitRounds(cal, 12, commitments);
      const good = await buildStamp(cal, [{from: 0, to: 12}], 60);
      const other = await buildStamp(cal, [{from: 0, to: 11}], 61);
      const wrongRoot: StampRecord = {...other.record, ranges: good.record.ranges, leaves: 12};
      await expectRefusal(cal.commitStamp(wrongRoot), isStampInconsistent, "root of other rounds");
      const wrongCount: StampRecord = {...good.record, leaves: 11};
      await expectRefusal(cal.commitStamp(wrongCount), isStampInconsistent, "leaf count");
      assert.is(cal.store.length, 12, "nothing journaled");
      assert.is(cal.stamps.size, 0);
      for (const [seq, c] of commitments) assert.equal(await cal.lookup(c), {state: "pending", seq});
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

stamped("should put the rounds back to pending when a stamp is revoked :: revokeStamp", withTimeout(30_000, async () => {
  const dir = await tempDir();
  try {
    const reg = await openRegistry(dir);
    const cal = reg.own;
    try {
      const commitments = new Map<number, Uint8Array>();
      await commitRounds(cal, 10, commitments);
      const a = await buildStamp(cal, [{from: 2, to: 8}], 70);
      const live = await cal.commitStamp(a.record, warmOf(a));
      await assertStamped(cal, a, 4, commitments.get(4) as Uint8Array, "before revoke");
      const revoked = await cal.revokeStamp(live.pos.seq, 75);
      assert.is(revoked.pos.seq, live.pos.seq);
      assert.is(cal.store.length, 12, "a STAMP_REVOKED record");
      assert.is(cal.stamps.size, 0);
      assert.equal(cal.uncoveredRanges(), [{from: 0, to: 12}]);
      for (const [seq, c] of commitments) assert.equal(await cal.lookup(c), {state: "pending", seq}, `seq ${seq}`);
      await expectRefusal(cal.revokeStamp(live.pos.seq, 75), (e) => e instanceof StoreError && e.code === StoreErrorCode.STAMP_INCONSISTENT, "revoking twice");
      await expectRefusal(cal.revokeStamp(3, 75), (e) => e instanceof StoreError && e.code === StoreErrorCode.STAMP_INCONSISTENT, "revoking a round");
      assert.is(cal.store.length, 12);
      // The same rounds can be stamped again (the new branch's block).
      const again = await buildStamp(cal, [{from: 2, to: 8}], 76);
      await cal.commitStamp(again.record);
      for (const seq of a.seqs) await assertStamped(cal, again, seq, commitments.get(seq) as Uint8Array, "stamped again");
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

// ---
const durable = suite("node/calendar/calendar Calendar stamps across restarts");

/**
 * A calendar over several segments with three stamps, one revoked, and
 * some rounds still pending. Returns every commitment and the builds of the
 * two live stamps.
 */
async function populate(cal: Calendar): Promise<{commitments: Map<number, Uint8Array>; live: Built[]}> {
  const commitments = new Map<number, Uint8Array>();
  await commitRounds(cal, 250, commitments);
  const a = await buildStamp(cal, [{from: 0, to: 100}, {from: 120, to: 130}], 200, {txIndex: 6, blockTxs: 7});
  await cal.commitStamp(a.record, warmOf(a)); // 250
  const gone = await buildStamp(cal, [{from: 130, to: 200}], 201);
  const goneLive = await cal.commitStamp(gone.record, warmOf(gone)); // 251
  await commitRounds(cal, 150, commitments); // 252..401
  const b = await buildStamp(cal, [{from: 100, to: 120}, {from: 200, to: 380}], 202, {txIndex: 1000, blockTxs: 1500});
  await cal.commitStamp(b.record); // 402
  await cal.revokeStamp(goneLive.pos.seq, 205); // 403
  assert.ok(cal.store.segmentCount > 2, `spans ${cal.store.segmentCount} segments`);
  return {commitments, live: [a, b]};
}

async function checkLive(cal: Calendar, commitments: Map<number, Uint8Array>, live: Built[], what: string): Promise<void> {
  for (const [seq, c] of commitments) {
    const b = live.find((x) => x.seqs.includes(seq));
    if (b) await assertStamped(cal, b, seq, c, what);
    else assert.equal(await cal.lookup(c), {state: "pending", seq}, `${what}: seq ${seq}`);
  }
}

durable("should keep live stamps and serve the same proofs after a restart and after an index rebuild :: reopen and rebuild", withTimeout(60_000, async () => {
  const dir = await tempDir();
  try {
    let reg = await openRegistry(dir);
    let cal = reg.own;
    const {commitments, live} = await populate(cal);
    const stamps = liveSummary(cal);
    assert.is(stamps.length, 2);
    await checkLive(cal, commitments, live, "warm");
    const warm = await allLookups(cal, commitments);
    await reg.close();

    // From the index: trees are rebuilt from the journal on first use.
    reg = await openRegistry(dir);
    cal = reg.own;
    try {
      assert.is(cal.indexSync.mode, "current");
      assert.equal(liveSummary(cal), stamps, "live stamps from the index");
      assert.equal(await allLookups(cal, commitments), warm, "cold proofs equal the warm ones");
      assert.equal(cal.uncoveredRanges(), [{from: 130, to: 200}, {from: 380, to: 404}]);
    } finally {
      await reg.close();
    }

    // Without the index: rebuilt from the journal (STAMP, STAMP then STAMP_REVOKED).
    await rm(join(dir, INDEX_DIR), {recursive: true});
    reg = await openRegistry(dir);
    cal = reg.own;
    try {
      assert.is(cal.indexSync.mode, "rebuild");
      assert.is(cal.indexSync.records, 404);
      assert.equal(liveSummary(cal), stamps, "live stamps rebuilt");
      assert.equal(await allLookups(cal, commitments), warm, "proofs after a rebuild");
      await checkLive(cal, commitments, live, "rebuilt");
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

durable("should migrate an index written by the single-calendar schema once, automatically :: schema 2", withTimeout(60_000, async () => {
  const dir = await tempDir();
  try {
    let reg = await openRegistry(dir);
    let cal = reg.own;
    const {commitments, live} = await populate(cal);
    const stamps = liveSummary(cal);
    const warm = await allLookups(cal, commitments);
    const {id} = cal;
    const chain = cal.store.chainHash;
    const length = cal.length;
    await reg.close();
    assert.is(INDEX_SCHEMA_VERSION, 3);
    // Rewrite the index in the layout otsfed wrote before it held several
    // calendars (schema 2): one calendar id and one mark in bucket 00, live
    // stamps keyed by seq alone in bucket 02, commitments as now.
    const db = new Level<Buffer, Buffer>(join(dir, INDEX_DIR), {keyEncoding: "buffer", valueEncoding: "buffer"});
    await db.open();
    try {
      const key = (s: string): Buffer => Buffer.from([0x00, ...new TextEncoder().encode(s)]);
      const stampValues = await db.values({gte: Buffer.of(0x02), lt: Buffer.of(0x03)}).all();
      await db.clear({gte: Buffer.of(0x00), lt: Buffer.of(0x01)});
      await db.clear({gte: Buffer.of(0x02), lt: Buffer.of(0x03)});
      const indexed = Buffer.alloc(40);
      indexed.writeBigUInt64BE(BigInt(length), 0);
      indexed.set(chain, 8);
      await db.batch([
        {type: "put", key: key("schema"), value: Buffer.from([0, 0, 0, 2])},
        {type: "put", key: key("calendar"), value: Buffer.from(id)},
        {type: "put", key: key("indexed"), value: indexed},
        ...stampValues.map((v) => ({type: "put" as const, key: Buffer.concat([Buffer.of(0x02), v.subarray(0, 8)]), value: v})),
      ]);
    } finally {
      await db.close();
    }
    reg = await openRegistry(dir);
    cal = reg.own;
    try {
      assert.is(cal.indexSync.mode, "rebuild");
      assert.match(cal.indexSync.reason ?? "", /schema 2 is older than this otsfed's 3/);
      assert.match(reg.indexReset ?? "", /schema 2/);
      assert.equal(liveSummary(cal), stamps);
      assert.equal(await allLookups(cal, commitments), warm);
      await checkLive(cal, commitments, live, "after schema rebuild");
    } finally {
      await reg.close();
    }
    reg = await openRegistry(dir);
    cal = reg.own;
    assert.is(cal.indexSync.mode, "current", "the rebuilt index carries the current schema: migrated once");
    assert.is(reg.indexReset, null);
    await reg.close();
  } finally {
    await removeDir(dir);
  }
}));

durable("should catch up STAMP and STAMP_REVOKED records the index missed :: catch-up", withTimeout(60_000, async () => {
  const dir = await tempDir();
  try {
    let reg = await openRegistry(dir);
    let cal = reg.own;
    const commitments = new Map<number, Uint8Array>();
    await commitRounds(cal, 30, commitments);
    const a = await buildStamp(cal, [{from: 0, to: 10}], 300);
    const aLive = await cal.commitStamp(a.record, warmOf(a)); // 30, indexed
    const b = await buildStamp(cal, [{from: 10, to: 20}], 301);
    await reg.close();

    // Killed between the journal fsync and the index write: journal alone.
    const store = await openOwnJournal(dir);
    await store.append([{kind: RecordKind.STAMP_REVOKED, payload: encodeStampRevoked({stampSeq: aLive.pos.seq, height: 302})}]); // 31: in another batch than its STAMP
    await store.append([{kind: RecordKind.STAMP, payload: encodeStamp(b.record)}]); // 32
    await store.close();

    reg = await openRegistry(dir);

    cal = reg.own;
    try {
      assert.is(cal.indexSync.mode, "catch-up");
      assert.is(cal.indexSync.records, 2);
      assert.equal(cal.stamps.all().map((s) => s.pos.seq), [32]);
      await checkLive(cal, commitments, [b], "caught up");
    } finally {
      await reg.close();
    }
    reg = await openRegistry(dir);
    cal = reg.own;
    try {
      assert.is(cal.indexSync.mode, "current");
      assert.equal(cal.stamps.all().map((s) => s.pos.seq), [32], "the revocation reached the stored index");
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

// ---
const concurrent = suite("node/calendar/calendar Calendar concurrent appends");

concurrent("should serialize rounds, stamps and revocations started together :: one journal", withTimeout(60_000, async () => {
  const dir = await tempDir();
  try {
    let reg = await openRegistry(dir);
    let cal = reg.own;
    const commitments = new Map<number, Uint8Array>();
    await commitRounds(cal, 20, commitments);
    const a = await buildStamp(cal, [{from: 0, to: 10}], 400);
    const b = await buildStamp(cal, [{from: 10, to: 20}], 401);
    const old = await cal.commitStamp(b.record); // 20
    const c = await buildStamp(cal, [{from: 10, to: 20}], 402);
    const rounds = Array.from({length: 60}, (_, i) => cal.commitRound(h(`concurrent ${i}`), 1, 5000 + i));
    const stampA = cal.commitStamp(a.record, warmOf(a));
    const revoke = cal.revokeStamp(old.pos.seq, 403);
    const more = Array.from({length: 60}, (_, i) => cal.commitRound(h(`concurrent more ${i}`), 1, 6000 + i));
    const done = await Promise.all([...rounds, ...more]);
    const aLive = await stampA;
    await revoke;
    // The replacement stamp waits for the revocation above to free the range.
    const cLive = await cal.commitStamp(c.record, warmOf(c));
    for (const r of done) commitments.set(r.seq, r.commitment);
    // Appended in the order they were asked for, each with its own seq.
    assert.equal(done.map((r) => r.seq), [...Array.from({length: 60}, (_, i) => 21 + i), ...Array.from({length: 60}, (_, i) => 83 + i)]);
    assert.is(aLive.pos.seq, 81);
    assert.is(cLive.pos.seq, 143);
    assert.is(cal.store.length, 20 + 1 + 120 + 1 + 1 + 1);
    await checkLive(cal, commitments, [a, c], "live");
    await reg.close();
    // The journal verifies from end to end on open (chain hashes, frames).
    reg = await openRegistry(dir);
    cal = reg.own;
    try {
      assert.is(cal.store.length, 144);
      assert.is(cal.indexSync.mode, "current");
      await checkLive(cal, commitments, [a, c], "reopened");
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

// The overlap check runs inside the write queue: two stamps started
// together must not both pass it and leave two live stamps over one round.
concurrent("should refuse the second of two overlapping stamps started together :: overlap race", withTimeout(30_000, async () => {
  const dir = await tempDir();
  try {
    const reg = await openRegistry(dir);
    const cal = reg.own;
    try {
      const commitments = new Map<number, Uint8Array>();
      await commitRounds(cal, 10, commitments);
      const a = await buildStamp(cal, [{from: 0, to: 10}], 500);
      const b = await buildStamp(cal, [{from: 5, to: 10}], 501);
      const results = await Promise.allSettled([cal.commitStamp(a.record, warmOf(a)), cal.commitStamp(b.record, warmOf(b))]);
      assert.equal(results.map((r) => r.status), ["fulfilled", "rejected"]);
      assert.is(cal.stamps.size, 1);
      assert.is(cal.store.length, 11);
    } finally {
      await reg.close();
    }
  } finally {
    await removeDir(dir);
  }
}));

// ---
const directory = suite("node/calendar/stamp-directory StampDirectory");

function liveStamp(seq: number, ranges: SeqRange[], block = "b"): LiveStamp {
  return {pos: {seq, segment: 0, offset: seq * 10}, ranges, leaves: 1, txid: h(`tx ${seq}`), blockHash: h(block), height: seq, feeSats: 100, vsize: 150};
}

directory("should find the stamp covering a seq, and whether any lies between two :: covering and coversBetween", () => {
  const d = new StampDirectory();
  // Added out of journal order on purpose (a revoked stamp's rounds re-stamped behind newer ones).
  d.add(liveStamp(40, [{from: 20, to: 25}, {from: 30, to: 31}]));
  d.add(liveStamp(12, [{from: 2, to: 5}, {from: 8, to: 10}]));
  d.add(liveStamp(12, [{from: 50, to: 60}]));
  assert.is(d.size, 2, "the same stamp added twice counts once");
  const cover = (seq: number): number | null => d.covering(seq)?.pos.seq ?? null;
  assert.equal([0, 1, 2, 4, 5, 7, 8, 9, 10, 19, 20, 24, 25, 29, 30, 31, 55].map(cover), [null, null, 12, 12, null, null, 12, 12, null, null, 40, 40, null, null, 40, null, null]);
  assert.is(d.coversBetween(5, 8), false, "6 and 7 are free");
  assert.is(d.coversBetween(5, 9), true, "8 is covered");
  assert.is(d.coversBetween(1, 3), true, "2 is covered");
  assert.is(d.coversBetween(4, 5), false, "nothing strictly between neighbours");
  assert.is(d.coversBetween(10, 20), false);
  assert.is(d.coversBetween(10, 21), true);
  assert.is(d.coversBetween(25, 30), false);
  assert.is(d.coversBetween(0, 100), true);
  assert.equal(d.ranges(), [{from: 2, to: 5}, {from: 8, to: 10}, {from: 20, to: 25}, {from: 30, to: 31}]);
  assert.equal(d.recent(5).map((s) => s.pos.seq), [40, 12]);
  assert.equal(d.inBlock(h("b")).map((s) => s.pos.seq).sort(), [12, 40]);
  assert.equal(d.inBlock(h("c")), []);
  assert.is(d.remove(12)?.pos.seq, 12);
  assert.is(d.remove(12), null);
  assert.is(d.get(12), null);
  assert.is(cover(3), null);
  assert.is(d.coversBetween(5, 9), false);
  assert.equal(d.ranges(), [{from: 20, to: 25}, {from: 30, to: 31}]);
});

// ---
const cache = suite("node/calendar/stamp-proofs StampProofCache");

/** A stamp over `n` made-up leaves at seqs 0, 2, 4, … whose STAMP record sits at `seq`. */
function fakeStamp(seq: number, n: number): {live: LiveStamp; record: StampRecord; seqs: Float64Array; leaves: Uint8Array} {
  const leaves = new Uint8Array(n * 32);
  for (let i = 0; i < n; i++) leaves.set(h(`leaf ${seq} ${i}`), i * 32);
  const root = new FlatMerkleTree(leaves, sha256).root.slice();
  const tx = Uint8Array.from([1, 2, 3, ...root, 4]);
  const record: StampRecord = {ranges: [{from: 0, to: 2 * n}], leaves: n, root, tx, height: seq, blockHash: h(`blk ${seq}`), txIndex: 0, branch: [], feeSats: 1, vsize: tx.length};
  const seqs = Float64Array.from({length: n}, (_, i) => 2 * i);
  return {live: {pos: {seq, segment: 0, offset: 0}, ranges: record.ranges, leaves: n, txid: sha256(sha256(tx)), blockHash: record.blockHash, height: seq, feeSats: 1, vsize: tx.length}, record, seqs, leaves};
}

cache("should load each stamp once, keep the budget and evict the least recently used :: LRU", withTimeout(10_000, async () => {
  const stamps = new Map([100, 200, 300].map((s) => [s, fakeStamp(s, 40)] as const));
  const loads: number[] = [];
  const source: StampProofSource = {
    readRecord: async (st) => ({kind: RecordKind.STAMP, payload: encodeStamp((stamps.get(st.pos.seq) as ReturnType<typeof fakeStamp>).record)}),
    readLeaves: async (record) => {
      const f = [...stamps.values()].find((x) => bytesEqual(x.record.root, record.root)) as ReturnType<typeof fakeStamp>;
      loads.push(f.live.pos.seq);
      return {seqs: f.seqs, leaves: f.leaves.slice()};
    },
  };
  const c = new StampProofCache(100); // two stamps of 40 leaves fit, three do not
  const get = async (seq: number): Promise<StampProofSet> => c.get(stampKey("cal", seq), (stamps.get(seq) as ReturnType<typeof fakeStamp>).live, source);
  // Two at once: one load.
  const [x, y] = await Promise.all([get(100), get(100)]);
  assert.is(x, y);
  assert.equal(loads, [100]);
  assert.is(toHex(x.anchor), toHex(encodeStampAnchor(x.record)));
  assert.is(leafIndexOf(x.seqs, 78), 39);
  assert.is(leafIndexOf(x.seqs, 77), -1);
  await get(200);
  await get(100); // 100 is now the most recent
  await get(300); // evicts 200
  assert.equal(loads, [100, 200, 300]);
  await get(100);
  assert.equal(loads, [100, 200, 300], "100 stayed");
  await get(200);
  assert.equal(loads, [100, 200, 300, 200], "200 was evicted and reloads");
  c.drop(stampKey("cal", 100));
  await get(100);
  assert.equal(loads, [100, 200, 300, 200, 100], "a dropped set reloads");
}));

cache("should refuse a record that is not a stamp or does not match its leaves :: errors", withTimeout(10_000, async () => {
  const f = fakeStamp(7, 5);
  const c = new StampProofCache(100);
  const notStamp: StampProofSource = {readRecord: async () => ({kind: RecordKind.ROUND, payload: new Uint8Array(0)}), readLeaves: async () => ({seqs: f.seqs, leaves: f.leaves})};
  await expectRefusal(Promise.resolve(c.get(stampKey("cal", 7), f.live, notStamp)), (e) => e instanceof StoreError && e.code === StoreErrorCode.INDEX_SCHEMA, "a ROUND where the index says STAMP");
  const wrong: StampProofSource = {readRecord: async () => ({kind: RecordKind.STAMP, payload: encodeStamp(f.record)}), readLeaves: async () => ({seqs: f.seqs, leaves: fakeStamp(8, 5).leaves})};
  await expectRefusal(Promise.resolve(c.get(stampKey("cal", 7), f.live, wrong)), isStampInconsistent, "other leaves");
  // A failed load is not remembered: the next get tries again.
  await expectRefusal(Promise.resolve(c.get(stampKey("cal", 7), f.live, wrong)), isStampInconsistent, "other leaves, again");
  assert.throws(() => makeProofSet(f.record, f.seqs.subarray(1), new FlatMerkleTree(f.leaves.subarray(32))), isStampInconsistent);
}));

stamped.run();
durable.run();
concurrent.run();
directory.run();
cache.run();
