import {suite} from "uvu";
import * as assert from "uvu/assert";
import {crc32c} from "../../../protocol/journal/crc32c.ts";
import {decodeFrame, encodeFrame, RecordKind, MAX_RECORD_PAYLOAD} from "../../../protocol/journal/record.ts";
import {decodeRound, encodeRound} from "../../../protocol/journal/round.ts";
import {JournalError, JournalErrorCode} from "../../../protocol/journal/errors.ts";
import {fromHex, toHex} from "../../../protocol/ots/bytes.ts";

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof JournalError) return e.code;
    throw e;
  }
  return "no error";
}

// ---
const Crc = suite("protocol/journal/crc32c crc32c");
Crc("should match the CRC-32C check value :: '123456789'", () => {
  assert.is(crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
});
Crc("should match known vectors :: empty and 32 zero bytes", () => {
  assert.is(crc32c(new Uint8Array(0)), 0);
  assert.is(crc32c(new Uint8Array(32)), 0x8a9136aa);
});
Crc.run();

// ---
const Frame = suite("protocol/journal/record encodeFrame/decodeFrame");
Frame("should encode a golden frame byte for byte :: kind 1, payload 010203", () => {
  const f = encodeFrame(RecordKind.ROUND, Uint8Array.of(1, 2, 3));
  const crc = crc32c(Uint8Array.of(1, 3, 1, 2, 3)).toString(16).padStart(8, "0");
  assert.is(toHex(f), `010301020${3}${crc}`);
});
Frame("should round-trip and report the end :: two frames back to back", () => {
  const a = encodeFrame(1, new Uint8Array(200).fill(7));
  const b = encodeFrame(70, Uint8Array.of(9));
  const buf = new Uint8Array(a.length + b.length);
  buf.set(a);
  buf.set(b, a.length);
  const fa = decodeFrame(buf, 0);
  assert.is(fa.kind, 1);
  assert.is(fa.payload.length, 200);
  assert.is(fa.end, a.length);
  const fb = decodeFrame(buf, fa.end);
  assert.is(fb.kind, 70);
  assert.is(toHex(fb.payload), "09");
  assert.is(fb.end, buf.length);
});
Frame("should report TRUNCATED for every cut of a frame :: all prefixes", () => {
  const f = encodeFrame(1, new Uint8Array(40).fill(1));
  for (let n = 0; n < f.length; n++) assert.is(code(() => decodeFrame(f.subarray(0, n), 0)), JournalErrorCode.TRUNCATED, `cut at ${n}`);
});
Frame("should detect every single-bit flip :: CRC covers kind, length, payload and itself", () => {
  const f = encodeFrame(1, new Uint8Array(40).fill(0x5a));
  for (let i = 0; i < f.length * 8; i++) {
    const g = Uint8Array.from(f);
    g[i >> 3] = (g[i >> 3] as number) ^ (1 << (i & 7));
    assert.is.not(code(() => decodeFrame(g, 0)), "no error", `bit ${i}`);
  }
});
Frame("should refuse kind 0, non-minimal varuints and oversize lengths :: strict framing", () => {
  assert.is(code(() => decodeFrame(new Uint8Array(10), 0)), JournalErrorCode.ZERO_KIND);
  assert.is(code(() => decodeFrame(fromHex("8100000000000000") as Uint8Array, 0)), JournalErrorCode.BAD_VARUINT);
  const big = new Uint8Array(8);
  big[0] = 1;
  let p = 1;
  let v = MAX_RECORD_PAYLOAD + 1;
  while (v >= 128) {
    big[p++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  big[p] = v;
  assert.is(code(() => decodeFrame(big, 0)), JournalErrorCode.BAD_VARUINT);
});
Frame.run();

// ---
const Round = suite("protocol/journal/round encodeRound/decodeRound");
Round("should round-trip exactly :: typical round", () => {
  const root = new Uint8Array(32).map((_, i) => i);
  const enc = encodeRound({timeMs: 1_700_000_000_123, leaves: 300, root});
  // Golden bytes computed independently (python LEB128).
  assert.is(toHex(enc), "fbd095ffbc31ac02000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const dec = decodeRound(enc);
  assert.is(dec.timeMs, 1_700_000_000_123);
  assert.is(dec.leaves, 300);
  assert.is(toHex(dec.root), toHex(root));
});
Round("should refuse short, long and empty rounds :: BAD_PAYLOAD", () => {
  const enc = encodeRound({timeMs: 5, leaves: 1, root: new Uint8Array(32)});
  assert.is(code(() => decodeRound(enc.subarray(0, enc.length - 1))), JournalErrorCode.BAD_PAYLOAD);
  const long = new Uint8Array(enc.length + 1);
  long.set(enc);
  assert.is(code(() => decodeRound(long)), JournalErrorCode.BAD_PAYLOAD);
  const zero = Uint8Array.from(enc);
  zero[1] = 0;
  assert.is(code(() => decodeRound(zero)), JournalErrorCode.BAD_PAYLOAD);
});
Round.run();
