import {suite} from "uvu";
import * as assert from "uvu/assert";
import {
  applyOp, ByteReader, ByteWriter, compareOps, decodeOpFromTag, encodeOp, fromHex, OtsErrorCode, toHex,
} from "../../../protocol/ots/index.ts";
import type {Op} from "../../../protocol/ots/index.ts";
import {otsErrorCode} from "../../support/errors.ts";

const hex = (s: string): Uint8Array => fromHex(s) as Uint8Array;
const code = otsErrorCode;

// ---

const apply = suite("protocol/ots applyOp");

apply("should match the reference op vectors :: test_op.py", () => {
  const empty = new Uint8Array(0);
  assert.is(toHex(applyOp({kind: "sha256"}, empty)), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.is(toHex(applyOp({kind: "ripemd160"}, empty)), "9c1185a5c5e9fc54612808977ee8f548b2258d31");
  assert.is(toHex(applyOp({kind: "sha1"}, empty)), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  assert.is(toHex(applyOp({kind: "keccak256"}, empty)), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  assert.is(toHex(applyOp({kind: "keccak256"}, hex("80"))), "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421");
});

apply("should append, prepend, reverse and hexlify :: byte ops", () => {
  assert.is(toHex(applyOp({kind: "append", arg: hex("0203")}, hex("01"))), "010203");
  assert.is(toHex(applyOp({kind: "prepend", arg: hex("0203")}, hex("01"))), "020301");
  assert.is(toHex(applyOp({kind: "reverse"}, hex("010203"))), "030201");
  assert.is(new TextDecoder().decode(applyOp({kind: "hexlify"}, hex("abCD"))), "abcd");
});

apply("should enforce the 4096-byte limits :: limits", () => {
  const big = new Uint8Array(4096);
  assert.is(applyOp({kind: "sha256"}, big).length, 32);
  assert.is(code(() => applyOp({kind: "sha256"}, new Uint8Array(4097))), OtsErrorCode.MSG_TOO_LONG);
  assert.is(code(() => applyOp({kind: "append", arg: new Uint8Array(1)}, big)), OtsErrorCode.RESULT_TOO_LONG);
  assert.is(applyOp({kind: "hexlify"}, new Uint8Array(2048)).length, 4096);
  assert.is(code(() => applyOp({kind: "hexlify"}, new Uint8Array(2049))), OtsErrorCode.BAD_OP_INPUT);
  assert.is(code(() => applyOp({kind: "hexlify"}, new Uint8Array(0))), OtsErrorCode.BAD_OP_INPUT);
  assert.is(code(() => applyOp({kind: "reverse"}, new Uint8Array(0))), OtsErrorCode.BAD_OP_INPUT);
});

apply("should not change its input :: no mutation", () => {
  const msg = hex("010203");
  applyOp({kind: "reverse"}, msg);
  assert.is(toHex(msg), "010203");
});

apply.run();

// ---

const codec = suite("protocol/ots encodeOp/decodeOpFromTag");

codec("should round trip every op :: all tags", () => {
  const ops: Op[] = [
    {kind: "sha1"}, {kind: "ripemd160"}, {kind: "sha256"}, {kind: "keccak256"}, {kind: "reverse"}, {kind: "hexlify"},
    {kind: "append", arg: hex("ff")}, {kind: "prepend", arg: new Uint8Array(4096)},
  ];
  for (const op of ops) {
    const w = new ByteWriter();
    encodeOp(op, w);
    const bytes = w.finish();
    const r = new ByteReader(bytes);
    const back = decodeOpFromTag(r.readByte(), r);
    r.assertEof();
    assert.is(compareOps(op, back), 0, op.kind);
  }
});

codec("should reject unknown tags and bad argument lengths :: errors", () => {
  for (const tag of [0x00, 0x01, 0x04, 0x09, 0x66, 0xef, 0xf4, 0xfe]) {
    assert.is(code(() => decodeOpFromTag(tag, new ByteReader(new Uint8Array(0)))), OtsErrorCode.UNKNOWN_OP, `tag ${tag}`);
  }
  assert.is(code(() => decodeOpFromTag(0xf0, new ByteReader(hex("00")))), OtsErrorCode.BAD_LENGTH);
  assert.is(code(() => decodeOpFromTag(0xf0, new ByteReader(hex("8120")))), OtsErrorCode.BAD_LENGTH); // 4097
  assert.is(code(() => decodeOpFromTag(0xf0, new ByteReader(hex("05aabb")))), OtsErrorCode.TRUNCATED);
});

codec("should sort by tag then argument :: canonical order", () => {
  const ops: Op[] = [{kind: "prepend", arg: hex("00")}, {kind: "append", arg: hex("0101")}, {kind: "append", arg: hex("01")}, {kind: "sha256"}, {kind: "sha1"}];
  const sorted = [...ops].sort(compareOps).map((o) => ("arg" in o ? `${o.kind}:${toHex(o.arg)}` : o.kind));
  assert.equal(sorted, ["sha1", "sha256", "append:01", "append:0101", "prepend:00"]);
});

codec.run();
