import {suite} from "uvu";
import * as assert from "uvu/assert";
import {randomBytes} from "node:crypto";
import {bitcoin, pending} from "../../../protocol/ots/attestations.ts";
import type {Attestation} from "../../../protocol/ots/attestations.ts";
import {append, SHA256} from "../../../protocol/ots/ops.ts";
import type {Op} from "../../../protocol/ots/ops.ts";
import {encodeTimestamp, timestampFromPath, Timestamp} from "../../../protocol/ots/timestamp.ts";
import {UpstreamError} from "../../../node/aggregator/errors.ts";
import {checkProofBranch, decodeUpstreamReply, MAX_UPSTREAM_REPLY_ATTESTATIONS, MAX_UPSTREAM_REPLY_BYTES, MAX_UPSTREAM_REPLY_DEPTH} from "../../../node/aggregator/upstream-reply.ts";
import {readVector} from "../../support/vectors.ts";
import {otsdReply, pendingLeaves, replyEndingIn, replyWithRootAttestation} from "./support.ts";

const ROOT = new Uint8Array(randomBytes(32));
const HOSTILE_URI = "https://hostile.example";

const path = (ops: readonly Op[], atts: readonly Attestation[]): Uint8Array => encodeTimestamp(timestampFromPath(ROOT, ops, atts));
const nonce = (): Op => append(new Uint8Array(randomBytes(16)));

/** A reply with `n` Pending leaves, one per branch (an upstream that is itself an aggregator). */
function forkedReply(n: number): Uint8Array {
  const t = new Timestamp(ROOT);
  for (let i = 0; i < n; i++) t.addOp(nonce()).addOp(SHA256).addAttestation(pending(`https://c${i}.example`));
  return encodeTimestamp(t);
}

/** A valid reply of exactly `size` bytes: one append whose argument fills it up. */
function replyOfSize(size: number): Uint8Array {
  for (let k = 1; k < 4064; k++) {
    const r = path([append(new Uint8Array(k))], [pending(HOSTILE_URI)]);
    if (r.length === size) return r;
    if (r.length > size) break;
  }
  throw new Error(`no reply of ${size} bytes`);
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.instance(e, UpstreamError);
    assert.not.match((e as Error).message, HOSTILE_URI, "the message never carries the upstream's bytes");
    return (e as UpstreamError).code;
  }
  return "accepted";
}

// ---
const Decode = suite("node/aggregator/upstream-reply decodeUpstreamReply");

Decode("should accept what real calendars answer :: otsd's captured replies, single and a batch of 5", () => {
  const single = decodeUpstreamReply(readVector("local-otsd/single/post-digest-response.bin"), readVector("local-otsd/single/digest.bin"));
  assert.equal(pendingLeaves(single).map((l) => l.uri), ["http://127.0.0.1:14788"]);
  assert.is(Buffer.from(pendingLeaves(single)[0]?.msg ?? []).toString("hex"), new TextDecoder().decode(readVector("local-otsd/single/commitment.hex")).trim());
  for (let i = 1; i <= 5; i++) {
    const t = decodeUpstreamReply(readVector(`local-otsd/batch5/post-digest-response-${i}.bin`), readVector(`local-otsd/batch5/digest-${i}.bin`));
    assert.is(pendingLeaves(t).length, 1, `batch reply ${i}`);
  }
});

type Case = {name: string; reply: () => Uint8Array; code: string};

const CASES: Case[] = [
  {name: "an otsd-shaped reply", reply: () => otsdReply(ROOT, HOSTILE_URI), code: "accepted"},
  {name: "an aggregator upstream: 16 Pending branches", reply: () => forkedReply(MAX_UPSTREAM_REPLY_ATTESTATIONS), code: "accepted"},
  {name: `${MAX_UPSTREAM_REPLY_DEPTH} ops on the path`, reply: () => path([nonce(), ...Array<Op>(MAX_UPSTREAM_REPLY_DEPTH - 1).fill(SHA256)], [pending(HOSTILE_URI)]), code: "accepted"},
  {name: `exactly ${MAX_UPSTREAM_REPLY_BYTES} bytes`, reply: () => replyOfSize(MAX_UPSTREAM_REPLY_BYTES), code: "accepted"},
  {name: `${MAX_UPSTREAM_REPLY_BYTES + 1} bytes`, reply: () => replyOfSize(MAX_UPSTREAM_REPLY_BYTES + 1), code: "UPSTREAM_REPLY_TOO_LARGE"},
  {name: "an empty body", reply: () => new Uint8Array(0), code: "UPSTREAM_REPLY_INVALID"},
  {name: "random bytes", reply: () => new Uint8Array(randomBytes(200)).fill(0xf3, 0, 1), code: "UPSTREAM_REPLY_INVALID"},
  {name: "an HTML error page with status 200", reply: () => new TextEncoder().encode("<html><body>502 Bad Gateway</body></html>"), code: "UPSTREAM_REPLY_INVALID"},
  {name: "a trailing byte", reply: () => Uint8Array.from([...otsdReply(ROOT, HOSTILE_URI), 0x00]), code: "UPSTREAM_REPLY_INVALID"},
  {name: "cut short", reply: () => otsdReply(ROOT, HOSTILE_URI).subarray(0, 40), code: "UPSTREAM_REPLY_INVALID"},
  {name: "an unknown op tag", reply: () => Uint8Array.of(0x42, 0x00), code: "UPSTREAM_REPLY_INVALID"},
  {name: "a Pending URI with a forbidden character", reply: () => new TextEncoder().encode("\x00\x83\xdf\xe3\x0d\x2e\xf9\x0c\x8e\x05\x04a?b!"), code: "UPSTREAM_REPLY_INVALID"},
  {
    name: "an op result over 4096 bytes: hexlify of 2132 bytes",
    reply: () => {
      // append(2100 bytes) then pending, with a hexlify (0xf3) slipped in before the leaf: f0 b4 10 <2100> | f3 | 00 …
      const r = path([append(new Uint8Array(2100))], [pending(HOSTILE_URI)]);
      return Uint8Array.from([...r.subarray(0, 2103), 0xf3, ...r.subarray(2103)]);
    },
    code: "UPSTREAM_REPLY_INVALID",
  },
  {name: "a Bitcoin attestation", reply: () => replyEndingIn(ROOT, bitcoin(800_000)), code: "UPSTREAM_REPLY_NOT_PENDING"},
  {name: "an unknown attestation", reply: () => replyEndingIn(ROOT, {kind: "unknown", tag: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), payload: new Uint8Array(4)}), code: "UPSTREAM_REPLY_NOT_PENDING"},
  {name: "a Pending attestation on the root", reply: () => replyWithRootAttestation(ROOT, HOSTILE_URI), code: "UPSTREAM_REPLY_BAD_SHAPE"},
  {name: "only a Pending attestation on the root", reply: () => encodeTimestamp(timestampFromPath(ROOT, [], [pending(HOSTILE_URI)])), code: "UPSTREAM_REPLY_BAD_SHAPE"},
  {
    name: "an attestation beside ops",
    reply: () => {
      const t = new Timestamp(ROOT);
      const mid = t.addOp(nonce()).addOp(SHA256);
      mid.addAttestation(pending(HOSTILE_URI));
      mid.addOp(SHA256).addAttestation(pending("https://deeper.example"));
      return encodeTimestamp(t);
    },
    code: "UPSTREAM_REPLY_BAD_SHAPE",
  },
  {name: `${MAX_UPSTREAM_REPLY_DEPTH + 1} ops on the path`, reply: () => path([nonce(), ...Array<Op>(MAX_UPSTREAM_REPLY_DEPTH).fill(SHA256)], [pending(HOSTILE_URI)]), code: "UPSTREAM_REPLY_BAD_SHAPE"},
  {name: `${MAX_UPSTREAM_REPLY_ATTESTATIONS + 1} Pending branches`, reply: () => forkedReply(MAX_UPSTREAM_REPLY_ATTESTATIONS + 1), code: "UPSTREAM_REPLY_BAD_SHAPE"},
];

Decode("should take only a Pending-leaved timestamp within the limits, with a typed code otherwise :: table", () => {
  for (const c of CASES) assert.is(codeOf(() => decodeUpstreamReply(c.reply(), ROOT)), c.code, c.name);
});

Decode.run();

// ---
const Branch = suite("node/aggregator/upstream-reply checkProofBranch");

Branch("should refuse a merged tree where two replies share a node that one ends at :: shared sha256, Pending beside ops", () => {
  const a = decodeUpstreamReply(path([SHA256], [pending("https://a.example")]), ROOT);
  const b = decodeUpstreamReply(path([SHA256, SHA256], [pending("https://b.example")]), ROOT);
  const merged = a.clone();
  merged.merge(b);
  assert.is(codeOf(() => checkProofBranch(merged)), "UPSTREAM_REPLY_BAD_SHAPE");
  // Replies with their own nonces never share a node.
  const c = decodeUpstreamReply(otsdReply(ROOT, "https://c.example"), ROOT);
  const d = decodeUpstreamReply(otsdReply(ROOT, "https://d.example"), ROOT);
  c.merge(d);
  assert.is(codeOf(() => checkProofBranch(c)), "accepted");
  assert.is(pendingLeaves(c).length, 2);
});

Branch.run();
