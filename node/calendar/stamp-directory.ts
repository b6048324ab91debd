/**
 * The live stamps of a calendar, in memory: every STAMP record not revoked,
 * by the journal ranges it covers. Small (one entry per Bitcoin transaction,
 * so tens of thousands after years) and loaded from the index at start, it
 * answers "which stamp covers record `seq`?" without touching LevelDB, which
 * keeps `GET /timestamp` for completed proofs fast.
 *
 * Live stamps never overlap: the stamper only anchors rounds no live stamp
 * covers.
 */
import {toHex} from "../../protocol/ots/bytes.ts";
import type {SeqRange} from "../../protocol/journal/stamp.ts";
import type {JournalPosition} from "./journal-store.ts";

/** What the index keeps about a live stamp (the record itself stays in the journal). */
export type LiveStamp = {
  /** The STAMP record's position in the journal. */
  pos: JournalPosition;
  ranges: SeqRange[];
  leaves: number;
  txid: Uint8Array;
  blockHash: Uint8Array;
  height: number;
  feeSats: number;
  vsize: number;
};

type Span = {from: number; to: number; stamp: LiveStamp};

export class StampDirectory {
  /** Every live range, sorted by `from` (disjoint). */
  private spans: Span[] = [];
  private readonly bySeq = new Map<number, LiveStamp>();

  get size(): number {
    return this.bySeq.size;
  }

  add(stamp: LiveStamp): void {
    if (this.bySeq.has(stamp.pos.seq)) return;
    this.bySeq.set(stamp.pos.seq, stamp);
    const added = stamp.ranges.map((r) => ({from: r.from, to: r.to, stamp}));
    // Stamps arrive in journal order and usually cover the newest rounds, so
    // appending and sorting only when needed keeps this cheap.
    const last = this.spans[this.spans.length - 1];
    const first = added[0];
    this.spans.push(...added);
    if (last !== undefined && first !== undefined && first.from < last.to) this.spans.sort((a, b) => a.from - b.from);
  }

  remove(stampSeq: number): LiveStamp | null {
    const stamp = this.bySeq.get(stampSeq);
    if (stamp === undefined) return null;
    this.bySeq.delete(stampSeq);
    this.spans = this.spans.filter((s) => s.stamp !== stamp);
    return stamp;
  }

  get(stampSeq: number): LiveStamp | null {
    return this.bySeq.get(stampSeq) ?? null;
  }

  /** The live stamp whose ranges hold record `seq`, if any. */
  covering(seq: number): LiveStamp | null {
    const i = this.lastStartingAtOrBefore(seq);
    const s = i < 0 ? undefined : this.spans[i];
    return s !== undefined && seq < s.to ? s.stamp : null;
  }

  /** True if some live range holds a record strictly between `a` and `b`. */
  coversBetween(a: number, b: number): boolean {
    if (b - a < 2) return false;
    const i = this.lastStartingAtOrBefore(b - 1);
    const s = i < 0 ? undefined : this.spans[i];
    return s !== undefined && s.to > a + 1;
  }

  /** Live ranges, sorted. */
  ranges(): SeqRange[] {
    return this.spans.map((s) => ({from: s.from, to: s.to}));
  }

  /** Live stamps in a block (by internal-order hash). */
  inBlock(blockHash: Uint8Array): LiveStamp[] {
    const hex = toHex(blockHash);
    return [...this.bySeq.values()].filter((s) => toHex(s.blockHash) === hex);
  }

  /** The live stamps, newest (highest journal seq) first, at most `n`. */
  recent(n: number): LiveStamp[] {
    return [...this.bySeq.values()].sort((a, b) => b.pos.seq - a.pos.seq).slice(0, n);
  }

  all(): LiveStamp[] {
    return [...this.bySeq.values()];
  }

  private lastStartingAtOrBefore(seq: number): number {
    let lo = 0;
    let hi = this.spans.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((this.spans[mid] as Span).from <= seq) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }
}
