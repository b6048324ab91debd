import {suite} from "uvu";
import * as assert from "uvu/assert";
import {
  ByteReader, ByteWriter, compareAttestations, decodeAttestation, encodeAttestation, fromHex, OtsErrorCode, pending, toHex,
} from "../../../protocol/ots/index.ts";
import type {Attestation} from "../../../protocol/ots/index.ts";
import {otsErrorCode} from "../../support/errors.ts";

const hex = (s: string): Uint8Array => fromHex(s) as Uint8Array;
const enc = (a: Attestation): string => {
  const w = new ByteWriter();
  encodeAttestation(a, w);
  return toHex(w.finish());
};
const dec = (s: string): Attestation => {
  const r = new ByteReader(hex(s));
  const a = decodeAttestation(r);
  r.assertEof();
  return a;
};
const code = otsErrorCode;
const pendingHex = (uri: Uint8Array): string => {
  const w = new ByteWriter();
  w.writeVarbytes(uri);
  const inner = w.finish();
  const o = new ByteWriter();
  o.writeBytes(hex("83dfe30d2ef90c8e"));
  o.writeVarbytes(inner);
  return toHex(o.finish());
};

// ---

const codec = suite("protocol/ots encodeAttestation/decodeAttestation");

codec("should match the reference notary vectors :: test_notary.py", () => {
  assert.is(enc({kind: "pending", uri: "foobar"}), "83dfe30d2ef90c8e0706666f6f626172");
  assert.is(enc({kind: "ethereum", height: 0}), "30fe8087b5c7ead70100");
  assert.is(enc({kind: "unknown", tag: hex("0102030405060708"), payload: new TextEncoder().encode("Hello World!")}), "01020304050607080c48656c6c6f20576f726c6421");
  assert.equal(dec("83dfe30d2ef90c8e0706666f6f626172"), {kind: "pending", uri: "foobar"});
  assert.equal(dec("30fe8087b5c7ead70100"), {kind: "ethereum", height: 0});
  assert.equal(dec("0588960d73d7190103f7ef15"), {kind: "bitcoin", height: 358391});
  assert.equal(dec("06869a0d73d71b450101"), {kind: "litecoin", height: 1});
});

codec("should keep unknown attestations verbatim :: forward compatibility", () => {
  const s = "ffeeddccbbaa99880a00112233445566778899";
  assert.is(enc(dec(s)), s);
});

codec("should accept a 1000-byte Pending URI and refuse 1001 :: URI length", () => {
  const ok = new Uint8Array(1000).fill(0x61);
  assert.is((dec(pendingHex(ok)) as {uri: string}).uri.length, 1000);
  assert.is(code(() => dec(pendingHex(new Uint8Array(1001).fill(0x61)))), OtsErrorCode.BAD_LENGTH);
  assert.is(code(() => pending("a".repeat(1001))), OtsErrorCode.BAD_PENDING_URI);
});

codec("should refuse URI bytes outside [A-Za-z0-9._/:-] :: URI charset", () => {
  for (const ch of ["?", "#", "%", "@", "[", "]", " ", "\u0000", "\u00e9"]) {
    const bytes = new TextEncoder().encode(`http://a${ch}b`);
    assert.is(code(() => dec(pendingHex(bytes))), OtsErrorCode.BAD_PENDING_URI, JSON.stringify(ch));
  }
  assert.is(code(() => pending("http://a?b")), OtsErrorCode.BAD_PENDING_URI);
  assert.equal(dec(pendingHex(new TextEncoder().encode("https://a-b.c_d/e:1"))), {kind: "pending", uri: "https://a-b.c_d/e:1"});
});

codec("should refuse trailing bytes in a known payload and payloads over 8192 :: limits", () => {
  assert.is(code(() => dec("0588960d73d71901020100")), OtsErrorCode.ATTESTATION_TRAILING_BYTES);
  assert.is(code(() => dec("83dfe30d2ef90c8e0806666f6f62617200")), OtsErrorCode.ATTESTATION_TRAILING_BYTES);
  const w = new ByteWriter();
  w.writeBytes(hex("0102030405060708"));
  w.writeVarbytes(new Uint8Array(8193));
  assert.is(code(() => dec(toHex(w.finish()))), OtsErrorCode.BAD_LENGTH);
  const w2 = new ByteWriter();
  w2.writeBytes(hex("0102030405060708"));
  w2.writeVarbytes(new Uint8Array(8192));
  assert.is(dec(toHex(w2.finish())).kind, "unknown");
  assert.is(code(() => dec("0588960d73d7")), OtsErrorCode.TRUNCATED);
});

codec("should accept non-minimal varints as the reference does :: varuint", () => {
  // python reads `80 00` as 0 and writes it back minimal; so do we.
  assert.equal(dec("0588960d73d71901028000"), {kind: "bitcoin", height: 0});
  assert.is(code(() => dec("0588960d73d7190109ffffffffffffffff7f")), OtsErrorCode.VARINT_TOO_LARGE);
});

codec("should sort Bitcoin < Litecoin < Ethereum < Pending, then by value :: canonical order", () => {
  const list: Attestation[] = [
    {kind: "pending", uri: "b"}, {kind: "pending", uri: "a"}, {kind: "ethereum", height: 1}, {kind: "litecoin", height: 5},
    {kind: "bitcoin", height: 10}, {kind: "bitcoin", height: 2},
  ];
  const order = [...list].sort(compareAttestations).map((a) => ("height" in a ? `${a.kind}${a.height}` : a.kind === "pending" ? `p:${a.uri}` : "?"));
  assert.equal(order, ["bitcoin2", "bitcoin10", "litecoin5", "ethereum1", "p:a", "p:b"]);
});

codec.run();
