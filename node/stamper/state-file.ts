/**
 * The stamper's durable state: the anchoring engine's state file
 * (node/anchor/state-file.ts) at `<dataDir>/stamper/state.json`, whose
 * versions the calendar describes by what their root commits to — the
 * journal ranges of the rounds in the tree and how many rounds (leaves)
 * there are.
 *
 *   "description": {"ranges": [[from, to], ...], "leaves": n}
 *
 * Ranges are sorted, non-empty and disjoint; a range may hold non-round
 * records (stamps), which readers skip, so `leaves` is kept, not derived.
 */
import {join} from "node:path";
import type {SeqRange} from "../../protocol/journal/stamp.ts";
import {AnchorStateFile} from "../anchor/state-file.ts";
import type {DescriptionCodec} from "../anchor/state-file.ts";

/** The stamper's directory inside the data directory. */
export const STAMPER_DIR = "stamper";

/** What one stamp version's root commits to. */
export type StampDescription = {ranges: SeqRange[]; leaves: number};

type Decoded<T> = {ok: true; value: T} | {ok: false; reason: string};

function decodeRanges(v: unknown, at: string): Decoded<SeqRange[]> {
  if (!Array.isArray(v) || v.length === 0) return {ok: false, reason: `${at} is not a non-empty list of ranges`};
  const out: SeqRange[] = [];
  let prev = -1;
  for (const [i, r] of v.entries()) {
    if (!Array.isArray(r) || r.length !== 2 || !r.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) return {ok: false, reason: `${at}[${i}] is not [from, to]`};
    const [from, to] = r as [number, number];
    if (from >= to || from <= prev) return {ok: false, reason: `${at}[${i}] is empty or out of order`};
    prev = to;
    out.push({from, to});
  }
  return {ok: true, value: out};
}

/** How a {@link StampDescription} is kept in the state file. */
export const stampDescriptionCodec: DescriptionCodec<StampDescription> = {
  encode: (d) => ({ranges: d.ranges.map((r) => [r.from, r.to]), leaves: d.leaves}),
  decode(json, at) {
    if (typeof json !== "object" || json === null || Array.isArray(json)) return {ok: false, reason: `${at} is not an object`};
    const o = json as Record<string, unknown>;
    const ranges = decodeRanges(o.ranges, `${at}.ranges`);
    if (!ranges.ok) return ranges;
    const leaves = o.leaves;
    if (typeof leaves !== "number" || !Number.isSafeInteger(leaves) || leaves < 0) return {ok: false, reason: `${at}.leaves is not a non-negative integer`};
    return {ok: true, value: {ranges: ranges.value, leaves}};
  },
};

/** The stamper's state file in `dataDir`. */
export function stamperStateFile(dataDir: string): AnchorStateFile<StampDescription> {
  return new AnchorStateFile(join(dataDir, STAMPER_DIR), stampDescriptionCodec);
}
