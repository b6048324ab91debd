/**
 * The rounds no STAMP record covers yet, in journal order: their sequence
 * numbers and leaves (sha256 of each commitment), packed in two growable
 * typed arrays so a million of them cost 40 MB and no per-round objects.
 *
 * Rounds join at the end as the aggregator commits them; a deep reorg's
 * revoked rounds rejoin in the middle (rare, so that path just re-sorts);
 * a confirmed stamp's rounds leave.
 */
import type {SeqRange} from "../../protocol/journal/stamp.ts";
import {rangesInclude} from "../../protocol/journal/stamp.ts";

/** A subset of the unanchored rounds, in order, with where each sits in the whole. */
export type RoundSelection = {seqs: Float64Array; leaves: Uint8Array; positions: Int32Array};

/** The unanchored rounds, in journal order (see the module comment). */
export class UnanchoredRounds {
  private seqs = new Float64Array(1024);
  private leaves = new Uint8Array(1024 * 32);
  private n = 0;

  get count(): number {
    return this.n;
  }

  /** Seq of the newest round held, or -1. */
  get last(): number {
    return this.n === 0 ? -1 : (this.seqs[this.n - 1] as number);
  }

  seqAt(i: number): number {
    return this.seqs[i] as number;
  }

  private grow(need: number): void {
    if (need <= this.seqs.length) return;
    let cap = this.seqs.length;
    while (cap < need) cap *= 2;
    const s = new Float64Array(cap);
    s.set(this.seqs.subarray(0, this.n));
    const l = new Uint8Array(cap * 32);
    l.set(this.leaves.subarray(0, this.n * 32));
    this.seqs = s;
    this.leaves = l;
  }

  /** Add rounds (any order relative to those held; seqs already held are ignored). */
  add(seqs: ArrayLike<number>, leaves: Uint8Array): void {
    if (seqs.length === 0) return;
    const appendOnly = (seqs[0] as number) > this.last && isAscending(seqs);
    if (appendOnly) {
      this.grow(this.n + seqs.length);
      this.seqs.set(seqs, this.n);
      this.leaves.set(leaves.subarray(0, seqs.length * 32), this.n * 32);
      this.n += seqs.length;
      return;
    }
    // Out of order (revoked rounds coming back): merge by seq.
    const all = new Map<number, Uint8Array>();
    for (let i = 0; i < this.n; i++) all.set(this.seqs[i] as number, this.leaves.subarray(i * 32, i * 32 + 32));
    for (let i = 0; i < seqs.length; i++) if (!all.has(seqs[i] as number)) all.set(seqs[i] as number, leaves.slice(i * 32, i * 32 + 32));
    const order = [...all.keys()].sort((a, b) => a - b);
    const s = new Float64Array(Math.max(1024, order.length));
    const l = new Uint8Array(s.length * 32);
    order.forEach((seq, i) => {
      s[i] = seq;
      l.set(all.get(seq) as Uint8Array, i * 32);
    });
    this.seqs = s;
    this.leaves = l;
    this.n = order.length;
  }

  /** Remove every round inside `ranges` (sorted). Returns how many left. */
  removeRanges(ranges: readonly SeqRange[]): number {
    let w = 0;
    for (let r = 0; r < this.n; r++) {
      const seq = this.seqs[r] as number;
      if (rangesInclude(ranges, seq)) continue;
      if (w !== r) {
        this.seqs[w] = seq;
        this.leaves.copyWithin(w * 32, r * 32, r * 32 + 32);
      }
      w++;
    }
    const removed = this.n - w;
    this.n = w;
    return removed;
  }

  /** The rounds `keep` accepts, in order. */
  select(keep: (seq: number) => boolean): RoundSelection {
    const positions = new Int32Array(this.n);
    let m = 0;
    for (let i = 0; i < this.n; i++) if (keep(this.seqs[i] as number)) positions[m++] = i;
    const seqs = new Float64Array(m);
    const leaves = new Uint8Array(m * 32);
    for (let j = 0; j < m; j++) {
      const p = positions[j] as number;
      seqs[j] = this.seqs[p] as number;
      leaves.set(this.leaves.subarray(p * 32, p * 32 + 32), j * 32);
    }
    return {seqs, leaves, positions: positions.slice(0, m)};
  }

  /** Whether `keep` accepts any round held (stops at the first). */
  some(keep: (seq: number) => boolean): boolean {
    for (let i = 0; i < this.n; i++) if (keep(this.seqs[i] as number)) return true;
    return false;
  }

  /** Whether any round held lies inside `ranges`. */
  anyIn(ranges: readonly SeqRange[]): boolean {
    for (let i = 0; i < this.n; i++) if (rangesInclude(ranges, this.seqs[i] as number)) return true;
    return false;
  }

  /** The rounds inside `ranges`, in order. */
  selectRanges(ranges: readonly SeqRange[]): RoundSelection {
    return this.select((seq) => rangesInclude(ranges, seq));
  }
}

function isAscending(a: ArrayLike<number>): boolean {
  for (let i = 1; i < a.length; i++) if ((a[i] as number) <= (a[i - 1] as number)) return false;
  return true;
}

/**
 * The canonical ranges of a selection: consecutive selected rounds share a
 * range only when nothing else that is a round lies between them — they
 * are neighbours among the unanchored rounds (`positions`) and no live
 * stamp holds a record between them (`stampedBetween`). Records that are not
 * rounds (stamps) may sit inside a range; readers skip them.
 */
export function selectionRanges(sel: RoundSelection, stampedBetween: (a: number, b: number) => boolean): SeqRange[] {
  const out: SeqRange[] = [];
  for (let i = 0; i < sel.seqs.length; i++) {
    const seq = sel.seqs[i] as number;
    const prev = out[out.length - 1];
    if (prev !== undefined && i > 0 && (sel.positions[i] as number) === (sel.positions[i - 1] as number) + 1 && !stampedBetween(prev.to - 1, seq)) prev.to = seq + 1;
    else out.push({from: seq, to: seq + 1});
  }
  return out;
}
