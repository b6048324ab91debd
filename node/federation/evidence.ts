/**
 * Evidence that a calendar's operator forked its journal: two statements
 * signed with the calendar's key that cannot both be true. Each is stored
 * self-contained, so anyone can check it without our journal:
 *
 *   - two signed heads at one length with different chain hashes; or
 *   - a signed head, and a signed piece (frames hashed from a stated chain
 *     hash up to another signed head) that passes through the same length
 *     with another chain hash.
 *
 * Files: <dataDir>/evidence/<calendar peer id>/<length>-<first 8 hex of their chain hash>.json,
 * written atomically, never overwritten (the first is as good as any).
 */
import {mkdir, readdir, stat} from "node:fs/promises";
import {join} from "node:path";
import {encodeCheckpoint} from "../../protocol/journal/checkpoint.ts";
import type {Checkpoint} from "../../protocol/journal/checkpoint.ts";
import {toHex} from "../../protocol/ots/bytes.ts";
import {writeFileAtomic} from "../fsutil.ts";

export const EVIDENCE_DIR = "evidence";

export type ForkEvidence = {
  calendar: string;
  /** The length at which the two statements disagree. */
  length: number;
  /** Our copy's chain hash there, and the signed head that vouches for it (at that length or later). */
  ours: {chainHash: Uint8Array; head: Checkpoint | null};
  /** The conflicting statement: a head at that length, or a piece message running through it. */
  theirs: {chainHash: Uint8Array; head: Checkpoint; pieceMessage: Uint8Array | null};
  /** Where we saw it: "gossip from <peer>", "catch-up from <peer>". */
  seen: string;
  atMs: number;
};

export class EvidenceStore {
  private readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, EVIDENCE_DIR);
  }

  /** Store `e` (once per calendar, length and conflicting hash); returns the file's path. */
  async save(e: ForkEvidence): Promise<string> {
    const dir = join(this.dir, e.calendar);
    await mkdir(dir, {recursive: true});
    const name = `${e.length}-${toHex(e.theirs.chainHash).slice(0, 8)}.json`;
    const path = join(dir, name);
    if (await exists(path)) return path;
    const body = {
      what: "two statements signed by this calendar's key that disagree about its journal at one length",
      calendar: e.calendar,
      length: e.length,
      ours: {chainHash: toHex(e.ours.chainHash), head: e.ours.head ? toHex(encodeCheckpoint(e.ours.head)) : null},
      theirs: {chainHash: toHex(e.theirs.chainHash), head: toHex(encodeCheckpoint(e.theirs.head)), pieceMessage: e.theirs.pieceMessage ? toHex(e.theirs.pieceMessage) : null},
      seen: e.seen,
      at: new Date(e.atMs).toISOString(),
    };
    await writeFileAtomic(dir, name, new TextEncoder().encode(`${JSON.stringify(body, null, 2)}\n`));
    return path;
  }

  /** How many evidence files each calendar has (for the status page after a restart). */
  async counts(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return out;
    }
    for (const n of names) {
      try {
        out.set(n, (await readdir(join(this.dir, n))).filter((f) => f.endsWith(".json")).length);
      } catch {
        // not a directory: ignored
      }
    }
    return out;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
