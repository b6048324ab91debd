import {suite} from "uvu";
import * as assert from "uvu/assert";
import {concatBytes, toHex} from "../../../protocol/ots/bytes.ts";
import {JournalError, JournalErrorCode} from "../../../protocol/journal/errors.ts";
import {encodeFrame, isKnownKind, MAX_RECORD_PAYLOAD, RecordKind} from "../../../protocol/journal/record.ts";
import {
  decodeStamp, decodeStampRevoked, encodeStamp, encodeStampRevoked, MAX_STAMP_RANGES, rangesInclude,
} from "../../../protocol/journal/stamp.ts";
import type {SeqRange, StampRecord} from "../../../protocol/journal/stamp.ts";
import {genesisChainHash} from "../../../protocol/journal/chain.ts";
import {encodeSegmentHeader, scanSegment} from "../../../protocol/journal/segment.ts";
import {Rng} from "../../support/rng.ts";

/** The JournalError code `fn` throws; any other kind of throw fails the test. */
function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof JournalError) return e.code;
    throw e;
  }
  return "no error";
}

/** Minimal LEB128, written independently of the code under test. */
function leb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
  return out;
}

/** Fields as the layout has them, written with no checks, to build payloads the encoder refuses. */
type RawStamp = {
  ranges: Array<[from: number, count: number]>;
  leaves: number;
  root: Uint8Array;
  tx: Uint8Array;
  height: number;
  blockHash: Uint8Array;
  txIndex: number;
  branch: Uint8Array[];
  feeSats: number;
  vsize: number;
};

function rawStamp(s: RawStamp): Uint8Array {
  const b: number[] = [...leb(s.ranges.length)];
  for (const [from, count] of s.ranges) b.push(...leb(from), ...leb(count));
  b.push(...leb(s.leaves), ...s.root, ...leb(s.tx.length), ...s.tx, ...leb(s.height), ...s.blockHash, ...leb(s.txIndex), ...leb(s.branch.length));
  for (const h of s.branch) b.push(...h);
  b.push(...leb(s.feeSats), ...leb(s.vsize));
  return Uint8Array.from(b);
}

function toRaw(s: StampRecord): RawStamp {
  return {...s, ranges: s.ranges.map((r) => [r.from, r.to - r.from])};
}

/** A valid random stamp: canonical ranges, a tx holding the root, a branch that fits the index. */
function randomStamp(rng: Rng): StampRecord {
  const ranges: SeqRange[] = [];
  let at = rng.int(1000);
  const n = 1 + rng.int(6);
  for (let i = 0; i < n; i++) {
    const count = 1 + rng.int(300);
    ranges.push({from: at, to: at + count});
    at += count + 1 + rng.int(50);
  }
  const covered = ranges.reduce((a, r) => a + r.to - r.from, 0);
  const root = rng.bytes(32);
  const tx = rng.bytes(150 + rng.int(100));
  const at2 = rng.int(tx.length - 32 + 1);
  tx.set(root, at2);
  const levels = rng.int(13);
  return {
    ranges,
    leaves: 1 + rng.int(covered),
    root,
    tx,
    height: rng.int(1_000_000),
    blockHash: rng.bytes(32),
    txIndex: rng.int(2 ** levels),
    branch: Array.from({length: levels}, () => rng.bytes(32)),
    feeSats: rng.int(1_000_000),
    vsize: tx.length + rng.int(100),
  };
}

function sameStamp(a: StampRecord, b: StampRecord): void {
  assert.equal(a.ranges, b.ranges);
  assert.equal([a.leaves, a.height, a.txIndex, a.feeSats, a.vsize], [b.leaves, b.height, b.txIndex, b.feeSats, b.vsize]);
  assert.equal([toHex(a.root), toHex(a.tx), toHex(a.blockHash)], [toHex(b.root), toHex(b.tx), toHex(b.blockHash)]);
  assert.equal(a.branch.map(toHex), b.branch.map(toHex));
}

const ROOT = new Uint8Array(32).fill(0xaa);
const BLOCK = new Uint8Array(32).fill(0xbb);
const SIB = new Uint8Array(32).fill(0xcc);
/** A tx around the root: 4 bytes before, 4 after. */
const TX = concatBytes(Uint8Array.of(1, 2, 3, 4), ROOT, Uint8Array.of(5, 6, 7, 8));
const GOLDEN: StampRecord = {
  ranges: [{from: 5, to: 8}, {from: 200, to: 201}],
  leaves: 3,
  root: ROOT,
  tx: TX,
  height: 300,
  blockHash: BLOCK,
  txIndex: 1,
  branch: [SIB],
  feeSats: 1000,
  vsize: 141,
};

// ---
const Stamp = suite("protocol/journal/stamp encodeStamp/decodeStamp");

Stamp("should encode a golden stamp byte for byte :: layout of README 'Stamps'", () => {
  const hex = [
    "02", "05", "03", "c801", "01", // two ranges: [5,8) and [200,201)
    "03", "aa".repeat(32), // leaves, root
    "28", "01020304", "aa".repeat(32), "05060708", // tx (40 bytes)
    "ac02", "bb".repeat(32), // height 300, block hash
    "01", "01", "cc".repeat(32), // txIndex, one branch hash
    "e807", "8d01", // fee 1000, vsize 141
  ].join("");
  assert.is(toHex(encodeStamp(GOLDEN)), hex);
  assert.is(toHex(rawStamp(toRaw(GOLDEN))), hex);
  sameStamp(decodeStamp(encodeStamp(GOLDEN)), GOLDEN);
});

Stamp("should round-trip random stamps and re-encode identically :: 300 seeded stamps", () => {
  const rng = new Rng(11);
  for (let i = 0; i < 300; i++) {
    const s = randomStamp(rng);
    const bytes = encodeStamp(s);
    assert.is(toHex(bytes), toHex(rawStamp(toRaw(s))), `stamp ${i}: layout`);
    const back = decodeStamp(bytes);
    sameStamp(back, s);
    assert.is(toHex(encodeStamp(back)), toHex(bytes), `stamp ${i}: re-encode`);
  }
});

Stamp("should accept the limits :: 4096 ranges, 32-level branch, 4096-byte tx, 2^32 leaves", () => {
  const ranges = Array.from({length: MAX_STAMP_RANGES}, (_, i) => ({from: i * 2 ** 21, to: i * 2 ** 21 + 2 ** 20}));
  const tx = new Uint8Array(4096);
  tx.set(ROOT, 4096 - 32);
  const s: StampRecord = {...GOLDEN, ranges, leaves: 2 ** 32, tx, vsize: 4096, branch: Array.from({length: 32}, () => SIB), txIndex: 2 ** 32 - 1, height: 2 ** 32 - 1};
  const bytes = encodeStamp(s);
  assert.ok(bytes.length <= MAX_RECORD_PAYLOAD);
  sameStamp(decodeStamp(bytes), s);
  const edge = {...GOLDEN, tx: ROOT, vsize: 32, branch: [], txIndex: 0, feeSats: 0, height: 0, leaves: 1};
  sameStamp(decodeStamp(encodeStamp(edge)), edge);
});

/**
 * Each bad stamp: the encoder throws RangeError and the raw bytes decode to
 * BAD_PAYLOAD. The layout has no way to say "a 31-byte hash" (fixed-size
 * fields carry no length), so those are encoder-only cases.
 */
const ENCODE_ONLY: Array<[string, Partial<RawStamp>]> = [
  ["root of 31 bytes", {root: ROOT.subarray(1), tx: TX}],
  ["block hash of 33 bytes", {blockHash: new Uint8Array(33)}],
  ["branch hash of 31 bytes", {branch: [SIB.subarray(1)]}],
];
const INVALID: Array<[string, Partial<RawStamp>]> = [
  ["no ranges", {ranges: []}],
  ["4097 ranges", {ranges: Array.from({length: 4097}, (_, i): [number, number] => [i * 2, 1])}],
  ["empty range", {ranges: [[5, 0]]}],
  ["overlapping ranges", {ranges: [[0, 5], [3, 5]]}],
  ["adjacent ranges", {ranges: [[0, 5], [5, 3]]}],
  ["unsorted ranges", {ranges: [[10, 2], [0, 3]]}],
  ["duplicate ranges", {ranges: [[0, 3], [0, 3]]}],
  ["range past 2^53", {ranges: [[Number.MAX_SAFE_INTEGER - 1, 2]]}],
  ["no leaves", {leaves: 0}],
  ["more leaves than seqs", {leaves: 5}],
  ["leaves over 2^32", {ranges: [[0, 2 ** 33]], leaves: 2 ** 32 + 1}],
  ["empty tx", {tx: new Uint8Array(0)}],
  ["tx without the root", {tx: new Uint8Array(100).fill(1)}],
  ["tx holding the root cut by one byte", {tx: TX.subarray(5)}],
  ["oversized tx", {tx: concatBytes(TX, new Uint8Array(4096 - TX.length + 1)), vsize: 5000}],
  ["height over 2^32-1", {height: 2 ** 32}],
  ["33-level branch", {branch: Array.from({length: 33}, () => SIB)}],
  ["tx index past the branch", {txIndex: 2}],
  ["tx index with no branch", {txIndex: 1, branch: []}],
  ["fee over 21M BTC", {feeSats: 21e14 + 1}],
  ["vsize below the tx size", {vsize: TX.length - 1}],
  ["vsize over a block", {vsize: 1_000_001}],
];

Stamp("should refuse every broken rule in both directions :: RangeError / BAD_PAYLOAD", () => {
  for (const [name, patch] of [...INVALID, ...ENCODE_ONLY]) {
    const raw = {...toRaw(GOLDEN), ...patch};
    const asStamp: StampRecord = {...raw, ranges: raw.ranges.map(([from, count]) => ({from, to: from + count}))};
    assert.throws(() => encodeStamp(asStamp), RangeError, `${name}: encode`);
  }
  for (const [name, patch] of INVALID) {
    assert.is(code(() => decodeStamp(rawStamp({...toRaw(GOLDEN), ...patch}))), JournalErrorCode.BAD_PAYLOAD, `${name}: decode`);
  }
});

Stamp("should refuse non-integer numbers when encoding :: NaN, fractions, negatives", () => {
  for (const patch of [{height: 1.5}, {feeSats: Number.NaN}, {txIndex: -1}, {vsize: Infinity}, {leaves: 2.5}, {ranges: [{from: 0.5, to: 8}]}, {ranges: [{from: -1, to: 8}]}]) {
    assert.throws(() => encodeStamp({...GOLDEN, ...patch}), RangeError, JSON.stringify(patch));
  }
});

Stamp("should refuse every truncation and trailing bytes :: BAD_PAYLOAD", () => {
  const bytes = encodeStamp(GOLDEN);
  for (let n = 0; n < bytes.length; n++) assert.is(code(() => decodeStamp(bytes.subarray(0, n))), JournalErrorCode.BAD_PAYLOAD, `cut at ${n}`);
  assert.is(code(() => decodeStamp(concatBytes(bytes, Uint8Array.of(0)))), JournalErrorCode.BAD_PAYLOAD);
  const big = encodeStamp(randomStamp(new Rng(12)));
  for (let n = 0; n < big.length; n++) assert.is(code(() => decodeStamp(big.subarray(0, n))), JournalErrorCode.BAD_PAYLOAD, `random stamp cut at ${n}`);
});

Stamp("should refuse non-minimal varuints and counts beyond the bytes :: BAD_PAYLOAD", () => {
  const bytes = encodeStamp(GOLDEN);
  // 0x82 0x00 is a non-minimal 2 in place of the range count.
  assert.is(code(() => decodeStamp(concatBytes(Uint8Array.of(0x82, 0x00), bytes.subarray(1)))), JournalErrorCode.BAD_PAYLOAD);
  // 4096 ranges claimed by a 10-byte payload: refused before anything is allocated.
  assert.is(code(() => decodeStamp(Uint8Array.of(0x80, 0x20, 1, 1, 1, 1, 1, 1, 1, 1))), JournalErrorCode.BAD_PAYLOAD);
  // A range count far over the limit, and a huge tx length.
  assert.is(code(() => decodeStamp(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f))), JournalErrorCode.BAD_PAYLOAD);
  const hugeTx = rawStamp({...toRaw(GOLDEN), tx: new Uint8Array(0)});
  const at = 1 + 2 + 3 + 1 + 32; // ranges, leaves, root: the tx length byte
  assert.is(hugeTx[at], 0);
  assert.is(code(() => decodeStamp(concatBytes(hugeTx.subarray(0, at), Uint8Array.of(0xff, 0xff, 0x03), hugeTx.subarray(at + 1)))), JournalErrorCode.BAD_PAYLOAD);
  // 32 branch hashes claimed, one present.
  const lying = rawStamp(toRaw(GOLDEN));
  const countAt = lying.length - 2 - 2 - 32 - 1; // before vsize (2), fee (2) and the one hash
  assert.is(lying[countAt], 1);
  lying[countAt] = 32;
  assert.is(code(() => decodeStamp(lying)), JournalErrorCode.BAD_PAYLOAD);
});

Stamp("should never fail any other way on mutated payloads :: 3000 seeded byte flips", () => {
  const rng = new Rng(13);
  for (let i = 0; i < 3000; i++) {
    const bytes = Uint8Array.from(encodeStamp(randomStamp(rng)));
    for (let k = 1 + rng.int(3); k > 0; k--) bytes[rng.int(bytes.length)] = rng.int(256);
    try {
      const back = decodeStamp(bytes);
      assert.is(toHex(encodeStamp(back)), toHex(bytes), `mutation ${i}: decodes only canonically`);
    } catch (e) {
      assert.instance(e, JournalError, `mutation ${i}`);
      assert.is((e as JournalError).code, JournalErrorCode.BAD_PAYLOAD, `mutation ${i}`);
    }
  }
});

Stamp("should fit a record at its worst :: every field at its limit, ranges as long as 2^53 seqs allow", () => {
  // 8-byte froms throughout; as many 7-byte counts (≥ 2^42) as the seq space holds, 6-byte ones after.
  const ranges: SeqRange[] = [];
  let at = 2 ** 49;
  for (let i = 0; i < MAX_STAMP_RANGES; i++) {
    const left = MAX_STAMP_RANGES - i - 1;
    const long = at + 2 ** 42 + 1 + left * (2 ** 35 + 1) <= Number.MAX_SAFE_INTEGER;
    const count = long ? 2 ** 42 : 2 ** 35;
    ranges.push({from: at, to: at + count});
    at += count + 1;
  }
  assert.ok(at - 1 <= Number.MAX_SAFE_INTEGER);
  const tx = new Uint8Array(4096);
  tx.set(ROOT, 0);
  const worst: StampRecord = {
    ranges, leaves: 2 ** 32, root: ROOT, tx, height: 2 ** 32 - 1, blockHash: BLOCK, txIndex: 2 ** 32 - 1,
    branch: Array.from({length: 32}, () => SIB), feeSats: 21e14, vsize: 1_000_000,
  };
  const bytes = encodeStamp(worst);
  assert.ok(bytes.length > 64_000 && bytes.length <= MAX_RECORD_PAYLOAD, `${bytes.length} bytes`);
  sameStamp(decodeStamp(bytes), worst);
});

Stamp("should return byte fields as views of the payload :: no copies", () => {
  const bytes = encodeStamp(GOLDEN);
  const s = decodeStamp(bytes);
  for (const f of [s.root, s.tx, s.blockHash, ...s.branch]) assert.is(f.buffer, bytes.buffer);
});

Stamp.run();

// ---
const Revoked = suite("protocol/journal/stamp encodeStampRevoked/decodeStampRevoked");

Revoked("should encode golden bytes and round-trip :: stampSeq 1000, height 300", () => {
  const bytes = encodeStampRevoked({stampSeq: 1000, height: 300});
  assert.is(toHex(bytes), "e807ac02");
  assert.equal(decodeStampRevoked(bytes), {stampSeq: 1000, height: 300});
  for (const r of [{stampSeq: 0, height: 0}, {stampSeq: Number.MAX_SAFE_INTEGER, height: 2 ** 32 - 1}]) assert.equal(decodeStampRevoked(encodeStampRevoked(r)), r);
});

Revoked("should refuse bad values, truncation and trailing bytes :: RangeError / BAD_PAYLOAD", () => {
  for (const r of [{stampSeq: -1, height: 0}, {stampSeq: 1.5, height: 0}, {stampSeq: 0, height: 2 ** 32}, {stampSeq: 2 ** 53, height: 0}]) {
    assert.throws(() => encodeStampRevoked(r), RangeError, JSON.stringify(r));
  }
  const bytes = encodeStampRevoked({stampSeq: 1000, height: 300});
  for (let n = 0; n < bytes.length; n++) assert.is(code(() => decodeStampRevoked(bytes.subarray(0, n))), JournalErrorCode.BAD_PAYLOAD, `cut at ${n}`);
  assert.is(code(() => decodeStampRevoked(concatBytes(bytes, Uint8Array.of(0)))), JournalErrorCode.BAD_PAYLOAD);
  assert.is(code(() => decodeStampRevoked(Uint8Array.of(0x80, 0x00, 0x01))), JournalErrorCode.BAD_PAYLOAD);
  assert.is(code(() => decodeStampRevoked(Uint8Array.of(0x01, 0x80, 0x80, 0x80, 0x80, 0x10))), JournalErrorCode.BAD_PAYLOAD);
});

Revoked.run();

// ---
const Include = suite("protocol/journal/stamp rangesInclude");

Include("should agree with a linear scan :: random ranges, every seq around them", () => {
  const rng = new Rng(14);
  for (let t = 0; t < 200; t++) {
    const ranges: SeqRange[] = [];
    let at = rng.int(5);
    for (let n = rng.int(8); n > 0; n--) {
      const count = 1 + rng.int(5);
      ranges.push({from: at, to: at + count});
      at += count + 1 + rng.int(4);
    }
    for (let seq = 0; seq <= at + 2; seq++) {
      const linear = ranges.some((r) => seq >= r.from && seq < r.to);
      assert.is(rangesInclude(ranges, seq), linear, `trial ${t} seq ${seq}`);
    }
  }
});

Include("should treat ranges as half-open :: boundaries", () => {
  const ranges = [{from: 5, to: 8}, {from: 200, to: 201}];
  assert.equal([4, 5, 7, 8, 199, 200, 201].map((s) => rangesInclude(ranges, s)), [false, true, true, false, false, true, false]);
  assert.is(rangesInclude([], 0), false);
});

Include.run();

// ---
const Kinds = suite("protocol/journal/record isKnownKind :: stamps");

Kinds("should know ROUND, STAMP and STAMP_REVOKED :: critical kinds 1..3", () => {
  assert.equal([1, 2, 3, 4, 9].map(isKnownKind), [true, true, true, false, false]);
});

Kinds("should let a segment holding stamp records scan :: kinds 2 and 3 are not unknown critical", () => {
  const calendarId = new TextEncoder().encode("test-calendar");
  const header = encodeSegmentHeader({calendarId, firstSeq: 0, prevChain: genesisChainHash(calendarId)});
  const bytes = concatBytes(header, encodeFrame(RecordKind.STAMP, encodeStamp(GOLDEN)), encodeFrame(RecordKind.STAMP_REVOKED, encodeStampRevoked({stampSeq: 0, height: 301})));
  assert.is(scanSegment(bytes, {isLast: true}).records, 2);
});

Kinds.run();
