/**
 * Round commitments: what a Pending attestation sits on, and what a client
 * later asks for with `GET /timestamp/<hex>`.
 *
 *   commitment = root ‖ tag ‖ seq          (44 bytes, like otsd's)
 *     root  32 bytes  the round's merkle root (journal ROUND record)
 *     tag    4 bytes  sha256("otsfed calendar tag v1" ‖ calendarId)[0..4]
 *     seq    8 bytes  uint64 BE, the ROUND record's sequence number
 *
 * reached from the root with one op, `append(tag ‖ seq)`. The commitment
 * names its own journal record (tag → calendar, seq → record), so any node
 * mirroring that calendar maps a query straight to the record, and a forged
 * commitment is refused by comparing its root with the record's. The root
 * comes first so commitments look uniformly random: a prefix query on them
 * reveals nothing about when a round happened.
 */
import {sha256 as pureSha256} from "../ots/hashes.ts";
import {append} from "../ots/ops.ts";
import type {Op} from "../ots/ops.ts";
import type {Sha256} from "./chain.ts";
import {ROUND_ROOT_SIZE} from "./round.ts";
import {readU64, writeU64} from "./varint.ts";

export const CALENDAR_TAG_SIZE = 4;
export const COMMITMENT_SUFFIX_SIZE = CALENDAR_TAG_SIZE + 8;
export const COMMITMENT_SIZE = ROUND_ROOT_SIZE + COMMITMENT_SUFFIX_SIZE;
const TAG_DOMAIN = new TextEncoder().encode("otsfed calendar tag v1");

/** The 4-byte tag that marks a calendar's commitments. */
export function calendarTag(calendarId: Uint8Array, sha256: Sha256 = pureSha256): Uint8Array {
  const buf = new Uint8Array(TAG_DOMAIN.length + calendarId.length);
  buf.set(TAG_DOMAIN, 0);
  buf.set(calendarId, TAG_DOMAIN.length);
  return sha256(buf).slice(0, CALENDAR_TAG_SIZE);
}

/** `tag ‖ seq`, the argument of the op from root to commitment. */
export function commitmentSuffix(tag: Uint8Array, seq: number): Uint8Array {
  if (tag.length !== CALENDAR_TAG_SIZE) throw new RangeError("calendar tag must be 4 bytes");
  const out = new Uint8Array(COMMITMENT_SUFFIX_SIZE);
  out.set(tag, 0);
  writeU64(out, CALENDAR_TAG_SIZE, seq);
  return out;
}

/** The op from a round's root to its commitment. */
export function commitmentOp(tag: Uint8Array, seq: number): Op {
  return append(commitmentSuffix(tag, seq));
}

/** The 44-byte commitment of the ROUND record `seq` with merkle root `root`. */
export function roundCommitment(root: Uint8Array, tag: Uint8Array, seq: number): Uint8Array {
  if (root.length !== ROUND_ROOT_SIZE) throw new RangeError("round root must be 32 bytes");
  const out = new Uint8Array(COMMITMENT_SIZE);
  out.set(root, 0);
  out.set(tag, ROUND_ROOT_SIZE);
  writeU64(out, ROUND_ROOT_SIZE + CALENDAR_TAG_SIZE, seq);
  return out;
}

/** Split a message into (root, tag, seq) if it has a commitment's shape; null otherwise. */
export function parseCommitment(msg: Uint8Array): {root: Uint8Array; tag: Uint8Array; seq: number} | null {
  if (msg.length !== COMMITMENT_SIZE) return null;
  let seq: number;
  try {
    seq = readU64(msg, ROUND_ROOT_SIZE + CALENDAR_TAG_SIZE);
  } catch {
    return null;
  }
  return {root: msg.subarray(0, ROUND_ROOT_SIZE), tag: msg.subarray(ROUND_ROOT_SIZE, ROUND_ROOT_SIZE + CALENDAR_TAG_SIZE), seq};
}
