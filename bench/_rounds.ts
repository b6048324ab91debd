/**
 * A calendar data dir holding `rounds` ROUND records, written straight into
 * the own calendar's journal (no HTTP, no aggregator), so a million rounds
 * take seconds. Returns what a client needs to ask for each
 * round's proof: its commitment, root ‖ tag ‖ seq (seq = the record number).
 */
import {randomBytes} from "node:crypto";
import {mkdir} from "node:fs/promises";
import {calendarTag, roundCommitment} from "../protocol/journal/commitment.ts";
import {RecordKind} from "../protocol/journal/record.ts";
import {encodeRound} from "../protocol/journal/round.ts";
import {toHex} from "../protocol/ots/bytes.ts";
import {nativeSha256} from "../node/hash.ts";
import {JournalStore} from "../node/calendar/journal-store.ts";
import type {JournalEntry} from "../node/calendar/journal-store.ts";
import {originTarget} from "../node/calendar/registry.ts";
import {loadOrCreateIdentity} from "../node/identity.ts";
import {nullLogger} from "../node/logger.ts";

export type RoundJournal = {
  rounds: number;
  /** Round `seq`'s merkle root at [seq*32, seq*32+32). */
  roots: Uint8Array;
  tag: Uint8Array;
  bytes: number;
  segments: number;
  seconds: number;
};

const BATCH = 10_000;

export async function writeRoundJournal(dir: string, rounds: number): Promise<RoundJournal> {
  await mkdir(dir, {recursive: true});
  const {identity} = await loadOrCreateIdentity(dir);
  const {store} = await JournalStore.open(originTarget(dir, identity), {segmentBytes: 16 * 1024 * 1024}, {logger: nullLogger, metrics: null});
  const t0 = performance.now();
  const roots = randomBytes(32 * rounds);
  for (let done = 0; done < rounds; ) {
    const n = Math.min(BATCH, rounds - done);
    const batch: JournalEntry[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const seq = done + i;
      batch[i] = {kind: RecordKind.ROUND, payload: encodeRound({timeMs: 1_700_000_000_000 + seq, leaves: 1 + (seq % 50), root: roots.subarray(seq * 32, seq * 32 + 32)})};
    }
    const positions = await store.append(batch);
    // The commitments below assume record number = index in `roots`.
    if (positions[0]?.seq !== done) throw new Error(`journal not empty: first seq ${positions[0]?.seq}, expected ${done}`);
    done += n;
  }
  const {bytes, segmentCount: segments} = store;
  await store.close();
  return {rounds, roots, tag: calendarTag(identity.calendarId, nativeSha256), bytes, segments, seconds: (performance.now() - t0) / 1000};
}

/** The 44-byte commitment of round `seq`, hex (what GET /timestamp/<hex> takes). */
export function commitmentHex(j: RoundJournal, seq: number): string {
  return toHex(roundCommitment(j.roots.subarray(seq * 32, seq * 32 + 32), j.tag, seq));
}
