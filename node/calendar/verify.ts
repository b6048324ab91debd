/**
 * `otsfed journal verify`: check a journal end to end without changing it —
 * every segment header, record checksum, record kind and the hash chain
 * across segments, and every checkpoint file against the chain and the
 * calendar's Ed25519 signature (a mirror's checkpoints are its origin's,
 * so they verify with the origin's key, which the calendar id embeds).
 */
import {readdir, readFile, stat} from "node:fs/promises";
import {join} from "node:path";
import {bytesEqual, toHex} from "../../protocol/ots/bytes.ts";
import {genesisChainHash} from "../../protocol/journal/chain.ts";
import {decodeCheckpoint, verifyCheckpoint} from "../../protocol/journal/checkpoint.ts";
import {JournalError} from "../../protocol/journal/errors.ts";
import {decodeSegmentHeader, scanSegment} from "../../protocol/journal/segment.ts";
import {calendarIdToString, verifierForCalendarId} from "../identity.ts";
import {nativeSha256} from "../hash.ts";
import {JOURNAL_DIR, listSegments} from "./journal-store.ts";
import {MIRRORS_DIR} from "./registry.ts";

export type VerifyReport = {
  journalDir: string;
  calendarId: string | null;
  segments: number;
  records: number;
  bytes: number;
  chainHash: string | null;
  checkpointsVerified: number;
  /** A torn tail the node will cut at its next start (not an error). */
  torn: {segment: string; offset: number; bytes: number} | null;
  /** Each problem names the file and byte offset. Empty means the journal is sound. */
  problems: string[];
};

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Find the own journal under a data dir, or accept the journal dir itself. */
export async function resolveJournalDir(dir: string): Promise<string> {
  return (await isDirectory(join(dir, JOURNAL_DIR))) ? join(dir, JOURNAL_DIR) : dir;
}

/**
 * Every journal of a data dir — its own calendar's and each mirror's under
 * mirrors/ — or just `dir` when it is a journal dir itself.
 */
export async function verifyJournals(dir: string): Promise<VerifyReport[]> {
  if (!(await isDirectory(join(dir, JOURNAL_DIR)))) return [await verifyJournal(dir)];
  const reports = [await verifyJournal(join(dir, JOURNAL_DIR))];
  const mirrors = join(dir, MIRRORS_DIR);
  const names = (await isDirectory(mirrors)) ? (await readdir(mirrors)).sort() : [];
  for (const name of names) if (await isDirectory(join(mirrors, name))) reports.push(await verifyJournal(join(mirrors, name)));
  return reports;
}

export async function verifyJournal(dir: string): Promise<VerifyReport> {
  const journalDir = await resolveJournalDir(dir);
  const report: VerifyReport = {journalDir, calendarId: null, segments: 0, records: 0, bytes: 0, chainHash: null, checkpointsVerified: 0, torn: null, problems: []};
  const segments = await listSegments(journalDir);
  if (segments.length === 0) {
    report.problems.push(`${journalDir}: no journal segments`);
    return report;
  }
  // Chain hash at each length a checkpoint may claim.
  const chainAt = new Map<number, Uint8Array>();
  let calendarId: Uint8Array | null = null;
  let seq = 0;
  let chain: Uint8Array | null = null;
  for (let i = 0; i < segments.length; i++) {
    const {file, firstSeq} = segments[i] as {file: string; firstSeq: number};
    const buf = new Uint8Array(await readFile(join(journalDir, file)));
    report.bytes += buf.length;
    try {
      if (calendarId === null) {
        calendarId = decodeSegmentHeader(buf).header.calendarId;
        chain = genesisChainHash(calendarId, nativeSha256);
        chainAt.set(0, chain);
      }
      if (firstSeq !== seq) throw new Error(`named for record ${firstSeq} but the journal before it ends at record ${seq}`);
      const scan = scanSegment(buf, {isLast: i === segments.length - 1, sha256: nativeSha256, expect: {calendarId, firstSeq: seq, prevChain: chain as Uint8Array}});
      if (scan.torn) report.torn = {segment: file, offset: scan.torn.offset, bytes: scan.torn.length};
      seq = scan.nextSeq;
      chain = scan.chainHash;
      chainAt.set(seq, chain);
      report.segments++;
    } catch (e) {
      if (e instanceof JournalError) report.problems.push(`segment ${file} at offset ${e.type.offset ?? 0}: ${e.message.replace(/ \(at byte \d+\)$/, "")} (${e.code})`);
      else report.problems.push(`segment ${file}: ${(e as Error).message}`);
      break;
    }
  }
  report.records = seq;
  report.calendarId = calendarId ? (calendarIdToString(calendarId) ?? toHex(calendarId)) : null;
  report.chainHash = chain ? toHex(chain) : null;
  if (report.problems.length > 0 || calendarId === null) return report;

  const verifier = verifierForCalendarId(calendarId);
  for (const name of (await readdir(journalDir)).filter((n) => n.endsWith(".ckpt")).sort()) {
    try {
      const cp = decodeCheckpoint(new Uint8Array(await readFile(join(journalDir, name))));
      if (!bytesEqual(cp.calendarId, calendarId)) throw new Error("names another calendar");
      const want = chainAt.get(cp.length);
      // Checkpoints land at segment ends (sealed segments) or at the end (latest.ckpt).
      if (want === undefined) throw new Error(`claims length ${cp.length}, which is not a segment boundary or the journal's end (${seq})`);
      if (!bytesEqual(want, cp.chainHash)) throw new Error(`chain hash at length ${cp.length} does not match the journal`);
      if (!verifier) throw new Error("calendar id does not embed an Ed25519 public key");
      await verifyCheckpoint(cp, verifier);
      report.checkpointsVerified++;
    } catch (e) {
      report.problems.push(`checkpoint ${name}: ${(e as Error).message}`);
    }
  }
  return report;
}
