import {suite} from "uvu";
import * as assert from "uvu/assert";
import {concatBytes, toHex} from "../../../protocol/ots/bytes.ts";
import {sha256} from "../../../protocol/ots/hashes.ts";
import {checkBatchHead, decodeRecordBatch, MAX_BATCH_BYTES} from "../../../protocol/journal/batch.ts";
import {genesisChainHash, nextChainHash} from "../../../protocol/journal/chain.ts";
import {JournalError, JournalErrorCode} from "../../../protocol/journal/errors.ts";
import {encodeFrame, RecordKind} from "../../../protocol/journal/record.ts";
import {encodeRound} from "../../../protocol/journal/round.ts";
import {Rng} from "../../support/rng.ts";

const CAL = Uint8Array.of(0, 36, 8, 1, 18, 32, ...new Uint8Array(32).fill(7));
const round = (i: number): Uint8Array => encodeFrame(RecordKind.ROUND, encodeRound({timeMs: 1_700_000_000_000 + i, leaves: 1 + i, root: sha256(Uint8Array.of(i))}));
const start = {fromSeq: 0, prevChain: genesisChainHash(CAL)};

function codeOf(f: () => unknown): string {
  try {
    f();
    return "ok";
  } catch (e) {
    return e instanceof JournalError ? e.code : `other: ${String(e)}`;
  }
}

// ---
const decode = suite("protocol/journal/batch decodeRecordBatch");

decode("should give each record its seq, frame and chain hash :: three rounds and an optional kind", () => {
  const frames = [round(0), round(1), encodeFrame(RecordKind.NOTE, new TextEncoder().encode("hello")), round(3)];
  const records = decodeRecordBatch(concatBytes(...frames), start);
  assert.equal(records.map((r) => r.seq), [0, 1, 2, 3]);
  assert.equal(records.map((r) => r.kind), [RecordKind.ROUND, RecordKind.ROUND, RecordKind.NOTE, RecordKind.ROUND]);
  let chain = start.prevChain;
  for (const [i, r] of records.entries()) {
    assert.is(toHex(r.frame), toHex(frames[i] as Uint8Array), `frame ${i} byte for byte`);
    chain = nextChainHash(chain, (frames[i] as Uint8Array).subarray(0, (frames[i] as Uint8Array).length - 4));
    assert.is(toHex(r.chainHash), toHex(chain), `chain after ${i}`);
  }
  const later = decodeRecordBatch(round(9), {fromSeq: 41, prevChain: chain});
  assert.is(later[0]?.seq, 41);
});

decode("should refuse every malformed batch with its code :: table", () => {
  const ok = concatBytes(round(0), round(1));
  const flipped = ok.slice();
  flipped[ok.length - 1] = (flipped[ok.length - 1] as number) ^ 1;
  const cases: Array<[string, Uint8Array, string]> = [
    ["empty", new Uint8Array(0), JournalErrorCode.BAD_LENGTH],
    ["over the size limit", new Uint8Array(MAX_BATCH_BYTES + 1), JournalErrorCode.BAD_LENGTH],
    ["cut inside the last frame", ok.subarray(0, ok.length - 2), JournalErrorCode.TRUNCATED],
    ["a flipped checksum", flipped, JournalErrorCode.CHECKSUM_MISMATCH],
    ["zero bytes after the frames", concatBytes(ok, new Uint8Array(3)), JournalErrorCode.ZERO_KIND],
    ["an unknown critical kind", concatBytes(ok, encodeFrame(17, Uint8Array.of(1))), JournalErrorCode.UNKNOWN_CRITICAL_KIND],
    ["a ROUND payload that does not parse", encodeFrame(RecordKind.ROUND, Uint8Array.of(1, 2)), JournalErrorCode.BAD_PAYLOAD],
    ["a STAMP payload that does not parse", encodeFrame(RecordKind.STAMP, Uint8Array.of(0)), JournalErrorCode.BAD_PAYLOAD],
  ];
  for (const [what, bytes, code] of cases) assert.is(codeOf(() => decodeRecordBatch(bytes, start)), code, what);
});

decode("should only ever throw JournalErrors on mutated batches :: 20,000 mutations", () => {
  const rng = new Rng(9);
  const base = concatBytes(round(0), round(1), round(2));
  for (let i = 0; i < 20_000; i++) {
    const b = base.slice(0, rng.int(base.length) + 1);
    for (let k = rng.int(4); k >= 0; k--) b[rng.int(b.length)] = rng.int(256);
    const code = codeOf(() => decodeRecordBatch(b, start));
    assert.ok(!code.startsWith("other"), `mutation ${i}: ${code}`);
  }
});

decode.run();

// ---
const head = suite("protocol/journal/batch checkBatchHead");

head("should accept exactly the head at the batch's end :: and nothing else", () => {
  const records = decodeRecordBatch(concatBytes(round(0), round(1)), start);
  const end = {calendarId: CAL, length: 2, chainHash: (records[1] as {chainHash: Uint8Array}).chainHash};
  checkBatchHead(records, start, CAL, end);
  assert.is(codeOf(() => checkBatchHead(records, start, CAL, {...end, length: 3})), JournalErrorCode.BROKEN_CHAIN, "a head beyond the batch");
  assert.is(codeOf(() => checkBatchHead(records.slice(0, 1), start, CAL, end)), JournalErrorCode.BROKEN_CHAIN, "a batch short of the head");
  assert.is(codeOf(() => checkBatchHead(records, start, CAL, {...end, chainHash: new Uint8Array(32)})), JournalErrorCode.BROKEN_CHAIN, "another chain hash");
  assert.is(codeOf(() => checkBatchHead(records, start, Uint8Array.of(1, 2, 3), end)), JournalErrorCode.WRONG_CALENDAR, "another calendar");
  const shifted = decodeRecordBatch(concatBytes(round(0), round(1)), {fromSeq: 5, prevChain: start.prevChain});
  assert.is(codeOf(() => checkBatchHead(shifted, {fromSeq: 5, prevChain: start.prevChain}, CAL, end)), JournalErrorCode.BROKEN_CHAIN, "the right bytes at the wrong place");
});

head.run();
