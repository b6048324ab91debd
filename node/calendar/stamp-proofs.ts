/**
 * Complete proofs for stamped commitments, derived from STAMP records.
 *
 * A stamp's proofs share everything above its merkle root (transaction,
 * block branch, attestation: the "anchor"), and each commitment adds only
 * its path in the stamp's tree. So per stamp we keep the tree (flat, 64
 * bytes per leaf), the covered record numbers and the encoded anchor, and a
 * proof is a path lookup plus one concatenation: no per-commitment index
 * entries to write when a stamp confirms, which is why a million proofs are
 * servable the moment the STAMP record is durable.
 *
 * Trees are built on first use from the journal (reading the rounds the
 * stamp covers) or handed over warm by the stamper, and evicted least
 * recently used beyond a leaf budget shared by every calendar of the node
 * (its own and its mirrors): entries are keyed by calendar and stamp.
 */
import type {FlatMerkleTree} from "../../protocol/ots/flat-merkle.ts";
import {decodeStamp} from "../../protocol/journal/stamp.ts";
import type {StampRecord} from "../../protocol/journal/stamp.ts";
import {encodeStampAnchor} from "../../protocol/journal/stamp-proof.ts";
import {RecordKind} from "../../protocol/journal/record.ts";
import {bytesEqual} from "../../protocol/ots/bytes.ts";
import {buildMerkleTree} from "./tree-builder.ts";
import type {LiveStamp} from "./stamp-directory.ts";
import {StoreError, StoreErrorCode} from "./errors.ts";

/** Everything needed to serve a stamp's proofs. */
export type StampProofSet = {
  record: StampRecord;
  tree: FlatMerkleTree;
  /** Journal seq of each leaf, ascending (leaf i ↔ seqs[i]). */
  seqs: Float64Array;
  /** The encoded timestamp from the stamp's root to its Bitcoin attestation. */
  anchor: Uint8Array;
};

/** What the cache needs from the calendar a stamp belongs to. */
export type StampProofSource = {
  readRecord(stamp: LiveStamp): Promise<{kind: number; payload: Uint8Array}>;
  /** sha256(commitment) of every round in the ranges, in order. */
  readLeaves(record: StampRecord): Promise<{seqs: Float64Array; leaves: Uint8Array}>;
};

/** Index of `seq` in ascending `seqs`, or -1. */
export function leafIndexOf(seqs: Float64Array, seq: number): number {
  let lo = 0;
  let hi = seqs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = seqs[mid] as number;
    if (v === seq) return mid;
    if (v < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** A proof set from a record and the tree over its leaves, checking the tree gives the record's root. */
export function makeProofSet(record: StampRecord, seqs: Float64Array, tree: FlatMerkleTree): StampProofSet {
  if (seqs.length !== record.leaves) throw new StoreError({code: StoreErrorCode.STAMP_INCONSISTENT}, `stamp covers ${record.leaves} rounds but its ranges hold ${seqs.length}`);
  const t = tree;
  if (!bytesEqual(t.root, record.root)) throw new StoreError({code: StoreErrorCode.STAMP_INCONSISTENT}, "stamp tree root does not match the STAMP record");
  return {record, tree: t, seqs, anchor: encodeStampAnchor(record)};
}

/** A cache key: which calendar (its tag, hex) and which STAMP record. */
export type StampKey = string;

export function stampKey(tagHex: string, stampSeq: number): StampKey {
  return `${tagHex}:${stampSeq}`;
}

export class StampProofCache {
  private readonly maxLeaves: number;
  /** Insertion order is recency order (re-inserted on use). */
  private readonly entries = new Map<StampKey, StampProofSet>();
  private readonly loading = new Map<StampKey, Promise<StampProofSet>>();
  private leaves = 0;

  constructor(maxLeaves: number) {
    this.maxLeaves = maxLeaves;
  }

  /** The proof set of a live stamp, from memory or built from its calendar's journal. */
  get(key: StampKey, stamp: LiveStamp, source: StampProofSource): StampProofSet | Promise<StampProofSet> {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    let p = this.loading.get(key);
    if (p === undefined) {
      p = this.load(key, stamp, source).finally(() => this.loading.delete(key));
      this.loading.set(key, p);
    }
    return p;
  }

  /** Hand over a set built elsewhere (the stamper's warm tree). */
  put(key: StampKey, set: StampProofSet): void {
    const old = this.entries.get(key);
    if (old !== undefined) this.leaves -= old.seqs.length;
    this.entries.set(key, set);
    this.leaves += set.seqs.length;
    this.evict(key);
  }

  drop(key: StampKey): void {
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.entries.delete(key);
    this.leaves -= old.seqs.length;
  }

  private async load(key: StampKey, stamp: LiveStamp, source: StampProofSource): Promise<StampProofSet> {
    const r = await source.readRecord(stamp);
    if (r.kind !== RecordKind.STAMP) throw new StoreError({code: StoreErrorCode.INDEX_SCHEMA}, `journal record ${stamp.pos.seq} is not a stamp: run 'otsfed reindex'`);
    const record = decodeStamp(r.payload);
    const {seqs, leaves} = await source.readLeaves(record);
    const set = makeProofSet(record, seqs, await buildMerkleTree(leaves));
    this.put(key, set);
    return set;
  }

  /** Evict least recently used sets beyond the budget, never the one just added. */
  private evict(keep: StampKey): void {
    for (const [key, set] of this.entries) {
      if (this.leaves <= this.maxLeaves) break;
      if (key === keep) continue;
      this.entries.delete(key);
      this.leaves -= set.seqs.length;
    }
  }
}
