import {suite} from "uvu";
import * as assert from "uvu/assert";
import {
  ByteWriter, decodeDetached, decodeTimestamp, detachedFile, encodeAttestation, encodeDetached, encodeTimestamp, fromHex,
  OtsErrorCode, sha256, Timestamp, timestampFromPath, toHex,
} from "../../../protocol/ots/index.ts";
import type {Attestation} from "../../../protocol/ots/index.ts";
import {otsErrorCode} from "../../support/errors.ts";

const hex = (s: string): Uint8Array => fromHex(s) as Uint8Array;
const att = (a: Attestation): string => {
  const w = new ByteWriter();
  encodeAttestation(a, w);
  return toHex(w.finish());
};
const code = otsErrorCode;
const MAGIC = "004f70656e54696d657374616d7073000050726f6f6600bf89e2e884e89294";

// ---

const encode = suite("protocol/ots encodeTimestamp");

encode("should write the reference's canonical order :: test_timestamp.py", () => {
  const ts = new Timestamp(new TextEncoder().encode("foo"));
  ts.addAttestation({kind: "pending", uri: "foobaz"});
  ts.addAttestation({kind: "pending", uri: "barfoo"});
  ts.addOp({kind: "sha256"}).addAttestation({kind: "pending", uri: "deeper"});
  ts.addAttestation({kind: "pending", uri: "foobar"});
  const p = (u: string): string => att({kind: "pending", uri: u});
  assert.is(toHex(encodeTimestamp(ts)), `ff00${p("barfoo")}ff00${p("foobar")}ff00${p("foobaz")}0800${p("deeper")}`);
});

encode("should merge equal ops and attestations by value :: dedupe", () => {
  const msg = hex("01");
  const a = timestampFromPath(msg, [{kind: "append", arg: hex("02")}, {kind: "sha256"}], [{kind: "bitcoin", height: 5}]);
  const b = timestampFromPath(msg, [{kind: "append", arg: hex("02")}, {kind: "sha256"}], [{kind: "bitcoin", height: 5}, {kind: "pending", uri: "x"}]);
  a.merge(b);
  a.merge(b.clone());
  assert.is(a.opCount, 1);
  const leaf = a.child({kind: "append", arg: hex("02")})?.child({kind: "sha256"});
  assert.is(leaf?.attestationCount, 2);
  // Two independently built equal trees give identical bytes.
  const c = timestampFromPath(msg, [{kind: "append", arg: Uint8Array.of(2)}, {kind: "sha256"}], [{kind: "pending", uri: "x"}, {kind: "bitcoin", height: 5}]);
  assert.is(toHex(encodeTimestamp(a)), toHex(encodeTimestamp(c)));
});

encode("should not mutate the tree it writes :: no mutation", () => {
  const ts = timestampFromPath(hex("00"), [{kind: "sha256"}], [{kind: "pending", uri: "a"}]);
  const before = toHex(encodeTimestamp(ts));
  encodeTimestamp(ts);
  assert.is(toHex(encodeTimestamp(ts)), before);
  assert.is(ts.opCount, 1);
});

encode("should refuse an empty tree and a path over 255 ops :: limits", () => {
  assert.is(code(() => encodeTimestamp(new Timestamp(hex("00")))), OtsErrorCode.EMPTY_TIMESTAMP);
  const ok = timestampFromPath(hex("00"), Array.from({length: 255}, () => ({kind: "sha256"}) as const), [{kind: "pending", uri: "a"}]);
  assert.ok(encodeTimestamp(ok).length > 255);
  const deep = timestampFromPath(hex("00"), Array.from({length: 256}, () => ({kind: "sha256"}) as const), [{kind: "pending", uri: "a"}]);
  assert.is(code(() => encodeTimestamp(deep)), OtsErrorCode.RECURSION_LIMIT);
});

encode("should refuse merging trees for different messages :: merge", () => {
  assert.is(code(() => new Timestamp(hex("00")).merge(new Timestamp(hex("01")))), OtsErrorCode.MSG_MISMATCH);
});

encode.run();

// ---

const decode = suite("protocol/ots decodeTimestamp");

decode("should allow 255 ops on a path and refuse 256 :: recursion limit", () => {
  const leaf = att({kind: "pending", uri: "a"});
  assert.ok(decodeTimestamp(hex(`${"08".repeat(255)}00${leaf}`), hex("00")));
  assert.is(code(() => decodeTimestamp(hex(`${"08".repeat(256)}00${leaf}`), hex("00"))), OtsErrorCode.RECURSION_LIMIT);
});

decode("should refuse trailing bytes, truncation and unknown ops :: strictness", () => {
  const leaf = att({kind: "pending", uri: "a"});
  assert.is(code(() => decodeTimestamp(hex(`00${leaf}00`), hex("00"))), OtsErrorCode.TRAILING_BYTES);
  assert.is(code(() => decodeTimestamp(hex(`ff00${leaf}`), hex("00"))), OtsErrorCode.TRUNCATED);
  assert.is(code(() => decodeTimestamp(hex(""), hex("00"))), OtsErrorCode.TRUNCATED);
  assert.is(code(() => decodeTimestamp(hex(`0400${leaf}`), hex("00"))), OtsErrorCode.UNKNOWN_OP);
});

decode("should keep the last subtree for a duplicated op, as the reference does :: duplicates", () => {
  const a = att({kind: "pending", uri: "a"});
  const b = att({kind: "pending", uri: "b"});
  const ts = decodeTimestamp(hex(`ff0800${a}0800${b}`), hex("00"));
  assert.is(toHex(encodeTimestamp(ts)), `0800${b}`);
});

decode("should compute and check op results while reading :: eager evaluation", () => {
  const leaf = att({kind: "pending", uri: "a"});
  assert.is(code(() => decodeTimestamp(hex(`f200${leaf}`), new Uint8Array(0))), OtsErrorCode.BAD_OP_INPUT);
  const ts = decodeTimestamp(hex(`0800${leaf}`), new Uint8Array(0));
  assert.is(toHex(ts.ops[0]?.[1].msg as Uint8Array), toHex(sha256(new Uint8Array(0))));
});

decode.run();

// ---

const detached = suite("protocol/ots encodeDetached/decodeDetached");

detached("should match the empty-file vector :: test_timestamp.py", () => {
  const digest = sha256(new Uint8Array(0));
  const f = detachedFile("sha256", timestampFromPath(digest, [], [{kind: "pending", uri: "foobar"}]));
  const bytes = toHex(encodeDetached(f));
  assert.is(bytes, `${MAGIC}0108${toHex(digest)}00${att({kind: "pending", uri: "foobar"})}`);
  assert.is(toHex(encodeDetached(decodeDetached(hex(bytes)))), bytes);
});

detached("should refuse bad magic, versions, hash ops and trailing bytes :: errors", () => {
  const digest = toHex(sha256(new Uint8Array(0)));
  const tail = `00${att({kind: "pending", uri: "x"})}`;
  assert.is(code(() => decodeDetached(hex(`${MAGIC.slice(0, -2)}00`))), OtsErrorCode.BAD_MAGIC);
  assert.is(code(() => decodeDetached(hex("00"))), OtsErrorCode.BAD_MAGIC);
  assert.is(code(() => decodeDetached(hex(`${MAGIC}0208${digest}${tail}`))), OtsErrorCode.UNSUPPORTED_VERSION);
  // Non-minimal version `81 00` is refused like upstream 0.4.5's uint8 read.
  assert.is(code(() => decodeDetached(hex(`${MAGIC}8100`))), OtsErrorCode.UNSUPPORTED_VERSION);
  assert.is(code(() => decodeDetached(hex(`${MAGIC}01f0${digest}${tail}`))), OtsErrorCode.BAD_FILE_HASH_OP);
  assert.is(code(() => decodeDetached(hex(`${MAGIC}0108${digest}${tail}00`))), OtsErrorCode.TRAILING_BYTES);
  assert.is(code(() => decodeDetached(hex(`${MAGIC}0102${digest.slice(0, 30)}`))), OtsErrorCode.TRUNCATED);
  assert.is(code(() => detachedFile("sha1", new Timestamp(new Uint8Array(32)))), OtsErrorCode.BAD_DIGEST_LENGTH);
});

detached("should read every crypt op as the file-hash op :: sha1 ripemd160 sha256 keccak256", () => {
  for (const [tag, len, kind] of [["02", 20, "sha1"], ["03", 20, "ripemd160"], ["08", 32, "sha256"], ["67", 32, "keccak256"]] as const) {
    const f = decodeDetached(hex(`${MAGIC}01${tag}${"11".repeat(len)}00${att({kind: "bitcoin", height: 1})}`));
    assert.is(f.fileHashOp, kind);
  }
});

detached.run();
