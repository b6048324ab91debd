/**
 * Timestamp trees and their wire form (PROTOCOL-NOTES §1.4, python
 * `core/timestamp.py`). A node holds the message it commits to, a set of
 * attestations, and a set of ops each leading to a child node; equal ops and
 * equal attestations are merged by value.
 */
import {ByteReader, ByteWriter, bytesEqual} from "./bytes.ts";
import {attestationKey, compareAttestations, decodeAttestation, encodeAttestation} from "./attestations.ts";
import type {Attestation} from "./attestations.ts";
import {OtsError, otsError, OtsErrorCode} from "./errors.ts";
import {applyOp, compareOps, decodeOpFromTag, encodeOp, MAX_MSG_LENGTH, opKey} from "./ops.ts";
import type {Op} from "./ops.ts";

/**
 * Python's reader starts with a budget of 256 and fails when a node would get
 * 0, so at most 255 ops stand on any path (a chain of 256 sha256 is refused).
 */
export const MAX_OPS_ON_PATH = 255;

/** One node of a proof tree. Build with `addOp`/`addAttestation`/`merge`; encoding never mutates it. */
export class Timestamp {
  readonly msg: Uint8Array;
  private readonly atts = new Map<string, Attestation>();
  private readonly children = new Map<string, {op: Op; stamp: Timestamp}>();

  constructor(msg: Uint8Array) {
    if (msg.length > MAX_MSG_LENGTH) throw otsError(OtsErrorCode.MSG_TOO_LONG, `Message exceeds Op length limit; ${msg.length} > ${MAX_MSG_LENGTH}`);
    this.msg = msg;
  }

  /** Attestations in the reference's canonical order. */
  get attestations(): Attestation[] {
    return [...this.atts.values()].sort(compareAttestations);
  }

  /** (op, child) pairs in the reference's canonical order. */
  get ops(): Array<[Op, Timestamp]> {
    return [...this.children.values()].sort((a, b) => compareOps(a.op, b.op)).map((c) => [c.op, c.stamp]);
  }

  get attestationCount(): number {
    return this.atts.size;
  }

  get opCount(): number {
    return this.children.size;
  }

  isEmpty(): boolean {
    return this.atts.size === 0 && this.children.size === 0;
  }

  addAttestation(a: Attestation): void {
    this.atts.set(attestationKey(a), a);
  }

  /** The child reached by `op`, created (with `op(msg)` computed and checked) if absent. */
  addOp(op: Op): Timestamp {
    const key = opKey(op);
    const existing = this.children.get(key);
    if (existing) return existing.stamp;
    const stamp = new Timestamp(applyOp(op, this.msg));
    this.children.set(key, {op, stamp});
    return stamp;
  }

  /**
   * Put `stamp` under `op`, replacing any child already there: python's
   * `ops[op] = stamp`, which its reader uses, so a duplicated op in the input
   * keeps the last subtree, as the reference does.
   */
  setOp(op: Op, stamp: Timestamp): void {
    this.children.set(opKey(op), {op, stamp});
  }

  /** Follow one op to an existing child, or null. */
  child(op: Op): Timestamp | null {
    return this.children.get(opKey(op))?.stamp ?? null;
  }

  /** Add every attestation and op of `other` (same message) into this tree. */
  merge(other: Timestamp): void {
    if (!bytesEqual(this.msg, other.msg)) throw otsError(OtsErrorCode.MSG_MISMATCH, "Can't merge timestamps for different messages together");
    for (const a of other.atts.values()) this.addAttestation(a);
    for (const {op, stamp} of other.children.values()) this.addOp(op).merge(stamp);
  }

  /** A deep copy, so callers can build on a tree without changing the original. */
  clone(): Timestamp {
    const t = new Timestamp(this.msg);
    t.merge(this);
    return t;
  }
}

/** Build the linear timestamp `msg -op-> ... -op-> leaf` with `attestations` at the leaf. */
export function timestampFromPath(msg: Uint8Array, ops: readonly Op[], attestations: readonly Attestation[]): Timestamp {
  const root = new Timestamp(msg);
  let node = root;
  for (const op of ops) node = node.addOp(op);
  for (const a of attestations) node.addAttestation(a);
  return root;
}

/** Write a tree in the reference's canonical order (attestations, then ops; each sorted). */
export function writeTimestamp(ts: Timestamp, w: ByteWriter, depth = 0): void {
  if (ts.isEmpty()) throw otsError(OtsErrorCode.EMPTY_TIMESTAMP, "An empty timestamp can't be serialized");
  const atts = ts.attestations;
  const ops = ts.ops;
  const items = atts.length + ops.length;
  let i = 0;
  for (const a of atts) {
    if (++i < items) w.writeByte(0xff);
    w.writeByte(0x00);
    encodeAttestation(a, w);
  }
  for (const [op, child] of ops) {
    if (++i < items) w.writeByte(0xff);
    // Writing a deeper tree would produce a proof the reference cannot read.
    if (depth + 1 > MAX_OPS_ON_PATH) throw otsError(OtsErrorCode.RECURSION_LIMIT, `more than ${MAX_OPS_ON_PATH} ops on a path`);
    encodeOp(op, w);
    writeTimestamp(child, w, depth + 1);
  }
}

/** The header-less serialization a calendar sends and stores. */
export function encodeTimestamp(ts: Timestamp): Uint8Array {
  const w = new ByteWriter();
  writeTimestamp(ts, w);
  return w.finish();
}

/** Read one tree rooted at `msg` from `r` (python `Timestamp.deserialize`). */
export function readTimestamp(r: ByteReader, msg: Uint8Array, budget = MAX_OPS_ON_PATH + 1): Timestamp {
  if (budget === 0) throw otsError(OtsErrorCode.RECURSION_LIMIT, "Reached timestamp recursion depth limit while deserializing", r.pos);
  const ts = new Timestamp(msg);
  const item = (tag: number): void => {
    if (tag === 0x00) {
      ts.addAttestation(decodeAttestation(r));
      return;
    }
    const at = r.pos - 1;
    const op = decodeOpFromTag(tag, r);
    let result: Uint8Array;
    try {
      result = applyOp(op, msg);
    } catch (e) {
      if (e instanceof OtsError) throw otsError(e.code, `Invalid timestamp; message invalid for op ${op.kind}: ${e.message}`, at);
      throw e;
    }
    ts.setOp(op, readTimestamp(r, result, budget - 1));
  };
  let tag = r.readByte();
  while (tag === 0xff) {
    item(r.readByte());
    tag = r.readByte();
  }
  item(tag);
  return ts;
}

/** Decode a complete header-less timestamp rooted at `msg`; trailing bytes are an error. */
export function decodeTimestamp(bytes: Uint8Array, msg: Uint8Array): Timestamp {
  const r = new ByteReader(bytes);
  const ts = readTimestamp(r, msg);
  r.assertEof();
  return ts;
}
