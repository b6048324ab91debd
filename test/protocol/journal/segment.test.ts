import {suite} from "uvu";
import * as assert from "uvu/assert";
import {concatBytes, toHex} from "../../../protocol/ots/bytes.ts";
import {genesisChainHash, nextChainHash} from "../../../protocol/journal/chain.ts";
import {JournalError, JournalErrorCode} from "../../../protocol/journal/errors.ts";
import {encodeFrame, RecordKind} from "../../../protocol/journal/record.ts";
import {encodeRound} from "../../../protocol/journal/round.ts";
import {decodeSegmentHeader, encodeSegmentHeader, scanSegment} from "../../../protocol/journal/segment.ts";
import type {ScannedRecord} from "../../../protocol/journal/segment.ts";

const calendarId = new TextEncoder().encode("test-calendar");

function makeSegment(n: number, extra: Uint8Array[] = []): {bytes: Uint8Array; frames: Uint8Array[]; headerSize: number} {
  const header = encodeSegmentHeader({calendarId, firstSeq: 10, prevChain: genesisChainHash(calendarId)});
  const frames: Uint8Array[] = [];
  for (let i = 0; i < n; i++) frames.push(encodeFrame(RecordKind.ROUND, encodeRound({timeMs: 1000 + i, leaves: i + 1, root: new Uint8Array(32).fill(i)})));
  frames.push(...extra);
  return {bytes: concatBytes(header, ...frames), frames, headerSize: header.length};
}

function errOf(fn: () => unknown): JournalError {
  try {
    fn();
  } catch (e) {
    if (e instanceof JournalError) return e;
    throw e;
  }
  throw new Error("expected a JournalError");
}

// ---
const Header = suite("protocol/journal/segment encodeSegmentHeader/decodeSegmentHeader");
Header("should round-trip a header :: firstSeq 10", () => {
  const h = encodeSegmentHeader({calendarId, firstSeq: 10, prevChain: new Uint8Array(32).fill(3)});
  assert.is(toHex(h.subarray(0, 9)), "4f54534645444a4c01");
  const {header, size} = decodeSegmentHeader(h);
  assert.is(size, h.length);
  assert.is(header.firstSeq, 10);
  assert.is(toHex(header.calendarId), toHex(calendarId));
});
Header("should refuse a bad magic, version and checksum :: typed codes", () => {
  const h = encodeSegmentHeader({calendarId, firstSeq: 0, prevChain: new Uint8Array(32)});
  const m = Uint8Array.from(h);
  m[0] = 0;
  assert.is(errOf(() => decodeSegmentHeader(m)).code, JournalErrorCode.BAD_MAGIC);
  const v = Uint8Array.from(h);
  v[8] = 2;
  assert.is(errOf(() => decodeSegmentHeader(v)).code, JournalErrorCode.UNSUPPORTED_VERSION);
  const c = Uint8Array.from(h);
  c[c.length - 10] = (c[c.length - 10] as number) ^ 1;
  assert.is(errOf(() => decodeSegmentHeader(c)).code, JournalErrorCode.CHECKSUM_MISMATCH);
});
Header.run();

// ---
const Scan = suite("protocol/journal/segment scanSegment");
Scan("should yield every record with its seq, offset and chain hash :: 5 rounds", () => {
  const {bytes, frames, headerSize} = makeSegment(5);
  const seen: ScannedRecord[] = [];
  const res = scanSegment(bytes, {isLast: false}, (r) => seen.push(r));
  assert.is(res.records, 5);
  assert.is(res.nextSeq, 15);
  assert.is(res.end, bytes.length);
  assert.is(res.torn, null);
  let chain = genesisChainHash(calendarId);
  let off = headerSize;
  for (let i = 0; i < 5; i++) {
    const f = frames[i] as Uint8Array;
    chain = nextChainHash(chain, f.subarray(0, f.length - 4));
    const r = seen[i] as ScannedRecord;
    assert.is(r.seq, 10 + i);
    assert.is(r.offset, off, `offset of ${i}`);
    assert.is(toHex(r.chainHash), toHex(chain), `chain of ${i}`);
    off += f.length;
  }
  assert.is(toHex(res.chainHash), toHex(chain));
});
Scan("should report a torn tail in the last segment :: every cut inside the last record", () => {
  const {bytes, frames} = makeSegment(3);
  const lastLen = (frames[2] as Uint8Array).length;
  for (let cut = 1; cut < lastLen; cut++) {
    const b = bytes.subarray(0, bytes.length - cut);
    const res = scanSegment(b, {isLast: true});
    assert.is(res.records, 2, `cut ${cut}`);
    assert.equal(res.torn, {offset: bytes.length - lastLen, length: lastLen - cut});
  }
});
Scan("should treat a zero-filled tail as torn :: zeros after records and a record cut by zeros", () => {
  const {bytes, frames} = makeSegment(3);
  const zeros = concatBytes(bytes, new Uint8Array(4096));
  assert.is(scanSegment(zeros, {isLast: true}).records, 3);
  const lastLen = (frames[2] as Uint8Array).length;
  const z = Uint8Array.from(bytes);
  z.fill(0, bytes.length - lastLen + 10);
  const res = scanSegment(concatBytes(z, new Uint8Array(100)), {isLast: true});
  assert.is(res.records, 2);
  assert.is(res.torn?.offset, bytes.length - lastLen);
});
Scan("should refuse corruption with its offset :: flipped byte in a middle record", () => {
  const {bytes, frames, headerSize} = makeSegment(4);
  const b = Uint8Array.from(bytes);
  const at = headerSize + (frames[0] as Uint8Array).length + 12;
  b[at] = (b[at] as number) ^ 0xff;
  const e = errOf(() => scanSegment(b, {isLast: true}));
  assert.is(e.code, JournalErrorCode.CHECKSUM_MISMATCH);
  assert.is(e.type.offset, headerSize + (frames[0] as Uint8Array).length);
});
Scan("should refuse a complete bad last record :: not torn, it may have been acknowledged", () => {
  const {bytes} = makeSegment(2);
  const b = Uint8Array.from(bytes);
  b[b.length - 20] = (b[b.length - 20] as number) ^ 0x01;
  assert.is(errOf(() => scanSegment(b, {isLast: true})).code, JournalErrorCode.CHECKSUM_MISMATCH);
});
Scan("should refuse a torn tail outside the last segment :: isLast false", () => {
  const {bytes} = makeSegment(2);
  assert.is(errOf(() => scanSegment(bytes.subarray(0, bytes.length - 3), {isLast: false})).code, JournalErrorCode.TRUNCATED);
});
Scan("should skip optional kinds and refuse unknown critical ones :: kinds 64 and 9", () => {
  const ok = makeSegment(1, [encodeFrame(64, Uint8Array.of(1, 2)), encodeFrame(RecordKind.ROUND, encodeRound({timeMs: 1, leaves: 1, root: new Uint8Array(32)}))]);
  assert.is(scanSegment(ok.bytes, {isLast: false}).records, 3);
  const bad = makeSegment(1, [encodeFrame(9, Uint8Array.of(1))]);
  assert.is(errOf(() => scanSegment(bad.bytes, {isLast: true})).code, JournalErrorCode.UNKNOWN_CRITICAL_KIND);
});
Scan("should check the header against what precedes it :: wrong calendar, seq, chain", () => {
  const {bytes} = makeSegment(1);
  const g = genesisChainHash(calendarId);
  assert.is(errOf(() => scanSegment(bytes, {isLast: false, expect: {calendarId: Uint8Array.of(1), firstSeq: 10, prevChain: g}})).code, JournalErrorCode.WRONG_CALENDAR);
  assert.is(errOf(() => scanSegment(bytes, {isLast: false, expect: {calendarId, firstSeq: 11, prevChain: g}})).code, JournalErrorCode.BROKEN_CHAIN);
  assert.is(errOf(() => scanSegment(bytes, {isLast: false, expect: {calendarId, firstSeq: 10, prevChain: new Uint8Array(32)}})).code, JournalErrorCode.BROKEN_CHAIN);
});
Scan.run();
