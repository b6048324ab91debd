/**
 * What an upstream calendar's reply to `POST /digest` must be before any of
 * it goes into a client's proof. The reply is a header-less timestamp rooted
 * at the 32-byte round root we sent (PROTOCOL-NOTES §2.2: otsd's is
 * `append(nonce) sha256 <merkle path> prepend(time) append(mac)
 * PendingAttestation(uri)`, an otsfed node's `append(nonce) sha256 <path>
 * append(tag‖seq) PendingAttestation(url)`); the client later upgrades each
 * Pending leaf from that calendar directly, so every byte of it ends up in
 * the client's `.ots` file and must be something the reference client reads
 * and upgrades.
 *
 * Rules, each with its limit checked before anything is built on it:
 * - [SIZE] at most MAX_UPSTREAM_REPLY_BYTES (the HTTP client cuts the
 *   connection there; checked here again for any other caller).
 * - [DECODE] the protocol/ots decoder from our root accepts it: known ops,
 *   op results ≤ 4096 bytes, Pending URIs ≤ 1000 bytes of
 *   `[A-Za-z0-9._/:-]`, no trailing bytes, ≤ 255 ops on a path.
 * - [PENDING] every attestation is a PendingAttestation: a fresh root cannot
 *   have a Bitcoin attestation yet, and an unknown one could not be upgraded.
 * - [SHAPE] no attestation at the root (its Pending would sit beside the
 *   other upstreams' branches, and python's upgrade stops at the first node
 *   with an attestation on each path, so it would hide them), attestations
 *   only on leaves for the same reason, at most MAX_UPSTREAM_REPLY_DEPTH ops
 *   on a path and at most MAX_UPSTREAM_REPLY_ATTESTATIONS attestations.
 */
import {OtsError} from "../../protocol/ots/errors.ts";
import {decodeTimestamp} from "../../protocol/ots/timestamp.ts";
import type {Timestamp} from "../../protocol/ots/timestamp.ts";
import {upstreamError, UpstreamErrorCode} from "./errors.ts";

/**
 * Largest reply taken from an upstream: a public calendar's is about 400 bytes
 * (68 bytes and one 35-byte merkle step per doubling of its round), an otsfed
 * node's under 700 at 50,000 digests a round; 4096 leaves room for an
 * upstream that is itself an aggregator, and keeps two such branches under
 * the client's 10,000-byte limit.
 */
export const MAX_UPSTREAM_REPLY_BYTES = 4096;

/**
 * Most ops on any path of a reply. Python refuses a proof with more than 255
 * ops on a path, and a client's file holds, on one path: its own ops (2 for
 * one file), ours (2 + 2 per merkle level, at most 50 at 10 million digests
 * a round), the upstream's reply, and later that calendar's completion
 * (about 80 for otsd: sha256, its stamp tree, the transaction, the block's
 * merkle branch). A public calendar's reply has about 30, an otsfed node's
 * at most 37, an aggregator in front of one about 70; 100 keeps the sum
 * under 255.
 */
export const MAX_UPSTREAM_REPLY_DEPTH = 100;

/** Most attestations in one reply: one per calendar behind it, for an upstream that is itself an aggregator. */
export const MAX_UPSTREAM_REPLY_ATTESTATIONS = 16;

/** Check one node and everything under it against [PENDING] and [SHAPE]; returns the attestations counted. */
function checkSubtree(node: Timestamp, depth: number): number {
  if (depth > MAX_UPSTREAM_REPLY_DEPTH) throw upstreamError(UpstreamErrorCode.REPLY_BAD_SHAPE, `more than ${MAX_UPSTREAM_REPLY_DEPTH} ops on a path`);
  let count = 0;
  if (node.attestationCount > 0) {
    // [SHAPE] attestations only on leaves.
    if (node.opCount > 0) throw upstreamError(UpstreamErrorCode.REPLY_BAD_SHAPE, "an attestation beside ops: the client's upgrade would stop there");
    for (const a of node.attestations) {
      // [PENDING]
      if (a.kind !== "pending") throw upstreamError(UpstreamErrorCode.REPLY_NOT_PENDING, `a ${a.kind} attestation where only Pending attestations belong`);
      count++;
    }
  }
  for (const [, child] of node.ops) count += checkSubtree(child, depth + 1);
  if (count > MAX_UPSTREAM_REPLY_ATTESTATIONS) throw upstreamError(UpstreamErrorCode.REPLY_BAD_SHAPE, `more than ${MAX_UPSTREAM_REPLY_ATTESTATIONS} attestations`);
  return count;
}

/**
 * Check that a timestamp rooted at a round root is fit for clients' proofs:
 * [PENDING] and [SHAPE]. Used on each reply and again on the round's merged
 * tree (two replies could share a first op and so a node).
 */
export function checkProofBranch(ts: Timestamp): void {
  // [SHAPE] nothing at the root: every branch commits to the root through at least one op.
  if (ts.attestationCount > 0) throw upstreamError(UpstreamErrorCode.REPLY_BAD_SHAPE, "an attestation on the round root itself");
  checkSubtree(ts, 0);
}

/**
 * Decode an upstream's `POST /digest` reply for the round root `root` and
 * check it (see the module comment). Throws UpstreamError
 * (UPSTREAM_REPLY_TOO_LARGE, _INVALID, _NOT_PENDING, _BAD_SHAPE); the
 * message names the rule, never the upstream's bytes.
 */
export function decodeUpstreamReply(reply: Uint8Array, root: Uint8Array): Timestamp {
  // [SIZE]
  if (reply.length > MAX_UPSTREAM_REPLY_BYTES) throw upstreamError(UpstreamErrorCode.REPLY_TOO_LARGE, `reply of ${reply.length} bytes, over ${MAX_UPSTREAM_REPLY_BYTES}`);
  let ts: Timestamp;
  try {
    // [DECODE]
    ts = decodeTimestamp(reply, root);
  } catch (e) {
    if (e instanceof OtsError) throw upstreamError(UpstreamErrorCode.REPLY_INVALID, `not a timestamp for the round root: ${e.code}`);
    throw e;
  }
  checkProofBranch(ts);
  return ts;
}
