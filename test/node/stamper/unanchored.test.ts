import {suite} from "uvu";
import * as assert from "uvu/assert";
import {sha256} from "../../../protocol/ots/hashes.ts";
import {toHex} from "../../../protocol/ots/bytes.ts";
import type {SeqRange} from "../../../protocol/journal/stamp.ts";
import {StampDirectory} from "../../../node/calendar/stamp-directory.ts";
import type {LiveStamp} from "../../../node/calendar/stamp-directory.ts";
import {selectionRanges, UnanchoredRounds} from "../../../node/stamper/unanchored.ts";
import type {RoundSelection} from "../../../node/stamper/unanchored.ts";
import {Rng} from "../../support/rng.ts";

/** The leaf the tests give round `seq` (distinct per seq, so a misplaced leaf shows). */
const leafOf = (seq: number, salt = ""): Uint8Array => sha256(new TextEncoder().encode(`round ${seq}${salt}`));

function leavesOf(seqs: readonly number[], salt = ""): Uint8Array {
  const out = new Uint8Array(seqs.length * 32);
  seqs.forEach((s, i) => out.set(leafOf(s, salt), i * 32));
  return out;
}

function withRounds(seqs: readonly number[]): UnanchoredRounds {
  const u = new UnanchoredRounds();
  u.add(seqs, leavesOf(seqs));
  return u;
}

/** Everything held, as [seq, leaf hex] pairs in order. */
function contents(u: UnanchoredRounds): Array<[number, string]> {
  const all = u.select(() => true);
  return Array.from(all.seqs, (s, i) => [s, toHex(all.leaves.subarray(i * 32, i * 32 + 32))]);
}

const expected = (seqs: readonly number[], salt = ""): Array<[number, string]> => seqs.map((s) => [s, toHex(leafOf(s, salt))]);

// ---
const add = suite("node/stamper/unanchored UnanchoredRounds add");

add("should start empty :: empty", () => {
  const u = new UnanchoredRounds();
  assert.is(u.count, 0);
  assert.is(u.last, -1);
  assert.equal(contents(u), []);
  u.add([], new Uint8Array(0));
  assert.is(u.count, 0);
});

add("should append rounds given in order :: in order", () => {
  const u = new UnanchoredRounds();
  u.add([0, 1, 2], leavesOf([0, 1, 2]));
  u.add([5], leavesOf([5]));
  u.add([7, 9], leavesOf([7, 9]));
  assert.is(u.count, 6);
  assert.is(u.last, 9);
  assert.equal([0, 1, 2, 3, 4, 5].map((i) => u.seqAt(i)), [0, 1, 2, 5, 7, 9]);
  assert.equal(contents(u), expected([0, 1, 2, 5, 7, 9]));
});

add("should merge revoked rounds back in order :: out of order", () => {
  const u = withRounds([0, 1, 5, 6, 10]);
  // A deep reorg revoked the stamp of 2..4 and 7..9: those rounds come back in the middle.
  u.add([2, 3, 4, 7, 8, 9], leavesOf([2, 3, 4, 7, 8, 9]));
  assert.equal(contents(u), expected([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
  assert.is(u.last, 10);
  // Then new rounds append as before.
  u.add([11, 12], leavesOf([11, 12]));
  assert.equal(contents(u), expected([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
});

add("should merge a batch given in descending or mixed order :: unsorted input", () => {
  const u = withRounds([4, 8]);
  u.add([20, 6, 2, 15], leavesOf([20, 6, 2, 15]));
  assert.equal(contents(u), expected([2, 4, 6, 8, 15, 20]));
});

add("should ignore seqs it already holds, keeping the leaf it had :: duplicates", () => {
  const u = withRounds([0, 1, 2, 3]);
  // Same seqs with other leaves: the held ones win.
  u.add([1, 3], leavesOf([1, 3], " again"));
  assert.equal(contents(u), expected([0, 1, 2, 3]));
  // Starting at the last held seq is not an append.
  u.add([3, 4], leavesOf([3, 4], " again"));
  assert.equal(contents(u), [...expected([0, 1, 2, 3]), [4, toHex(leafOf(4, " again"))]]);
  // A duplicate inside one batch counts once (the first).
  u.add([9, 9, 8], Uint8Array.from([...leafOf(9), ...leafOf(9, " again"), ...leafOf(8)]));
  assert.equal(contents(u).slice(-2), expected([8, 9]));
  assert.is(u.count, 7);
});

add("should grow past its first 1024 rounds :: growth", () => {
  const u = new UnanchoredRounds();
  const seqs: number[] = [];
  // One at a time past the first capacity, then a big batch past the next.
  for (let s = 0; s < 1500; s++) {
    u.add([s * 2], leafOf(s * 2));
    seqs.push(s * 2);
  }
  const batch = Array.from({length: 5000}, (_, i) => 3000 + i);
  u.add(batch, leavesOf(batch));
  seqs.push(...batch);
  assert.is(u.count, 6500);
  assert.is(u.last, 7999);
  assert.equal(contents(u), expected(seqs));
  // An out-of-order add over more than 1024 rounds rebuilds the arrays; appending still works afterwards.
  const odd = Array.from({length: 1500}, (_, s) => s * 2 + 1);
  u.add(odd, leavesOf(odd));
  assert.is(u.count, 8000);
  const more = Array.from({length: 3000}, (_, i) => 8000 + i);
  u.add(more, leavesOf(more));
  assert.is(u.count, 11_000);
  assert.equal(contents(u), expected(Array.from({length: 11_000}, (_, i) => i)));
});

add("should keep order and leaves under random adds and removes :: model check", () => {
  const rng = new Rng(20240611);
  const u = new UnanchoredRounds();
  const model = new Map<number, string>();
  let next = 0;
  for (let step = 0; step < 300; step++) {
    const r = rng.int(10);
    if (r < 5) {
      const seqs = Array.from({length: 1 + rng.int(40)}, (_, i) => next + i);
      next += seqs.length + rng.int(3);
      u.add(seqs, leavesOf(seqs));
      for (const s of seqs) if (!model.has(s)) model.set(s, toHex(leafOf(s)));
    } else if (r < 8) {
      const seqs = Array.from({length: 1 + rng.int(20)}, () => rng.int(next + 1));
      u.add(seqs, leavesOf(seqs));
      for (const s of seqs) if (!model.has(s)) model.set(s, toHex(leafOf(s)));
    } else {
      const from = rng.int(next + 1);
      const ranges = [{from, to: from + 1 + rng.int(30)}];
      const gone = [...model.keys()].filter((s) => s >= from && s < (ranges[0] as SeqRange).to);
      assert.is(u.removeRanges(ranges), gone.length, `step ${step}`);
      for (const s of gone) model.delete(s);
    }
    assert.is(u.count, model.size, `step ${step}`);
  }
  assert.equal(contents(u), [...model.entries()].sort((a, b) => a[0] - b[0]));
});

// ---
const remove = suite("node/stamper/unanchored UnanchoredRounds removeRanges");

remove("should remove the rounds inside the ranges and keep the rest in order :: ranges", () => {
  const u = withRounds([0, 1, 2, 3, 5, 6, 8, 9, 10]);
  assert.is(u.removeRanges([{from: 1, to: 3}, {from: 5, to: 9}]), 5);
  assert.equal(contents(u), expected([0, 3, 9, 10]));
  assert.is(u.removeRanges([{from: 11, to: 20}]), 0, "nothing there");
  assert.is(u.removeRanges([{from: 0, to: 1}, {from: 10, to: 11}]), 2, "both ends");
  assert.equal(contents(u), expected([3, 9]));
  assert.is(u.last, 9);
  assert.is(u.removeRanges([{from: 0, to: 100}]), 2);
  assert.is(u.count, 0);
  assert.is(u.last, -1);
  u.add([4], leavesOf([4]));
  assert.equal(contents(u), expected([4]), "usable after emptying");
});

// ---
const select = suite("node/stamper/unanchored UnanchoredRounds select");

select("should give the accepted rounds with their positions :: select", () => {
  const u = withRounds([2, 3, 7, 8, 9, 12]);
  const sel = u.select((s) => s % 2 === 1);
  assert.equal(Array.from(sel.seqs), [3, 7, 9]);
  assert.equal(Array.from(sel.positions), [1, 2, 4]);
  assert.equal(sel.leaves, leavesOf([3, 7, 9]));
  const none = u.select(() => false);
  assert.is(none.seqs.length, 0);
  assert.is(none.leaves.length, 0);
  // A selection is a copy: later changes to the rounds do not reach it.
  u.removeRanges([{from: 0, to: 100}]);
  assert.equal(Array.from(sel.seqs), [3, 7, 9]);
  assert.equal(sel.leaves, leavesOf([3, 7, 9]));
});

select("should give the rounds inside ranges :: selectRanges", () => {
  const u = withRounds([0, 1, 2, 4, 5, 9, 10, 11]);
  const sel = u.selectRanges([{from: 1, to: 5}, {from: 10, to: 11}]);
  assert.equal(Array.from(sel.seqs), [1, 2, 4, 10]);
  assert.equal(Array.from(sel.positions), [1, 2, 3, 6]);
  assert.equal(sel.leaves, leavesOf([1, 2, 4, 10]));
});

// ---
const ranges = suite("node/stamper/unanchored selectionRanges");

function selection(seqs: number[], positions: number[]): RoundSelection {
  return {seqs: Float64Array.from(seqs), leaves: leavesOf(seqs), positions: Int32Array.from(positions)};
}

const never = (): boolean => false;

ranges("should give nothing for an empty selection :: empty", () => {
  assert.equal(selectionRanges(selection([], []), never), []);
});

ranges("should merge neighbouring rounds into one range :: contiguous", () => {
  const u = withRounds([0, 1, 2, 3, 4]);
  assert.equal(selectionRanges(u.select(() => true), never), [{from: 0, to: 5}]);
  assert.equal(selectionRanges(u.select((s) => s === 3), never), [{from: 3, to: 4}]);
});

ranges("should let records that are not rounds sit inside a range :: gaps in seq", () => {
  // Seqs 3 and 7 are STAMP records: no round, no live stamp over them.
  const u = withRounds([0, 1, 2, 4, 5, 6, 8]);
  assert.equal(selectionRanges(u.select(() => true), never), [{from: 0, to: 9}]);
});

ranges("should split where an unanchored round is left out of the selection :: not neighbours", () => {
  const u = withRounds([0, 1, 2, 3, 4, 5]);
  assert.equal(selectionRanges(u.select((s) => s !== 2 && s !== 3), never), [{from: 0, to: 2}, {from: 4, to: 6}]);
  // Even across a gap of non-round records, a skipped round splits.
  const v = withRounds([0, 5, 10]);
  assert.equal(selectionRanges(v.select((s) => s !== 5), never), [{from: 0, to: 1}, {from: 10, to: 11}]);
});

ranges("should split where a live stamp holds records between two rounds :: stamped between", () => {
  // Rounds 2..4 are stamped (not unanchored); 0, 1, 5, 6 are.
  const u = withRounds([0, 1, 5, 6]);
  const calls: Array<[number, number]> = [];
  const stamped = (a: number, b: number): boolean => {
    calls.push([a, b]);
    return a < 3 && b > 3;
  };
  assert.equal(selectionRanges(u.select(() => true), stamped), [{from: 0, to: 2}, {from: 5, to: 7}]);
  // Asked about the previous selected round and the next one, for every neighbouring pair.
  assert.equal(calls, [[0, 1], [1, 5], [5, 6]]);
});

ranges("should agree with a real StampDirectory as the predicate :: coversBetween", () => {
  const dir = new StampDirectory();
  const live = (seq: number, r: SeqRange[]): LiveStamp => ({pos: {seq, segment: 0, offset: 0}, ranges: r, leaves: 1, txid: new Uint8Array(32), blockHash: new Uint8Array(32), height: 1, feeSats: 1, vsize: 100});
  // Records 3..5 and 9 are stamped rounds; 6 and 10 are those STAMP records; 13 is a stamp revoked earlier (a record, not a round).
  dir.add(live(6, [{from: 3, to: 6}]));
  dir.add(live(10, [{from: 9, to: 10}]));
  const u = withRounds([0, 1, 2, 7, 8, 11, 12, 14]);
  const got = selectionRanges(u.select(() => true), (a, b) => dir.coversBetween(a, b));
  assert.equal(got, [{from: 0, to: 3}, {from: 7, to: 9}, {from: 11, to: 15}]);
  // Every selected round is inside the ranges and every unanchored round left out is not.
  for (const s of [0, 1, 2, 7, 8, 11, 12, 14]) assert.ok(got.some((r) => s >= r.from && s < r.to), `round ${s}`);
  // And no range holds a stamped record.
  for (const s of [3, 4, 5, 9]) assert.not.ok(got.some((r) => s >= r.from && s < r.to), `stamped ${s}`);
});

ranges("should give canonical ranges (sorted, non-empty, not touching) for random selections :: property", () => {
  const rng = new Rng(7);
  for (let t = 0; t < 200; t++) {
    const seqs: number[] = [];
    for (let s = 0, n = 1 + rng.int(60); seqs.length < n; s += 1 + rng.int(3)) seqs.push(s);
    const u = withRounds(seqs);
    const sel = u.select(() => rng.int(3) > 0);
    // Stamped records are never unanchored rounds.
    const stampedAt = new Set(Array.from({length: 5}, () => rng.int(200)).filter((x) => !seqs.includes(x)));
    const stamped = (a: number, b: number): boolean => [...stampedAt].some((x) => x > a && x < b);
    const got = selectionRanges(sel, stamped);
    let prevTo = -1;
    for (const r of got) {
      assert.ok(r.from < r.to, `case ${t}: non-empty`);
      assert.ok(r.from > prevTo, `case ${t}: sorted and not touching`);
      prevTo = r.to;
    }
    const selected = new Set(sel.seqs);
    for (const s of seqs) assert.is(got.some((r) => s >= r.from && s < r.to), selected.has(s), `case ${t}: round ${s}`);
    for (const x of stampedAt) assert.not.ok(got.some((r) => x >= r.from && x < r.to), `case ${t}: stamped ${x}`);
  }
});

add.run();
remove.run();
select.run();
ranges.run();
